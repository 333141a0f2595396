// WAL positions (LSNs): parsed from their text, compared as the 64-bit numbers they are.
import { InvalidReadPositionError } from '../errors.js'

// PostgreSQL prints an LSN as two 32-bit halves in hex: `16/B374D848`.
const LSN = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/

/**
 * A WAL position as a number, from its text (`16/B374D848`): the high half shifted 32 bits above
 * the low one. Compared as numbers, never as text (`9/0` is before `10/0`, `0/FF` before `0/100`).
 * `undefined` when the text is not one.
 */
export function lsnOf(text: string): bigint | undefined {
  const match = LSN.exec(text)
  if (!match) return undefined
  return (BigInt(`0x${match[1]}`) << 32n) | BigInt(`0x${match[2]}`)
}

/** The text PostgreSQL prints for a position. */
export function lsnText(lsn: bigint): string {
  return `${(lsn >> 32n).toString(16).toUpperCase()}/${(lsn & 0xffffffffn).toString(16).toUpperCase()}`
}

/**
 * Checks a read position that came from outside (a header, a cookie) and returns it as
 * PostgreSQL prints it; throws {@link InvalidReadPositionError} (`INVALID_READ_POSITION`) naming
 * the value and the form expected. Give the result to `withReadPosition`.
 *
 * ```ts
 * const position = parseReadPosition('16/b374d848') // '16/B374D848'
 * ```
 */
export function parseReadPosition(text: string): string {
  const lsn = typeof text === 'string' ? lsnOf(text.trim()) : undefined
  if (lsn === undefined) throw new InvalidReadPositionError(String(text))
  return lsnText(lsn)
}
