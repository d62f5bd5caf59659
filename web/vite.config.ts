import { copyFileSync, mkdirSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, resolve } from 'node:path'
import react from '@vitejs/plugin-react'
import { defineConfig, type Plugin } from 'vite'

const outDir = resolve(__dirname, '../src/loralab/static')

// The API docs at /docs must work offline, so Swagger UI's files ship with the UI build
// instead of coming from a CDN (FastAPI's default).
function swaggerAssets(): Plugin {
  const dist = dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'))
  return {
    name: 'loralab-swagger-assets',
    apply: 'build',
    closeBundle() {
      mkdirSync(resolve(outDir, 'swagger'), { recursive: true })
      for (const file of ['swagger-ui-bundle.js', 'swagger-ui.css']) {
        copyFileSync(resolve(dist, file), resolve(outDir, 'swagger', file))
      }
    },
  }
}

// The build goes straight into the Python package, which serves it (with an index.html fallback
// for client-side routes). `npm run dev` proxies the API to a `loralab serve` on port 7860.
const api = process.env.LORALAB_API ?? 'http://127.0.0.1:7860'

export default defineConfig({
  plugins: [react(), swaggerAssets()],
  build: {
    outDir,
    emptyOutDir: true,
    chunkSizeWarningLimit: 700,
  },
  server: {
    proxy: {
      '/api': { target: api, changeOrigin: false, ws: true },
    },
  },
})
