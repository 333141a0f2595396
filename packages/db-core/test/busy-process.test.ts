import { once } from 'node:events'
import { Worker } from 'node:worker_threads'
import { LocalPostgres, type ShutdownMode } from '@classroom/local-postgres'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

// Restarts the server: a cluster of its own.
let cluster: LocalPostgres

beforeAll(async () => {
  cluster = await LocalPostgres.temporary()
  await cluster.query('create table busy_notes (id serial primary key, note text not null)')
})

afterAll(async () => {
  await cluster.destroy()
})

describe('a process busy while PostgreSQL restarts', () => {
  it.each(['fast', 'immediate'] as const satisfies readonly ShutdownMode[])(
    '%s restart during a blocked event loop: 40 raw queries, 40 builder queries and 40 transactions right after, none fails',
    async (mode) => {
      // The pool lives in a worker whose event loop blocks while this thread restarts the server.
      const gate = new Int32Array(new SharedArrayBuffer(4))
      const worker = new Worker(new URL('./fixtures/busy-process-worker.mjs', import.meta.url), {
        workerData: { url: cluster.connectionString(), gate },
      })
      try {
        const [warm] = await once(worker, 'message')
        expect(warm).toEqual({ warm: 50 })
        const before = await cluster.query<{ n: string }>('select count(*) as n from busy_notes')
        worker.postMessage('block')
        await new Promise((resolve) => setTimeout(resolve, 100))
        await cluster.restart(mode)
        Atomics.store(gate, 0, 1)
        Atomics.notify(gate, 0)
        const [{ failures, stats }] = await once(worker, 'message')
        expect(failures).toEqual([])
        expect(stats.connectionErrors).toBeGreaterThanOrEqual(50)
        const after = await cluster.query<{ n: string }>('select count(*) as n from busy_notes')
        expect(Number(after[0]!.n) - Number(before[0]!.n)).toBe(40)
      } finally {
        await worker.terminate()
      }
    },
  )
})
