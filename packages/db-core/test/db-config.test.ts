import { describe, expect, it } from 'vitest'
import { loadDbConfig } from '../src/index.js'
import { configError } from './support.js'

const URL = 'postgres://app:hunter2@127.0.0.1:5432/app'

describe('loadDbConfig', () => {
  it('defaults to the production spec and freezes the result', () => {
    const config = loadDbConfig({ DATABASE_URL: URL })
    expect(config).toEqual({
      connectionString: URL,
      passwordFile: undefined,
      pool: {
        size: 20,
        maxOverflow: 40,
        overflowIdleMs: 10_000,
        acquireTimeoutMs: 30_000,
        prePing: true,
        prePingIdleMs: 1000,
        prePingTimeoutMs: 2000,
        recycleMs: 1_800_000,
        queueWarnThreshold: 10,
        queueWarnIntervalMs: 5000,
        queuePolicy: 'adaptive',
        queueTargetMs: 50,
        queueIntervalMs: 200,
        leakWarnMs: 60_000,
        unavailableWaitMs: 5000,
        reconnectMinMs: 50,
        reconnectMaxMs: 1000,
        recycleJitterMs: 180_000,
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
      tls: { mode: 'disable', ca: undefined, caFile: undefined },
      pgbouncer: false,
      budget: { expectedReplicas: 1, strict: false },
      replicas: { urls: [], maxLagMs: 5000, pollMs: 250, readYourWrites: true },
    })
    expect(Object.isFrozen(config)).toBe(true)
    expect(Object.isFrozen(config.pool)).toBe(true)
  })

  it.each([
    ['DB_POOL_SIZE', '5', 'size', 5],
    ['DB_POOL_MAX_OVERFLOW', '0', 'maxOverflow', 0],
    ['DB_POOL_OVERFLOW_IDLE_MS', '2500', 'overflowIdleMs', 2500],
    ['DB_POOL_TIMEOUT_SECONDS', '0.3', 'acquireTimeoutMs', 300],
    ['DB_POOL_PRE_PING', 'false', 'prePing', false],
    ['DB_POOL_PRE_PING_IDLE_MS', '0', 'prePingIdleMs', 0],
    ['DB_POOL_PRE_PING_TIMEOUT_MS', '250', 'prePingTimeoutMs', 250],
    ['DB_POOL_RECYCLE_SECONDS', '1', 'recycleMs', 1000],
    ['DB_POOL_RECYCLE_SECONDS', '0', 'recycleMs', 0],
    ['DB_POOL_QUEUE_WARN_THRESHOLD', '3', 'queueWarnThreshold', 3],
    ['DB_POOL_QUEUE_WARN_INTERVAL_MS', '100', 'queueWarnIntervalMs', 100],
    ['DB_POOL_LEAK_WARN_MS', '0', 'leakWarnMs', 0],
    ['DB_POOL_RECYCLE_JITTER_SECONDS', '30', 'recycleJitterMs', 30_000],
    ['DB_READ_RETRY', 'false', 'readRetry', false],
    ['DB_READ_RETRY_WAIT_MS', '0', 'readRetryWaitMs', 0],
  ] as const)('%s=%s sets pool.%s', (name, value, field, expected) => {
    const config = loadDbConfig({ DATABASE_URL: URL, [name]: value })
    expect(config.pool[field]).toBe(expected)
  })

  it.each([
    ['DB_STATEMENT_TIMEOUT_MS', '500', 'statementTimeoutMs', 500],
    ['DB_QUERY_TIMEOUT_MS', '0', 'queryTimeoutMs', 0],
    ['DB_IDLE_IN_TRANSACTION_TIMEOUT_MS', '1000', 'idleInTransactionTimeoutMs', 1000],
    ['DB_KEEPALIVE_INITIAL_DELAY_MS', '0', 'keepAliveInitialDelayMs', 0],
  ] as const)('%s=%s sets session.%s', (name, value, field, expected) => {
    expect(loadDbConfig({ DATABASE_URL: URL, [name]: value }).session[field]).toBe(expected)
  })

  it('takes the jitter as 10 % of whatever lifetime is set, and the budget variables', () => {
    expect(loadDbConfig({ DATABASE_URL: URL, DB_POOL_RECYCLE_SECONDS: '60' }).pool.recycleJitterMs).toBe(6000)
    expect(
      loadDbConfig({ DATABASE_URL: URL, DB_EXPECTED_REPLICAS: '4', DB_POOL_BUDGET_STRICT: 'true' }).budget,
    ).toEqual({
      expectedReplicas: 4,
      strict: true,
    })
  })

  it.each([
    ['DB_POOL_SIZE', 'twenty', 'a whole number ≥ 0'],
    ['DB_POOL_SIZE', '-3', 'a whole number ≥ 0'],
    ['DB_POOL_SIZE', '2.5', 'a whole number ≥ 0'],
    ['DB_POOL_SIZE', '20abc', 'a whole number ≥ 0'],
    ['DB_POOL_MAX_OVERFLOW', '-1', 'a whole number ≥ 0'],
    ['DB_POOL_OVERFLOW_IDLE_MS', '0', 'a whole number ≥ 1'],
    ['DB_POOL_TIMEOUT_SECONDS', '0', 'a number > 0'],
    ['DB_POOL_TIMEOUT_SECONDS', '-5', 'a number > 0'],
    ['DB_POOL_TIMEOUT_SECONDS', '', 'a number > 0'],
    ['DB_POOL_PRE_PING', 'maybe', 'true or false'],
    ['DB_POOL_PRE_PING_IDLE_MS', '-1', 'a whole number ≥ 0'],
    ['DB_POOL_PRE_PING_TIMEOUT_MS', 'NaN', 'a whole number ≥ 1'],
    ['DB_POOL_RECYCLE_SECONDS', '-1', 'a number ≥ 0 (0 turns it off)'],
    ['DB_POOL_QUEUE_WARN_THRESHOLD', '1e3', 'a whole number ≥ 0'],
    ['DB_POOL_QUEUE_WARN_INTERVAL_MS', 'soon', 'a whole number ≥ 1'],
    ['DB_POOL_LEAK_WARN_MS', '-1', 'a whole number ≥ 0'],
    ['DB_STATEMENT_TIMEOUT_MS', '30s', 'a whole number ≥ 0'],
    ['DB_QUERY_TIMEOUT_MS', '1.5', 'a whole number ≥ 0'],
    ['DB_IDLE_IN_TRANSACTION_TIMEOUT_MS', 'off', 'a whole number ≥ 0'],
    ['DB_KEEPALIVE_INITIAL_DELAY_MS', 'yes', 'a whole number ≥ 0'],
    ['DB_POOL_RECYCLE_JITTER_SECONDS', '-2', 'a number ≥ 0 (0 turns it off)'],
    ['DB_READ_RETRY', 'sometimes', 'true or false'],
    ['DB_READ_RETRY_WAIT_MS', 'forever', 'a whole number ≥ 0'],
    ['DB_EXPECTED_REPLICAS', '0', 'a whole number ≥ 1'],
    ['DB_POOL_BUDGET_STRICT', 'strict', 'true or false'],
    ['DB_PGBOUNCER', 'transaction', 'true or false'],
  ])('rejects %s=%j, naming it and what is expected', (name, value, expected) => {
    const error = configError(() => loadDbConfig({ DATABASE_URL: URL, [name]: value }))
    expect(error.code).toBe('CONFIG_INVALID')
    expect(error.issues).toEqual([{ name, value, expected }])
    expect(error.message).toContain(`${name}: got ${JSON.stringify(value)}; expected ${expected}`)
  })

  it.each([
    ['not a url', 'a URL like postgres://user:password@host:5432/database'],
    ['mysql://app:hunter2@db/app', 'a postgres:// or postgresql:// URL, not mysql://'],
    ['postgres:///app', 'a URL with a host, like postgres://user:password@host:5432/database'],
  ])('rejects DATABASE_URL=%j without showing its password', (value, expected) => {
    const error = configError(() => loadDbConfig({ DATABASE_URL: value }))
    expect(error.issues[0]?.name).toBe('DATABASE_URL')
    expect(error.issues[0]?.expected).toBe(expected)
    expect(error.message).not.toContain('hunter2')
  })

  it('requires DATABASE_URL', () => {
    const error = configError(() => loadDbConfig({}))
    expect(error.issues).toEqual([
      { name: 'DATABASE_URL', value: undefined, expected: expect.stringContaining('a postgres:// URL') },
    ])
    expect(error.message).toContain('DATABASE_URL: missing; expected a postgres:// URL')
  })

  it('lists every offending variable in one error, with passwords masked', () => {
    const error = configError(() =>
      loadDbConfig({
        DATABASE_URL: 'http://app:hunter2@db/app',
        DB_POOL_SIZE: '-1',
        DB_POOL_PRE_PING: 'perhaps',
        DB_POOL_TIMEOUT_SECONDS: 'forever',
      }),
    )
    expect(error.issues.map((issue) => issue.name).sort()).toEqual([
      'DATABASE_URL',
      'DB_POOL_PRE_PING',
      'DB_POOL_SIZE',
      'DB_POOL_TIMEOUT_SECONDS',
    ])
    expect(error.message).toMatch(/^Invalid configuration \(4 variables\):/)
    expect(error.message).toContain('http://app:***@db/app')
    expect(error.message).not.toContain('hunter2')
  })
})
