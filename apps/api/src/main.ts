import { startTracing } from './tracing.js'

// `pnpm start`. Tracing first, when OTEL_* variables ask for it: the api's modules load http and
// pg, which OpenTelemetry instruments as they are loaded, so they are imported only after it.
const tracing = await startTracing(process.env)
const { runApi } = await import('./run-api.js')
await runApi(tracing)
