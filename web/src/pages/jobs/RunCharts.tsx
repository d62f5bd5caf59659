import { useMemo, useState } from 'react'
import { LineChart } from '../../components/LineChart'
import { smooth } from '../../lib/thin'
import type { RunState } from './useRunStream'

interface Props {
  run: RunState
  checkpointSteps: number[]
  evalConfigured: boolean
  evalEvery: number | null
}

function ChartCard({ title, testid, children, right, empty }: { title: string; testid: string; children: React.ReactNode; right?: React.ReactNode; empty?: string | null }) {
  return (
    <section className="card chart-card" data-testid={testid} aria-label={title}>
      <div className="card-head">
        <h3>{title}</h3>
        {right && <div className="right">{right}</div>}
      </div>
      <div className="chart-box">
        {children}
        {empty && <div className="chart-state">{empty}</div>}
      </div>
    </section>
  )
}

/** Loss (train and eval), learning rate, grad norm and tokens/s for the whole run, one cursor. */
export function RunCharts({ run, checkpointSteps, evalConfigured, evalEvery }: Props) {
  const [smoothing, setSmoothing] = useState(0.6)
  const [logY, setLogY] = useState(false)
  const s = run.series
  const waiting = s.step.length === 0 ? (run.job?.status === 'running' || run.job?.status === 'queued' ? 'Waiting for the first logged step…' : 'No steps were logged.') : null

  // Eval points live on the same x axis: a sparse series aligned to the train steps.
  const evalLoss = useMemo(() => {
    const by = new Map(run.evals.map((e) => [e.step, e.metrics.eval_loss ?? null]))
    return s.step.map((st) => by.get(st) ?? null)
  }, [run.evals, s.step])
  const smoothed = useMemo(() => smooth(s.loss, smoothing), [s.loss, smoothing])
  const hasEval = run.evals.some((e) => e.metrics.eval_loss !== null && e.metrics.eval_loss !== undefined)
  const evalNote = !evalConfigured
    ? 'Eval loss: not configured (set an eval fraction or split)'
    : hasEval
      ? null
      : `Eval loss: waiting for the first evaluation${evalEvery ? ` (every ${evalEvery} steps)` : ' (at the end)'}`

  const lossSeries = [
    { label: 'train loss', color: '#c3cbe0', values: s.loss, width: 1 },
    { label: `smoothed (${smoothing})`, color: '#3358d4', values: smoothed, width: 2 },
    ...(hasEval ? [{ label: 'eval loss', color: '#d97706', values: evalLoss, width: 1.5, dash: [5, 4], points: true }] : []),
  ]

  return (
    <div className="stack">
      <ChartCard
        title="Loss"
        testid="loss-chart"
        empty={waiting}
        right={
          <div className="row" style={{ gap: 12 }}>
            {evalNote && <span className="small muted" data-testid="eval-state">{evalNote}</span>}
            <label className="row small" style={{ gap: 6 }}>
              Smoothing
              <input type="range" min={0} max={0.98} step={0.02} value={smoothing} onChange={(e) => setSmoothing(Number(e.target.value))} aria-label="Smoothing" style={{ width: 90 }} />
            </label>
            <label className="check small">
              <input type="checkbox" checked={logY} onChange={(e) => setLogY(e.target.checked)} /> log scale
            </label>
          </div>
        }
      >
        <LineChart x={s.step} series={lossSeries} logY={logY} syncKey="run" markers={checkpointSteps} ariaLabel="Training loss per step" height={260} />
      </ChartCard>
      <div className="run-grid">
        <ChartCard title="Learning rate" testid="lr-chart" empty={waiting}>
          <LineChart x={s.step} series={[{ label: 'learning rate', color: '#16a34a', values: s.lr }]} syncKey="run" ariaLabel="Learning rate per step" height={180} />
        </ChartCard>
        <ChartCard title="Gradient norm" testid="grad-chart" empty={waiting}>
          <LineChart x={s.step} series={[{ label: 'grad norm', color: '#9333ea', values: s.grad }]} syncKey="run" markers={checkpointSteps} ariaLabel="Gradient norm per step" height={180} />
        </ChartCard>
        <ChartCard title="Throughput" testid="tps-chart" empty={waiting}>
          <LineChart x={s.step} series={[{ label: 'tokens/s', color: '#0e7490', values: s.tps }]} syncKey="run" ariaLabel="Tokens per second per step" height={180} />
        </ChartCard>
        <ChartCard title="Epoch" testid="epoch-chart" empty={waiting}>
          <LineChart x={s.step} series={[{ label: 'epoch', color: '#64748b', values: s.epoch }]} syncKey="run" ariaLabel="Epoch per step" height={180} />
        </ChartCard>
      </div>
    </div>
  )
}
