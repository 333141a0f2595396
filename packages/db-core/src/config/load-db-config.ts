import { str, type ValidatorSpec } from 'envalid'
import { OPTION_RULES, type OptionNaming, resolveDbConfig } from './db-config.js'
import { DB_ENV_SETTINGS, type EnvSetting, envDefault } from './env-settings.js'
import type { DbConfig, DbCoreOptions } from './settings.js'
import {
  boolean,
  numberOrZeroForOff,
  oneOf,
  parseEnv,
  positiveNumber,
  postgresUrl,
  postgresUrlList,
  wholeNumber,
} from './validators.js'

type EnvValue = string | number | boolean | readonly string[] | undefined

/** The textual validator of one variable, derived from its option's rule and unit. */
function validatorFor(setting: EnvSetting): ValidatorSpec<EnvValue> {
  const fallback = envDefault(setting)
  const spec = { default: fallback } as { default: never }
  if (setting.option === 'connectionString') {
    return postgresUrl({ desc: 'a postgres:// URL like postgres://user:password@host:5432/database' })
  }
  if (setting.option === 'replicas.urls') return postgresUrlList({ default: [] })
  if (setting.option === 'pgbouncer') return boolean(spec)
  if (setting.option === 'passwordFile') return str(spec)
  const [section, key] = setting.option.split('.') as [keyof typeof OPTION_RULES, string]
  const rule = (OPTION_RULES[section] as Record<string, (typeof OPTION_RULES.pool)['size'] | undefined>)[key]!
  switch (rule.kind) {
    case 'integer':
      if (!setting.seconds) return wholeNumber(rule.min)(spec)
      return rule.min > 0 ? positiveNumber(spec) : numberOrZeroForOff(spec)
    case 'boolean':
      return boolean(spec)
    case 'choice':
      return oneOf(rule.choices)(spec)
    case 'text':
      return str(spec)
  }
}

/**
 * The envalid spec of every db-core variable. Spread it into an app's own spec to validate both
 * in one pass, or override an entry (an app with an embedded default database makes
 * `DATABASE_URL` optional):
 *
 * ```ts
 * const apiEnvSpec = { ...dbEnvSpec, PORT: wholeNumber(0)({ default: 3000 }) }
 * const env = parseEnv(process.env, apiEnvSpec)
 * const config = dbConfigFromEnv(env)
 * ```
 */
export const dbEnvSpec: Readonly<Record<string, ValidatorSpec<EnvValue>>> = Object.freeze(
  Object.fromEntries(DB_ENV_SETTINGS.map((setting) => [setting.name, validatorFor(setting)])),
)

const SETTING_OF = new Map<string, EnvSetting>(DB_ENV_SETTINGS.map((s) => [s.option, s]))

// Problems found after parsing are reported by variable, in the variable's unit.
const BY_VARIABLE: OptionNaming = {
  name: (path) => SETTING_OF.get(path)?.name ?? path,
  value: (path, value) =>
    SETTING_OF.get(path)?.seconds && typeof value === 'number' ? String(value / 1000) : String(value),
}

/**
 * Builds the frozen config from variables already validated by {@link dbEnvSpec} (alone or inside
 * an app's spec). Cross-variable problems (jitter not below the lifetime, an unreadable CA or
 * password file, a password both in `DATABASE_URL` and in `DB_PASSWORD_FILE`) are reported by
 * variable name.
 *
 * ```ts
 * const env = parseEnv(process.env, { ...dbEnvSpec, PORT: wholeNumber(0)({ default: 3000 }) })
 * const config = dbConfigFromEnv(env)
 * ```
 */
export function dbConfigFromEnv(env: Readonly<Record<string, unknown>>): DbConfig {
  const options: Record<string, unknown> = {}
  for (const setting of DB_ENV_SETTINGS) {
    let value = env[setting.name]
    if (value === undefined) continue
    if (setting.seconds) value = Math.round((value as number) * 1000)
    const [section, key] = setting.option.split('.')
    if (key === undefined) {
      options[setting.option] = value
    } else {
      options[section!] = { ...(options[section!] as object | undefined), [key]: value }
    }
  }
  return resolveDbConfig(options as unknown as DbCoreOptions, BY_VARIABLE)
}

/**
 * Reads and validates db-core's configuration from the environment: the env path into the same
 * {@link DbConfig} a typed `DbCoreOptions` object resolves to. Throws one `ConfigError` naming
 * every bad variable; opens no connection.
 *
 * ```ts
 * const config = loadDbConfig() // process.env
 * const small = loadDbConfig({ DATABASE_URL: 'postgres://app:secret@127.0.0.1/app', DB_POOL_SIZE: '5' })
 * ```
 */
export function loadDbConfig(env: Readonly<Record<string, string | undefined>> = process.env): DbConfig {
  return dbConfigFromEnv(parseEnv(env, dbEnvSpec))
}
