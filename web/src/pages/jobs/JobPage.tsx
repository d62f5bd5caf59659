import { useEffect, useState } from 'react'
import { Link, Navigate, useNavigate, useParams } from 'react-router'
import YAML from 'yaml'
import { api, unwrap } from '../../api/client'
import type { Job } from '../../api/types'
import { ErrorState, ProgressBar, Skeleton } from '../../components/States'
import { StatusBadge } from '../../components/StatusBadge'
import { useToasts } from '../../components/Toasts'
import { fmtDuration, fmtInt, fmtWhen } from '../../lib/format'
import { TRAIN, useJobs } from '../../state/jobs'
import { useJobKinds } from './kinds'
import { LogTail } from './LogTail'
import { JobRefs, ResultList, useRefNames } from './refs'
import { useRunStream } from './useRunStream'

const ACTIVE = new Set(['queued', 'running'])
const RESUMABLE = new Set(['stopped', 'interrupted', 'failed'])

function when(iso?: string | null) {
  return iso ? `${new Date(iso).toLocaleString()} (${fmtWhen(iso)})` : '—'
}

/** The page of any job without a page of its own (training runs have /runs/:id): its status,
 * progress, live log, what it refers to, and its result. */
export function JobPage() {
  const { id = '' } = useParams()
  const { state: run, refreshJob, restartStream, setJob } = useRunStream(id)
  const { upsert, reload: reloadJobs, jobs } = useJobs()
  const kinds = useJobKinds()
  const names = useRefNames(jobs)
  const toasts = useToasts()
  const navigate = useNavigate()
  const [busy, setBusy] = useState<string | null>(null)
  const job = run.job
  useEffect(() => {
    if (job) upsert(job)
  }, [job?.status, job?.result]) // eslint-disable-line react-hooks/exhaustive-deps

  if (run.error && !job) {
    return (
      <div className="page">
        <ErrorState problem={run.error} title={run.error.status === 404 ? 'No such job' : undefined} />
        <p style={{ marginTop: 12 }}><Link to="/jobs">Back to the jobs</Link></p>
      </div>
    )
  }
  if (!job) {
    return (
      <div className="page stack">
        <Skeleton height={28} width={320} />
        <Skeleton height={110} />
        <Skeleton height={240} />
      </div>
    )
  }
  // Training runs keep their own, richer page.
  if (job.kind === TRAIN) return <Navigate to={`/runs/${id}`} replace />

  const kind = kinds.get(job.kind)
  const resumable = kind?.resumable ?? false
  const act = async (what: 'cancel' | 'resume' | 'delete') => {
    setBusy(what)
    try {
      const path = { job_id: id }
      if (what === 'delete') {
        if (!window.confirm(`Delete this ${job.kind_title.toLowerCase()} job and its files?`)) return
        await unwrap(api.DELETE('/api/jobs/{job_id}', { params: { path } }))
        await reloadJobs()
        navigate('/jobs')
        return
      }
      const updated: Job = await unwrap(what === 'cancel' ? api.POST('/api/jobs/{job_id}/cancel', { params: { path } }) : api.POST('/api/jobs/{job_id}/resume', { params: { path } }))
      setJob(updated)
      upsert(updated)
      if (what === 'resume') restartStream()
      toasts.show(what === 'cancel' ? 'Cancelling' : 'Resumed', 'ok')
    } catch (err) {
      toasts.error(err)
      void refreshJob()
    } finally {
      setBusy(null)
    }
  }

  const progress = job.status === 'completed' ? 1 : (job.progress ?? 0)
  const phase = run.phase && job.status === 'running' ? run.phase : null
  const counted = job.total_steps ? `${fmtInt(job.step)} of ${fmtInt(job.total_steps)}` : null
  const started = job.started_at ? new Date(job.started_at).getTime() : null
  const ended = job.finished_at ? new Date(job.finished_at).getTime() : null
  const result = (job.result ?? null) as Record<string, unknown> | null
  return (
    <div className="page stack">
      <div className="page-head" style={{ marginBottom: 0 }}>
        <div style={{ minWidth: 0 }}>
          <div className="row" style={{ gap: 10 }}>
            <h1>{job.kind_title}</h1>
            <span data-testid="job-status"><StatusBadge status={job.status} progress={job.progress} /></span>
            {ACTIVE.has(job.status) && run.connection === 'reconnecting' && <span className="badge warn live" data-testid="connection">reconnecting…</span>}
          </div>
          <p className="sub small">
            {job.name ? `${job.name} · ` : ''}created {fmtWhen(job.created_at)} · <span className="mono">id {id.slice(0, 8)}</span>
            {job.attempts > 1 ? ` · attempt ${job.attempts}` : ''}
          </p>
        </div>
        <div className="actions">
          {ACTIVE.has(job.status) && (
            <button type="button" className="btn danger" onClick={() => act('cancel')} disabled={busy !== null || job.cancel_requested}>
              {job.cancel_requested ? 'Cancelling…' : 'Cancel'}
            </button>
          )}
          {resumable && RESUMABLE.has(job.status) && (
            <button type="button" className="btn primary" onClick={() => act('resume')} disabled={busy !== null}>
              {busy === 'resume' ? 'Resuming…' : 'Resume'}
            </button>
          )}
          {!ACTIVE.has(job.status) && (
            <button type="button" className="btn ghost" onClick={() => act('delete')} disabled={busy !== null}>Delete</button>
          )}
          <Link to="/jobs" className="btn ghost">All jobs</Link>
        </div>
      </div>

      {job.status === 'failed' && (
        <section className="card" aria-label="Why the job failed" style={{ borderColor: '#f3c1bc' }}>
          <div className="card-head" style={{ background: 'var(--bad-bg)' }}>
            <h2 style={{ color: 'var(--bad)' }}>The job failed</h2>
            <span className="right mono small">exit code {job.exit_code ?? '—'}</span>
          </div>
          <div className="card-body stack-sm">
            <p data-testid="failure-reason"><strong>{job.reason ?? run.failure?.reason ?? 'No reason was recorded.'}</strong></p>
            {run.failure?.fix && <div className="notice info"><div><strong>Likely fix:</strong> {run.failure.fix}</div></div>}
            {run.failure?.code && <p className="small muted mono">error code {run.failure.code}</p>}
            <p className="small muted">The log below ends with what went wrong.</p>
          </div>
        </section>
      )}
      {(job.status === 'stopped' || job.status === 'interrupted') && (
        <div className="notice warn"><div><strong>{job.status === 'stopped' ? 'Cancelled.' : 'Interrupted.'}</strong> {job.reason ?? ''} {resumable ? 'Resume continues it.' : ''}</div></div>
      )}
      {job.status === 'queued' && <div className="notice info"><div><strong>Queued.</strong> It starts as soon as a worker slot is free; the page updates by itself.</div></div>}

      <section className="card" aria-label="Progress">
        <div className="card-body stack-sm">
          <div className="row">
            <strong>{job.status === 'completed' ? 'Done' : job.status === 'running' ? 'Working' : job.status}</strong>
            <span className="muted">{Math.floor(progress * 100)}%</span>
            {counted && <span className="muted">{counted}</span>}
            <span className="right muted small">{started ? `took ${fmtDuration(((ended ?? Date.now()) - started) / 1000)}` : 'not started'}</span>
          </div>
          <ProgressBar value={progress} tone={job.status === 'completed' ? 'ok' : job.status === 'failed' ? 'bad' : undefined} label="Job progress" indeterminate={job.status === 'running' && !job.progress} />
          {phase && <div className="small muted" data-testid="current-phase">{phase.message}</div>}
        </div>
      </section>

      <div className="grid-2">
        <section className="card" aria-label="Details">
          <div className="card-head"><h2>Details</h2></div>
          <div className="card-body">
            <dl className="kv">
              <dt>Kind</dt>
              <dd>{job.kind_title} <span className="mono small muted">({job.kind})</span>{kind?.description && <div className="small muted">{kind.description}</div>}</dd>
              <dt>Refers to</dt>
              <dd><JobRefs job={job} names={names} /></dd>
              <dt>Devices</dt>
              <dd data-testid="job-devices">{job.devices ? `GPU ${job.devices}` : kind?.device ? 'not assigned yet' : 'CPU (needs no GPU)'}</dd>
              <dt>Created</dt><dd>{when(job.created_at)}</dd>
              <dt>Started</dt><dd>{when(job.started_at)}</dd>
              <dt>Finished</dt><dd>{when(job.finished_at)}</dd>
            </dl>
          </div>
        </section>
        <section className="card" aria-label="Result">
          <div className="card-head"><h2>Result</h2></div>
          <div className="card-body">
            {result ? <ResultList result={result} names={names} /> : <p className="muted small">{ACTIVE.has(job.status) ? 'Written when the job completes.' : 'This job left no result.'}</p>}
          </div>
        </section>
      </div>

      <LogTail logs={run.logs} />

      {job.config && Object.keys(job.config).length > 0 && (
        <section className="card" aria-label="Spec">
          <div className="card-head"><h2>Spec</h2><span className="right muted small">what the job was asked to do</span></div>
          <div className="card-body"><pre className="yaml">{YAML.stringify(job.config)}</pre></div>
        </section>
      )}
    </div>
  )
}
