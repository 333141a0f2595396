// `pnpm load replicas`: a primary and two standbys the api reads from; one stopped in the window.
import { UsageError } from '@classroom/test-kit'
import { replicasPlan } from '../../shared/scenarios.js'
import { readsOverview } from '../run-summary.js'
import { StaleReadLedger } from '../stale-reads.js'
import { drillPhases } from './common.js'
import { type Drill, secondsFrom } from './drill.js'
import { API_ENV, OPTIONS, PHASE_FLAGS } from './help-text.js'

const readYourWrites = (options: { readonly readYourWrites?: boolean }) => options.readYourWrites ?? true

export const replicas: Drill = {
  name: 'replicas',
  title: 'the replicas drill',
  script: 'replicas-drill.ts',
  flags: ['before', 'window', 'after', 'mode', 'down-seconds', 'read-your-writes'],
  defaults: { downSeconds: 5 },
  usage: `usage: pnpm load replicas [--before N --window N --after N] [--down-seconds N] [--mode fast|immediate] [--read-your-writes on|off] [options]

  The same phases on a primary and two asynchronous standbys the api reads from (DATABASE_READ_URLS).
  Each user writes (enrolls, drops, creates a student) and reads its write back with the
  Read-Position the write answered; the stale-read ledger counts read-backs that miss their write.
  The second standby is stopped 1 s into the window and started again --down-seconds later, while
  the first stops replaying (falls behind) for as long: no request may fail. The summary gives the reads each target served, from the api's /metrics.

${PHASE_FLAGS}
  --down-seconds N         seconds the standby stays stopped and the other behind (default 5)
  --mode fast|immediate    how the standby is stopped (default fast)
  --read-your-writes on|off
                           on (default): reads follow the users' positions; the run fails on any
                           stale read. off: the api runs with DB_READ_YOUR_WRITES=false, reads go to
                           any healthy standby; the run reports the stale reads it saw and passes
                           only if it saw some (proof the ledger sees them)
${OPTIONS}

${API_ENV}, DB_REPLICA_MAX_LAG_MS=1000

exit codes: 0 passed, 99 a threshold breached (a stale read breaches stale_reads), 1 only a ledger failed
(the write ledger, or the stale-read ledger: a stale read; with --read-your-writes off, none seen),
2 a bad command line`,
  overview: `  replicas                 the same phases on a primary and two standbys the api reads from; each user
                           reads its own writes back (stale reads fail the run); a standby stopped and
                           started in the window. --read-your-writes off: the api without read-your-writes,
                           the run passes only if it saw stale reads`,
  refuse(_values, env) {
    if (env.DATABASE_URL)
      throw new UsageError(
        'replicas runs on a primary and two standbys it starts (it stops one mid-run): unset DATABASE_URL',
      )
  },
  plan: (options) => replicasPlan({ ...drillPhases(options), readYourWrites: readYourWrites(options) }),
  scriptEnv: (_plan, settings) => ({ READ_YOUR_WRITES: settings.readYourWrites === false ? 'off' : 'on' }),
  environment: (options) => ({ readReplicas: { readYourWrites: readYourWrites(options) } }),
  async fault(stack, options) {
    const { stoppedAt, acceptingAt } = await stack.restartStandby(options.mode, options.downSeconds)
    return { from: stoppedAt, to: acceptingAt }
  },
  watch(options) {
    const ledger = new StaleReadLedger()
    return {
      record: (exchange, phase) => ledger.record(exchange, phase),
      finish() {
        const staleReads = ledger.check({ readYourWrites: readYourWrites(options) })
        return { fields: { staleReads }, passed: staleReads.passed }
      },
    }
  },
  section({ options, plan, samples, fault, loadStartedAt }) {
    const reads = readsOverview(samples, plan.phases)
    return {
      fields: {
        ...(fault && {
          // The second URL of DATABASE_READ_URLS: db-core names replicas by their order.
          standby: {
            name: 'replica2',
            mode: options.mode,
            downSeconds: options.downSeconds,
            stoppedAtSeconds: secondsFrom(loadStartedAt, fault.from),
            acceptingAtSeconds: secondsFrom(loadStartedAt, fault.to),
          },
        }),
        ...(reads && { reads }),
      },
    }
  },
  lines(summary) {
    const lines: string[] = []
    if (summary.standby) {
      const s = summary.standby
      lines.push(
        '',
        `standby ${s.name} (${s.mode}, down ${s.downSeconds} s): stopped at ${s.stoppedAtSeconds.toFixed(1)} s, accepting again at ${s.acceptingAtSeconds.toFixed(1)} s`,
      )
    }
    if (summary.reads) {
      const counts = (byKey: Readonly<Record<string, number>>) =>
        Object.entries(byKey)
          .map(([key, n]) => `${key} ${n}`)
          .join(', ') || 'none'
      lines.push(
        `reads per target (the api's /metrics): ${summary.reads.byPhase.map((p) => `${p.phase}: ${counts(p.byTarget)}`).join('; ')}; ` +
          `all: ${counts(summary.reads.total)}; fallbacks to the primary: ${counts(summary.reads.primaryFallbacks)}`,
      )
    }
    if (summary.staleReads) {
      const r = summary.staleReads
      const byPhase = Object.entries(r.staleByPhase).map(([phase, n]) => `${phase} ${n}`)
      lines.push(
        `stale-read ledger (read-your-writes ${r.readYourWrites ? 'on: none may be stale' : 'off: stale reads must be seen'}): ` +
          `${r.readBacks} read-backs of acknowledged writes, ${r.staleReads} stale${byPhase.length > 0 ? ` (${byPhase.join(', ')})` : ''}; ` +
          `${r.withoutPosition} sent without a Read-Position, ${r.unanswered} answered with an error, ${r.notReadBack} writes not read back  ${r.passed ? '✓' : '✗'}`,
      )
      for (const example of r.examples) lines.push(`  ${example}`)
    }
    return lines
  },
  markers: ({ standby: s }) =>
    s
      ? [
          { x: s.stoppedAtSeconds, label: `${s.name} stopped` },
          { x: s.acceptingAtSeconds, label: `${s.name} started` },
        ]
      : [],
}
