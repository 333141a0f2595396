import { createServer } from 'node:net'
import { Writable } from 'node:stream'
import type {} from '@classroom/local-postgres/vitest-global-setup'
import winston from 'winston'
import { createLogger, type DbConfig, type Logger, loadDbConfig } from '../src/index.js'

/** A logger whose lines (as parsed JSON) the test can read. */
export function captureLogger(level: 'info' | 'debug' = 'info'): {
  logger: Logger
  lines: Record<string, unknown>[]
} {
  const lines: Record<string, unknown>[] = []
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>)
      callback()
    },
  })
  const logger = createLogger({
    level,
    format: 'json',
    transports: [new winston.transports.Stream({ stream })],
  })
  return { logger, lines }
}

/** A db-core config for `url`, with db-core's real env parsing applied to the overrides. */
export function configFor(url: string, overrides: Record<string, string> = {}): DbConfig {
  return loadDbConfig({ DATABASE_URL: url, ...overrides })
}

/** Settles after `ms` milliseconds. */
export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/**
 * A TCP server that accepts connections and never says a word: a database that hangs before
 * its greeting. `url` points a client at it.
 */
export async function startSilentServer(): Promise<{ url: string; close(): void }> {
  const server = createServer(() => undefined)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  return { url: `postgres://app:x@127.0.0.1:${port}/app`, close: () => server.close() }
}
