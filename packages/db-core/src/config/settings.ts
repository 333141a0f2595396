// What a resolved configuration holds, and the typed options a caller gives: the shapes, no logic.
import type { PasswordFunction, Secret } from './secret.js'

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
  /**
   * What the wait queue does when demand stays above capacity: `adaptive` (CoDel's rule: a queue
   * whose delay stays above `queueTargetMs` for `queueIntervalMs` is overloaded, and then serves
   * the newest waiter first and refuses the rest within `queueTargetMs`), or `fifo` (arrival order
   * up to `acquireTimeoutMs`, whatever the load).
   */
  readonly queuePolicy: 'adaptive' | 'fifo'
  /** The queue delay a healthy pool stays under: a waiter served within it is a good sign. */
  readonly queueTargetMs: number
  /** How long the queue's delay must stay above `queueTargetMs` before the pool is overloaded. */
  readonly queueIntervalMs: number
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

/** One standby that serves reads: the URL its pool connects to, and the name its stats and logs carry. */
export interface ReplicaTarget {
  /** Letters, digits, `_` and `-`; not `primary`. Default `replica1`, `replica2`, ... in URL order. */
  readonly name: string
  /** A `postgres://` URL naming one host. */
  readonly url: string
}

/** The standbys reads are sent to, and when one is left out (see the README's "Read replicas"). */
export interface ReplicaSettings {
  /** Empty: no replicas, every query on the primary. */
  readonly urls: readonly ReplicaTarget[]
  /** A replica further behind the primary than this is left out until it has caught up. */
  readonly maxLagMs: number
  /** How often each replica's replay position and recovery state are polled. */
  readonly pollMs: number
  /** Reads in a `withReadPosition` scope go only to replicas that have replayed its writes. */
  readonly readYourWrites: boolean
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
  readonly replicas: ReplicaSettings
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
  /**
   * Standbys that serve Kysely's reads (`DATABASE_READ_URLS`): a URL each, or a URL with its name.
   * Each gets a pool of its own with the primary's pool settings.
   *
   * ```ts
   * const options: DbCoreOptions = {
   *   connectionString: 'postgres://app:secret@db-primary:5432/app',
   *   replicas: {
   *     urls: ['postgres://app:secret@db-standby-a:5432/app', { name: 'reports', url: 'postgres://app:secret@db-standby-b:5432/app' }],
   *     maxLagMs: 2000,
   *   },
   * }
   * ```
   */
  readonly replicas?: Partial<Omit<ReplicaSettings, 'urls'>> & {
    readonly urls?: readonly (string | ReplicaTarget)[]
  }
}
