import { ConfigError } from '@classroom/db-core'
import { describe, expect, it } from 'vitest'
import { loadApiConfig } from '../src/config.js'
import { TEST_AUTH_SECRET } from './support.js'

const AUTH = { API_AUTH_HS256_SECRET: TEST_AUTH_SECRET }

describe('loadApiConfig', () => {
  it('defaults to 127.0.0.1:3000 on an embedded database, migrating on start', () => {
    const config = loadApiConfig({ ...AUTH })
    expect(config).toMatchObject({
      host: '127.0.0.1',
      port: 3000,
      migrateOnStart: true,
      shutdownTimeoutMs: 10_000,
    })
    expect(config.database).toMatchObject({ kind: 'embedded', port: undefined })
  })

  it('defaults the HTTP server limits to the documented values, and takes each from its variable', () => {
    expect(loadApiConfig({ ...AUTH }).http).toEqual({
      connectionTimeoutMs: 10_000,
      requestTimeoutMs: 30_000,
      keepAliveTimeoutMs: 72_000,
      maxConnections: 900,
    })
    expect(
      loadApiConfig({
        ...AUTH,
        HTTP_CONNECTION_TIMEOUT_MS: '5000',
        HTTP_REQUEST_TIMEOUT_MS: '20000',
        HTTP_KEEP_ALIVE_TIMEOUT_MS: '65000',
        HTTP_MAX_CONNECTIONS: '4000',
      }).http,
    ).toEqual({
      connectionTimeoutMs: 5000,
      requestTimeoutMs: 20_000,
      keepAliveTimeoutMs: 65_000,
      maxConnections: 4000,
    })
  })

  it('rejects HTTP limits that are not whole numbers of at least 1, naming each', () => {
    let error: unknown
    try {
      loadApiConfig({
        ...AUTH,
        HTTP_CONNECTION_TIMEOUT_MS: '0',
        HTTP_REQUEST_TIMEOUT_MS: '1.5',
        HTTP_KEEP_ALIVE_TIMEOUT_MS: 'soon',
        HTTP_MAX_CONNECTIONS: '-3',
      })
    } catch (e) {
      error = e
    }
    expect(error).toBeInstanceOf(ConfigError)
    const issues = (error as ConfigError).issues
    expect(issues.map((issue) => issue.name).sort()).toEqual([
      'HTTP_CONNECTION_TIMEOUT_MS',
      'HTTP_KEEP_ALIVE_TIMEOUT_MS',
      'HTTP_MAX_CONNECTIONS',
      'HTTP_REQUEST_TIMEOUT_MS',
    ])
    for (const issue of issues) expect(issue.expected).toBe('a whole number ≥ 1')
  })

  it('serves DATABASE_URL when set, with db-core settings applied', () => {
    const config = loadApiConfig({
      ...AUTH,
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

  it('reads its replicas through db-core: DATABASE_READ_URLS named in order, DB_READ_YOUR_WRITES; a bad entry named', () => {
    const config = loadApiConfig({
      ...AUTH,
      DATABASE_URL: 'postgres://a:b@db/x',
      DATABASE_READ_URLS: 'postgres://a:b@r1/x,postgres://a:b@r2/x',
      DB_READ_YOUR_WRITES: 'false',
    })
    expect(config.dbConfig('postgres://a:b@db/x').replicas).toMatchObject({
      readYourWrites: false,
      urls: [
        { name: 'replica1', url: 'postgres://a:b@r1/x' },
        { name: 'replica2', url: 'postgres://a:b@r2/x' },
      ],
    })
    const bad = () =>
      loadApiConfig({
        ...AUTH,
        DATABASE_URL: 'postgres://a@db/x',
        DATABASE_READ_URLS: 'postgres://a@r1/x,mysql://r2',
      })
    expect(bad).toThrow(ConfigError)
    expect(bad).toThrow(/DATABASE_READ_URLS: .*entry 2/)
  })

  it('migrates through DATABASE_MIGRATION_URL when set, serving DATABASE_URL', () => {
    const config = loadApiConfig({
      ...AUTH,
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
        ...AUTH,
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
    expect(() => loadApiConfig({ ...AUTH, DATABASE_MIGRATION_URL: 'postgres://owner:o@db/x' })).toThrow(
      'DATABASE_MIGRATION_URL: got "postgres://owner:***@db/x"; expected DATABASE_URL to be set too',
    )
  })

  it('lists bad api, pool and logger variables in one error, naming each', () => {
    let error: unknown
    try {
      loadApiConfig({
        ...AUTH,
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

  it('takes LOG_FORMAT auto (the default), json or pretty, and refuses another, saying which it takes', () => {
    expect(loadApiConfig({}).log).toEqual({ level: 'info', format: 'auto' })
    expect(loadApiConfig({ LOG_FORMAT: 'pretty' }).log.format).toBe('pretty')
    expect(loadApiConfig({ LOG_FORMAT: 'json' }).log.format).toBe('json')
    expect(() => loadApiConfig({ LOG_FORMAT: 'colour' })).toThrow(
      expect.objectContaining({
        issues: [{ name: 'LOG_FORMAT', value: 'colour', expected: 'one of auto, json, pretty' }],
      }),
    )
  })
})

describe('the authentication settings (API_AUTH_*)', () => {
  const external = { DATABASE_URL: 'postgres://a@db/x' }
  const issue = (env: Record<string, string>) => {
    try {
      loadApiConfig(env)
    } catch (error) {
      return error as ConfigError
    }
    throw new Error('expected a ConfigError')
  }

  it('needs a key with DATABASE_URL: only the embedded database makes one of its own', () => {
    expect(issue(external).issues).toEqual([
      expect.objectContaining({
        name: 'API_AUTH_HS256_SECRET',
        value: undefined,
        expected: expect.stringContaining('exactly one of'),
      }),
    ])
    expect(loadApiConfig({}).auth).toBeUndefined()
  })

  it('refuses two key sources at once, naming both', () => {
    const error = issue({ ...external, ...AUTH, API_AUTH_JWKS_FILE: '/etc/jwks.json' })
    expect(error.issues.map((i) => i.name)).toEqual(['API_AUTH_HS256_SECRET', 'API_AUTH_JWKS_FILE'])
  })

  it('refuses a short HS256 secret without printing it, and a relative key file', () => {
    const error = issue({
      ...external,
      API_AUTH_HS256_SECRET: 'short-secret-value',
      API_AUTH_PUBLIC_KEY_FILE: 'key.pem',
    })
    expect(error.message).not.toContain('short-secret-value')
    expect(error.issues.map((i) => i.name).sort()).toEqual([
      'API_AUTH_HS256_SECRET',
      'API_AUTH_PUBLIC_KEY_FILE',
    ])
  })

  it('takes a secret, the audience and the issuer', () => {
    const config = loadApiConfig({
      ...external,
      ...AUTH,
      API_AUTH_ISSUER: 'https://idp.example',
      API_AUTH_AUDIENCE: 'classes',
    })
    expect(config.auth).toMatchObject({
      key: { kind: 'secret' },
      issuer: 'https://idp.example',
      audience: 'classes',
    })
  })
})
