import { Writable } from 'node:stream'
import { inspect, stripVTControlCharacters } from 'node:util'
import { describe, expect, it } from 'vitest'
import winston from 'winston'
import { createLogger, redactSecrets, resolveDbConfig } from '../src/index.js'

/** db-core's winston logger, writing JSON lines the test reads back parsed. */
function captureLogger(level: 'info' | 'debug' = 'info') {
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

/** db-core's winston logger in its pretty format, keeping each line as a person would see it (colours stripped). */
function prettyLogger(defaultMeta?: Record<string, unknown>) {
  const lines: string[] = []
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      lines.push(stripVTControlCharacters(chunk.toString()).replace(/\n$/, ''))
      callback()
    },
  })
  const logger = createLogger({
    format: 'pretty',
    ...(defaultMeta && { defaultMeta }),
    transports: [new winston.transports.Stream({ stream })],
  })
  return { logger, lines }
}

describe('redactSecrets', () => {
  it.each([
    ['postgres://app:hunter2@db:5432/app', 'postgres://app:***@db:5432/app'],
    ['connect postgresql://u:p%40ss@h/d failed', 'connect postgresql://u:***@h/d failed'],
    ['host=db password=hunter2 user=app', 'host=db password=*** user=app'],
    ["password='two words'", 'password=***'],
    ['postgres://app@db/app', 'postgres://app@db/app'],
  ])('%s -> %s', (input, expected) => {
    expect(redactSecrets(input)).toBe(expected)
  })
})

describe('createLogger', () => {
  it('writes one JSON object a line with level, message, timestamp and fields', () => {
    const { logger, lines } = captureLogger()
    logger.warn('pool queue is long', { waiting: 12 })
    expect(lines).toEqual([
      { level: 'warn', message: 'pool queue is long', waiting: 12, timestamp: expect.any(String) },
    ])
  })

  it('never writes a password: not in messages, fields, nested fields or errors', () => {
    const { logger, lines } = captureLogger()
    const url = 'postgres://app:hunter2@db:5432/app'
    logger.info(`connecting to ${url}`, {
      databaseUrl: url,
      password: 'hunter2',
      nested: { connection: { connectionString: url, dbPassword: 'hunter2' } },
    })
    logger.error('failed', { error: new Error(`could not reach ${url}`) })
    const text = JSON.stringify(lines)
    expect(text).not.toContain('hunter2')
    expect(lines[0]).toMatchObject({
      message: 'connecting to postgres://app:***@db:5432/app',
      password: '***',
      nested: { connection: { connectionString: 'postgres://app:***@db:5432/app', dbPassword: '***' } },
    })
    expect(lines[1]).toMatchObject({
      error: { name: 'Error', message: 'could not reach postgres://app:***@db:5432/app' },
    })
  })

  it("never writes a config's password function's password: not as a field, a nested one, or in a message", async () => {
    const { logger, lines } = captureLogger()
    const config = resolveDbConfig({
      connectionString: 'postgres://app@db:5432/app',
      password: () => 'hunter2',
    })
    expect(await config.password?.reveal()).toBe('hunter2')
    logger.info('db config', { ...config })
    logger.info('db config', { config })
    logger.info(`db config ${inspect(config)} ${JSON.stringify(config)}`)
    expect(JSON.stringify(lines)).not.toContain('hunter2')
    expect(lines[0]).toMatchObject({ password: '***' })
    expect(lines[1]).toMatchObject({ config: { password: '***' } })
    expect(lines[2]?.message).toContain('password: Secret(***)')
  })

  it('drops a line below the level before formatting it: no redaction or JSON work for filtered calls', () => {
    const { logger, lines } = captureLogger('info')
    let reads = 0
    const fields = () => ({
      nested: {
        get probe() {
          reads++
          return 'value'
        },
      },
    })
    logger.debug('filtered', fields())
    expect(reads).toBe(0)
    logger.info('kept', fields())
    expect(reads).toBeGreaterThan(0)
    expect(lines.map((line) => line.message)).toEqual(['kept'])
  })

  it('honours the level', () => {
    const { logger, lines } = captureLogger('info')
    logger.debug('hidden')
    logger.info('shown')
    expect(lines.map((line) => line.message)).toEqual(['shown'])
  })

  it('pretty: one line an event, the time, level and message, then each field as name=value, without the defaultMeta every line has', () => {
    const { logger, lines } = prettyLogger({ service: 'api' })
    logger.warn('pool queue is long', { waiting: 12, host: 'db one', pool: { size: 20 }, empty: '' })
    logger.info('listening', { url: 'http://127.0.0.1:3000' })
    expect(lines).toHaveLength(2)
    expect(lines[0]).toMatch(
      /^\d\d:\d\d:\d\d\.\d{3} warn {2}pool queue is long waiting=12 host="db one" pool=\{"size":20\} empty=""$/,
    )
    expect(lines[1]).toMatch(/^\d\d:\d\d:\d\d\.\d{3} info {2}listening url=http:\/\/127\.0\.0\.1:3000$/)
  })

  it('pretty masks secrets as JSON does', () => {
    const { logger, lines } = prettyLogger()
    logger.error('could not reach postgres://app:hunter2@db/app', { password: 'hunter2' })
    expect(lines.join('\n')).not.toContain('hunter2')
    expect(lines[0]).toContain('could not reach postgres://app:***@db/app password=***')
  })
})
