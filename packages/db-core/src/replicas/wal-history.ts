// The primary's WAL position over time: how far behind, in time, a replica's replay position is.

interface Sample {
  readonly at: number
  readonly lsn: bigint
}

/**
 * The primary's `pg_current_wal_lsn()`, sampled once per poll, kept for as long as lags are judged
 * over. A replica that has replayed up to `R` lags by the time since the primary was first seen
 * past `R`: 0 when `R` is at or past the last sample (caught up as of it). Precise to one poll
 * interval, and never more than the truth: the WAL past `R` was written at or before that sample.
 */
export class WalHistory {
  readonly #keepMs: number
  readonly #samples: Sample[] = []

  /** Samples older than `keepMs` are dropped (one is always kept): lags beyond it read as at least it. */
  constructor(keepMs: number) {
    this.#keepMs = keepMs
  }

  record(at: number, lsn: bigint): void {
    this.#samples.push({ at, lsn })
    while (this.#samples.length > 1 && at - this.#samples[0]!.at > this.#keepMs) this.#samples.shift()
  }

  /** The lag of a replica replayed up to `replay`, in ms at `now`; `null` before the first sample. */
  lagMs(replay: bigint, now: number): number | null {
    const samples = this.#samples
    if (samples.length === 0) return null
    if (replay >= samples[samples.length - 1]!.lsn) return 0
    const pastReplay = samples.find((sample) => sample.lsn > replay)!
    return Math.max(0, now - pastReplay.at)
  }
}
