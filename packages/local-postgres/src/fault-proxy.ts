import { createServer, type Server, type Socket, connect as tcpConnect } from 'node:net'

/**
 * A TCP proxy for fault tests, between a client and PostgreSQL:
 *
 * - `freeze()`: stop forwarding in both directions without closing anything, as a network that
 *   silently drops packets; bytes are held and delivered by `unfreeze()`. New connections are
 *   accepted and held the same way.
 * - `cut()`: reset every open connection, as a network that kills them.
 * - `loseReplyTo(pattern)`: the next connection whose client sends matching bytes has them delivered,
 *   then loses every answer and is reset: a write that committed while its client never heard so.
 * - `retarget(target)`: new connections go elsewhere, as a virtual IP moved to a promoted standby.
 * - `latencyMs` (at start): every chunk a client sends reaches the server that much later, in order:
 *   a fixed cost per exchange, so a pool's connections are held a known time per statement.
 *
 * ```ts
 * const proxy = await FaultProxy.start({ host: '127.0.0.1', port: cluster.port })
 * const pool = new pg.Pool({ connectionString: proxy.rewrite(url) })
 * proxy.freeze()
 * ```
 */
export class FaultProxy {
  readonly #server: Server
  #target: { host: string; port: number }
  readonly #sockets = new Set<Socket>()
  readonly #held: Array<{ to: Socket; chunk: Buffer }> = []
  #frozen = false
  readonly #latencyMs: number
  #loseReply: { pattern: RegExp; afterMs: number; done: () => void } | undefined

  private constructor(server: Server, target: { host: string; port: number }, latencyMs: number) {
    this.#server = server
    this.#target = target
    this.#latencyMs = latencyMs
    server.on('connection', (client) => this.#accept(client))
  }

  /**
   * Listens on a free port of 127.0.0.1 and forwards to `target`; with `latencyMs`, each client
   * chunk is delayed that long (one timer duration for all, so chunks keep their order).
   *
   * ```ts
   * const slow = await FaultProxy.start({ host: '127.0.0.1', port: cluster.port }, { latencyMs: 10 })
   * ```
   */
  static async start(
    target: { host: string; port: number },
    { latencyMs = 0 }: { latencyMs?: number } = {},
  ): Promise<FaultProxy> {
    if (!Number.isFinite(latencyMs) || latencyMs < 0)
      throw new RangeError(`FaultProxy latencyMs is a number of milliseconds ≥ 0, not ${latencyMs}`)
    const server = createServer()
    const proxy = new FaultProxy(server, target, latencyMs)
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(0, '127.0.0.1', resolve)
    })
    return proxy
  }

  get port(): number {
    return (this.#server.address() as { port: number }).port
  }

  /** The same connection string, through the proxy. */
  rewrite(connectionString: string): string {
    const url = new URL(connectionString)
    url.hostname = '127.0.0.1'
    url.port = String(this.port)
    return url.toString()
  }

  freeze(): void {
    this.#frozen = true
  }

  unfreeze(): void {
    this.#frozen = false
    for (const { to, chunk } of this.#held.splice(0)) if (!to.destroyed) to.write(chunk)
  }

  /**
   * Arms a one-shot fault: the next client bytes matching `pattern` (e.g. `/commit/i`, the text of a
   * query message) reach the server, but nothing the server answers from then on reaches the
   * client, which is reset `afterMs` later (time for the server to act). Resolves once it struck.
   *
   * ```ts
   * const struck = proxy.loseReplyTo(/commit/i)
   * await db.transaction().execute(work).catch(() => undefined) // committed, but the client saw a reset
   * await struck
   * ```
   */
  loseReplyTo(pattern: RegExp, afterMs = 200): Promise<void> {
    return new Promise((done) => {
      this.#loseReply = { pattern, afterMs, done }
    })
  }

  /**
   * Sends new connections to `target` from now on, as a failover moving a virtual IP or DNS name to
   * a promoted standby. Open connections stay with the old target, unless `cut` resets them too
   * (as {@link cut} does): clients of the old primary that would otherwise never notice.
   *
   * ```ts
   * await primary.stop('immediate')
   * await standby.promote()
   * proxy.retarget({ host: '127.0.0.1', port: standby.port }, { cut: true })
   * ```
   */
  retarget(target: { host: string; port: number }, { cut = false }: { cut?: boolean } = {}): void {
    // A copy: the caller's object changing later must not move connections behind our back.
    this.#target = { host: target.host, port: target.port }
    if (cut) this.cut()
  }

  /** Resets every open connection (RST), leaving the proxy listening. */
  cut(): void {
    this.#held.length = 0
    for (const socket of this.#sockets) socket.resetAndDestroy()
    this.#sockets.clear()
  }

  async close(): Promise<void> {
    this.cut()
    await new Promise<void>((resolve) => this.#server.close(() => resolve()))
  }

  #deliver(to: Socket, chunk: Buffer): void {
    if (this.#frozen) this.#held.push({ to, chunk })
    else if (!to.destroyed) to.write(chunk)
  }

  #accept(client: Socket): void {
    const upstream = tcpConnect(this.#target.port, this.#target.host)
    for (const socket of [client, upstream]) {
      this.#sockets.add(socket)
      socket.on('close', () => this.#sockets.delete(socket))
      // A reset or refused peer is the point of these tests, not an error of the proxy.
      socket.on('error', () => undefined)
    }
    let muted = false
    const forward = (from: Socket, to: Socket) => {
      from.on('data', (chunk: Buffer) => {
        if (muted && to === client) return
        const trap = this.#loseReply
        if (from === client && trap?.pattern.test(chunk.toString('latin1'))) {
          this.#loseReply = undefined
          muted = true
          setTimeout(() => {
            client.resetAndDestroy()
            upstream.destroy()
            trap.done()
          }, trap.afterMs)
        }
        if (from === client && this.#latencyMs > 0)
          setTimeout(() => this.#deliver(to, chunk), this.#latencyMs)
        else this.#deliver(to, chunk)
      })
      from.on('end', () => to.end())
      from.on('close', () => to.destroy())
    }
    forward(client, upstream)
    forward(upstream, client)
  }
}
