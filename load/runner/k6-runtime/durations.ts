import { K6ScriptError } from './errors.js'

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }

/**
 * Milliseconds in a k6 duration: `'10s'`, `'1m30s'`, `'500ms'`, `'1h'`, or a number (milliseconds).
 *
 * ```ts
 * parseDuration('1m30s', 'duration') // 90000
 * ```
 */
export function parseDuration(value: string | number, what: string): number {
  if (typeof value === 'number' && Number.isFinite(value) && value >= 0) return value
  const text = String(value).trim()
  const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)]
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== text)
    throw new K6ScriptError(
      `${what} is a duration such as "30s", "1m30s" or "500ms", not ${JSON.stringify(value)}`,
    )
  return parts.reduce((total, [, amount, unit]) => total + Number(amount) * UNIT_MS[unit!]!, 0)
}
