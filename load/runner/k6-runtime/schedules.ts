// The executors' timetables: when a ramping-vus scenario changes its VU count, when an arrival-rate iteration starts.
import type { Stage } from './options.js'

/** From `atMs` (from the scenario's start), `count` VUs run. */
export interface VuStep {
  readonly atMs: number
  readonly count: number
}

/**
 * The VU counts of a ramping-vus scenario over time, as k6 ramps them: linearly from each stage's
 * start to its target, a VU added when the line reaches its number going up and removed when the
 * line falls below it going down; a stage of duration 0 jumps at once.
 *
 * ```ts
 * vuSteps(0, [{ durationMs: 2000, target: 2 }]) // [{atMs:0,count:0},{atMs:1000,count:1},{atMs:2000,count:2}]
 * ```
 */
export function vuSteps(startVUs: number, stages: readonly Stage[]): VuStep[] {
  const steps: VuStep[] = [{ atMs: 0, count: startVUs }]
  let from = startVUs
  let elapsed = 0
  for (const { durationMs, target } of stages) {
    const span = Math.abs(target - from)
    for (let k = 1; k <= span; k++)
      steps.push({
        atMs: elapsed + (durationMs * k) / span,
        count: target > from ? from + k : from - k,
      })
    elapsed += durationMs
    from = target
  }
  return steps
}

/**
 * Milliseconds from an arrival-rate scenario's start to the start of its iteration `i` (from 0):
 * the moment the rate's integral reaches `i`, the rate going linearly from `startRate` through each
 * stage's target (per millisecond). Infinity once the stages are over. At a constant 10/s, iterations
 * start at 0, 100, 200 … 900 ms: ten in the second, spaced evenly, as k6 spaces them.
 *
 * ```ts
 * iterationStartMs(0.01, [{ durationMs: 1000, target: 0.01 }], 3) // 300
 * ```
 */
export function iterationStartMs(startRate: number, stages: readonly Stage[], i: number): number {
  let from = startRate
  let elapsed = 0
  let reached = 0
  for (const { durationMs, target } of stages) {
    const area = ((from + target) / 2) * durationMs
    if (reached + area > i) {
      const left = i - reached
      // The rate is from + slope·t: its integral from + slope·t²/2 reaches `left` at the root below.
      const halfSlope = (target - from) / (2 * durationMs)
      const t =
        halfSlope === 0
          ? left / from
          : (-from + Math.sqrt(from * from + 4 * halfSlope * left)) / (2 * halfSlope)
      return elapsed + t
    }
    reached += area
    elapsed += durationMs
    from = target
  }
  return Number.POSITIVE_INFINITY
}
