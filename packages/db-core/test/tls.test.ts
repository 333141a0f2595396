import { rm } from 'node:fs/promises'
import { LocalPostgres } from '@classroom/local-postgres'
import { findClosedPort, makeCertificates, recordingLogger, type TestCertificates } from '@classroom/test-kit'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ConfigError, DatabaseTlsError, loadDbConfig } from '../src/index.js'
import { configFor, openPool } from './support.js'

// Certificate authorities and a server certificate for 127.0.0.1, made for this run; the second,
// unrelated CA is one to verify against and fail.
let certificates: TestCertificates
let tlsCluster: LocalPostgres
let plainCluster: LocalPostgres

beforeAll(async () => {
  certificates = await makeCertificates()
  tlsCluster = await LocalPostgres.temporary({
    settings: {
      ssl: 'on',
      ssl_cert_file: certificates.serverCert,
      ssl_key_file: certificates.serverKey,
    },
  })
  plainCluster = await LocalPostgres.temporary()
})

afterAll(async () => {
  await tlsCluster?.destroy()
  await plainCluster?.destroy()
  if (certificates) await rm(certificates.dir, { recursive: true, force: true })
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
    const ca = certificates.caFile
    expect(
      await connectWith(tlsCluster.connectionString(), { DB_SSL_MODE: 'verify-full', DB_SSL_CA_FILE: ca }),
    ).toBe(true)
  })

  it('verify-full refuses a server whose certificate another CA signed, with a clear error', async () => {
    const ca = certificates.otherCaFile
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
    const url = tlsCluster.connectionString('postgres', { ports: [await findClosedPort(), tlsCluster.port] })
    const right = { DB_SSL_MODE: 'verify-full', DB_SSL_CA_FILE: certificates.caFile }
    expect(await connectWith(url, right)).toBe(true)
    const wrong = { DB_SSL_MODE: 'verify-full', DB_SSL_CA_FILE: certificates.otherCaFile }
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
