// The api's OpenAPI 3.1 document, built by @fastify/swagger from the routes' schemas, and its reference
// page: Swagger UI at /documentation, the document at /documentation/json (and /yaml).
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import type { FastifyInstance } from 'fastify'
import { withReadPositionHeader } from './read-position.js'

/** Where the reference page is served; the document is at `${DOCUMENTATION_PATH}/json`. */
export const DOCUMENTATION_PATH = '/documentation'

/**
 * Registers @fastify/swagger on `app` itself (within a plugin it would see only that plugin's routes)
 * and @fastify/swagger-ui at {@link DOCUMENTATION_PATH}: the page, its assets (served from the
 * package, nothing from a CDN) and the document. Call before the routes are registered: the plugin
 * learns them as they are added.
 *
 * ```ts
 * registerOpenApi(app)
 * app.register(classroomRoutes(deps))
 * ```
 */
export function registerOpenApi(app: FastifyInstance): void {
  app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Classroom API',
        version: '1.0.0',
        description:
          'Classrooms, students and enrollments. Every error is `{ error, message, field?, requestId? }` with a ' +
          'stable `error` code; an unknown path answers 404 `NOT_FOUND`, `CONNECT` 405 `METHOD_NOT_ALLOWED`. ' +
          'POST and DELETE take an optional `Idempotency-Key`. Every request takes an optional `Read-Position` ' +
          '(read-your-writes across requests and api processes: send back the last one an answer carried). ' +
          'Every route but `/healthz`, `/readyz` and this document takes a bearer JWT (`sub`, `school_id`, `role`: ' +
          '`student`, `teacher` or `school_admin`): none or a bad one is 401 `UNAUTHENTICATED` with `WWW-Authenticate`, ' +
          'a role without the right 403 `FORBIDDEN`, another school’s object 404. `/metrics` takes `METRICS_TOKEN`.',
      },
      components: {
        securitySchemes: {
          bearer: {
            type: 'http',
            scheme: 'bearer',
            bearerFormat: 'JWT',
            description: 'A JWT signed by the configured key (API_AUTH_*).',
          },
          metricsToken: { type: 'http', scheme: 'bearer', description: 'METRICS_TOKEN, for /metrics only.' },
        },
      },
      security: [{ bearer: [] }],
    },
    transform: ({ schema, url }) => ({ schema: withReadPositionHeader(schema), url }),
  })
  app.register(swaggerUi, {
    routePrefix: DOCUMENTATION_PATH,
    // Swagger UI would otherwise ask an online validator about the document.
    validatorUrl: false,
    uiConfig: { deepLinking: true, docExpansion: 'list' },
  })
}
