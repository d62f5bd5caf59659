import { Link, useNavigate } from 'react-router'
import { apiHref } from '../../api/client'
import type { Adapter } from '../../api/types'
import { fmtNumber } from '../../lib/format'

export const SOURCE_LABELS: Record<string, string> = {
  training: 'training run',
  checkpoint: 'checkpoint',
  external: 'registered folder',
}

export function SourceBadge({ source }: { source: string }) {
  const tone = source === 'training' ? 'ok' : source === 'checkpoint' ? 'info' : 'idle'
  return <span className={`badge plain ${tone}`}>{SOURCE_LABELS[source] ?? source}</span>
}

/** The metric that says most about an adapter: eval loss when there was eval data, else train loss. */
export function keyMetric(a: Adapter): { name: string; value: number } | null {
  const m = (a.metrics ?? {}) as Record<string, unknown>
  for (const k of ['eval_loss', 'train_loss', 'loss']) {
    if (typeof m[k] === 'number') return { name: k.replace('_', ' '), value: m[k] as number }
  }
  return null
}

export function KeyMetric({ adapter, bare = false }: { adapter: Adapter; bare?: boolean }) {
  const km = keyMetric(adapter)
  if (!km) return <span className="muted">—</span>
  if (bare) return <span title={km.name}>{fmtNumber(km.value, 4)}</span>
  return <span title={km.name}>{fmtNumber(km.value, 4)} <span className="muted small">{km.name}</span></span>
}

/** A plain link, so the browser saves the zip itself (the name comes from Content-Disposition). */
export function DownloadLink({ adapter, className = 'btn sm' }: { adapter: Adapter; className?: string }) {
  return (
    <a className={className} href={apiHref(`/api/adapters/${adapter.id}/download`)} download aria-label={`Download ${adapter.name}`}>
      Download
    </a>
  )
}

/** Opens the New run wizard with this adapter as the model: the run continues training it. */
export function UseInRunButton({ adapter, className = 'btn sm' }: { adapter: Adapter; className?: string }) {
  const navigate = useNavigate()
  return (
    <button type="button" className={className} onClick={() => navigate(`/new?model=${encodeURIComponent(`adapter:${adapter.id}`)}`)} title={`Continue training ${adapter.name} in a new run`}>
      Use in a new run
    </button>
  )
}

/** The playground with this adapter beside its base, the same message to both. */
export function TryInPlaygroundLink({ adapter, className = 'btn sm', label = 'Try in playground' }: { adapter: Pick<Adapter, 'id' | 'name'>; className?: string; label?: string }) {
  return (
    <Link className={className} to={`/playground?model=${encodeURIComponent(`adapter:${adapter.id}`)}&compare=1`} title={`Chat with ${adapter.name} side by side with its base`}>
      {label}
    </Link>
  )
}

/** The evaluation form, prefilled with this adapter. */
export function EvaluateLink({ adapter, className = 'btn sm' }: { adapter: Pick<Adapter, 'id' | 'name'>; className?: string }) {
  return (
    <Link className={className} to={`/evaluations?adapter=${encodeURIComponent(`adapter:${adapter.id}`)}`} title={`Compare ${adapter.name} with its base on held-out prompts`}>
      Evaluate
    </Link>
  )
}
