import { findClosedPort } from '@classroom/test-kit'
import { describe, expect, inject, it } from 'vitest'
import { checkDatabase } from '../src/index.js'
import { startSilentServer } from './support.js'

describe('checkDatabase', () => {
  it('reports a reachable database as ok', async () => {
    await expect(checkDatabase(inject('databaseUrl'), { timeoutMs: 1000 })).resolves.toMatchObject({
      ok: true,
    })
  })

  it('reports a refused connection fast, without the password', async () => {
    const port = await findClosedPort()
    const health = await checkDatabase(`postgres://app:hunter2@127.0.0.1:${port}/app`, { timeoutMs: 1000 })
    expect(health).toMatchObject({ ok: false, error: expect.stringContaining('ECONNREFUSED') })
    expect(JSON.stringify(health)).not.toContain('hunter2')
  })

  it('gives up after the timeout on a server that accepts TCP but never answers', async () => {
    const silent = await startSilentServer()
    try {
      const health = await checkDatabase(silent.url, { timeoutMs: 300 })
      expect(health.ok).toBe(false)
      expect(health.latencyMs).toBeGreaterThanOrEqual(290)
      expect(health.latencyMs).toBeLessThan(5000)
    } finally {
      silent.close()
    }
  })
})
