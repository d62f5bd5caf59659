import type { JobStatus } from '../api/events'

const TONES: Record<string, string> = {
  queued: 'idle', running: 'info live', completed: 'ok', stopped: 'warn', failed: 'bad', interrupted: 'warn',
  ready: 'ok', invalid: 'bad', validating: 'info live',
}

export function StatusBadge({ status, progress }: { status: JobStatus | string; progress?: number | null }) {
  const text = status === 'running' && progress !== undefined && progress !== null ? `running ${Math.floor(progress * 100)}%` : status
  return (
    <span className={`badge ${TONES[status] ?? 'idle'}`} data-status={status}>
      {text}
    </span>
  )
}
