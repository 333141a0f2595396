// The caller's per-request settings (withSessionSettings): validated once, carried to every statement's transaction.
import { AsyncLocalStorage } from 'node:async_hooks'
import { DbCoreError } from '../errors.js'

/** Why a statement, or the settings themselves, were refused inside {@link withSessionSettings}. */
export type SessionSettingsRefusal =
  /** The settings given are not custom option names (`app.school_id`) with text values. */
  | 'INVALID_SETTINGS'
  /** A statement whose effect outlives the transaction: session `SET`, `RESET`, `LISTEN`, `DECLARE … WITH HOLD`… */
  | 'SESSION_STATEMENT'
  /** A cursor or stream outside a transaction: it would outlive the one the settings live in. */
  | 'OUTSIDE_TRANSACTION'
  /** A transaction open on the connection that was not begun with these settings. */
  | 'FOREIGN_TRANSACTION'
  /** A statement sent while another is still in flight on the connection, outside a transaction. */
  | 'PIPELINED'
  /** A text of several statements outside a transaction: it cannot go in one exchange behind the settings. */
  | 'MULTIPLE_STATEMENTS'

/**
 * A statement, or the settings, cannot hold inside {@link withSessionSettings}: nothing was sent.
 * `reason` says which rule it broke.
 *
 * ```ts
 * if (error instanceof SessionSettingsError && error.reason === 'SESSION_STATEMENT') console.error(error.message)
 * ```
 */
export class SessionSettingsError extends DbCoreError {
  readonly code = 'SESSION_SETTINGS_REFUSED'
  readonly reason: SessionSettingsRefusal

  constructor(reason: SessionSettingsRefusal, message: string) {
    super(message)
    this.name = 'SessionSettingsError'
    this.reason = reason
  }
}

/** One scope's settings, and the statement that sets them transaction-locally. */
export interface SettingsScope {
  readonly settings: Readonly<Record<string, string>>
  /** `select set_config($1, $2, true), …`, with its values. */
  readonly text: string
  readonly values: readonly string[]
}

// A custom option (a dot in its name): built-in ones (`role`, `search_path`) are not per-request data.
const OPTION_NAME = /^[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)+$/

const scopes = new AsyncLocalStorage<SettingsScope>()

/** The settings scope of the code running now, if any. */
export function settingsScope(): SettingsScope | undefined {
  return scopes.getStore()
}

/**
 * Runs `fn` with `settings` on every statement it runs through db-core, Kysely's and raw
 * `pool.query` alike, on the primary and on read replicas: each runs inside a transaction whose
 * first statement sets them with `set_config(name, value, true)`, transaction-local, so they end
 * with it and never reach the connection's next checkout (a connection released with such a
 * transaction still open is destroyed by the pool, not reused), and hold through PgBouncer in
 * transaction mode. The settings go out in the same socket write as the transaction's BEGIN: no
 * exchange with the server is added. A statement outside a transaction becomes a transaction of
 * its own (BEGIN, settings, statement, COMMIT, one exchange); a Kysely transaction carries them
 * behind its BEGIN. Row-level security policies read them with `current_setting('app.user_id', true)`.
 *
 * Names are custom options (`app.school_id`: letters, digits, `_`, with a dot), values text.
 * Refused with a {@link SessionSettingsError} (nothing sent): a statement whose effect would outlive
 * the transaction (session `SET`, `RESET`, `LISTEN`, `UNLISTEN`, `DISCARD`, `PREPARE`,
 * `DEALLOCATE`, `LOAD`, `DECLARE … WITH HOLD`), a stream or cursor outside a transaction, a
 * statement in a transaction begun without these settings (outside the scope, or in another
 * scope), a statement sent on a connection while another is in flight outside a transaction, a
 * text of several statements outside a transaction. A scope inside another adds to its settings
 * and overrides those it names again.
 *
 * ```ts
 * import { Kysely, sql } from 'kysely'
 *
 * const db = new Kysely<{ notes: { id: number; body: string } }>({
 *   dialect: new InstrumentedPostgresDialect(loadDbConfig()),
 * })
 * const mine = await withSessionSettings({ 'app.user_id': '42', 'app.role': 'teacher' }, () =>
 *   db.selectFrom('notes').selectAll().execute(),
 * )
 * await withSessionSettings({ 'app.user_id': '42' }, () =>
 *   sql`select current_setting('app.user_id', true) as me`.execute(db),
 * ) // [{ me: '42' }]
 * ```
 */
export function withSessionSettings<T>(settings: Readonly<Record<string, string>>, fn: () => T): T {
  const merged = { ...scopes.getStore()?.settings, ...checked(settings) }
  const names = Object.keys(merged)
  const text = `select ${names.map((_, i) => `set_config($${2 * i + 1}, $${2 * i + 2}, true)`).join(', ')}`
  const values = names.flatMap((name) => [name, merged[name] as string])
  return scopes.run(Object.freeze({ settings: Object.freeze(merged), text, values }), fn)
}

function checked(settings: Readonly<Record<string, string>>): Record<string, string> {
  if (typeof settings !== 'object' || settings === null || Array.isArray(settings)) {
    throw invalid(`got ${settings === null ? 'null' : typeof settings}`)
  }
  const entries = Object.entries(settings)
  if (entries.length === 0) throw invalid('got none')
  for (const [name, value] of entries) {
    if (!OPTION_NAME.test(name)) throw invalid(`got the name ${JSON.stringify(name)}`)
    if (typeof value !== 'string') throw invalid(`got ${typeof value} for ${name}`)
    if (value.includes('\0')) throw invalid(`got a NUL character in ${name}`)
  }
  return Object.fromEntries(entries)
}

function invalid(got: string): SessionSettingsError {
  return new SessionSettingsError(
    'INVALID_SETTINGS',
    `withSessionSettings: ${got}; expected at least one custom option (a name with a dot, like "app.school_id") with a text value without NUL`,
  )
}

// Comments and blanks ahead of a statement's first word.
const LEAD = String.raw`^(?:\s|--[^\n]*(?:\n|$)|/\*[\s\S]*?\*/)*`
const SESSION_LEVEL = new RegExp(
  `${LEAD}(?:set\\s+(?!local\\b|transaction\\b|constraints\\b)|reset\\b|listen\\b|unlisten\\b|discard\\b|load\\b|deallocate\\b|prepare\\s+(?!transaction\\b)|declare\\b[\\s\\S]*\\bwith\\s+hold\\b)`,
  'i',
)
const BEGINS = new RegExp(`${LEAD}(?:begin|start\\s+transaction)\\b`, 'i')

/** A statement that changes the session past its transaction: refused in a scope. */
export function isSessionStatement(text: string): boolean {
  return SESSION_LEVEL.test(text)
}

/** A statement that opens a transaction block. */
export function isBegin(text: string): boolean {
  return BEGINS.test(text)
}
