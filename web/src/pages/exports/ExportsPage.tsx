import { Link, useNavigate, useSearchParams } from 'react-router'
import { listExports, type ExportResult } from '../../api/exports'
import { EmptyState, ErrorState, SkeletonRows } from '../../components/States'
import { StatusBadge } from '../../components/StatusBadge'
import { fmtBytes, fmtWhen } from '../../lib/format'
import { useResource } from '../../lib/useResource'
import { useJobs } from '../../state/jobs'
import { useTargets } from '../playground/targets'
import { NewExport } from './NewExport'

export function ExportsPage() {
  const [params, setParams] = useSearchParams()
  const navigate = useNavigate()
  const { others } = useJobs()
  // Reload when an export job changes state (the job list is live).
  const stamp = (others ?? []).filter((j) => j.kind === 'export').map((j) => `${j.id}:${j.status}`).join(',')
  const list = useResource(() => listExports(), [stamp])
  const targets = useTargets()
  const adapter = params.get('adapter')
  const showForm = params.has('new') || adapter !== null
  const rows = list.data ?? []
  return (
    <div className="page stack">
      <div className="page-head" style={{ marginBottom: 0 }}>
        <div>
          <h1>Exports</h1>
          <p className="sub">An adapter as files to run elsewhere: the PEFT folder, merged weights, GGUF for llama.cpp, an Ollama Modelfile, and a parity report that checks each GGUF against the merged model.</p>
        </div>
        {!showForm && <div className="actions"><button type="button" className="btn primary" onClick={() => setParams({ new: '1' })}>New export</button></div>}
      </div>
      {showForm && <NewExport key={adapter ?? ''} initialAdapter={adapter ?? undefined} onCancel={() => setParams({})} />}
      <section className="card" aria-labelledby="exports-h">
        <div className="card-head"><h2 id="exports-h">All exports</h2>{list.data && <span className="right muted small">{rows.length} in all</span>}</div>
        {list.loading && !list.data && <div className="card-body"><SkeletonRows rows={3} height={28} /></div>}
        {list.error && <div className="card-body"><ErrorState problem={list.error} onRetry={list.reload} /></div>}
        {list.data && rows.length === 0 && (
          <EmptyState title="No exports yet" action={!showForm ? <button type="button" className="btn primary" onClick={() => setParams({ new: '1' })}>New export</button> : undefined}>
            {targets.adapters.length ? 'Export an adapter to run it with transformers, llama.cpp or Ollama.' : <>Train a run first: its adapter is what an export packs up. <Link to="/new">Start a run</Link>.</>}
          </EmptyState>
        )}
        {rows.length > 0 && (
          <div className="table-scroll">
            <table className="table" data-testid="exports-table">
              <thead><tr><th>Adapter</th><th>Status</th><th>Outputs</th><th className="num">Size</th><th>Created</th></tr></thead>
              <tbody>
                {rows.map((j) => {
                  const spec = (j.config ?? {}) as { adapter?: string; formats?: string[]; quantizations?: string[] }
                  const r = (j.status === 'completed' ? j.result : null) as unknown as ExportResult | null
                  const total = r?.files?.filter((f) => f.format !== 'parity').reduce((s, f) => s + f.size_bytes, 0)
                  const outputs: string = (spec.formats ?? ['adapter', 'merged', 'gguf']).map((f) => (f === 'gguf' ? `gguf (${(spec.quantizations ?? ['f16', 'q8_0', 'q4_k_m']).join(', ')})` : f)).join(' · ')
                  return (
                    <tr key={j.id} className="clickable" data-export={j.id} onClick={() => navigate(`/exports/${j.id}`)}>
                      <td><Link to={`/exports/${j.id}`} onClick={(e) => e.stopPropagation()}><strong>{spec.adapter ? targets.nameOf(spec.adapter) : (j.name ?? j.id.slice(0, 8))}</strong></Link><div className="small muted mono">{spec.adapter}</div></td>
                      <td><span className="row" style={{ gap: 6 }}><StatusBadge status={j.status} progress={j.progress} />{r?.suspect && <span className="badge bad" data-testid="suspect-badge">suspect</span>}</span></td>
                      <td className="small mono">{outputs}</td>
                      <td className="num">{total != null ? fmtBytes(total) : <span className="muted">—</span>}</td>
                      <td className="small muted nowrap">{fmtWhen(j.created_at)}</td>
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
