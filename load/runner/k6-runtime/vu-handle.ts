// The main thread's end of one VU: its worker, its messages, and the answers that wake it.
import path from 'node:path'
import { MessageChannel, type MessagePort, Worker } from 'node:worker_threads'
import { K6_RUNTIME_DIR } from '../package-paths.js'
import type { HttpBridge } from './http-bridge.js'
import { CELL, CELL_COUNT, type Command, type Report, type Sample, type VuWorkerData } from './protocol.js'

/** The script's init code, as a VU reports it once imported. */
export type Ready = Extract<Report, { t: 'ready' }>

/** What a VU's reports reach in the main thread. */
export interface VuHooks {
  readonly bridge: HttpBridge
  onSamples(samples: readonly Sample[]): void
  onMetric(report: Extract<Report, { t: 'metric' }>['metric']): void
  onConsole(level: string, text: string, vuId: number): void
  onAbort(reason: string): void
  /** A SharedArray VU 0 built: the VUs started after it get its elements instead of building their own. */
  onShared(name: string, items: readonly string[]): void
}

/** An error thrown inside a VU (setup(), teardown(), handleSummary() or its init code), with its stack. */
export class VuError extends Error {
  override readonly name = 'VuError'
}

const WORKER_FILE = path.join(K6_RUNTIME_DIR, 'vu-worker.js')

/**
 * The main thread's end of one VU: its worker, the port its reports arrive on, and the shared
 * cells it blocks on. HTTP calls are made on the bridge and answered by post + notify.
 */
export class VuHandle {
  /** Resolves once the script's init code ran in this VU. */
  readonly ready: Promise<Ready>
  private readonly worker: Worker
  private readonly port: MessagePort
  private readonly cells: Int32Array
  private pending: { resolve(value: unknown): void; reject(error: Error): void } | undefined
  private settleReady!: { resolve(value: Ready): void; reject(error: Error): void }

  constructor(
    readonly id: number,
    scriptUrl: string,
    env: Record<string, string>,
    private readonly hooks: VuHooks,
    shared: Readonly<Record<string, readonly string[]>> = {},
  ) {
    const buffer = new SharedArrayBuffer(CELL_COUNT * Int32Array.BYTES_PER_ELEMENT)
    this.cells = new Int32Array(buffer)
    const { port1, port2 } = new MessageChannel()
    this.port = port1
    const workerData: VuWorkerData = { scriptUrl, env, vuId: id, cells: buffer, port: port2, shared }
    this.worker = new Worker(WORKER_FILE, { workerData, transferList: [port2], stdout: false, stderr: false })
    this.ready = new Promise<Ready>((resolve, reject) => {
      this.settleReady = { resolve, reject }
    })
    // Rejections surface where ready is awaited.
    this.ready.catch(() => undefined)
    this.port.on('message', (report: Report) => this.receive(report))
    this.worker.on('error', (error) => this.fail(error))
    this.worker.on('exit', (code) => this.fail(new VuError(`VU ${id}'s worker exited (code ${code})`)))
  }

  /** Runs a command in the VU; resolves with its result, rejects with the VU's error. */
  command(command: Command): Promise<unknown> {
    if (this.pending) throw new Error(`VU ${this.id} is busy: one command at a time`)
    return new Promise((resolve, reject) => {
      this.pending = { resolve, reject }
      this.port.postMessage(command)
    })
  }

  /** Ends the VU's current iteration at its next HTTP answer or sleep, and keeps it from starting another. */
  stop(): void {
    Atomics.store(this.cells, CELL.stop, 1)
    Atomics.notify(this.cells, CELL.wake)
  }

  /** Ends the VU's loop once its current iteration is over (a ramping-vus ramp down). */
  release(): void {
    Atomics.store(this.cells, CELL.release, 1)
  }

  /** Lets the VU run iterations again (it is handed to the next scenario, or started again). */
  resume(): void {
    Atomics.store(this.cells, CELL.stop, 0)
    Atomics.store(this.cells, CELL.release, 0)
  }

  async terminate(): Promise<void> {
    this.worker.removeAllListeners('exit')
    this.port.close()
    await this.worker.terminate()
  }

  private receive(report: Report): void {
    switch (report.t) {
      case 'http':
        // The request leaves first; the samples that came with it are counted while it is out.
        this.answer(this.hooks.bridge.send(report.call, this.id))
        if (report.samples.length > 0) this.hooks.onSamples(report.samples)
        return
      case 'batch':
        this.answer(Promise.all(report.calls.map((call) => this.hooks.bridge.send(call, this.id))))
        if (report.samples.length > 0) this.hooks.onSamples(report.samples)
        return
      case 'shared':
        this.hooks.onShared(report.name, report.items)
        return
      case 'samples':
        this.hooks.onSamples(report.samples)
        return
      case 'metric':
        this.hooks.onMetric(report.metric)
        return
      case 'console':
        this.hooks.onConsole(report.level, report.text, this.id)
        return
      case 'abort':
        this.hooks.onAbort(report.reason)
        return
      case 'ready':
        this.settleReady.resolve(report)
        return
      case 'done':
      case 'failed': {
        if (report.samples.length > 0) this.hooks.onSamples(report.samples)
        const pending = this.pending
        this.pending = undefined
        if (report.t === 'done') pending?.resolve(report.result)
        else {
          const error = new VuError(report.error)
          if (pending) pending.reject(error)
          else this.settleReady.reject(error)
        }
      }
    }
  }

  /** Posts the answer to the VU blocked on it and wakes it (the bridge never rejects). */
  private answer(pending: Promise<unknown>): void {
    void pending.then((answer) => {
      this.port.postMessage(answer)
      Atomics.store(this.cells, CELL.answered, 1)
      Atomics.notify(this.cells, CELL.answered)
    })
  }

  private fail(error: Error): void {
    this.settleReady.reject(error)
    this.pending?.reject(error)
    this.pending = undefined
  }
}
