import { DB_CONFIG_DEFAULTS, type OPTION_RULES, type OptionPath } from './db-config.js'

/** Where a variable lands in `DbCoreOptions`. */
export type SettingPath = OptionPath | 'connectionString' | 'pgbouncer' | 'passwordFile' | 'replicas.urls'

/** One environment variable: the option it sets, its unit, and what it means (the README's words). */
export interface EnvSetting {
  readonly name: string
  readonly option: SettingPath
  /** The variable is in seconds (decimals allowed) while the option is in milliseconds. */
  readonly seconds?: true
  readonly meaning: string
  /** The README's default when it is not a plain value. */
  readonly defaultText?: string
}

/**
 * The one list of db-core's variables: `dbEnvSpec`, `loadDbConfig` and the README's settings table
 * are all derived from it, and defaults come from {@link DB_CONFIG_DEFAULTS}.
 */
export const DB_ENV_SETTINGS: readonly EnvSetting[] = [
  {
    name: 'DATABASE_URL',
    option: 'connectionString',
    meaning:
      '`postgres://user:password@host:5432/database`; several hosts as libpq takes them, `host1:5432,host2:5432`, with `?target_session_attrs=read-write` (or `any`, `read-only`, `primary`, `standby`, `prefer-standby`) and `connect_timeout` (seconds per host)',
    defaultText: 'required by db-core; the api starts an embedded PostgreSQL without it',
  },
  {
    name: 'DB_PASSWORD_FILE',
    option: 'passwordFile',
    meaning:
      'file holding the password, for a `DATABASE_URL` without one (both at once are refused): read at every new connection, trailing newlines dropped, so a rotated secret is used without a restart (open connections keep theirs). Must be readable at start; a login it fails is `DATABASE_AUTH_FAILED` naming the file',
  },
  {
    name: 'DB_POOL_SIZE',
    option: 'pool.size',
    meaning:
      'connections the pool keeps once opened (pg `min`: exempt from idle reaping). Not pre-opened: the pool grows on demand',
  },
  {
    name: 'DB_POOL_MAX_OVERFLOW',
    option: 'pool.maxOverflow',
    meaning: 'extra connections under burst; the pool opens at most size + overflow (pg `max` = 60)',
  },
  {
    name: 'DB_POOL_OVERFLOW_IDLE_MS',
    option: 'pool.overflowIdleMs',
    meaning: 'an overflow connection idle this long is closed',
  },
  {
    name: 'DB_POOL_TIMEOUT_SECONDS',
    option: 'pool.acquireTimeoutMs',
    seconds: true,
    meaning:
      'longest wait for a connection, queueing, connecting and pre-ping retries included; then an error, never a hang. Decimals allowed (`0.3`)',
  },
  {
    name: 'DB_POOL_PRE_PING',
    option: 'pool.prePing',
    meaning: 'validate a connection before handing it out',
  },
  {
    name: 'DB_POOL_PRE_PING_IDLE_MS',
    option: 'pool.prePingIdleMs',
    meaning: 'ping only connections idle at least this long; `0` pings on every checkout',
  },
  {
    name: 'DB_POOL_PRE_PING_TIMEOUT_MS',
    option: 'pool.prePingTimeoutMs',
    meaning: 'a ping slower than this counts as a dead connection',
  },
  {
    name: 'DB_POOL_RECYCLE_SECONDS',
    option: 'pool.recycleMs',
    seconds: true,
    meaning: 'connections older than this are closed after their current use, never mid-query; `0` never',
  },
  {
    name: 'DB_POOL_RECYCLE_JITTER_SECONDS',
    option: 'pool.recycleJitterMs',
    seconds: true,
    meaning:
      'each connection retires up to this much earlier, at random, so a warm pool never reconnects all at once; must be below the lifetime',
    defaultText: '10 % of the lifetime',
  },
  {
    name: 'DB_POOL_QUEUE_WARN_THRESHOLD',
    option: 'pool.queueWarnThreshold',
    meaning: 'warn when more requests than this wait for a connection',
  },
  {
    name: 'DB_POOL_QUEUE_WARN_INTERVAL_MS',
    option: 'pool.queueWarnIntervalMs',
    meaning: 'at most one queue warning per interval while it stays above',
  },
  {
    name: 'DB_POOL_QUEUE_POLICY',
    option: 'pool.queuePolicy',
    meaning:
      '`adaptive`: a queue whose delay stays above the target for an interval is overloaded; it then serves the newest waiter first, refuses within the target those it cannot serve (`POOL_OVERLOADED`), and refuses at once a caller whose deadline is shorter than the wait ahead of it. `fifo`: arrival order up to the acquire timeout, whatever the load',
  },
  {
    name: 'DB_POOL_QUEUE_TARGET_MS',
    option: 'pool.queueTargetMs',
    meaning:
      "the queue delay a healthy pool stays under (CoDel's target); while overloaded, also the longest a waiter is kept before it is refused",
  },
  {
    name: 'DB_POOL_QUEUE_INTERVAL_MS',
    option: 'pool.queueIntervalMs',
    meaning:
      "how long the queue must stay non-empty with no waiter served within the target before the pool is overloaded (CoDel's interval): a burst shorter than this still queues in arrival order",
  },
  {
    name: 'DB_POOL_LEAK_WARN_MS',
    option: 'pool.leakWarnMs',
    meaning: 'a connection held longer is reported once, with the stack of the code that took it; `0` off',
  },
  {
    name: 'DB_POOL_UNAVAILABLE_WAIT_MS',
    option: 'pool.unavailableWaitMs',
    meaning:
      'a checkout that finds the database unreachable (refused, reset, starting up) waits this long for it (never beyond the acquire timeout), then fails with `DATABASE_UNAVAILABLE`; once it has been down longer, checkouts fail at once until it answers. Longer rides through longer restarts but holds requests (and memory) longer; `0` fails at once',
  },
  {
    name: 'DB_POOL_RECONNECT_MIN_MS',
    option: 'pool.reconnectMinMs',
    meaning:
      'while the database is down, one reconnect loop per pool probes it, first after this pause, doubling (with jitter) up to the maximum: shorter notices a return sooner, at more connection attempts',
  },
  {
    name: 'DB_POOL_RECONNECT_MAX_MS',
    option: 'pool.reconnectMaxMs',
    meaning:
      "the reconnect loop's longest pause: caps the attempts of a long outage at about one per pause per replica",
  },
  {
    name: 'DB_READ_RETRY',
    option: 'pool.readRetry',
    meaning:
      'a read-only Kysely query outside a transaction and outside `db.connection()` that loses its connection runs once more on a fresh one',
  },
  {
    name: 'DB_READ_RETRY_WAIT_MS',
    option: 'pool.readRetryWaitMs',
    meaning: 'how long that retry may wait for a restarting database before the read fails as unavailable',
  },
  {
    name: 'DB_STATEMENT_TIMEOUT_MS',
    option: 'session.statementTimeoutMs',
    meaning: 'server-side `statement_timeout`; `0` off',
  },
  {
    name: 'DB_QUERY_TIMEOUT_MS',
    option: 'session.queryTimeoutMs',
    meaning:
      'client side: a query with no answer this long fails and its connection is dropped (a silent network); `0` off',
  },
  {
    name: 'DB_IDLE_IN_TRANSACTION_TIMEOUT_MS',
    option: 'session.idleInTransactionTimeoutMs',
    meaning: 'server-side `idle_in_transaction_session_timeout`; `0` off',
  },
  {
    name: 'DB_KEEPALIVE_INITIAL_DELAY_MS',
    option: 'session.keepAliveInitialDelayMs',
    meaning: 'TCP keepalive probes start after this much silence; `0` turns keepalive off',
  },
  {
    name: 'DB_STATEMENT_CACHE_SIZE',
    option: 'session.statementCacheSize',
    meaning:
      'statements with parameters each connection keeps prepared under a name made from their text, so PostgreSQL parses and plans them once; the least recently used is closed beyond this many (memory per connection grows with it); `0` off. Always off with `DB_PGBOUNCER=true` (PgBouncer 1.21+ with `max_prepared_statements` could carry them; 1.18 cannot)',
  },
  {
    name: 'DB_SSL_MODE',
    option: 'tls.mode',
    meaning:
      '`disable`, `require` (TLS, certificate not checked), `verify-full` (TLS, certificate signed by `DB_SSL_CA_FILE` and issued for the host)',
  },
  {
    name: 'DB_SSL_CA_FILE',
    option: 'tls.caFile',
    meaning: "PEM file of the CA that signed the server's certificate; needed by `verify-full`",
  },
  {
    name: 'DB_PGBOUNCER',
    option: 'pgbouncer',
    meaning: 'connecting through PgBouncer in transaction mode (see below)',
  },
  {
    name: 'DB_EXPECTED_REPLICAS',
    option: 'budget.expectedReplicas',
    meaning: 'how many replicas share the server, for the connection budget check',
  },
  {
    name: 'DB_POOL_BUDGET_STRICT',
    option: 'budget.strict',
    meaning:
      "refuse to start, rather than warn, when the replicas' pools could exceed the server's connections",
  },
  {
    name: 'DATABASE_READ_URLS',
    option: 'replicas.urls',
    meaning:
      'standbys that serve reads, comma-separated `postgres://` URLs (one host each), named `replica1`, `replica2`, ... in order: Kysely reads outside a transaction go to a healthy one, everything else to `DATABASE_URL` (see "Read replicas"). Each gets a pool with the pool settings above',
    defaultText: 'none: every query on the primary',
  },
  {
    name: 'DB_REPLICA_MAX_LAG_MS',
    option: 'replicas.maxLagMs',
    meaning:
      'a replica further behind the primary than this (time since the primary was where the replica has replayed to) is left out until it has caught up',
  },
  {
    name: 'DB_REPLICA_POLL_MS',
    option: 'replicas.pollMs',
    meaning:
      "how often each replica's replay position and recovery state (and the primary's WAL position) are polled, one query each on a connection of the poll's own",
  },
  {
    name: 'DB_READ_YOUR_WRITES',
    option: 'replicas.readYourWrites',
    meaning:
      "reads in a `withReadPosition` scope go only to replicas that have replayed the scope's writes (else to the primary); `false`: to any healthy replica",
  },
]

/** The default of an option, in the variable's unit (`undefined` when there is none). */
export function envDefault(setting: EnvSetting): string | number | boolean | undefined {
  if (setting.option === 'connectionString' || setting.option === 'replicas.urls') return undefined
  if (setting.option === 'pgbouncer' || setting.option === 'passwordFile') {
    return DB_CONFIG_DEFAULTS[setting.option]
  }
  const [section, key] = setting.option.split('.') as [keyof typeof OPTION_RULES, string]
  const value = (DB_CONFIG_DEFAULTS[section] as Record<string, string | number | boolean | undefined>)[key]
  return setting.seconds && typeof value === 'number' ? value / 1000 : value
}
