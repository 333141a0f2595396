import { ConfigError } from '@classroom/db-core'
import { describe, expect, it } from 'vitest'
import { loadApiConfig } from '../src/config.js'

describe('loadApiConfig', () => {
  it('defaults to 127.0.0.1:3000 on an embedded database, migrating on start', () => {
    const config = loadApiConfig({})
    expect(config).toMatchObject({
      host: '127.0.0.1',
      port: 3000,
      migrateOnStart: true,
      shutdownTimeoutMs: 10_000,
    })
    expect(config.database).toMatchObject({ kind: 'embedded', port: undefined })
  })

  it('serves DATABASE_URL when set, with db-core settings applied', () => {
    const config = loadApiConfig({
      DATABASE_URL: 'postgres://a:b@db:5432/x',
      DB_POOL_SIZE: '7',
      DB_MIGRATE_ON_START: 'false',
    })
    expect(config.database).toEqual({
      kind: 'external',
      connectionString: 'postgres://a:b@db:5432/x',
      migrationConnectionString: 'postgres://a:b@db:5432/x',
    })
    expect(config.migrateOnStart).toBe(false)
    expect(config.dbConfig('postgres://a:b@db:5432/x').pool.size).toBe(7)
  })

  it('migrates through DATABASE_MIGRATION_URL when set, serving DATABASE_URL', () => {
    const config = loadApiConfig({
      DATABASE_URL: 'postgres://app:a@db:5432/x',
      DATABASE_MIGRATION_URL: 'postgres://owner:o@db:5432/x',
    })
    expect(config.database).toEqual({
      kind: 'external',
      connectionString: 'postgres://app:a@db:5432/x',
      migrationConnectionString: 'postgres://owner:o@db:5432/x',
    })
  })

  it('rejects a DATABASE_MIGRATION_URL that is not a postgres URL, naming it, password masked', () => {
    let error: unknown
    try {
      loadApiConfig({
        DATABASE_URL: 'postgres://app:a@db/x',
        DATABASE_MIGRATION_URL: 'mysql://owner:hunter2@db/x',
      })
    } catch (e) {
      error = e
    }
    expect(error).toBeInstanceOf(ConfigError)
    expect((error as ConfigError).issues).toEqual([
      {
        name: 'DATABASE_MIGRATION_URL',
        value: 'mysql://owner:***@db/x',
        expected: expect.stringContaining('postgres://'),
      },
    ])
    expect((error as ConfigError).message).not.toContain('hunter2')
  })

  it('rejects DATABASE_MIGRATION_URL without DATABASE_URL: the embedded database migrates with its own owner', () => {
    expect(() => loadApiConfig({ DATABASE_MIGRATION_URL: 'postgres://owner:o@db/x' })).toThrow(
      'DATABASE_MIGRATION_URL: got "postgres://owner:***@db/x"; expected DATABASE_URL to be set too',
    )
  })

  it('lists bad api, pool and logger variables in one error, naming each', () => {
    let error: unknown
    try {
      loadApiConfig({
        PORT: 'http',
        HOST: 'local host',
        SHUTDOWN_TIMEOUT_MS: '-1',
        DB_POOL_MAX_OVERFLOW: 'lots',
        LOG_LEVEL: 'loud',
        EMBEDDED_PG_DATA_DIR: 'relative/dir',
        DATABASE_URL: 'postgres//broken',
      })
    } catch (e) {
      error = e
    }
    expect(error).toBeInstanceOf(ConfigError)
    expect((error as ConfigError).issues.map((i) => i.name).sort()).toEqual([
      'DATABASE_URL',
      'DB_POOL_MAX_OVERFLOW',
      'EMBEDDED_PG_DATA_DIR',
      'HOST',
      'LOG_LEVEL',
      'PORT',
      'SHUTDOWN_TIMEOUT_MS',
    ])
    expect((error as ConfigError).issues.find((i) => i.name === 'LOG_LEVEL')?.expected).toBe(
      'one of error, warn, info, http, verbose, debug, silly',
    )
  })
})
