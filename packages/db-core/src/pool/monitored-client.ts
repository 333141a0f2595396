import type { Socket } from 'node:net'
import pg from 'pg'
import { StatementCache } from './statement-cache.js'

/** What the pool learns of every connection attempt, and of statements prepared anew. */
export interface ClientHooks {
  attempted(): void
  failed(): void
  /** A prepared statement the server had dropped or re-planned ran again, transparently. */
  statementRetried(): void
}

// 0A000 with this message: a schema change altered the result of a statement prepared before it.
const PLAN_CHANGED = 'cached plan must not change result type'
const NO_SUCH_STATEMENT = '26000'

type Callback = (error: Error, result: pg.QueryResult) => void

/**
 * The `Client` class the pool opens connections with: pg's own, plus
 *
 * - every connection attempt and failure counted;
 * - a socket connected to itself refused: a client retrying a port inside the kernel's ephemeral
 *   range while nothing listens there can be given that very port as its own source, and TCP
 *   simultaneous open then connects the socket to itself (pg would wait for its own echo);
 * - with `statementCacheSize` > 0, statements with parameters prepared once per connection under a
 *   stable name derived from their text (PostgreSQL then skips parsing and planning them), at most
 *   that many per connection, the least recently used deallocated. A prepared statement the server
 *   dropped (26000) or whose result a schema change altered (0A000) is prepared anew and run once
 *   more, outside a transaction; inside one the error aborted the transaction, so it is reported,
 *   and the statement prepared anew the next time.
 */
export function monitoredClient(hooks: ClientHooks, statementCacheSize: number): typeof pg.Client {
  return class MonitoredClient extends pg.Client {
    readonly #statements = statementCacheSize > 0 ? new StatementCache(statementCacheSize) : undefined
    /** Names the server may still hold under an old plan: deallocated once outside a transaction. */
    readonly #stale = new Set<string>()

    override connect(): Promise<pg.Client>
    override connect(callback: (err: Error) => void): void
    override connect(callback?: (err: Error) => void): Promise<pg.Client> | undefined {
      hooks.attempted()
      const stream = (this as unknown as { connection?: { stream?: Socket } }).connection?.stream
      stream?.once?.('connect', () => {
        if (isSelfConnected(stream)) stream.destroy(selfConnectError(stream))
      })
      if (callback) {
        super.connect((error: Error) => {
          if (error) hooks.failed()
          callback(error)
        })
        return undefined
      }
      return super.connect().catch((error: Error) => {
        hooks.failed()
        throw error
      })
    }

    // biome-ignore lint/suspicious/noExplicitAny: pg's query has many overloads; one body serves them all
    override query(config: any, values?: any, callback?: any): any {
      const cache = this.#statements
      if (!cache || config == null || typeof config.submit === 'function')
        return super.query(config, values, callback)
      if (typeof values === 'function') {
        callback = values
        values = undefined
      }
      const query: pg.QueryConfig = typeof config === 'string' ? { text: config } : { ...config }
      if (values !== undefined) query.values = values
      // Named already, or no parameters (simple protocol: it may hold several statements).
      if (query.name !== undefined || !query.values?.length) return super.query(query, callback)
      if (this.#stale.size > 0) this.#flushStale()
      const { name, evicted } = cache.use(query.text)
      for (const old of evicted) this.#deallocate(old)
      // Still held under an old plan by the server: this once, unnamed.
      if (!this.#stale.has(name)) query.name = name
      if (callback) {
        super.query(query, (error: Error, result: pg.QueryResult) => {
          if (error && this.#prepareAnew(error, name)) super.query(query, callback as Callback)
          else (callback as Callback)(error, result)
        })
        return undefined
      }
      return super.query(query).catch((error: Error) => {
        if (this.#prepareAnew(error, name)) return super.query(query)
        throw error
      })
    }

    /** Whether a failed prepared statement may run again; either way it is prepared anew next time. */
    #prepareAnew(error: Error, name: string): boolean {
      const code = (error as { code?: string }).code
      const dropped = code === NO_SUCH_STATEMENT
      if (!dropped && !(code === '0A000' && error.message.includes(PLAN_CHANGED))) return false
      this.#forget(name)
      if (!dropped) this.#stale.add(name)
      // Inside a transaction the error aborted it: the statement cannot run again there.
      if (this.getTransactionStatus() !== 'I') return false
      if (!dropped) this.#flushStale()
      hooks.statementRetried()
      return true
    }

    #forget(name: string): void {
      this.#statements?.forget(name)
      const connection = (this as unknown as { connection: { parsedStatements: Record<string, string> } })
        .connection
      delete connection.parsedStatements[name]
    }

    /** Queued before the caller's statement, in order; a failure leaves the name for a later try. */
    #deallocate(name: string): void {
      this.#forget(name)
      super.query(`deallocate ${pg.escapeIdentifier(name)}`).then(
        () => this.#stale.delete(name),
        () => this.#stale.add(name),
      )
    }

    #flushStale(): void {
      if (this.getTransactionStatus() !== 'I') return
      for (const name of this.#stale) {
        this.#stale.delete(name)
        this.#deallocate(name)
      }
    }
  }
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
