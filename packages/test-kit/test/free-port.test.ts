import { readFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { describe, expect, it } from 'vitest'
import { findFreePort } from '../src/index.js'

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
