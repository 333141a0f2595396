import { describe, expect, it } from 'vitest'
import type { Exchange } from '../runner/k6-runtime/http-bridge.js'
import { StaleReadLedger } from '../runner/stale-reads.js'

// Exchanges as the engine's main thread records them: the VU's call (headers as the script sent
// them, tags with the request's name) and the api's answer (undici's lower-case headers).
const BASE = 'http://127.0.0.1:3000'
let clock = 0

function exchange(
  vuId: number,
  call: { name: string; method: string; path: string; body?: object; position?: string | null },
  answer: { status: number; body?: unknown; position?: string | null },
): Exchange {
  return {
    vuId,
    startedAt: clock++,
    call: {
      method: call.method,
      url: `${BASE}${call.path}`,
      body: call.body ? JSON.stringify(call.body) : null,
      headers: {
        ...(call.body && { 'content-type': 'application/json' }),
        ...(call.position && { 'Read-Position': call.position }),
      },
      tags: { name: call.name, phase: 'before', scenario: 'replicas' },
      timeoutMs: 10_000,
      expected: [[200, 299]],
    },
    answer: {
      status: answer.status,
      body: answer.body === undefined ? '' : JSON.stringify(answer.body),
      headers: {
        'content-type': 'application/json; charset=utf-8',
        ...(answer.position && { 'read-position': answer.position }),
      },
      durationMs: 2,
      error: '',
      errorCode: 0,
    },
  }
}

const student = (id: number) => ({
  id,
  name: 'Walk-in',
  email: `w${id}@load.test`,
  createdAt: '2026-12-03T16:00:00.000Z',
})
const classroom = (id: number) => ({
  id,
  name: `room ${id}`,
  capacity: 25,
  createdAt: '2026-12-03T16:00:00.000Z',
  enrolledAt: '2026-12-03T16:00:01.000Z',
})
const createStudent = (vu: number, id: number, position = '0/3000060') =>
  exchange(
    vu,
    {
      name: 'createStudent',
      method: 'POST',
      path: '/students',
      body: { name: 'Walk-in', email: `w${id}@load.test` },
    },
    { status: 201, body: student(id), position },
  )
const readStudent = (vu: number, id: number, status: number, position: string | null = '0/3000060') =>
  exchange(
    vu,
    { name: 'readOwnStudent', method: 'GET', path: `/students/${id}`, position },
    status === 200
      ? { status, body: student(id), position }
      : { status, body: { error: 'STUDENT_NOT_FOUND', message: `student ${id} does not exist` }, position },
  )
const enroll = (vu: number, room: number, studentId: number, status = 201, error?: string) =>
  exchange(
    vu,
    { name: 'enroll', method: 'POST', path: `/classrooms/${room}/enrollments`, body: { studentId } },
    {
      status,
      body: error ? { error, message: error } : { classroomId: room, studentId },
      position: '0/4000000',
    },
  )
const drop = (vu: number, room: number, studentId: number, status = 204) =>
  exchange(
    vu,
    { name: 'unenroll', method: 'DELETE', path: `/classrooms/${room}/enrollments/${studentId}` },
    {
      status,
      ...(status === 404 && { body: { error: 'ENROLLMENT_NOT_FOUND', message: 'no' } }),
      position: '0/4000100',
    },
  )
const readClassrooms = (vu: number, studentId: number, rooms: number[], status = 200) =>
  exchange(
    vu,
    {
      name: 'readOwnEnrollments',
      method: 'GET',
      path: `/students/${studentId}/classrooms`,
      position: '0/4000000',
    },
    status === 200
      ? { status, body: { items: rooms.map(classroom) } }
      : { status, body: { error: 'DATABASE_UNAVAILABLE', message: 'retry' } },
  )

function ledgerOf(exchanges: Exchange[], phase = 'before'): StaleReadLedger {
  const ledger = new StaleReadLedger()
  for (const e of exchanges) ledger.record(e, phase)
  return ledger
}

describe('the stale-read ledger', () => {
  it('judges each read-back fresh when it shows its write: a student created, an enrollment made, one dropped', () => {
    const check = ledgerOf([
      createStudent(1, 7),
      readStudent(1, 7, 200),
      enroll(1, 3, 7),
      readClassrooms(1, 7, [2, 3]),
      drop(1, 3, 7),
      readClassrooms(1, 7, [2]),
      // A drop that found nothing acknowledges the pair's absence too.
      drop(1, 2, 7, 404),
      readClassrooms(1, 7, []),
      enroll(1, 2, 7, 409, 'ALREADY_ENROLLED'),
      readClassrooms(1, 7, [2]),
    ]).check({ readYourWrites: true })
    expect(check).toEqual({
      readYourWrites: true,
      readBacks: 5,
      staleReads: 0,
      staleByPhase: {},
      withoutPosition: 0,
      unanswered: 0,
      notReadBack: 0,
      examples: [],
      passed: true,
    })
  })

  it('counts a read-back that misses its write as stale, by phase, with an example naming the write, the position and the read', () => {
    const ledger = new StaleReadLedger()
    ledger.record(createStudent(1, 7), 'before')
    ledger.record(readStudent(1, 7, 404), 'before')
    ledger.record(enroll(1, 3, 7), 'window')
    ledger.record(readClassrooms(1, 7, []), 'window')
    ledger.record(drop(1, 3, 7), 'window')
    ledger.record(readClassrooms(1, 7, [3]), 'window')
    const check = ledger.check({ readYourWrites: true })
    expect(check).toMatchObject({
      readBacks: 3,
      staleReads: 3,
      staleByPhase: { before: 1, window: 2 },
      passed: false,
    })
    expect(check.examples[0]).toBe(
      'stale (before): created student 7 (answered with Read-Position 0/3000060), then GET /students/7 with 0/3000060 answered 404 without it',
    )
    expect(check.examples[2]).toContain('dropped student 7 from classroom 3')
  })

  it('with read-your-writes off, passes only when it saw a stale read', () => {
    expect(
      ledgerOf([createStudent(1, 7), readStudent(1, 7, 404)]).check({ readYourWrites: false }),
    ).toMatchObject({
      staleReads: 1,
      passed: true,
    })
    expect(
      ledgerOf([createStudent(1, 7), readStudent(1, 7, 200)]).check({ readYourWrites: false }),
    ).toMatchObject({
      staleReads: 0,
      passed: false,
    })
  })

  it("pairs each write with its own user's next request, however the users' requests interleave", () => {
    const check = ledgerOf([
      createStudent(1, 7),
      createStudent(2, 8),
      readStudent(2, 8, 404),
      readStudent(1, 7, 200),
    ]).check({ readYourWrites: true })
    expect(check).toMatchObject({ readBacks: 2, staleReads: 1 })
    expect(check.examples[0]).toContain('created student 8')
  })

  it('judges nothing after a write that acknowledged nothing, or from a read-back answered with an error', () => {
    const check = ledgerOf([
      enroll(1, 3, 7, 409, 'CLASSROOM_FULL'),
      readClassrooms(1, 7, []),
      enroll(1, 4, 7, 503, 'DATABASE_UNAVAILABLE'),
      readClassrooms(1, 7, []),
      enroll(1, 5, 7),
      readClassrooms(1, 7, [], 503),
    ]).check({ readYourWrites: true })
    expect(check).toMatchObject({ readBacks: 0, staleReads: 0, unanswered: 1, notReadBack: 0 })
  })

  it('counts read-backs sent without a Read-Position, and acknowledged writes whose next request was not their read-back', () => {
    const check = ledgerOf([
      createStudent(1, 7),
      readStudent(1, 7, 200, null),
      createStudent(1, 9),
      readStudent(1, 8, 200),
      enroll(1, 3, 7),
      exchange(1, { name: 'getClassroom', method: 'GET', path: '/classrooms/3' }, { status: 200, body: {} }),
    ]).check({ readYourWrites: true })
    expect(check).toMatchObject({ readBacks: 1, withoutPosition: 1, notReadBack: 2, staleReads: 0 })
  })
})
