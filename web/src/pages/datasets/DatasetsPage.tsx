import { useRef, useState } from 'react'
import { Link, useNavigate } from 'react-router'
import { api, unwrap } from '../../api/client'
import { uploadDataset } from '../../api/upload'
import { EmptyState, ErrorState, ProgressBar, SkeletonRows } from '../../components/States'
import { StatusBadge } from '../../components/StatusBadge'
import { useToasts } from '../../components/Toasts'
import { fmtBytes, fmtInt, fmtWhen } from '../../lib/format'
import { useResource } from '../../lib/useResource'

export function DatasetsPage() {
  const list = useResource(() => unwrap(api.GET('/api/datasets')), [], 5000)
  const navigate = useNavigate()
  const toasts = useToasts()
  const input = useRef<HTMLInputElement>(null)
  const [progress, setProgress] = useState<number | null>(null)
  const upload = async (f: File) => {
    setProgress(0)
    try {
      const d = await uploadDataset(f, setProgress).promise
      navigate(`/datasets/${d.id}`)
    } catch (err) {
      toasts.error(err)
    } finally {
      setProgress(null)
      if (input.current) input.current.value = ''
    }
  }
  return (
    <div className="page">
      <div className="page-head">
        <div>
          <h1>Datasets</h1>
          <p className="sub">Uploaded files and hub datasets, each with its validation report and rendered samples.</p>
        </div>
        <div className="actions">
          <input ref={input} id="ds-upload" type="file" className="sr-only" accept=".jsonl,.json,.csv,.parquet" onChange={(e) => e.target.files?.[0] && void upload(e.target.files[0])} />
          <label htmlFor="ds-upload" className="btn primary">Upload a file</label>
        </div>
      </div>
      {progress !== null && (
        <div className="card card-body stack-sm" style={{ marginBottom: 16 }}>
          <span className="small">Uploading… {Math.round(progress * 100)}%</span>
          <ProgressBar value={progress} label="Upload progress" />
        </div>
      )}
      {list.error && !list.data && <ErrorState problem={list.error} onRetry={list.reload} />}
      {list.loading && <div className="card card-body"><SkeletonRows rows={4} height={28} /></div>}
      {list.data && list.data.length === 0 && (
        <div className="card">
          <EmptyState title="No datasets yet" action={<Link to="/new" className="btn">Add one in a new run</Link>}>
            Upload a JSONL, JSON, CSV or Parquet file, or pick a popular hub dataset in the new-run wizard.
          </EmptyState>
        </div>
      )}
      {list.data && list.data.length > 0 && (
        <div className="card">
          <table className="table">
            <thead>
              <tr><th>Name</th><th>Source</th><th>Format</th><th className="num">Rows</th><th className="num">Size</th><th>Status</th><th>Added</th></tr>
            </thead>
            <tbody>
              {list.data.map((d) => (
                <tr key={d.id} className="clickable" onClick={() => navigate(`/datasets/${d.id}`)}>
                  <td><Link to={`/datasets/${d.id}`} onClick={(e) => e.stopPropagation()}>{d.name}</Link></td>
                  <td className="small mono">{d.kind === 'hub' ? `${d.hub_id} · ${d.split}` : d.original_filename}</td>
                  <td className="small mono">{d.format ?? '—'}</td>
                  <td className="num">{fmtInt(d.row_count)}</td>
                  <td className="num small">{fmtBytes(d.size_bytes)}</td>
                  <td>
                    <StatusBadge status={d.status} />
                    {d.status === 'invalid' && d.error && <div className="small" style={{ color: 'var(--bad)', maxWidth: 280 }}>{d.error}</div>}
                    {d.status === 'ready' && !!d.invalid_rows && (
                      <div className="small" style={{ color: 'var(--warn)' }}>{fmtInt(d.invalid_rows)} {d.invalid_rows === 1 ? 'row' : 'rows'} will be skipped</div>
                    )}
                  </td>
                  <td className="small muted">{fmtWhen(d.created_at)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </div>
  )
}
