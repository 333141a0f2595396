// `@classroom/db-core/env`: for apps that validate their own variables and db-core's in one pass.
export { DB_ENV_SETTINGS, type EnvSetting } from './config/env-settings.js'
export { dbConfigFromEnv, dbEnvSpec } from './config/load-db-config.js'
export { LOGGER_ENV_SETTINGS, loggerEnvSpec } from './config/logger-env.js'
export { readmeSettingsTable, renderSettingsTable, withSettingsTable } from './config/settings-table.js'
export {
  boolean,
  numberOrZeroForOff,
  oneOf,
  parseEnv,
  positiveNumber,
  postgresUrl,
  postgresUrlList,
  wholeNumber,
} from './config/validators.js'
export { LOGGER_LEVELS, type LoggerLevel } from './logging/winston-logger.js'
