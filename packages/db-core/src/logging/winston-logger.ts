import winston from 'winston'
import { prettyLine } from './pretty-line.js'
import { isSecretName, redactSecrets } from './redact.js'

/** winston's (npm) levels, most severe first. */
export const LOGGER_LEVELS = ['error', 'warn', 'info', 'http', 'verbose', 'debug', 'silly'] as const
export type LoggerLevel = (typeof LOGGER_LEVELS)[number]

/** The output formats `createLogger` knows; see {@link LoggerOptions.format}. */
export const LOGGER_FORMATS = ['auto', 'json', 'pretty'] as const

export interface LoggerOptions {
  /**
   * Lowest level written. Default `info`.
   *
   * ```ts
   * createLogger({ level: 'debug' })
   * ```
   */
  readonly level?: LoggerLevel
  /**
   * `json` (one object a line, for production and log shippers), `pretty` (for a person at a
   * terminal: `14:03:07.412 info  pool ready size=20`, one line an event, without the
   * `defaultMeta` fields every line carries), or `auto`: pretty when stdout is a TTY, JSON otherwise.
   * Default `auto`.
   *
   * ```ts
   * createLogger({ format: 'json' })
   * ```
   */
  readonly format?: (typeof LOGGER_FORMATS)[number]
  /**
   * Fields on every line, e.g. the service's name.
   *
   * ```ts
   * createLogger({ defaultMeta: { service: 'api' } })
   * ```
   */
  readonly defaultMeta?: Record<string, unknown>
  /**
   * Where lines go. Default: the console (stdout). Tests pass a stream to read what was logged.
   *
   * ```ts
   * createLogger({ transports: [new winston.transports.Stream({ stream })] })
   * ```
   */
  readonly transports?: winston.transport[]
  /** Log nothing (tests that only need a logger to pass). */
  readonly silent?: boolean
}

/**
 * db-core's default logger, and a factory for apps that want the same: winston. Every line goes through a redaction step: passwords in
 * connection strings are masked wherever they appear, and fields named like secrets are hidden.
 *
 * ```ts
 * const logger = createLogger({ level: env.LOG_LEVEL, format: env.LOG_FORMAT, defaultMeta: { service: 'api' } })
 * logger.warn('pool queue is long', { waiting: 12 })
 * ```
 */
export function createLogger(options: LoggerOptions = {}): winston.Logger {
  const format = options.format ?? 'auto'
  const pretty = format === 'pretty' || (format === 'auto' && process.stdout.isTTY === true)
  const hidden = new Set(Object.keys(options.defaultMeta ?? {}))
  // winston runs the whole format before its transports filter by level: drop filtered lines first,
  // reading the logger's level as it is now (it may be changed at run time).
  const belowLevel = winston.format((info) =>
    winston.config.npm.levels[info.level]! <= winston.config.npm.levels[logger.level]! ? info : false,
  )
  const logger: winston.Logger = winston.createLogger({
    level: options.level ?? 'info',
    silent: options.silent ?? false,
    defaultMeta: options.defaultMeta,
    format: winston.format.combine(
      belowLevel(),
      winston.format.timestamp(),
      winston.format.errors({ stack: true }),
      redactFormat(),
      pretty
        ? winston.format.combine(
            winston.format.colorize(),
            winston.format.printf((info) => prettyLine(info, hidden)),
          )
        : winston.format.json(),
    ),
    transports: options.transports ?? [new winston.transports.Console()],
  })
  return logger
}

const redactFormat = winston.format((info) => {
  for (const key of Object.keys(info)) {
    info[key] = redactField(key, info[key], 0)
  }
  return info
})

function redactField(key: string, value: unknown, depth: number): unknown {
  if (isSecretName(key) && value !== undefined) return '***'
  if (typeof value === 'string') return redactSecrets(value)
  if (value instanceof Error)
    return { name: value.name, message: redactSecrets(value.message), ...errorCode(value) }
  if (depth < 4 && value !== null && typeof value === 'object' && !Array.isArray(value)) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redactField(k, v, depth + 1)]))
  }
  return value
}

function errorCode(error: Error): { code?: unknown } {
  const code = (error as { code?: unknown }).code
  return code === undefined ? {} : { code }
}
