import type { FastifyPluginAsync } from 'fastify'
import type { AppDependencies } from '../app-dependencies.js'

/** `/healthz` (the process answers), `/readyz` (the database answers too) and `/metrics`. */
export function healthRoutes(deps: AppDependencies): FastifyPluginAsync {
  return async (app) => {
    app.get('/healthz', async () => ({ status: 'ok' }))

    app.get('/readyz', async (_request, reply) => {
      const health = await deps.checkDatabase()
      if (health.ok)
        return { status: 'ready', database: { latencyMs: Math.round(health.latencyMs * 10) / 10 } }
      deps.logger.warn('readiness check failed: database unreachable', { error: health.error })
      return reply
        .code(503)
        .header('retry-after', '2')
        .send({ error: 'DATABASE_UNAVAILABLE', message: 'the database is unavailable; retry shortly' })
    })

    app.get('/metrics', async (_request, reply) => {
      reply.header('content-type', deps.metrics.registry.contentType)
      return deps.metrics.registry.metrics()
    })
  }
}
