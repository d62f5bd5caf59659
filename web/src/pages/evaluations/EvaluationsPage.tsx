import { Link, useNavigate, useSearchParams } from 'react-router'
import { listEvaluations } from '../../api/evaluations'
import type { EvalResult } from '../../api/types'
import { EmptyState, ErrorState, SkeletonRows } from '../../components/States'
import { StatusBadge } from '../../components/StatusBadge'
import { fmtInt, fmtWhen } from '../../lib/format'
import { useResource } from '../../lib/useResource'
import { useJobs } from '../../state/jobs'
import { useTargets } from '../playground/targets'
import { NewEvaluation } from './NewEvaluation'
import { Delta } from './summary'

export function EvaluationsPage() {
  const [params, setParams] = useSearchParams()
  const navigate = useNavigate()
  const { others } = useJobs()
  // Reload when an evaluate job changes state (the job list is live).
  const stamp = (others ?? []).filter((j) => j.kind === 'evaluate').map((j) => `${j.id}:${j.status}`).join(',')
  const list = useResource(() => listEvaluations(), [stamp])
  const targets = useTargets()
  const adapter = params.get('adapter')
  const showForm = params.has('new') || adapter !== null
  const rows = list.data ?? []
  return (
    <div className="page stack">
      <div className="page-head" style={{ marginBottom: 0 }}>
        <div>
          <h1>Evaluations</h1>
          <p className="sub">An adapter against its base on the same prompts: metrics with their spread, speed, cost, an optional judge, and a blind vote in the arena.</p>
        </div>
        {!showForm && <div className="actions"><button type="button" className="btn primary" onClick={() => setParams({ new: '1' })}>New evaluation</button></div>}
      </div>
      {showForm && <NewEvaluation initialAdapter={adapter ?? undefined} onCancel={() => setParams({})} />}
      <section className="card" aria-labelledby="evals-h">
        <div className="card-head"><h2 id="evals-h">All evaluations</h2>{list.data && <span className="right muted small">{rows.length} in all</span>}</div>
        {list.loading && <div className="card-body"><SkeletonRows rows={3} height={28} /></div>}
        {list.error && <div className="card-body"><ErrorState problem={list.error} onRetry={list.reload} /></div>}
        {list.data && rows.length === 0 && (
          <EmptyState title="No evaluations yet" action={!showForm ? <button type="button" className="btn primary" onClick={() => setParams({ new: '1' })}>New evaluation</button> : undefined}>
            {targets.adapters.length ? 'Evaluate an adapter to see whether it beats its base.' : <>Train a run first: its adapter is what an evaluation compares with the base. <Link to="/new">Start a run</Link>.</>}
          </EmptyState>
        )}
        {rows.length > 0 && (
          <div className="table-scroll">
            <table className="table" data-testid="evaluations-table">
              <thead><tr><th>Adapter</th><th>Status</th><th className="num">Samples</th><th className="num">ROUGE-L delta</th><th>Created</th><th><span className="sr-only">Actions</span></th></tr></thead>
              <tbody>
                {rows.map((j) => {
                  const spec = (j.config ?? {}) as { adapter?: string }
                  const r = (j.result ?? null) as unknown as EvalResult | null
                  return (
                    <tr key={j.id} className="clickable" data-evaluation={j.id} onClick={() => navigate(`/evaluations/${j.id}`)}>
                      <td><Link to={`/evaluations/${j.id}`} onClick={(e) => e.stopPropagation()}><strong>{spec.adapter ? targets.nameOf(spec.adapter) : (j.name ?? j.id.slice(0, 8))}</strong></Link><div className="small muted mono">{spec.adapter}</div></td>
                      <td><StatusBadge status={j.status} progress={j.progress} /></td>
                      <td className="num">{fmtInt(r?.samples)}</td>
                      <td className="num">{r ? <Delta spread={r.deltas?.rouge_l} /> : <span className="muted">—</span>}</td>
                      <td className="small muted nowrap">{fmtWhen(j.created_at)}</td>
                      <td style={{ textAlign: 'right' }}>{j.status === 'completed' && <Link className="btn sm" to={`/evaluations/${j.id}/arena`} onClick={(e) => e.stopPropagation()}>Arena</Link>}</td>
                    </tr>
                  )
                })}
              </tbody>
            </table>
          </div>
        )}
      </section>
    </div>
  )
}
