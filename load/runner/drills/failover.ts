// `pnpm load failover`: the primary killed 1 s into the window, the standby promoted after it.
import { UsageError } from '@classroom/test-kit'
import { failoverPlan } from '../../shared/scenarios.js'
import type { RequestRecord } from '../results.js'
import type { FailoverSummary } from '../run-summary.js'
import { drillPhases, firstSuccessAfter } from './common.js'
import { type Drill, secondsFrom } from './drill.js'
import { COMMON, DRILL_EXIT, PHASE_FLAGS } from './help-text.js'

const WRITES = new Set(['enroll', 'unenroll', 'createStudent'])
const DEFAULT_REPLICATION = { synchronous: true, via: 'hosts' } as const

export const failover: Drill = {
  name: 'failover',
  title: 'the failover drill',
  script: 'failover-drill.ts',
  flags: ['before', 'window', 'after', 'mode', 'promote-after', 'async', 'via'],
  defaults: { mode: 'immediate' },
  usage: `usage: pnpm load failover [--before N --window N --after N] [--mode fast|immediate] [--promote-after N] [--async] [--via hosts|proxy] [options]

  The same phases on a primary and a standby; the primary is killed 1 s into the window and the
  standby promoted --promote-after seconds later.

${PHASE_FLAGS}
  --mode fast|immediate    how the primary is killed (default immediate)
  --promote-after N        seconds from the kill to the promotion (default 1)
  --async                  asynchronous replication (default synchronous)
  --via hosts|proxy        the api gets the multi-host URL with target_session_attrs=read-write
                           (default), or one address re-pointed to the promoted node (a VIP, a DNS name)
${COMMON}
  DB_FAILOVER_COMMAND      with DATABASE_URL: the shell command that kills the primary and promotes a
                           standby, returning once it is promoted (it receives DB_FAILOVER_MODE and
                           DB_PROMOTE_AFTER_SECONDS)

${DRILL_EXIT}`,
  overview: `  failover                 the same phases on a primary and a standby; the primary is killed 1 s into
                           the window and the standby promoted --promote-after seconds later`,
  refuse(values, env) {
    if (!env.DATABASE_URL) return
    if (!env.DB_FAILOVER_COMMAND)
      throw new UsageError(
        'failover with DATABASE_URL needs DB_FAILOVER_COMMAND: the runner cannot kill and promote servers it did not start',
      )
    for (const name of ['async', 'via'] as const)
      if (values[name] !== undefined)
        throw new UsageError(
          `--${name} sets up the embedded servers; with DATABASE_URL, DB_FAILOVER_COMMAND does`,
        )
  },
  plan: (options) => failoverPlan(drillPhases(options)),
  environment: (options) =>
    options.databaseUrl ? {} : { replication: options.replication ?? DEFAULT_REPLICATION },
  async fault(stack, options) {
    const { killedAt, promotedAt } = await stack.failOver(options.mode, options.promoteAfterSeconds ?? 1)
    return { from: killedAt, to: promotedAt }
  },
  // Asynchronous replication may lose what the old primary acknowledged last: measured, not a failure.
  lossExpected: (options) =>
    !options.databaseUrl && !(options.replication ?? DEFAULT_REPLICATION).synchronous,
  section({ options, records, fault, loadStartedAt }) {
    if (!fault) return { fields: {} }
    const [fromMs, toMs] = [fault.from - loadStartedAt, fault.to - loadStartedAt]
    const writes = records.filter((r: RequestRecord) => WRITES.has(r.name))
    const failoverSummary: FailoverSummary = {
      mode: options.mode,
      promoteAfterSeconds: options.promoteAfterSeconds ?? 1,
      ...(options.databaseUrl
        ? { synchronous: null, via: 'external' }
        : (options.replication ?? DEFAULT_REPLICATION)),
      killedAtSeconds: secondsFrom(loadStartedAt, fault.from),
      promotedAtSeconds: secondsFrom(loadStartedAt, fault.to),
      firstWriteAfterKillMs: firstSuccessAfter(writes, fromMs),
      firstWriteAfterPromotionMs: firstSuccessAfter(writes, toMs),
    }
    return { fields: { failover: failoverSummary }, outage: { fromMs, toMs } }
  },
  lines({ failover: f }) {
    if (!f) return []
    const after = (value: number | null) => (value === null ? 'never' : `${Math.round(value)} ms`)
    const replication = f.synchronous === null ? '' : `${f.synchronous ? 'synchronous' : 'asynchronous'}, `
    return [
      '',
      `failover (${replication}primary killed ${f.mode}, promoted after ${f.promoteAfterSeconds} s, via ${f.via}): ` +
        `killed at ${f.killedAtSeconds.toFixed(1)} s, promoted at ${f.promotedAtSeconds.toFixed(1)} s; ` +
        `first write ${after(f.firstWriteAfterKillMs)} after the kill, ${after(f.firstWriteAfterPromotionMs)} after the promotion`,
    ]
  },
  markers: ({ failover: f }) =>
    f
      ? [
          { x: f.killedAtSeconds, label: 'primary killed' },
          { x: f.promotedAtSeconds, label: 'promoted' },
        ]
      : [],
}
