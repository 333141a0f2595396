import type { FastifyPluginAsync, FastifyReply } from 'fastify'
import type { AppDependencies } from '../app-dependencies.js'
import { answer, errorResponses } from './responses.js'

/** `/healthz` (the process answers), `/readyz` (the database answers too) and `/metrics`. */
export function healthRoutes(deps: AppDependencies): FastifyPluginAsync {
  return async (app) => {
    app.get(
      '/healthz',
      {
        config: { access: 'open' },
        schema: {
          security: [],
          response: {
            200: answer('The process is up (says nothing of the database).', {
              type: 'object',
              required: ['status'],
              additionalProperties: false,
              properties: { status: { type: 'string', const: 'ok' } },
            }),
            ...errorResponses(),
          },
        },
      },
      async () => ({ status: 'ok' }),
    )

    app.get(
      '/readyz',
      {
        config: { access: 'open' },
        schema: {
          security: [],
          response: {
            200: answer('The database answered a ping, in `latencyMs`.', {
              type: 'object',
              required: ['status', 'database'],
              additionalProperties: false,
              properties: {
                status: { type: 'string', const: 'ready' },
                database: {
                  type: 'object',
                  required: ['latencyMs'],
                  additionalProperties: false,
                  properties: { latencyMs: { type: 'number' } },
                },
              },
            }),
            ...errorResponses(['DATABASE_UNAVAILABLE']),
          },
        },
      },
      async (_request, reply) => {
        const health = await deps.checkDatabase()
        if (health.ok)
          return { status: 'ready', database: { latencyMs: Math.round(health.latencyMs * 10) / 10 } }
        deps.logger.warn('readiness check failed: database unreachable', { error: health.error })
        // The plain reply type: the one inferred from the response schemas knows only the 200.
        return (reply as FastifyReply)
          .code(503)
          .header('retry-after', '2')
          .send({ error: 'DATABASE_UNAVAILABLE', message: 'the database is unavailable; retry shortly' })
      },
    )

    app.get(
      '/metrics',
      {
        config: { access: 'metrics' },
        schema: {
          security: [{ metricsToken: [] }],
          response: {
            200: answer('Prometheus metrics in the text exposition format.', {
              content: { 'text/plain': { schema: { type: 'string' } } },
            }),
            ...errorResponses(['UNAUTHENTICATED']),
          },
        },
      },
      async (_request, reply) => {
        reply.header('content-type', deps.metrics.registry.contentType)
        return deps.metrics.registry.metrics()
      },
    )
  }
}
