// Tokens the api itself signs: the embedded database's development tokens, and tests'.
import { SignJWT } from 'jose'
import type { Principal } from './principal.js'

/** How long a minted token lives, unless told. */
const DEFAULT_LIFETIME = '24h'

/**
 * An HS256 token for `principal`, as an identity provider would issue it: `sub`, `school_id`,
 * `role`, `aud`, `iat`, `exp` (`expiresIn`: a jose time span, or seconds since the epoch).
 *
 * ```ts
 * const token = await mintToken(secret, { userId: 1, schoolId: 1, role: 'teacher' }, { audience: 'classroom-api' })
 * ```
 */
export function mintToken(
  secret: Uint8Array,
  principal: Principal,
  {
    audience,
    issuer,
    expiresIn = DEFAULT_LIFETIME,
  }: { audience: string; issuer?: string; expiresIn?: string | number },
): Promise<string> {
  const jwt = new SignJWT({ school_id: principal.schoolId, role: principal.role })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(String(principal.userId))
    .setAudience(audience)
    .setIssuedAt()
    .setExpirationTime(expiresIn)
  return (issuer === undefined ? jwt : jwt.setIssuer(issuer)).sign(secret)
}
