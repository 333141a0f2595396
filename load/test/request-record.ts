// A request record for the figures' tests: an answered read, with what a test changes.
import type { RequestRecord } from '../runner/results.js'

export const record = (over: Partial<RequestRecord>): RequestRecord => ({
  at: 0,
  phase: 'steady',
  name: 'getClassroom',
  status: 200,
  errorCode: undefined,
  outcome: 'ok',
  durationMs: 5,
  ...over,
})
