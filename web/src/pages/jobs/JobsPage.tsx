import { useMemo, useState } from 'react'
import { Link, useNavigate } from 'react-router'
import { EmptyState, ErrorState, SkeletonRows } from '../../components/States'
import { StatusBadge } from '../../components/StatusBadge'
import { fmtDuration, fmtWhen } from '../../lib/format'
import { useJobs } from '../../state/jobs'
import { useJobKinds } from './kinds'
import { JobRefs, useRefNames } from './refs'

const ACTIVE = new Set(['queued', 'running'])

function took(started?: string | null, finished?: string | null): string {
  if (!started) return '—'
  const end = finished ? new Date(finished).getTime() : Date.now()
  return fmtDuration((end - new Date(started).getTime()) / 1000)
}

/** Every job that is not a training run: dataset validation, demo model builds, and later
 * evaluations, exports and synthetic data. Training runs have their own list. */
export function JobsPage() {
  const { others: jobs, jobs: all, error, reload } = useJobs()
  const kinds = useJobKinds()
  const names = useRefNames(all)
  const navigate = useNavigate()
  const [kind, setKind] = useState<string>('all')
  const counts = useMemo(() => {
    const c = new Map<string, number>()
    for (const j of jobs ?? []) c.set(j.kind, (c.get(j.kind) ?? 0) + 1)
    return c
  }, [jobs])
  const rows = useMemo(() => (jobs ?? []).filter((j) => kind === 'all' || j.kind === kind), [jobs, kind])

  return (
    <div className="page">
      <div className="page-head">
        <div>
          <h1>Jobs</h1>
          <p className="sub">Background work other than training: dataset checks, demo model builds and more. Training runs are under <Link to="/">Runs</Link>.</p>
        </div>
      </div>
      {error && !jobs && <ErrorState problem={error} onRetry={reload} />}
      {!jobs && !error && <div className="card card-body"><SkeletonRows rows={4} height={28} /></div>}
      {jobs && jobs.length === 0 && (
        <div className="card">
          <EmptyState title="No jobs yet" action={<Link to="/new" className="btn primary">Start a run</Link>}>
            Uploading a dataset checks it in a job, and building the demo model is one too: they show up here.
          </EmptyState>
        </div>
      )}
      {jobs && jobs.length > 0 && (
        <div className="card">
          <div className="card-head" style={{ flexWrap: 'wrap' }}>
            <div className="row" style={{ gap: 4 }} role="group" aria-label="Filter by kind">
              <button type="button" className="chip" aria-pressed={kind === 'all'} onClick={() => setKind('all')}>all {jobs.length}</button>
              {[...counts.entries()].map(([k, n]) => (
                <button key={k} type="button" className="chip" aria-pressed={kind === k} onClick={() => setKind(k)} title={kinds.get(k)?.description}>
                  {kinds.get(k)?.title ?? k} {n}
                </button>
              ))}
            </div>
          </div>
          <table className="table" data-testid="jobs-table">
            <thead>
              <tr><th>Job</th><th>Status</th><th>Refers to</th><th>Created</th><th>Took</th></tr>
            </thead>
            <tbody>
              {rows.map((j) => (
                <tr key={j.id} className="clickable" data-job={j.id} data-kind={j.kind} onClick={() => navigate(`/jobs/${j.id}`)}>
                  <td>
                    <Link to={`/jobs/${j.id}`} onClick={(e) => e.stopPropagation()}>{j.kind_title}</Link>
                    <div className="small muted" style={{ maxWidth: 360, overflow: 'hidden', textOverflow: 'ellipsis', whiteSpace: 'nowrap' }}>{j.name ?? j.id.slice(0, 8)}</div>
                  </td>
                  <td>
                    <StatusBadge status={j.status} progress={j.progress} />
                    {ACTIVE.has(j.status) && (
                      <div className="progress" aria-hidden="true" style={{ height: 4, marginTop: 6, maxWidth: 140 }}>
                        <div style={{ width: `${(j.progress ?? 0) * 100}%` }} />
                      </div>
                    )}
                  </td>
                  <td onClick={(e) => e.stopPropagation()}><JobRefs job={j} names={names} /></td>
                  <td className="small muted">{fmtWhen(j.created_at)}</td>
                  <td className="small muted">{took(j.started_at, j.finished_at)}</td>
                </tr>
              ))}
              {rows.length === 0 && (
                <tr><td colSpan={5} className="muted" style={{ textAlign: 'center', padding: 24 }}>No job of this kind.</td></tr>
              )}
            </tbody>
          </table>
        </div>
      )}
    </div>
  )
}
