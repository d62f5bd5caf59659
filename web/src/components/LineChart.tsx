import { useEffect, useMemo, useRef } from 'react'
import uPlot from 'uplot'
import 'uplot/dist/uPlot.min.css'
import { thinSeries } from '../lib/thin'

export interface ChartSeries {
  label: string
  color: string
  values: (number | null)[]
  width?: number
  dash?: number[]
  points?: boolean
}

interface Props {
  x: number[]
  series: ChartSeries[]
  height?: number
  logY?: boolean
  /** Charts with the same key share one cursor. */
  syncKey?: string
  /** Steps to mark with a dashed line (checkpoints). */
  markers?: number[]
  xLabel?: string
  ariaLabel: string
  maxPoints?: number
}

function markerPlugin(getMarkers: () => number[]): uPlot.Plugin {
  return {
    hooks: {
      draw: (u) => {
        const ctx = u.ctx
        const { top, height } = u.bbox
        ctx.save()
        ctx.strokeStyle = 'rgba(26,127,75,0.55)'
        ctx.setLineDash([4, 4])
        ctx.lineWidth = 1
        for (const m of getMarkers()) {
          const x = Math.round(u.valToPos(m, 'x', true))
          if (x < u.bbox.left || x > u.bbox.left + u.bbox.width) continue
          ctx.beginPath()
          ctx.moveTo(x, top)
          ctx.lineTo(x, top + height)
          ctx.stroke()
        }
        ctx.restore()
      },
    },
  }
}

const STEP_INCRS = [1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 2500, 5000, 10000, 20000, 25000, 50000, 100000, 200000, 500000, 1000000]

const fmtTick = (v: number) => (Math.abs(v) >= 1e4 || (v !== 0 && Math.abs(v) < 1e-3) ? v.toExponential(1) : String(+v.toPrecision(4)))

/** A uPlot line chart (see docs/benchmarks.md#charts) fed the whole run, thinned for drawing. */
export function LineChart({ x, series, height = 220, logY, syncKey, markers = [], xLabel = 'step', ariaLabel, maxPoints = 2000 }: Props) {
  const box = useRef<HTMLDivElement>(null)
  const plot = useRef<uPlot | null>(null)
  const markersRef = useRef(markers)
  markersRef.current = markers
  const shape = `${series.map((s) => s.label + s.color + (s.dash ?? '')).join('|')}|${logY}`

  const data = useMemo(() => {
    const [tx, ...ys] = thinSeries(x, series.map((s) => s.values), maxPoints)
    return [tx, ...ys] as uPlot.AlignedData
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [x, ...series.map((s) => s.values), maxPoints])

  useEffect(() => {
    const el = box.current
    if (!el) return
    const opts: uPlot.Options = {
      width: Math.max(el.clientWidth, 200),
      height,
      cursor: syncKey ? { sync: { key: syncKey }, drag: { x: true, y: false } } : { drag: { x: true, y: false } },
      legend: { live: true },
      scales: {
        x: { time: false, range: (_u, min, max) => (min == null || max == null ? [0, 1] : min === max ? [min - 1, max + 1] : [min, max]) },
        // An empty or all-null series must still give the axes a range (uPlot throws otherwise).
        y: logY
          ? { distr: 3, range: (_u, min, max) => (min == null || max == null || max <= 0 ? [0.1, 10] : uPlot.rangeLog(Math.max(min, max * 1e-6), max, 10, true)) }
          : { range: (_u, min, max) => (min == null || max == null ? [0, 1] : uPlot.rangeNum(min, max, 0.1, true)) },
      },
      axes: [
        // Steps are whole numbers: no ticks at 2.5.
        { label: xLabel, labelSize: 18, size: 36, stroke: '#6b7385', grid: { stroke: '#eef0f3' }, ticks: { stroke: '#e3e6eb' }, incrs: STEP_INCRS, values: (_u, vals) => vals.map(fmtTick) },
        { size: 56, stroke: '#6b7385', grid: { stroke: '#eef0f3' }, ticks: { stroke: '#e3e6eb' }, values: (_u, vals) => vals.map(fmtTick) },
      ],
      series: [
        { label: xLabel },
        ...series.map((s) => ({
          label: s.label,
          stroke: s.color,
          width: s.width ?? 1.5,
          dash: s.dash,
          spanGaps: true,
          points: { show: s.points ?? false, size: 6, fill: s.color },
          value: (_u: uPlot, v: number | null) => (v === null || v === undefined ? '—' : fmtTick(v)),
        })),
      ],
      plugins: [markerPlugin(() => markersRef.current)],
    }
    const u = new uPlot(opts, data, el)
    plot.current = u
    const ro = new ResizeObserver(() => {
      if (el.clientWidth > 0) u.setSize({ width: el.clientWidth, height })
    })
    ro.observe(el)
    return () => {
      ro.disconnect()
      u.destroy()
      plot.current = null
    }
    // Rebuilt only when the shape changes; data flows in through setData below.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [shape, height, syncKey, xLabel])

  useEffect(() => {
    plot.current?.setData(data)
  }, [data])

  useEffect(() => {
    plot.current?.redraw(false, false)
  }, [markers.join(',')])

  return <div ref={box} role="img" aria-label={ariaLabel} data-points={x.length} />
}
