// The read replicas' URLs: one standby each, named, checked where they are given.
import type { ConfigIssue } from '../errors.js'
import { redactSecrets } from '../logging/redact.js'
import { parseConnectionUrl } from './connection-url.js'
import type { ReplicaTarget } from './settings.js'

const NAME = /^[A-Za-z0-9_-]{1,63}$/

// A comma followed by a new URL (any scheme, so a wrong one is named) separates entries; other
// commas belong to the URL (libpq's host lists).
const ENTRY_SEPARATOR = /,(?=\s*[A-Za-z][A-Za-z0-9+.-]*:\/\/)/

/**
 * `DATABASE_READ_URLS` split into its URLs: entries are separated by commas, each starting with
 * its scheme (`postgres://app@standby-a/app, postgres://app@standby-b/app`);
 * an empty text is no replica.
 */
export function splitReadUrls(text: string): string[] {
  return text.trim() === '' ? [] : text.split(ENTRY_SEPARATOR).map((entry) => entry.trim())
}

/**
 * What is wrong with the replica URL at `index` (0-based), in words naming the entry, or
 * `undefined`. One host per URL: the poll that watches a standby's replay position must reach the
 * server the reads reach.
 */
export function readUrlProblem(url: unknown, index: number): string | undefined {
  const entry = `entry ${index + 1}`
  if (typeof url !== 'string' || url.trim() === '') return `${entry} to be a postgres:// URL (it is empty)`
  const parsed = parseConnectionUrl(url)
  const shown = JSON.stringify(redactSecrets(url))
  if (!parsed.ok) return `${entry} (${shown}) to be a postgres:// URL: ${parsed.problems.join('; ')}`
  if (parsed.hosts.length > 1) {
    return `${entry} (${shown}) to name one host: each standby is an entry of its own, so that its poll and its reads reach the same server`
  }
  return undefined
}

/**
 * The typed `replicas.urls` resolved: each a {@link ReplicaTarget}, unnamed ones `replica1`,
 * `replica2`, ... by position. Problems go to `issues`, under `name`.
 */
export function resolveReplicaUrls(
  given: readonly (string | ReplicaTarget)[] | undefined,
  name: string,
  issues: ConfigIssue[],
): readonly ReplicaTarget[] {
  if (given === undefined) return Object.freeze([])
  if (!Array.isArray(given)) {
    issues.push({ name, value: typeof given, expected: 'a list of postgres:// URLs (or { name, url })' })
    return Object.freeze([])
  }
  const targets: ReplicaTarget[] = []
  const seen = new Set<string>()
  given.forEach((entry, index) => {
    const target =
      typeof entry === 'string' ? { name: `replica${index + 1}`, url: entry } : (entry as ReplicaTarget)
    const problem = readUrlProblem(target?.url, index)
    const value = typeof target?.url === 'string' ? redactSecrets(target.url) : undefined
    if (problem) issues.push({ name, value, expected: problem })
    else if (typeof target.name !== 'string' || !NAME.test(target.name) || target.name === 'primary') {
      issues.push({
        name,
        value: String(target.name),
        expected: `entry ${index + 1}'s name to be letters, digits, _ or - (at most 63), not "primary"`,
      })
    } else if (seen.has(target.name)) {
      issues.push({ name, value: target.name, expected: `entry ${index + 1}'s name to be unique` })
    }
    seen.add(target.name)
    targets.push(Object.freeze({ name: target.name, url: target.url }))
  })
  return Object.freeze(targets)
}
