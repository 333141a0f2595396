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
