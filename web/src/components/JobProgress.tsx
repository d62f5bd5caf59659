import { Link } from 'react-router'
import type { RunState } from '../pages/jobs/useRunStream'
import { fmtDuration, fmtInt } from '../lib/format'
import { ProgressBar } from './States'
import { StatusBadge } from './StatusBadge'

/** A job's status, progress and current phase, with its failure reason and a link to its log. */
export function JobProgress({ run, what }: { run: RunState; what: string }) {
  const job = run.job
  if (!job) return null
  const progress = job.status === 'completed' ? 1 : (job.progress ?? 0)
  const phase = run.phase && job.status === 'running' ? run.phase : null
  const started = job.started_at ? new Date(job.started_at).getTime() : null
  const ended = job.finished_at ? new Date(job.finished_at).getTime() : null
  return (
    <section className="card" aria-label={`${what} progress`} data-testid="job-progress">
      <div className="card-body stack-sm">
        <div className="row">
          <span data-testid="job-status"><StatusBadge status={job.status} progress={job.progress} /></span>
          {job.total_steps ? <span className="muted">{fmtInt(job.step)} of {fmtInt(job.total_steps)}</span> : null}
          {run.connection === 'reconnecting' && <span className="badge warn live">reconnecting…</span>}
          <span className="right small muted">{started ? `took ${fmtDuration(((ended ?? Date.now()) - started) / 1000)}` : job.status === 'queued' ? 'waiting for a worker' : ''}</span>
          <Link to={`/jobs/${job.id}`} className="small">log and details</Link>
        </div>
        <ProgressBar value={progress} tone={job.status === 'completed' ? 'ok' : job.status === 'failed' ? 'bad' : undefined} label={`${what} progress`} indeterminate={job.status === 'running' && !job.progress} />
        {phase && <div className="small muted" data-testid="current-phase">{phase.message}{phase.total ? ` (${fmtInt(phase.current)} of ${fmtInt(phase.total)})` : ''}</div>}
        {job.status === 'failed' && (
          <div className="notice bad" role="alert">
            <div>
              <strong data-testid="failure-reason">{job.reason ?? run.failure?.reason ?? 'The job failed.'}</strong>
              {run.failure?.fix && <div>Likely fix: {run.failure.fix}</div>}
              <div className="small mono">exit code {job.exit_code ?? '—'}</div>
            </div>
          </div>
        )}
        {(job.status === 'stopped' || job.status === 'interrupted') && <div className="notice warn"><div><strong>{job.status === 'stopped' ? 'Cancelled.' : 'Interrupted.'}</strong> {job.reason ?? ''}</div></div>}
      </div>
    </section>
  )
}
