import {
  type CleanedEnv,
  cleanEnv,
  EnvError,
  EnvMissingError,
  makeExactValidator,
  makeValidator,
} from 'envalid'
import { ConfigError, type ConfigIssue } from '../errors.js'
import { redactValue } from '../logging/redact.js'
import { parseConnectionUrl } from './connection-url.js'
import { readUrlProblem, splitReadUrls } from './replica-urls.js'

/**
 * Validates `env` against an envalid spec and returns the typed, frozen result, its arguments in the
 * order of envalid's `cleanEnv(env, spec)`. Unlike envalid's default reporter, which prints and
 * exits the process, it throws one {@link ConfigError} listing every bad variable. Specs compose by spreading, so an app validates its own variables and
 * db-core's in one pass:
 *
 * ```ts
 * const env = parseEnv(process.env, { ...dbEnvSpec, PORT: wholeNumber(1)({ default: 3000 }) })
 * ```
 */
export function parseEnv<S extends object>(
  env: NodeJS.ProcessEnv | Record<string, string | undefined>,
  spec: S,
): CleanedEnv<S> {
  return cleanEnv(env, spec, {
    reporter: ({ errors }) => {
      const issues: ConfigIssue[] = []
      for (const [name, error] of Object.entries(errors as Record<string, Error | undefined>)) {
        if (!error) continue
        const raw = env[name]
        issues.push({
          name,
          value: raw === undefined ? undefined : redactValue(name, raw),
          expected: expectation(error),
        })
      }
      if (issues.length > 0) throw new ConfigError(issues)
    },
  })
}

function expectation(error: Error): string {
  // envalid puts the spec's `desc` in a missing-variable error; our validators put the expectation in theirs.
  if (error instanceof EnvMissingError) return error.message || 'a value'
  return error.message
}

/**
 * A whole number of at least `min`, written as plain digits ("20", not "20.5", "2e1" or "20abc").
 *
 * ```ts
 * DB_POOL_SIZE: wholeNumber(1)({ default: 20 })
 * ```
 */
export const wholeNumber = (min: number) =>
  makeValidator<number>((input) => {
    if (!/^\d+$/.test(input.trim()) || Number(input) < min) throw new EnvError(`a whole number ≥ ${min}`)
    return Number(input)
  })

/**
 * A decimal number greater than zero ("30", "0.3").
 *
 * ```ts
 * DB_POOL_TIMEOUT_SECONDS: positiveNumber({ default: 30 })
 * ```
 */
export const positiveNumber = makeValidator<number>((input) => {
  const value = parseDecimal(input)
  if (!(value > 0)) throw new EnvError('a number > 0')
  return value
})

/**
 * A decimal number, zero or more, where 0 turns the feature off ("1800", "0").
 *
 * ```ts
 * DB_POOL_RECYCLE_SECONDS: numberOrZeroForOff({ default: 1800 })
 * ```
 */
export const numberOrZeroForOff = makeValidator<number>((input) => {
  const value = parseDecimal(input)
  if (!(value >= 0)) throw new EnvError('a number ≥ 0 (0 turns it off)')
  return value
})

function parseDecimal(input: string): number {
  return /^\d+(\.\d+)?$/.test(input.trim()) ? Number(input) : Number.NaN
}

/**
 * `true` or `false` (also `1`/`0`, `yes`/`no`, `on`/`off`); anything else is rejected.
 *
 * ```ts
 * DB_POOL_PRE_PING: boolean({ default: true })
 * ```
 */
export const boolean = makeExactValidator<boolean>((input) => {
  const normalised = input.trim().toLowerCase()
  if (['true', '1', 'yes', 'on'].includes(normalised)) return true
  if (['false', '0', 'no', 'off'].includes(normalised)) return false
  throw new EnvError('true or false')
})

/**
 * One of a fixed set of words.
 *
 * ```ts
 * LOG_FORMAT: oneOf(['json', 'pretty', 'auto'] as const)({ default: 'auto' })
 * ```
 */
export const oneOf = <const T extends string>(choices: readonly T[]) =>
  makeExactValidator<T>((input) => {
    if ((choices as readonly string[]).includes(input)) return input as T
    throw new EnvError(`one of ${choices.join(', ')}`)
  })

/**
 * A `postgres://` or `postgresql://` connection URL as libpq reads it: one host or several
 * (`host1:5432,host2:5433`), with `target_session_attrs` and `connect_timeout` checked. The
 * error lists every problem.
 *
 * ```ts
 * DATABASE_URL: postgresUrl({ desc: 'a postgres:// URL' })
 * ```
 */
export const postgresUrl = makeValidator<string>((input) => {
  const url = parseConnectionUrl(input)
  if (!url.ok) throw new EnvError(url.problems.join('; '))
  return input
})

/**
 * Comma-separated `postgres://` URLs, one host each (`DATABASE_READ_URLS`); empty is none. The
 * error names the entry that is wrong and why.
 *
 * ```ts
 * DATABASE_READ_URLS: postgresUrlList({ default: [] })
 * ```
 */
export const postgresUrlList = makeValidator<readonly string[]>((input) => {
  const urls = splitReadUrls(input)
  const problems = urls.map(readUrlProblem).filter((problem) => problem !== undefined)
  if (problems.length > 0) throw new EnvError(`comma-separated postgres:// URLs, with ${problems.join('; ')}`)
  return Object.freeze(urls)
})
