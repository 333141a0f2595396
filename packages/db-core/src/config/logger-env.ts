// The logger's environment variables: their envalid spec and their rows of the README's settings table.
import { LOGGER_FORMATS, LOGGER_LEVELS } from '../logging/winston-logger.js'
import { oneOf } from './validators.js'

/** The logger's variables, for the README's settings table. */
export const LOGGER_ENV_SETTINGS = [
  { name: 'LOG_LEVEL', default: 'info', meaning: LOGGER_LEVELS.map((l) => `\`${l}\``).join(', ') },
  {
    name: 'LOG_FORMAT',
    default: 'auto',
    meaning:
      '`json` (one object a line, as log shippers read it), `pretty` (one readable line an event: time, level, message, `name=value` fields), or `auto`: pretty when stdout is a TTY, JSON otherwise',
  },
] as const

/**
 * The logger's variables, to spread into an app's env spec beside `dbEnvSpec`.
 *
 * ```ts
 * const env = parseEnv(process.env, { ...dbEnvSpec, ...loggerEnvSpec })
 * const logger = createLogger({ level: env.LOG_LEVEL, format: env.LOG_FORMAT })
 * ```
 */
export const loggerEnvSpec = {
  LOG_LEVEL: oneOf(LOGGER_LEVELS)({ default: LOGGER_ENV_SETTINGS[0].default }),
  LOG_FORMAT: oneOf(LOGGER_FORMATS)({ default: LOGGER_ENV_SETTINGS[1].default }),
}
