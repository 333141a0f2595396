import { mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { DB_CONFIG_DEFAULTS, loadDbConfig, resolveDbConfig } from '../src/index.js'
import { configError } from './support.js'

const URL = 'postgres://app:hunter2@127.0.0.1:5432/app'

describe('resolveDbConfig: settings as a typed object', () => {
  it('fills every default, the same the env path gives', () => {
    const config = resolveDbConfig({ connectionString: URL })
    expect(config).toEqual(loadDbConfig({ DATABASE_URL: URL }))
    expect(config.pool).toMatchObject({ ...DB_CONFIG_DEFAULTS.pool, recycleJitterMs: 180_000 })
    expect(Object.isFrozen(config.session)).toBe(true)
  })

  it('takes what is given and keeps the rest of each section at its default', () => {
    const config = resolveDbConfig({
      connectionString: URL,
      pool: { size: 5, prePing: false, recycleMs: 0 },
      session: { statementTimeoutMs: 1000 },
      pgbouncer: true,
    })
    expect(config.pool).toMatchObject({
      size: 5,
      maxOverflow: 40,
      prePing: false,
      recycleMs: 0,
      recycleJitterMs: 0,
    })
    expect(config.session).toMatchObject({ statementTimeoutMs: 1000, queryTimeoutMs: 35_000 })
    expect(config.pgbouncer).toBe(true)
  })

  it('resolves a resolved config to an equal one', () => {
    const config = loadDbConfig({ DATABASE_URL: URL, DB_POOL_SIZE: '7', DB_POOL_TIMEOUT_SECONDS: '0.5' })
    expect(resolveDbConfig(config)).toEqual(config)
  })

  it('names every bad option by its path and what it expects, in one error', () => {
    const error = configError(() =>
      resolveDbConfig({
        connectionString: URL,
        pool: { size: -1, acquireTimeoutMs: 1.5, prePing: 'yes' as unknown as boolean },
        tls: { mode: 'prefer' as 'require' },
        budget: { expectedReplicas: -1 },
        pgbouncer: 'no' as unknown as boolean,
      }),
    )
    expect(error.issues).toEqual([
      { name: 'pool.size', value: '-1', expected: 'a whole number ≥ 0' },
      { name: 'pool.acquireTimeoutMs', value: '1.5', expected: 'a whole number ≥ 1' },
      { name: 'pool.prePing', value: '"yes"', expected: 'true or false' },
      { name: 'budget.expectedReplicas', value: '-1', expected: 'a whole number ≥ 1' },
      { name: 'tls.mode', value: '"prefer"', expected: 'one of disable, require, verify-full' },
      { name: 'pgbouncer', value: '"no"', expected: 'true or false' },
    ])
  })

  it('refuses a missing connection string and a jitter as long as the lifetime', () => {
    const error = configError(() =>
      resolveDbConfig({ connectionString: '', pool: { recycleMs: 1000, recycleJitterMs: 1000 } }),
    )
    expect(error.issues.map((i) => i.name)).toEqual(['connectionString', 'pool.recycleJitterMs'])
  })

  it('reads the CA from tls.caFile, and names a file it cannot read', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'db-core-ca-'))
    const caFile = path.join(dir, 'ca.pem')
    await writeFile(caFile, '-----BEGIN CERTIFICATE-----\n')
    expect(resolveDbConfig({ connectionString: URL, tls: { mode: 'verify-full', caFile } }).tls.ca).toBe(
      '-----BEGIN CERTIFICATE-----\n',
    )
    const error = configError(() =>
      resolveDbConfig({
        connectionString: URL,
        tls: { mode: 'verify-full', caFile: path.join(dir, 'missing.pem') },
      }),
    )
    expect(error.issues).toEqual([
      { name: 'tls.caFile', value: path.join(dir, 'missing.pem'), expected: 'a readable PEM file (ENOENT)' },
    ])
  })
})
