import type { Socket } from 'node:net'
import { performance } from 'node:perf_hooks'
import type pg from 'pg'
import { isCapacityRefusal, isConnectionError, READ_ONLY_SQL_TRANSACTION } from '../connection-errors.js'
import { ConfigError } from '../errors.js'
import { authFailure, type PasswordSource } from './credentials.js'
import { type HostAttempt, type HostSelection, unreachableReason } from './host-selection.js'
import { Client as PgClient } from './pg-module.js'
import { type QueryCallback as Callback, type Exchange, PreparedQuery } from './prepared-query.js'
import { type Release, ReleaseGuard } from './release-guard.js'
import { queryRole, reportedRole, roleMismatch } from './server-role.js'
import {
  isBegin,
  isSessionStatement,
  SessionSettingsError,
  type SettingsScope,
  settingsScope,
} from './session-settings.js'
import { StatementCache } from './statement-cache.js'

/** What the pool learns of every connection attempt, and of what its connections are told. */
export interface ClientHooks {
  attempted(): void
  failed(): void
  /** A connection opened (and qualified) in `ms` milliseconds. */
  created(ms: number): void
  /** The server refused a connection for capacity (53300, PgBouncer's max_client_conn): it is full, not down. */
  refusedForCapacity(error: unknown): void
  /** A connection reached a server of the wrong kind for `target_session_attrs` and was closed. */
  refusedForRole(): void
  /** A prepared statement the server had dropped or re-planned ran again, transparently. */
  statementRetried(): void
  /** The server refused a write on this connection: SQLSTATE 25006, read_only_sql_transaction. */
  writeRefused(client: MonitoredClient): void
  /** A caller released this connection while its session was in use (`unsafe` says how): it is destroyed. */
  releasedUnsafe(client: MonitoredClient, unsafe: string): void
  /** A caller's release reached pg-pool: the connection is idle again, or being closed. */
  returned(): void
}

/** How the pool's connections are made. */
export interface MonitoredClientOptions {
  readonly hooks: ClientHooks
  /** Statements kept prepared per connection; 0 off. */
  readonly statementCacheSize: number
  /** Where each new connection goes, and what its server must be. */
  readonly hosts: HostSelection
  /** libpq's `connect_timeout`: the longest wait for one host, within the pool's own bound. */
  readonly connectTimeoutMs: number | undefined
  /** Where each login's password comes from: a file or a function asked anew per connection, or the URL. */
  readonly credentials: PasswordSource
  /** The class connections are made from: pg's `Client`, or a subclass of it the caller chose. */
  readonly base?: typeof pg.Client
}

/** A connection of the pool: pg's `Client`, plus what db-core knows of its server. */
export interface MonitoredClient extends pg.Client {
  /** The server said it accepts writes (PostgreSQL 14+ reports it, and reports changes). */
  readonly knownWritable: boolean
  /**
   * While the server is still answering a write it refused as read-only (its error arrives before
   * its ReadyForQuery and the role reports that come with it): resolves once that answer is
   * complete and the pool has judged the connection. `undefined` otherwise.
   */
  readonly refusalPending: Promise<void> | undefined
  /**
   * Runs `text` as `query` does, behind `leading` (a transaction's BEGIN): both in one write, one
   * Sync, both answers read in order ({@link PreparedQuery}). A failure of `leading` fails the
   * statement with its error, which `failedLeadingStatement` tells apart.
   */
  queryBehind(leading: string, text: string, values: readonly unknown[]): Promise<pg.QueryResult>
}

// 0A000 with this message: a schema change altered the result of a statement prepared before it.
const PLAN_CHANGED = 'cached plan must not change result type'
const NO_SUCH_STATEMENT = '26000'
// What pg's query_timeout fails a statement with.
const QUERY_READ_TIMEOUT = 'Query read timeout'
const noop = () => undefined
const BEGIN = Object.freeze({ text: 'begin' })
const COMMIT = Object.freeze({ text: 'commit' })

/** How a statement runs inside a settings scope: as it is, as a transaction of its own, or as the BEGIN it is. */
type ScopedRun = 'as-is' | 'own-transaction' | 'begin'

/**
 * The `Client` class the pool opens connections with: pg's own, plus
 *
 * - every connection attempt and failure counted;
 * - an `error` listener from birth: an error at any instant of the connection's life is heard (one
 *   read right after its ReadyForQuery fails the attempt), never an uncaught `'error'` event;
 * - the password of every login, the pool's own and detached ones alike, from `credentials`: a
 *   file or function asked anew each time; a refused login (28P01, 28000) or a password that
 *   could not be had fails as a `DatabaseAuthError` naming the user and the password's source;
 * - libpq's host selection: each connection goes to the host {@link HostSelection} picks, within
 *   `connect_timeout`; one that fails to connect, or lands on the wrong kind of server for
 *   `target_session_attrs` (told by the role PostgreSQL 14+ reports at connect, or asked), is
 *   closed and fails with the error that sends the pool to the next host;
 * - a write the server refuses as read-only (25006) reported, so the pool can drop the connection;
 * - a socket connected to itself refused: a client retrying a port inside the kernel's ephemeral
 *   range while nothing listens there can be given that very port as its own source, and TCP
 *   simultaneous open then connects the socket to itself (pg would wait for its own echo);
 * - with `statementCacheSize` > 0, statements with parameters prepared once per connection under a
 *   stable name derived from their text (PostgreSQL then skips parsing and planning them), at most
 *   that many per connection, the least recently used closed by the next statement sent
 *   ({@link PreparedQuery}: no round trip, no statement of its own). A prepared statement the server
 *   dropped (26000) or whose result a schema change altered (0A000) is prepared anew and run once
 *   more, outside a transaction; inside one the error aborted the transaction, so it is reported,
 *   and the statement prepared anew the next time.
 */
export function monitoredClient({
  hooks,
  statementCacheSize,
  hosts,
  connectTimeoutMs,
  credentials,
  base = PgClient,
}: MonitoredClientOptions): new (
  config?: pg.ClientConfig,
) => MonitoredClient {
  return class MonitoredClientImpl extends base implements MonitoredClient {
    readonly #statements = statementCacheSize > 0 ? new StatementCache(statementCacheSize) : undefined
    /** Statements the server holds under an old plan: closed by the next statement this connection sends. */
    readonly #closing = new Set<string>()
    readonly #attempt: HostAttempt
    /** What the server reports of itself (ParameterStatus), kept current. */
    readonly #parameters = new Map<string, string>()
    /** A write was refused in the exchange under way; judged once the server's reports of it are in. */
    #writeRefused = false
    #judged: { promise: Promise<void>; resolve: () => void } | undefined
    /** The first error this connection reported, at whatever instant of its life. */
    #lost: Error | undefined
    readonly #releaseGuard = new ReleaseGuard(
      this,
      (unsafe) => hooks.releasedUnsafe(this, unsafe),
      () => hooks.returned(),
    )
    /** The settings scope whose settings the transaction open (or opening) on this connection carries. */
    #transactionScope: SettingsScope | undefined

    constructor(config: pg.ClientConfig = {}) {
      const attempt = hosts.next()
      const bound = config.connectionTimeoutMillis || Number.POSITIVE_INFINITY
      super({
        ...config,
        connectionString: attempt.connectionString,
        ...(connectTimeoutMs !== undefined && { connectionTimeoutMillis: Math.min(bound, connectTimeoutMs) }),
      })
      this.#attempt = attempt
      // From birth: pg may read ReadyForQuery and a FATAL in one chunk, emitting the error before
      // pg-pool's own listener (attached in its connect callback) exists; unheard, it kills the process.
      this.on('error', (error: Error) => {
        this.#lost ??= error
      })
      // Here, not in the pool's options: pg-pool spreads those into each client, leaving a non-enumerable
      // password behind, and pg lets a URL's empty password override one given beside it. pg calls a
      // function at each login.
      if (credentials.password) (this as unknown as { password: unknown }).password = credentials.password
      const connection = (this as unknown as { connection: NodeJS.EventEmitter }).connection
      connection.on('parameterStatus', (message: { parameterName: string; parameterValue: string }) =>
        this.#parameters.set(message.parameterName, message.parameterValue),
      )
      connection.on('errorMessage', (message: { code?: string }) => {
        if (message.code === READ_ONLY_SQL_TRANSACTION) this.#writeRefused = true
      })
      // A server that just turned read-only reports it after the error, before ReadyForQuery.
      connection.on('readyForQuery', (message: { status?: string }) => {
        // Out of the transaction: its settings ended with it.
        if (message.status === 'I') this.#transactionScope = undefined
        if (!this.#writeRefused) return
        this.#writeRefused = false
        hooks.writeRefused(this)
        this.#settleJudgement()
      })
      connection.once('end', () => this.#settleJudgement())
    }

    /** The guarded `release`: one function for the connection's life, whatever pg-pool sets per checkout. */
    get release(): Release {
      return this.#releaseGuard.release
    }

    set release(release: Release) {
      this.#releaseGuard.poolRelease = release
    }

    get knownWritable(): boolean {
      const role = reportedRole(this.#parameters)
      return role !== undefined && !role.readOnly
    }

    get refusalPending(): Promise<void> | undefined {
      if (!this.#writeRefused) return undefined
      if (!this.#judged) {
        let resolve: () => void = noop
        const promise = new Promise<void>((done) => {
          resolve = done
        })
        this.#judged = { promise, resolve }
      }
      return this.#judged.promise
    }

    #settleJudgement(): void {
      this.#judged?.resolve()
      this.#judged = undefined
    }

    override connect(): Promise<pg.Client>
    override connect(callback: (err: Error) => void): void
    override connect(callback?: (err: Error) => void): Promise<pg.Client> | undefined {
      hooks.attempted()
      const stream = (this as unknown as { connection?: { stream?: Socket } }).connection?.stream
      stream?.once?.('connect', () => {
        if (isSelfConnected(stream)) stream.destroy(selfConnectError(stream))
      })
      const connected = this.#connectQualified()
      if (!callback) return connected.then(() => this)
      // Called outside the promise chain, as pg does: a throw in pg-pool's callback (a 'connect' or
      // 'acquire' listener of the caller's) is an uncaught exception, not an unhandled rejection.
      connected.then(
        () => process.nextTick(callback, undefined),
        (error: Error) => process.nextTick(callback, error),
      )
      return undefined
    }

    /** Connects, then closes the connection again when its server is not what the URL asks for. */
    async #connectQualified(): Promise<void> {
      const attempt = this.#attempt
      let connected = false
      let mismatch: string | undefined
      try {
        // The callback form: a subclass (a caller's Client, a test double) may implement only that one.
        await new Promise<void>((resolve, reject) =>
          super.connect((error?: Error) => (error ? reject(error) : resolve())),
        )
        connected = true
        if (attempt.requirement !== 'any') {
          mismatch = roleMismatch(
            attempt.requirement,
            reportedRole(this.#parameters) ?? (await queryRole(this)),
          )
        }
        // Lost since its ReadyForQuery (a FATAL read in the same chunk, a backend terminated as it
        // was born): a failed attempt, never a connection handed to pg-pool.
        if (this.#lost) throw this.#lost
      } catch (error) {
        hooks.failed()
        // libpq tries no other host after a refused login: neither do we.
        const refusedLogin = authFailure(error, credentials, this.user)
        // pg-pool forgets a client whose connect failed: one that got as far as connecting, or that
        // is left mid-login without a password, is closed here.
        if (connected || refusedLogin) await this.end().catch(noop)
        if (refusedLogin) throw refusedLogin
        // Told before pg-pool hears of the failure: it dials for its next waiter straight after.
        if (isCapacityRefusal(error)) hooks.refusedForCapacity(error)
        if (!isConnectionError(error)) throw error
        throw hosts.refused(attempt, unreachableReason(error), { forRole: false, cause: error })
      }
      if (mismatch === undefined) {
        hooks.created(performance.now() - attempt.startedAt)
        return
      }
      hooks.failed()
      hooks.refusedForRole()
      await this.end().catch(noop)
      throw hosts.refused(attempt, mismatch, { forRole: true })
    }

    // biome-ignore lint/suspicious/noExplicitAny: pg's query has many overloads; one body serves them all
    override query(config: any, values?: any, callback?: any): any {
      const scope = settingsScope()
      if (typeof values === 'function') {
        callback = values
        values = undefined
      }
      let exchange: Exchange | undefined
      if (scope !== undefined && config != null) {
        let run: ScopedRun
        try {
          run = this.#scopedRun(scope, config, values)
        } catch (error) {
          // A Submittable (a cursor) is returned by pg, not answered: refused at once.
          if (typeof config.submit === 'function') throw error
          if (!callback) return Promise.reject(error)
          process.nextTick(callback, error)
          return undefined
        }
        if (run === 'begin') {
          this.#transactionScope = scope
          exchange = { closing: [], trailing: [scope] }
        } else if (run === 'own-transaction')
          exchange = { closing: [], leading: [BEGIN, scope], trailing: [COMMIT] }
      }
      if (config == null || typeof config.submit === 'function') return super.query(config, values, callback)
      if (callback) {
        const given = callback as Callback
        callback = (error: Error | undefined, result: pg.QueryResult) => {
          if (error) this.#dropIfTimedOut(error)
          given(error, result)
        }
      }
      const answer = this.#run(config, values, callback, exchange)
      if (callback || !answer) return answer
      return (answer as Promise<pg.QueryResult>).catch((error: Error) => {
        this.#dropIfTimedOut(error)
        throw error
      })
    }

    queryBehind(leading: string, text: string, values: readonly unknown[]): Promise<pg.QueryResult> {
      const scope = settingsScope()
      if (scope !== undefined && isSessionStatement(text)) return Promise.reject(sessionStatement(text))
      // In a scope the BEGIN carries its settings: the transaction is the scope's from its first statement.
      if (scope !== undefined) this.#transactionScope = scope
      const lead = scope === undefined ? [{ text: leading }] : [{ text: leading }, scope]
      return (
        this.#run(text, values, undefined, { closing: [], leading: lead }) as Promise<pg.QueryResult>
      ).catch((error: Error) => {
        this.#dropIfTimedOut(error)
        throw error
      })
    }

    /**
     * How a statement runs inside `scope`, or why it cannot (a {@link SessionSettingsError}):
     * in the scope's transaction as it is; out of any transaction, as one of its own; a BEGIN, with
     * the settings behind it.
     */
    // biome-ignore lint/suspicious/noExplicitAny: as query's
    #scopedRun(scope: SettingsScope, config: any, values: any): ScopedRun {
      const text: unknown = typeof config === 'string' ? config : config.text
      if (typeof text === 'string' && isSessionStatement(text)) throw sessionStatement(text)
      if (this.#transactionScope === scope) return 'as-is'
      if (this.getTransactionStatus() !== 'I') {
        throw new SessionSettingsError(
          'FOREIGN_TRANSACTION',
          'the connection is in a transaction begun without these session settings (outside withSessionSettings, or in another scope): begin the transaction inside the scope',
        )
      }
      const internals = this as unknown as { _getActiveQuery(): unknown; _queryQueue: unknown[] }
      if (internals._getActiveQuery() || internals._queryQueue.length > 0) {
        throw new SessionSettingsError(
          'PIPELINED',
          'a statement sent while another is in flight on this connection, outside a transaction: whether it would run in a transaction with the session settings cannot be known; await the one before, or run both in a transaction',
        )
      }
      if (typeof config.submit === 'function') {
        throw new SessionSettingsError(
          'OUTSIDE_TRANSACTION',
          'a cursor or stream outside a transaction would outlive the transaction the session settings live in: open it inside a transaction',
        )
      }
      const params = values === undefined ? config.values : values
      if (typeof text === 'string' && !(params?.length > 0) && text.includes(';')) {
        throw new SessionSettingsError(
          'MULTIPLE_STATEMENTS',
          'a text of several statements outside a transaction cannot go in one exchange behind the session settings: send them one by one, or inside a transaction',
        )
      }
      return typeof text === 'string' && isBegin(text) ? 'begin' : 'own-transaction'
    }

    /**
     * One statement: prepared under a stable name when the cache is on and it has parameters, and
     * through the unnamed statement behind `exchange`'s leading statements otherwise. A statement
     * run in a transaction of its own (BEGIN leading, COMMIT trailing) that failed rolls it back
     * before it answers, unless its connection is lost.
     */
    // biome-ignore lint/suspicious/noExplicitAny: as query's
    #run(config: any, values: any, callback: Callback | undefined, exchange?: Exchange): any {
      const cache = this.#statements
      // Named already, or no parameters (simple protocol: it may hold several statements): passed on
      // as given (pg copies a config object property by property, a string it does not).
      const object = typeof config === 'string' ? undefined : config
      const params = values === undefined ? object?.values : values
      const cached = cache !== undefined && object?.name === undefined && params?.length > 0
      if (!cached && exchange === undefined) return super.query(config, values, callback as Callback)
      const led = exchange?.leading !== undefined
      const ownTransaction = exchange?.trailing?.includes(COMMIT) ?? false
      const text: string = object ? object.text : config
      // Behind leading statements without a cached name: the unnamed statement.
      const { name, evicted } = cached ? cache.use(text) : { name: undefined, evicted: [] as string[] }
      for (const old of evicted) this.#forget(old)
      // Run again after a failure, it has nothing evicted to close, and no leading statement.
      const submit = (done: Callback, closing: string[], around: Exchange | undefined) =>
        super.query(
          new PreparedQuery(name, config, values, done, {
            ...around,
            closing: this.#takeClosing(closing),
          }),
        )
      // pg answers success with a null error.
      const anew = (error: Error | undefined) =>
        name !== undefined && !!error && this.#prepareAnew(error, name, led)
      // Its own transaction, failed, is left open and aborted: rolled back before the caller hears.
      const settle = (answer: Callback): Callback =>
        ownTransaction
          ? (error, result) =>
              error && error.message !== QUERY_READ_TIMEOUT && !isConnectionError(error)
                ? super.query('rollback', () => answer(error, result))
                : answer(error, result)
          : answer
      // Callbacks and promises on one path: a statement prepared anew runs once more, then answers.
      const run = (answer: Callback) =>
        submit(
          (error, result) => (anew(error) ? submit(answer, [], undefined) : settle(answer)(error, result)),
          evicted,
          exchange,
        )
      if (callback) {
        run(callback)
        return undefined
      }
      return new Promise<pg.QueryResult>((resolve, reject) => {
        run((error, result) => (error ? reject(error) : resolve(result)))
      }).catch((error: Error) => {
        // As pg's own promise: a stack that leads back to the awaiting caller, not to the socket's read.
        Error.captureStackTrace(error)
        throw error
      })
    }

    /**
     * pg gives up on a statement after `query_timeout` but keeps the connection, the statement still
     * active on it: whatever comes next (a transaction's ROLLBACK) would queue behind it and wait a
     * second timeout. The connection is closed at once instead, so what is queued fails now and the
     * server, once it answers again, finds the session gone (an open transaction rolls back).
     */
    #dropIfTimedOut(error: Error): void {
      if (error.message !== QUERY_READ_TIMEOUT) return
      const stream = (this as unknown as { connection: { stream: Socket } }).connection.stream
      if (stream.destroyed) return
      stream.destroy(
        Object.assign(
          new Error(`${QUERY_READ_TIMEOUT}: the connection was closed, a statement got no answer in time`),
          {
            code: 'ETIMEDOUT',
          },
        ),
      )
    }

    /** Whether a failed prepared statement may run again; either way it is prepared anew next time. */
    #prepareAnew(error: Error, name: string, led: boolean): boolean {
      if (led) {
        // pg took the leading statement's ParseComplete for this one's: whether the server holds it
        // is unknown. Closed (no error when it does not) and prepared anew; a transaction cannot retry.
        this.#forget(name)
        this.#closing.add(name)
        return false
      }
      const code = (error as { code?: string }).code
      const dropped = code === NO_SUCH_STATEMENT
      if (!dropped && !(code === '0A000' && error.message.includes(PLAN_CHANGED))) return false
      // Still in the cache: run again, or next time, under the same name, prepared anew.
      this.#forget(name)
      // Re-planned: the server still holds it under its old plan until closed.
      if (!dropped) this.#closing.add(name)
      // Inside a transaction the error aborted it: the statement cannot run again there.
      if (this.getTransactionStatus() !== 'I') return false
      hooks.statementRetried()
      return true
    }

    /** Makes pg prepare `name` anew when it is next used. */
    #forget(name: string): void {
      const connection = (this as unknown as { connection: { parsedStatements: Record<string, string> } })
        .connection
      delete connection.parsedStatements[name]
    }

    /** The statements the next one closes first: `evicted`, and the re-planned ones not closed yet. */
    #takeClosing(evicted: string[]): readonly string[] {
      if (this.#closing.size === 0) return evicted
      evicted.push(...this.#closing)
      this.#closing.clear()
      return evicted
    }
  }
}

function sessionStatement(text: string): SessionSettingsError {
  return new SessionSettingsError(
    'SESSION_STATEMENT',
    `a statement whose effect outlives its transaction (${JSON.stringify(text.trim().slice(0, 40))}) inside withSessionSettings: use SET LOCAL or set_config(name, value, true), or run it outside the scope`,
  )
}

function isSelfConnected(socket: Socket): boolean {
  return socket.localPort === socket.remotePort && socket.localAddress === socket.remoteAddress
}

function selfConnectError(socket: Socket): Error {
  return Object.assign(
    new Error(
      `connect ECONNREFUSED ${socket.remoteAddress}:${socket.remotePort}: the socket connected to itself (TCP simultaneous open: nothing listens there)`,
    ),
    { code: 'ECONNREFUSED' },
  )
}

/**
 * The class the pool's connections extend: pg's `Client`, or the caller's own subclass of it (a
 * subclass with extra methods, a test double built on it). db-core's monitoring extends the class,
 * so a client of another kind (pg-native's, another copy of pg's) is refused here, by name.
 */
export function clientClass(given: unknown): typeof PgClient {
  if (given === undefined || given === PgClient) return PgClient
  if (typeof given === 'function' && given.prototype instanceof PgClient) return given as typeof PgClient
  const name = typeof given === 'function' ? given.name || 'an anonymous class' : typeof given
  throw new ConfigError([
    {
      name: 'clientConfig.Client',
      value: name,
      expected:
        "pg's Client or a subclass of it, from the same copy of pg as db-core's (db-core's monitoring extends the class; pg-native's Client is not supported)",
    },
  ])
}
