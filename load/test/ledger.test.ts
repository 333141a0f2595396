import { type Database, migrateToLatest } from '@classroom/classroom-db'
import { InstrumentedPostgresDialect } from '@classroom/db-core'
import { createTestDatabase } from '@classroom/local-postgres'
import type {} from '@classroom/local-postgres/vitest-global-setup'
import { recordingLogger } from '@classroom/test-kit'
import { Kysely } from 'kysely'
import pg from 'pg'
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest'
import type { LedgerEntry } from '../runner/ledger.js'
import { checkLedger } from '../runner/ledger.js'
import type { SeedData } from '../shared/scenarios.js'

let url: string
let admin: pg.Client
let seed: SeedData
let rooms: number[]
let students: number[]

beforeAll(async () => {
  url = await createTestDatabase(inject('databaseUrl'), 'load_ledger')
  const db = new Kysely<Database>({
    dialect: new InstrumentedPostgresDialect({ connectionString: url, logger: recordingLogger().logger }),
  })
  await migrateToLatest(db)
  await db.destroy()
  admin = new pg.Client({ connectionString: url })
  await admin.connect()
})

afterAll(async () => {
  await admin.end()
})

beforeEach(async () => {
  await admin.query('truncate enrollments, classrooms, students restart identity cascade')
  rooms = (
    await admin.query<{ id: number }>(
      `insert into classrooms (name, capacity) values ('a', 1), ('b', 5) returning id`,
    )
  ).rows.map((r) => r.id)
  students = (
    await admin.query<{ id: number }>(
      `insert into students (name, email) select 's', 's' || g || '@x.test' from generate_series(1, 4) g returning id`,
    )
  ).rows.map((r) => r.id)
  seed = { runId: 't', classroomIds: rooms, studentIds: [students] }
})

let clock = 0
const write = (
  kind: 'enroll' | 'unenroll',
  room: number,
  student: number,
  status: number,
  errorCode?: string,
): LedgerEntry => ({
  at: clock++,
  user: 0,
  kind,
  classroomId: room,
  studentId: student,
  status,
  errorCode,
})
const store = (room: number, student: number) =>
  admin.query('insert into enrollments (classroom_id, student_id) values ($1, $2)', [room, student])

describe('checkLedger', () => {
  it('passes when every acknowledged write is in the table and nothing else is', async () => {
    const [a, b] = rooms as [number, number]
    const [s1, s2] = students as [number, number]
    await store(b, s1)
    const result = await checkLedger(url, seed, [
      write('enroll', b, s1, 201),
      write('enroll', b, s2, 201),
      write('unenroll', b, s2, 204),
      write('enroll', a, s2, 409, 'CLASSROOM_FULL'),
    ])
    expect(result).toMatchObject({
      writes: 4,
      lostWrites: 0,
      phantomWrites: 0,
      capacityBreaches: 0,
      passed: true,
    })
  })

  it('finds an acknowledged enrollment that is missing (a lost write)', async () => {
    const result = await checkLedger(url, seed, [write('enroll', rooms[1]!, students[0]!, 201)])
    expect(result).toMatchObject({ lostWrites: 1, passed: false })
    expect(result.examples[0]).toMatch(/^lost: enrollment \d+:\d+ was acknowledged but is not stored$/)
  })

  it('counts an acknowledged enrollment that the next drop finds gone (404) as lost, though the table agrees at the end', async () => {
    const [, b] = rooms as [number, number]
    const [s1, s2] = students as [number, number]
    // s2: dropped twice, the second drop finding nothing is no loss (the pair was already absent).
    const result = await checkLedger(url, seed, [
      write('enroll', b, s1, 201),
      write('unenroll', b, s1, 404, 'ENROLLMENT_NOT_FOUND'),
      write('enroll', b, s2, 201),
      write('unenroll', b, s2, 204),
      write('unenroll', b, s2, 404, 'ENROLLMENT_NOT_FOUND'),
    ])
    expect(result).toMatchObject({ lostWrites: 1, phantomWrites: 0, passed: false })
    expect(result.examples).toEqual([
      `lost: enrollment ${b}:${s1} was acknowledged, then its drop found it gone`,
    ])
  })

  it('counts an acknowledged drop that the next enroll finds still there (409 ALREADY_ENROLLED) as a phantom', async () => {
    const [, b] = rooms as [number, number]
    const [s1, s2] = students as [number, number]
    await store(b, s1)
    await store(b, s2)
    // s2: an ambiguous drop (503 mid-request) may not have applied: ALREADY_ENROLLED after it is no phantom.
    const result = await checkLedger(url, seed, [
      write('enroll', b, s1, 201),
      write('unenroll', b, s1, 204),
      write('enroll', b, s1, 409, 'ALREADY_ENROLLED'),
      write('enroll', b, s2, 201),
      write('unenroll', b, s2, 503, 'DATABASE_UNAVAILABLE'),
      write('enroll', b, s2, 409, 'ALREADY_ENROLLED'),
    ])
    expect(result).toMatchObject({ lostWrites: 0, phantomWrites: 1, ambiguousWrites: 1, passed: false })
    expect(result.examples).toEqual([
      `phantom: enrollment ${b}:${s1} was dropped or never made, then an enroll found it there`,
    ])
  })

  it('with loss expected (an asynchronous failover), counts lost and reappeared writes the same, without failing', async () => {
    const [, b] = rooms as [number, number]
    const [s1, s2] = students as [number, number]
    // The old primary acknowledged an enroll of s1 and a drop of s2; the promoted standby had neither.
    await store(b, s2)
    const ledger = [write('enroll', b, s1, 201), write('enroll', b, s2, 201), write('unenroll', b, s2, 204)]
    const strict = await checkLedger(url, seed, ledger)
    const measured = await checkLedger(url, seed, ledger, { lossExpected: true })
    expect(strict).toMatchObject({ lostWrites: 1, phantomWrites: 1, lossExpected: false, passed: false })
    expect(measured).toMatchObject({ lostWrites: 1, phantomWrites: 1, lossExpected: true, passed: true })
  })

  it('finds rows that an acknowledged drop removed, a POOL_TIMEOUT never wrote, or no request wrote', async () => {
    const [, b] = rooms as [number, number]
    const [s1, s2, s3] = students as [number, number, number]
    await store(b, s1)
    await store(b, s2)
    await store(b, s3)
    const result = await checkLedger(url, seed, [
      write('enroll', b, s1, 201),
      write('unenroll', b, s1, 204),
      write('enroll', b, s2, 503, 'POOL_TIMEOUT'),
    ])
    expect(result).toMatchObject({ lostWrites: 0, phantomWrites: 3, passed: false })
  })

  it('accepts either outcome of a write that failed mid-request, and counts how many applied', async () => {
    const [, b] = rooms as [number, number]
    const [s1, s2] = students as [number, number]
    await store(b, s1)
    const result = await checkLedger(url, seed, [
      write('enroll', b, s1, 503, 'DATABASE_UNAVAILABLE'),
      write('enroll', b, s2, 0),
    ])
    expect(result).toMatchObject({
      ambiguousWrites: 2,
      ambiguousApplied: 1,
      lostWrites: 0,
      phantomWrites: 0,
      passed: true,
    })
  })

  it('finds a classroom holding more students than its capacity', async () => {
    const [a] = rooms as [number]
    const [s1, s2] = students as [number, number]
    await store(a, s1)
    await store(a, s2)
    const result = await checkLedger(url, seed, [write('enroll', a, s1, 201), write('enroll', a, s2, 201)])
    expect(result).toMatchObject({ capacityBreaches: 1, passed: false })
    expect(result.examples).toContain(`capacity: classroom ${a} holds 2 of 1`)
  })
})
