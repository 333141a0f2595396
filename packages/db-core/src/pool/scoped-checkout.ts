// A callback checkout (pg-pool's own query(), connect(callback)) answered in its caller's async context.
import { AsyncResource } from 'node:async_hooks'
import { InstrumentedPool } from './instrumented-pool.js'
import { settingsScope } from './session-settings.js'

type Connect = (this: InstrumentedPool, callback?: Parameters<typeof AsyncResource.bind>[0]) => unknown

// The pool answers a queued checkout from the release that frees a connection, in the releasing
// caller's async context (its own binding is OpenTelemetry's, a no-op without a context manager):
// there a raw pool.query would read another caller's settings. Bound inside a settings scope only.
// TODO(pool rewrite): the checkout should bind a callback to its caller's context itself; then this goes.
const connect = InstrumentedPool.prototype.connect as Connect
;(InstrumentedPool.prototype as unknown as { connect: Connect }).connect = function (callback) {
  return connect.call(
    this,
    callback && settingsScope() !== undefined ? AsyncResource.bind(callback) : callback,
  )
}
