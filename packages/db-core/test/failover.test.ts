import { performance } from 'node:perf_hooks'
import { LocalPostgres } from '@classroom/local-postgres'
import { describe, expect, it } from 'vitest'
import { DatabaseUnavailableError, isConnectionError } from '../src/index.js'
import { configFor, openPool, sleep } from './support.js'

const ACQUIRE_TIMEOUT_SECONDS = 10
const WRITERS = 10

describe('failover under load', () => {
  it.each(['immediate', 'fast'] as const)(
    'synchronous replication, primary stopped %s and the standby promoted: every acknowledged write is on the new primary, and writes resume with no restart',
    async (mode) => {
      const primary = await LocalPostgres.temporary()
      let standby: LocalPostgres | undefined
      try {
        await primary.query('create table acks (id int primary key)')
        standby = await primary.startStandby({ synchronous: true })
        const multiHost = primary.connectionString('postgres', {
          ports: [primary.port, standby.port],
          params: { target_session_attrs: 'read-write' },
        })
        const pool = openPool(
          configFor(multiHost, {
            DB_POOL_SIZE: String(WRITERS),
            DB_POOL_MAX_OVERFLOW: '0',
            DB_POOL_TIMEOUT_SECONDS: String(ACQUIRE_TIMEOUT_SECONDS),
          }),
        )
        const acknowledged: Array<{ id: number; at: number }> = []
        const failures: unknown[] = []
        let longestMs = 0
        let nextId = 0
        let stopped = false
        const writer = async () => {
          while (!stopped) {
            const id = nextId++
            const startedAt = performance.now()
            try {
              await pool.query('insert into acks (id) values ($1)', [id])
              acknowledged.push({ id, at: performance.now() })
            } catch (error) {
              failures.push(error)
              await sleep(20)
            }
            longestMs = Math.max(longestMs, performance.now() - startedAt)
          }
        }
        try {
          const writers = Array.from({ length: WRITERS }, writer)
          await sleep(500)
          await primary.stop(mode)
          // As an HA manager would, after its check interval.
          await sleep(1000)
          await standby.promote()
          const promotedAt = performance.now()
          await sleep(1500)
          stopped = true
          await Promise.all(writers)

          const stored = new Set(
            (await standby.query<{ id: number }>('select id from acks')).map((row) => row.id),
          )
          const missing = acknowledged.filter(({ id }) => !stored.has(id))
          expect(missing).toEqual([])
          const afterPromotion = acknowledged.filter(({ at }) => at > promotedAt)
          expect(afterPromotion.length).toBeGreaterThan(0)
          // Healed by the pool's own reconnect loop, promptly (the drill measures how promptly).
          expect(Math.min(...afterPromotion.map(({ at }) => at)) - promotedAt).toBeLessThan(3000)
          // Writes cut off mid-flight fail as connection losses; waits end as DatabaseUnavailableError.
          for (const failure of failures) {
            expect(failure instanceof DatabaseUnavailableError || isConnectionError(failure)).toBe(true)
          }
          expect(longestMs).toBeLessThan(ACQUIRE_TIMEOUT_SECONDS * 1000)
        } finally {
          stopped = true
          await pool.end()
        }
      } finally {
        await standby?.destroy()
        await primary.destroy()
      }
    },
  )
})
