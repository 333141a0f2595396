// k6 run -e BASE_URL=http://127.0.0.1:3000 -e BEFORE=20 -e WINDOW=20 -e AFTER=20 load/k6/failover-drill.ts
// 50 users in three phases against an api given a primary and a standby. Kill the primary at the
// start of the window (BEFORE + 1 seconds in) and promote the standby a moment later: k6 cannot do
// it; `pnpm load failover --engine k6` does, or an operator (or DB_FAILOVER_COMMAND) at that time.
import { failoverPlan, k6Options, type SeedData } from '../shared/scenarios.ts'
import { createSeed, userIteration, users, writeSummary } from './lib.ts'

export const plan = failoverPlan({
  users: users(),
  beforeSeconds: Number(__ENV.BEFORE ?? 20),
  windowSeconds: Number(__ENV.WINDOW ?? 20),
  afterSeconds: Number(__ENV.AFTER ?? 20),
})
export const options = k6Options(plan)

export function setup(): SeedData {
  console.log(`kill the primary ${plan.faultAtSeconds} s after the load starts, then promote the standby`)
  return createSeed()
}

export default function (seed: SeedData): void {
  userIteration(seed, plan)
}

export const handleSummary = writeSummary
