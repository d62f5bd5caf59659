// Build the tiny demo model: a `demo_model` job on the server. The button queues it (or gets
// the model at once when it exists), then its progress and log show here until it completes;
// the job's result names the registered model. The job id is kept for the tab, so leaving the
// page and coming back picks the build up where it is.
import { useEffect, useRef, useState } from 'react'
import { Link } from 'react-router'
import { api, unwrap } from '../../api/client'
import { problemOf, type Problem } from '../../api/problem'
import type { Model } from '../../api/types'
import { ProgressBar } from '../../components/States'
import { StatusBadge } from '../../components/StatusBadge'
import { useToasts } from '../../components/Toasts'
import { useJobs } from '../../state/jobs'
import { useRunStream } from '../jobs/useRunStream'

const KEY = 'loralab.demoJob'

function BuildProgress({ jobId, onModel, onFailed }: { jobId: string; onModel: (modelId: string) => void; onFailed: (p: Problem) => void }) {
  const { state, refreshJob } = useRunStream(jobId)
  const job = state.job
  const modelId = typeof job?.result?.model_id === 'string' ? job.result.model_id : null
  const done = useRef(false)
  useEffect(() => {
    if (!job || done.current) return
    if (job.status === 'completed' && modelId) {
      done.current = true
      onModel(modelId)
    } else if (job.status === 'completed') {
      // Completed, but this copy of the job predates its result: ask again shortly.
      const t = window.setTimeout(() => void refreshJob(), 500)
      return () => window.clearTimeout(t)
    } else if (job.status === 'failed' || job.status === 'stopped' || job.status === 'interrupted') {
      done.current = true
      onFailed({ status: 0, code: 'demo_model_failed', detail: job.reason ?? state.failure?.reason ?? `The build ended: ${job.status}.`, fix: state.failure?.fix ?? null })
    }
  }, [job, modelId, onModel, onFailed, refreshJob, state.failure])
  if (state.error && !job) return <p className="small" role="alert" style={{ color: 'var(--bad)' }}>{state.error.detail}</p>
  const lines = state.logs.slice(-4)
  const phase = state.phase?.message
  return (
    <div className="stack-sm" data-testid="demo-build" aria-live="polite">
      <div className="row small" style={{ gap: 8 }}>
        {job ? <StatusBadge status={job.status} progress={job.progress} /> : <span className="badge idle">queued</span>}
        <span className="muted">{phase ?? (job?.status === 'queued' ? 'Waiting for a worker slot' : 'Building the model')}</span>
        <Link to={`/jobs/${jobId}`} className="right small">open the job</Link>
      </div>
      <ProgressBar value={job?.status === 'completed' ? 1 : (job?.progress ?? 0)} label="Demo model build" indeterminate={!job?.progress && job?.status !== 'completed'} />
      {lines.length > 0 && (
        <div className="logtail" style={{ maxHeight: 90, borderRadius: 'var(--radius-sm)' }} data-testid="demo-build-log">
          {lines.map((l) => (
            <div key={l.seq} className={`ln ${l.level}`}>{l.message}</div>
          ))}
        </div>
      )}
    </div>
  )
}

/** A tiny model of a real architecture, built on the server in seconds with no download: the
 * quickest way to try the whole workflow, on any CPU. `onBuilt` gets the registered model. */
export function DemoModelBuild({ onBuilt, selects = true }: { onBuilt: (m: Model) => Promise<void> | void; selects?: boolean }) {
  const toasts = useToasts()
  const { upsert } = useJobs()
  const [arch, setArch] = useState<'qwen2' | 'llama'>('qwen2')
  const [jobId, setJobId] = useState<string | null>(() => sessionStorage.getItem(KEY))
  const [busy, setBusy] = useState(false)
  const [problem, setProblem] = useState<Problem | null>(null)
  const follow = (id: string | null) => {
    setJobId(id)
    if (id) sessionStorage.setItem(KEY, id)
    else sessionStorage.removeItem(KEY)
  }
  const finish = async (m: Model) => {
    await onBuilt(m)
    toasts.show(selects ? `${m.name} is ready and selected` : `${m.name} is ready`, 'ok')
  }
  const build = async () => {
    setBusy(true)
    setProblem(null)
    try {
      const res = await unwrap(api.POST('/api/models/demo', { body: { arch } }))
      if (res.model) {
        follow(null)
        await finish(res.model)
      } else if (res.job) {
        upsert(res.job)
        follow(res.job.id)
      }
    } catch (err) {
      setProblem(problemOf(err))
    } finally {
      setBusy(false)
    }
  }
  const onModel = async (modelId: string) => {
    follow(null)
    try {
      await finish(await unwrap(api.GET('/api/models/{model_id}', { params: { path: { model_id: modelId } } })))
    } catch (err) {
      setProblem(problemOf(err))
    }
  }
  const onFailed = (p: Problem) => {
    follow(null)
    setProblem(p)
  }
  const building = busy || jobId !== null
  return (
    <div className="stack-sm" role="group" aria-labelledby="demo-h">
      <h3 id="demo-h">Tiny demo model</h3>
      <p className="muted small">
        Built here in a few seconds, no download: a small random copy of a real architecture with its own tokenizer and chat
        template. It learns little, but it runs the whole workflow on any CPU.
      </p>
      <div className="row">
        <label className="small" htmlFor="demo-arch">Architecture</label>
        <select id="demo-arch" style={{ width: 160 }} value={arch} onChange={(e) => setArch(e.target.value as 'qwen2' | 'llama')} disabled={building}>
          <option value="qwen2">Qwen2</option>
          <option value="llama">Llama</option>
        </select>
        <button className="btn" type="button" onClick={build} disabled={building}>
          {building ? 'Building…' : 'Build demo model'}
        </button>
      </div>
      {jobId && <BuildProgress key={jobId} jobId={jobId} onModel={onModel} onFailed={onFailed} />}
      {problem && (
        <p className="small" role="alert" style={{ color: 'var(--bad)' }} data-testid="demo-build-error">
          {problem.detail}
          {problem.fix ? ` ${problem.fix}` : ''}
        </p>
      )}
    </div>
  )
}
