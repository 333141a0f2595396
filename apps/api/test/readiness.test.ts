import { readFile, rm, writeFile } from 'node:fs/promises'
import { checkDatabase } from '@classroom/db-core'
import { LocalPostgres } from '@classroom/local-postgres'
import { makeCertificates, type TestCertificates } from '@classroom/test-kit'
import pg from 'pg'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { request, startTestApi, type TestApi } from './support.js'

// /readyz connects exactly as the pool does (its TLS settings included), where it once made a plain
// node-postgres connection from the URL alone: these servers tell the two apart.
let certificates: TestCertificates
let cluster: LocalPostgres
let databaseUrl: string
let hbaFile: string
let t: TestApi | undefined

/** Superuser SQL over TLS, which every pg_hba.conf used here accepts. */
async function admin(sql: string): Promise<void> {
  const client = new pg.Client({
    connectionString: cluster.connectionString(),
    ssl: { rejectUnauthorized: false },
  })
  await client.connect()
  try {
    await client.query(sql)
  } finally {
    await client.end()
  }
}

/** Rewrites pg_hba.conf (TCP from 127.0.0.1, scram) and has the server read it again. */
async function allowOnly(kind: 'host' | 'hostssl'): Promise<void> {
  await writeFile(hbaFile, `${kind} all all 127.0.0.1/32 scram-sha-256\n`)
  await admin('select pg_reload_conf()')
}

/** Has the server present another certificate and key, from new connections on. */
async function presentCertificate(cert: string, key: string): Promise<void> {
  await writeFile(certificates.liveCert, await readFile(cert))
  await writeFile(certificates.liveKey, await readFile(key))
  await admin('select pg_reload_conf()')
}

/** The configuration reloads in the background: asks /readyz until it answers `status`. */
async function readyzUntil(status: number, timeoutMs = 5000) {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const response = await request(t!.url, 'GET', '/readyz')
    if (response.status === status || Date.now() > deadline) return response
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

beforeAll(async () => {
  certificates = await makeCertificates()
  cluster = await LocalPostgres.temporary({
    settings: { ssl: 'on', ssl_cert_file: certificates.liveCert, ssl_key_file: certificates.liveKey },
  })
  databaseUrl = await cluster.createDatabase('api_readiness')
  const [row] = await cluster.query<{ file: string }>("select current_setting('hba_file') as file")
  hbaFile = row!.file
})

afterEach(async () => {
  await t?.close()
  t = undefined
})

afterAll(async () => {
  await cluster?.destroy()
  if (certificates) await rm(certificates.dir, { recursive: true, force: true })
})

describe('GET /readyz', () => {
  it('answers 503 when the server presents a certificate the DB_SSL_CA_FILE CA did not sign (verify-full)', async () => {
    await allowOnly('host')
    await presentCertificate(certificates.serverCert, certificates.serverKey)
    t = await startTestApi(
      'api_readiness',
      { DB_SSL_MODE: 'verify-full', DB_SSL_CA_FILE: certificates.caFile },
      databaseUrl,
    )
    expect((await request(t.url, 'GET', '/readyz')).status).toBe(200)

    // A certificate from another CA: for this api, a wrong CA. Pooled connections keep their session.
    await presentCertificate(certificates.otherServerCert, certificates.otherServerKey)
    const { status, body, headers } = await readyzUntil(503)
    expect(status).toBe(503)
    expect(body).toEqual({
      error: 'DATABASE_UNAVAILABLE',
      message: 'the database is unavailable; retry shortly',
    })
    expect(headers.get('retry-after')).toBe('2')
    expect(
      t.logs.find((line) => line.message === 'readiness check failed: database unreachable'),
    ).toMatchObject({
      level: 'warn',
      error: expect.stringMatching(/certificate/),
    })
    // The old probe, a plain connection from the URL alone, would still have answered 200.
    await expect(checkDatabase(databaseUrl, { timeoutMs: 2000 })).resolves.toMatchObject({ ok: true })
  })

  it('answers 200 from a server that accepts only TLS, with DB_SSL_MODE=require', async () => {
    await allowOnly('hostssl')
    t = await startTestApi('api_readiness', { DB_SSL_MODE: 'require' }, databaseUrl)
    const { status, body } = await request(t.url, 'GET', '/readyz')
    expect(status).toBe(200)
    expect(body).toMatchObject({ status: 'ready' })
    // The old probe, without TLS, is turned away by pg_hba.conf: it would have answered 503.
    await expect(checkDatabase(databaseUrl, { timeoutMs: 2000 })).resolves.toMatchObject({
      ok: false,
      error: expect.stringContaining('no pg_hba.conf entry'),
    })
  })
})
