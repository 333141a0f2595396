// A password the config holds without ever showing it: given on request, masked everywhere else.
import { MASK } from '../logging/redact.js'

/**
 * Gives the database password for one new connection: called again for every connection, so a
 * short-lived token (an IAM authentication token) is fetched fresh. May be async.
 *
 * ```ts
 * const password: PasswordFunction = async () => (await fetch('http://127.0.0.1:8200/db-token')).text()
 * ```
 */
export type PasswordFunction = () => string | Promise<string>

/**
 * A password function held so that nothing prints its password by accident: `String()`, a template
 * literal, `JSON.stringify`, `util.inspect` (so `console.log` and test failures) all show `***`, and
 * only {@link Secret.reveal} asks for the password. An ordinary enumerable value, unlike
 * node-postgres's hidden `password` property, so a spread config (`{ ...config }`) keeps it.
 *
 * ```ts
 * const secret = new Secret(async () => (await fetch('http://127.0.0.1:8200/db-token')).text())
 * console.log(`${secret}`, JSON.stringify({ secret })) // *** {"secret":"***"}
 * const token = await secret.reveal()
 * ```
 */
export class Secret {
  readonly #ask: PasswordFunction

  constructor(ask: PasswordFunction) {
    this.#ask = ask
  }

  /** The password, asked anew on every call: each new connection gets a fresh one. */
  reveal(): string | Promise<string> {
    return this.#ask()
  }

  toString(): string {
    return MASK
  }

  toJSON(): string {
    return MASK
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `Secret(${MASK})`
  }
}
