// `pnpm load steady`: 50 users in a closed loop, a warm-up stage, then the judged load.
import { steadyPlan, USERS, WARMUP_SECONDS } from '../../shared/scenarios.js'
import type { Drill } from './drill.js'
import { COMMON, DRILL_EXIT } from './help-text.js'

export const steady: Drill = {
  name: 'steady',
  title: 'steady',
  script: 'steady.ts',
  flags: ['duration', 'warmup'],
  usage: `usage: pnpm load steady [--duration N] [--warmup N] [options]

  50 users, closed loop, against the api on an embedded PostgreSQL: a warm-up stage ramping the users
  up (shown, not judged), then --duration seconds judged by the thresholds.

  --duration N             seconds of judged load (default 60)
  --warmup N               seconds of warm-up before it, users ramping 1 → 50 (default 5; 0: none)
${COMMON}

${DRILL_EXIT}`,
  overview: `  steady                   50 users: a warm-up stage, then --duration seconds (default 60) judged`,
  plan: (options) => steadyPlan(options.durationSeconds, USERS, options.warmupSeconds ?? WARMUP_SECONDS),
  scriptEnv: (plan): Record<string, string> =>
    plan.phases.some((p) => p.name === 'warmup') ? {} : { WARMUP: '0' },
}
