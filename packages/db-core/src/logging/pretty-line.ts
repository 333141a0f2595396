// The pretty log line: what a person at a terminal reads, one line an event.
import type winston from 'winston'

// A value shown bare when it has none of these; quoted as JSON otherwise, so a line splits back unambiguously.
const NEEDS_QUOTES = /[\s"=]/

/**
 * `14:03:07.412 info  api listening url=http://127.0.0.1:3000 pool={"size":20}`: the local time,
 * the (colourised) level, the message, then each field as `name=value`, leaving out `hidden` (the
 * fields every line carries, like the service's name). A stack follows on its own lines.
 */
export function prettyLine(info: winston.Logform.TransformableInfo, hidden: ReadonlySet<string>): string {
  const { timestamp, level, message, stack, ...rest } = info
  const fields = Object.entries(rest)
    .filter(([name, value]) => !hidden.has(name) && value !== undefined)
    .map(([name, value]) => ` ${name}=${fieldText(value)}`)
    .join('')
  const padding = ' '.repeat(Math.max(0, 5 - String(info[Symbol.for('level')] ?? '').length))
  const stackText = typeof stack === 'string' ? `\n${stack}` : ''
  return `${clockTime(timestamp)} ${level}${padding} ${String(message)}${fields}${stackText}`
}

function clockTime(timestamp: unknown): string {
  const at = new Date(typeof timestamp === 'string' ? timestamp : Date.now())
  const two = (n: number) => String(n).padStart(2, '0')
  const millis = String(at.getMilliseconds()).padStart(3, '0')
  return `${two(at.getHours())}:${two(at.getMinutes())}:${two(at.getSeconds())}.${millis}`
}

function fieldText(value: unknown): string {
  if (typeof value === 'string')
    return NEEDS_QUOTES.test(value) || value === '' ? JSON.stringify(value) : value
  if (typeof value === 'object' && value !== null) return JSON.stringify(value)
  return String(value)
}
