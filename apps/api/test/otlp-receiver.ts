import { createServer } from 'node:http'

/** A span as OTLP/JSON carries it, with its resource's and scope's names beside it. */
export interface ReceivedSpan {
  readonly traceId: string
  readonly spanId: string
  readonly parentSpanId: string
  readonly name: string
  /** OTLP's enum: 1 internal, 2 server, 3 client. */
  readonly kind: number
  readonly scope: string
  readonly service: string
  readonly attributes: Record<string, unknown>
  readonly status: { code?: number }
}

/** A metric's name and the attributes of each of its data points. */
export interface ReceivedMetric {
  readonly name: string
  readonly points: Record<string, unknown>[]
}

interface KeyValue {
  key: string
  value: Record<string, unknown>
}

const flatten = (attributes: KeyValue[] = []) =>
  Object.fromEntries(attributes.map(({ key, value }) => [key, Object.values(value)[0]]))

/**
 * A small OTLP/HTTP receiver (JSON encoding, `OTEL_EXPORTER_OTLP_PROTOCOL=http/json`): what an
 * OpenTelemetry Collector would get at `/v1/traces` and `/v1/metrics`, kept for a test to read.
 */
export async function startOtlpReceiver(): Promise<{
  endpoint: string
  spans: ReceivedSpan[]
  metrics: ReceivedMetric[]
  close(): Promise<void>
}> {
  const spans: ReceivedSpan[] = []
  const metrics: ReceivedMetric[] = []
  const server = createServer((request, response) => {
    let body = ''
    request.setEncoding('utf8').on('data', (chunk: string) => {
      body += chunk
    })
    request.on('end', () => {
      const payload = JSON.parse(body || '{}')
      for (const resourceSpans of payload.resourceSpans ?? []) {
        const service = String(flatten(resourceSpans.resource?.attributes)['service.name'])
        for (const scopeSpans of resourceSpans.scopeSpans ?? []) {
          for (const span of scopeSpans.spans ?? []) {
            spans.push({
              traceId: span.traceId,
              spanId: span.spanId,
              parentSpanId: span.parentSpanId ?? '',
              name: span.name,
              kind: span.kind,
              scope: scopeSpans.scope?.name,
              service,
              attributes: flatten(span.attributes),
              status: span.status ?? {},
            })
          }
        }
      }
      for (const resourceMetrics of payload.resourceMetrics ?? []) {
        for (const scopeMetrics of resourceMetrics.scopeMetrics ?? []) {
          for (const metric of scopeMetrics.metrics ?? []) {
            const data = metric.sum ?? metric.gauge ?? metric.histogram ?? {}
            metrics.push({
              name: metric.name,
              points: (data.dataPoints ?? []).map((point: { attributes?: KeyValue[] }) =>
                flatten(point.attributes),
              ),
            })
          }
        }
      }
      response.writeHead(200, { 'content-type': 'application/json' }).end('{}')
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  return {
    endpoint: `http://127.0.0.1:${port}`,
    spans,
    metrics,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  }
}
