// k6 run -e BASE_URL=http://127.0.0.1:3000 -e BEFORE=20 -e WINDOW=20 -e AFTER=20 -e DOWN_SECONDS=0 load/k6/restart-drill.ts
// 50 users in three phases. Restart PostgreSQL at the start of the window (BEFORE seconds in):
// k6 cannot do it; `pnpm load restart --engine k6` does, or an operator at the announced time.
import { k6Options, restartPlan, type SeedData } from '../shared/scenarios.ts'
import { createSeed, userIteration, users, writeSummary } from './lib.ts'

export const plan = restartPlan({
  users: users(),
  beforeSeconds: Number(__ENV.BEFORE ?? 20),
  windowSeconds: Number(__ENV.WINDOW ?? 20),
  afterSeconds: Number(__ENV.AFTER ?? 20),
  downSeconds: Number(__ENV.DOWN_SECONDS ?? 0),
})
export const options = k6Options(plan)

export function setup(): SeedData {
  console.log(`restart PostgreSQL ${plan.faultAtSeconds} s after the load starts`)
  return createSeed()
}

export default function (seed: SeedData): void {
  userIteration(seed, plan)
}

export const handleSummary = writeSummary
