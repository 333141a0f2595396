// `pnpm load restart`: before, window, after; PostgreSQL restarts 1 s into the window.

import { UsageError } from '@classroom/test-kit'
import { restartPlan } from '../../shared/scenarios.js'
import { drillPhases, firstSuccessAfter } from './common.js'
import { type Drill, secondsFrom } from './drill.js'
import { COMMON, DRILL_EXIT, PHASE_FLAGS } from './help-text.js'

export const restart: Drill = {
  name: 'restart',
  title: 'the restart drill',
  script: 'restart-drill.ts',
  flags: ['before', 'window', 'after', 'mode', 'down-seconds'],
  usage: `usage: pnpm load restart [--before N --window N --after N] [--mode fast|immediate] [--down-seconds N] [options]

  50 users through three phases; PostgreSQL restarts 1 s into the window.

${PHASE_FLAGS}
  --mode fast|immediate    PostgreSQL shutdown mode (default fast)
  --down-seconds N         keep PostgreSQL down N seconds (default 0)
${COMMON}
  DB_RESTART_COMMAND       with DATABASE_URL: the shell command that restarts it (it receives
                           DB_RESTART_MODE and DB_DOWN_SECONDS)

${DRILL_EXIT}`,
  overview: `  restart                  50 users through --before, --window, --after; PostgreSQL restarts 1 s into the window`,
  refuse(_values, env) {
    if (env.DATABASE_URL && !env.DB_RESTART_COMMAND)
      throw new UsageError(
        'restart with DATABASE_URL needs DB_RESTART_COMMAND: the runner cannot restart a server it did not start',
      )
  },
  plan: (options) => restartPlan({ ...drillPhases(options), downSeconds: options.downSeconds }),
  scriptEnv: (_plan, settings) => ({ DOWN_SECONDS: String(settings.downSeconds) }),
  async fault(stack, options) {
    const { stoppedAt, acceptingAt } = await stack.restartDatabase(options.mode, options.downSeconds)
    return { from: stoppedAt, to: acceptingAt }
  },
  section({ options, records, fault, loadStartedAt }) {
    if (!fault) return { fields: {} }
    const [fromMs, toMs] = [fault.from - loadStartedAt, fault.to - loadStartedAt]
    return {
      fields: {
        restart: {
          mode: options.mode,
          downSeconds: options.downSeconds,
          stoppedAtSeconds: secondsFrom(loadStartedAt, fault.from),
          acceptingAtSeconds: secondsFrom(loadStartedAt, fault.to),
          firstSuccessAfterAcceptingMs: firstSuccessAfter(records, toMs),
        },
      },
      outage: { fromMs, toMs },
    }
  },
  lines({ restart: r }) {
    if (!r) return []
    return [
      '',
      `restart (${r.mode}, down ${r.downSeconds} s): stopped at ${r.stoppedAtSeconds.toFixed(1)} s, accepting again at ${r.acceptingAtSeconds.toFixed(1)} s, ` +
        `first success ${r.firstSuccessAfterAcceptingMs === null ? 'never' : `${Math.round(r.firstSuccessAfterAcceptingMs)} ms`} after that`,
    ]
  },
  markers: ({ restart: r }) =>
    r
      ? [
          { x: r.stoppedAtSeconds, label: 'restart' },
          { x: r.acceptingAtSeconds, label: 'accepting' },
        ]
      : [],
}
