// What an app ships to draw one line chart with Recharts (React itself counted separately).
import { createRoot } from 'react-dom/client'
import { Line, LineChart, XAxis, YAxis } from 'recharts'

createRoot(document.body).render(
  <LineChart width={600} height={300} data={[{ x: 1, y: 3 }, { x: 2, y: 4 }]}>
    <XAxis dataKey="x" />
    <YAxis />
    <Line dataKey="y" />
  </LineChart>,
)
