// A password held as a Secret: kept by a spread config, logging in from there, and shown by nothing.
import { inspect } from 'node:util'
import { recordingLogger } from '@classroom/test-kit'
import { afterEach, describe, expect, inject, it } from 'vitest'
import { DatabaseAuthError, InstrumentedPool, resolveDbConfig, Secret } from '../src/index.js'
import { configError } from './support.js'

// The test server's superuser, its password given only by a function: scram-sha-256 asks for it.
const server = new URL(inject('databaseUrl'))
const password = decodeURIComponent(server.password)
server.password = ''
const withoutPassword = server.href

const pools: InstrumentedPool[] = []
afterEach(async () => {
  await Promise.all(pools.splice(0).map((pool) => pool.end()))
})

/** A resolved config whose password function counts its calls in `calls`. */
function configWith(give: () => string = () => password) {
  const asked = { calls: 0 }
  const config = resolveDbConfig({
    connectionString: withoutPassword,
    password: () => {
      asked.calls++
      return give()
    },
    pool: { size: 1, maxOverflow: 0 },
  })
  return { config, asked }
}

describe('Secret', () => {
  it('shows *** to String(), template literals, toString, JSON.stringify and util.inspect', () => {
    const secret = new Secret(() => 'hunter2')
    expect([String(secret), `${secret}`, secret.toString()]).toEqual(['***', '***', '***'])
    expect(JSON.stringify({ secret })).toBe('{"secret":"***"}')
    expect(inspect({ secret }, { depth: 5 })).toBe('{ secret: Secret(***) }')
  })

  it('gives the password only to reveal(), asking its function anew each time', async () => {
    let calls = 0
    const secret = new Secret(async () => `token-${++calls}`)
    expect(await secret.reveal()).toBe('token-1')
    expect(await secret.reveal()).toBe('token-2')
  })
})

describe("a resolved config's password", () => {
  it('is an enumerable Secret: a spread config keeps it, and a pool made from that logs in with it', async () => {
    const { config, asked } = configWith()
    expect(config.password).toBeInstanceOf(Secret)
    expect(Object.keys(config)).toContain('password')
    const spread = { ...config }
    expect(spread.password).toBe(config.password)
    const pool = new InstrumentedPool({ ...spread, logger: recordingLogger().logger })
    pools.push(pool)
    const { rows } = await pool.query<{ user: string }>('select current_user as user')
    expect(rows).toEqual([{ user: server.username }])
    expect(asked.calls).toBe(1)
  })

  it('shows in no JSON.stringify, util.inspect, String() or template literal of the config', () => {
    const { config } = configWith()
    const shown = [
      JSON.stringify(config),
      JSON.stringify({ ...config }),
      inspect(config, { depth: 10 }),
      inspect({ ...config }, { depth: 10 }),
      String(config.password),
      `${config.password}`,
    ]
    expect(shown.join('\n')).not.toContain(password)
    expect(JSON.parse(shown[0]!)).toMatchObject({ password: '***' })
    expect(shown[2]).toContain('password: Secret(***)')
  })

  it('shows in no error: a login refused through a spread config, or a config refused for it', async () => {
    const { config } = configWith(() => 'not-the-password')
    const pool = new InstrumentedPool({ ...config, logger: recordingLogger().logger })
    pools.push(pool)
    const refused = await pool.query('select 1').catch((error: unknown) => error)
    expect(refused).toBeInstanceOf(DatabaseAuthError)
    expect(refused).toMatchObject({
      passwordSource: 'the password function',
      message: expect.stringMatching(
        /^authentication failed for user "\w+" with the password from the password function \(28P01: /,
      ),
    })
    expect(inspect(refused, { depth: 5 })).not.toContain('not-the-password')
    // Resolved again beside a URL that carries a password too: refused, naming neither password.
    const twoSources = configError(() =>
      resolveDbConfig({ ...configWith().config, connectionString: inject('databaseUrl') }),
    )
    expect(twoSources.issues).toEqual([
      {
        name: 'password',
        value: 'a Secret',
        expected:
          'one source of the password, but connectionString holds one too: remove it from the URL or drop the password function',
      },
    ])
    expect(inspect(twoSources, { depth: 5 })).not.toContain(password)
  })
})
