// A run's whole history, then its live events, with no gap and no duplicate:
//   1. GET the job (its last_seq), then its metrics and log tail: everything up to last_seq;
//   2. stream /api/jobs/{id}/events from last_seq; on a drop, reconnect from the last seq seen.
// Step points are keyed by step (a resumed run redoes a few steps: the new values replace the
// old ones), log lines by seq. Fetching the job before the metrics is what makes it gap-free:
// anything newer than last_seq comes through the stream, anything older is in the metrics.
import { useCallback, useEffect, useReducer, useRef } from 'react'
import { api, unwrap } from '../../api/client'
import { openStream, type Connection, type FailedData, type JobEvent, type PhaseData, type StartedData, type StepData } from '../../api/events'
import { problemOf, type Problem } from '../../api/problem'
import type { Job } from '../../api/types'

export interface Series {
  step: number[]
  loss: (number | null)[]
  lr: (number | null)[]
  grad: (number | null)[]
  tps: (number | null)[]
  epoch: (number | null)[]
  /** The method's own metrics (GRPO rewards, DPO margins ...), each aligned to `step`. */
  extra: Record<string, (number | null)[]>
}

export interface LogEntry {
  seq: number
  level: string
  message: string
  time: string
}

export interface RunState {
  job?: Job
  error: Problem | null
  series: Series
  evals: { step: number; metrics: Record<string, number | null> }[]
  logs: LogEntry[]
  phases: Record<string, PhaseData & { done: boolean }>
  phase: PhaseData | null
  started: StartedData | null
  last: StepData | null
  /** The failed event of the last attempt: reason, error code and the likely fix. */
  failure: FailedData | null
  checkpointSeq: number
  lastSeq: number
  connection: Connection
  loaded: boolean
}

const emptySeries = (): Series => ({ step: [], loss: [], lr: [], grad: [], tps: [], epoch: [], extra: {} })
const MAX_LOGS = 1000
const FINAL = new Set(['completed', 'stopped', 'failed', 'interrupted'])

type Action =
  | { type: 'loaded'; job: Job; steps: StepPoint[]; evals: RunState['evals']; logs: LogEntry[]; replayFrom: number }
  | { type: 'job'; job: Job }
  | { type: 'events'; events: JobEvent[] }
  | { type: 'connection'; connection: Connection }
  | { type: 'error'; error: Problem }

interface StepPoint {
  step: number
  loss?: number | null
  learning_rate?: number | null
  grad_norm?: number | null
  tokens_per_second?: number | null
  epoch?: number | null
  metrics?: Record<string, number | null> | null
  stage?: string | null
}

function putStep(s: Series, p: StepPoint): Series {
  const n = s.step.length
  let i = n
  if (n && p.step <= s.step[n - 1]) {
    // Find the place (a resume redoes steps since its checkpoint): binary search.
    let lo = 0
    let hi = n
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if (s.step[mid] < p.step) lo = mid + 1
      else hi = mid
    }
    i = lo
  }
  const replace = i < n && s.step[i] === p.step
  const put = <T,>(arr: T[], v: T) => {
    if (replace) arr[i] = v
    else if (i === arr.length) arr.push(v)
    else arr.splice(i, 0, v)
  }
  const metrics = p.metrics ?? {}
  for (const key of Object.keys(metrics)) {
    if (!(key in s.extra)) s.extra[key] = new Array<number | null>(n).fill(null)
  }
  for (const [key, values] of Object.entries(s.extra)) put(values, metrics[key] ?? null)
  put(s.step, p.step)
  put(s.loss, p.loss ?? null)
  put(s.lr, p.learning_rate ?? null)
  put(s.grad, p.grad_norm ?? null)
  put(s.tps, p.tokens_per_second ?? null)
  put(s.epoch, p.epoch ?? null)
  return s
}

/** New array objects (same contents) so charts see a change, without copying point by point. */
function touched(s: Series): Series {
  const extra = Object.fromEntries(Object.entries(s.extra).map(([k, v]) => [k, v.slice()]))
  return { step: s.step.slice(), loss: s.loss.slice(), lr: s.lr.slice(), grad: s.grad.slice(), tps: s.tps.slice(), epoch: s.epoch.slice(), extra }
}

function reducer(state: RunState, action: Action): RunState {
  switch (action.type) {
    case 'loaded': {
      let series = emptySeries()
      for (const p of action.steps) series = putStep(series, p)
      // Events that arrived while the history loaded are already in; keep the newer ones.
      for (let i = 0; i < state.series.step.length; i++) {
        const metrics = Object.fromEntries(Object.entries(state.series.extra).map(([k, v]) => [k, v[i]]))
        putStep(series, { step: state.series.step[i], loss: state.series.loss[i], learning_rate: state.series.lr[i], grad_norm: state.series.grad[i], tokens_per_second: state.series.tps[i], epoch: state.series.epoch[i], metrics })
      }
      const logs = mergeLogs(action.logs, state.logs)
      const evals = mergeEvals(action.evals, state.evals)
      // The stream starts at replayFrom: events after it are applied again (idempotently).
      const lastSeq = Math.max(state.lastSeq, action.replayFrom)
      return { ...state, job: action.job, series, logs, evals, loaded: true, lastSeq, error: null }
    }
    case 'job':
      return { ...state, job: action.job }
    case 'connection':
      return { ...state, connection: action.connection }
    case 'error':
      return { ...state, error: action.error }
    case 'events': {
      let { series, logs, evals, phases, phase, started, last, checkpointSeq, job, failure } = state
      let lastSeq = state.lastSeq
      let seriesChanged = false
      const newLogs: LogEntry[] = []
      for (const ev of action.events) {
        if (ev.seq <= lastSeq) continue // already seen (exactly-once even across reconnects)
        lastSeq = ev.seq
        switch (ev.type) {
          case 'step':
            // A GRPO run's SFT warm-up counts its own steps; the charts show the method's run.
            if (ev.data.stage === 'warmup') break
            if (!seriesChanged) {
              series = touched(series)
              seriesChanged = true
            }
            putStep(series, ev.data)
            last = ev.data
            if (phase && phase.name !== 'saving') {
              // The first step is done: every start-up phase is over.
              phases = Object.fromEntries(Object.entries(phases).map(([k, v]) => [k, { ...v, done: k === 'saving' ? v.done : true }]))
              phase = null
            }
            if (job) job = { ...job, step: ev.data.step, total_steps: ev.data.total_steps, progress: Math.min(ev.data.step / ev.data.total_steps, 0.99), eta_seconds: ev.data.eta_seconds ?? null }
            break
          case 'eval':
            evals = mergeEvals(evals, [{ step: ev.data.step, metrics: ev.data.metrics }])
            break
          case 'log':
            newLogs.push({ seq: ev.seq, level: ev.data.level ?? 'info', message: ev.data.message, time: ev.time })
            break
          case 'phase': {
            const done = Object.fromEntries(Object.entries(phases).map(([k, v]) => [k, { ...v, done: k !== ev.data.name ? true : v.done }]))
            phases = { ...done, [ev.data.name]: { ...ev.data, done: false } }
            phase = ev.data
            break
          }
          case 'started':
            started = ev.data
            phases = Object.fromEntries(Object.entries(phases).map(([k, v]) => [k, { ...v, done: k === 'saving' ? v.done : true }]))
            phase = null
            if (job) job = { ...job, total_steps: ev.data.total_steps }
            break
          case 'checkpoint':
            checkpointSeq = ev.seq
            break
          case 'status':
            if (job) job = { ...job, status: ev.data.status, reason: ev.data.reason ?? job.reason, exit_code: ev.data.exit_code ?? job.exit_code }
            if (ev.data.status === 'queued' || ev.data.status === 'running') {
              if (ev.data.status === 'queued') {
                phases = {}
                phase = null
                failure = null
              }
            }
            break
          case 'finished':
            if (job) job = { ...job, progress: 1, step: ev.data.step }
            phases = Object.fromEntries(Object.entries(phases).map(([k, v]) => [k, { ...v, done: true }]))
            phase = null
            break
          case 'failed':
            failure = ev.data
            break
          case 'stopped':
            phase = null
            break
        }
      }
      if (newLogs.length) logs = mergeLogs(logs, newLogs)
      return { ...state, series, logs, evals, phases, phase, started, last, checkpointSeq, job, lastSeq, failure }
    }
  }
}

function mergeLogs(a: LogEntry[], b: LogEntry[]): LogEntry[] {
  const by = new Map<number, LogEntry>()
  for (const l of a) by.set(l.seq, l)
  for (const l of b) by.set(l.seq, l)
  return [...by.values()].sort((x, y) => x.seq - y.seq).slice(-MAX_LOGS)
}

function mergeEvals(a: RunState['evals'], b: RunState['evals']): RunState['evals'] {
  const by = new Map<number, RunState['evals'][number]>()
  for (const e of a) by.set(e.step, e)
  for (const e of b) by.set(e.step, e)
  return [...by.values()].sort((x, y) => x.step - y.step)
}

function evalFromRest(e: Record<string, unknown>): RunState['evals'][number] {
  const { step, ...metrics } = e
  return { step: Number(step), metrics: metrics as Record<string, number | null> }
}

export function useRunStream(jobId: string) {
  const [state, dispatch] = useReducer(reducer, undefined, (): RunState => ({
    error: null, series: emptySeries(), evals: [], logs: [], phases: {}, phase: null, started: null, last: null, failure: null,
    checkpointSeq: 0, lastSeq: 0, connection: 'connecting' as Connection, loaded: false,
  }))
  const lastSeq = useRef(0)
  lastSeq.current = state.lastSeq
  const [streamKey, bump] = useReducer((n: number) => n + 1, 0)

  const refreshJob = useCallback(async () => {
    try {
      dispatch({ type: 'job', job: await unwrap(api.GET('/api/jobs/{job_id}', { params: { path: { job_id: jobId } } })) })
    } catch (err) {
      dispatch({ type: 'error', error: problemOf(err) })
    }
  }, [jobId])

  // 1. History: the job first (its last_seq bounds what the rest covers), then metrics and logs.
  useEffect(() => {
    let live = true
    ;(async () => {
      try {
        const path = { job_id: jobId }
        const job = await unwrap(api.GET('/api/jobs/{job_id}', { params: { path } }))
        const [metrics, logs] = await Promise.all([
          unwrap(api.GET('/api/jobs/{job_id}/metrics', { params: { path } })),
          unwrap(api.GET('/api/jobs/{job_id}/logs', { params: { path, query: { tail: 300 } } })),
        ])
        if (!live) return
        // The stream replays what the REST history lacks: a run that never stepped replays all
        // of its few events (its named phases, or where it failed); an ended run replays its
        // last events (how it ended, the failure's code and fix); a running one starts at last_seq.
        const replayFrom = !job.step ? 0 : FINAL.has(job.status) ? Math.max(0, job.last_seq - 50) : job.last_seq
        dispatch({ type: 'loaded', replayFrom, job, steps: metrics.steps, evals: metrics.evals.map(evalFromRest), logs: logs.lines.map((l) => ({ ...l, time: String(l.time) })) })
      } catch (err) {
        if (live) dispatch({ type: 'error', error: problemOf(err) })
      }
    })()
    return () => {
      live = false
    }
  }, [jobId])

  // 2. Live events from the last seq seen; reopened after Resume (streamKey).
  const loaded = state.loaded
  useEffect(() => {
    if (!loaded) return
    let pending: JobEvent[] = []
    let frame = 0
    const flush = () => {
      frame = 0
      const batch = pending
      pending = []
      if (batch.length) dispatch({ type: 'events', events: batch })
    }
    const stream = openStream<JobEvent>({
      path: `/api/jobs/${jobId}/events`,
      params: () => ({ since: lastSeq.current }),
      onMessage: (ev) => {
        pending.push(ev)
        if (!frame) frame = requestAnimationFrame(flush)
      },
      onConnection: (c) => {
        dispatch({ type: 'connection', connection: c })
      },
      onEnd: () => {
        flush()
        void refreshJob()
      },
    })
    return () => {
      stream.close()
      if (frame) cancelAnimationFrame(frame)
    }
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [jobId, loaded, streamKey])

  // A job that just ended has fields no event carries (its result, final metrics): fetch it.
  const status = state.job?.status
  const seenStatus = useRef<string | undefined>(undefined)
  useEffect(() => {
    const before = seenStatus.current
    seenStatus.current = status
    if (before && status && before !== status && FINAL.has(status)) void refreshJob()
  }, [status, refreshJob])

  return { state, refreshJob, restartStream: bump, setJob: (job: Job) => dispatch({ type: 'job', job }) }
}
