// `k6` inside a VU of the built-in engine: check, group, sleep, fail.
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

/**
 * Runs `fn` inside the group `name`, as k6 does: its samples (and checks) are tagged
 * `group: ::name` (`::outer::inner` when nested) and its time is a `group_duration` sample.
 */
export function group<T>(name: string, fn: () => T): T {
  const context = vu()
  if (context.inInit) throw new Error(`group("${name}") runs in VU code, not in the init code`)
  if (typeof fn !== 'function') throw new Error(`group("${name}") needs a function as its second argument`)
  if (name.includes('::'))
    throw new Error(`group name "${name}" contains "::", which k6 keeps as the separator of nested groups`)
  const parent = context.group
  context.group = `${parent}::${name}`
  context.retag()
  const started = performance.now()
  try {
    const result = fn()
    context.record('group_duration', performance.now() - started)
    return result
  } finally {
    context.group = parent
    context.retag()
  }
}

/** Suspends the VU for `seconds` (it is blocked, as k6's VUs are). */
export function sleep(seconds: number): void {
  vu().sleep(seconds)
}

/** Ends the iteration with an error, as k6's `fail`. */
export function fail(reason = ''): never {
  throw new Error(reason)
}

export default { check, group, sleep, fail }
