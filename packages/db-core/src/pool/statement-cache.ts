import { createHash } from 'node:crypto'

// Names made for texts seen, shared by every connection; cleared when this large (texts built with
// varying IN lists must not grow it without bound).
const NAMES_KEPT = 10_000
const names = new Map<string, string>()

/** What every statement name db-core makes starts with. */
export const STATEMENT_NAME_PREFIX = 'dbc_'

/** The stable name of a statement's text: the same on every connection and in every process. */
export function statementName(text: string): string {
  let name = names.get(text)
  if (name === undefined) {
    if (names.size >= NAMES_KEPT) names.clear()
    name = `${STATEMENT_NAME_PREFIX}${createHash('sha1').update(text).digest('base64url')}`
    names.set(text, name)
  }
  return name
}

/**
 * The statements one connection has prepared, least recently used first, at most `capacity`:
 * `use()` returns the name to run a text under, and the names to close to stay within it.
 * pgx keeps the same bounded LRU per connection.
 */
export class StatementCache {
  readonly #capacity: number
  readonly #prepared = new Set<string>()

  constructor(capacity: number) {
    this.#capacity = capacity
  }

  /** Marks `text` as used now; returns its name and the least recently used names it pushed out. */
  use(text: string): { name: string; evicted: string[] } {
    const name = statementName(text)
    const evicted: string[] = []
    if (this.#prepared.delete(name)) {
      this.#prepared.add(name)
      return { name, evicted }
    }
    this.#prepared.add(name)
    for (const oldest of this.#prepared) {
      if (this.#prepared.size <= this.#capacity) break
      this.#prepared.delete(oldest)
      evicted.push(oldest)
    }
    return { name, evicted }
  }
}
