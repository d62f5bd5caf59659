import type { InferenceResult } from '../../api/types'
import { fmtInt, fmtNumber } from '../../lib/format'

function secs(v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '—'
  return v < 1 ? `${Math.round(v * 1000)} ms` : `${fmtNumber(v, 3)} s`
}

/** Who answered, as the server says (never what the page asked for). */
export function AnsweredBy({ result }: { result: InferenceResult }) {
  return (
    <div className="answered-by" data-testid="answered-by" title={`asked for ${result.model}`}>
      <strong data-testid="answered-label">{result.label || result.base_model}</strong>
      <span className="mono" data-testid="answered-base">base {result.base_model}</span>
      <span className="mono" data-testid="answered-adapter">{result.adapter_id ? `adapter ${result.adapter_id.slice(0, 8)}` : 'no adapter'}</span>
      <span data-testid="answered-device">on {result.device}</span>
    </div>
  )
}

/** Latency, time to first token and speed of one answer. */
export function AnswerMetrics({ result, seed }: { result: InferenceResult; seed?: number | null }) {
  return (
    <dl className="answer-metrics" data-testid="answer-metrics">
      <div><dt>latency</dt><dd data-testid="m-latency">{secs(result.latency_s)}</dd></div>
      <div><dt>first token</dt><dd data-testid="m-ttft">{secs(result.ttft_s)}</dd></div>
      <div><dt>tokens/s</dt><dd data-testid="m-tps">{fmtNumber(result.tokens_per_second, 3)}</dd></div>
      <div><dt>tokens</dt><dd>{fmtInt(result.prompt_tokens)} in · {fmtInt(result.completion_tokens)} out</dd></div>
      <div><dt>ended</dt><dd title={result.finish_reason === 'length' ? 'reached max tokens' : 'the model ended its answer or hit a stop sequence'}>{result.finish_reason}</dd></div>
      {seed !== undefined && seed !== null && <div><dt>seed</dt><dd className="mono">{seed}</dd></div>}
    </dl>
  )
}

export { secs }
