import type { SeedData } from '../shared/scenarios.js'
import { openProbePool } from './database-probe.js'

/**
 * A write the load sent, for the ledger check: which pair, and how the api answered; or a student
 * the api acknowledged creating (201, `classroomId` 0), which must be stored.
 */
export interface LedgerEntry {
  /** Milliseconds from the start of the load to the request's start. */
  readonly at: number
  /** The VU that sent it. */
  readonly user: number
  readonly kind: 'enroll' | 'unenroll' | 'createStudent'
  readonly classroomId: number
  readonly studentId: number
  readonly status: number
  readonly errorCode: string | undefined
}

/** What the database holds compared with what the api told the engine. */
export interface LedgerCheck {
  /** Enroll/unenroll requests sent, and students acknowledged created. */
  readonly writes: number
  /** Students the api acknowledged creating (201): each must be stored, or it counts as lost. */
  readonly createdStudents: number
  /**
   * Acknowledged enrollments missing from the table, or found gone by the user's next drop (404
   * while the pair's last acknowledged write said "enrolled"): must be 0.
   */
  readonly lostWrites: number
  /**
   * Rows no acknowledged or ambiguous write explains, that an acknowledged drop removed, or that the
   * user's next enroll found still there (409 ALREADY_ENROLLED after an acknowledged drop): must be 0.
   */
  readonly phantomWrites: number
  /** Classrooms holding more students than their capacity: must be 0. */
  readonly capacityBreaches: number
  /** Writes answered with an error that may or may not have committed (connection lost mid-request). */
  readonly ambiguousWrites: number
  /** Of those, how many turned out applied. */
  readonly ambiguousApplied: number
  /** Up to 10 offending pairs, for the report. */
  readonly examples: readonly string[]
  /**
   * Lost and phantom writes do not fail the check: an asynchronous standby promoted after a crash
   * may not have the old primary's last acknowledged writes (a dropped enrollment then reappears
   * as a phantom). They are counted all the same.
   */
  readonly lossExpected: boolean
  readonly passed: boolean
}

type Known = 'present' | 'absent' | 'unknown'

/**
 * Replays the write ledger pair by pair (each pair belongs to one user, so its writes are in
 * order) and compares the result with the `enrollments` table.
 *
 * An acknowledged enroll (201, or 409 ALREADY_ENROLLED) means the row exists; an acknowledged drop
 * (204, or 404) means it does not; CLASSROOM_FULL and POOL_TIMEOUT change nothing (the latter
 * fails before any statement runs); any other error leaves the pair unknown until the next
 * acknowledged write. An answer that contradicts the pair's last acknowledged write (a drop finds
 * nothing, an enroll finds the row) reveals a lost or a phantom write there and then, whatever the
 * table holds at the end.
 */
export async function checkLedger(
  databaseUrl: string,
  seed: SeedData,
  ledger: readonly LedgerEntry[],
  { lossExpected = false }: { lossExpected?: boolean } = {},
): Promise<LedgerCheck> {
  const expected = new Map<string, Known>()
  const examples: string[] = []
  const example = (text: string) => {
    if (examples.length < 10) examples.push(text)
  }
  let ambiguousWrites = 0
  let lostWrites = 0
  let phantomWrites = 0
  const created = ledger.filter((entry) => entry.kind === 'createStudent').map((entry) => entry.studentId)
  const pairWrites = ledger.filter(
    (entry): entry is PairWrite => entry.kind === 'enroll' || entry.kind === 'unenroll',
  )
  for (const entry of [...pairWrites].sort((a, b) => a.at - b.at)) {
    const key = `${entry.classroomId}:${entry.studentId}`
    const before = expected.get(key) ?? 'absent'
    const after = applyWrite(before, entry)
    // A later answer contradicting an acknowledged write: the database lost that write.
    if (before === 'present' && entry.kind === 'unenroll' && entry.status === 404) {
      lostWrites++
      example(`lost: enrollment ${key} was acknowledged, then its drop found it gone`)
    }
    if (before === 'absent' && entry.kind === 'enroll' && entry.errorCode === 'ALREADY_ENROLLED') {
      phantomWrites++
      example(`phantom: enrollment ${key} was dropped or never made, then an enroll found it there`)
    }
    if (after === 'unknown') ambiguousWrites++
    expected.set(key, after)
  }

  const pool = openProbePool(databaseUrl)
  let rows: { classroom_id: number; student_id: number }[]
  let breaches: { id: number; capacity: number; n: string }[]
  let storedStudents: Set<number>
  try {
    storedStudents = new Set(
      (
        await pool.query<{ id: number }>('select id from students where id = any($1::int[])', [created])
      ).rows.map((r) => r.id),
    )
    rows = (
      await pool.query<{ classroom_id: number; student_id: number }>(
        'select classroom_id, student_id from enrollments where classroom_id = any($1::int[])',
        [seed.classroomIds],
      )
    ).rows
    breaches = (
      await pool.query<{ id: number; capacity: number; n: string }>(
        `select c.id, c.capacity, count(e.student_id) as n
           from classrooms c join enrollments e on e.classroom_id = c.id
          where c.id = any($1::int[])
          group by c.id, c.capacity
         having count(e.student_id) > c.capacity`,
        [seed.classroomIds],
      )
    ).rows
  } finally {
    await pool.end()
  }

  const stored = new Set(rows.map((r) => `${r.classroom_id}:${r.student_id}`))
  let ambiguousApplied = 0
  for (const [pair, known] of expected) {
    if (known === 'present' && !stored.has(pair)) {
      lostWrites++
      example(`lost: enrollment ${pair} was acknowledged but is not stored`)
    }
    if (known === 'absent' && stored.has(pair)) {
      phantomWrites++
      example(`phantom: enrollment ${pair} is stored but its last acknowledged write removed or refused it`)
    }
    if (known === 'unknown' && stored.has(pair)) ambiguousApplied++
  }
  for (const pair of stored) {
    if (!expected.has(pair)) {
      phantomWrites++
      example(`phantom: enrollment ${pair} is stored but no request wrote it`)
    }
  }
  for (const id of created) {
    if (storedStudents.has(id)) continue
    lostWrites++
    example(`lost: student ${id} was acknowledged created but is not stored`)
  }
  for (const breach of breaches)
    example(`capacity: classroom ${breach.id} holds ${breach.n} of ${breach.capacity}`)
  return {
    writes: ledger.length,
    createdStudents: created.length,
    lostWrites,
    phantomWrites,
    capacityBreaches: breaches.length,
    ambiguousWrites,
    ambiguousApplied,
    examples,
    lossExpected,
    passed: (lossExpected || (lostWrites === 0 && phantomWrites === 0)) && breaches.length === 0,
  }
}

type PairWrite = LedgerEntry & { readonly kind: 'enroll' | 'unenroll' }

function applyWrite(before: Known, entry: PairWrite): Known {
  if (entry.kind === 'enroll') {
    if (entry.status === 201 || entry.errorCode === 'ALREADY_ENROLLED') return 'present'
    if (entry.errorCode === 'CLASSROOM_FULL' || entry.errorCode === 'POOL_TIMEOUT' || entry.status === 404)
      return before
    return 'unknown'
  }
  if (entry.status === 204 || entry.status === 404) return 'absent'
  if (entry.errorCode === 'POOL_TIMEOUT') return before
  return 'unknown'
}
