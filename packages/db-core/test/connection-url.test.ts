import { describe, expect, it } from 'vitest'
import { parseConnectionUrl } from '../src/config/connection-url.js'
import { loadDbConfig, resolveDbConfig } from '../src/index.js'
import { configError } from './support.js'

function parsed(url: string) {
  const result = parseConnectionUrl(url)
  if (!result.ok) throw new Error(`expected ${url} to parse: ${result.problems.join('; ')}`)
  return result
}

function problems(url: string): readonly string[] {
  const result = parseConnectionUrl(url)
  if (result.ok) throw new Error(`expected ${url} to be refused`)
  return result.problems
}

describe('libpq connection URLs', () => {
  it('takes several hosts in order, each with its port or 5432, IPv6 in brackets', () => {
    const url = parsed('postgres://app:s3cret@db1:5433,db2,[::1]:6432/app')
    expect(url.hosts).toEqual([
      { host: 'db1', port: 5433 },
      { host: 'db2', port: 5432 },
      { host: '::1', port: 6432 },
    ])
    expect(url.targetSessionAttrs).toBe('any')
    expect(url.connectTimeoutMs).toBeUndefined()
  })

  it.each(['any', 'read-write', 'read-only', 'primary', 'standby', 'prefer-standby'] as const)(
    'accepts target_session_attrs=%s',
    (attrs) => {
      expect(parsed(`postgresql://db1,db2/app?target_session_attrs=${attrs}`).targetSessionAttrs).toBe(attrs)
    },
  )

  it('gives node-postgres one host at a time, with the other parameters and without the ones it handles', () => {
    const url = parsed(
      'postgres://app:p%40ss@db1:5433,[::1]/app?sslmode=require&target_session_attrs=read-write&connect_timeout=3',
    )
    expect(url.forHost(url.hosts[0]!)).toBe('postgres://app:p%40ss@db1:5433/app?sslmode=require')
    expect(url.forHost(url.hosts[1]!)).toBe('postgres://app:p%40ss@[::1]:5432/app?sslmode=require')
    expect(url.connectTimeoutMs).toBe(3000)
  })

  it('reads connect_timeout as libpq does: seconds per host, at least 2, 0 for none', () => {
    expect(parsed('postgres://db/app?connect_timeout=1').connectTimeoutMs).toBe(2000)
    expect(parsed('postgres://db/app?connect_timeout=0').connectTimeoutMs).toBeUndefined()
  })

  it.each([
    ['postgres://db1,,db2/app', 'host 2 of 3 is empty'],
    ['postgres://db1,/app', 'host 2 of 2 is empty'],
    [
      'postgres://db1:54x32,db2/app',
      'host 1 of 2 (db1:54x32) has port "54x32", not a number from 1 to 65535',
    ],
    ['postgres://db1:70000/app', 'the host (db1:70000) has port "70000", not a number from 1 to 65535'],
    ['postgres://db1:/app', 'the host (db1:) has port "", not a number from 1 to 65535'],
    [
      'postgres://db1/app?target_session_attrs=master',
      'target_session_attrs=master is not one of any, read-write, read-only, primary, standby, prefer-standby',
    ],
    ['postgres://db1/app?connect_timeout=soon', 'connect_timeout=soon is not a whole number of seconds'],
    ['postgres://app:pw@/app', 'a URL with a host, like postgres://user:password@host:5432/database'],
  ])('refuses %s: %s', (url, problem) => {
    expect(problems(url)).toEqual([problem])
  })

  it('lists every problem of one URL at once', () => {
    expect(problems('postgres://,db2:0/app?target_session_attrs=writable')).toEqual([
      'host 1 of 2 is empty',
      'host 2 of 2 (db2:0) has port "0", not a number from 1 to 65535',
      'target_session_attrs=writable is not one of any, read-write, read-only, primary, standby, prefer-standby',
    ])
  })

  it('is what DATABASE_URL and the typed connectionString are checked with, the password never shown', () => {
    const url = 'postgres://app:hunter2@db1,,db2/app?target_session_attrs=leader'
    const fromEnv = configError(() => loadDbConfig({ DATABASE_URL: url }))
    expect(fromEnv.issues).toEqual([
      {
        name: 'DATABASE_URL',
        value: 'postgres://app:***@db1,,db2/app?target_session_attrs=leader',
        expected:
          'host 2 of 3 is empty; target_session_attrs=leader is not one of any, read-write, read-only, primary, standby, prefer-standby',
      },
    ])
    expect(fromEnv.message).not.toContain('hunter2')
    expect(() => resolveDbConfig({ connectionString: url })).toThrow(
      /connectionString: got .*host 2 of 3 is empty/,
    )
    expect(() => resolveDbConfig({ connectionString: url })).not.toThrow(/hunter2/)
    expect(loadDbConfig({ DATABASE_URL: 'postgres://app:pw@db1:5432,db2:5433/app' }).connectionString).toBe(
      'postgres://app:pw@db1:5432,db2:5433/app',
    )
  })
})
