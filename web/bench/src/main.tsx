// Appends N points to a two-series line chart (raw loss and its moving average) in 100 batches,
// as a training run streams them, and times every redraw. Query: ?lib=uplot|echarts|recharts&n=10000
import * as echarts from 'echarts'
import { flushSync } from 'react-dom'
import { createRoot } from 'react-dom/client'
import { Line, LineChart, XAxis, YAxis } from 'recharts'
import uPlot from 'uplot'
import 'uplot/dist/uPlot.min.css'

type Chart = { update: (x: number[], y: number[], s: number[]) => void | Promise<void> }

const W = 900
const H = 300
const el = document.getElementById('chart')!

function makeUplot(): Chart {
  const u = new uPlot(
    { width: W, height: H, series: [{}, { stroke: '#94a3b8' }, { stroke: '#2563eb', width: 2 }] },
    [[], [], []],
    el,
  )
  return {
    update: async (x, y, s) => {
      u.setData([x, y, s])
      await Promise.resolve() // uPlot commits its redraw in a microtask
    },
  }
}

function makeEcharts(): Chart {
  const c = echarts.init(el, undefined, { renderer: 'canvas', width: W, height: H })
  const series = (data: number[][], color: string) => ({
    type: 'line' as const, data, showSymbol: false, sampling: 'lttb' as const, animation: false,
    lineStyle: { color, width: 1 },
  })
  c.setOption({ animation: false, xAxis: { type: 'value' }, yAxis: { type: 'value' }, series: [] })
  return {
    update: (x, y, s) => {
      c.setOption({
        series: [series(x.map((v, i) => [v, y[i]]), '#94a3b8'), series(x.map((v, i) => [v, s[i]]), '#2563eb')],
      })
      c.getZr().flush() // draw now instead of on the next animation frame
    },
  }
}

function makeRecharts(): Chart {
  const root = createRoot(el)
  return {
    update: (x, y, s) => {
      const data = x.map((v, i) => ({ x: v, y: y[i], s: s[i] }))
      flushSync(() =>
        root.render(
          <LineChart width={W} height={H} data={data}>
            <XAxis dataKey="x" type="number" domain={['dataMin', 'dataMax']} />
            <YAxis />
            <Line dataKey="y" stroke="#94a3b8" dot={false} isAnimationActive={false} />
            <Line dataKey="s" stroke="#2563eb" dot={false} isAnimationActive={false} />
          </LineChart>,
        ),
      )
    },
  }
}

const nextFrame = () =>
  new Promise<void>((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0)))

function quantile(xs: number[], q: number) {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]
}

async function run() {
  const params = new URLSearchParams(location.search)
  const lib = params.get('lib') ?? 'uplot'
  const n = Number(params.get('n') ?? 10000)
  const batches = Number(params.get('batches') ?? 100)
  const budgetMs = Number(params.get('budget') ?? 60000)
  const chart = lib === 'echarts' ? makeEcharts() : lib === 'recharts' ? makeRecharts() : makeUplot()
  const x: number[] = []
  const y: number[] = []
  const s: number[] = []
  let ema = 0
  const sync: number[] = []
  const frame: number[] = []
  const start = performance.now()
  const per = Math.ceil(n / batches)
  for (let b = 0; b < batches && x.length < n; b++) {
    for (let i = 0; i < per && x.length < n; i++) {
      const step = x.length + 1
      const loss = 2.5 * Math.exp(-step / (n / 3)) + 0.4 + 0.15 * Math.sin(step * 0.37) * Math.random()
      ema = step === 1 ? loss : 0.98 * ema + 0.02 * loss
      x.push(step)
      y.push(loss)
      s.push(ema)
    }
    const t0 = performance.now()
    await chart.update(x, y, s)
    void document.body.offsetHeight // force style and layout
    const t1 = performance.now()
    await nextFrame()
    const t2 = performance.now()
    sync.push(t1 - t0)
    frame.push(t2 - t0)
    if (t2 - start > budgetMs) break
  }
  const result = {
    lib, n, batches: sync.length, points: x.length, finished: x.length >= n,
    total_ms: Math.round(performance.now() - start),
    sync_median_ms: +quantile(sync, 0.5).toFixed(2), sync_p95_ms: +quantile(sync, 0.95).toFixed(2),
    sync_last_ms: +sync[sync.length - 1].toFixed(2),
    frame_median_ms: +quantile(frame, 0.5).toFixed(2), frame_p95_ms: +quantile(frame, 0.95).toFixed(2),
  }
  document.getElementById('out')!.textContent = JSON.stringify(result, null, 2)
  ;(window as unknown as { __bench: unknown }).__bench = result
}

void run()
