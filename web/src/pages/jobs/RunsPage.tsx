import { useMemo, useState } from 'react'
import { Link, useNavigate } from 'react-router'
import { EmptyState, ErrorState, SkeletonRows } from '../../components/States'
import { StatusBadge } from '../../components/StatusBadge'
import { fmtInt, fmtNumber, fmtWhen, runLabel, runModel } from '../../lib/format'
import { useJobs } from '../../state/jobs'

const FILTERS = ['all', 'running', 'queued', 'completed', 'stopped', 'failed', 'interrupted'] as const

export function RunsPage() {
  const { runs: jobs, error, reload } = useJobs()
  const navigate = useNavigate()
  const [q, setQ] = useState('')
  const [filter, setFilter] = useState<(typeof FILTERS)[number]>('all')
  const [sort, setSort] = useState<'newest' | 'loss'>('newest')
  const rows = useMemo(() => {
    const needle = q.trim().toLowerCase()
    const list = (jobs ?? []).filter((j) => {
      if (filter !== 'all' && j.status !== filter) return false
      if (!needle) return true
      const model = runModel(j)
      return `${j.name ?? ''} ${model} ${j.id}`.toLowerCase().includes(needle)
    })
    const loss = (j: (typeof list)[number]) => Number((j.metrics as Record<string, unknown> | null)?.loss ?? Infinity)
    return sort === 'loss' ? [...list].sort((a, b) => loss(a) - loss(b)) : list
  }, [jobs, q, filter, sort])
  const counts = useMemo(() => {
    const c: Record<string, number> = { all: jobs?.length ?? 0 }
    for (const j of jobs ?? []) c[j.status] = (c[j.status] ?? 0) + 1
    return c
  }, [jobs])

  return (
    <div className="page">
      <div className="page-head">
        <div>
          <h1>Runs</h1>
          <p className="sub">Every fine-tuning run on this server. Training continues when you close the tab. Other work (dataset checks, demo model builds) is under <Link to="/jobs">Jobs</Link>.</p>
        </div>
        <div className="actions">
          <Link to="/new" className="btn primary">New run</Link>
        </div>
      </div>
      {error && !jobs && <ErrorState problem={error} onRetry={reload} />}
      {!jobs && !error && <div className="card card-body"><SkeletonRows rows={4} height={28} /></div>}
      {jobs && jobs.length === 0 && (
        <div className="card">
          <EmptyState title="No runs yet" action={<Link to="/new" className="btn primary">Start your first run</Link>}>
            Pick a model, upload a dataset, and start: the run page shows live loss curves.
          </EmptyState>
        </div>
      )}
      {jobs && jobs.length > 0 && (
        <div className="card">
          <div className="card-head" style={{ flexWrap: 'wrap' }}>
            <input type="search" aria-label="Search runs" placeholder="Search by name, model or id" value={q} onChange={(e) => setQ(e.target.value)} style={{ maxWidth: 280 }} />
            <div className="row" style={{ gap: 4 }} role="group" aria-label="Filter by status">
              {FILTERS.filter((f) => f === 'all' || counts[f]).map((f) => (
                <button key={f} type="button" className="chip" aria-pressed={filter === f} onClick={() => setFilter(f)}>
                  {f} {counts[f] ?? 0}
                </button>
              ))}
            </div>
            <label className="right row small" style={{ gap: 6 }}>
              Sort
              <select value={sort} onChange={(e) => setSort(e.target.value as 'newest' | 'loss')} style={{ width: 140 }}>
                <option value="newest">newest first</option>
                <option value="loss">lowest loss</option>
              </select>
            </label>
          </div>
          <table className="table">
            <thead>
              <tr><th>Run</th><th>Status</th><th style={{ width: 180 }}>Progress</th><th className="num">Loss</th><th>Created</th></tr>
            </thead>
            <tbody>
              {rows.map((j) => {
                const model = runModel(j)
                return (
                  <tr key={j.id} className="clickable" onClick={() => navigate(`/runs/${j.id}`)}>
                    <td>
                      <Link to={`/runs/${j.id}`} onClick={(e) => e.stopPropagation()}>{runLabel(j)}</Link>
                      <div className="small muted mono" style={{ maxWidth: 360, overflow: 'hidden', textOverflow: 'ellipsis', whiteSpace: 'nowrap' }}>{model}</div>
                    </td>
                    <td><StatusBadge status={j.status} /></td>
                    <td>
                      <div className="progress" style={{ height: 6 }}><div style={{ width: `${(j.progress ?? 0) * 100}%` }} /></div>
                      <div className="small muted">{fmtInt(j.step)} / {fmtInt(j.total_steps)} steps</div>
                    </td>
                    <td className="num">{fmtNumber((j.metrics as Record<string, number> | null)?.loss, 4)}</td>
                    <td className="small muted">{fmtWhen(j.created_at)}</td>
                  </tr>
                )
              })}
              {rows.length === 0 && (
                <tr><td colSpan={5} className="muted" style={{ textAlign: 'center', padding: 24 }}>No run matches.</td></tr>
              )}
            </tbody>
          </table>
        </div>
      )}
    </div>
  )
}
