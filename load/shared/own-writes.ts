/**
 * The replicas drill's read-your-writes check, shared by its k6 script and the runner's stale-read
 * ledger: which answered write a user must see again, the read that looks, and whether it saw it.
 * Type imports only: k6 and Node resolve modules differently.
 */
import type { PlannedRequest, RequestMix } from './scenarios.js'

/** The header the api hands a write's log position in, and takes it back in on any request. */
export const READ_POSITION_HEADER = 'Read-Position'

/** The replicas drill's writes: as many drops as enrollments (classrooms never fill up), and new students. */
export const OWN_WRITE_MIX: RequestMix = [
  { name: 'enroll', weight: 40 },
  { name: 'unenroll', weight: 40 },
  { name: 'createStudent', weight: 20 },
]

/** A write the api acknowledged, which the user's next read must show. */
export type OwnWrite =
  | { readonly kind: 'createStudent'; readonly studentId: number }
  | { readonly kind: 'enroll' | 'unenroll'; readonly classroomId: number; readonly studentId: number }

/** Whether a read-back showed its write; `undefined` when its answer tells nothing (a failed read). */
export type Verdict = 'fresh' | 'stale' | undefined

const ENROLLMENT_PATH = /^\/classrooms\/(\d+)\/enrollments(?:\/(\d+))?$/

const field = (body: unknown, name: string): unknown => (body as Record<string, unknown> | null)?.[name]

/**
 * The write an answer acknowledged, if it did: a student created (201), an enrollment made or
 * found already there (201, 409 `ALREADY_ENROLLED`), one dropped or found not there (204, 404).
 * Anything else (a full classroom, a failure) acknowledged nothing a read could check.
 *
 * ```ts
 * acknowledgedWrite({ name: 'enroll', path: '/classrooms/3/enrollments', body: { studentId: 7 } }, { status: 201, body: {} })
 * // { kind: 'enroll', classroomId: 3, studentId: 7 }
 * ```
 */
export function acknowledgedWrite(
  request: { readonly name: string; readonly path: string; readonly body: unknown },
  answer: { readonly status: number; readonly body: unknown },
): OwnWrite | undefined {
  const { name, path } = request
  if (name === 'createStudent') {
    const id = field(answer.body, 'id')
    return answer.status === 201 && typeof id === 'number' ? { kind: name, studentId: id } : undefined
  }
  const match = ENROLLMENT_PATH.exec(path)
  if (!match) return undefined
  const classroomId = Number(match[1])
  if (name === 'enroll') {
    const studentId = field(request.body, 'studentId')
    const made = answer.status === 201 || field(answer.body, 'error') === 'ALREADY_ENROLLED'
    return made && typeof studentId === 'number' ? { kind: name, classroomId, studentId } : undefined
  }
  if (name === 'unenroll' && match[2] !== undefined && (answer.status === 204 || answer.status === 404))
    return { kind: name, classroomId, studentId: Number(match[2]) }
  return undefined
}

/**
 * The read that shows whether `write` is there: the student created, or the student's classrooms.
 *
 * ```ts
 * readBack({ kind: 'createStudent', studentId: 7 }) // GET /students/7, named readOwnStudent
 * ```
 */
export function readBack(write: OwnWrite): PlannedRequest {
  return write.kind === 'createStudent'
    ? { name: 'readOwnStudent', method: 'GET', path: `/students/${write.studentId}` }
    : { name: 'readOwnEnrollments', method: 'GET', path: `/students/${write.studentId}/classrooms` }
}

/**
 * Whether the answer to {@link readBack}'s read shows `write`: the student (a 404 missed it), or
 * the classroom among the student's classrooms exactly when the write enrolled it.
 *
 * ```ts
 * readBackVerdict({ kind: 'createStudent', studentId: 7 }, { status: 404, body: {} }) // 'stale'
 * ```
 */
export function readBackVerdict(
  write: OwnWrite,
  answer: { readonly status: number; readonly body: unknown },
): Verdict {
  if (write.kind === 'createStudent') {
    if (answer.status === 404) return 'stale'
    return answer.status === 200 && field(answer.body, 'id') === write.studentId ? 'fresh' : undefined
  }
  const items = field(answer.body, 'items')
  if (answer.status !== 200 || !Array.isArray(items)) return undefined
  const listed = items.some((item) => field(item, 'id') === write.classroomId)
  return listed === (write.kind === 'enroll') ? 'fresh' : 'stale'
}
