import { LocalPostgres, type ShutdownMode } from '@classroom/local-postgres'
import { type ApiProcess, spawnApi } from '@classroom/test-kit'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { API_ENTRY, request } from './support.js'

// The api process frozen (kill -STOP) while PostgreSQL restarts: the server's closes wait unread
// in its sockets. A cluster of its own.
let cluster: LocalPostgres
let api: ApiProcess
let classroomId: number

beforeAll(async () => {
  cluster = await LocalPostgres.temporary()
  api = await spawnApi({
    entry: API_ENTRY,
    env: { DATABASE_URL: await cluster.createDatabase('classroom'), LOG_LEVEL: 'warn' },
  })
  classroomId = (await request(api.url, 'POST', '/classrooms', { name: 'Busy', capacity: 1000 })).body.id
})

afterAll(async () => {
  api?.child.kill('SIGKILL')
  await cluster?.destroy()
})

describe('an api frozen while PostgreSQL restarts', () => {
  it.each(['fast', 'immediate'] as const satisfies readonly ShutdownMode[])(
    '%s restart under kill -STOP, then kill -CONT: 50 concurrent requests all succeed',
    async (mode) => {
      // Warm: many pooled connections, each used a moment ago.
      const warm = await Promise.all(
        Array.from({ length: 50 }, () => request(api.url, 'GET', `/classrooms/${classroomId}`)),
      )
      expect(warm.every((r) => r.status === 200)).toBe(true)
      const pid = api.child.pid!
      process.kill(pid, 'SIGSTOP')
      try {
        await cluster.restart(mode)
      } finally {
        process.kill(pid, 'SIGCONT')
      }
      const responses = await Promise.all([
        ...Array.from({ length: 25 }, () => request(api.url, 'GET', `/classrooms/${classroomId}`)),
        ...Array.from({ length: 25 }, (_, i) =>
          request(api.url, 'POST', '/students', { name: 'After', email: `${mode}.${i}@school.test` }),
        ),
      ])
      expect(responses.map((r) => r.status)).toEqual([...Array(25).fill(200), ...Array(25).fill(201)])
    },
  )
})
