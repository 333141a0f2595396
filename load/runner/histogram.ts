/** One cumulative bucket of a Prometheus histogram: observations at most `le`. */
export type Bucket = readonly [le: number, count: number]

/**
 * The `q` quantile of what a Prometheus histogram observed between two scrapes, as PromQL's
 * `histogram_quantile` estimates it: the bucket holding the rank, interpolated linearly inside it
 * (the `+Inf` bucket answers its lower bound). `null` when nothing was observed in between.
 *
 * ```ts
 * quantileBetween(first.holdBuckets, last.holdBuckets, 0.99) // seconds
 * ```
 */
export function quantileBetween(
  before: readonly Bucket[],
  after: readonly Bucket[],
  q: number,
): number | null {
  const counts = after.map(([le, count]) => [le, count - (before.find(([l]) => l === le)?.[1] ?? 0)] as const)
  const total = counts.at(-1)?.[1] ?? 0
  if (total <= 0) return null
  const rank = q * total
  let lowerLe = 0
  let lowerCount = 0
  for (const [le, count] of counts) {
    if (count >= rank) {
      if (le === Number.POSITIVE_INFINITY) return lowerLe
      const inBucket = count - lowerCount
      return inBucket === 0 ? le : lowerLe + ((le - lowerLe) * (rank - lowerCount)) / inBucket
    }
    lowerLe = le
    lowerCount = count
  }
  return lowerLe
}

/**
 * Reads the buckets of histogram `name` out of a Prometheus text exposition, summed over any
 * labels beside `le` (a histogram exported per pool reads as one).
 */
export function parseBuckets(text: string, name: string): Bucket[] {
  const counts = new Map<number, number>()
  const prefix = `${name}_bucket{`
  for (const line of text.split('\n')) {
    if (!line.startsWith(prefix)) continue
    const match = /(?:\{|,)le="([^"]+)"[^}]*\} (\S+)$/.exec(line)
    if (!match) continue
    const le = match[1] === '+Inf' ? Number.POSITIVE_INFINITY : Number(match[1])
    counts.set(le, (counts.get(le) ?? 0) + Number(match[2]))
  }
  return [...counts].sort(([a], [b]) => a - b)
}
