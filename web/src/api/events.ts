// WebSocket messages are not in the OpenAPI schema, so they are typed here, once, from
// docs/dev/api-contract.md and the training recipe's events (loralab.training.reporter).
import { wsUrl } from './client'

export type JobStatus = 'queued' | 'running' | 'completed' | 'stopped' | 'failed' | 'interrupted'

// In the order the SFT recipe runs them (training/sft.py: data first, so bad data fails fast).
export const PHASES = ['preparing_data', 'loading_model', 'tokenizing', 'first_step', 'saving'] as const
export type PhaseName = (typeof PHASES)[number]

export interface StatusData { status: JobStatus; reason?: string | null; exit_code?: number | null; previous?: string | null }
export interface StartedData {
  method: string; total_steps: number; num_epochs: number; train_examples: number; eval_examples: number
  effective_batch_size: number; trainable_params: number; total_params: number; output_dir: string
  resumed_from?: number | null; device?: string; threads?: number | null
  /** 'warmup' for the SFT warm-up that runs before GRPO, 'train' for the method's own run. */
  stage?: 'train' | 'warmup'
}
export interface PhaseData { name: PhaseName; message: string; current?: number | null; total?: number | null }
export interface StepData {
  step: number; total_steps: number; epoch: number; loss?: number | null; learning_rate?: number | null
  grad_norm?: number | null; tokens_per_second?: number | null; elapsed_seconds?: number
  eta_seconds?: number | null; eta_low_seconds?: number | null; eta_high_seconds?: number | null; eta_basis?: string | null
  /** The method's own numbers by the trainer's names: reward, rewards/<fn>/mean, kl, rewards/margins ... */
  metrics?: Record<string, number | null>
  stage?: 'train' | 'warmup'
}
export interface EvalData { step: number; metrics: Record<string, number | null> }
export interface CheckpointData { step: number; path: string }
export interface LogData { message: string; level?: 'debug' | 'info' | 'warning' | 'error' }
export interface FinishedData { step: number; metrics: Record<string, number | null>; adapter_path: string; run_card_path: string; elapsed_seconds: number }
export interface StoppedData { step: number; checkpoint_path: string | null; reason?: string }
export interface FailedData { reason: string; code?: string | null; fix?: string | null; traceback?: string | null; exit_code?: number | null }

export interface EventDataByType {
  status: StatusData
  started: StartedData
  phase: PhaseData
  step: StepData
  eval: EvalData
  checkpoint: CheckpointData
  log: LogData
  finished: FinishedData
  stopped: StoppedData
  failed: FailedData
}
export type JobEventType = keyof EventDataByType

/** One message of `/api/jobs/{id}/events`. */
export type JobEvent = {
  [K in JobEventType]: { seq: number; type: K; data: EventDataByType[K]; time: string }
}[JobEventType]

/** One message of `/api/jobs/events` (the job list). */
export interface JobListEvent {
  job_id: string
  status: JobStatus
  progress?: number | null
  step?: number | null
  total_steps?: number | null
  name?: string | null
}

export type Connection = 'connecting' | 'live' | 'reconnecting' | 'closed'

interface StreamOptions<M> {
  path: string
  params?: () => Record<string, string | number>
  onMessage: (msg: M) => void
  onConnection?: (state: Connection) => void
  /** The server closed the stream for good (1000: the job ended; 4404: no such job). */
  onEnd?: (code: number) => void
}

/**
 * A WebSocket that reconnects with backoff until `close()` is called. `params()` is read on
 * every (re)connect, so a job stream can ask for `since=<last seq seen>` and miss nothing.
 */
export function openStream<M>({ path, params, onMessage, onConnection, onEnd }: StreamOptions<M>) {
  let ws: WebSocket | null = null
  let closed = false
  let attempt = 0
  let timer: number | undefined
  const connect = () => {
    if (closed) return
    onConnection?.(attempt === 0 ? 'connecting' : 'reconnecting')
    ws = new WebSocket(wsUrl(path, params?.() ?? {}))
    ws.onopen = () => {
      attempt = 0
      onConnection?.('live')
    }
    ws.onmessage = (ev) => {
      try {
        onMessage(JSON.parse(ev.data as string) as M)
      } catch {
        /* a message we cannot parse is skipped, never fatal */
      }
    }
    ws.onclose = (ev) => {
      ws = null
      if (closed) return
      // 1000: the server ended the stream on purpose (the job ended, every event sent);
      // 4404: no such job. Neither is worth a retry.
      if (ev.code === 1000 || ev.code === 4404) {
        onConnection?.('closed')
        onEnd?.(ev.code)
        return
      }
      attempt += 1
      onConnection?.('reconnecting')
      timer = window.setTimeout(connect, Math.min(500 * 2 ** (attempt - 1), 5000))
    }
  }
  connect()
  return {
    close() {
      closed = true
      window.clearTimeout(timer)
      ws?.close()
      onConnection?.('closed')
    },
    reconnectNow() {
      if (closed) return
      window.clearTimeout(timer)
      if (!ws) connect()
    },
  }
}
