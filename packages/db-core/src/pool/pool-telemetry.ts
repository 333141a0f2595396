import {
  type Attributes,
  type BatchObservableCallback,
  type Counter,
  type Histogram,
  type Meter,
  type MeterProvider,
  metrics,
  type Observable,
} from '@opentelemetry/api'

/** The pool's live figures, read when a metric reader collects. */
export interface PoolGauges {
  idle(): number
  used(): number
  pending(): number
  /** Connections kept (`DB_POOL_SIZE`): the fewest idle ones the pool holds once opened. */
  readonly idleMin: number
  /** size + overflow. */
  readonly max: number
  /** Whether the wait queue is overloaded now (1) or not (0). */
  readonly overloaded: () => boolean
}

// OpenTelemetry's advice for connection-time histograms, in seconds: sub-millisecond to 10 s.
const TIME_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
const POOL_NAME = 'db.client.connection.pool.name'
const STATE = 'db.client.connection.state'

/**
 * The pool's metrics under OpenTelemetry's database client semantic conventions, through the
 * OpenTelemetry metrics API: `db.client.connection.count` (by `db.client.connection.state`, idle or
 * used), `.idle.min`, `.idle.max`, `.max`, `.pending_requests`, `.timeouts`, and the `.create_time`,
 * `.wait_time` and `.use_time` histograms (seconds), every one with `db.client.connection.pool.name`;
 * and db-core's own for the wait queue: `db.client.connection.queue_delay` (seconds a waiter spent
 * queued, served or refused), `db.client.connection.refusals` (by `reason`: `overloaded`,
 * `expected-wait`, `timeout`) and `db.client.connection.pool.overloaded` (1 while overloaded).
 * Without an SDK the API's meter is a no-op, and so is every call here.
 *
 * ```ts
 * const telemetry = new PoolTelemetry({
 *   poolName: 'db1:5432/app',
 *   gauges: {
 *     idle: () => pool.idleCount,
 *     used: () => pool.stats().active,
 *     pending: () => pool.waitingCount,
 *     idleMin: 20,
 *     max: 60,
 *     overloaded: () => pool.stats().overloaded,
 *   },
 * })
 * telemetry.waited(1.2) // a checkout waited 1.2 ms
 * ```
 */
export class PoolTelemetry {
  readonly #attributes: Attributes
  readonly #meter: Meter
  readonly #waitTime: Histogram
  readonly #useTime: Histogram
  readonly #createTime: Histogram
  readonly #timeouts: Counter
  readonly #queueDelay: Histogram
  readonly #refusals: Counter
  readonly #refusalAttributes: Record<string, Attributes>
  readonly #observables: Observable[]
  readonly #collect: BatchObservableCallback

  constructor({
    meterProvider = metrics.getMeterProvider(),
    poolName,
    gauges,
  }: {
    meterProvider?: MeterProvider
    poolName: string
    gauges: PoolGauges
  }) {
    this.#attributes = { [POOL_NAME]: poolName }
    const meter = meterProvider.getMeter('@classroom/db-core')
    this.#meter = meter
    const histogram = (name: string, description: string) =>
      meter.createHistogram(name, {
        description,
        unit: 's',
        advice: { explicitBucketBoundaries: TIME_BUCKETS },
      })
    this.#waitTime = histogram(
      'db.client.connection.wait_time',
      'The time it took to obtain an open connection from the pool',
    )
    this.#useTime = histogram(
      'db.client.connection.use_time',
      'The time between borrowing a connection and returning it to the pool',
    )
    this.#createTime = histogram(
      'db.client.connection.create_time',
      'The time it took to create a new connection',
    )
    this.#timeouts = meter.createCounter('db.client.connection.timeouts', {
      description:
        'The number of connection timeouts that have occurred trying to obtain a connection from the pool',
      unit: '{timeout}',
    })
    this.#queueDelay = histogram(
      'db.client.connection.queue_delay',
      'The time a request waited in the pool queue before it was served, refused or gave up',
    )
    this.#refusals = meter.createCounter('db.client.connection.refusals', {
      description:
        'Requests the pool refused a connection, by reason: overloaded (not served within the overloaded queue budget), expected-wait (deadline shorter than the wait ahead), timeout (acquire deadline passed)',
      unit: '{request}',
    })
    this.#refusalAttributes = {}
    const gauge = (name: string, description: string, unit = '{connection}') =>
      meter.createObservableUpDownCounter(name, { description, unit })
    const count = gauge(
      'db.client.connection.count',
      'The number of connections that are currently in state described by the state attribute',
    )
    const idleMin = gauge(
      'db.client.connection.idle.min',
      'The minimum number of idle open connections allowed',
    )
    const idleMax = gauge(
      'db.client.connection.idle.max',
      'The maximum number of idle open connections allowed',
    )
    const max = gauge('db.client.connection.max', 'The maximum number of open connections allowed')
    const pending = gauge(
      'db.client.connection.pending_requests',
      'The number of current pending requests for an open connection',
      '{request}',
    )
    const overloaded = meter.createObservableGauge('db.client.connection.pool.overloaded', {
      description: 'Whether the pool wait queue is overloaded now (1) or not (0)',
      unit: '1',
    })
    this.#observables = [count, idleMin, idleMax, max, pending, overloaded]
    const attributes = this.#attributes
    this.#collect = (result) => {
      result.observe(count, gauges.idle(), { ...attributes, [STATE]: 'idle' })
      result.observe(count, gauges.used(), { ...attributes, [STATE]: 'used' })
      result.observe(idleMin, gauges.idleMin, attributes)
      // Overflow connections may idle too, until DB_POOL_OVERFLOW_IDLE_MS closes them.
      result.observe(idleMax, gauges.max, attributes)
      result.observe(max, gauges.max, attributes)
      result.observe(pending, gauges.pending(), attributes)
      result.observe(overloaded, gauges.overloaded() ? 1 : 0, attributes)
    }
    meter.addBatchObservableCallback(this.#collect, this.#observables)
  }

  /** A checkout obtained its connection after `ms` milliseconds. */
  waited(ms: number): void {
    this.#waitTime.record(ms / 1000, this.#attributes)
  }

  /** A checkout held its connection `ms` milliseconds. */
  used(ms: number): void {
    this.#useTime.record(ms / 1000, this.#attributes)
  }

  /** A new connection took `ms` milliseconds to open (and to qualify, with `target_session_attrs`). */
  created(ms: number): void {
    this.#createTime.record(ms / 1000, this.#attributes)
  }

  /** A checkout gave up: the pool stayed full past the acquire timeout. */
  timedOut(): void {
    this.#timeouts.add(1, this.#attributes)
    this.refused('timeout')
  }

  /** A waiter left the queue after `ms` milliseconds. */
  queued(ms: number): void {
    this.#queueDelay.record(ms / 1000, this.#attributes)
  }

  /** A checkout was refused, for `reason`. */
  refused(reason: 'overloaded' | 'expected-wait' | 'timeout'): void {
    this.#refusalAttributes[reason] ??= { ...this.#attributes, reason }
    this.#refusals.add(1, this.#refusalAttributes[reason])
  }

  /** The pool ended: its gauges are no longer reported. */
  stop(): void {
    this.#meter.removeBatchObservableCallback(this.#collect, this.#observables)
  }
}
