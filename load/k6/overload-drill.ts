// k6 run -e BASE_URL=http://127.0.0.1:3000 -e CAPACITY=120 load/k6/overload-drill.ts
// Callers arrive at a fixed rate (an open model) whatever the answers: BASE (0.5) × CAPACITY for
// BEFORE seconds, then each OVERLOAD stage (2x20,5x10: multiple × seconds), then BASE × CAPACITY for
// AFTER seconds; each gives up after DEADLINE_MS (1000) and, refused, leaves. Without CAPACITY the
// script is the probe: PROBE_USERS (8) users in a closed loop for PROBE_SECONDS (5) after 1 s of
// warm-up; what they are served per second is the capacity to pass back as CAPACITY.
import {
  OVERLOAD_DEFAULTS,
  overloadPlan,
  overloadScenario,
  parseOverloadStages,
  probePlan,
} from '../shared/overload.ts'
import { k6Options, type SeedData } from '../shared/scenarios.ts'
import { callerIteration, createSeed, writeSummary } from './lib.ts'

const number = (name: string, fallback: number) =>
  __ENV[name] === undefined ? fallback : Number(__ENV[name])

export const plan = __ENV.CAPACITY
  ? overloadPlan({
      capacity: Number(__ENV.CAPACITY),
      base: number('BASE', OVERLOAD_DEFAULTS.base),
      beforeSeconds: number('BEFORE', OVERLOAD_DEFAULTS.beforeSeconds),
      ...(__ENV.OVERLOAD && { overload: parseOverloadStages(__ENV.OVERLOAD) }),
      afterSeconds: number('AFTER', OVERLOAD_DEFAULTS.afterSeconds),
      deadlineMs: number('DEADLINE_MS', OVERLOAD_DEFAULTS.deadlineMs),
      maxVus: number('MAX_VUS', OVERLOAD_DEFAULTS.maxVus),
    })
  : probePlan(number('PROBE_USERS', 8), number('PROBE_SECONDS', 5))
export const options = plan.arrival
  ? { ...k6Options(plan), scenarios: { overload: overloadScenario(plan) } }
  : k6Options(plan)

export function setup(): SeedData {
  // Callers read classrooms and create students: no students to seed.
  return createSeed({ students: false })
}

// The probe's users are callers too, in a closed loop: the same requests the drill offers.
export default function (seed: SeedData): void {
  callerIteration(seed, plan)
}

export const handleSummary = writeSummary
