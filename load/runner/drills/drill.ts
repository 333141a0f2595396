// What a drill is, as data: its flags, plan, environment, fault and summary section. The runner,
// the command line, the help and the report read these records and name no drill themselves.
import type { ShutdownMode } from '@classroom/local-postgres'
import type { DrillName, ScenarioPlan } from '../../shared/scenarios.js'
import type { Exchange } from '../k6-runtime/http-bridge.js'
import type { ApiSample } from '../metrics-sampler.js'
import type { RequestRecord, ThresholdResult } from '../results.js'
import type { LoadOptions } from '../run-load.js'
import type { RunSummary } from '../run-summary.js'
import type { Stack, StackOptions } from '../stack.js'

/** The flags of `pnpm load <drill>` beside the common `--engine` and `--results-dir`. */
export type FlagName =
  | 'duration'
  | 'warmup'
  | 'before'
  | 'window'
  | 'after'
  | 'mode'
  | 'down-seconds'
  | 'promote-after'
  | 'async'
  | 'via'
  | 'read-your-writes'
  | 'capacity'
  | 'probe-seconds'
  | 'probe-users'
  | 'latency-ms'
  | 'deadline-ms'
  | 'base'
  | 'overload'
  | 'max-vus'
  | 'min-goodput'
  | 'max-p99-ms'
  | 'max-refusal-ms'
  | 'max-recovery-ms'

/** The flags as node's parseArgs read them. */
export type FlagValues = Readonly<Partial<Record<FlagName, string | boolean>>>

/** When a fault struck and when it was over, in `performance.now()` time. */
export interface FaultTimes {
  readonly from: number
  readonly to: number
}

/** What a drill learns before its load: the overload drill's measured capacity. */
export type Prepared = Readonly<Record<string, unknown>>

/** What a drill's summary section is built from, once the load is over. */
export interface SectionInput {
  readonly options: LoadOptions
  readonly plan: ScenarioPlan
  /** The load's records (setup apart); empty with `--engine k6`. */
  readonly records: readonly RequestRecord[]
  readonly samples: readonly ApiSample[]
  readonly fault: FaultTimes | undefined
  /** `performance.now()` when the load started. */
  readonly loadStartedAt: number
  readonly prepared: Prepared | undefined
}

/** A drill's part of the summary: its fields, the outage the pool's figures count around, its own verdicts. */
export interface DrillSection {
  readonly fields: Partial<RunSummary>
  readonly outage?: { readonly fromMs: number; readonly toMs: number }
  /** Judged by the runner beside the script's thresholds; a breached one exits 99 as they do. */
  readonly verdicts?: readonly ThresholdResult[]
}

/** A second ledger a drill keeps from the exchanges (the replicas drill's stale reads). */
export interface Watcher {
  record(exchange: Exchange, phase: string): void
  finish(): { readonly fields: Partial<RunSummary>; readonly passed: boolean }
}

/** One drill of `pnpm load`. */
export interface Drill {
  readonly name: DrillName
  /** How a refusal names it: "steady", "the failover drill". */
  readonly title: string
  /** Its k6 script, in `load/k6/`. */
  readonly script: string
  /** `pnpm load <name> --help`. */
  readonly usage: string
  /** Its lines in `pnpm load --help`. */
  readonly overview: string
  readonly flags: readonly FlagName[]
  /** Defaults of the shared flags where this drill's differ. */
  readonly defaults?: {
    readonly duration?: number
    readonly mode?: ShutdownMode
    readonly downSeconds?: number
    readonly before?: number
    readonly after?: number
  }
  /** Refuses flags or an environment it cannot run with (a {@link UsageError}). */
  refuse?(values: FlagValues, env: NodeJS.ProcessEnv): void
  /** Its own options, read from its flags. */
  read?(values: FlagValues, env: NodeJS.ProcessEnv): Partial<LoadOptions>
  plan(options: LoadOptions, prepared: Prepared | undefined): ScenarioPlan
  /** The `__ENV` its script reads beside the phase lengths, BASE_URL and SUMMARY_JSON. */
  scriptEnv?(plan: ScenarioPlan, settings: ScriptSettings): Record<string, string>
  /** The servers it needs and the api's environment. */
  environment?(options: LoadOptions): Partial<Omit<StackOptions, 'apiLogPath'>>
  /** Work before the load, on the started stack (the overload drill's capacity probe). */
  prepare?(stack: Stack, options: LoadOptions, runDir: string): Promise<Prepared>
  /** The fault struck at the plan's `faultAtSeconds`. */
  fault?(stack: Stack, options: LoadOptions): Promise<FaultTimes>
  /** Whether an acknowledged write may be lost without failing the ledger. */
  lossExpected?(options: LoadOptions): boolean
  watch?(options: LoadOptions): Watcher
  section?(input: SectionInput): DrillSection
  /** Its lines in the terminal summary. */
  lines?(summary: RunSummary): string[]
  /** Its instants, marked on the report's charts. */
  markers?(summary: RunSummary): { readonly x: number; readonly label: string }[]
  /** Its charts in the report (inline SVG), before the pool's. */
  charts?(summary: RunSummary): string[]
}

/** What a drill tells its script beside the plan. */
export interface ScriptSettings {
  readonly baseUrl: string
  readonly summaryPath: string
  readonly downSeconds: number
  /** replicas: whether the api reads writes back by position (default on); off, stale reads are not judged. */
  readonly readYourWrites?: boolean
}

/** Seconds from the start of the load, of a `performance.now()` instant. */
export const secondsFrom = (startedAt: number, at: number) => (at - startedAt) / 1000
