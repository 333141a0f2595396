// Bearer tokens verified with jose: an HS256 secret, a public key (PEM) or a JWKS file, as configured.
import { readFile } from 'node:fs/promises'
import {
  type CryptoKey,
  createLocalJWKSet,
  errors,
  importSPKI,
  type JSONWebKeySet,
  type JWTVerifyGetKey,
  jwtVerify,
} from 'jose'
import { type Principal, principalOf } from './principal.js'

/** How the api verifies tokens (`API_AUTH_*`). */
export interface AuthSettings {
  /** Where the key comes from: exactly one. */
  readonly key:
    | { readonly kind: 'secret'; readonly secret: Uint8Array }
    | { readonly kind: 'public-key'; readonly file: string; readonly algorithm: string }
    | { readonly kind: 'jwks'; readonly file: string }
  /** `iss` a token must carry, when set. */
  readonly issuer: string | undefined
  /** `aud` a token must carry. */
  readonly audience: string
}

/** A token that proves nothing: why, in words the 401 may carry. */
export class InvalidTokenError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options)
    this.name = 'InvalidTokenError'
  }
}

/** Verifies one bearer token and returns its principal, or throws {@link InvalidTokenError}. */
export type TokenVerifier = (token: string) => Promise<Principal>

/**
 * The verifier for `settings`: signature (only the key's algorithm: `alg: none` and an HS256 token
 * against a public key are refused), `exp` required and in the future, `aud`, `iss` when configured,
 * then the principal's claims. Reads the key file once, here.
 *
 * ```ts
 * const verify = await tokenVerifier(config.auth)
 * const principal = await verify(token)
 * ```
 */
export async function tokenVerifier(settings: AuthSettings): Promise<TokenVerifier> {
  const { key, algorithms } = await loadKey(settings.key)
  return async (token) => {
    let payload: Record<string, unknown>
    try {
      ;({ payload } = await jwtVerify(token, key as JWTVerifyGetKey, {
        algorithms,
        audience: settings.audience,
        ...(settings.issuer !== undefined && { issuer: settings.issuer }),
        requiredClaims: ['exp', 'sub'],
      }))
    } catch (error) {
      throw new InvalidTokenError(describe(error), { cause: error })
    }
    const principal = principalOf(payload)
    if (typeof principal === 'string') throw new InvalidTokenError(principal)
    return principal
  }
}

async function loadKey(
  key: AuthSettings['key'],
): Promise<{ key: Uint8Array | CryptoKey | JWTVerifyGetKey; algorithms: string[] }> {
  if (key.kind === 'secret') return { key: key.secret, algorithms: ['HS256'] }
  const text = await readFile(key.file, 'utf8')
  if (key.kind === 'public-key')
    return { key: await importSPKI(text, key.algorithm), algorithms: [key.algorithm] }
  const set = JSON.parse(text) as JSONWebKeySet
  const algorithms = [
    ...new Set(set.keys.map((k) => k.alg).filter((alg): alg is string => !!alg && !alg.startsWith('HS'))),
  ]
  return {
    key: createLocalJWKSet(set),
    algorithms: algorithms.length > 0 ? algorithms : ['RS256', 'ES256', 'EdDSA'],
  }
}

function describe(error: unknown): string {
  if (error instanceof errors.JWTExpired) return 'the token has expired'
  if (error instanceof errors.JWTClaimValidationFailed)
    return `the token's "${error.claim}" claim is not accepted`
  if (error instanceof errors.JOSEAlgNotAllowed) return "the token's algorithm is not accepted"
  if (error instanceof errors.JWSSignatureVerificationFailed) return "the token's signature does not verify"
  return 'the token is not a valid JWT'
}
