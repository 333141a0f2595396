// k6 run -e BASE_URL=http://127.0.0.1:3000 -e WARMUP=5 -e DURATION=60 load/k6/steady.ts
// 50 users (VUS): WARMUP seconds ramping up (not judged), then DURATION seconds judged: no 5xx, no
// POOL_TIMEOUT, under 0.1 % failed, bounded p95/p99.
import { k6Options, type SeedData, steadyPlan, WARMUP_SECONDS } from '../shared/scenarios.ts'
import { createSeed, userIteration, users, writeSummary } from './lib.ts'

export const plan = steadyPlan(Number(__ENV.DURATION ?? 60), users(), Number(__ENV.WARMUP ?? WARMUP_SECONDS))
export const options = k6Options(plan)

export function setup(): SeedData {
  return createSeed()
}

export default function (seed: SeedData): void {
  userIteration(seed, plan)
}

export const handleSummary = writeSummary
