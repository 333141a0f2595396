// A real k6, when one is on PATH: the drills' scripts and `pnpm load run --engine k6` handed to it.

import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import path from 'node:path'
import { performance } from 'node:perf_hooks'
import { testApiToken } from '@classroom/test-kit'
import { LOAD_START_MARKER, type PhaseName, type ScenarioPlan } from '../shared/scenarios.js'
import type { ScriptSettings } from './drills/drill.js'
import { DRILLS } from './drills/index.js'
import { K6_SCRIPTS_DIR } from './package-paths.js'

/**
 * Whether a k6 binary answers `k6 version` on the PATH of `env`: the environment the command line
 * is read from, so a caller (or a test) decides which k6, if any, is found.
 *
 * ```ts
 * if (!k6Available({ PATH: '/opt/k6/bin' })) throw new Error('no k6 in /opt/k6/bin')
 * ```
 */
export function k6Available(env: NodeJS.ProcessEnv = process.env): boolean {
  // spawn looks the command up on options.env.PATH when env is given, not on process.env.PATH.
  return spawnSync('k6', ['version'], { stdio: 'ignore', env }).status === 0
}

/** The path of the plan's k6 script: what both engines run. */
export function scriptOf(plan: ScenarioPlan): string {
  return path.join(K6_SCRIPTS_DIR, DRILLS[plan.name].script)
}

export type { ScriptSettings }

/** The phases whose lengths a script reads from `__ENV` (DURATION for steady; the others by name). */
const PHASE_VARIABLES: Partial<Record<PhaseName, string>> = {
  steady: 'DURATION',
  warmup: 'WARMUP',
  before: 'BEFORE',
  window: 'WINDOW',
  after: 'AFTER',
}

/**
 * The bearer token a script sends (`__ENV.API_TOKEN`): `API_TOKEN` when set (an api the runner did
 * not start), else one signed with the key the runner starts the api with (test-kit's).
 */
export function scriptApiToken(env: NodeJS.ProcessEnv = process.env): string {
  return env.API_TOKEN ?? testApiToken()
}

/**
 * The `__ENV` the plan's script reads: the api's address, where handleSummary writes, the phase
 * lengths (DURATION, or BEFORE/WINDOW/AFTER), and what its drill adds (the restart's downtime,
 * the replicas drill's READ_YOUR_WRITES, the overload drill's capacity and stages).
 */
export function scriptEnv(plan: ScenarioPlan, settings: ScriptSettings): Record<string, string> {
  const phases = plan.phases.flatMap((phase) => {
    const variable = PHASE_VARIABLES[phase.name]
    return variable ? [[variable, String(phase.durationSeconds)]] : []
  })
  return {
    BASE_URL: settings.baseUrl,
    API_TOKEN: scriptApiToken(),
    SUMMARY_JSON: settings.summaryPath,
    ...Object.fromEntries(phases),
    ...DRILLS[plan.name].scriptEnv?.(plan, settings),
  }
}

/** `-e KEY=VALUE` arguments for k6. */
function envArguments(env: Readonly<Record<string, string>>): string[] {
  return Object.entries(env).flatMap(([key, value]) => ['-e', `${key}=${value}`])
}

/**
 * `k6 run` of any script with `-e` variables, output on this terminal; resolves with k6's exit code.
 *
 * ```ts
 * process.exitCode = await runWithK6('my-test.ts', { BASE_URL: 'http://127.0.0.1:3000' }, process.cwd())
 * ```
 */
export function runWithK6(
  script: string,
  env: Readonly<Record<string, string>>,
  cwd: string,
): Promise<number> {
  const child = spawn('k6', ['run', ...envArguments(env), script], { stdio: 'inherit', cwd })
  return exitCodeOf(child)
}

/**
 * Runs the plan's k6 script against `baseUrl`, with k6's own summary JSON and HTML dashboard
 * export written into `runDir`. Resolves with k6's exit code (99 when a threshold failed).
 */
export function runK6Engine(options: {
  env: ScriptSettings
  plan: ScenarioPlan
  runDir: string
  onLoadStart: (startedAt: number) => void
}): Promise<number> {
  const env = scriptEnv(options.plan, options.env)
  const child = spawn('k6', ['run', ...envArguments(env), scriptOf(options.plan)], {
    env: {
      ...process.env,
      K6_WEB_DASHBOARD: 'true',
      K6_WEB_DASHBOARD_EXPORT: path.join(options.runDir, 'k6-report.html'),
    },
    stdio: ['ignore', 'inherit', 'pipe'],
  })
  let started = false
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    process.stderr.write(chunk)
    if (!started && chunk.includes(LOAD_START_MARKER)) {
      started = true
      options.onLoadStart(performance.now())
    }
  })
  return exitCodeOf(child)
}

function exitCodeOf(child: ChildProcess): Promise<number> {
  return new Promise((resolve, reject) => {
    child.once('error', reject)
    child.once('exit', (code) => resolve(code ?? 1))
  })
}
