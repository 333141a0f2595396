import { describe, expect, it } from 'vitest'
import { isSecretName } from '../src/logging/redact.js'

describe('isSecretName', () => {
  it.each([
    'password',
    'PGPASSWORD',
    'DB_PASSWORD',
    'dbPassword',
    'passwd',
    'pass',
    'apiKey',
    'api_key',
    'API-KEY',
    'accessToken',
    'client_secret',
    'credentials',
  ])('treats %s as a secret', (name) => {
    expect(isSecretName(name)).toBe(true)
  })

  it.each(['passed', 'testsPassed', 'passengers', 'bypassCache', 'compass', 'keyspace', 'tokenizerModel'])(
    'does not mask %s, which only contains the letters of a secret word',
    (name) => {
      expect(isSecretName(name)).toBe(false)
    },
  )
})
