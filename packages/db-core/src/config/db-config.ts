import { readFileSync } from 'node:fs'
import { ConfigError, type ConfigIssue } from '../errors.js'
import { redactSecrets } from '../logging/redact.js'
import { parseConnectionUrl } from './connection-url.js'
import { passwordOfFile } from './password-file.js'
import { type PasswordFunction, Secret } from './secret.js'

/**
 * The pool's settings, in the pool's units. Defaults are the production spec: 20 kept connections,
 * 40 more under burst, 30 s acquire timeout, pre-ping, recycling after 30 minutes.
 */
export interface PoolSettings {
  /**
   * Connections the pool keeps open once created (pg `min`: exempt from idle reaping); `0` keeps
   * none when idle, every connection closed after `overflowIdleMs` unused.
   */
  readonly size: number
  /** Extra connections allowed under burst; the pool holds at most `size + maxOverflow`. */
  readonly maxOverflow: number
  /** An overflow connection idle this long is closed. */
  readonly overflowIdleMs: number
  /** Longest wait for a connection, queueing, connecting and pre-ping retries included. */
  readonly acquireTimeoutMs: number
  /** Validate a connection with `select 1` before handing it out. */
  readonly prePing: boolean
  /** Ping only connections idle at least this long; 0 pings on every checkout. */
  readonly prePingIdleMs: number
  /** A ping slower than this counts as a dead connection. */
  readonly prePingTimeoutMs: number
  /** Connections older than this are closed after their current use; 0 never. */
  readonly recycleMs: number
  /** Each connection retires up to this much before `recycleMs`, at random (default 10 % of it). */
  readonly recycleJitterMs: number
  /** Warn when more callers than this wait for a connection. */
  readonly queueWarnThreshold: number
  /** At most one queue warning per this interval while the queue stays long. */
  readonly queueWarnIntervalMs: number
  /** Report (once, with the acquiring stack) a connection held longer than this; 0 off. */
  readonly leakWarnMs: number
  /**
   * How long a checkout waits for an unreachable database (refused, reset, starting up) before it
   * fails; never beyond `acquireTimeoutMs`. Once the database has been down longer than this, new
   * checkouts fail at once until it answers again.
   */
  readonly unavailableWaitMs: number
  /** The reconnect loop's first pause while the database is down; it doubles from here. */
  readonly reconnectMinMs: number
  /** The reconnect loop's longest pause. */
  readonly reconnectMaxMs: number
  /** Run a read-only Kysely query that lost its connection once more on a fresh one. */
  readonly readRetry: boolean
  /** How long that retry may wait for a restarting database. */
  readonly readRetryWaitMs: number
}

/** Limits every connection carries, so a silent network or a forgotten transaction cannot hang it. */
export interface SessionSettings {
  /** Server side `statement_timeout`; 0 off. */
  readonly statementTimeoutMs: number
  /** Client side: a query with no answer this long fails and its connection is dropped; 0 off. */
  readonly queryTimeoutMs: number
  /** Server side `idle_in_transaction_session_timeout`; 0 off. */
  readonly idleInTransactionTimeoutMs: number
  /** TCP keepalive probes start after this much silence; 0 turns keepalive off. */
  readonly keepAliveInitialDelayMs: number
  /**
   * Statements with parameters each connection keeps prepared (named, parsed and planned once), the
   * least recently used closed beyond it; 0 off. Always off through PgBouncer.
   */
  readonly statementCacheSize: number
}

/** TLS to the database, in libpq's `sslmode` words. */
export interface TlsSettings {
  /**
   * `disable`: plain TCP. `require`: TLS or no connection, certificate not verified.
   * `verify-full`: TLS, certificate signed by `ca` and issued for the host.
   */
  readonly mode: 'disable' | 'require' | 'verify-full'
  /** The CA certificate(s), PEM; read from `caFile` when only that is given. */
  readonly ca: string | undefined
  /** Where `ca` came from, for error messages. */
  readonly caFile: string | undefined
}

/** How many pools share the server, for `checkConnectionBudget`. */
export interface BudgetSettings {
  /** Replicas of this service, each with a pool of `size + maxOverflow`. */
  readonly expectedReplicas: number
  /** Refuse to start, rather than warn, when the pools do not fit. */
  readonly strict: boolean
}

/** Everything db-core needs to reach and pool a database, every default filled in. */
export interface DbConfig {
  /** The connection string. It may hold the password: log it only through `redactSecrets`. */
  readonly connectionString: string
  /** The file each new connection reads its password from; `undefined` when none is set. */
  readonly passwordFile: string | undefined
  /**
   * The password function, when one was given, as a {@link Secret}: it shows as `***` in a log,
   * an error, `JSON.stringify` or `console.log`, and a spread config keeps it.
   *
   * ```ts
   * new InstrumentedPool({ ...config, logger })
   * ```
   */
  readonly password: Secret | undefined
  readonly pool: PoolSettings
  readonly session: SessionSettings
  readonly tls: TlsSettings
  /**
   * Connecting through PgBouncer in transaction mode: no session settings are sent at connect
   * (PgBouncer refuses unknown startup parameters; put the timeouts on the role instead).
   */
  readonly pgbouncer: boolean
  readonly budget: BudgetSettings
}

/**
 * db-core's settings as a typed object: only `connectionString` is required, everything else
 * defaults to {@link DB_CONFIG_DEFAULTS}. A `DbConfig` (what `loadDbConfig` returns) is one too.
 *
 * ```ts
 * const options: DbCoreOptions = {
 *   connectionString: 'postgres://app:secret@127.0.0.1:5432/app',
 *   pool: { size: 10, maxOverflow: 10, acquireTimeoutMs: 5000 },
 *   session: { statementTimeoutMs: 10_000 },
 * }
 * ```
 */
export interface DbCoreOptions {
  readonly connectionString: string
  /**
   * A file holding the password (`DB_PASSWORD_FILE`), for a URL without one: read anew for every
   * new connection, trailing newlines dropped, so a rotated secret (a Kubernetes or Docker secret
   * rewritten in place) is used without a restart; open connections keep the one they logged in
   * with. It must be readable when the config is resolved; one that disappears later fails the
   * connection attempts that need it with `DatabaseAuthError`. Not with a password in the URL.
   *
   * ```ts
   * const options: DbCoreOptions = {
   *   connectionString: 'postgres://app@db.internal:5432/app',
   *   passwordFile: '/run/secrets/db-password',
   * }
   * ```
   */
  readonly passwordFile?: string
  /**
   * A function giving the password, called for every new connection (an IAM token that expires):
   * see {@link PasswordFunction}. Not with a password in the URL, nor with `passwordFile`. A
   * resolved {@link DbConfig} holds it as a {@link Secret}, out of every log; a Secret is taken here too.
   *
   * ```ts
   * const options: DbCoreOptions = {
   *   connectionString: 'postgres://app@db.internal:5432/app',
   *   password: async () => (await fetch('http://127.0.0.1:8200/db-token')).text(),
   * }
   * ```
   */
  readonly password?: PasswordFunction | Secret
  readonly pool?: Partial<PoolSettings>
  readonly session?: Partial<SessionSettings>
  readonly tls?: Partial<TlsSettings>
  readonly pgbouncer?: boolean
  readonly budget?: Partial<BudgetSettings>
}

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
  name(path: OptionPath | 'connectionString' | 'pgbouncer' | 'passwordFile' | 'password'): string
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
  const section = <S extends 'pool' | 'session' | 'budget'>(
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
