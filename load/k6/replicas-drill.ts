// k6 run -e BASE_URL=http://127.0.0.1:3000 -e BEFORE=20 -e WINDOW=20 -e AFTER=20 -e READ_YOUR_WRITES=on load/k6/replicas-drill.ts
// 50 users against an api given a primary and two standbys (DATABASE_READ_URLS), each writing and
// reading its write back with the Read-Position the write answered. Stop one standby BEFORE + 1
// seconds in and start it again a few seconds later: k6 cannot do it; `pnpm load replicas` does.
// READ_YOUR_WRITES=off (the api started with DB_READ_YOUR_WRITES=false): stale reads are counted, not judged.
import { Counter } from 'k6/metrics'
import { k6Options, replicasPlan, type SeedData } from '../shared/scenarios.ts'
import { createSeed, ownWriteIteration, users, writeSummary } from './lib.ts'

export const plan = replicasPlan({
  users: users(),
  beforeSeconds: Number(__ENV.BEFORE ?? 20),
  windowSeconds: Number(__ENV.WINDOW ?? 20),
  afterSeconds: Number(__ENV.AFTER ?? 20),
  readYourWrites: __ENV.READ_YOUR_WRITES !== 'off',
})
export const options = k6Options(plan)
/** Read-backs that missed their write: judged by the plan's threshold when read-your-writes is on. */
const staleReads = new Counter('stale_reads')

export function setup(): SeedData {
  console.log(`stop a standby ${plan.faultAtSeconds} s after the load starts, then start it again`)
  return createSeed()
}

export default function (seed: SeedData): void {
  ownWriteIteration(seed, plan, staleReads)
}

export const handleSummary = writeSummary
