import { recordingLogger } from '@classroom/test-kit'
import { describe, expect, it } from 'vitest'
import { buildApp } from '../src/app.js'
import { createMetrics } from '../src/metrics.js'
import { databaseNeverReached } from '../src/openapi-document.js'

const METRICS = 'request-log-metrics-token'

/** The api with no database behind it (its routes compile queries, `/healthz` runs none). */
function appLoggingAt(infoEnabled: boolean | undefined) {
  const { logger, lines } = recordingLogger()
  const withLevel = infoEnabled === undefined ? logger : { ...logger, isLevelEnabled: () => infoEnabled }
  const app = buildApp({
    db: databaseNeverReached(),
    logger: withLevel,
    metrics: createMetrics(),
    writeRetryWithinMs: 0,
    verifyToken: () => Promise.reject(new Error('no route here needs a token')),
    metricsToken: METRICS,
    checkDatabase: () => Promise.reject(new Error('not used')),
  })
  return { app, lines }
}

describe('the request line', () => {
  it.each([
    ['a logger that says info is written', 1, true],
    ['a logger that cannot say', 1, undefined],
    ['a logger whose level is above info', 0, false],
  ] as const)(
    'for %s: %s line(s) logged; the request answered and measured either way',
    async (_what, expected, enabled) => {
      const { app, lines } = appLoggingAt(enabled)
      try {
        const response = await app.inject({
          method: 'GET',
          url: '/healthz',
          headers: { 'x-request-id': 'r-1' },
        })
        expect(response.statusCode).toBe(200)
        expect(response.headers['x-request-id']).toBe('r-1')
        expect(lines.filter((line) => line.message === 'request')).toHaveLength(expected)
        const metrics = await app.inject({
          method: 'GET',
          url: '/metrics',
          headers: { authorization: `Bearer ${METRICS}` },
        })
        expect(metrics.body).toMatch(/http_request_duration_seconds_count\{[^}]*route="\/healthz"[^}]*\} 1/)
      } finally {
        await app.close()
      }
    },
  )
})
