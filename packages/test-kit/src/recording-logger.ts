/** One line a {@link recordingLogger} was given: its level, message and fields, flattened. */
export type RecordedLine = { level: string; message: string } & Record<string, unknown>

const LEVELS = ['error', 'warn', 'info', 'debug'] as const
type Level = (typeof LEVELS)[number]
type Log = (message: string, fields?: Record<string, unknown>) => void

/**
 * A logger with `error`, `warn`, `info` and `debug` (what db-core and the api take) that keeps
 * every line at or above `level` in `lines`, for tests to read.
 *
 * ```ts
 * const { logger, lines } = recordingLogger()
 * logger.warn('queue long', { waiting: 12 })
 * lines[0] // { level: 'warn', message: 'queue long', waiting: 12 }
 * ```
 */
export function recordingLogger(level: Level = 'info'): {
  logger: Record<Level, Log>
  lines: RecordedLine[]
} {
  const lines: RecordedLine[] = []
  const shown = LEVELS.slice(0, LEVELS.indexOf(level) + 1)
  const method =
    (name: Level): Log =>
    (message, fields) => {
      if (shown.includes(name)) lines.push({ ...fields, level: name, message })
    }
  return {
    logger: { error: method('error'), warn: method('warn'), info: method('info'), debug: method('debug') },
    lines,
  }
}
