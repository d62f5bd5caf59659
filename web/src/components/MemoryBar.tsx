import type { Estimate } from '../api/types'
import { fmtGb } from '../lib/format'

const GB = 1024 ** 3

export const VERDICT: Record<string, { text: string; tone: string }> = {
  fits: { text: 'fits', tone: 'ok' },
  tight: { text: 'tight', tone: 'warn' },
  wont_fit: { text: "won't fit", tone: 'bad' },
}

export function VerdictBadge({ verdict }: { verdict: string }) {
  const v = VERDICT[verdict] ?? { text: verdict, tone: 'idle' }
  return (
    <span className={`badge ${v.tone}`} data-verdict={verdict}>
      {v.text}
    </span>
  )
}

/** The parts drawn in the bar, in GiB. Gradients of the adapter count with the optimizer state. */
export function estimateParts(e: Estimate) {
  const b = e.breakdown
  return [
    { key: 'weights', label: 'Weights', color: 'var(--c-weights)', gb: b.weights / GB },
    { key: 'adapter', label: 'Adapter', color: 'var(--c-adapter)', gb: b.lora_weights / GB },
    { key: 'optimizer', label: 'Optimizer + grads', color: 'var(--c-optimizer)', gb: (b.optimizer + b.gradients) / GB },
    { key: 'activations', label: 'Activations', color: 'var(--c-activations)', gb: b.activations / GB },
    { key: 'overhead', label: 'Runtime', color: 'var(--c-overhead)', gb: b.overhead / GB },
  ]
}

/** The memory a run needs, stacked by part, against what the device has free. */
export function MemoryBar({ estimate }: { estimate: Estimate }) {
  const parts = estimateParts(estimate)
  const device = estimate.device === 'cuda' ? 'free GPU memory' : 'available RAM'
  const scale = Math.max(estimate.total_gb, estimate.available_gb) || 1
  return (
    <div className="stack-sm" data-testid="memory-estimate">
      <div className="row" style={{ gap: 8 }}>
        <strong style={{ fontSize: 16 }}>{fmtGb(estimate.total_gb)}</strong>
        <span className="muted">
          needed of {fmtGb(estimate.available_gb)} {device}
        </span>
        <span className="right">
          <VerdictBadge verdict={estimate.verdict} />
        </span>
      </div>
      <div className="membar" role="img" aria-label={`Estimated memory ${fmtGb(estimate.total_gb)} of ${fmtGb(estimate.available_gb)}: ${VERDICT[estimate.verdict]?.text ?? estimate.verdict}`}>
        {parts.map((p) => (p.gb > 0 ? <span key={p.key} title={`${p.label}: ${fmtGb(p.gb)}`} style={{ width: `${(p.gb / scale) * 100}%`, background: p.color }} /> : null))}
        <div className="limit" style={{ left: `calc(${Math.min(100, (estimate.available_gb / scale) * 100)}% - 1px)` }} title={`Available: ${fmtGb(estimate.available_gb)}`} />
      </div>
      <div className="legend">
        {parts.map((p) => (
          <span key={p.key}>
            <i style={{ background: p.color }} />
            {p.label} {fmtGb(p.gb)}
          </span>
        ))}
      </div>
    </div>
  )
}
