import { ProxyTracerProvider, trace } from '@opentelemetry/api'
import type { FastifyRequest } from 'fastify'

/** A started OpenTelemetry SDK: flush and stop it last, after the api has closed. */
export interface Tracing {
  shutdown(): Promise<void>
}

/** The OTLP endpoint variables: setting one of them asks for traces (and metrics) to be exported. */
const ENDPOINT_VARIABLES = ['OTEL_EXPORTER_OTLP_ENDPOINT', 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT'] as const

/**
 * Whether `env` asks for OpenTelemetry, as the SDK's own variables say: an OTLP endpoint, or
 * `OTEL_TRACES_EXPORTER` naming an exporter other than `none`; never with `OTEL_SDK_DISABLED=true`.
 *
 * ```ts
 * tracingRequested({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }) // true
 * tracingRequested({}) // false: nothing is loaded, nothing is traced
 * ```
 */
export function tracingRequested(env: NodeJS.ProcessEnv): boolean {
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true') return false
  const exporters = (env.OTEL_TRACES_EXPORTER ?? '')
    .split(',')
    .map((name) => name.trim())
    .filter((name) => name !== '')
  if (exporters.length > 0) return !exporters.includes('none')
  return ENDPOINT_VARIABLES.some((name) => (env[name] ?? '').trim() !== '')
}

/**
 * Whether an OpenTelemetry SDK has registered a tracer provider in this process: ours, or one a
 * preload such as `--import @opentelemetry/auto-instrumentations-node/register` started.
 */
export function tracerProviderRegistered(): boolean {
  const provider = trace.getTracerProvider()
  // Without an SDK the global provider delegates to the API's no-op, the one a fresh proxy has.
  return (
    !(provider instanceof ProxyTracerProvider) ||
    provider.getDelegate() !== new ProxyTracerProvider().getDelegate()
  )
}

/**
 * Starts the OpenTelemetry Node SDK when `env` asks for it (see {@link tracingRequested}),
 * configured by the standard variables (`OTEL_EXPORTER_OTLP_ENDPOINT`, `OTEL_EXPORTER_OTLP_PROTOCOL`,
 * `OTEL_SERVICE_NAME`, `OTEL_TRACES_SAMPLER`, `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_METRICS_EXPORTER`...)
 * and instrumenting HTTP and node-postgres. Must run before the modules that load `http` and `pg`:
 * instrumentation patches them as they are required. Otherwise nothing of the SDK is even loaded.
 * A preloaded SDK (auto-instrumentations-node's `register`) is left to do the work.
 *
 * ```ts
 * const tracing = await startTracing(process.env)
 * const { runApi } = await import('./run-api.js')
 * await runApi(tracing)
 * ```
 */
export async function startTracing(env: NodeJS.ProcessEnv): Promise<Tracing | undefined> {
  if (!tracingRequested(env) || tracerProviderRegistered()) return undefined
  const [{ NodeSDK }, { HttpInstrumentation }, { PgInstrumentation }, { dbCoreQuerySpanHook }] =
    await Promise.all([
      import('@opentelemetry/sdk-node'),
      import('@opentelemetry/instrumentation-http'),
      import('@opentelemetry/instrumentation-pg'),
      // db-core's tracing subpath loads no pg: instrumentation must see pg load later.
      import('@classroom/db-core/tracing'),
    ])
  const sdk = new NodeSDK({
    // OTEL_SERVICE_NAME, when set, names the service; the sdk would otherwise say unknown_service.
    ...((env.OTEL_SERVICE_NAME ?? '').trim() === '' && { serviceName: 'classroom-api' }),
    instrumentations: [
      new HttpInstrumentation(),
      // Query spans named by operation, not by db-core's statement names; a read run again marked.
      new PgInstrumentation({ requestHook: dbCoreQuerySpanHook }),
    ],
  })
  sdk.start()
  return sdk
}

/**
 * A fastify `onRequest` hook naming the HTTP server span by its route (`GET /classrooms/:id`) and
 * setting `http.route`, as OpenTelemetry's HTTP conventions ask: instrumentation-http alone knows
 * only the method. Registered only when a tracer provider is.
 */
export async function nameSpanByRoute(request: FastifyRequest): Promise<void> {
  const route = request.routeOptions.url
  const span = trace.getActiveSpan()
  if (!span || route === undefined) return
  span.setAttribute('http.route', route)
  span.updateName(`${request.method} ${route}`)
}
