// Builds one size/<LIB> entry (LIB=uplot|echarts|recharts|react) to measure what it ships.
import react from '@vitejs/plugin-react'
import { defineConfig } from 'vite'

const lib = process.env.LIB ?? 'uplot'
const entry = ['recharts', 'react'].includes(lib) ? `size/${lib}.tsx` : `size/${lib}.ts`

export default defineConfig({
  plugins: [react()],
  logLevel: 'error',
  build: {
    outDir: `dist-size/${lib}`,
    emptyOutDir: true,
    chunkSizeWarningLimit: 5000,
    rolldownOptions: { input: entry, output: { entryFileNames: 'bundle.js' } },
  },
})
