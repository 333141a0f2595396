import { performance } from 'node:perf_hooks'
import { Pool } from 'undici'
import {
  assignStudents,
  classify,
  errorCodeOf,
  newUserState,
  type PhaseName,
  type PlannedRequest,
  planRequest,
  REQUEST_TIMEOUT_SECONDS,
  rememberResponse,
  type ScenarioPlan,
  SEED_RETRY,
  type SeedData,
  seedKey,
  seedRequests,
  THINK_TIME_SECONDS,
} from '../shared/scenarios.js'
import type { RequestRecord } from './results.js'

/** A write the engine sent, for the ledger check: which pair, and how the api answered. */
export interface LedgerEntry {
  readonly at: number
  readonly user: number
  readonly kind: 'enroll' | 'unenroll'
  readonly classroomId: number
  readonly studentId: number
  readonly status: number
  readonly errorCode: string | undefined
}

export interface NodeEngineRun {
  readonly seed: SeedData
  readonly records: RequestRecord[]
  readonly ledger: LedgerEntry[]
}

const SEED_CONCURRENCY = 10

/**
 * The built-in engine: the plan's users as closed loops on undici, each sending the shared mix's
 * next request as soon as the last one answered, for the plan's phases. `startedAt` (a
 * `performance.now()` time) lets the caller line other events up with the records' `at`.
 *
 * ```ts
 * const run = await runNodeEngine({ baseUrl, plan, onStart: (t0) => scheduleRestart(t0) })
 * ```
 */
export async function runNodeEngine(options: {
  baseUrl: string
  plan: ScenarioPlan
  onStart?: (startedAt: number) => void
  onRecord?: (record: RequestRecord) => void
}): Promise<NodeEngineRun> {
  const { plan } = options
  const pool = new Pool(options.baseUrl, {
    connections: plan.users + 2,
    headersTimeout: REQUEST_TIMEOUT_SECONDS * 1000,
    bodyTimeout: REQUEST_TIMEOUT_SECONDS * 1000,
  })
  try {
    const seed = await createSeed(pool)
    const records: RequestRecord[] = []
    const ledger: LedgerEntry[] = []
    const totalMs = plan.phases.reduce(
      (end, p) => Math.max(end, (p.startSeconds + p.durationSeconds) * 1000),
      0,
    )
    const startedAt = performance.now()
    options.onStart?.(startedAt)
    const phaseAt = (elapsedMs: number): PhaseName => {
      const phase = plan.phases.find((p) => elapsedMs < (p.startSeconds + p.durationSeconds) * 1000)
      return (phase ?? plan.phases[plan.phases.length - 1]!).name
    }
    const user = async (index: number) => {
      const state = newUserState(index)
      for (;;) {
        const at = performance.now() - startedAt
        if (at >= totalMs) return
        const planned = planRequest(state, seed, Math.random)
        const { status, body } = await send(pool, planned)
        const durationMs = performance.now() - startedAt - at
        const errorCode = errorCodeOf(body)
        const record: RequestRecord = {
          at,
          phase: phaseAt(at),
          name: planned.name,
          status,
          errorCode,
          outcome: classify(status, errorCode),
          durationMs,
        }
        records.push(record)
        options.onRecord?.(record)
        if (planned.pair && (planned.name === 'enroll' || planned.name === 'unenroll')) {
          const [classroomId, studentId] = planned.pair
          ledger.push({ at, user: index, kind: planned.name, classroomId, studentId, status, errorCode })
        }
        rememberResponse(state, planned, status, body)
        if (THINK_TIME_SECONDS > 0)
          await new Promise((resolve) => setTimeout(resolve, THINK_TIME_SECONDS * 1000))
      }
    }
    await Promise.all(Array.from({ length: plan.users }, (_, i) => user(i)))
    return { seed, records, ledger }
  } finally {
    await pool.close()
  }
}

async function send(
  pool: Pool,
  planned: PlannedRequest,
  extraHeaders: Record<string, string> = {},
): Promise<{ status: number; body: unknown }> {
  try {
    const response = await pool.request({
      method: planned.method,
      path: planned.path,
      headers: { ...(planned.body && { 'content-type': 'application/json' }), ...extraHeaders },
      body: planned.body ? JSON.stringify(planned.body) : null,
    })
    const text = await response.body.text()
    const isJson = String(response.headers['content-type'] ?? '').includes('application/json')
    return { status: response.statusCode, body: isJson && text ? (JSON.parse(text) as unknown) : null }
  } catch {
    // Refused, reset or timed out: no answer at all.
    return { status: 0, body: null }
  }
}

/** Creates the run's classrooms and students through the api, as k6's `setup()` does. */
async function createSeed(pool: Pool): Promise<SeedData> {
  const runId = `${Date.now().toString(36)}n`
  const plan = seedRequests(runId)
  const create = async (path: string, bodies: object[]): Promise<number[]> => {
    const ids: number[] = new Array(bodies.length)
    for (let start = 0; start < bodies.length; start += SEED_CONCURRENCY) {
      await Promise.all(
        bodies.slice(start, start + SEED_CONCURRENCY).map(async (body, offset) => {
          const headers = { 'idempotency-key': seedKey(runId, path, start + offset) }
          for (let attempt = 1; ; attempt++) {
            const { status, body: answer } = await send(
              pool,
              { name: 'createStudent', method: 'POST', path, body },
              headers,
            )
            if (status === 201) {
              ids[start + offset] = (answer as { id: number }).id
              return
            }
            if (status !== 503 || attempt >= SEED_RETRY.attempts) {
              throw new Error(`seeding ${path} answered ${status}: ${JSON.stringify(answer)}`)
            }
            await new Promise((resolve) => setTimeout(resolve, SEED_RETRY.pauseMs))
          }
        }),
      )
    }
    return ids
  }
  const classroomIds = await create('/classrooms', plan.classrooms)
  const studentIds = await create('/students', plan.students)
  return { runId, classroomIds, studentIds: assignStudents(studentIds) }
}
