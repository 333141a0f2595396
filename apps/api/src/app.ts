import { randomUUID } from 'node:crypto'
import { Ajv } from 'ajv'
import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify'
import { ApiError } from './api-error.js'
import type { AppDependencies } from './app-dependencies.js'
import { authenticate } from './auth/authenticate.js'
import { guardConnections } from './connection-guard.js'
import { restOfBodyDropped } from './drain.js'
import { BODY_LIMIT_BYTES, clientErrorResponse, MAX_PARAM_LENGTH, toErrorResponse } from './error-response.js'
import { DEFAULT_HTTP_LIMITS, type HttpLimits } from './http-limits.js'
import { utf8JsonParser } from './json-body.js'
import { answerNodeRefusals, requireHost } from './node-refusals.js'
import { registerOpenApi } from './openapi.js'
import { readYourWrites } from './read-position.js'
import { requestDeadline } from './request-deadline.js'
import { classroomRoutes } from './routes/classrooms.js'
import { enrollmentRoutes } from './routes/enrollments.js'
import { healthRoutes } from './routes/health.js'
import { homeRoutes } from './routes/home.js'
import { hungUp } from './routes/read-options.js'
import { addApiKeywords } from './routes/schemas.js'
import { studentRoutes } from './routes/students.js'
import { nameSpanByRoute } from './tracing.js'

/**
 * Builds the HTTP api (not yet listening).
 *
 * ```ts
 * const app = buildApp({ db, logger, metrics, checkDatabase }, config.http)
 * await app.listen({ host: '127.0.0.1', port: 3000 })
 * ```
 */
export function buildApp(deps: AppDependencies, limits: HttpLimits = DEFAULT_HTTP_LIMITS): FastifyInstance {
  const app = Fastify({
    logger: false,
    bodyLimit: BODY_LIMIT_BYTES,
    connectionTimeout: limits.connectionTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    http: {
      // Checked by `requireHost`, which answers with the uniform body instead of Node's empty one.
      requireHostHeader: false,
      // Node's default, which its request deadline needs: set after creation (as fastify does), 60 s would disable it.
      headersTimeout: Math.min(60_000, limits.requestTimeoutMs),
      // Node checks request deadlines on this interval: four times per timeout cuts a slow one within 1.25 × it.
      connectionsCheckingInterval: Math.min(30_000, Math.ceil(limits.requestTimeoutMs / 4)),
    },
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    requestIdHeader: 'x-request-id',
    genReqId: () => randomUUID(),
    // A path fastify cannot decode (`/classrooms/%zz`) or a path segment past its length limit is
    // refused before any route runs: answered with the uniform body, not fastify's own.
    // No hook runs for these, so the request id is set here.
    frameworkErrors: (error, request, reply) => {
      const response = toErrorResponse(error, request.id)
      ;(reply as FastifyReply)
        .code(response.status)
        .headers({ ...response.headers, 'x-request-id': request.id })
        .send(response.body)
    },
    // Refused by Node's HTTP parser (headers over 16 KiB, a malformed request): no request exists yet.
    clientErrorHandler: (error, socket) => {
      if ((error as NodeJS.ErrnoException).code === 'ECONNRESET' || socket.destroyed) return
      if (socket.writable) socket.write(clientErrorResponse(error))
      socket.destroy(error)
    },
  })

  // Bodies are validated strictly: "10" is not a number and unknown fields are refused, not dropped.
  // Path and query parts are text by nature, so there numbers are coerced.
  const bodyAjv = addApiKeywords(new Ajv({ coerceTypes: false, removeAdditional: false, useDefaults: true }))
  const textAjv = addApiKeywords(new Ajv({ coerceTypes: true, removeAdditional: false, useDefaults: true }))
  // JSON only: without this, fastify's built-in text/plain parser lets text reach the validators.
  app.removeContentTypeParser('text/plain')
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, utf8JsonParser(app))
  guardConnections(app.server, limits.maxConnections)
  answerNodeRefusals(app.server)
  app.addHook('onRequest', requireHost)

  app.setValidatorCompiler(({ schema, httpPart }) =>
    (httpPart === 'body' ? bodyAjv : textAjv).compile(schema),
  )

  if (deps.traceRoutes) app.addHook('onRequest', nameSpanByRoute)
  authenticate(app, deps.verifyToken, deps.metricsToken)
  readYourWrites(app)
  if (deps.requestDeadlineMs !== undefined) requestDeadline(app, deps.requestDeadlineMs)

  // Callback hooks: an async one costs a promise per request.
  app.addHook('onSend', (request, reply, payload, done) => {
    reply.header('x-request-id', request.id)
    done(null, payload)
  })

  app.addHook('onResponse', (request, reply, done) => {
    const route = request.routeOptions.url ?? 'unmatched'
    const seconds = reply.elapsedTime / 1000
    deps.metrics.httpRequestDuration.observe(
      { method: request.method, route, status_code: String(reply.statusCode) },
      seconds,
    )
    // Below the logger's level the line is not built: winston streams it before dropping it (BENCHMARKS.md).
    if (deps.logger.isLevelEnabled?.('info') ?? true) {
      deps.logger.info('request', {
        method: request.method,
        route,
        status: reply.statusCode,
        durationMs: Math.round(reply.elapsedTime * 10) / 10,
        requestId: request.id,
      })
    }
    done()
  })

  app.setErrorHandler((error, request, reply) => {
    // The client hung up: its statement was cancelled and nobody is left to answer.
    if (hungUp(reply)) {
      deps.logger.debug('request abandoned by its client', {
        requestId: request.id,
        route: request.routeOptions.url,
      })
      return reply.code(499).send()
    }
    const response = toErrorResponse(error, request.id)
    if (response.unexpected) {
      deps.logger.error('unexpected error while handling a request', {
        requestId: request.id,
        method: request.method,
        route: request.routeOptions.url,
        error: error instanceof Error ? error.message : String(error),
        stack: error instanceof Error ? error.stack : undefined,
      })
    } else if (response.status >= 500) {
      deps.logger.warn('request failed on the database', { requestId: request.id, code: response.body.error })
    }
    const answer = () => reply.code(response.status).headers(response.headers).send(response.body)
    // Fastify refuses an oversized body before reading it and closes after answering: answered at once,
    // a client still sending would be reset before it reads the 413. Read the rest first.
    return response.body.error === 'BODY_TOO_LARGE' ? restOfBodyDropped(request.raw).then(answer) : answer()
  })

  app.setNotFoundHandler((request) => {
    throw new ApiError(404, 'NOT_FOUND', `no route ${request.method} ${request.url.split('?')[0]}`)
  })

  registerOpenApi(app)
  app.register(homeRoutes())
  app.register(healthRoutes(deps))
  app.register(classroomRoutes(deps))
  app.register(studentRoutes(deps))
  app.register(enrollmentRoutes(deps))
  return app
}
