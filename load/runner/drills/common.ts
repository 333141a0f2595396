// What several drills' records share: the three phases from the flags, the first success after an instant.
import type { DrillPhases } from '../../shared/scenarios.js'
import type { RequestRecord } from '../results.js'
import type { LoadOptions } from '../run-load.js'

/** The before, window and after lengths the flags gave. */
export function drillPhases(options: LoadOptions): DrillPhases {
  return {
    beforeSeconds: options.phases.before,
    windowSeconds: options.phases.window,
    afterSeconds: options.phases.after,
  }
}

/**
 * Milliseconds from `fromMs` (load time) to the first answer as expected of a request sent after it:
 * the moment service is seen to work again.
 */
export function firstSuccessAfter(records: readonly RequestRecord[], fromMs: number): number | null {
  let first: number | null = null
  for (const r of records) {
    if (r.outcome !== 'ok' || r.at < fromMs) continue
    const answeredAt = r.at + r.durationMs
    if (first === null || answeredAt < first) first = answeredAt
  }
  return first === null ? null : first - fromMs
}
