// `pnpm load overload`: callers arriving at fractions and multiples of the measured capacity.
import path from 'node:path'
import { performance } from 'node:perf_hooks'
import { UsageError, wholeNumberOption } from '@classroom/test-kit'
import {
  formatOverloadStages,
  OVERLOAD_DEFAULTS,
  type OverloadStage,
  overloadPlan,
  parseOverloadStages,
  probePlan,
} from '../../shared/overload.js'
import { fromExchange } from '../exchange-records.js'
import { scriptApiToken } from '../k6-engine.js'
import { runScript } from '../k6-runtime/run-script.js'
import {
  OVERLOAD_TARGETS,
  type OverloadTargets,
  overloadFigures,
  overloadVerdicts,
} from '../overload-figures.js'
import { K6_SCRIPTS_DIR } from '../package-paths.js'
import type { Stack } from '../stack.js'
import type { Drill, FlagValues } from './drill.js'
import { API_ENV, OPTIONS } from './help-text.js'
import { overloadCharts, overloadLines } from './overload-report.js'

/** The overload drill's own options; every one has a default. */
export interface OverloadOptions {
  /** Requests per second the stack serves; measured by the probe when absent. */
  readonly capacity?: number
  readonly probeSeconds?: number
  readonly probeUsers?: number
  /** The latency proxy's delay per exchange between the api and PostgreSQL: the statements' known cost. */
  readonly latencyMs?: number
  readonly deadlineMs?: number
  /** The load before and after, as a multiple of capacity. */
  readonly base?: number
  readonly stages?: readonly OverloadStage[]
  readonly maxVus?: number
  readonly targets?: Partial<OverloadTargets>
}

export const PROBE_DEFAULTS = { seconds: 5, users: 8, latencyMs: 10 } as const

/** The api's pool for the drill, unless the environment sets it: small, no overflow, its wait the callers' deadline. */
function poolEnvironment(deadlineMs: number, env: NodeJS.ProcessEnv): Record<string, string> {
  const defaults: Record<string, string> = {
    DB_POOL_SIZE: '2',
    DB_POOL_MAX_OVERFLOW: '0',
    DB_POOL_TIMEOUT_SECONDS: String(deadlineMs / 1000),
    API_REQUEST_TIMEOUT_MS: String(deadlineMs),
  }
  return Object.fromEntries(Object.entries(defaults).map(([key, value]) => [key, env[key] || value]))
}

const settingsOf = (options: { readonly overload?: OverloadOptions }) => {
  const o = options.overload ?? {}
  return {
    latencyMs: o.latencyMs ?? PROBE_DEFAULTS.latencyMs,
    deadlineMs: o.deadlineMs ?? OVERLOAD_DEFAULTS.deadlineMs,
    probeSeconds: o.probeSeconds ?? PROBE_DEFAULTS.seconds,
    probeUsers: o.probeUsers ?? PROBE_DEFAULTS.users,
    targets: { ...OVERLOAD_TARGETS, ...o.targets },
  }
}

/** A decimal flag above `min` (`fallback` when absent), or a {@link UsageError} naming it. */
function decimal(name: string, raw: string | boolean | undefined, fallback: number, min: number): number {
  if (raw === undefined) return fallback
  const value = Number(raw)
  if (typeof raw !== 'string' || !/^\d+(\.\d+)?$/.test(raw) || !(value > min))
    throw new UsageError(`--${name} takes a number > ${min}, not "${raw}"`)
  return value
}

function readOverload(values: FlagValues): OverloadOptions {
  const whole = (name: keyof FlagValues & string, fallback: number, min: number, unit?: string) =>
    wholeNumberOption(name, values[name], { fallback, min, ...(unit && { unit }) })
  let stages: OverloadStage[] | undefined
  try {
    stages = typeof values.overload === 'string' ? parseOverloadStages(values.overload) : undefined
  } catch (error) {
    throw new UsageError(`--overload: ${(error as Error).message}`)
  }
  return {
    ...(values.capacity !== undefined && { capacity: decimal('capacity', values.capacity, 0, 0) }),
    probeSeconds: whole('probe-seconds', PROBE_DEFAULTS.seconds, 1, 'seconds'),
    probeUsers: whole('probe-users', PROBE_DEFAULTS.users, 1),
    latencyMs: whole('latency-ms', PROBE_DEFAULTS.latencyMs, 0, 'milliseconds'),
    deadlineMs: whole('deadline-ms', OVERLOAD_DEFAULTS.deadlineMs, 1, 'milliseconds'),
    base: decimal('base', values.base, OVERLOAD_DEFAULTS.base, 0),
    ...(stages && { stages }),
    maxVus: whole('max-vus', OVERLOAD_DEFAULTS.maxVus, 1),
    targets: {
      minGoodput: decimal('min-goodput', values['min-goodput'], OVERLOAD_TARGETS.minGoodput, 0),
      maxP99Ms: whole('max-p99-ms', OVERLOAD_TARGETS.maxP99Ms, 1, 'milliseconds'),
      maxRefusalMs: whole('max-refusal-ms', OVERLOAD_TARGETS.maxRefusalMs, 1, 'milliseconds'),
      maxRecoveryMs: whole('max-recovery-ms', OVERLOAD_TARGETS.maxRecoveryMs, 0, 'milliseconds'),
    },
  }
}

/**
 * The probe: `users` callers in a closed loop on the overload script for `seconds` (after 1 s of
 * warm-up); what they were served per second is the capacity.
 */
async function probeCapacity(stack: Stack, runDir: string, users: number, seconds: number) {
  const plan = probePlan(users, seconds)
  let startedAt = 0
  let served = 0
  const run = await runScript({
    script: path.join(K6_SCRIPTS_DIR, overload.script),
    env: {
      BASE_URL: stack.apiUrl,
      API_TOKEN: scriptApiToken(),
      SUMMARY_JSON: path.join(runDir, 'probe-summary.json'),
      PROBE_USERS: String(users),
      PROBE_SECONDS: String(seconds),
    },
    onStart: (at) => {
      startedAt = at
    },
    onExchange: (exchange) => {
      const seen = fromExchange(exchange, plan, startedAt)
      if (seen?.record.phase === 'probe' && seen.record.outcome === 'ok') served++
    },
    stdout: () => undefined,
  })
  if (run.exitCode !== 0)
    throw new Error(`the overload drill's probe stopped early (k6 exit code ${run.exitCode})`)
  if (served === 0)
    throw new Error(
      `the overload drill's probe was served nothing in ${seconds} s: no capacity to offer multiples of`,
    )
  return { capacity: served / seconds, probe: { users, seconds, served } }
}

export const overload: Drill = {
  name: 'overload',
  title: 'the overload drill',
  script: 'overload-drill.ts',
  flags: [
    'before',
    'after',
    'capacity',
    'probe-seconds',
    'probe-users',
    'latency-ms',
    'deadline-ms',
    'base',
    'overload',
    'max-vus',
    'min-goodput',
    'max-p99-ms',
    'max-refusal-ms',
    'max-recovery-ms',
  ],
  defaults: { before: OVERLOAD_DEFAULTS.beforeSeconds, after: OVERLOAD_DEFAULTS.afterSeconds },
  usage: `usage: pnpm load overload [--overload 2x20,5x10] [--before N --after N] [--capacity N] [--deadline-ms N] [options]

  Callers arrive at a fixed rate whatever the answers (an open model), each giving up after
  --deadline-ms, against the api on a small pool (DB_POOL_SIZE 2, no overflow) whose statements
  cost a known time (a proxy delays every exchange with PostgreSQL by --latency-ms). The capacity is
  measured first (a closed-loop probe) and printed; then --base x capacity for --before seconds,
  each --overload stage, --base x capacity for --after seconds. Per phase: goodput (answers within
  the deadline per second) against capacity, p50 / p99 of the answers, median time to refusal;
  the recovery after the load falls; the write ledger.

  --overload LIST          overload stages, MULTIPLExSECONDS comma separated (default 2x20,5x10)
  --before N --after N     seconds at --base x capacity before and after (default 10 each)
  --base X                 the load before and after, a multiple of capacity (default 0.5)
  --capacity N             requests/s to take as capacity instead of probing
  --probe-seconds N        the probe's length, after 1 s of warm-up (default 5)
  --probe-users N          the probe's closed-loop users (default 8)
  --latency-ms N           delay per exchange between the api and PostgreSQL (default 10)
  --deadline-ms N          each caller's deadline, also the api's API_REQUEST_TIMEOUT_MS and, unless
                           set, DB_POOL_TIMEOUT_SECONDS (default 1000)
  --max-vus N              callers in flight at most (one VU each; default 100); arrivals past it
                           are dropped and counted
  --min-goodput X          target: goodput of each overload phase / capacity (default 0.9)
  --max-p99-ms N           target: p99 of the answers within the deadline (default 100)
  --max-refusal-ms N       target: median time to refusal (default 100)
  --max-recovery-ms N      target: from the load falling to the last caller not served (default 1000)
${OPTIONS}

${API_ENV}, DB_POOL_SIZE=5, DB_POOL_QUEUE_POLICY=fifo

exit codes: 0 passed, 99 a target or threshold missed, 1 only the write ledger failed, 2 a bad command line`,
  overview: `  overload                 callers arriving at 0.5x, then 2x and 5x the measured capacity, then 0.5x, on
                           a small pool with statements of known cost: goodput, latency, time to refusal,
                           recovery`,
  refuse(_values, env) {
    if (env.DATABASE_URL)
      throw new UsageError(
        'overload runs on an embedded PostgreSQL behind a latency proxy it starts: unset DATABASE_URL',
      )
  },
  read: (values) => ({ overload: readOverload(values) }),
  plan(options, prepared) {
    const o = options.overload ?? {}
    return overloadPlan({
      capacity: Number(prepared?.capacity),
      beforeSeconds: options.phases.before,
      afterSeconds: options.phases.after,
      ...(o.base !== undefined && { base: o.base }),
      ...(o.stages && { overload: o.stages }),
      deadlineMs: settingsOf(options).deadlineMs,
      ...(o.maxVus !== undefined && { maxVus: o.maxVus }),
    })
  },
  scriptEnv: (plan) => {
    const arrival = plan.arrival!
    const middle = plan.phases.slice(1, -1)
    return {
      CAPACITY: String(arrival.capacity),
      BASE: String(arrival.multiples[0]),
      OVERLOAD: formatOverloadStages(
        middle.map((p, i) => ({ multiple: arrival.multiples[i + 1]!, seconds: p.durationSeconds })),
      ),
      DEADLINE_MS: String(arrival.deadlineMs),
      MAX_VUS: String(arrival.maxVus),
    }
  },
  environment(options) {
    const { latencyMs, deadlineMs } = settingsOf(options)
    return { latencyMs, apiEnv: poolEnvironment(deadlineMs, process.env) }
  },
  async prepare(stack, options, runDir) {
    const given = options.overload?.capacity
    if (given !== undefined) return { capacity: given, source: 'given' }
    const { probeUsers, probeSeconds } = settingsOf(options)
    const startedAt = performance.now()
    const measured = await probeCapacity(stack, runDir, probeUsers, probeSeconds)
    options.onProgress?.(
      `[overload] capacity ${measured.capacity.toFixed(1)} requests/s (probe: ${probeUsers} users, ${probeSeconds} s, ${((performance.now() - startedAt) / 1000).toFixed(1)} s with setup)`,
    )
    return { ...measured, source: 'probe' }
  },
  section({ options, plan, records, samples, prepared }) {
    const { latencyMs, targets } = settingsOf(options)
    const arrival = plan.arrival!
    const figures = overloadFigures(records, plan.phases, arrival, samples)
    return {
      fields: {
        overload: {
          capacity: arrival.capacity,
          capacitySource: prepared?.source === 'given' ? 'given' : 'probe',
          ...(prepared?.probe !== undefined && {
            probe: prepared.probe as { users: number; seconds: number; served: number },
          }),
          deadlineMs: arrival.deadlineMs,
          latencyMs,
          maxVus: arrival.maxVus,
          pool: poolEnvironment(arrival.deadlineMs, process.env),
          targets,
          ...figures,
        },
      },
      verdicts: overloadVerdicts(figures, targets),
    }
  },
  lines: overloadLines,
  charts: overloadCharts,
}
