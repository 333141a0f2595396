import { execFileSync } from 'node:child_process'
import { chmod, chown, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir, userInfo } from 'node:os'
import path from 'node:path'
import { LocalPostgres } from '@classroom/local-postgres'
import { findFreePort, recordingLogger } from '@classroom/test-kit'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ConfigError, DatabaseTlsError, loadDbConfig } from '../src/index.js'
import { configFor, openPool } from './support.js'

// A certificate authority and a server certificate for 127.0.0.1, made for this run; a second,
// unrelated CA to verify against and fail.
let dir: string
let tlsCluster: LocalPostgres
let plainCluster: LocalPostgres

function openssl(...args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' })
}

function newCa(name: string): void {
  openssl(
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-days',
    '1',
    '-subj',
    `/CN=${name}`,
    '-keyout',
    `${name}.key`,
    '-out',
    `${name}.crt`,
  )
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'db-core-tls-'))
  await chmod(dir, 0o755)
  newCa('test-ca')
  newCa('other-ca')
  openssl(
    'req',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-subj',
    '/CN=localhost',
    '-keyout',
    'server.key',
    '-out',
    'server.csr',
  )
  await writeFile(path.join(dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n')
  openssl(
    'x509',
    '-req',
    '-in',
    'server.csr',
    '-CA',
    'test-ca.crt',
    '-CAkey',
    'test-ca.key',
    '-CAcreateserial',
    '-days',
    '1',
    '-extfile',
    'san.ext',
    '-out',
    'server.crt',
  )
  // PostgreSQL insists the key is private to the user it runs as.
  await chmod(path.join(dir, 'server.key'), 0o600)
  if (userInfo().uid === 0) {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }))
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }))
    for (const file of ['server.key', 'server.crt']) await chown(path.join(dir, file), uid, gid)
  }
  tlsCluster = await LocalPostgres.temporary({
    settings: {
      ssl: 'on',
      ssl_cert_file: path.join(dir, 'server.crt'),
      ssl_key_file: path.join(dir, 'server.key'),
    },
  })
  plainCluster = await LocalPostgres.temporary()
})

afterAll(async () => {
  await tlsCluster?.destroy()
  await plainCluster?.destroy()
  await rm(dir, { recursive: true, force: true })
})

async function connectWith(url: string, env: Record<string, string>) {
  const pool = openPool(configFor(url, env), recordingLogger().logger)
  try {
    const { rows } = await pool.query<{ ssl: boolean }>(
      'select ssl from pg_stat_ssl where pid = pg_backend_pid()',
    )
    return rows[0]!.ssl
  } catch (error) {
    return error
  } finally {
    await pool.end()
  }
}

describe('DB_SSL_MODE', () => {
  it('verify-full connects over TLS with the right CA', async () => {
    const ca = path.join(dir, 'test-ca.crt')
    expect(
      await connectWith(tlsCluster.connectionString(), { DB_SSL_MODE: 'verify-full', DB_SSL_CA_FILE: ca }),
    ).toBe(true)
  })

  it('verify-full refuses a server whose certificate another CA signed, with a clear error', async () => {
    const ca = path.join(dir, 'other-ca.crt')
    const error = await connectWith(tlsCluster.connectionString(), {
      DB_SSL_MODE: 'verify-full',
      DB_SSL_CA_FILE: ca,
    })
    expect(error).toBeInstanceOf(DatabaseTlsError)
    expect(error).toMatchObject({ code: 'DATABASE_TLS_FAILED' })
    expect((error as Error).message).toMatch(
      new RegExp(
        `^the database server's TLS certificate did not verify against DB_SSL_CA_FILE=${ca} \\(DB_SSL_MODE=verify-full\\): `,
      ),
    )
  })

  it('verify-full with several hosts verifies the one each connection lands on', async () => {
    const url = tlsCluster.connectionString('postgres', { ports: [await findFreePort(), tlsCluster.port] })
    const right = { DB_SSL_MODE: 'verify-full', DB_SSL_CA_FILE: path.join(dir, 'test-ca.crt') }
    expect(await connectWith(url, right)).toBe(true)
    const wrong = { DB_SSL_MODE: 'verify-full', DB_SSL_CA_FILE: path.join(dir, 'other-ca.crt') }
    expect(await connectWith(url, wrong)).toBeInstanceOf(DatabaseTlsError)
  })

  it('require connects over TLS without verifying, and refuses a server without TLS', async () => {
    expect(await connectWith(tlsCluster.connectionString(), { DB_SSL_MODE: 'require' })).toBe(true)
    const error = await connectWith(plainCluster.connectionString(), { DB_SSL_MODE: 'require' })
    expect(error).toBeInstanceOf(DatabaseTlsError)
    expect((error as Error).message).toBe(
      'DB_SSL_MODE=require requires TLS, but the database server does not offer it (enable ssl on the server, or set DB_SSL_MODE=disable)',
    )
  })

  it('disable connects in plain TCP even where TLS is offered', async () => {
    expect(await connectWith(tlsCluster.connectionString(), { DB_SSL_MODE: 'disable' })).toBe(false)
  })

  it('verify-full without a readable DB_SSL_CA_FILE is a configuration error', () => {
    const url = 'postgres://app:x@127.0.0.1:5432/app'
    expect(() => loadDbConfig({ DATABASE_URL: url, DB_SSL_MODE: 'verify-full' })).toThrow(ConfigError)
    expect(() => loadDbConfig({ DATABASE_URL: url, DB_SSL_MODE: 'verify-full' })).toThrow(
      'DB_SSL_CA_FILE: missing; expected the CA certificate file, which DB_SSL_MODE=verify-full needs',
    )
    expect(() =>
      loadDbConfig({ DATABASE_URL: url, DB_SSL_MODE: 'verify-full', DB_SSL_CA_FILE: '/nonexistent/ca.pem' }),
    ).toThrow('DB_SSL_CA_FILE: got "/nonexistent/ca.pem"; expected a readable PEM file (ENOENT)')
    expect(() => loadDbConfig({ DATABASE_URL: url, DB_SSL_MODE: 'maybe' })).toThrow(
      'DB_SSL_MODE: got "maybe"; expected one of disable, require, verify-full',
    )
  })
})
