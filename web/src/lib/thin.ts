/**
 * Thin a series for drawing without losing its shape: split x into `buckets` equal slices and
 * keep, per slice, the first point plus the minimum and maximum of every series. Spikes survive
 * (a loss spike is exactly what a person looks for), the whole run stays visible, and a
 * 50,000-step run draws about 2,000 points.
 */
export function thinSeries(x: number[], ys: (number | null)[][], maxPoints = 2000): [number[], ...(number | null)[][]] {
  const n = x.length
  if (n <= maxPoints) return [x, ...ys]
  const buckets = Math.max(1, Math.floor(maxPoints / 3))
  const keep = new Uint8Array(n)
  const x0 = x[0]
  const span = x[n - 1] - x0 || 1
  let start = 0
  for (let b = 0; b < buckets && start < n; b++) {
    const edge = x0 + (span * (b + 1)) / buckets
    let end = start
    while (end < n && (x[end] <= edge || b === buckets - 1)) end++
    if (end === start) continue
    keep[start] = 1
    keep[end - 1] = 1
    for (const y of ys) {
      let lo = -1
      let hi = -1
      for (let i = start; i < end; i++) {
        const v = y[i]
        if (v === null || v === undefined) continue
        if (lo < 0 || v < (y[lo] as number)) lo = i
        if (hi < 0 || v > (y[hi] as number)) hi = i
      }
      if (lo >= 0) keep[lo] = 1
      if (hi >= 0) keep[hi] = 1
    }
    start = end
  }
  const outX: number[] = []
  const outYs: (number | null)[][] = ys.map(() => [])
  for (let i = 0; i < n; i++) {
    if (!keep[i]) continue
    outX.push(x[i])
    ys.forEach((y, j) => outYs[j].push(y[i] ?? null))
  }
  return [outX, ...outYs]
}

/** Exponential moving average that skips gaps (weight 0..0.99; 0 returns the series). */
export function smooth(y: (number | null)[], weight: number): (number | null)[] {
  if (weight <= 0) return y
  let last: number | null = null
  return y.map((v) => {
    if (v === null || v === undefined || !Number.isFinite(v)) return null
    last = last === null ? v : last * weight + v * (1 - weight)
    return last
  })
}
