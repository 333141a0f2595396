// A load engineer's own k6 script against the classroom api, as it would run on a real k6:
//   pnpm load run ./load/examples/classroom-journey.js -e BASE_URL=http://127.0.0.1:3000 -e API_TOKEN=<token>
// API_TOKEN: a bearer token the api accepts for an admin (`pnpm start` on the embedded database logs
// one per demo school as `development tokens`; elsewhere, one from your identity provider).
// Two scenarios: browsing users ramping up and down (closed model), and enrollments arriving at a
// fixed rate (open model: latency under a given arrival rate, dropped iterations counted); groups,
// a SharedArray of students, http.batch, json(selector) and thresholds on tagged submetrics.

import { textSummary } from 'https://jslib.k6.io/k6-summary/0.0.2/index.js'
import { check, group, sleep } from 'k6'
import { SharedArray } from 'k6/data'
import exec from 'k6/execution'
import http from 'k6/http'

const BASE_URL = __ENV.BASE_URL || 'http://127.0.0.1:3000'
// Every route but / and /documentation answers 401 without a bearer token.
const AUTH = __ENV.API_TOKEN ? { authorization: `Bearer ${__ENV.API_TOKEN}` } : {}
const JSON_HEADERS = { 'content-type': 'application/json', ...AUTH }
const RUN = `${Date.now().toString(36)}j`

// Built once for the whole test, read by every VU.
const students = new SharedArray('students', () =>
  Array.from({ length: 40 }, (_, i) => ({
    name: `Journey ${i + 1}`,
    email: `journey.${RUN}.${i + 1}@load.test`,
  })),
)

export const options = {
  scenarios: {
    browse: {
      executor: 'ramping-vus',
      startVUs: 0,
      stages: [
        { duration: __ENV.RAMP || '2s', target: 4 },
        { duration: __ENV.HOLD || '3s', target: 4 },
        { duration: '1s', target: 0 },
      ],
      gracefulRampDown: '1s',
    },
    enroll: {
      executor: 'constant-arrival-rate',
      exec: 'enroll',
      rate: 10,
      timeUnit: '1s',
      duration: __ENV.HOLD || '3s',
      startTime: __ENV.RAMP || '2s',
      preAllocatedVUs: 2,
      maxVUs: 4,
    },
  },
  thresholds: {
    'http_req_duration{group:::browse::list}': ['p(95)<2000'],
    'http_req_duration{scenario:enroll}': ['p(99)<2000', 'max<5000'],
    'http_req_failed{scenario:enroll}': ['rate<0.01'],
    'checks{group:::browse}': ['rate==1'],
    dropped_iterations: ['count<5'],
  },
}

export function setup() {
  const classrooms = Array.from({ length: 4 }, (_, i) => {
    const body = JSON.stringify({ name: `Journey ${RUN} room ${i + 1}`, capacity: 100 })
    return http.post(`${BASE_URL}/classrooms`, body, { headers: JSON_HEADERS }).json('id')
  })
  const ids = Array.from({ length: students.length }, (_, i) =>
    http.post(`${BASE_URL}/students`, JSON.stringify(students[i]), { headers: JSON_HEADERS }).json('id'),
  )
  return { classrooms, students: ids }
}

export default function (data) {
  group('browse', () => {
    group('list', () => {
      const page = http.get(`${BASE_URL}/classrooms?limit=20`, {
        headers: AUTH,
        tags: { name: 'listClassrooms' },
      })
      check(page, { 'a page of classrooms': (r) => r.status === 200 && r.json('items.#') > 0 })
    })
    const [room, student] = http.batch([
      [
        'GET',
        `${BASE_URL}/classrooms/${data.classrooms[exec.vu.idInTest % data.classrooms.length]}`,
        null,
        { headers: AUTH, tags: { name: 'getClassroom' } },
      ],
      [
        'GET',
        `${BASE_URL}/students/${data.students[exec.vu.idInTest % data.students.length]}`,
        null,
        { headers: AUTH, tags: { name: 'getStudent' } },
      ],
    ])
    check(room, { 'the classroom': (r) => r.status === 200 && typeof r.json('enrolledCount') === 'number' })
    check(student, { 'the student': (r) => r.status === 200 })
  })
  sleep(0.1)
}

export function enroll(data) {
  const i = exec.scenario.iterationInTest
  const classroomId = data.classrooms[i % data.classrooms.length]
  const studentId = data.students[Math.floor(i / data.classrooms.length) % data.students.length]
  const answer = http.post(
    `${BASE_URL}/classrooms/${classroomId}/enrollments`,
    JSON.stringify({ studentId }),
    {
      headers: JSON_HEADERS,
      tags: { name: 'enroll' },
      responseCallback: http.expectedStatuses(201, 409),
    },
  )
  check(answer, { 'enrolled, or already': (r) => r.status === 201 || r.status === 409 })
}

export function handleSummary(data) {
  return {
    stdout: textSummary(data, { indent: ' ', enableColors: false }),
    [__ENV.SUMMARY_JSON || 'journey-summary.json']: JSON.stringify(data, null, 2),
  }
}
