// `@classroom/db-core/tracing`: for a service's OpenTelemetry setup, which runs before pg is loaded
// (instrumentation patches it as it loads): nothing here loads pg.
export { dbCoreQuerySpanHook, type PgQueryInformation } from './pool/query-span-hook.js'
