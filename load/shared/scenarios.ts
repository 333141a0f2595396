/**
 * The one source of truth for the load scenarios: users, phases, request mix, response
 * classification and thresholds. The k6 scripts and the runner's built-in engine both read it,
 * so it imports nothing (k6 and Node resolve modules differently).
 */

/** Concurrent users in every scenario (closed loop: each waits for its answer, then sends again). */
export const USERS = 50

/** Seconds a user waits between requests. 0: fifty requests in flight at every moment, the worst case. */
export const THINK_TIME_SECONDS = 0

/** What the k6 scripts print once setup() has seeded the data and the load begins (the runner times the restart from it). */
export const LOAD_START_MARKER = 'classroom-load: load starts'

/**
 * Seconds into the window at which the fault strikes (the database restarts, or its primary is
 * killed): requests the before phase started are all answered by then, so that phase is judged on its own.
 */
export const FAULT_OFFSET_SECONDS = 1

/** k6's `error_code` for a request that outlived its `timeout`. */
export const K6_TIMEOUT_ERROR_CODE = 1050

/** A request slower than this is abandoned and counted as a hang. */
export const REQUEST_TIMEOUT_SECONDS = 10

/** The drills, each a record of the runner's registry (`runner/drills/`) and a script in `k6/`. */
export type DrillName = 'steady' | 'soak' | 'restart' | 'failover' | 'replicas' | 'overload'

/** A phase; the overload drill names its overload phases by their multiple of capacity (`2x`), its closed-loop probe `probe`. */
export type PhaseName = 'warmup' | 'steady' | 'before' | 'window' | 'after' | 'probe' | `${number}x`

export interface Phase {
  readonly name: PhaseName
  readonly startSeconds: number
  readonly durationSeconds: number
}

/** Metrics both engines compute the same way (k6: built-in and custom metrics of the same names). */
export type MetricName =
  /** Share of responses outside {@link EXPECTED_STATUSES}, network errors included. */
  | 'http_req_failed'
  /** Response time in milliseconds. */
  | 'http_req_duration'
  /** Responses with `POOL_TIMEOUT`: the pool limit was reached. */
  | 'pool_limit_errors'
  /** Responses with `POOL_OVERLOADED`: the pool refused at once, in overload. */
  | 'overload_refusals'
  /** Responses that are neither expected nor a fast 503 (a 500, another 4xx, a network error, a hang; a caller's own deadline passing is no hang). */
  | 'unexpected_responses'
  /** Responses with a 5xx status. */
  | 'server_errors'
  /** Read-backs that missed the user's own acknowledged write (the replicas drill). */
  | 'stale_reads'

export interface Threshold {
  readonly metric: MetricName
  /** Applies to this phase only; all phases when absent. */
  readonly phase?: PhaseName
  readonly stat: 'rate' | 'count' | 'p(50)' | 'p(95)' | 'p(99)' | 'max'
  readonly op: '<' | '=='
  readonly value: number
}

export interface ScenarioPlan {
  readonly name: DrillName
  /** Closed loop: the users; open model: the most callers in flight at once. */
  readonly users: number
  readonly phases: readonly Phase[]
  readonly thresholds: readonly Threshold[]
  /** Seconds from the start at which the drill's fault strikes: a restart, the primary killed, a standby stopped. */
  readonly faultAtSeconds?: number
  /** An open-model drill's arrivals (the overload drill): callers at a fixed rate per phase. */
  readonly arrival?: ArrivalPlan
}

/** Callers arriving at a fixed rate per phase whatever the answers, each giving up after `deadlineMs`. */
export interface ArrivalPlan {
  /** Requests per second the stack serves: measured by the drill's probe, or given. */
  readonly capacity: number
  /** Each phase's offered load as a multiple of `capacity`, in phase order. */
  readonly multiples: readonly number[]
  readonly deadlineMs: number
  /** The most callers in flight at once (one VU each). */
  readonly maxVus: number
}

/** Seconds of warm-up before a steady run is judged: the users ramp up, the api and its pool warm. */
export const WARMUP_SECONDS = 5

/**
 * 50 users for `durationSeconds`, after `warmupSeconds` of warm-up (the users ramping up, as a k6
 * warm-up stage; its requests are shown, never judged): no 5xx, no pool-limit error, under 0.1 %
 * failed, bounded latency, all in the steady phase.
 *
 * ```ts
 * steadyPlan(60)
 * ```
 */
export function steadyPlan(
  durationSeconds = 60,
  users = USERS,
  warmupSeconds = WARMUP_SECONDS,
): ScenarioPlan {
  const steady: Phase = { name: 'steady', startSeconds: warmupSeconds, durationSeconds }
  return {
    name: 'steady',
    users,
    phases:
      warmupSeconds > 0
        ? [{ name: 'warmup', startSeconds: 0, durationSeconds: warmupSeconds }, steady]
        : [steady],
    thresholds: [
      { metric: 'server_errors', phase: 'steady', stat: 'count', op: '==', value: 0 },
      { metric: 'pool_limit_errors', phase: 'steady', stat: 'count', op: '==', value: 0 },
      { metric: 'http_req_failed', phase: 'steady', stat: 'rate', op: '<', value: 0.001 },
      { metric: 'http_req_duration', phase: 'steady', stat: 'p(95)', op: '<', value: 250 },
      { metric: 'http_req_duration', phase: 'steady', stat: 'p(99)', op: '<', value: 500 },
    ],
  }
}

/** The phase lengths of a drill, in seconds, and its users ({@link USERS} unless a smoke run asks for fewer). */
export interface DrillPhases {
  readonly users?: number
  readonly beforeSeconds?: number
  readonly windowSeconds?: number
  readonly afterSeconds?: number
}

/**
 * 50 users through three phases: before, the restart window (the database restarts
 * {@link FAULT_OFFSET_SECONDS} into it), after. Zero failures before and after. In the window,
 * a restart (`downSeconds` 0) is ridden through: zero failures there too. A database kept down
 * for longer may answer fast 503s once the pool's wait runs out, never a 500 and never a hang.
 *
 * ```ts
 * restartPlan({ beforeSeconds: 20, windowSeconds: 20, afterSeconds: 20, downSeconds: 0 })
 * ```
 */
export function restartPlan({
  downSeconds = 0,
  ...phases
}: DrillPhases & { downSeconds?: number } = {}): ScenarioPlan {
  const plan = drillPlan('restart', phases)
  if (downSeconds > 0) return plan
  // Ridden through: the window is held to zero failures too, judged beside before and after.
  const [before, after, ...window] = plan.thresholds
  const none: Threshold = { metric: 'http_req_failed', phase: 'window', stat: 'rate', op: '==', value: 0 }
  return { ...plan, thresholds: [before!, after!, none, ...window] }
}

/**
 * 50 users through three phases: before, the failover window (the primary is killed
 * {@link FAULT_OFFSET_SECONDS} into it and a standby promoted a moment later), after. Zero
 * failures before and after the failover; in the window, requests that outlast the pool's wait
 * for a writable server may answer fast 503s, never a 500 and never a hang.
 *
 * ```ts
 * failoverPlan({ beforeSeconds: 20, windowSeconds: 20, afterSeconds: 20 })
 * ```
 */
export function failoverPlan(phases: DrillPhases = {}): ScenarioPlan {
  return drillPlan('failover', phases)
}

/**
 * 50 users on a primary and two standbys, each writing and reading its write back with the
 * `Read-Position` the write answered, through three phases: before, the window (one standby stopped
 * {@link FAULT_OFFSET_SECONDS} into it and started again a few seconds later), after. No request
 * fails in any phase: reads leave the stopped standby for the other one or the primary. With
 * read-your-writes on, no read-back may miss its write (`stale_reads` count 0); off, stale reads
 * are what the drill wants to see, and no threshold judges them.
 *
 * ```ts
 * replicasPlan({ beforeSeconds: 20, windowSeconds: 20, afterSeconds: 20, readYourWrites: false })
 * ```
 */
export function replicasPlan({
  readYourWrites = true,
  ...phases
}: DrillPhases & { readYourWrites?: boolean } = {}): ScenarioPlan {
  const plan = drillPlan('replicas', phases)
  const [before, after, ...window] = plan.thresholds
  const none: Threshold = { metric: 'http_req_failed', phase: 'window', stat: 'rate', op: '==', value: 0 }
  const fresh: Threshold = { metric: 'stale_reads', stat: 'count', op: '==', value: 0 }
  return {
    ...plan,
    thresholds: [before!, after!, none, ...window, ...(readYourWrites ? [fresh] : [])],
  }
}

/** Before, window and after, with the fault struck early in the window, and what every drill asks of them. */
function drillPlan(
  name: 'restart' | 'failover' | 'replicas',
  { users = USERS, beforeSeconds = 20, windowSeconds = 20, afterSeconds = 20 }: DrillPhases,
): ScenarioPlan {
  if (windowSeconds <= FAULT_OFFSET_SECONDS) {
    throw new Error(
      `the ${name} window must be longer than ${FAULT_OFFSET_SECONDS} s (the fault strikes ${FAULT_OFFSET_SECONDS} s into it)`,
    )
  }
  return {
    name,
    users,
    phases: [
      { name: 'before', startSeconds: 0, durationSeconds: beforeSeconds },
      { name: 'window', startSeconds: beforeSeconds, durationSeconds: windowSeconds },
      { name: 'after', startSeconds: beforeSeconds + windowSeconds, durationSeconds: afterSeconds },
    ],
    faultAtSeconds: beforeSeconds + FAULT_OFFSET_SECONDS,
    thresholds: [
      { metric: 'http_req_failed', phase: 'before', stat: 'rate', op: '==', value: 0 },
      { metric: 'http_req_failed', phase: 'after', stat: 'rate', op: '==', value: 0 },
      { metric: 'unexpected_responses', phase: 'window', stat: 'count', op: '==', value: 0 },
      { metric: 'http_req_duration', phase: 'window', stat: 'p(99)', op: '<', value: 2000 },
      {
        metric: 'http_req_duration',
        phase: 'window',
        stat: 'max',
        op: '<',
        value: REQUEST_TIMEOUT_SECONDS * 1000,
      },
    ],
  }
}

/** The threshold in k6's syntax, e.g. `http_req_failed{phase:before}` → `rate==0`. */
export function k6ThresholdKey(threshold: Threshold): string {
  return threshold.phase ? `${threshold.metric}{phase:${threshold.phase}}` : threshold.metric
}

export function k6ThresholdExpression(threshold: Threshold): string {
  return `${threshold.stat}${threshold.op}${threshold.value}`
}

/** Seconds from the start of the load to the end of its last phase. */
export function planSeconds(plan: ScenarioPlan): number {
  return plan.phases.reduce((end, p) => Math.max(end, p.startSeconds + p.durationSeconds), 0)
}

/** The phase a moment of the load (milliseconds from its start) falls in; past the end, the last. */
export function phaseAt(plan: ScenarioPlan, elapsedMs: number): PhaseName {
  const phase = plan.phases.find((p) => elapsedMs < (p.startSeconds + p.durationSeconds) * 1000)
  return (phase ?? plan.phases[plan.phases.length - 1]!).name
}

/**
 * A scenario plan as k6 `options`: one scenario through every phase, so the same users (each a VU
 * with what it enrolled) carry on from one phase to the next: constant-vus, or ramping-vus when the
 * plan starts with a warm-up (1 → users over it, then held); the scripts tag each request with the
 * phase it starts in ({@link phaseAt}), and thresholds select phases by that tag.
 */
export function k6Options(plan: ScenarioPlan) {
  const thresholds: Record<string, string[]> = {}
  for (const threshold of plan.thresholds) {
    const key = k6ThresholdKey(threshold)
    thresholds[key] = [...(thresholds[key] ?? []), k6ThresholdExpression(threshold)]
  }
  const [first] = plan.phases
  const scenario =
    first?.name === 'warmup'
      ? {
          executor: 'ramping-vus',
          startVUs: 1,
          stages: [
            { duration: `${first.durationSeconds}s`, target: plan.users },
            { duration: `${planSeconds(plan) - first.durationSeconds}s`, target: plan.users },
          ],
          gracefulRampDown: '5s',
          gracefulStop: '5s',
        }
      : { executor: 'constant-vus', vus: plan.users, duration: `${planSeconds(plan)}s`, gracefulStop: '5s' }
  return {
    scenarios: { [plan.name]: scenario },
    thresholds,
    setupTimeout: '120s',
    summaryTrendStats: ['avg', 'p(50)', 'p(95)', 'p(99)', 'max'],
  }
}

// ---------------------------------------------------------------------------------------------
// The request mix

export type RequestName =
  | 'getClassroom'
  | 'listClassrooms'
  | 'getStudent'
  | 'getStudentClassrooms'
  | 'enroll'
  | 'unenroll'
  | 'createStudent'
  /** The replicas drill's read-backs: a student just created, a student's classrooms just written. */
  | 'readOwnStudent'
  | 'readOwnEnrollments'

/** The requests a mix draws from; the read-backs are planned from the write they check. */
export type MixedRequestName = Exclude<RequestName, 'readOwnStudent' | 'readOwnEnrollments'>

/** Requests and their weights, for {@link planRequest} to draw from. */
export type RequestMix = ReadonlyArray<{ readonly name: MixedRequestName; readonly weight: number }>

/** Weighted like a school day: mostly reads, a steady trickle of enrollments and drops. */
export const REQUEST_MIX: RequestMix = [
  { name: 'getClassroom', weight: 25 },
  { name: 'listClassrooms', weight: 15 },
  { name: 'getStudent', weight: 15 },
  { name: 'getStudentClassrooms', weight: 15 },
  { name: 'enroll', weight: 15 },
  { name: 'unenroll', weight: 10 },
  { name: 'createStudent', weight: 5 },
]

/** The data every run starts from, created through the api before the load. */
export const SEED = { classrooms: 20, classroomCapacity: 25, studentsPerUser: 6 } as const

export interface SeedData {
  readonly runId: string
  readonly classroomIds: readonly number[]
  /** `studentIds[u]` belongs to user `u`: a user's writes never race another user's on the same pair. */
  readonly studentIds: readonly (readonly number[])[]
}

/**
 * Seeding is set-up, not load: a seed request answered 503 (a starved pool, a database coming up)
 * is sent again after a pause, with the same `Idempotency-Key`, so it is written once however often
 * it is sent.
 */
export const SEED_RETRY = { attempts: 50, pauseMs: 100 } as const

/** The longest a user honours a `Retry-After`: a longer one (or a far date) would park it past its phase. */
export const RETRY_AFTER_CAP_SECONDS = 10

/**
 * Seconds a 503's `Retry-After` asks the caller to wait (delta-seconds, or an HTTP-date from
 * `nowMs`), at most {@link RETRY_AFTER_CAP_SECONDS}; `undefined` when absent or neither form.
 *
 * ```ts
 * retryAfterSeconds('2', Date.now()) // 2
 * ```
 */
export function retryAfterSeconds(header: string | undefined, nowMs: number): number | undefined {
  if (header === undefined) return undefined
  const text = header.trim()
  // An HTTP-date names its day and month: a bare number that is not delta-seconds is neither form.
  const seconds = /^\d+$/.test(text)
    ? Number(text)
    : /[a-z]/i.test(text)
      ? (Date.parse(text) - nowMs) / 1000
      : Number.NaN
  if (Number.isNaN(seconds)) return undefined
  return Math.min(RETRY_AFTER_CAP_SECONDS, Math.max(0, seconds))
}

/** The `Idempotency-Key` of one seed request. */
export function seedKey(runId: string, path: string, index: number): string {
  return `seed-${runId}-${path.replaceAll('/', '')}-${index}`
}

/** The seed's creation requests, in order: classrooms, then `USERS × studentsPerUser` students. */
export function seedRequests(runId: string): { classrooms: object[]; students: object[] } {
  return {
    classrooms: Array.from({ length: SEED.classrooms }, (_, i) => ({
      name: `Load ${runId} room ${i + 1}`,
      capacity: SEED.classroomCapacity,
    })),
    students: Array.from({ length: USERS * SEED.studentsPerUser }, (_, i) => ({
      name: `Load student ${i + 1}`,
      email: `load.${runId}.${i + 1}@load.test`,
    })),
  }
}

/** Splits created student ids into one group per user. */
export function assignStudents(studentIds: readonly number[]): number[][] {
  return Array.from({ length: USERS }, (_, u) =>
    studentIds.slice(u * SEED.studentsPerUser, (u + 1) * SEED.studentsPerUser),
  )
}

/** What one user remembers between requests. */
export interface UserState {
  readonly user: number
  /** Enrollments this user made and has not dropped, as `[classroomId, studentId]`. */
  enrolled: Array<[number, number]>
  created: number
  cursor: string | null
}

export function newUserState(user: number): UserState {
  return { user, enrolled: [], created: 0, cursor: null }
}

export interface PlannedRequest {
  readonly name: RequestName
  readonly method: 'GET' | 'POST' | 'DELETE'
  readonly path: string
  readonly body?: object
  /** For enroll/unenroll: the pair written, for the write ledger. */
  readonly pair?: readonly [number, number]
}

/**
 * The next request of a user, drawn from `mix` ({@link REQUEST_MIX} by default). `random` returns [0, 1).
 *
 * ```ts
 * const next = planRequest(state, seed, Math.random)
 * ```
 */
export function planRequest(
  state: UserState,
  seed: SeedData,
  random: () => number,
  mix: RequestMix = REQUEST_MIX,
): PlannedRequest {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T
  const classroomId = pick(seed.classroomIds)
  const students = seed.studentIds[state.user % USERS] ?? []
  const studentId = pick(students)
  let name = drawRequestName(mix, random())
  if (name === 'unenroll' && state.enrolled.length === 0) name = 'enroll'
  switch (name) {
    case 'getClassroom':
      return { name, method: 'GET', path: `/classrooms/${classroomId}` }
    case 'listClassrooms':
      return {
        name,
        method: 'GET',
        path: state.cursor ? `/classrooms?limit=20&cursor=${state.cursor}` : '/classrooms?limit=20',
      }
    case 'getStudent':
      return { name, method: 'GET', path: `/students/${studentId}` }
    case 'getStudentClassrooms':
      return { name, method: 'GET', path: `/students/${studentId}/classrooms` }
    case 'enroll':
      return {
        name,
        method: 'POST',
        path: `/classrooms/${classroomId}/enrollments`,
        body: { studentId },
        pair: [classroomId, studentId],
      }
    case 'unenroll': {
      const [room, student] = pick(state.enrolled)
      return {
        name,
        method: 'DELETE',
        path: `/classrooms/${room}/enrollments/${student}`,
        pair: [room, student],
      }
    }
    case 'createStudent':
      return {
        name,
        method: 'POST',
        path: '/students',
        body: { name: 'Walk-in', email: `walkin.${seed.runId}.${state.user}.${state.created++}@load.test` },
      }
  }
}

function drawRequestName(mix: RequestMix, r: number): MixedRequestName {
  const total = mix.reduce((sum, entry) => sum + entry.weight, 0)
  let at = r * total
  for (const entry of mix) {
    at -= entry.weight
    if (at < 0) return entry.name
  }
  return mix[mix.length - 1]!.name
}

/** Updates what the user remembers from an answer: its enrollments and its listing cursor. */
export function rememberResponse(
  state: UserState,
  planned: PlannedRequest,
  status: number,
  body: unknown,
): void {
  if (
    planned.name === 'enroll' &&
    planned.pair &&
    (status === 201 || errorCodeOf(body) === 'ALREADY_ENROLLED')
  ) {
    const [room, student] = planned.pair
    if (!state.enrolled.some(([r, s]) => r === room && s === student)) state.enrolled.push([room, student])
  }
  // Forget a drop whatever its answer: if a failed one left the row, a later enroll of the pair
  // answers ALREADY_ENROLLED and brings it back, so the user never drops what is not there.
  if (planned.name === 'unenroll' && planned.pair) {
    const [room, student] = planned.pair
    state.enrolled = state.enrolled.filter(([r, s]) => r !== room || s !== student)
  }
  if (planned.name === 'listClassrooms' && status === 200) {
    state.cursor = ((body as { nextCursor?: string | null } | null)?.nextCursor ?? null) || null
  }
}

// ---------------------------------------------------------------------------------------------
// Classifying answers

/** Statuses that are part of normal service: successes, and 409 (classroom full, already enrolled). */
export const EXPECTED_STATUSES: readonly number[] = [200, 201, 204, 409]

const DROP_STATUSES: readonly number[] = [...EXPECTED_STATUSES, 404]

/**
 * The statuses that are normal service for one request: {@link EXPECTED_STATUSES}, and for a drop
 * 404 as well: the enrollment is not there. A user drops only what it was told it enrolled, so that
 * answer means an acknowledged enrollment was lost (an asynchronous standby promoted without it):
 * the api answers rightly, and the write ledger counts the loss (`checkLedger`), where a
 * synchronous drill fails on it. So for the read-back of a student just created: a 404 there is a
 * stale read, right for the data the server that answered has, and the stale-read ledger counts it.
 *
 * ```ts
 * expectedStatuses('unenroll') // [200, 201, 204, 409, 404]
 * ```
 */
export function expectedStatuses(name: RequestName): readonly number[] {
  return name === 'unenroll' || name === 'readOwnStudent' ? DROP_STATUSES : EXPECTED_STATUSES
}

export type Outcome = 'ok' | 'pool-limit' | 'overloaded' | 'unavailable' | 'late' | 'unexpected'

/**
 * What the answer to a request means for the thresholds. `status` 0 is a network error or a hang;
 * with `deadlinePassed` (an open-model caller that gave up at its own deadline), it is `late`.
 * `overloaded` (503 `POOL_OVERLOADED`, a refusal at once) is the overload drill's expected refusal.
 *
 * ```ts
 * classify('enroll', 503, 'DATABASE_UNAVAILABLE') // 'unavailable'
 * ```
 */
export function classify(
  name: RequestName,
  status: number,
  errorCode: string | undefined,
  deadlinePassed = false,
): Outcome {
  if (expectedStatuses(name).includes(status)) return 'ok'
  if (status === 503 && errorCode === 'POOL_TIMEOUT') return 'pool-limit'
  if (status === 503 && errorCode === 'POOL_OVERLOADED') return 'overloaded'
  if (status === 503 && errorCode === 'DATABASE_UNAVAILABLE') return 'unavailable'
  if (status === 0 && deadlinePassed) return 'late'
  return 'unexpected'
}

/** The `error` field of the api's JSON error body, if any. */
export function errorCodeOf(body: unknown): string | undefined {
  const code = (body as { error?: unknown } | null | undefined)?.error
  return typeof code === 'string' ? code : undefined
}
