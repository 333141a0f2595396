// The SDK and auto-instrumentations-node first (http, net, dns, pg...), as most services load them.
import './fixtures/tracing-with-auto-instrumentations.js'
import { describePoolTracing } from './tracing-scenarios.js'

describePoolTracing('auto-instrumentations-node')
