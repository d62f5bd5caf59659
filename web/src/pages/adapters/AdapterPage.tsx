import { useState } from 'react'
import { Link, useNavigate, useParams } from 'react-router'
import { api, unwrap } from '../../api/client'
import { ErrorState, Skeleton } from '../../components/States'
import { useToasts } from '../../components/Toasts'
import { fmtBytes, fmtNumber, fmtWhen } from '../../lib/format'
import { useResource } from '../../lib/useResource'
import { DownloadLink, EvaluateLink, SourceBadge, TryInPlaygroundLink, UseInRunButton } from './common'
import { AdapterFiles } from './AdapterFiles'
import { ExportLink } from '../exports/ExportLink'

export function AdapterPage() {
  const { id = '' } = useParams()
  const adapter = useResource(() => unwrap(api.GET('/api/adapters/{adapter_id}', { params: { path: { adapter_id: id } } })), [id])
  const toasts = useToasts()
  const navigate = useNavigate()
  const [copied, setCopied] = useState(false)
  const [busy, setBusy] = useState(false)
  if (adapter.error) {
    return (
      <div className="page">
        <ErrorState problem={adapter.error} title={adapter.error.status === 404 ? 'No such adapter' : undefined} onRetry={adapter.error.status === 404 ? undefined : adapter.reload} />
        <p style={{ marginTop: 12 }}><Link to="/adapters">Back to the adapters</Link></p>
      </div>
    )
  }
  const a = adapter.data
  if (!a) {
    return (
      <div className="page stack">
        <Skeleton height={28} width={320} />
        <Skeleton height={200} />
      </div>
    )
  }
  const ref = `adapter:${a.id}`
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(ref)
      setCopied(true)
      window.setTimeout(() => setCopied(false), 1500)
    } catch {
      toasts.show(`Copy failed; the reference is ${ref}`, 'info')
    }
  }
  const remove = async () => {
    if (!window.confirm(`Delete the adapter “${a.name}”?${a.source === 'external' ? ' Its folder stays where it is.' : ' Its files are deleted.'}`)) return
    setBusy(true)
    try {
      await unwrap(api.DELETE('/api/adapters/{adapter_id}', { params: { path: { adapter_id: a.id } } }))
      toasts.show(`Deleted ${a.name}`, 'ok')
      navigate('/adapters')
    } catch (err) {
      toasts.error(err)
    } finally {
      setBusy(false)
    }
  }
  const metrics = Object.entries((a.metrics ?? {}) as Record<string, unknown>).filter(([, v]) => typeof v === 'number') as [string, number][]
  const info = (a.info ?? {}) as Record<string, unknown>
  return (
    <div className="page stack">
      <div className="page-head" style={{ marginBottom: 0 }}>
        <div style={{ minWidth: 0 }}>
          <div className="row" style={{ gap: 10 }}>
            <h1>{a.name}</h1>
            <SourceBadge source={a.source} />
          </div>
          <p className="sub small">
            <span className="mono">{ref}</span>{' '}
            <button type="button" className="btn sm ghost" onClick={copy}>{copied ? 'Copied' : 'Copy reference'}</button>
          </p>
        </div>
        <div className="actions">
          <TryInPlaygroundLink adapter={a} className="btn primary" />
          <EvaluateLink adapter={a} className="btn" />
          <ExportLink adapter={a} className="btn" />
          <DownloadLink adapter={a} className="btn" />
          <UseInRunButton adapter={a} className="btn" />
          <button type="button" className="btn danger" onClick={remove} disabled={busy}>Delete</button>
        </div>
      </div>
      {a.in_use_by.length > 0 && (
        <div className="notice info">
          <div>
            In use by {a.in_use_by.map((j, i) => (<span key={j}>{i ? ', ' : ''}<Link to={`/jobs/${j}`}>{j.slice(0, 8)}</Link></span>))}: it cannot be deleted until they end.
          </div>
        </div>
      )}
      <div className="grid-2">
        <section className="card" aria-label="Details">
          <div className="card-head"><h2>Details</h2></div>
          <div className="card-body">
            <dl className="kv">
              <dt>Base model</dt><dd className="mono small">{a.base_model}{a.base_ref && a.base_ref !== a.base_model ? ` (${a.base_ref})` : ''}</dd>
              <dt>From</dt>
              <dd>{a.job_id ? <><Link to={`/runs/${a.job_id}`}>run {a.job_id.slice(0, 8)}</Link>{a.step != null ? `, step ${a.step}` : ''}</> : 'a registered folder'}</dd>
              <dt>Method</dt><dd>{a.method ?? '—'}</dd>
              {info.r != null && (<><dt>Rank / alpha</dt><dd>{String(info.r)} / {String(info.alpha ?? '—')}</dd></>)}
              {info.target_modules != null && (<><dt>Target modules</dt><dd className="mono small">{Array.isArray(info.target_modules) ? info.target_modules.join(', ') : String(info.target_modules)}</dd></>)}
              <dt>Folder</dt><dd className="mono small">{a.path}</dd>
              <dt>Size</dt><dd>{fmtBytes(a.size_bytes)}</dd>
              <dt>Created</dt><dd>{fmtWhen(a.created_at)}</dd>
            </dl>
          </div>
        </section>
        <section className="card" aria-label="Metrics">
          <div className="card-head"><h2>Metrics</h2></div>
          <div className="card-body">
            {metrics.length === 0 ? <p className="muted small">No metrics were recorded{a.source === 'external' ? ' (registered from a folder)' : ''}.</p> : (
              <dl className="kv">
                {metrics.map(([k, v]) => (<span key={k} style={{ display: 'contents' }}><dt>{k}</dt><dd>{fmtNumber(v, 4)}</dd></span>))}
              </dl>
            )}
          </div>
        </section>
      </div>
      <section className="card" aria-label="Files">
        <div className="card-head"><h2>Files</h2><span className="right muted small">what the download holds</span></div>
        <AdapterFiles adapter={a} />
      </section>
    </div>
  )
}
