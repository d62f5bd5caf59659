import { lazy, Suspense, useState } from 'react'
import { Link, useParams } from 'react-router'
import { getSamples, getSummary } from '../../api/evaluations'
import type { EvalResult, EvalSample } from '../../api/types'
import { JobProgress } from '../../components/JobProgress'
import { ErrorState, Skeleton, SkeletonRows } from '../../components/States'
import { fmtInt, fmtNumber, fmtWhen } from '../../lib/format'
import { useResource } from '../../lib/useResource'
import { useRunStream } from '../jobs/useRunStream'
import { useTargets } from '../playground/targets'
import { JudgeResult, MetricTable, SpeedTable, VoteCounts, WinRate, meanOf, metricLabel } from './summary'

const LineChart = lazy(() => import('../../components/LineChart').then((m) => ({ default: m.LineChart })))
const PAGE = 20
const COLORS = ['#3358d4', '#16a34a', '#d97706', '#9333ea', '#0891b2']

function CheckpointChart({ result }: { result: EvalResult }) {
  const points = [...(result.checkpoints ?? [])].sort((a, b) => a.step - b.step)
  const names = Array.from(new Set(points.flatMap((p) => Object.keys(p.metrics ?? {}))))
  const [metric, setMetric] = useState(names.includes('rouge_l') ? 'rouge_l' : (names[0] ?? ''))
  if (points.length < 2 || !names.length) return null
  return (
    <section className="card chart-card" aria-label="Metric over checkpoints" data-testid="checkpoint-chart">
      <div className="card-head">
        <h2>{metricLabel(metric)} over training</h2>
        <div className="right row" role="group" aria-label="Metric" style={{ gap: 4 }}>
          {names.map((n) => <button key={n} type="button" className="chip" aria-pressed={n === metric} onClick={() => setMetric(n)}>{metricLabel(n)}</button>)}
        </div>
      </div>
      <div className="chart-box">
        <Suspense fallback={<Skeleton height={220} />}>
          <LineChart
            x={points.map((p) => p.step)}
            series={[
              { label: `${metricLabel(metric)} (tuned)`, color: COLORS[0], values: points.map((p) => meanOf(p.metrics?.[metric])), points: true, width: 2 },
              { label: 'base', color: '#94a3b8', values: points.map(() => meanOf(result.metrics.base?.[metric])), dash: [5, 4] },
            ]}
            ariaLabel={`${metricLabel(metric)} at each evaluated checkpoint step`}
          />
        </Suspense>
      </div>
    </section>
  )
}

function Text({ text, className = '' }: { text?: string | null; className?: string }) {
  if (text == null || text === '') return <span className="muted">—</span>
  if (!text.trim()) return <span className="muted small">(empty: only spaces or new lines)</span>
  return <div className={`cell-text ${className}`}>{text}</div>
}

function SampleMetrics({ s, names }: { s: EvalSample; names: string[] }) {
  return (
    <dl className="sample-metrics">
      {names.map((k) => {
        const b = s.metrics?.base?.[k]
        const t = s.metrics?.tuned?.[k]
        const d = b != null && t != null ? t - b : null
        return (
          <div key={k}>
            <dt>{metricLabel(k)}</dt>
            <dd>{fmtNumber(b, 2)} → <strong>{fmtNumber(t, 2)}</strong>{d != null && d !== 0 && <span className={`delta ${d > 0 ? 'up' : 'down'}`}> {d > 0 ? '+' : '−'}{fmtNumber(Math.abs(d), 2)}</span>}</dd>
          </div>
        )
      })}
    </dl>
  )
}

export function SamplesTable({ jobId, highlight }: { jobId: string; highlight?: Set<string> }) {
  const [offset, setOffset] = useState(0)
  const page = useResource(() => getSamples(jobId, offset, PAGE), [jobId, offset])
  if (page.error) return <div className="card-body"><ErrorState problem={page.error} onRetry={page.reload} /></div>
  if (!page.data) return <div className="card-body"><SkeletonRows rows={4} /></div>
  const { total, samples } = page.data
  const names = Array.from(new Set(samples.flatMap((s) => Object.keys(s.metrics?.tuned ?? {})))).filter((k) => k !== 'bleu').slice(0, 3)
  return (
    <>
      <div className="table-scroll">
        <table className="table samples" data-testid="samples-table">
          <thead><tr><th>Prompt</th><th>Reference</th><th>Base</th><th>Tuned</th><th>Metrics (base → tuned)</th></tr></thead>
          <tbody>
            {samples.map((s) => (
              <tr key={s.id} data-sample={s.id} className={highlight?.has(s.id) ? 'selected' : ''}>
                <td><Text text={s.prompt} /></td>
                <td><Text text={s.reference} /></td>
                <td><Text text={s.base?.text} /></td>
                <td><Text text={s.tuned?.text} />{s.judge?.winner && <span className="badge plain info small">judge: {s.judge.winner}</span>}</td>
                <td><SampleMetrics s={s} names={names} /></td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <div className="card-body row small">
        <span className="muted">{total ? `${fmtInt(offset + 1)}–${fmtInt(Math.min(offset + PAGE, total))} of ${fmtInt(total)}` : 'No samples.'}</span>
        <span className="right row" style={{ gap: 6 }}>
          <button type="button" className="btn sm" disabled={offset === 0} onClick={() => setOffset(Math.max(0, offset - PAGE))}>Previous</button>
          <button type="button" className="btn sm" disabled={offset + PAGE >= total} onClick={() => setOffset(offset + PAGE)}>Next</button>
        </span>
      </div>
    </>
  )
}

function VotesCard({ jobId }: { jobId: string }) {
  const summary = useResource(() => getSummary(jobId), [jobId])
  return (
    <section className="card" aria-label="Arena votes" data-testid="votes-card">
      <div className="card-head">
        <h2>Blind votes</h2>
        <Link to={`/evaluations/${jobId}/arena`} className="btn sm primary right">Open the arena</Link>
      </div>
      <div className="card-body stack-sm">
        {summary.error && <ErrorState problem={summary.error} onRetry={summary.reload} />}
        {!summary.data && !summary.error && <SkeletonRows rows={2} />}
        {summary.data && (
          <>
            <WinRate summary={summary.data} />
            <VoteCounts summary={summary.data} />
            {summary.data.judge_agreement != null && <p className="small">Agreement with the judge: <strong>{Math.round(summary.data.judge_agreement * 100)}%</strong></p>}
          </>
        )}
      </div>
    </section>
  )
}

export function EvaluationPage() {
  const { id = '' } = useParams()
  const { state: run } = useRunStream(id)
  const targets = useTargets()
  const job = run.job
  if (run.error && !job) {
    return (
      <div className="page">
        <ErrorState problem={run.error} title={run.error.status === 404 ? 'No such evaluation' : undefined} />
        <p style={{ marginTop: 12 }}><Link to="/evaluations">Back to the evaluations</Link></p>
      </div>
    )
  }
  if (!job) return <div className="page stack"><Skeleton height={28} width={320} /><Skeleton height={140} /><Skeleton height={260} /></div>
  const spec = (job.config ?? {}) as { adapter?: string; base?: string | null; dataset?: string | null; max_samples?: number; checkpoints?: number[]; judge?: { model?: string } | null }
  const result = (job.status === 'completed' ? job.result : null) as unknown as EvalResult | null
  const adapterTarget = spec.adapter ? targets.find(spec.adapter) : undefined
  return (
    <div className="page stack">
      <div className="page-head" style={{ marginBottom: 0 }}>
        <div style={{ minWidth: 0 }}>
          <h1>{spec.adapter ? targets.nameOf(spec.adapter) : 'Evaluation'} <span className="muted" style={{ fontWeight: 400 }}>vs its base</span></h1>
          <p className="sub small">
            <span className="mono">{spec.adapter}</span> against <span className="mono">{spec.base ?? adapterTarget?.baseName ?? 'its base'}</span>
            {' · '}{spec.dataset ? <>data {spec.dataset.startsWith('dataset:') ? <Link to={`/datasets/${spec.dataset.slice(8)}`}>{spec.dataset}</Link> : spec.dataset}</> : 'the run’s held-out rows'}
            {' · '}created {fmtWhen(job.created_at)}
          </p>
        </div>
        <div className="actions">
          {spec.adapter && <Link className="btn" to={`/playground?model=${encodeURIComponent(spec.adapter)}&compare=1`}>Try in playground</Link>}
          {job.status === 'completed' && <Link className="btn primary" to={`/evaluations/${id}/arena`}>Vote in the arena</Link>}
        </div>
      </div>
      {job.status !== 'completed' && <JobProgress run={run} what="Evaluation" />}
      {result && (
        <>
          <div className="grid-2">
            <section className="card" aria-label="Metrics">
              <div className="card-head"><h2>Metrics</h2><span className="right muted small">{fmtInt(result.samples)} samples</span></div>
              <MetricTable result={result} />
            </section>
            <section className="card" aria-label="Speed and cost">
              <div className="card-head"><h2>Speed and cost</h2></div>
              <SpeedTable result={result} />
            </section>
          </div>
          <div className="grid-2">
            <section className="card" aria-label="Judge">
              <div className="card-head"><h2>Judge</h2>{spec.judge?.model && <span className="right mono small">{spec.judge.model}</span>}</div>
              <div className="card-body"><JudgeResult judge={result.judge} /></div>
            </section>
            <VotesCard jobId={id} />
          </div>
          <CheckpointChart result={result} />
          <section className="card" aria-label="Samples">
            <div className="card-head"><h2>Samples</h2><span className="right muted small">every prompt with both answers</span></div>
            <SamplesTable jobId={id} />
          </section>
        </>
      )}
    </div>
  )
}
