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

// The method's own metrics, one small chart per family, shown only when the run logs them.
// Names are TRL's (training/reporter.py StepProgress.metrics).
interface Family { id: string; title: string; match: (name: string) => boolean }
const FAMILIES: Family[] = [
  { id: 'reward', title: 'Reward', match: (n) => n === 'reward' || n === 'reward_std' || /^rewards\/[^/]+\/(mean|std)$/.test(n) },
  { id: 'preference', title: 'Preference rewards', match: (n) => /^rewards\/(chosen|rejected|margins|accuracies)$/.test(n) },
  { id: 'logps', title: 'Log-probabilities', match: (n) => /^logps\//.test(n) },
  { id: 'kl', title: 'KL to the reference', match: (n) => n === 'kl' },
  { id: 'completion-length', title: 'Completion length', match: (n) => /^completions\/(mean|min|max)_length$/.test(n) },
  { id: 'clip-ratio', title: 'Clip ratio', match: (n) => /^clip_ratio\/.+_mean$/.test(n) },
  { id: 'entropy', title: 'Entropy', match: (n) => n === 'entropy' },
]
const PALETTE = ['#3358d4', '#d97706', '#16a34a', '#9333ea', '#0e7490', '#dc2626', '#64748b', '#ca8a04']

function methodFamilies(extra: Record<string, (number | null)[]>) {
  const names = Object.keys(extra).filter((k) => extra[k].some((v) => v !== null))
  // SFT logs entropy too; its charts stay as they were unless the run is a preference or RL one.
  const policy = names.some((n) => n === 'reward' || n.startsWith('rewards/') || n.startsWith('logps/'))
  if (!policy) return []
  return FAMILIES.map((f) => ({ ...f, names: names.filter(f.match).sort() })).filter((f) => f.names.length > 0)
}

/** Loss (train and eval), learning rate, grad norm and tokens/s for the whole run, one cursor;
 *  for DPO/ORPO/KTO/GRPO runs also their reward, KL, length ... charts. */
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

  const families = useMemo(() => methodFamilies(s.extra), [s.extra])

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
        {families.map((f) => (
          <ChartCard key={f.id} title={f.title} testid={`metric-chart-${f.id}`}>
            <LineChart
              x={s.step}
              series={f.names.map((name, i) => ({ label: name, color: PALETTE[i % PALETTE.length], values: s.extra[name], width: i === 0 ? 2 : 1.5 }))}
              syncKey="run"
              ariaLabel={`${f.title} per step`}
              height={180}
            />
          </ChartCard>
        ))}
      </div>
    </div>
  )
}
