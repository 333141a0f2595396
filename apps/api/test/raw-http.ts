// Raw HTTP over a socket, for requests fetch will not send (bad bytes, odd methods, no Host, huge uploads).
import { connect } from 'node:net'
import { testToken } from './support.js'

/** What came back on a socket: the status, the lower-cased headers, the body, and how the socket ended. */
export interface RawAnswer {
  readonly status: number
  readonly headers: Record<string, string>
  readonly body: string
  /** The socket's error (`ECONNRESET`, `EPIPE`) if it ended in one. */
  readonly socketError: string | undefined
}

/**
 * Sends `head` (request line and headers, `\r\n`-separated, blank line included), then `bodyBytes`
 * bytes of `x` in 64 KiB writes (a text head carries the default principal's token, as `request` does), then `tail` (a chunked body's last chunk), as a simple client does: it sends its whole request before it looks
 * at the answer, so a server that closes while the body still flows resets it. Resolves once every
 * byte is sent and the first whole answer read, or the socket ends.
 *
 * ```ts
 * const answer = await rawRequest(url, 'POST /classrooms HTTP/1.1\r\nHost: a\r\ncontent-length: 2\r\n\r\n{}')
 * ```
 */
export async function rawRequest(
  baseUrl: string,
  given: string | Buffer,
  bodyBytes = 0,
  tail = '',
): Promise<RawAnswer> {
  // The default principal's token after the request line, unless the head names its own.
  const text = typeof given === 'string' ? given : given.toString('latin1')
  const head = /\r\nauthorization:/i.test(text)
    ? given
    : Buffer.from(text.replace('\r\n', `\r\nAuthorization: Bearer ${await testToken()}\r\n`), 'latin1')
  const { port, hostname } = new URL(baseUrl)
  return new Promise((resolve) => {
    const chunks: Buffer[] = []
    let socketError: string | undefined
    let settled = false
    let sent = 0
    const socket = connect(Number(port), hostname)
    const finish = (closed: boolean) => {
      if (settled) return
      const answer = parseAnswer(Buffer.concat(chunks).toString('latin1'), socketError, closed)
      if ((answer === undefined || sent < bodyBytes) && !closed) return
      settled = true
      socket.destroy()
      resolve(answer ?? { status: 0, headers: {}, body: '', socketError })
    }
    socket.on('connect', () => {
      socket.write(head)
      const chunk = Buffer.alloc(64 * 1024, 'x')
      const pump = () => {
        while (sent < bodyBytes && !socket.destroyed) {
          const piece = chunk.subarray(0, Math.min(chunk.length, bodyBytes - sent))
          sent += piece.length
          if (!socket.write(piece)) {
            socket.once('drain', pump)
            return
          }
        }
        if (tail && !socket.destroyed) socket.write(tail)
        finish(false)
      }
      pump()
    })
    socket.on('data', (data) => {
      chunks.push(data)
      finish(false)
    })
    socket.on('error', (error: NodeJS.ErrnoException) => {
      socketError = error.code
    })
    socket.on('close', () => finish(true))
  })
}

// A body shorter than its Content-Length is whole once the socket closed (the answer to a HEAD).
function parseAnswer(text: string, socketError: string | undefined, closed: boolean): RawAnswer | undefined {
  const end = text.indexOf('\r\n\r\n')
  if (end < 0) return undefined
  const [statusLine = '', ...lines] = text.slice(0, end).split('\r\n')
  const headers = Object.fromEntries(
    lines.map((line) => [
      line.slice(0, line.indexOf(':')).toLowerCase(),
      line.slice(line.indexOf(':') + 1).trim(),
    ]),
  )
  const length = Number(headers['content-length'] ?? 0)
  const body = text.slice(end + 4, end + 4 + length)
  if (body.length < length && !closed) return undefined
  return { status: Number(statusLine.split(' ')[1]), headers, body, socketError }
}
