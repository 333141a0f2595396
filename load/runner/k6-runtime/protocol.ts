/**
 * The messages between the main thread and a VU's worker, and the shared cells the worker blocks on.
 * One MessagePort per VU carries both directions, so a VU's samples always arrive before what follows them.
 */
import type { MessagePort } from 'node:worker_threads'
import type { MetricType } from './metric-sinks.js'

/** Indexes into a VU's shared Int32Array. */
export const CELL = {
  /** Set to 1 by the main thread once an HTTP answer is posted. */
  answered: 0,
  /** Set to 1 by the main thread to interrupt the VU's iteration (graceful stop over, or the test aborted). */
  stop: 1,
  /** Never written: `sleep()` waits on it with a timeout; a notify cuts the sleep short. */
  wake: 2,
  /** Set to 1 by the main thread to end the VU's loop after its current iteration (a ramp down). */
  release: 3,
} as const
export const CELL_COUNT = 4

/** What a worker is started with. */
export interface VuWorkerData {
  /** The transpiled script's file URL. */
  readonly scriptUrl: string
  readonly env: Record<string, string>
  /** 0 for the VU that runs setup(), teardown() and handleSummary(), as in k6. */
  readonly vuId: number
  readonly cells: SharedArrayBuffer
  readonly port: MessagePort
  /** The `k6/data` SharedArrays VU 0 built in its init code: their elements as JSON, by name. */
  readonly shared: Readonly<Record<string, readonly string[]>>
}

/** One sample a VU measured: metric name, value, tags. */
export type Sample = readonly [name: string, value: number, tags: Record<string, string>]

/** An HTTP call as the VU asks the main thread to make it. */
export interface HttpCall {
  readonly method: string
  readonly url: string
  readonly body: string | null
  readonly headers: Record<string, string>
  /** The scenario's, the VU's and the call's tags merged; `name` defaults to the URL. */
  readonly tags: Record<string, string>
  readonly timeoutMs: number
  /** Statuses counted as expected for `http_req_failed`; `null`: http_req_failed is not emitted. */
  readonly expected: readonly (readonly [min: number, max: number])[] | null
}

/** The answer, or the error that stood in for one (status 0). */
export interface HttpAnswer {
  readonly status: number
  readonly body: string
  readonly headers: Record<string, string>
  readonly durationMs: number
  readonly error: string
  readonly errorCode: number
}

/** What the main thread tells an idle VU to do. */
export type Command =
  | { readonly t: 'setup' }
  | {
      readonly t: 'run'
      readonly scenario: ScenarioRun
      /** setup()'s result, as JSON (k6 hands it to VUs serialised). */
      readonly data: string | null
    }
  | { readonly t: 'teardown'; readonly data: string | null }
  | { readonly t: 'summary'; readonly data: unknown }

/** A scenario as one VU plays it. */
export interface ScenarioRun {
  readonly name: string
  readonly executor: string
  readonly exec: string
  readonly tags: Record<string, string>
  /**
   * Milliseconds, from when the main thread sent this, after which no iteration starts. A span, not
   * an instant: each thread times it on its own monotonic clock, from the moment it has the command,
   * so no VU stops before the main thread's deadline (`Date.now()` is whole milliseconds and a
   * wall clock).
   */
  readonly msLeft: number
  /** `Date.now()` at the scenario's start, for `exec.scenario.startTime`. */
  readonly startedAt: number
  /** per-vu-iterations: this VU's count; arrival rates: 1 (one iteration per start); otherwise Infinity. */
  readonly iterations: number
  /** One Int32 all the scenario's VUs claim iteration numbers from (`exec.scenario.iterationInTest`). */
  readonly counter: SharedArrayBuffer
  /** shared-iterations: the iterations of all VUs together; otherwise null. */
  readonly sharedTotal: number | null
}

/** What a VU tells the main thread. */
export type Report =
  | {
      readonly t: 'ready'
      readonly metrics: readonly MetricDeclaration[]
      /** The names of the script's exported functions. */
      readonly exports: readonly string[]
      /** The script's exported `options`. */
      readonly options: Record<string, unknown>
    }
  | { readonly t: 'http'; readonly call: HttpCall; readonly samples: readonly Sample[] }
  | { readonly t: 'batch'; readonly calls: readonly HttpCall[]; readonly samples: readonly Sample[] }
  | { readonly t: 'shared'; readonly name: string; readonly items: readonly string[] }
  | { readonly t: 'samples'; readonly samples: readonly Sample[] }
  | { readonly t: 'metric'; readonly metric: MetricDeclaration }
  | { readonly t: 'console'; readonly level: 'info' | 'warn' | 'error' | 'debug'; readonly text: string }
  | { readonly t: 'done'; readonly result: unknown; readonly samples: readonly Sample[] }
  | { readonly t: 'failed'; readonly error: string; readonly samples: readonly Sample[] }
  | { readonly t: 'abort'; readonly reason: string }

export interface MetricDeclaration {
  readonly name: string
  readonly type: MetricType
  readonly isTime: boolean
}
