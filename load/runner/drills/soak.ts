// `pnpm load soak`: steady for 30 minutes, long enough for the api's memory trend to be judged.
import { MEMORY_TREND } from '../memory-trend.js'
import type { Drill } from './drill.js'
import { COMMON, DRILL_EXIT } from './help-text.js'
import { steady } from './steady.js'

/** The soak's judged load when `--duration` does not say: 30 minutes. */
export const SOAK_SECONDS = 1800

const { settleSeconds, judgedSpanSeconds, rssMbPer10Min, heapAfterGcMbPer10Min } = MEMORY_TREND

/** steady's plan, script and flags with a longer default: its summary and results are steady's. */
export const soak: Drill = {
  ...steady,
  name: 'soak',
  title: 'the soak',
  defaults: { duration: SOAK_SECONDS },
  usage: `usage: pnpm load soak [--duration N] [--warmup N] [options]

  steady for 30 minutes: the same users, mix and thresholds, with --duration ${SOAK_SECONDS} unless given. Any
  run whose api scrapes after its first ${settleSeconds} s span ${judgedSpanSeconds} s (a steady --duration of ${settleSeconds + judgedSpanSeconds} or more) is
  judged on the api's memory too: its RSS trend at most ${rssMbPer10Min} MB per 10 min and its heap after GC at most
  ${heapAfterGcMbPer10Min} MB per 10 min, both after those ${settleSeconds} s. Loads the machine for the whole run: not for CI.

  --duration N             seconds of judged load (default ${SOAK_SECONDS})
  --warmup N               seconds of warm-up before it, users ramping 1 → 50 (default 5; 0: none)
${COMMON}

${DRILL_EXIT}`,
  overview: `  soak                     steady for 30 minutes (--duration ${SOAK_SECONDS}), judged on the api's memory trend too`,
}
