// The VU a worker thread is: its ids, scenario, group and tags, pending samples, and its blocking calls.
import { type MessagePort, receiveMessageOnPort, workerData } from 'node:worker_threads'
import {
  CELL,
  type HttpAnswer,
  type HttpCall,
  type MetricDeclaration,
  type Report,
  type Sample,
  type ScenarioRun,
  type VuWorkerData,
} from './protocol.js'

/** Thrown inside a VU to end its iteration when the main thread stops it; never counted as an iteration. */
export class IterationInterrupted extends Error {
  override readonly name = 'IterationInterrupted'
}

/** Thrown inside a VU by `exec.test.abort()`: the whole test stops. */
export class TestAborted extends Error {
  override readonly name = 'TestAborted'
}

// Samples leave in batches: with an HTTP call, or at an iteration's end once this many wait or this long passed.
const BATCH_SIZE = 64
const BATCH_MS = 250

/**
 * The state of the VU this worker is: its ids, its scenario, its tags, its pending samples, and
 * the blocking calls that make k6's synchronous API (HTTP, sleep) on top of the main thread.
 */
class VuContext {
  readonly vuId: number
  private readonly port: MessagePort
  private readonly cells: Int32Array
  /** `exec.vu.tags`: tags the script sets on its VU, added to every sample after. */
  readonly vuTags: Record<string, string> = {}
  scenario: ScenarioRun | null = null
  iterationInScenario = 0
  /** The scenario the VU last ran, so its iteration count goes on across one-iteration runs (arrival rates). */
  lastScenario: string | null = null
  iterationInInstance = 0
  iterationInTest = 0
  /** The script's `options` export, for `exec.test.options`. */
  options: unknown = {}
  /** `http.setResponseCallback`: status ranges counted as expected; null turns http_req_failed off. */
  expected: readonly (readonly [number, number])[] | null = [[200, 399]]
  /** True while the script's init code runs: metrics may be declared only then. */
  inInit = true
  readonly declared: MetricDeclaration[] = []
  private pending: Sample[] = []
  private lastFlush = Date.now()
  private baseTags: Record<string, string> = {}

  constructor(data: VuWorkerData) {
    this.vuId = data.vuId
    this.port = data.port
    this.cells = new Int32Array(data.cells)
    this.shared = data.shared
  }

  /**
   * The group the VU is in, as k6 tags it: '' at the root, `::name` inside `group('name')`,
   * `::outer::inner` nested; setup() and teardown() run in `::setup` and `::teardown`.
   */
  group = ''
  /** `k6/data` SharedArrays the lead VU built, by name, each element as JSON. */
  readonly shared: Readonly<Record<string, readonly string[]>>

  /** Tags every sample of this VU carries now: the scenario's, `scenario`, `group`, and the VU's own. */
  tags(): Record<string, string> {
    return this.baseTags
  }

  /** Recomputes {@link tags} after the scenario or `exec.vu.tags` changed. */
  retag(): void {
    this.baseTags = {
      ...(this.scenario && { ...this.scenario.tags, scenario: this.scenario.name }),
      group: this.group,
      ...this.vuTags,
    }
  }

  post(report: Report): void {
    this.port.postMessage(report)
  }

  /** Queues one sample; it leaves with the next HTTP call or batch. */
  record(name: string, value: number, tags: Record<string, string> = this.baseTags): void {
    this.pending.push([name, value, tags])
  }

  /** Hands over the queued samples (for a message that carries them). */
  takeSamples(): Sample[] {
    const samples = this.pending
    this.pending = []
    this.lastFlush = Date.now()
    return samples
  }

  /** Sends queued samples if enough are waiting or enough time passed. */
  flushIfDue(): void {
    if (
      this.pending.length >= BATCH_SIZE ||
      (this.pending.length > 0 && Date.now() - this.lastFlush >= BATCH_MS)
    )
      this.post({ t: 'samples', samples: this.takeSamples() })
  }

  /** Makes an HTTP call through the main thread and blocks until its answer is posted back. */
  http(call: HttpCall): HttpAnswer {
    return this.#exchange({ t: 'http', call, samples: this.takeSamples() }) as HttpAnswer
  }

  /** Makes the calls at once through the main thread (`http.batch`); blocks until all are answered. */
  httpBatch(calls: readonly HttpCall[]): HttpAnswer[] {
    return this.#exchange({ t: 'batch', calls, samples: this.takeSamples() }) as HttpAnswer[]
  }

  /** Posts a request the main thread answers, and blocks until the answer is posted back. */
  #exchange(report: Report): unknown {
    this.throwIfStopped()
    Atomics.store(this.cells, CELL.answered, 0)
    this.post(report)
    while (Atomics.load(this.cells, CELL.answered) === 0) Atomics.wait(this.cells, CELL.answered, 0)
    const answer = receiveMessageOnPort(this.port)?.message as unknown
    this.throwIfStopped()
    if (answer === undefined) throw new Error('the main thread signalled an HTTP answer but posted none')
    return answer
  }

  /** Blocks for `seconds`, cut short (and the iteration ended) when the VU is stopped. */
  sleep(seconds: number): void {
    this.throwIfStopped()
    const until = Date.now() + seconds * 1000
    for (let left = seconds * 1000; left > 0; left = until - Date.now()) {
      Atomics.wait(this.cells, CELL.wake, 0, left)
      this.throwIfStopped()
    }
  }

  stopped(): boolean {
    return Atomics.load(this.cells, CELL.stop) === 1
  }

  /** Whether the main thread asked this VU to end its loop after the current iteration. */
  released(): boolean {
    return Atomics.load(this.cells, CELL.release) === 1
  }

  throwIfStopped(): void {
    if (this.stopped()) throw new IterationInterrupted('the VU was stopped')
  }
}

let current: VuContext | undefined

/** The VU this worker runs; only inside a VU worker, where the k6 modules live. */
export function vu(): VuContext {
  if (!current) {
    if (!workerData || typeof (workerData as VuWorkerData).vuId !== 'number')
      throw new Error('the k6 modules run only inside a VU of the built-in engine (pnpm load run)')
    current = new VuContext(workerData as VuWorkerData)
  }
  return current
}
