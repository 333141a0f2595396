import { DatabaseTlsError } from '@classroom/db-core'
import { describe, expect, it } from 'vitest'
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
})
