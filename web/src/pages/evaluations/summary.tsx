// The pieces of an evaluation's summary that its page and the arena share.
import type { ArenaSummary, EvalResult, MetricSummary, Spread } from '../../api/types'
import { fmtInt, fmtNumber, fmtPct } from '../../lib/format'

export const METRIC_LABELS: Record<string, string> = {
  exact_match: 'Exact match',
  token_f1: 'Token F1',
  rouge_l: 'ROUGE-L',
  bleu: 'BLEU',
}
/** The mean of a metric summary (or the number itself). */
export function meanOf(v: MetricSummary | undefined): number | null {
  if (v === null || v === undefined) return null
  return typeof v === 'number' ? v : (v.mean ?? null)
}

function MeanSpread({ v, strong }: { v: MetricSummary | undefined; strong?: boolean }) {
  const mean = fmtNumber(meanOf(v), 3)
  const std = v && typeof v === 'object' && v.std != null ? v.std : null
  return (
    <span className="nowrap" title={std != null ? 'mean ± standard deviation over samples' : undefined}>
      {strong ? <strong>{mean}</strong> : mean}
      {std != null && <span className="muted small"> ± {fmtNumber(std, 2)}</span>}
    </span>
  )
}

export const metricLabel = (k: string) => METRIC_LABELS[k] ?? k.replace(/_/g, ' ')

function signed(v: number | null | undefined, digits = 3): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '—'
  return `${v > 0 ? '+' : v < 0 ? '−' : '±'}${fmtNumber(Math.abs(v), digits)}`
}

export function Delta({ spread }: { spread?: Spread | null }) {
  if (!spread || spread.mean == null) return <span className="muted">—</span>
  const tone = spread.mean > 0 ? 'up' : spread.mean < 0 ? 'down' : ''
  return (
    <span className={`delta ${tone}`} title="mean of the per-sample differences (tuned − base) ± their standard deviation">
      {signed(spread.mean)} <span className="muted small">± {fmtNumber(spread.std, 2)}</span>
    </span>
  )
}

/** Base against tuned for every metric, with the per-sample delta and its spread. */
export function MetricTable({ result }: { result: EvalResult }) {
  const names = Array.from(new Set([...Object.keys(result.metrics?.tuned ?? {}), ...Object.keys(result.metrics?.base ?? {})]))
  if (!names.length) return <p className="muted small">No metrics were computed.</p>
  return (
    <table className="table" data-testid="metric-table">
      <thead><tr><th>Metric</th><th className="num">Base</th><th className="num">Tuned</th><th className="num">Delta (± spread)</th></tr></thead>
      <tbody>
        {names.map((k) => (
          <tr key={k} data-metric={k}>
            <td>{metricLabel(k)}</td>
            <td className="num"><MeanSpread v={result.metrics.base?.[k]} /></td>
            <td className="num"><MeanSpread v={result.metrics.tuned?.[k]} strong /></td>
            <td className="num"><Delta spread={result.deltas?.[k]} /></td>
          </tr>
        ))}
      </tbody>
    </table>
  )
}

const SPEED_LABELS: Record<string, [string, (v: number | null | undefined) => string]> = {
  latency_s: ['Mean latency', (v) => (v == null ? '—' : `${fmtNumber(v, 3)} s`)],
  mean_latency_s: ['Mean latency', (v) => (v == null ? '—' : `${fmtNumber(v, 3)} s`)],
  mean_ttft_s: ['Time to first token', (v) => (v == null ? '—' : `${fmtNumber(v, 3)} s`)],
  tokens_per_second: ['Tokens/s', (v) => fmtNumber(v, 3)],
  mean_completion_tokens: ['Mean answer length (tokens)', (v) => fmtNumber(v, 3)],
  length: ['Mean length', (v) => fmtNumber(v, 3)],
  mean_length: ['Mean length', (v) => fmtNumber(v, 3)],
}

export function SpeedTable({ result }: { result: EvalResult }) {
  const names = Array.from(new Set([...Object.keys(result.speed?.base ?? {}), ...Object.keys(result.speed?.tuned ?? {})]))
  const cost = result.cost_per_1k_requests
  return (
    <table className="table" data-testid="speed-table">
      <thead><tr><th></th><th className="num">Base</th><th className="num">Tuned</th></tr></thead>
      <tbody>
        {names.map((k) => {
          const [label, fmt] = SPEED_LABELS[k] ?? [k.replace(/_/g, ' '), (v: number | null | undefined) => fmtNumber(v, 3)]
          return (
            <tr key={k}><td>{label}</td><td className="num">{fmt(result.speed.base?.[k])}</td><td className="num">{fmt(result.speed.tuned?.[k])}</td></tr>
          )
        })}
        {cost && (
          <tr data-testid="cost-row">
            <td title="GPU time per request × the price per GPU hour, for 1,000 requests">Cost per 1,000 requests{result.price_per_gpu_hour != null && <span className="muted small"> at ${fmtNumber(result.price_per_gpu_hour, 3)}/GPU hour</span>}</td>
            <td className="num">{cost.base == null ? '—' : `$${fmtNumber(cost.base, 3)}`}</td>
            <td className="num">{cost.tuned == null ? '—' : `$${fmtNumber(cost.tuned, 3)}`}</td>
          </tr>
        )}
      </tbody>
    </table>
  )
}

export function JudgeResult({ judge }: { judge: EvalResult['judge'] }) {
  if (!judge) return <p className="muted small">No judge was configured. Add a judge endpoint when you start an evaluation to have a model compare every pair.</p>
  const total = judge.tuned_wins + judge.base_wins + judge.ties
  return (
    <div className="stack-sm" data-testid="judge-result">
      <div className="vote-bar" aria-hidden="true">
        <span className="tuned" style={{ flex: judge.tuned_wins || 0 }} />
        <span className="tie" style={{ flex: judge.ties || 0 }} />
        <span className="base" style={{ flex: judge.base_wins || 0 }} />
      </div>
      <dl className="kv">
        <dt>Tuned wins</dt><dd>{fmtInt(judge.tuned_wins)} of {fmtInt(total)}</dd>
        <dt>Base wins</dt><dd>{fmtInt(judge.base_wins)}</dd>
        <dt>Ties</dt><dd>{fmtInt(judge.ties)}</dd>
        {judge.order_consistent != null && <><dt title="how often the judge gave the same verdict with the answers swapped">Same verdict when swapped</dt><dd>{fmtPct(judge.order_consistent)}</dd></>}
      </dl>
    </div>
  )
}

/** The tuned model's win rate over the base from the votes, with its 95% interval drawn. */
export function WinRate({ summary }: { summary: ArenaSummary }) {
  const wr = summary.win_rate
  const v = summary.votes
  const total = (v.tuned ?? 0) + (v.base ?? 0) + (v.tie ?? 0) + (v.both_bad ?? 0)
  if (!wr || wr.value == null) {
    return <p className="muted small" data-testid="win-rate">No votes yet.</p>
  }
  const low = wr.low ?? wr.value
  const high = wr.high ?? wr.value
  return (
    <div className="stack-sm" data-testid="win-rate">
      <div className="row" style={{ alignItems: 'baseline' }}>
        <span className="big-number" data-testid="win-rate-value">{fmtPct(wr.value)}</span>
        <span className="muted">tuned wins over base, 95% interval {fmtPct(low)}–{fmtPct(high)}</span>
      </div>
      <div className="ci" role="img" aria-label={`win rate ${fmtPct(wr.value)}, 95% interval ${fmtPct(low)} to ${fmtPct(high)}`}>
        <span className="ci-half" />
        <span className="ci-range" style={{ left: `${low * 100}%`, width: `${Math.max(0.5, (high - low) * 100)}%` }} />
        <span className="ci-point" style={{ left: `${wr.value * 100}%` }} />
      </div>
      <div className="ci-axis small muted"><span>0%</span><span>50%: as good as the base</span><span>100%</span></div>
      <p className="small muted">{fmtInt(total)} vote{total === 1 ? '' : 's'}; a tie or “both bad” counts as half a win for each side.</p>
    </div>
  )
}

export function VoteCounts({ summary }: { summary: ArenaSummary }) {
  const v = summary.votes
  return (
    <dl className="vote-counts" data-testid="vote-counts">
      <div><dt>Tuned better</dt><dd data-testid="votes-tuned">{fmtInt(v.tuned ?? 0)}</dd></div>
      <div><dt>Base better</dt><dd data-testid="votes-base">{fmtInt(v.base ?? 0)}</dd></div>
      <div><dt>Tie</dt><dd data-testid="votes-tie">{fmtInt(v.tie ?? 0)}</dd></div>
      <div><dt>Both bad</dt><dd data-testid="votes-both-bad">{fmtInt(v.both_bad ?? 0)}</dd></div>
    </dl>
  )
}

export function DeltaList({ deltas }: { deltas: Record<string, Spread> | null | undefined }) {
  const entries = Object.entries(deltas ?? {})
  if (!entries.length) return null
  return (
    <dl className="kv">
      {entries.map(([k, s]) => (
        <span key={k} style={{ display: 'contents' }}><dt>{metricLabel(k)}</dt><dd><Delta spread={s} /></dd></span>
      ))}
    </dl>
  )
}
