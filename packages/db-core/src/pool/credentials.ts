import { readFile } from 'node:fs/promises'
import type { ConnectionUrl } from '../config/connection-url.js'
import { passwordOfFile } from '../config/password-file.js'
import type { Secret } from '../config/secret.js'
import type { DbConfig } from '../config/settings.js'
import { DatabaseAuthError } from '../errors.js'
import { redactSecrets } from '../logging/redact.js'

// A refused login: 28P01 invalid_password; 28000 invalid_authorization_specification (no
// pg_hba.conf entry, an unknown role).
const AUTH_SQLSTATES = new Set(['28P01', '28000'])

/** Where every new connection's password comes from, and how errors name that place. */
export interface PasswordSource {
  /** Short, for `DatabaseAuthError.passwordSource`: `DB_PASSWORD_FILE=/run/secrets/db`, `DATABASE_URL`. */
  readonly name: string
  /** What a login was tried with, for messages: `the password from DB_PASSWORD_FILE=/run/secrets/db`. */
  readonly tried: string
  /**
   * For node-postgres, which calls it at each login; `undefined` when the URL carries the password
   * (or there is none).
   */
  readonly password: (() => Promise<string>) | undefined
}

/**
 * The password source of a resolved config: its `passwordFile`, read at every new connection; its
 * password function, called at every new connection; or the URL.
 */
export function passwordSource(config: DbConfig, url: ConnectionUrl): PasswordSource {
  const { passwordFile, password } = config
  if (passwordFile !== undefined) {
    const name = `DB_PASSWORD_FILE=${passwordFile}`
    return { name, tried: `the password from ${name}`, password: () => readPasswordFile(passwordFile, name) }
  }
  if (password !== undefined) {
    const name = 'the password function'
    return { name, tried: `the password from ${name}`, password: () => callPasswordFunction(password, name) }
  }
  if (url.hasPassword)
    return { name: 'DATABASE_URL', tried: 'the password in DATABASE_URL', password: undefined }
  return {
    name: 'none',
    tried: 'no password (none in DATABASE_URL, and neither DB_PASSWORD_FILE nor a password function is set)',
    password: undefined,
  }
}

/**
 * A login the server refused (28P01, 28000) as a {@link DatabaseAuthError} naming the user and where
 * the password came from, never the password; a `DatabaseAuthError` already (the password could not
 * be had) as it is; `undefined` for anything else.
 */
export function authFailure(
  error: unknown,
  source: PasswordSource,
  user: string | undefined,
): DatabaseAuthError | undefined {
  if (error instanceof DatabaseAuthError) return error
  const code = (error as { code?: unknown } | undefined)?.code
  if (!(error instanceof Error) || typeof code !== 'string' || !AUTH_SQLSTATES.has(code)) return undefined
  const who = user === undefined ? 'the default user' : `user ${JSON.stringify(user)}`
  return new DatabaseAuthError(
    `authentication failed for ${who} with ${source.tried} (${code}: ${redactSecrets(error.message)})`,
    { passwordSource: source.name, cause: error },
  )
}

async function readPasswordFile(path: string, source: string): Promise<string> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message
    throw new DatabaseAuthError(`could not read the database password from ${source} (${reason})`, {
      passwordSource: source,
      cause: error,
    })
  }
  const password = passwordOfFile(text)
  // An empty password would reach the server as a wrong one: say what is wrong instead.
  if (password === '') {
    throw new DatabaseAuthError(`the database password file is empty (${source})`, {
      passwordSource: source,
      cause: undefined,
    })
  }
  return password
}

async function callPasswordFunction(password: Secret, source: string): Promise<string> {
  let value: unknown
  try {
    value = await password.reveal()
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error)
    throw new DatabaseAuthError(`${source} failed: ${redactSecrets(reason)}`, {
      passwordSource: source,
      cause: error,
    })
  }
  if (typeof value !== 'string' || value === '') {
    const got = typeof value === 'string' ? 'an empty string' : `a ${value === null ? 'null' : typeof value}`
    throw new DatabaseAuthError(`${source} returned ${got}, not a password`, {
      passwordSource: source,
      cause: undefined,
    })
  }
  return value
}
