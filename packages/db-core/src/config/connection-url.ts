/**
 * What `target_session_attrs` asks of a server, in libpq's words and meaning:
 *
 * - `any`: whatever answers (the default);
 * - `read-write`: a session that accepts writes by default (not a standby, `default_transaction_read_only` off);
 * - `read-only`: the opposite: a standby, or `default_transaction_read_only` on;
 * - `primary`: not in hot standby; `standby`: in hot standby;
 * - `prefer-standby`: a standby when one answers, else any server.
 */
export type TargetSessionAttrs = 'any' | 'read-write' | 'read-only' | 'primary' | 'standby' | 'prefer-standby'

export const TARGET_SESSION_ATTRS: readonly TargetSessionAttrs[] = [
  'any',
  'read-write',
  'read-only',
  'primary',
  'standby',
  'prefer-standby',
]

/** One server of a connection URL. */
export interface DatabaseHost {
  /** A name or an address; IPv6 without brackets. */
  readonly host: string
  readonly port: number
}

/**
 * A libpq connection URL taken apart: every host in order, what each must be, and how long one
 * host may take to answer.
 *
 * ```ts
 * const url = parseConnectionUrl('postgres://app:secret@db1:5432,db2:5433/app?target_session_attrs=read-write')
 * if (url.ok) url.hosts // [{ host: 'db1', port: 5432 }, { host: 'db2', port: 5433 }]
 * ```
 */
export interface ConnectionUrl {
  readonly ok: true
  readonly hosts: readonly DatabaseHost[]
  readonly targetSessionAttrs: TargetSessionAttrs
  /** libpq's `connect_timeout` in milliseconds: the longest wait for each host; `undefined` when not given. */
  readonly connectTimeoutMs: number | undefined
  /** The user the URL names (decoded); `undefined` leaves node-postgres to its default. */
  readonly user: string | undefined
  /** Whether the URL carries a password: `user:password@` (an empty one counts as none, as for node-postgres). */
  readonly hasPassword: boolean
  /** The database the URL names (decoded); empty when it names none (the server then takes the user's). */
  readonly database: string
  /** The same URL naming only `host`, for node-postgres (which knows one host per connection). */
  forHost(host: DatabaseHost): string
}

/** Why a connection URL was refused: every problem found, in words naming the part and what it should be. */
export interface ConnectionUrlProblems {
  readonly ok: false
  readonly problems: readonly string[]
}

const DEFAULT_PORT = 5432
// libpq's own floor: a connect_timeout under 2 seconds is taken as 2.
const MIN_CONNECT_TIMEOUT_S = 2
// Parameters db-core acts on itself; node-postgres would not understand them.
const HANDLED_PARAMETERS = ['target_session_attrs', 'connect_timeout']
const URL_SHAPE = /^(postgres(?:ql)?):\/\/([^/?#]*)([^?#]*)(\?[^#]*)?$/i

/**
 * Parses a `postgres://` URL as libpq does, with several hosts (`host1:port1,host2:port2,...`,
 * IPv6 in brackets) and the parameters `target_session_attrs` and `connect_timeout`. Any other
 * parameter is passed through to node-postgres untouched.
 *
 * ```ts
 * parseConnectionUrl('postgres://db1,db2:5433/app') // ok: db1:5432, db2:5433
 * parseConnectionUrl('postgres://db1,,db2/app')     // problems: ['host 2 of 3 is empty']
 * ```
 */
export function parseConnectionUrl(url: string): ConnectionUrl | ConnectionUrlProblems {
  const shape = URL_SHAPE.exec(url.trim())
  if (!shape) {
    const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1]
    return refused(
      scheme && !/^postgres(ql)?$/i.test(scheme)
        ? `a postgres:// or postgresql:// URL, not ${scheme}://`
        : 'a URL like postgres://user:password@host:5432/database',
    )
  }
  const [, scheme, authority, path, query] = shape as unknown as [string, string, string, string, string?]
  const at = authority.lastIndexOf('@')
  const userInfo = at >= 0 ? authority.slice(0, at + 1) : ''
  const colon = userInfo.indexOf(':')
  const user = userInfo === '' ? undefined : decodeLenient(userInfo.slice(0, colon >= 0 ? colon : -1))
  const problems: string[] = []
  const hosts = parseHosts(authority.slice(at + 1), problems)
  const params = new URLSearchParams(query?.slice(1) ?? '')
  const attrs = params.get('target_session_attrs') ?? 'any'
  if (!(TARGET_SESSION_ATTRS as readonly string[]).includes(attrs)) {
    problems.push(`target_session_attrs=${attrs} is not one of ${TARGET_SESSION_ATTRS.join(', ')}`)
  }
  const connectTimeoutMs = parseConnectTimeout(params.get('connect_timeout'), problems)
  if (problems.length > 0) return { ok: false, problems }
  for (const name of HANDLED_PARAMETERS) params.delete(name)
  const rest = params.size > 0 ? `?${params.toString()}` : ''
  return {
    ok: true,
    hosts,
    targetSessionAttrs: attrs as TargetSessionAttrs,
    connectTimeoutMs,
    user: user === '' ? undefined : user,
    hasPassword: colon >= 0 && userInfo.length - colon > 2,
    database: decodeLenient(path.slice(1)),
    forHost: (host) => `${scheme}://${userInfo}${formatHost(host)}${path}${rest}`,
  }
}

/** `host:port`, IPv6 in brackets: how errors and logs name a host. */
export function formatHost({ host, port }: DatabaseHost): string {
  return `${host.includes(':') ? `[${host}]` : host}:${port}`
}

function parseHosts(list: string, problems: string[]): DatabaseHost[] {
  if (list === '') {
    problems.push('a URL with a host, like postgres://user:password@host:5432/database')
    return []
  }
  const parts = list.split(',')
  const hosts: DatabaseHost[] = []
  parts.forEach((part, i) => {
    const which = parts.length > 1 ? `host ${i + 1} of ${parts.length}` : 'the host'
    const match = /^(?:\[([^\]]*)\]|([^:[\]]*))(?::(.*))?$/.exec(part)
    const host = match?.[1] ?? match?.[2]
    if (!match || host === undefined) {
      problems.push(`${which} (${part}) is not host, host:port or [ipv6]:port`)
      return
    }
    if (host === '') {
      problems.push(`${which} is empty`)
      return
    }
    const port = match[3] === undefined ? DEFAULT_PORT : Number(match[3])
    if (!/^\d+$/.test(match[3] ?? '5432') || port < 1 || port > 65_535) {
      problems.push(`${which} (${part}) has port ${JSON.stringify(match[3])}, not a number from 1 to 65535`)
      return
    }
    let name: string
    try {
      name = decodeURIComponent(host)
    } catch {
      problems.push(`${which} (${part}) has a malformed %-escape`)
      return
    }
    hosts.push({ host: name, port })
  })
  return hosts
}

function parseConnectTimeout(value: string | null, problems: string[]): number | undefined {
  if (value === null) return undefined
  if (!/^\d+$/.test(value)) {
    problems.push(`connect_timeout=${value} is not a whole number of seconds`)
    return undefined
  }
  const seconds = Number(value)
  // libpq: zero means no limit.
  return seconds === 0 ? undefined : Math.max(seconds, MIN_CONNECT_TIMEOUT_S) * 1000
}

// A malformed %-escape in the user name is kept as written: the name only appears in messages.
function decodeLenient(text: string): string {
  try {
    return decodeURIComponent(text)
  } catch {
    return text
  }
}

function refused(problem: string): ConnectionUrlProblems {
  return { ok: false, problems: [problem] }
}
