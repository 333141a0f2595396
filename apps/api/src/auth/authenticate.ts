// Every request but the open ones proves who it is: a bearer token in, the principal's settings around its handler.
import { timingSafeEqual } from 'node:crypto'
import { withSessionSettings } from '@classroom/db-core'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { ApiError } from '../api-error.js'
import { DOCUMENTATION_PATH } from '../openapi.js'
import { type Principal, type Role, sessionSettingsOf } from './principal.js'
import { InvalidTokenError, type TokenVerifier } from './verifier.js'

/** What a route says of its access in its `config`: open to all, or guarded by the metrics token. */
export interface AccessConfig {
  readonly access?: 'open' | 'metrics'
}

declare module 'fastify' {
  interface FastifyContextConfig extends AccessConfig {}
}

const REALM = 'classroom-api'

/** Each authenticated request's principal, from `onRequest` to the handler. */
const principals = new WeakMap<FastifyRequest, Principal>()

/**
 * The principal of an authenticated request (a route that is not open).
 *
 * ```ts
 * const { schoolId } = requestPrincipal(request)
 * ```
 */
export function requestPrincipal(request: FastifyRequest): Principal {
  const principal = principals.get(request)
  if (!principal) throw new Error(`no principal for ${request.method} ${request.url}: is the route open?`)
  return principal
}

/**
 * The principal, when its role is one of `roles`; else 403 `FORBIDDEN` naming what would be allowed.
 *
 * ```ts
 * const principal = requireRole(request, STAFF, 'create a classroom')
 * ```
 */
export function requireRole(request: FastifyRequest, roles: readonly Role[], what: string): Principal {
  const principal = requestPrincipal(request)
  if (!roles.includes(principal.role)) throw forbidden(principal, what, roles.join(' or '))
  return principal
}

/** 403 `FORBIDDEN`: the principal may not do `what`; only `who` may. */
export function forbidden(principal: Principal, what: string, who: string): ApiError {
  return new ApiError(403, 'FORBIDDEN', `a ${principal.role} may not ${what}: only ${who} may`)
}

/**
 * Verifies the `Authorization: Bearer <JWT>` of every request to a route that is not open
 * (`config.access`), before its body is read: none, or one that does not verify, is 401
 * `UNAUTHENTICATED` with `WWW-Authenticate` (RFC 6750). The handler then runs inside
 * `withSessionSettings` with the principal's `app.school_id`, `app.user_id` and `app.role`, so
 * every statement of the request carries them to the database's row-level security. A route with
 * `access: 'metrics'` takes `metricsToken` instead (none configured: refused).
 *
 * ```ts
 * authenticate(app, await tokenVerifier(config.auth), config.metricsToken) // before the routes
 * ```
 */
export function authenticate(
  app: FastifyInstance,
  verify: TokenVerifier,
  metricsToken: string | undefined,
): void {
  const metrics = metricsToken === undefined ? undefined : Buffer.from(metricsToken)
  app.addHook('onRequest', async (request) => {
    const access = (request.routeOptions.config as AccessConfig | undefined)?.access
    // The reference page and its document (@fastify/swagger-ui's routes, which take no config): open.
    if (access === 'open' || request.routeOptions.url?.startsWith(DOCUMENTATION_PATH)) return
    const token = bearer(request.headers.authorization)
    if (access === 'metrics') {
      if (!metrics)
        throw unauthenticated('/metrics needs the metrics token, and none is configured (METRICS_TOKEN)')
      if (token === undefined)
        throw unauthenticated('send the metrics token as Authorization: Bearer <METRICS_TOKEN>')
      const given = Buffer.from(token)
      if (given.length !== metrics.length || !timingSafeEqual(given, metrics))
        throw unauthenticated('that is not the metrics token', 'invalid_token')
      return
    }
    if (token === undefined) throw unauthenticated('send a bearer token: Authorization: Bearer <JWT>')
    try {
      principals.set(request, await verify(token))
    } catch (error) {
      if (error instanceof InvalidTokenError) throw unauthenticated(error.message, 'invalid_token')
      throw error
    }
  })
  app.addHook('preHandler', (request, _reply, done) => {
    const principal = principals.get(request)
    if (!principal) return done()
    // The handler runs from this done(), inside the scope: every statement of it carries the settings.
    withSessionSettings(sessionSettingsOf(principal), () => done())
  })
}

/** The token of an `Authorization: Bearer` header, if it has one. */
function bearer(header: string | undefined): string | undefined {
  const match = header === undefined ? null : /^Bearer +([A-Za-z0-9._~+/-]+=*) *$/i.exec(header)
  return match?.[1]
}

function unauthenticated(message: string, error?: 'invalid_token'): ApiError {
  const challenge = error
    ? `Bearer realm="${REALM}", error="${error}", error_description="${message.replaceAll('"', "'")}"`
    : `Bearer realm="${REALM}"`
  return new ApiError(401, 'UNAUTHENTICATED', message, undefined, { 'www-authenticate': challenge })
}
