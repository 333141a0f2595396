import {
  DatabaseAtCapacityError,
  DatabaseAuthError,
  DatabaseTlsError,
  InstrumentedPool,
} from '@classroom/db-core'
import type {} from '@classroom/local-postgres/vitest-global-setup'
import { recordingLogger } from '@classroom/test-kit'
import { errorCodes } from 'fastify'
import pg from 'pg'
import { describe, expect, inject, it } from 'vitest'
import { toErrorResponse } from '../src/error-response.js'

describe('toErrorResponse', () => {
  it('answers a TLS misconfiguration as an unexpected 500, logged, with no detail in the body', () => {
    const tls = new DatabaseTlsError(
      "the database server's TLS certificate did not verify against DB_SSL_CA_FILE=/etc/ca.pem",
      {
        cause: new Error('self-signed certificate in certificate chain'),
      },
    )
    const response = toErrorResponse(tls, 'req-1')
    expect(response).toEqual({
      status: 500,
      body: { error: 'INTERNAL_ERROR', message: 'an unexpected error occurred', requestId: 'req-1' },
      headers: {},
      unexpected: true,
    })
  })

  it('answers a login the server refused (DATABASE_AUTH_FAILED) as an unexpected 500, logged, with no detail in the body', async () => {
    // A real refusal, from the run's test server: its user with a wrong password.
    const url = new URL(inject('databaseUrl'))
    url.password = 'not-the-password'
    const pool = new InstrumentedPool({ connectionString: url.toString(), logger: recordingLogger().logger })
    const refused = await pool.query('select 1').then(
      () => undefined,
      (error: unknown) => error,
    )
    await pool.end()
    expect(refused).toBeInstanceOf(DatabaseAuthError)
    expect((refused as Error).message).toMatch(
      /^authentication failed for user "\w+" with the password in DATABASE_URL \(28P01: /,
    )
    expect(toErrorResponse(refused, 'req-2')).toEqual({
      status: 500,
      body: { error: 'INTERNAL_ERROR', message: 'an unexpected error occurred', requestId: 'req-2' },
      headers: {},
      unexpected: true,
    })
  })
})

describe('a server that refuses new connections for capacity', () => {
  it('answers 503 DATABASE_AT_CAPACITY with Retry-After when the pool holds no connection to queue for', async () => {
    // A real refusal (53300): a role whose CONNECTION LIMIT is 0, on the run's test server.
    const admin = new pg.Client({ connectionString: inject('databaseUrl') })
    await admin.connect()
    await admin.query('drop role if exists api_capped')
    await admin.query(`create role api_capped login password 'capped' connection limit 0`)
    await admin.end()
    const url = new URL(inject('databaseUrl'))
    url.username = 'api_capped'
    url.password = 'capped'
    const pool = new InstrumentedPool({
      connectionString: url.toString(),
      pool: { unavailableWaitMs: 100 },
      logger: recordingLogger().logger,
    })
    const refused = await pool.query('select 1').then(
      () => undefined,
      (error: unknown) => error,
    )
    await pool.end()
    expect(refused).toBeInstanceOf(DatabaseAtCapacityError)
    expect(toErrorResponse(refused, 'req-3')).toEqual({
      status: 503,
      body: {
        error: 'DATABASE_AT_CAPACITY',
        message: 'the database accepts no more connections; retry shortly',
      },
      headers: { 'retry-after': '2' },
      unexpected: false,
    })
  })
})

describe("fastify's error codes", () => {
  // Every code fastify exports, made as fastify makes it: the 4xx ones are refusals of a request.
  const codes = Object.entries(errorCodes).map(([code, make]) => {
    const error = new make('QUERY', 'x', 'y')
    return [code, error.statusCode ?? 500, error] as const
  })

  it('are all walked (fastify exports them)', () => {
    expect(codes.length).toBeGreaterThan(50)
    expect(codes.filter(([, status]) => status < 500).length).toBeGreaterThan(10)
  })

  it.each(codes.filter(([, status]) => status >= 400 && status < 500))(
    '%s (fastify says %i) -> the same 4xx with the uniform body and a code of the api',
    (_code, status, error) => {
      const response = toErrorResponse(error, 'req-3')
      expect(response.status).toBe(status)
      expect(response.unexpected).toBe(false)
      expect(response.body.error).toMatch(/^[A-Z_]+$/)
      expect(response.body.error).not.toBe('INTERNAL_ERROR')
      expect(response.body.message).toMatch(/\S/)
      expect(response.body.message).not.toContain('FST_')
    },
  )

  it.each(codes.filter(([, status]) => status >= 500))(
    '%s (a fault of the server, not of a request) -> 500 INTERNAL_ERROR, logged',
    (_code, _status, error) => {
      expect(toErrorResponse(error, 'req-4')).toEqual({
        status: 500,
        body: { error: 'INTERNAL_ERROR', message: 'an unexpected error occurred', requestId: 'req-4' },
        headers: {},
        unexpected: true,
      })
    },
  )
})
