/**
 * What db-core needs from a logger: four levels, a message and structured fields. winston fits as
 * it is; so does a console, or pino behind a two-line adapter. Without one, db-core makes its own
 * (`createLogger()`: winston, JSON or pretty, secrets masked).
 *
 * ```ts
 * const logger: DbLogger = {
 *   error: (message, fields) => console.error(message, fields),
 *   warn: (message, fields) => console.warn(message, fields),
 *   info: (message, fields) => console.info(message, fields),
 *   debug: () => undefined,
 * }
 * ```
 */
export interface DbLogger {
  error(message: string, fields?: Record<string, unknown>): void
  warn(message: string, fields?: Record<string, unknown>): void
  info(message: string, fields?: Record<string, unknown>): void
  debug(message: string, fields?: Record<string, unknown>): void
  /**
   * Whether a line at `level` would be written (winston's own method). Optional: callers that log
   * on a hot path skip building a line that would be dropped; without it, every line is built.
   */
  isLevelEnabled?(level: string): boolean
}
