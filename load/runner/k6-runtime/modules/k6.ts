// `k6` inside a VU of the built-in engine: check, sleep, fail.
import { vu } from '../vu-context.js'

/**
 * Runs each named check on `value`, adds a sample to `checks` per check (tagged `check`), and
 * answers whether all passed. A check function that throws ends the iteration, as in k6.
 */
export function check<T>(
  value: T,
  checks: Record<string, ((value: T) => unknown) | unknown>,
  tags: Record<string, string> = {},
): boolean {
  const context = vu()
  let all = true
  for (const [name, test] of Object.entries(checks)) {
    const passed = typeof test === 'function' ? Boolean(test(value)) : Boolean(test)
    context.record('checks', passed ? 1 : 0, { ...context.tags(), ...tags, check: name })
    all &&= passed
  }
  return all
}

/** Suspends the VU for `seconds` (it is blocked, as k6's VUs are). */
export function sleep(seconds: number): void {
  vu().sleep(seconds)
}

/** Ends the iteration with an error, as k6's `fail`. */
export function fail(reason = ''): never {
  throw new Error(reason)
}

export default { check, sleep, fail }
