// The k6 side of the shared request mix: one iteration = one request of one user.

import { textSummary } from 'https://jslib.k6.io/k6-summary/0.0.2/index.js'
import { check, sleep } from 'k6'
import exec from 'k6/execution'
import http from 'k6/http'
import { Counter } from 'k6/metrics'
import { OVERLOAD_MIX } from '../shared/overload.ts'
import {
  acknowledgedWrite,
  OWN_WRITE_MIX,
  READ_POSITION_HEADER,
  readBack,
  readBackVerdict,
} from '../shared/own-writes.ts'
import {
  assignStudents,
  classify,
  EXPECTED_STATUSES,
  errorCodeOf,
  expectedStatuses,
  K6_TIMEOUT_ERROR_CODE,
  LOAD_START_MARKER,
  newUserState,
  type PlannedRequest,
  phaseAt,
  planRequest,
  REQUEST_MIX,
  REQUEST_TIMEOUT_SECONDS,
  rememberResponse,
  retryAfterSeconds,
  type ScenarioPlan,
  SEED_RETRY,
  type SeedData,
  seedKey,
  seedRequests,
  THINK_TIME_SECONDS,
  USERS,
  type UserState,
} from '../shared/scenarios.ts'

export const BASE_URL = __ENV.BASE_URL ?? 'http://127.0.0.1:3000'

/** VUs per phase: USERS (50), or fewer with `-e VUS=N` for a smoke run. */
export function users(): number {
  return Number(__ENV.VUS ?? USERS)
}

// Custom metrics, named as the shared thresholds name them.
const poolLimitErrors = new Counter('pool_limit_errors')
const overloadRefusals = new Counter('overload_refusals')
const unexpectedResponses = new Counter('unexpected_responses')
const serverErrors = new Counter('server_errors')

http.setResponseCallback(http.expectedStatuses(...EXPECTED_STATUSES))
// Each request of the mix, and each read-back, judged by its own statuses (a drop answered 404 is no failure).
const RESPONSE_CALLBACKS = new Map(
  [...REQUEST_MIX.map(({ name }) => name), 'readOwnStudent' as const, 'readOwnEnrollments' as const].map(
    (name) => [name as string, http.expectedStatuses(...expectedStatuses(name))],
  ),
)

// Every request carries the runner's token, as a real client does (the api answers 401 without one).
const AUTH: Record<string, string> = __ENV.API_TOKEN ? { authorization: `Bearer ${__ENV.API_TOKEN}` } : {}
const JSON_HEADERS = { 'content-type': 'application/json', ...AUTH }
// A body-less request names no content type: the api refuses an empty body declared as JSON.
// Seeding (not in the mix) passes no responseCallback, so the global one above applies.
const params = (
  name: string,
  hasBody = true,
  headers: Record<string, string> = {},
  timeoutMs = REQUEST_TIMEOUT_SECONDS * 1000,
) => {
  const responseCallback = RESPONSE_CALLBACKS.get(name)
  return {
    headers: hasBody ? { ...JSON_HEADERS, ...headers } : { ...AUTH, ...headers },
    tags: { name },
    timeout: `${timeoutMs}ms`,
    ...(responseCallback && { responseCallback }),
  }
}

/**
 * k6 `setup()`: creates the run's classrooms and (unless `students` is false) students through
 * the api. A 503 is sent again (same `Idempotency-Key`) after its `Retry-After`, else a short pause.
 */
export function createSeed({ students = true }: { students?: boolean } = {}): SeedData {
  const runId = `${Date.now().toString(36)}k6`
  const plan = seedRequests(runId)
  const created = (path: string, body: object, index: number): number => {
    const request = {
      ...params('seed'),
      headers: { ...JSON_HEADERS, 'idempotency-key': seedKey(runId, path, index) },
    }
    for (let attempt = 1; ; attempt++) {
      const response = http.post(`${BASE_URL}${path}`, JSON.stringify(body), request)
      if (response.status === 201) return (response.json() as { id: number }).id
      if (response.status !== 503 || attempt >= SEED_RETRY.attempts)
        throw new Error(`seeding ${path} answered ${response.status}: ${response.body}`)
      sleep(retryAfterSeconds(response.headers['Retry-After'], Date.now()) ?? SEED_RETRY.pauseMs / 1000)
    }
  }
  const classroomIds = plan.classrooms.map((body, i) => created('/classrooms', body, i))
  const studentIds = students ? plan.students.map((body, i) => created('/students', body, i)) : []
  // The runner waits for this line to time the restart drill's window.
  console.log(LOAD_START_MARKER)
  return { runId, classroomIds, studentIds: assignStudents(studentIds) }
}

// Module state is per VU in k6: one VU is one user, through every phase of the plan's one scenario.
let state: UserState | undefined
/** The last `Read-Position` this user was handed: sent back with every request, as a client keeps a cookie. */
let position: string | undefined

/** The user's state (user `user`, the VU's by default), and the phase its next requests are tagged with. */
function beginIteration(plan: ScenarioPlan, user = (exec.vu.idInTest - 1) % USERS): UserState {
  state ??= newUserState(user)
  exec.vu.metrics.tags.phase = phaseAt(plan, Date.now() - exec.scenario.startTime)
  return state
}

/** How a caller sends: its deadline, and whether it leaves on a refusal (an open-model caller) or waits as asked. */
interface Caller {
  readonly deadlineMs?: number
  /** A caller that is refused goes away instead of honouring `Retry-After` before its next request. */
  readonly leavesOnRefusal?: boolean
}

/**
 * Sends one planned request, checks and counts its answer; returns its status and JSON body. A
 * 503 with `Retry-After` makes the user wait that long before its next request (not resend at
 * once), unless it is a caller that leaves.
 */
function send(
  planned: PlannedRequest,
  headers: Record<string, string> = {},
  caller: Caller = {},
): { status: number; body: unknown; headers: Record<string, string> } {
  const url = `${BASE_URL}${planned.path}`
  const body = planned.body ? JSON.stringify(planned.body) : null
  const response = http.request(
    planned.method,
    url,
    body,
    params(planned.name, body !== null, headers, caller.deadlineMs),
  )
  let parsed: unknown = null
  if (typeof response.body === 'string' && response.body.length > 0) {
    try {
      parsed = JSON.parse(response.body)
    } catch {
      parsed = null
    }
  }
  const deadlinePassed = caller.deadlineMs !== undefined && response.error_code === K6_TIMEOUT_ERROR_CODE
  const outcome = classify(planned.name, response.status, errorCodeOf(parsed), deadlinePassed)
  if (outcome === 'pool-limit') poolLimitErrors.add(1)
  if (outcome === 'overloaded') overloadRefusals.add(1)
  if (outcome === 'unexpected') unexpectedResponses.add(1)
  if (response.status >= 500 || response.status === 0) serverErrors.add(1)
  check(response, { 'answered as expected': () => outcome === 'ok' })
  const pause = response.status === 503 && retryAfterSeconds(response.headers['Retry-After'], Date.now())
  if (pause && !caller.leavesOnRefusal) sleep(pause)
  return { status: response.status, body: parsed, headers: response.headers }
}

/**
 * The overload drill's iteration: one caller arriving, one request of {@link OVERLOAD_MIX} with
 * the plan's deadline as its timeout, tagged with the phase it arrives in; refused, it leaves.
 */
export function callerIteration(seed: SeedData, plan: ScenarioPlan): void {
  // Each VU its own user: created students' emails never collide between VUs.
  const user = beginIteration(plan, exec.vu.idInTest - 1)
  const planned = planRequest(user, seed, Math.random, OVERLOAD_MIX)
  send(planned, {}, { deadlineMs: plan.arrival?.deadlineMs, leavesOnRefusal: true })
}

/** The default function's body: one request from the mix, tagged with its phase, checked and counted. */
export function userIteration(seed: SeedData, plan: ScenarioPlan): void {
  const user = beginIteration(plan)
  const planned = planRequest(user, seed, Math.random)
  const answer = send(planned)
  rememberResponse(user, planned, answer.status, answer.body)
  if (THINK_TIME_SECONDS > 0) sleep(THINK_TIME_SECONDS)
}

/** Sends a request with the user's `Read-Position`, and keeps the one its answer hands back. */
function sendWithPosition(planned: PlannedRequest): ReturnType<typeof send> {
  const answer = send(planned, position ? { [READ_POSITION_HEADER]: position } : {})
  position = answer.headers[READ_POSITION_HEADER] || position
  return answer
}

/**
 * The replicas drill's iteration: a write (an enrollment, a drop or a new student), then, when the
 * api acknowledged it, a read of what it wrote, carrying the `Read-Position` the write answered: a
 * read-back that misses the write is a stale read (check `reads its own write`, counted on
 * `staleReads`, the script's `stale_reads`). Then a classroom read, as a user browsing on, with the
 * same position.
 */
export function ownWriteIteration(seed: SeedData, plan: ScenarioPlan, staleReads: Counter): void {
  const user = beginIteration(plan)
  const planned = planRequest(user, seed, Math.random, OWN_WRITE_MIX)
  const answer = sendWithPosition(planned)
  rememberResponse(user, planned, answer.status, answer.body)
  const written = acknowledgedWrite({ ...planned, body: planned.body ?? null }, answer)
  if (written) {
    const verdict = readBackVerdict(written, sendWithPosition(readBack(written)))
    staleReads.add(verdict === 'stale' ? 1 : 0)
    check(verdict, { 'reads its own write': (v) => v !== 'stale' })
  }
  sendWithPosition(planRequest(user, seed, Math.random, [{ name: 'getClassroom', weight: 1 }]))
  if (THINK_TIME_SECONDS > 0) sleep(THINK_TIME_SECONDS)
}

/** A `handleSummary` that writes k6's summary as JSON where `SUMMARY_JSON` says, and keeps k6's text summary on stdout. */
export function writeSummary(data: { metrics: Record<string, unknown> }): Record<string, string> {
  const path = __ENV.SUMMARY_JSON ?? 'summary.json'
  return {
    [path]: JSON.stringify(data, null, 2),
    stdout: `${textSummary(data, { indent: ' ', enableColors: false })}\nsummary written to ${path}\n`,
  }
}
