import { createRequire } from 'node:module'
import { createTestDatabase } from '@classroom/local-postgres'
import { type ApiProcess, spawnApi } from '@classroom/test-kit'
import { trace } from '@opentelemetry/api'
import { BasicTracerProvider } from '@opentelemetry/sdk-trace-base'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { tracerProviderRegistered, tracingRequested } from '../src/tracing.js'
import { type ReceivedSpan, startOtlpReceiver } from './otlp-receiver.js'
import { API_ENTRY, request } from './support.js'

const SERVER = 2
const CLIENT = 3
// W3C trace context a caller sends: its trace id must be the request's.
const CALLER_TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736'
const traceparent = `00-${CALLER_TRACE_ID}-00f067aa0ba902b7-01`

let receiver: Awaited<ReturnType<typeof startOtlpReceiver>>
let databaseUrl: string

beforeAll(async () => {
  receiver = await startOtlpReceiver()
  databaseUrl = await createTestDatabase(inject('databaseUrl'), 'api_tracing')
})

afterAll(async () => {
  await receiver.close()
})

/** The api as `pnpm start` runs it, exporting to the receiver by the standard variables. */
function startTracedApi(
  env: Record<string, string> = {},
  { nodeArgs = [], onLine }: { nodeArgs?: string[]; onLine?: (line: string) => void } = {},
): Promise<ApiProcess> {
  return spawnApi({
    entry: API_ENTRY,
    nodeArgs,
    ...(onLine && { onLine }),
    env: {
      DATABASE_URL: databaseUrl,
      LOG_LEVEL: 'warn',
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_BSP_SCHEDULE_DELAY: '100',
      OTEL_METRIC_EXPORT_INTERVAL: '300',
      ...env,
    },
  })
}

async function stop(api: ApiProcess): Promise<void> {
  api.child.kill('SIGTERM')
  expect(await api.exited).toBe(0)
}

/** Waits until `ready` holds of the spans received (the SDK exports in batches). */
async function spansUntil(
  ready: (spans: ReceivedSpan[]) => boolean,
  timeoutMs = 10_000,
): Promise<ReceivedSpan[]> {
  const deadline = Date.now() + timeoutMs
  while (!ready(receiver.spans)) {
    if (Date.now() > deadline)
      throw new Error(`spans never arrived; got ${receiver.spans.map((s) => s.name)}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  return [...receiver.spans]
}

const inTrace = (spans: ReceivedSpan[], traceId: string) => spans.filter((span) => span.traceId === traceId)
const childrenOf = (spans: ReceivedSpan[], parent: ReceivedSpan) =>
  spans.filter((span) => span.parentSpanId === parent.spanId)

/** The request's trace: its server span and the spans beneath it. */
function requestTrace(spans: ReceivedSpan[], traceId: string) {
  const trace = inTrace(spans, traceId)
  const server = trace.find((span) => span.kind === SERVER)
  if (!server) throw new Error(`no server span in trace ${traceId}`)
  const children = childrenOf(trace, server)
  return {
    server,
    checkouts: children.filter((span) => span.name === 'pg-pool.connect'),
    queries: children.filter((span) => span.name.startsWith('pg.query')),
    all: trace,
  }
}

describe('tracing through OpenTelemetry', () => {
  it('tracingRequested follows the SDK variables: an endpoint or an exporter, never when disabled or none', () => {
    expect(tracingRequested({})).toBe(false)
    expect(tracingRequested({ OTEL_SERVICE_NAME: 'classroom-api' })).toBe(false)
    expect(tracingRequested({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' })).toBe(true)
    expect(tracingRequested({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://collector:4318/v1/traces' })).toBe(
      true,
    )
    expect(tracingRequested({ OTEL_TRACES_EXPORTER: 'console' })).toBe(true)
    expect(
      tracingRequested({ OTEL_TRACES_EXPORTER: 'none', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' }),
    ).toBe(false)
    expect(
      tracingRequested({ OTEL_SDK_DISABLED: 'true', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' }),
    ).toBe(false)
    expect(tracingRequested({ OTEL_EXPORTER_OTLP_ENDPOINT: '  ' })).toBe(false)
  })

  it('exports by OTEL_EXPORTER_OTLP_ENDPOINT: a read is one server span named by its route, one checkout and one query beneath it, in the caller’s trace', async () => {
    const api = await startTracedApi({ OTEL_SERVICE_NAME: 'classroom-api-traced' })
    try {
      const created = await request(api.url, 'POST', '/classrooms', { name: 'Traced', capacity: 3 })
      expect(created.status).toBe(201)
      const read = await request(api.url, 'GET', `/classrooms/${created.body.id}`, undefined, { traceparent })
      expect(read.status).toBe(200)
      const spans = await spansUntil((all) =>
        inTrace(all, CALLER_TRACE_ID).some((span) => span.kind === SERVER),
      )
      const { server, checkouts, queries, all } = requestTrace(spans, CALLER_TRACE_ID)
      expect(server.name).toBe('GET /classrooms/:id')
      expect(server.attributes['http.route']).toBe('/classrooms/:id')
      expect(server.service).toBe('classroom-api-traced')
      expect(checkouts).toHaveLength(1)
      expect(checkouts[0]).toMatchObject({ kind: CLIENT, scope: '@classroom/db-core' })
      expect(queries).toHaveLength(1)
      expect(queries[0]!.attributes['db.query.text']).toMatch(/^select .* from "classrooms"/)
      // Named by its operation, not by the hash db-core prepares it under.
      expect(queries[0]!.name).toBe(`pg.query:SELECT ${new URL(databaseUrl).pathname.slice(1)}`)
      // Nothing else: no pre-ping, no connection opening, no second checkout.
      expect(all).toHaveLength(3)
    } finally {
      await stop(api)
    }
  })

  it('a write: one checkout, and its transaction’s statements each under the request’s span (BEGIN under its first statement’s)', async () => {
    const api = await startTracedApi()
    try {
      const traceId = 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa1'
      const created = await request(
        api.url,
        'POST',
        '/classrooms',
        { name: 'Written', capacity: 2 },
        {
          traceparent: `00-${traceId}-00f067aa0ba902b7-01`,
          'idempotency-key': 'tracing-write-1',
        },
      )
      expect(created.status).toBe(201)
      const spans = await spansUntil((all) => inTrace(all, traceId).some((span) => span.kind === SERVER))
      const { server, checkouts, queries } = requestTrace(spans, traceId)
      expect(server.name).toBe('POST /classrooms')
      expect(server.service).toBe('classroom-api')
      expect(checkouts).toHaveLength(1)
      const texts = queries.map((span) => String(span.attributes['db.query.text']).toLowerCase())
      // BEGIN goes out with the transaction's first statement, under that statement's span.
      expect(texts.filter((text) => /^(begin|start transaction)/.test(text))).toEqual([])
      expect(texts[0]).toMatch(/^insert into "idempotency_keys"/)
      expect(texts.at(-1)).toBe('commit')
      expect(texts.some((text) => text.startsWith('insert into "classrooms"'))).toBe(true)
    } finally {
      await stop(api)
    }
  })

  it('the pool’s metrics go out under the semantic-convention names, with the pool’s name', async () => {
    const api = await startTracedApi()
    try {
      expect((await request(api.url, 'GET', '/classrooms')).status).toBe(200)
      const deadline = Date.now() + 10_000
      const names = () => new Set(receiver.metrics.map((metric) => metric.name))
      while (!names().has('db.client.connection.wait_time') && Date.now() < deadline)
        await new Promise((resolve) => setTimeout(resolve, 100))
      for (const name of [
        'db.client.connection.count',
        'db.client.connection.max',
        'db.client.connection.wait_time',
        'db.client.connection.use_time',
      ])
        expect(names()).toContain(name)
      const count = receiver.metrics.find((metric) => metric.name === 'db.client.connection.count')
      expect(count?.points[0]?.['db.client.connection.pool.name']).toEqual(expect.any(String))
    } finally {
      await stop(api)
    }
  })

  it('with auto-instrumentations-node preloaded, as most services start, the api adds no second SDK and its spans are the same', async () => {
    const register = createRequire(import.meta.url).resolve(
      '@opentelemetry/auto-instrumentations-node/register',
    )
    const api = await startTracedApi(
      { OTEL_NODE_ENABLED_INSTRUMENTATIONS: 'http,pg,net,dns' },
      {
        nodeArgs: ['--require', register],
      },
    )
    try {
      const traceId = 'bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb2'
      const read = await request(api.url, 'GET', '/classrooms', undefined, {
        traceparent: `00-${traceId}-00f067aa0ba902b7-01`,
      })
      expect(read.status).toBe(200)
      const spans = await spansUntil((all) => inTrace(all, traceId).some((span) => span.kind === SERVER))
      const servers = inTrace(spans, traceId).filter((span) => span.kind === SERVER)
      expect(servers).toHaveLength(1)
      // The preloaded SDK's spans only (it names the service by the executable: OTEL_SERVICE_NAME is
      // the service's to set), none under the name the api gives its own SDK.
      const services = new Set(inTrace(spans, traceId).map((span) => span.service))
      expect([...services]).toEqual([expect.stringMatching(/^unknown_service/)])
      const { server, checkouts, queries } = requestTrace(spans, traceId)
      expect(server.name).toBe('GET /classrooms')
      expect(checkouts).toHaveLength(1)
      expect(queries.length).toBeGreaterThanOrEqual(1)
    } finally {
      await stop(api)
    }
  })

  it('tracerProviderRegistered tells a registered SDK from the API’s no-op', () => {
    expect(tracerProviderRegistered()).toBe(false)
    trace.setGlobalTracerProvider(new BasicTracerProvider())
    try {
      expect(tracerProviderRegistered()).toBe(true)
    } finally {
      trace.disable()
    }
    expect(tracerProviderRegistered()).toBe(false)
  })

  it('warns, and still exits 0, when the last traces cannot be flushed at shutdown (the collector is gone)', async () => {
    const collector = await startOtlpReceiver()
    const lines: string[] = []
    // Spans wait in the batch until shutdown, and the export gives up within half a second.
    const api = await startTracedApi(
      {
        OTEL_EXPORTER_OTLP_ENDPOINT: collector.endpoint,
        OTEL_BSP_SCHEDULE_DELAY: '60000',
        OTEL_METRIC_EXPORT_INTERVAL: '60000',
        OTEL_EXPORTER_OTLP_TIMEOUT: '500',
      },
      { onLine: (line) => lines.push(line) },
    )
    expect((await request(api.url, 'GET', '/classrooms')).status).toBe(200)
    await collector.close()
    await stop(api)
    expect(collector.spans).toEqual([])
    const logged = lines.filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as object)
    expect(logged).toContainEqual(
      expect.objectContaining({ level: 'warn', message: 'could not flush the last traces' }),
    )
  })

  it('with OTEL_SDK_DISABLED=true nothing is exported, endpoint or not', async () => {
    const before = receiver.spans.length
    const api = await startTracedApi({ OTEL_SDK_DISABLED: 'true' })
    try {
      expect((await request(api.url, 'GET', '/classrooms')).status).toBe(200)
    } finally {
      await stop(api)
    }
    expect(receiver.spans.length).toBe(before)
  })
})
