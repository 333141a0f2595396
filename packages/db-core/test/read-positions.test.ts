import { describe, expect, it } from 'vitest'
import { parseConnectionUrl } from '../src/config/connection-url.js'
import {
  ConfigError,
  currentReadPosition,
  DbCoreError,
  InstrumentedPostgresDialect,
  InvalidReadPositionError,
  loadDbConfig,
  onPrimary,
  parseReadPosition,
  resolveDbConfig,
  withReadPosition,
} from '../src/index.js'
import { lsnOf } from '../src/replicas/read-position.js'
import { advanceReadPosition, routingContext } from '../src/replicas/routing-scope.js'
import { configError } from './support.js'

const PRIMARY = 'postgres://app:hunter2@127.0.0.1:5432/app'

describe('read positions', () => {
  it('compares positions as 64-bit numbers, not as text', () => {
    expect(lsnOf('9/0')! < lsnOf('10/0')!).toBe(true)
    expect(lsnOf('0/FF')! < lsnOf('0/100')!).toBe(true)
    expect(lsnOf('1/0')! > lsnOf('0/FFFFFFFF')!).toBe(true)
    expect(lsnOf('FFFFFFFF/FFFFFFFF')).toBe(2n ** 64n - 1n)
  })

  it("parseReadPosition gives PostgreSQL's own spelling, and refuses anything else with INVALID_READ_POSITION naming the value and the form", () => {
    expect(parseReadPosition(' 16/b374d848 ')).toBe('16/B374D848')
    for (const bad of ['', 'nope', '16', '16/', '/1', '1/2/3', '123456789/0', '0x1/0', '1/G']) {
      let caught: unknown
      try {
        parseReadPosition(bad)
      } catch (error) {
        caught = error
      }
      expect(caught).toBeInstanceOf(InvalidReadPositionError)
      expect(caught).toBeInstanceOf(DbCoreError)
      expect((caught as InvalidReadPositionError).code).toBe('INVALID_READ_POSITION')
      expect((caught as Error).message).toBe(
        `${JSON.stringify(bad)} is not a read position: expected a PostgreSQL WAL position <hex>/<hex> (1 to 8 hex digits each), e.g. 16/B374D848`,
      )
    }
    expect(() => withReadPosition('16-B374D848', () => 1)).toThrow(InvalidReadPositionError)
  })

  it('a scope starts at its position, takes the furthest of its own and an enclosing one, and its writes advance both', () => {
    expect(currentReadPosition()).toBeUndefined()
    withReadPosition('0/200', () => {
      expect(currentReadPosition()).toBe('0/200')
      withReadPosition('0/100', () => {
        expect(currentReadPosition()).toBe('0/200')
        advanceReadPosition(routingContext()!.consistency!, lsnOf('1/0')!)
        // An older commit never moves it back.
        advanceReadPosition(routingContext()!.consistency!, lsnOf('0/300')!)
        expect(currentReadPosition()).toBe('1/0')
        // onPrimary keeps the scope: its writes advance it too.
        onPrimary(() => {
          expect(routingContext()!.primary).toBe(true)
          expect(currentReadPosition()).toBe('1/0')
        })
      })
      expect(currentReadPosition()).toBe('1/0')
    })
  })
})

describe('replica settings', () => {
  it('DATABASE_READ_URLS names each replica by position, takes libpq host lists apart, and sets the replica settings', () => {
    const config = loadDbConfig({
      DATABASE_URL: PRIMARY,
      DATABASE_READ_URLS: 'postgres://app:x@10.0.0.2:5432/app, postgresql://app:x@10.0.0.3/app',
      DB_REPLICA_MAX_LAG_MS: '2000',
      DB_REPLICA_POLL_MS: '100',
      DB_READ_YOUR_WRITES: 'false',
    })
    expect(config.replicas).toEqual({
      urls: [
        { name: 'replica1', url: 'postgres://app:x@10.0.0.2:5432/app' },
        { name: 'replica2', url: 'postgresql://app:x@10.0.0.3/app' },
      ],
      maxLagMs: 2000,
      pollMs: 100,
      readYourWrites: false,
    })
    // A resolved config resolves to an equal one.
    expect(resolveDbConfig(config).replicas).toEqual(config.replicas)
  })

  it('a bad DATABASE_READ_URLS entry is a ConfigError naming the entry, its problem and the password masked', () => {
    const error = configError(() =>
      loadDbConfig({
        DATABASE_URL: PRIMARY,
        DATABASE_READ_URLS:
          'postgres://app:secret@10.0.0.2/app,postgres://app:secret@h1:5432,h2:5432/app,mysql://x',
        DB_REPLICA_POLL_MS: '0',
      }),
    )
    expect(error.issues.map((issue) => issue.name)).toEqual(['DATABASE_READ_URLS', 'DB_REPLICA_POLL_MS'])
    const [urls] = error.issues
    expect(urls!.expected).toBe(
      'comma-separated postgres:// URLs, with entry 2 ("postgres://app:***@h1:5432,h2:5432/app") to name one host: ' +
        'each standby is an entry of its own, so that its poll and its reads reach the same server; ' +
        `entry 3 ("mysql://x") to be a postgres:// URL: ${(parseConnectionUrl('mysql://x') as { problems: readonly string[] }).problems.join('; ')}`,
    )
    expect(error.message).not.toContain('secret')
  })

  it('the typed option takes names, and refuses a bad URL, a bad name, a repeated one and "primary", by entry', () => {
    const config = resolveDbConfig({
      connectionString: PRIMARY,
      replicas: { urls: ['postgres://app@a/app', { name: 'reports', url: 'postgres://app@b/app' }] },
    })
    expect(config.replicas.urls.map((t) => t.name)).toEqual(['replica1', 'reports'])
    const error = configError(() =>
      resolveDbConfig({
        connectionString: PRIMARY,
        replicas: {
          urls: [
            'not a url',
            { name: 'primary', url: 'postgres://app@b/app' },
            { name: 'a b', url: 'postgres://app@c/app' },
            { name: 'x', url: 'postgres://app@d/app' },
            { name: 'x', url: 'postgres://app@e/app' },
          ],
          maxLagMs: -1,
        },
      }),
    )
    expect(error).toBeInstanceOf(ConfigError)
    expect(error.issues.map((i) => [i.name, i.expected.replace(/:.*/, '')])).toEqual([
      ['replicas.maxLagMs', 'a whole number ≥ 1'],
      ['replicas.urls', 'entry 1 ("not a url") to be a postgres'],
      ['replicas.urls', `entry 2's name to be letters, digits, _ or - (at most 63), not "primary"`],
      ['replicas.urls', `entry 3's name to be letters, digits, _ or - (at most 63), not "primary"`],
      ['replicas.urls', "entry 5's name to be unique"],
    ])
    // The dialect checks them at construction, before any connection.
    expect(
      () => new InstrumentedPostgresDialect({ connectionString: PRIMARY, replicas: { urls: ['nope'] } }),
    ).toThrow(ConfigError)
  })
})
