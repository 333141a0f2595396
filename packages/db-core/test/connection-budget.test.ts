import { LocalPostgres } from '@classroom/local-postgres'
import { recordingLogger } from '@classroom/test-kit'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ConnectionBudgetError, checkConnectionBudget } from '../src/index.js'
import { configFor, openPool } from './support.js'

// A server with a small max_connections of its own.
let cluster: LocalPostgres

beforeAll(async () => {
  cluster = await LocalPostgres.temporary({
    settings: { max_connections: '50', superuser_reserved_connections: '3' },
  })
})

afterAll(async () => {
  await cluster.destroy()
})

async function check(overrides: Record<string, string>) {
  const { logger, lines } = recordingLogger()
  const config = configFor(cluster.connectionString(), overrides)
  const pool = openPool(config, logger)
  try {
    return { result: await checkConnectionBudget(pool, config, logger).catch((e: unknown) => e), lines }
  } finally {
    await pool.end()
  }
}

describe('checkConnectionBudget', () => {
  it('is quiet when every replica fits', async () => {
    const { result, lines } = await check({
      DB_POOL_SIZE: '10',
      DB_POOL_MAX_OVERFLOW: '10',
      DB_EXPECTED_REPLICAS: '2',
    })
    expect(result).toMatchObject({
      demand: 40,
      maxConnections: 50,
      superuserReserved: 3,
      available: 47,
      fits: true,
    })
    expect(lines.filter((l) => l.level === 'warn')).toEqual([])
  })

  it('warns with the arithmetic when the pools could open more than the server gives', async () => {
    const { result, lines } = await check({})
    expect(result).toMatchObject({ perReplica: 60, replicas: 1, demand: 60, available: 47, fits: false })
    expect(lines).toContainEqual(
      expect.objectContaining({
        level: 'warn',
        message: expect.stringContaining(
          '1 replica(s) × (size + overflow = 60) = 60 connections, but the server gives ordinary roles 47',
        ),
      }),
    )
  })

  it('refuses with ConnectionBudgetError under DB_POOL_BUDGET_STRICT=true', async () => {
    const { result } = await check({
      DB_POOL_SIZE: '10',
      DB_POOL_MAX_OVERFLOW: '5',
      DB_EXPECTED_REPLICAS: '4',
      DB_POOL_BUDGET_STRICT: 'true',
    })
    expect(result).toBeInstanceOf(ConnectionBudgetError)
    expect(result).toMatchObject({
      code: 'CONNECTION_BUDGET_EXCEEDED',
      budget: { demand: 60, available: 47 },
    })
  })
})
