import { readFileSync } from 'node:fs'
import { ConfigError, type ConfigIssue } from '../errors.js'
import { redactSecrets } from '../logging/redact.js'
import { parseConnectionUrl } from './connection-url.js'
import { passwordOfFile } from './password-file.js'
import { resolveReplicaUrls } from './replica-urls.js'
import { Secret } from './secret.js'
import type {
  BudgetSettings,
  DbConfig,
  DbCoreOptions,
  PoolSettings,
  ReplicaSettings,
  SessionSettings,
  TlsSettings,
} from './settings.js'

/** Every default, in one place. `recycleJitterMs` is derived: 10 % of `recycleMs`. */
export const DB_CONFIG_DEFAULTS = {
  pool: {
    size: 20,
    maxOverflow: 40,
    overflowIdleMs: 10_000,
    acquireTimeoutMs: 30_000,
    prePing: true,
    prePingIdleMs: 1000,
    prePingTimeoutMs: 2000,
    recycleMs: 1_800_000,
    recycleJitterMs: undefined,
    queueWarnThreshold: 10,
    queueWarnIntervalMs: 5000,
    queuePolicy: 'adaptive',
    queueTargetMs: 50,
    queueIntervalMs: 200,
    leakWarnMs: 60_000,
    unavailableWaitMs: 5000,
    reconnectMinMs: 50,
    reconnectMaxMs: 1000,
    readRetry: true,
    readRetryWaitMs: 2000,
  },
  session: {
    statementTimeoutMs: 30_000,
    queryTimeoutMs: 35_000,
    idleInTransactionTimeoutMs: 60_000,
    keepAliveInitialDelayMs: 10_000,
    statementCacheSize: 250,
  },
  passwordFile: undefined,
  tls: { mode: 'disable', ca: undefined, caFile: undefined },
  pgbouncer: false,
  budget: { expectedReplicas: 1, strict: false },
  replicas: { urls: [], maxLagMs: 5000, pollMs: 250, readYourWrites: true },
} as const satisfies Omit<DbConfig, 'connectionString' | 'pool' | 'password'> & {
  pool: Omit<PoolSettings, 'recycleJitterMs'> & { recycleJitterMs: undefined }
}

/** The share of the lifetime that `recycleJitterMs` defaults to. */
const DEFAULT_JITTER_SHARE = 0.1

/** What a typed option must hold; `expected` is the words an error shows. */
export type OptionRule =
  | { readonly kind: 'integer'; readonly min: number }
  | { readonly kind: 'boolean' }
  | { readonly kind: 'choice'; readonly choices: readonly string[] }
  | { readonly kind: 'text' }

type SectionRules<T> = { readonly [K in keyof T]: OptionRule }

/** The rule of every typed option, by section. Milliseconds are whole numbers. */
export const OPTION_RULES: {
  readonly pool: SectionRules<PoolSettings>
  readonly session: SectionRules<SessionSettings>
  readonly tls: SectionRules<Omit<TlsSettings, 'ca'>>
  readonly budget: SectionRules<BudgetSettings>
  readonly replicas: SectionRules<Omit<ReplicaSettings, 'urls'>>
} = {
  pool: {
    size: { kind: 'integer', min: 0 },
    maxOverflow: { kind: 'integer', min: 0 },
    overflowIdleMs: { kind: 'integer', min: 1 },
    acquireTimeoutMs: { kind: 'integer', min: 1 },
    prePing: { kind: 'boolean' },
    prePingIdleMs: { kind: 'integer', min: 0 },
    prePingTimeoutMs: { kind: 'integer', min: 1 },
    recycleMs: { kind: 'integer', min: 0 },
    recycleJitterMs: { kind: 'integer', min: 0 },
    queueWarnThreshold: { kind: 'integer', min: 0 },
    queueWarnIntervalMs: { kind: 'integer', min: 1 },
    queuePolicy: { kind: 'choice', choices: ['adaptive', 'fifo'] },
    queueTargetMs: { kind: 'integer', min: 1 },
    queueIntervalMs: { kind: 'integer', min: 1 },
    leakWarnMs: { kind: 'integer', min: 0 },
    unavailableWaitMs: { kind: 'integer', min: 0 },
    reconnectMinMs: { kind: 'integer', min: 1 },
    reconnectMaxMs: { kind: 'integer', min: 1 },
    readRetry: { kind: 'boolean' },
    readRetryWaitMs: { kind: 'integer', min: 0 },
  },
  session: {
    statementTimeoutMs: { kind: 'integer', min: 0 },
    queryTimeoutMs: { kind: 'integer', min: 0 },
    idleInTransactionTimeoutMs: { kind: 'integer', min: 0 },
    keepAliveInitialDelayMs: { kind: 'integer', min: 0 },
    statementCacheSize: { kind: 'integer', min: 0 },
  },
  tls: {
    mode: { kind: 'choice', choices: ['disable', 'require', 'verify-full'] },
    caFile: { kind: 'text' },
  },
  budget: {
    expectedReplicas: { kind: 'integer', min: 1 },
    strict: { kind: 'boolean' },
  },
  replicas: {
    maxLagMs: { kind: 'integer', min: 1 },
    pollMs: { kind: 'integer', min: 1 },
    readYourWrites: { kind: 'boolean' },
  },
}

/** The path of one typed option, as errors name it by default: `pool.size`, `tls.caFile`. */
export type OptionPath = {
  [S in keyof typeof OPTION_RULES]: `${S}.${keyof (typeof OPTION_RULES)[S] & string}`
}[keyof typeof OPTION_RULES]

/**
 * How errors speak of options: by path with values as given (the default), or, on the env path,
 * by the variable each came from and in its unit.
 */
export interface OptionNaming {
  name(
    path: OptionPath | 'connectionString' | 'pgbouncer' | 'passwordFile' | 'password' | 'replicas.urls',
  ): string
  value(path: OptionPath, value: unknown): string
}

const BY_PATH: OptionNaming = { name: (path) => path, value: (_path, value) => JSON.stringify(value) }

/**
 * Fills in every default and checks every value, collecting all problems into one
 * {@link ConfigError} (options named by path, or by variable through `loadDbConfig`).
 * Reads `tls.caFile` when `tls.ca` is not given, and checks that `passwordFile` is readable now
 * (its content is not kept). Returns a frozen {@link DbConfig}; resolving a resolved config gives
 * an equal one.
 *
 * ```ts
 * const config = resolveDbConfig({ connectionString: 'postgres://app:secret@db/app', pool: { size: 5 } })
 * config.pool.maxOverflow // 40
 * ```
 */
export function resolveDbConfig(options: DbCoreOptions, naming: OptionNaming = BY_PATH): DbConfig {
  const issues: ConfigIssue[] = []
  const nameOf = naming.name
  const check = <T>(path: OptionPath, rule: OptionRule, value: T): T => {
    const expected = violation(rule, value)
    if (expected) issues.push({ name: nameOf(path), value: naming.value(path, value), expected })
    return value
  }
  const section = <S extends 'pool' | 'session' | 'budget' | 'replicas'>(
    name: S,
    given: Partial<Record<string, unknown>> | undefined,
  ) => {
    const defaults: Record<string, unknown> = DB_CONFIG_DEFAULTS[name]
    const rules: Record<string, OptionRule> = OPTION_RULES[name]
    const out: Record<string, unknown> = {}
    for (const key of Object.keys(rules)) {
      const value = given?.[key] ?? defaults[key]
      out[key] = value === undefined ? undefined : check(`${name}.${key}` as OptionPath, rules[key]!, value)
    }
    return out
  }

  let urlHasPassword = false
  if (typeof options.connectionString !== 'string' || options.connectionString === '') {
    issues.push({ name: nameOf('connectionString'), value: undefined, expected: 'a postgres:// URL' })
  } else {
    const url = parseConnectionUrl(options.connectionString)
    if (url.ok) urlHasPassword = url.hasPassword
    else {
      issues.push({
        name: nameOf('connectionString'),
        value: redactSecrets(options.connectionString),
        expected: url.problems.join('; '),
      })
    }
  }
  const pool = section('pool', options.pool) as Omit<PoolSettings, 'recycleJitterMs'> & {
    recycleJitterMs: number | undefined
  }
  pool.recycleJitterMs ??= Math.round(pool.recycleMs * DEFAULT_JITTER_SHARE)
  if (pool.recycleMs > 0 && pool.recycleJitterMs >= pool.recycleMs) {
    issues.push({
      name: nameOf('pool.recycleJitterMs'),
      value: naming.value('pool.recycleJitterMs', pool.recycleJitterMs),
      expected: `less than ${nameOf('pool.recycleMs')} (${naming.value('pool.recycleMs', pool.recycleMs)})`,
    })
  }
  // size 0 keeps no connection when idle (pg-pool's min: 0); the pool must still be able to open one.
  if (pool.size + pool.maxOverflow < 1) {
    issues.push({
      name: nameOf('pool.maxOverflow'),
      value: naming.value('pool.maxOverflow', pool.maxOverflow),
      expected: `at least 1 when ${nameOf('pool.size')} is 0 (the pool could never open a connection)`,
    })
  }
  if (pool.reconnectMaxMs < pool.reconnectMinMs) {
    issues.push({
      name: nameOf('pool.reconnectMaxMs'),
      value: naming.value('pool.reconnectMaxMs', pool.reconnectMaxMs),
      expected: `at least ${nameOf('pool.reconnectMinMs')} (${naming.value('pool.reconnectMinMs', pool.reconnectMinMs)})`,
    })
  }
  const session = section('session', options.session) as unknown as SessionSettings
  const budget = section('budget', options.budget) as unknown as BudgetSettings
  const replicas = section('replicas', options.replicas) as Omit<ReplicaSettings, 'urls'>
  const urls = resolveReplicaUrls(options.replicas?.urls, nameOf('replicas.urls'), issues)
  const tls = resolveTls(options.tls, check, nameOf, issues)
  const { passwordFile, password } = resolveCredentials(options, urlHasPassword, nameOf, issues)
  const pgbouncer = options.pgbouncer ?? DB_CONFIG_DEFAULTS.pgbouncer
  if (typeof pgbouncer !== 'boolean') {
    issues.push({ name: nameOf('pgbouncer'), value: JSON.stringify(pgbouncer), expected: 'true or false' })
  }
  if (issues.length > 0) throw new ConfigError(issues)
  const config: DbConfig = {
    connectionString: options.connectionString,
    passwordFile,
    password,
    pool: Object.freeze(pool as PoolSettings),
    session: Object.freeze(session),
    tls,
    pgbouncer,
    budget: Object.freeze(budget),
    replicas: Object.freeze({ ...replicas, urls }),
  }
  return Object.freeze(config)
}

/**
 * The password's one source besides the URL: a file, checked readable (and not empty) now, or a
 * function, held as a {@link Secret}. Either one together with a password in the URL, or both
 * together, is refused.
 */
function resolveCredentials(
  options: DbCoreOptions,
  urlHasPassword: boolean,
  nameOf: OptionNaming['name'],
  issues: ConfigIssue[],
): { passwordFile: string | undefined; password: Secret | undefined } {
  const { passwordFile, password: given } = options
  const password = typeof given === 'function' ? new Secret(given) : given
  const url = nameOf('connectionString')
  if (given !== undefined) {
    // Only what it is, never its value: a string here would be the password itself.
    const value = given instanceof Secret ? 'a Secret' : `a ${typeof given}`
    if (!(password instanceof Secret)) {
      issues.push({
        name: nameOf('password'),
        value,
        expected: `a function returning the password (or a promise of it); a fixed password goes in ${url}`,
      })
    } else if (urlHasPassword) {
      issues.push({
        name: nameOf('password'),
        value,
        expected: `one source of the password, but ${url} holds one too: remove it from the URL or drop the password function`,
      })
    } else if (passwordFile !== undefined) {
      issues.push({
        name: nameOf('password'),
        value,
        expected: `one source of the password, but ${nameOf('passwordFile')} is set too: keep one of them`,
      })
    }
  }
  if (passwordFile === undefined) return { passwordFile, password }
  const notText = violation({ kind: 'text' }, passwordFile)
  if (notText) {
    issues.push({ name: nameOf('passwordFile'), value: String(passwordFile), expected: notText })
    return { passwordFile, password }
  }
  if (urlHasPassword) {
    issues.push({
      name: nameOf('passwordFile'),
      value: passwordFile,
      expected: `one source of the password, but ${url} holds one too: remove it from the URL (postgres://user@host/db) or unset ${nameOf('passwordFile')}`,
    })
  }
  let content: string | undefined
  try {
    content = readFileSync(passwordFile, 'utf8')
  } catch (error) {
    issues.push({
      name: nameOf('passwordFile'),
      value: passwordFile,
      expected: `a readable file holding the password (${(error as NodeJS.ErrnoException).code})`,
    })
  }
  if (content !== undefined && passwordOfFile(content) === '') {
    issues.push({
      name: nameOf('passwordFile'),
      value: passwordFile,
      expected: 'a file holding the password (it is empty)',
    })
  }
  return { passwordFile, password }
}

function resolveTls(
  given: Partial<TlsSettings> | undefined,
  check: <T>(path: OptionPath, rule: OptionRule, value: T) => T,
  nameOf: OptionNaming['name'],
  issues: ConfigIssue[],
): TlsSettings {
  const mode = check('tls.mode', OPTION_RULES.tls.mode, given?.mode ?? DB_CONFIG_DEFAULTS.tls.mode)
  const caFile =
    given?.caFile === undefined ? undefined : check('tls.caFile', OPTION_RULES.tls.caFile, given.caFile)
  let ca = given?.ca
  if (ca === undefined && caFile !== undefined) {
    try {
      ca = readFileSync(caFile, 'utf8')
    } catch (error) {
      issues.push({
        name: nameOf('tls.caFile'),
        value: caFile,
        expected: `a readable PEM file (${(error as NodeJS.ErrnoException).code})`,
      })
    }
  } else if (ca === undefined && mode === 'verify-full') {
    issues.push({
      name: nameOf('tls.caFile'),
      value: undefined,
      expected: `the CA certificate file, which ${nameOf('tls.mode')}=verify-full needs`,
    })
  }
  return Object.freeze({ mode, ca, caFile })
}

/** What a value breaking `rule` should have been, or `undefined` when it is fine. */
export function violation(rule: OptionRule, value: unknown): string | undefined {
  switch (rule.kind) {
    case 'integer':
      return Number.isSafeInteger(value) && (value as number) >= rule.min
        ? undefined
        : `a whole number ≥ ${rule.min}`
    case 'boolean':
      return typeof value === 'boolean' ? undefined : 'true or false'
    case 'choice':
      return rule.choices.includes(value as string) ? undefined : `one of ${rule.choices.join(', ')}`
    case 'text':
      return typeof value === 'string' && value !== '' ? undefined : 'a non-empty text'
  }
}
