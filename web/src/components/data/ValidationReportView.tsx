import { api, unwrap } from '../../api/client'
import type { ValidationReport } from '../../api/types'
import { fmtInt, fmtPct } from '../../lib/format'
import { useResource } from '../../lib/useResource'
import { Skeleton } from '../States'
import { Histogram, shareOver, type Bin } from './Histogram'

interface Props {
  report: ValidationReport
  /** The max_seq_length of the config being edited, when it differs from the report's. */
  limit?: number | null
  /** With a dataset and a model, token lengths of a sample are measured with its tokenizer. */
  datasetId?: string
  modelRef?: string | null
}

const SAMPLE_ROWS = 50

function niceWidth(raw: number): number {
  if (raw <= 1) return 1
  const p = 10 ** Math.floor(Math.log10(raw))
  for (const f of [1, 2, 5, 10]) if (f * p >= raw) return f * p
  return 10 * p
}

function binsOf(lengths: number[], upper: number): Bin[] {
  const top = Math.max(...lengths, upper) + 1
  const width = niceWidth(top / 20)
  const counts = new Array<number>(Math.ceil(top / width)).fill(0)
  for (const n of lengths) counts[Math.min(Math.floor(n / width), counts.length - 1)] += 1
  return counts.map((count, i) => ({ start: i * width, end: (i + 1) * width, count }))
}

/** Token lengths of the first rows, tokenized with the chosen model (the report counts characters). */
function useTokenSample(datasetId: string | undefined, modelRef: string | null | undefined, limit: number, enabled: boolean) {
  return useResource(async () => {
    if (!enabled || !datasetId || !modelRef) return null
    const res = await unwrap(api.GET('/api/datasets/{dataset_id}/preview', { params: { path: { dataset_id: datasetId }, query: { n: SAMPLE_ROWS, model: modelRef, max_seq_length: limit } } }))
    return res.samples.map((x) => x.num_tokens).filter((n): n is number => typeof n === 'number')
  }, [datasetId, modelRef, limit, enabled])
}

function TokenSample({ lengths, limit }: { lengths: number[]; limit: number }) {
  const over = lengths.filter((n) => n > limit).length
  const sorted = [...lengths].sort((a, b) => a - b)
  return (
    <div className="stack-sm" data-testid="token-lengths">
      <div className="row">
        <h3>Tokens per sample</h3>
        <span className="small muted">first {lengths.length} rows, with the model's tokenizer</span>
        <span className="right small muted">
          median {fmtInt(sorted[Math.floor(sorted.length / 2)])} · max {fmtInt(sorted[sorted.length - 1])} · {fmtPct(over / lengths.length, 0)} over the limit
        </span>
      </div>
      <Histogram bins={binsOf(lengths, limit)} limit={limit} unit="tokens" />
    </div>
  )
}

export function ValidationReportView({ report, limit, datasetId, modelRef }: Props) {
  const lengths = report.tokens ?? report.chars
  const unit = report.tokens ? 'tokens' : 'characters'
  const seq = limit ?? report.max_seq_length
  const sameLimit = seq === report.max_seq_length
  const sample = useTokenSample(datasetId, modelRef, seq, !report.tokens)
  const sampled = sample.data && sample.data.length ? sample.data : null
  const truncated = report.tokens
    ? sameLimit && report.truncated_share !== null && report.truncated_share !== undefined
      ? report.truncated_share
      : shareOver(report.tokens.histogram, seq)
    : sampled
      ? sampled.filter((n) => n > seq).length / sampled.length
      : null
  const emptyFields = Object.entries(report.empty_fields ?? {}).filter(([, n]) => n > 0)
  const roleOrder = Object.entries(report.role_order ?? {}).filter(([, n]) => n > 0)
  return (
    <div className="stack" data-testid="validation-report">
      <div className="stat-row">
        <div className="stat"><div className="k">Rows</div><div className="v">{fmtInt(report.total_rows)}</div></div>
        <div className="stat"><div className="k">Valid</div><div className="v" style={{ color: 'var(--ok)' }}>{fmtInt(report.valid_rows)}</div></div>
        <div className="stat"><div className="k">Invalid</div><div className="v" style={{ color: report.invalid_rows ? 'var(--bad)' : undefined }}>{fmtInt(report.invalid_rows)}</div></div>
        <div className="stat"><div className="k">Duplicates</div><div className="v">{fmtInt(report.duplicate_rows)}</div></div>
        {report.labels && (
          <div className="stat" data-testid="label-counts">
            <div className="k">Labels</div>
            <div className="v">
              <span style={{ color: 'var(--ok)' }}>{fmtInt(report.labels.good ?? 0)}</span> / <span style={{ color: 'var(--bad)' }}>{fmtInt(report.labels.bad ?? 0)}</span>
            </div>
            <div className="small muted">good / bad replies</div>
          </div>
        )}
        <div className="stat">
          <div className="k">Truncated</div>
          <div className="v" data-testid="truncated-share">{truncated === null ? '—' : `${sameLimit && report.tokens ? '' : '≈ '}${fmtPct(truncated, 1)}`}</div>
          <div className="small muted">{truncated === null ? (sample.loading && modelRef ? 'measuring…' : 'needs a model tokenizer') : `over ${seq.toLocaleString()} tokens${report.tokens ? '' : `, first ${sampled?.length} rows`}`}</div>
        </div>
      </div>

      {report.warnings.length > 0 && (
        <div className="stack-sm">
          {report.warnings.map((w) => (
            <div key={w} className="notice warn">{w}</div>
          ))}
        </div>
      )}

      {lengths && (
        <div className="stack-sm">
          <div className="row">
            <h3>Length per sample ({unit})</h3>
            <span className="muted small right">
              median {fmtInt(lengths.p50)} · p95 {fmtInt(lengths.p95)} · max {fmtInt(lengths.max)}
            </span>
          </div>
          <Histogram bins={lengths.histogram} limit={report.tokens ? seq : null} unit={unit} />
        </div>
      )}
      {!report.tokens && sampled && <TokenSample lengths={sampled} limit={seq} />}
      {!report.tokens && sample.loading && modelRef && <Skeleton height={150} />}
      {!report.tokens && sample.error && <p className="small muted">Token lengths unavailable: {sample.error.detail}</p>}
      {!report.tokens && !(datasetId && modelRef) && <p className="small muted">Token lengths need a model's tokenizer: choose a model to measure them against the limit.</p>}

      {report.errors.length > 0 && (
        <div className="stack-sm">
          <h3>
            Errors by line{' '}
            <span className="muted small">
              ({fmtInt(report.invalid_rows)} invalid row{report.invalid_rows === 1 ? '' : 's'}
              {report.errors.length < report.invalid_rows ? `, first ${report.errors.length} listed` : ''})
            </span>
          </h3>
          <div className="card" style={{ boxShadow: 'none', maxHeight: 280, overflow: 'auto' }}>
            <table className="table" data-testid="row-errors">
              <thead>
                <tr><th className="num">Line</th><th>Field</th><th>Problem</th></tr>
              </thead>
              <tbody>
                {report.errors.map((e, i) => (
                  <tr key={`${e.line}-${i}`}>
                    <td className="num mono">{e.line}</td>
                    <td className="mono small">{e.loc ?? 'row'}</td>
                    <td>
                      {e.message} <span className="muted small mono">{e.code}</span>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </div>
      )}

      {(emptyFields.length > 0 || roleOrder.length > 0) && (
        <div className="grid-2">
          {emptyFields.length > 0 && (
            <div className="stack-sm">
              <h3>Empty fields</h3>
              <ul className="small" style={{ margin: 0, paddingLeft: 18 }}>
                {emptyFields.map(([f, n]) => (
                  <li key={f}><span className="mono">{f}</span>: {fmtInt(n)} rows</li>
                ))}
              </ul>
            </div>
          )}
          {roleOrder.length > 0 && (
            <div className="stack-sm">
              <h3>Conversation order</h3>
              <ul className="small" style={{ margin: 0, paddingLeft: 18 }}>
                {roleOrder.map(([f, n]) => (
                  <li key={f}><span className="mono">{f}</span>: {fmtInt(n)} rows</li>
                ))}
              </ul>
            </div>
          )}
        </div>
      )}
    </div>
  )
}
