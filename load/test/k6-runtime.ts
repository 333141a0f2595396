// Import-time stand-ins for k6/http, k6/metrics, k6/execution and k6 (see vitest.config.ts).
// Calling any request function fails loudly: these tests only read the scripts' exports.
const notHere = (name: string) => () => {
  throw new Error(`${name} only runs inside k6`)
}

export class Counter {
  constructor(readonly name: string) {}
  add = notHere('Counter.add')
}

const http = {
  setResponseCallback: () => undefined,
  expectedStatuses: (...statuses: number[]) => statuses,
  request: notHere('http.request'),
  post: notHere('http.post'),
}

export const check = notHere('check')
export const sleep = notHere('sleep')
export default Object.assign(http, { vu: { idInTest: 1 } })
