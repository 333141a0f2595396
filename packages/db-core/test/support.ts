import { createServer, type Socket } from 'node:net'
import type {} from '@classroom/local-postgres/vitest-global-setup'
import { recordingLogger } from '@classroom/test-kit'
import { Kysely } from 'kysely'
import type pg from 'pg'
import {
  ConfigError,
  type DbConfig,
  type DbLogger,
  InstrumentedPool,
  InstrumentedPostgresDialect,
  loadDbConfig,
} from '../src/index.js'

/** A db-core config for `url`, with db-core's real env parsing applied to the overrides. */
export function configFor(url: string, overrides: Record<string, string> = {}): DbConfig {
  return loadDbConfig({ DATABASE_URL: url, ...overrides })
}

/** An instrumented pool on `config`, as a service builds one. */
export function openPool(config: DbConfig, logger: DbLogger = recordingLogger().logger): InstrumentedPool {
  return new InstrumentedPool({ ...config, logger })
}

/** Kysely over db-core's dialect given a pool, and that pool (at hand before the first query). */
export function openDb<DB>(
  config: DbConfig,
  logger: DbLogger = recordingLogger().logger,
): { db: Kysely<DB>; pool: InstrumentedPool; close(): Promise<void> } {
  const pool = openPool(config, logger)
  const db = new Kysely<DB>({ dialect: new InstrumentedPostgresDialect({ pool }) })
  // A pool handed to Kysely is ended by db.destroy() only once Kysely connected: some tests never do.
  return { db, pool, close: () => db.destroy().then(() => (pool.ended ? undefined : pool.end())) }
}

/** The ConfigError `run` throws (and a failure when it throws none or another). */
export function configError(run: () => unknown): ConfigError {
  try {
    run()
  } catch (error) {
    if (error instanceof ConfigError) return error
    throw error
  }
  throw new Error('expected a ConfigError')
}

/** Settles after `ms` milliseconds. */
export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/**
 * A TCP server that accepts connections and never says a word: a database that hangs before
 * its greeting. `url` points a client at it.
 */
export function startSilentServer(): Promise<{ url: string; close(): void }> {
  return startRawServer(() => undefined)
}

/**
 * A server that answers a login with ReadyForQuery and, in the same TCP write, a FATAL 57P01 (the
 * backend terminated in the instant after it was born): pg reads both in one chunk.
 */
export function startDyingServer(): Promise<{ url: string; close(): void }> {
  return startRawServer((socket) => {
    socket.once('data', () => {
      socket.end(
        Buffer.concat([
          backendMessage('R', int32(0)), // AuthenticationOk
          backendMessage('K', Buffer.concat([int32(4242), int32(1)])), // BackendKeyData
          backendMessage('Z', Buffer.from('I')), // ReadyForQuery, idle
          backendMessage(
            'E',
            Buffer.from('SFATAL\0VFATAL\0C57P01\0Mterminating connection due to administrator command\0\0'),
          ),
        ]),
      )
    })
    socket.on('error', () => undefined)
  })
}

async function startRawServer(
  onConnection: (socket: Socket) => void,
): Promise<{ url: string; close(): void }> {
  const server = createServer(onConnection)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  return { url: `postgres://app:x@127.0.0.1:${port}/app`, close: () => server.close() }
}

function int32(value: number): Buffer {
  const buffer = Buffer.alloc(4)
  buffer.writeInt32BE(value)
  return buffer
}

/** One message of PostgreSQL's backend protocol: its type byte, its length, its body. */
function backendMessage(type: string, body: Buffer): Buffer {
  return Buffer.concat([Buffer.from(type), int32(body.length + 4), body])
}

/** Opens `count` connections at once and returns their backend pids, leaving them idle in the pool. */
export async function warm(pool: InstrumentedPool, count: number): Promise<number[]> {
  const clients = await Promise.all(Array.from({ length: count }, () => pool.connect()))
  const pids = await Promise.all(
    clients.map(async (c) => (await c.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]!.pid),
  )
  for (const client of clients) client.release()
  return pids
}

/** The names of the statements a pool's connection holds prepared, in order (asked on that connection). */
export async function preparedStatementNames(pool: InstrumentedPool): Promise<string[]> {
  const { rows } = await pool.query<{ name: string }>('select name from pg_prepared_statements order by name')
  return rows.map((r) => r.name)
}

/** Resolves once `check` holds, polling every 50 ms; fails naming `what` after `timeoutMs`. */
export async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await sleep(50)
  }
}

/** The pool's exchanges (ReadyForQuery: one round trip each) and its sockets' writes (corked messages leave in one), counted from each connection's birth. */
export function countExchanges(pool: InstrumentedPool) {
  const waits = { count: 0, writes: 0 }
  pool.on('connect', (client: pg.PoolClient) => {
    const { connection } = client as unknown as { connection: NodeJS.EventEmitter & { stream: Socket } }
    connection.on('readyForQuery', () => {
      waits.count++
    })
    const stream = connection.stream as unknown as Record<
      '_write' | '_writev',
      (...args: unknown[]) => unknown
    >
    for (const method of ['_write', '_writev'] as const) {
      const write = stream[method]
      stream[method] = function (this: unknown, ...args: unknown[]) {
        waits.writes++
        return write.apply(this, args)
      }
    }
  })
  return waits
}
