export interface Bin {
  start: number
  end: number
  count: number
}

/** Length histogram with the sequence limit drawn on it; bins past the limit are truncated. */
export function Histogram({ bins, limit, unit }: { bins: Bin[]; limit?: number | null; unit: string }) {
  if (!bins.length) return <p className="muted small">No lengths to show.</p>
  const max = Math.max(...bins.map((b) => b.count), 1)
  const top = bins[bins.length - 1].end
  const limitPct = limit ? Math.min(100, (limit / top) * 100) : null
  return (
    <div>
      <div className="hist" role="img" aria-label={`Histogram of ${unit} per sample${limit ? `, limit ${limit}` : ''}`}>
        {bins.map((b) => (
          <div key={b.start} className={`bar ${limit && b.start >= limit ? 'over' : ''}`} style={{ height: `${(b.count / max) * 100}%` }} title={`${b.start}–${b.end} ${unit}: ${b.count} rows`} />
        ))}
        {limitPct !== null && (
          <div className="limit" style={{ left: `${limitPct}%` }}>
            <span>limit {limit}</span>
          </div>
        )}
      </div>
      <div className="hist-axis">
        <span>0</span>
        <span>{unit}</span>
        <span>{top.toLocaleString()}</span>
      </div>
    </div>
  )
}

/** Share of rows longer than `limit`, read off the histogram (bins straddling it count half). */
export function shareOver(bins: Bin[], limit: number): number {
  let over = 0
  let total = 0
  for (const b of bins) {
    total += b.count
    if (b.start >= limit) over += b.count
    else if (b.end > limit) over += (b.count * (b.end - limit)) / (b.end - b.start)
  }
  return total ? over / total : 0
}
