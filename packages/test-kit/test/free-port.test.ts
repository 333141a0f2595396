import { readFileSync } from 'node:fs'
import { connect, createServer } from 'node:net'
import { describe, expect, it } from 'vitest'
import { findClosedPort, findFreePort, portIsFree } from '../src/index.js'

describe('findFreePort', () => {
  it('picks ports below the ephemeral range that a server can listen on', async () => {
    const [ephemeralStart] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8')
      .trim()
      .split(/\s+/)
      .map(Number)
    for (let i = 0; i < 20; i++) {
      const port = await findFreePort()
      expect(port).toBeLessThan(ephemeralStart!)
      const server = createServer()
      await new Promise<void>((resolve, reject) =>
        server.once('error', reject).listen(port, '127.0.0.1', resolve),
      )
      await new Promise((resolve) => server.close(resolve))
    }
  })
})

describe('findClosedPort', () => {
  it('picks ports below every free port, where a connection is refused', async () => {
    for (let i = 0; i < 20; i++) {
      const closed = await findClosedPort()
      expect(closed).toBeLessThan(20_000)
      const refused = await new Promise<string | undefined>((resolve) => {
        const socket = connect(closed, '127.0.0.1')
        socket.once('connect', () => {
          socket.destroy()
          resolve(undefined)
        })
        socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code))
      })
      expect(refused).toBe('ECONNREFUSED')
      expect(await findFreePort()).toBeGreaterThanOrEqual(20_000)
    }
  })
})

describe('portIsFree', () => {
  it('says a port is taken while a server listens on it, and free once it has closed', async () => {
    const server = createServer()
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const { port } = server.address() as { port: number }
    expect(await portIsFree(port)).toBe(false)
    await new Promise((resolve) => server.close(resolve))
    expect(await portIsFree(port)).toBe(true)
  })
})
