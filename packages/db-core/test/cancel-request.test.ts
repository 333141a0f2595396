import { performance } from 'node:perf_hooks'
import { findClosedPort } from '@classroom/test-kit'
import { describe, expect, it } from 'vitest'
import { sendCancelRequest } from '../src/dialect/cancel-request.js'
import { startSilentServer } from './support.js'

const target = { host: '127.0.0.1', processID: 4242, secretKey: 1234 }

describe('sendCancelRequest: best effort, never a failure of its own', () => {
  it('gives up after its timeout on a server that never closes the request', async () => {
    const silent = await startSilentServer()
    try {
      const startedAt = performance.now()
      await expect(
        sendCancelRequest({ ...target, port: Number(new URL(silent.url).port) }, 300),
      ).resolves.toBeUndefined()
      const elapsedMs = performance.now() - startedAt
      expect(elapsedMs).toBeGreaterThanOrEqual(290)
      expect(elapsedMs).toBeLessThan(2000)
    } finally {
      silent.close()
    }
  })

  it('resolves at once where nothing listens', async () => {
    const startedAt = performance.now()
    await expect(
      sendCancelRequest({ ...target, port: await findClosedPort() }, 5000),
    ).resolves.toBeUndefined()
    expect(performance.now() - startedAt).toBeLessThan(1000)
  })
})
