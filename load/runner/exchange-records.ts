// One exchange of a drill's script as the runner records it: its phase, name, outcome and ledger entry.
import {
  classify,
  errorCodeOf,
  K6_TIMEOUT_ERROR_CODE,
  type PhaseName,
  type RequestName,
  type ScenarioPlan,
} from '../shared/scenarios.js'
import type { Exchange } from './k6-runtime/http-bridge.js'
import type { LedgerEntry } from './ledger.js'
import type { RequestRecord } from './results.js'

const ENROLLMENTS = /^\/classrooms\/(\d+)\/enrollments(?:\/(\d+))?$/

/**
 * What the runner learns from one exchange of a drill's script, seen from the main thread: the
 * request's record (phase from its scenario's `phase` tag, name from its `name` tag) and, for an
 * enroll or a drop (or a student acknowledged created), its ledger entry. setup()'s seeding (k6's group `::setup`) gives a record of
 * phase `setup`, counted apart from the load; teardown()'s calls give nothing.
 *
 * ```ts
 * const { record, write } = fromExchange(exchange, plan, loadStartedAt) ?? {}
 * ```
 */
export function fromExchange(
  exchange: Exchange,
  plan: ScenarioPlan,
  loadStartedAt: number,
): { record: RequestRecord; write: LedgerEntry | undefined } | undefined {
  const { call, answer } = exchange
  if (call.tags.group === '::setup') return { record: setupRecord(exchange), write: undefined }
  const phase = call.tags.phase as PhaseName | undefined
  if (call.tags.scenario === undefined || !plan.phases.some((p) => p.name === phase)) return undefined
  const errorCode = answer.status >= 400 ? errorCodeOf(parseJson(answer.body)) : undefined
  const at = exchange.startedAt - loadStartedAt
  const name = call.tags.name as RequestName
  // An open-model caller that gave up at its deadline is late, not a hang.
  const deadlinePassed = plan.arrival !== undefined && answer.errorCode === K6_TIMEOUT_ERROR_CODE
  const record: RequestRecord = {
    at,
    phase: phase!,
    name,
    status: answer.status,
    errorCode,
    outcome: classify(name, answer.status, errorCode, deadlinePassed),
    durationMs: answer.durationMs,
  }
  return { record, write: ledgerEntry(exchange, name, at, errorCode) }
}

/** A seeding request of setup(): a creation, answered 201 when it worked (a 503 is sent again). */
function setupRecord({ answer }: Exchange): RequestRecord {
  const errorCode = answer.status >= 400 ? errorCodeOf(parseJson(answer.body)) : undefined
  return {
    at: 0,
    phase: 'setup',
    name: 'seed',
    status: answer.status,
    errorCode,
    outcome: answer.status === 201 ? 'ok' : answer.status === 503 ? 'unavailable' : 'unexpected',
    durationMs: answer.durationMs,
  }
}

/** The pair an enroll (`POST /classrooms/:id/enrollments {studentId}`) or a drop wrote, and how it was answered. */
function ledgerEntry(
  { call, answer, vuId }: Exchange,
  name: RequestName,
  at: number,
  errorCode: string | undefined,
): LedgerEntry | undefined {
  if (name === 'createStudent') {
    const id = (parseJson(answer.body) as { id?: unknown } | null)?.id
    return answer.status === 201 && typeof id === 'number'
      ? { at, user: vuId, kind: name, classroomId: 0, studentId: id, status: answer.status, errorCode }
      : undefined
  }
  if (name !== 'enroll' && name !== 'unenroll') return undefined
  const match = ENROLLMENTS.exec(new URL(call.url).pathname)
  const classroomId = Number(match?.[1])
  const studentId =
    name === 'enroll'
      ? (parseJson(call.body) as { studentId?: number } | null)?.studentId
      : Number(match?.[2])
  if (!match || typeof studentId !== 'number' || !Number.isInteger(studentId))
    throw new Error(
      `a ${name} request went to ${call.method} ${call.url}: the ledger cannot tell which pair it wrote`,
    )
  return { at, user: vuId, kind: name, classroomId, studentId, status: answer.status, errorCode }
}

/** A JSON body, or `null` when there is none or it is not JSON. */
export function parseJson(text: string | null): unknown {
  if (!text) return null
  try {
    return JSON.parse(text) as unknown
  } catch {
    return null
  }
}
