// The SDK and instrumentation-pg first: pg must be loaded after them, as in a service.
import './fixtures/tracing-with-pg-instrumentation.js'
import { describePoolTracing } from './tracing-scenarios.js'

describePoolTracing('instrumentation-pg')
