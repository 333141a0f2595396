import {
  type Attributes,
  type Context,
  context,
  createContextKey,
  INVALID_SPAN_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  type Tracer,
  type TracerProvider,
  trace,
} from '@opentelemetry/api'
import { suppressTracing } from '@opentelemetry/core'

const TRACER_NAME = '@classroom/db-core'
// instrumentation-pg's name for a pool checkout: one per checkout, as a plain pg.Pool shows it.
const CHECKOUT_SPAN = 'pg-pool.connect'
const READ_RETRY_SPAN = 'db-core.read-retry'
const CHECKOUT = createContextKey('db-core checkout span')
/** Set in the context of a read's second run: which attempt it is (2). */
export const READ_RETRY_ATTEMPT = createContextKey('db-core read retry attempt')

/**
 * The span of one checkout. Its inner steps (pg-pool's connect, each new connection, pre-pings,
 * a role check) run in {@link internal}, where tracing is suppressed: however many connections it
 * took, the trace shows one checkout and only the caller's own queries.
 */
export class CheckoutSpan {
  readonly #span: Span
  /** The context the checkout's own steps run in: this span current, tracing suppressed. */
  readonly internal: Context
  #prePings = 0
  #discarded = 0

  constructor(span: Span, parent: Context) {
    this.#span = span
    this.internal = suppressTracing(trace.setSpan(parent, span).setValue(CHECKOUT, this))
  }

  /** The checkout a step of it is running for, if it is traced. */
  static current(): CheckoutSpan | undefined {
    return context.active().getValue(CHECKOUT) as CheckoutSpan | undefined
  }

  /** A pre-ping ran on a connection before it was handed out (or discarded). */
  prePinged(): void {
    this.#prePings++
  }

  /** A connection was passed over: `reason` is why (`pre-ping`, `recycle`, `read-only`...). */
  discarded(reason: string): void {
    this.#discarded++
    this.#span.addEvent('connection discarded', { 'db_core.discard.reason': reason })
  }

  /** Ends the span: the server the connection is on, or the error the checkout ended in. */
  end(error: unknown, server?: { host?: string; port?: number }): void {
    const span = this.#span
    span.setAttribute('db_core.checkout.pre_pings', this.#prePings)
    span.setAttribute('db_core.checkout.connections_discarded', this.#discarded)
    if (server?.host) span.setAttribute('server.address', server.host)
    if (server?.port) span.setAttribute('server.port', server.port)
    if (error !== undefined) {
      const exception = error instanceof Error ? error : new Error(String(error))
      span.recordException(exception)
      span.setStatus({ code: SpanStatusCode.ERROR, message: exception.message })
      if ((error as { code?: unknown }).code !== undefined)
        span.setAttribute('error.type', String((error as { code: unknown }).code))
    }
    span.end()
  }
}

/**
 * The pool's OpenTelemetry traces: one `pg-pool.connect` span per checkout, a
 * `db-core.read-retry` span around the second run of a read, and nothing at all for the pool's
 * own work (pre-pings, new connections; the reconnect loop, started by a checkout, inherits its
 * suppressed context). Without an SDK the API's tracer is a no-op: each
 * checkout then costs one span object the no-op tracer hands back, and nothing more.
 *
 * ```ts
 * const tracing = new PoolTracing({ poolName: 'db1:5432/app', database: 'app' })
 * const span = tracing.startCheckout() // undefined without a tracing SDK
 * span?.end(undefined, { host: 'db1', port: 5432 })
 * ```
 */
export class PoolTracing {
  readonly #tracer: Tracer
  readonly #attributes: Attributes

  constructor({
    tracerProvider = trace.getTracerProvider(),
    poolName,
    database,
  }: {
    tracerProvider?: TracerProvider
    poolName: string
    database: string
  }) {
    this.#tracer = tracerProvider.getTracer(TRACER_NAME)
    this.#attributes = {
      'db.system.name': 'postgresql',
      'db.namespace': database,
      'db.client.connection.pool.name': poolName,
    }
  }

  /** The span of a checkout starting now, or `undefined` when nothing records traces. */
  startCheckout(): CheckoutSpan | undefined {
    const parent = context.active()
    const span = this.#tracer.startSpan(
      CHECKOUT_SPAN,
      { kind: SpanKind.CLIENT, attributes: this.#attributes },
      parent,
    )
    // The no-op tracer's spans (no SDK, or tracing suppressed here) all carry this very object.
    if (span.spanContext() === INVALID_SPAN_CONTEXT) return undefined
    return new CheckoutSpan(span, parent)
  }

  /** Runs `checkout` (a checkout not made through `connect()`) under a checkout span of its own. */
  traceCheckout<T extends { host?: string; port?: number }>(checkout: () => Promise<T>): Promise<T> {
    const span = this.startCheckout()
    if (!span) return checkout()
    return context.with(span.internal, checkout).then(
      (client) => {
        span.end(undefined, client)
        return client
      },
      (error: unknown) => {
        span.end(error)
        throw error
      },
    )
  }

  /**
   * Runs the second attempt of a read under a `db-core.read-retry` span: its checkout and its
   * query are children of it, so the trace shows the query twice, the second marked as a retry.
   */
  async traceReadRetry<T>(cause: unknown, retry: () => Promise<T>): Promise<T> {
    const span = this.#tracer.startSpan(READ_RETRY_SPAN, {
      kind: SpanKind.INTERNAL,
      attributes: {
        ...this.#attributes,
        'db_core.retry.attempt': 2,
        'db_core.retry.reason': cause instanceof Error ? cause.message : String(cause),
      },
    })
    if (span.spanContext() === INVALID_SPAN_CONTEXT) return retry()
    try {
      return await context.with(trace.setSpan(context.active(), span).setValue(READ_RETRY_ATTEMPT, 2), retry)
    } catch (error) {
      span.setStatus({
        code: SpanStatusCode.ERROR,
        message: error instanceof Error ? error.message : String(error),
      })
      throw error
    } finally {
      span.end()
    }
  }
}
