import { performance } from 'node:perf_hooks'

/** What one measurement saw. */
export interface LoopResult {
  readonly operations: number
  readonly seconds: number
  readonly opsPerSecond: number
  readonly p50Ms: number
  readonly p99Ms: number
  readonly errors: number
}

/**
 * `concurrency` callers, each calling `operation` again as soon as the last call settled: a warm-up,
 * then `seconds` of measurement. Latencies of the measured calls only.
 */
export async function closedLoop(options: {
  concurrency: number
  warmupSeconds: number
  seconds: number
  operation: () => Promise<unknown>
}): Promise<LoopResult> {
  const latencies: number[] = []
  let errors = 0
  const warmupEnd = performance.now() + options.warmupSeconds * 1000
  const end = warmupEnd + options.seconds * 1000
  let measuredStart = 0
  const caller = async () => {
    for (;;) {
      const startedAt = performance.now()
      if (startedAt >= end) return
      try {
        await options.operation()
        if (startedAt >= warmupEnd) latencies.push(performance.now() - startedAt)
      } catch {
        if (startedAt >= warmupEnd) errors++
      }
    }
  }
  const warmup = setTimeout(() => {
    measuredStart = performance.now()
  }, options.warmupSeconds * 1000)
  await Promise.all(Array.from({ length: options.concurrency }, caller))
  clearTimeout(warmup)
  const seconds = (performance.now() - (measuredStart || warmupEnd)) / 1000
  latencies.sort((a, b) => a - b)
  const at = (p: number) =>
    latencies[Math.min(latencies.length - 1, Math.max(0, Math.ceil((p / 100) * latencies.length) - 1))] ?? 0
  return {
    operations: latencies.length,
    seconds,
    opsPerSecond: latencies.length / seconds,
    p50Ms: at(50),
    p99Ms: at(99),
    errors,
  }
}
