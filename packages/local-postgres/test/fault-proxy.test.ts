import pg from 'pg'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { FaultProxy, LocalPostgres } from '../src/index.js'

describe('FaultProxy.retarget', () => {
  let a: LocalPostgres
  let b: LocalPostgres
  let proxy: FaultProxy
  const clients: pg.Client[] = []

  /** A connection through the proxy to the server the proxy sends it to (same password: a's). */
  async function connectThroughProxy(): Promise<pg.Client> {
    const client = new pg.Client({ connectionString: proxy.rewrite(a.connectionString()) })
    // A reset connection is what some of these tests expect, not an unhandled error.
    client.on('error', () => undefined)
    clients.push(client)
    await client.connect()
    return client
  }

  async function serverPort(client: pg.Client): Promise<number> {
    return (await client.query<{ port: number }>('select inet_server_port() as port')).rows[0]!.port
  }

  beforeAll(async () => {
    a = await LocalPostgres.temporary()
    // Two servers that answer one password: b is a's standby, promoted to stand on its own.
    b = await a.startStandby()
    await b.promote()
  })

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((client) => client.end().catch(() => undefined)))
    await proxy?.close()
  })

  afterAll(async () => {
    await b?.destroy()
    await a?.destroy()
  })

  it('sends new connections to the new target while open ones stay with the old one', async () => {
    proxy = await FaultProxy.start({ host: '127.0.0.1', port: a.port })
    const old = await connectThroughProxy()
    expect(await serverPort(old)).toBe(a.port)
    proxy.retarget({ host: '127.0.0.1', port: b.port })
    const fresh = await connectThroughProxy()
    expect(await serverPort(fresh)).toBe(b.port)
    expect(await serverPort(old)).toBe(a.port)
  })

  it('with cut: true, resets the open connections too', async () => {
    proxy = await FaultProxy.start({ host: '127.0.0.1', port: a.port })
    const old = await connectThroughProxy()
    expect(await serverPort(old)).toBe(a.port)
    proxy.retarget({ host: '127.0.0.1', port: b.port }, { cut: true })
    await expect(serverPort(old)).rejects.toThrow(/ECONNRESET|Connection terminated/)
    const fresh = await connectThroughProxy()
    expect(await serverPort(fresh)).toBe(b.port)
  })
})

describe('FaultProxy latencyMs', () => {
  let cluster: LocalPostgres

  beforeAll(async () => {
    cluster = await LocalPostgres.temporary()
  })

  afterAll(async () => {
    await cluster?.destroy()
  })

  it('holds each exchange at least latencyMs, and answers it whole', async () => {
    const proxy = await FaultProxy.start({ host: '127.0.0.1', port: cluster.port }, { latencyMs: 60 })
    const client = new pg.Client({ connectionString: proxy.rewrite(cluster.connectionString()) })
    try {
      await client.connect()
      const startedAt = performance.now()
      const answer = await client.query<{ n: number }>('select $1::int as n', [7])
      // A lower bound only: the delay is a floor whatever the machine's load.
      expect(performance.now() - startedAt).toBeGreaterThanOrEqual(59)
      expect(answer.rows).toEqual([{ n: 7 }])
    } finally {
      await client.end()
      await proxy.close()
    }
  })

  it.each([-1, Number.NaN, Number.POSITIVE_INFINITY])(
    'refuses latencyMs %s, naming what it takes',
    async (latencyMs) => {
      await expect(
        FaultProxy.start({ host: '127.0.0.1', port: cluster.port }, { latencyMs }),
      ).rejects.toThrow('FaultProxy latencyMs is a number of milliseconds ≥ 0')
    },
  )
})
