import { useEffect, useMemo, useState } from 'react'
import { Link, useNavigate, useParams } from 'react-router'
import YAML from 'yaml'
import { api, unwrap } from '../../api/client'
import { PHASES, type Connection } from '../../api/events'
import type { Adapter, Checkpoint, Job } from '../../api/types'
import { ErrorState, ProgressBar, Skeleton, SkeletonRows } from '../../components/States'
import { StatusBadge } from '../../components/StatusBadge'
import { useToasts } from '../../components/Toasts'
import { fmtBytes, fmtDuration, fmtInt, fmtNumber, fmtParams, fmtWhen, runLabel } from '../../lib/format'
import { useResource, type Resource } from '../../lib/useResource'
import { useJobs } from '../../state/jobs'
import { AdapterFiles } from '../adapters/AdapterFiles'
import { DownloadLink, EvaluateLink, KeyMetric, TryInPlaygroundLink, UseInRunButton } from '../adapters/common'
import { LogTail } from './LogTail'
import { RunCharts } from './RunCharts'
import { useRunStream, type RunState } from './useRunStream'
import { ExportLink } from '../exports/ExportLink'

const PHASE_LABELS: Record<string, string> = {
  loading_model: 'Loading the model',
  preparing_data: 'Preparing data',
  tokenizing: 'Tokenizing',
  first_step: 'First step',
  training: 'Training',
  saving: 'Saving the adapter',
}
const RESUMABLE = new Set(['stopped', 'interrupted', 'failed'])
const ACTIVE = new Set(['queued', 'running'])

function ConnectionChip({ connection, status }: { connection: Connection; status: string }) {
  if (!ACTIVE.has(status)) return null
  if (connection === 'live') return <span className="badge ok" data-testid="connection">live</span>
  if (connection === 'reconnecting') return <span className="badge warn live" data-testid="connection">reconnecting…</span>
  if (connection === 'connecting') return <span className="badge idle live" data-testid="connection">connecting…</span>
  return null
}

function Phases({ run }: { run: RunState }) {
  const job = run.job as Job
  const training = (job.step ?? 0) > 0 || run.series.step.length > 0
  const finished = job.status === 'completed'
  // Start-up phases in the order the run went through them, then those not reached yet.
  const seenOrder = Object.keys(run.phases).filter((p) => p !== 'saving' && p !== 'training')
  const items = [...seenOrder, ...PHASES.filter((p) => p !== 'saving' && !seenOrder.includes(p)), 'training', 'saving']
  return (
    <div className="phases" aria-label="Phases" data-testid="phases">
      {items.map((name) => {
        const seen = run.phases[name]
        let cls = ''
        if (name === 'training') cls = finished || run.phases.saving ? 'done' : training && job.status === 'running' ? 'now' : training ? 'done' : ''
        else if (seen) cls = seen.done ? 'done' : job.status === 'running' ? 'now' : job.status === 'failed' ? 'failed' : ''
        else if (name !== 'saving' && (training || finished)) cls = 'done'
        else if (name === 'saving' && finished) cls = 'done'
        const counted = seen && seen.total ? ` ${fmtInt(seen.current)}/${fmtInt(seen.total)}` : ''
        return (
          <span key={name} className={`ph ${cls}`} title={seen?.message}>
            <span className="dot" />
            {PHASE_LABELS[name] ?? name}
            {cls === 'now' && counted}
          </span>
        )
      })}
    </div>
  )
}

function ProgressCard({ run }: { run: RunState }) {
  const job = run.job as Job
  const last = run.last
  const metrics = (job.metrics ?? {}) as Record<string, number | null>
  const step = job.step ?? 0
  const total = job.total_steps ?? last?.total_steps ?? null
  const progress = job.status === 'completed' ? 1 : (job.progress ?? (total ? step / total : 0))
  const latest = (k: 'loss' | 'lr' | 'grad' | 'tps') => {
    const arr = run.series[k]
    for (let i = arr.length - 1; i >= 0; i--) if (arr[i] !== null) return arr[i]
    return metrics[{ loss: 'loss', lr: 'learning_rate', grad: 'grad_norm', tps: 'tokens_per_second' }[k]] ?? null
  }
  const epoch = last?.epoch ?? metrics.epoch ?? null
  const elapsed = last?.elapsed_seconds ?? metrics.elapsed_seconds ?? null
  let eta: string = '—'
  if (job.status === 'running') {
    if (last?.eta_low_seconds != null && last?.eta_high_seconds != null) eta = `${fmtDuration(last.eta_low_seconds)} – ${fmtDuration(last.eta_high_seconds)}`
    else if (job.eta_seconds != null) eta = `≈ ${fmtDuration(job.eta_seconds)}`
    else eta = 'after a few steps'
  }
  const tone = job.status === 'completed' ? 'ok' : job.status === 'failed' ? 'bad' : undefined
  const currentPhase = run.phase && job.status === 'running' ? run.phase : null
  return (
    <section className="card" aria-label="Progress">
      <div className="card-body stack-sm">
        <div className="row">
          <strong data-testid="step-counter">
            Step {fmtInt(step)}
            {total ? ` / ${fmtInt(total)}` : ''}
          </strong>
          <span className="muted">{Math.floor(progress * 100)}%</span>
          {epoch !== null && <span className="muted">epoch {fmtNumber(epoch, 3)}</span>}
          <span className="right muted small" title={last?.eta_basis ?? 'ETA from a moving average of recent step times'}>
            ETA {eta}
          </span>
        </div>
        <ProgressBar value={progress} tone={tone} label="Training progress" indeterminate={job.status === 'running' && !step && !currentPhase?.total} />
        {currentPhase && (
          <div className="small muted" data-testid="current-phase">
            {currentPhase.message}
            {currentPhase.total ? ` (${fmtInt(currentPhase.current)} of ${fmtInt(currentPhase.total)})` : ''}
          </div>
        )}
        <Phases run={run} />
        <div className="stat-row" style={{ marginTop: 6 }}>
          <div className="stat"><div className="k">Loss</div><div className="v" data-testid="loss-value">{fmtNumber(latest('loss'), 4)}</div></div>
          <div className="stat"><div className="k">Learning rate</div><div className="v sm">{fmtNumber(latest('lr'))}</div></div>
          <div className="stat"><div className="k">Grad norm</div><div className="v sm">{fmtNumber(latest('grad'))}</div></div>
          <div className="stat"><div className="k">Tokens/s</div><div className="v sm">{fmtInt(latest('tps'))}</div></div>
          <div className="stat"><div className="k">Elapsed</div><div className="v sm">{fmtDuration(elapsed)}</div></div>
          {run.started && (
            <div className="stat">
              <div className="k">Trainable</div>
              <div className="v sm" title={`${fmtInt(run.started.trainable_params)} of ${fmtInt(run.started.total_params)}`}>{fmtParams(run.started.trainable_params)} ({((run.started.trainable_params / run.started.total_params) * 100).toFixed(2)}%)</div>
            </div>
          )}
        </div>
      </div>
    </section>
  )
}

function FailedCard({ job, logs, failure }: { job: Job; logs: RunState['logs']; failure: RunState['failure'] }) {
  const errors = logs.filter((l) => l.level === 'error').slice(-1)
  return (
    <section className="card" aria-label="Why the run failed" style={{ borderColor: '#f3c1bc' }}>
      <div className="card-head" style={{ background: 'var(--bad-bg)' }}>
        <h2 style={{ color: 'var(--bad)' }}>The run failed</h2>
        <span className="right mono small">exit code {job.exit_code ?? '—'}</span>
      </div>
      <div className="card-body stack-sm">
        <p data-testid="failure-reason"><strong>{job.reason ?? failure?.reason ?? 'No reason was recorded.'}</strong></p>
        {failure?.fix && (
          <div className="notice info">
            <div><strong>Likely fix:</strong> {failure.fix}</div>
          </div>
        )}
        {failure?.code && <p className="small muted mono">error code {failure.code}</p>}
        {errors.length > 0 && <pre className="yaml" style={{ maxHeight: 200 }}>{errors[0].message}</pre>}
        <p className="small muted">Fix the cause, then Resume: the run continues from its last complete checkpoint (or starts over when it has none).</p>
      </div>
    </section>
  )
}

function RunCard({ jobId, status }: { jobId: string; status: string }) {
  const card = useResource(() => unwrap(api.GET('/api/jobs/{job_id}/run-card', { params: { path: { job_id: jobId } } })), [jobId, status])
  if (card.loading) return <SkeletonRows rows={3} />
  if (card.error) return <p className="muted small">{card.error.code === 'run_card_not_found' ? 'The run card is written when the run ends.' : card.error.detail}</p>
  const c = (card.data ?? {}) as Record<string, unknown>
  const metrics = (c.metrics ?? {}) as Record<string, number>
  const data = (c.data ?? {}) as Record<string, unknown>
  const timings = (c.timings ?? {}) as Record<string, number>
  return (
    <div className="grid-2" data-testid="run-card">
      <div className="stack-sm">
        <h3>{c.status === 'completed' ? 'Final metrics' : 'Metrics when it stopped'}</h3>
        <dl className="kv">
          {Object.entries(metrics).map(([k, v]) => (
            <div key={k} style={{ display: 'contents' }}>
              <dt>{k}</dt>
              <dd>{fmtNumber(v, 4)}</dd>
            </div>
          ))}
        </dl>
      </div>
      <div className="stack-sm">
        <h3>Run card</h3>
        <dl className="kv">
          <dt>Status</dt><dd>{String(c.status)} at step {String(c.step)} of {String(c.total_steps)}</dd>
          <dt>Base model</dt><dd className="mono small">{String(c.base_model)}</dd>
          <dt>Adapter</dt><dd className="mono small">{String(c.adapter_path ?? '—')}</dd>
          <dt>Training examples</dt><dd>{fmtInt(data.train_examples as number)}</dd>
          <dt>Device</dt><dd>{String(c.device)}{c.torch_threads ? `, ${c.torch_threads} thread${Number(c.torch_threads) === 1 ? '' : 's'}` : ''}</dd>
          <dt>Time</dt><dd>{fmtDuration(timings.total)} (training {fmtDuration(timings.train)})</dd>
          {c.resumed_from != null && (<><dt>Resumed from</dt><dd>step {String(c.resumed_from)}</dd></>)}
        </dl>
      </div>
    </div>
  )
}

function Checkpoints({ list, jobId, adapters, onPromoted }: { list: Resource<Checkpoint[]>; jobId: string; adapters: Adapter[]; onPromoted: (a: Adapter) => void }) {
  const toasts = useToasts()
  const [promoting, setPromoting] = useState<number | null>(null)
  const promoted = new Map(adapters.filter((a) => a.source === 'checkpoint' && a.step != null).map((a) => [a.step as number, a]))
  const promote = async (step: number) => {
    setPromoting(step)
    try {
      const a = await unwrap(api.POST('/api/adapters/promote', { body: { job_id: jobId, step } }))
      onPromoted(a)
      toasts.show(`Checkpoint ${step} is now the adapter “${a.name}”`, 'ok')
    } catch (err) {
      toasts.error(err)
    } finally {
      setPromoting(null)
    }
  }
  return (
    <section className="card" aria-label="Checkpoints">
      <div className="card-head">
        <h3>Checkpoints</h3>
        <span className="right muted small">complete ones can be resumed from or promoted to an adapter</span>
      </div>
      {list.loading && <div className="card-body"><SkeletonRows rows={2} /></div>}
      {list.error && <div className="card-body"><ErrorState problem={list.error} onRetry={list.reload} /></div>}
      {list.data && list.data.length === 0 && <div className="card-body muted small">None yet. One is saved every “save steps” and when you stop the run.</div>}
      {list.data && list.data.length > 0 && (
        <table className="table" data-testid="checkpoints">
          <thead><tr><th>Step</th><th>Folder</th><th>State</th><th>Saved</th><th><span className="sr-only">Actions</span></th></tr></thead>
          <tbody>
            {list.data.map((c) => {
              const adapter = promoted.get(c.step)
              return (
                <tr key={c.path_name} data-step={c.step}>
                  <td className="num" style={{ textAlign: 'left' }}>{c.step}</td>
                  <td className="mono small">{c.path_name}</td>
                  <td>{c.complete ? <span className="badge ok">complete</span> : <span className="badge warn">incomplete</span>}</td>
                  <td className="small muted">{fmtWhen(String(c.created_at))}</td>
                  <td style={{ textAlign: 'right' }}>
                    {adapter ? (
                      <Link to={`/adapters/${adapter.id}`} className="small">adapter “{adapter.name}”</Link>
                    ) : (
                      c.complete && (
                        <button type="button" className="btn sm" onClick={() => promote(c.step)} disabled={promoting !== null} title="Keep this checkpoint as an adapter of its own">
                          {promoting === c.step ? 'Promoting…' : 'Promote to adapter'}
                        </button>
                      )
                    )}
                  </td>
                </tr>
              )
            })}
          </tbody>
        </table>
      )}
    </section>
  )
}

function AdapterCard({ adapterId, adapters }: { adapterId: string | null; adapters: Resource<Adapter[]> }) {
  const adapter = adapters.data?.find((a) => a.id === adapterId)
  return (
    <section className="card" aria-label="Adapter" data-testid="adapter-card">
      <div className="card-head">
        <h2>Adapter</h2>
        <Link to="/adapters" className="right small">All adapters</Link>
      </div>
      {adapters.loading && <div className="card-body"><SkeletonRows rows={2} /></div>}
      {adapters.error && <div className="card-body"><ErrorState problem={adapters.error} onRetry={adapters.reload} /></div>}
      {adapters.data && !adapter && (
        <div className="card-body muted small">{adapterId ? 'The adapter of this run was deleted.' : 'This run did not register an adapter.'}</div>
      )}
      {adapter && (
        <>
          <div className="card-body">
            <div className="row" style={{ alignItems: 'flex-start' }}>
              <div className="stack-sm" style={{ gap: 4, minWidth: 0 }}>
                <Link to={`/adapters/${adapter.id}`} data-testid="adapter-name"><strong>{adapter.name}</strong></Link>
                <span className="small muted mono">adapter:{adapter.id}</span>
                <span className="small">
                  {fmtBytes(adapter.size_bytes)} · {adapter.files.length} file{adapter.files.length === 1 ? '' : 's'} · <KeyMetric adapter={adapter} />
                </span>
              </div>
              <div className="row right" style={{ gap: 6 }}>
                <DownloadLink adapter={adapter} className="btn primary" />
                <UseInRunButton adapter={adapter} className="btn" />
              </div>
            </div>
          </div>
          <AdapterFiles adapter={adapter} />
        </>
      )}
    </section>
  )
}

export function RunPage() {
  const { id = '' } = useParams()
  const { state: run, refreshJob, restartStream, setJob } = useRunStream(id)
  const { upsert, reload: reloadJobs } = useJobs()
  const toasts = useToasts()
  const navigate = useNavigate()
  const [busy, setBusy] = useState<string | null>(null)
  const [confirmStop, setConfirmStop] = useState(false)
  const ckpt = useResource(() => unwrap(api.GET('/api/jobs/{job_id}/checkpoints', { params: { path: { job_id: id } } })), [id, run.checkpointSeq, run.job?.status])
  const adapters = useResource(async () => (await unwrap(api.GET('/api/adapters'))).filter((a) => a.job_id === id), [id, run.job?.status])
  const checkpointSteps = useMemo(() => (ckpt.data ?? []).filter((c) => c.complete).map((c) => c.step), [ckpt.data])

  const job = run.job
  useEffect(() => {
    if (job) upsert(job)
  }, [job?.status]) // eslint-disable-line react-hooks/exhaustive-deps

  if (run.error && !job) {
    return (
      <div className="page">
        <ErrorState problem={run.error} title={run.error.status === 404 ? 'No such run' : undefined} />
        <p style={{ marginTop: 12 }}><Link to="/">Back to the runs</Link></p>
      </div>
    )
  }
  if (!job) {
    return (
      <div className="page stack">
        <Skeleton height={28} width={320} />
        <Skeleton height={130} />
        <Skeleton height={280} />
      </div>
    )
  }

  const act = async (kind: 'cancel' | 'resume' | 'delete') => {
    setBusy(kind)
    try {
      const path = { job_id: id }
      if (kind === 'delete') {
        if (!window.confirm('Delete this run with its checkpoints and adapter?')) return
        await unwrap(api.DELETE('/api/jobs/{job_id}', { params: { path } }))
        await reloadJobs()
        navigate('/')
        return
      }
      const updated = await unwrap(kind === 'cancel' ? api.POST('/api/jobs/{job_id}/cancel', { params: { path } }) : api.POST('/api/jobs/{job_id}/resume', { params: { path } }))
      setJob(updated)
      upsert(updated)
      if (kind === 'resume') restartStream()
      toasts.show(kind === 'cancel' ? 'Stopping: saving a checkpoint first' : 'Resuming from the last checkpoint', 'ok')
    } catch (err) {
      toasts.error(err)
      void refreshJob()
    } finally {
      setBusy(null)
      setConfirmStop(false)
    }
  }

  const cfg = job.config as { model?: { name_or_path?: string }; data?: Record<string, unknown>; train?: Record<string, unknown> }
  const evalConfigured = Boolean(Number(cfg.data?.eval_fraction ?? 0) > 0 || cfg.data?.eval_split)
  const stopping = job.cancel_requested && job.status === 'running'
  const resultAdapter = typeof job.result?.adapter_id === 'string' ? job.result.adapter_id : null
  return (
    <div className="page stack">
      <div className="page-head" style={{ marginBottom: 0 }}>
        <div style={{ minWidth: 0 }}>
          <div className="row" style={{ gap: 10 }}>
            <h1 style={{ overflow: 'hidden', textOverflow: 'ellipsis', whiteSpace: 'nowrap' }}>{runLabel(job)}</h1>
            <span data-testid="run-status"><StatusBadge status={job.status} progress={job.progress} /></span>
            <ConnectionChip connection={run.connection} status={job.status} />
          </div>
          <p className="sub mono small">
            {cfg.model?.name_or_path} · created {fmtWhen(job.created_at)} · id {id.slice(0, 8)}
            {job.attempts > 1 ? ` · attempt ${job.attempts}` : ''}
            {job.devices && <span data-testid="run-devices"> · on GPU {job.devices}</span>}
            {job.adapter_id && <> · continues <Link to={`/adapters/${job.adapter_id}`}>adapter {job.adapter_id.slice(0, 8)}</Link></>}
          </p>
        </div>
        <div className="actions">
          {ACTIVE.has(job.status) &&
            (confirmStop ? (
              <div className="row" style={{ gap: 6 }}>
                <button type="button" className="btn danger" onClick={() => act('cancel')} disabled={busy !== null}>
                  Stop and keep a checkpoint
                </button>
                <button type="button" className="btn ghost" onClick={() => setConfirmStop(false)}>
                  Keep training
                </button>
              </div>
            ) : (
              <button type="button" className="btn danger" onClick={() => setConfirmStop(true)} disabled={stopping || busy !== null}>
                {stopping ? 'Stopping…' : 'Stop'}
              </button>
            ))}
          {RESUMABLE.has(job.status) && (
            <button type="button" className="btn primary" onClick={() => act('resume')} disabled={busy !== null}>
              {busy === 'resume' ? 'Resuming…' : 'Resume'}
            </button>
          )}
          {job.status === 'completed' && resultAdapter && (
            <div className="row" style={{ gap: 6 }} data-testid="run-next-steps">
              <TryInPlaygroundLink adapter={{ id: resultAdapter, name: runLabel(job) }} className="btn primary" label="Playground" />
              <EvaluateLink adapter={{ id: resultAdapter, name: runLabel(job) }} className="btn" />
              <ExportLink adapter={{ id: resultAdapter, name: runLabel(job) }} className="btn" />
            </div>
          )}
          {!ACTIVE.has(job.status) && (
            <button type="button" className="btn ghost" onClick={() => act('delete')} disabled={busy !== null}>
              Delete
            </button>
          )}
        </div>
      </div>

      {job.status === 'failed' && <FailedCard job={job} logs={run.logs} failure={run.failure} />}
      {job.status === 'interrupted' && (
        <div className="notice warn">
          <div><strong>Interrupted.</strong> {job.reason ?? 'The worker stopped sending heartbeats.'} Resume continues from the last complete checkpoint.</div>
        </div>
      )}
      {job.status === 'stopped' && (
        <div className="notice info">
          <div><strong>Stopped.</strong> {job.reason ?? ''} {checkpointSteps.length ? `Resume continues from step ${Math.max(...checkpointSteps)}.` : 'No checkpoint was saved, so Resume starts over.'}</div>
        </div>
      )}
      {job.status === 'queued' && (
        <div className="notice info"><div><strong>Queued.</strong> It starts as soon as a worker slot is free; the page updates by itself.</div></div>
      )}

      <ProgressCard run={run} />
      {run.series.step.length === 0 && !ACTIVE.has(job.status) ? (
        <section className="card" aria-label="Charts">
          <div className="card-body muted">No training step was logged before the run ended, so there is nothing to chart.</div>
        </section>
      ) : (
        <RunCharts run={run} checkpointSteps={checkpointSteps} evalConfigured={evalConfigured} evalEvery={(cfg.train?.eval_steps as number | null) ?? null} />
      )}

      {job.status === 'completed' && <AdapterCard adapterId={resultAdapter} adapters={adapters} />}

      {(job.status === 'completed' || job.status === 'stopped') && (
        <section className="card" aria-label="Results">
          <div className="card-head"><h2>Results</h2></div>
          <div className="card-body"><RunCard jobId={id} status={job.status} /></div>
        </section>
      )}

      <div className="run-grid">
        <LogTail logs={run.logs} />
        <Checkpoints list={ckpt} jobId={id} adapters={adapters.data ?? []} onPromoted={(a) => adapters.setData((old) => [...(old ?? []), a])} />
      </div>

      <section className="card" aria-label="Saved config">
        <div className="card-head">
          <h2>Saved config</h2>
          <span className="right muted small">as the worker ran it (resolved paths), not the current form</span>
        </div>
        <div className="card-body">
          <pre className="yaml" data-testid="saved-config">{YAML.stringify(job.config)}</pre>
        </div>
      </section>
    </div>
  )
}

