// The HTTP server's limits on connections and their timeouts, with the defaults the env settings document.

/** How long connections may stay silent or unfinished, and how many may be open at once. */
export interface HttpLimits {
  /** A connection with no request being answered that sends nothing this long is closed (`HTTP_CONNECTION_TIMEOUT_MS`). */
  readonly connectionTimeoutMs: number
  /** The whole request (headers and body) must arrive within this; otherwise 408 (`HTTP_REQUEST_TIMEOUT_MS`). */
  readonly requestTimeoutMs: number
  /** A kept-alive connection idle this long after its last answer is closed (`HTTP_KEEP_ALIVE_TIMEOUT_MS`). */
  readonly keepAliveTimeoutMs: number
  /** Open connections at most; past it the connection idle longest is closed (`HTTP_MAX_CONNECTIONS`). */
  readonly maxConnections: number
}

export const DEFAULT_HTTP_LIMITS: HttpLimits = Object.freeze({
  // A client that connects sends its request at once; ten silent seconds is a dead or hostile one.
  connectionTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  // Fastify's default: longer than the 60 s idle timeout of common load balancers, so they close first.
  keepAliveTimeoutMs: 72_000,
  // Fits under the common 1,024 file descriptors with the pool's connections and the process's own files.
  maxConnections: 900,
})
