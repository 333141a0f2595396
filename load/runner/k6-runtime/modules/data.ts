// `k6/data` inside a VU of the built-in engine: SharedArray, built once (in VU 0) and read by every VU.
import { vu } from '../vu-context.js'

/**
 * k6's SharedArray: `fn` runs once in the whole test (in VU 0's init code, the first to run), its
 * array is handed to the other VUs as JSON, and each element read is a fresh copy (as k6 returns
 * one), so no VU can change what another sees. Read-only: length, indexes and for…of.
 */
export class SharedArray {
  constructor(name: string, fn: () => unknown) {
    const context = vu()
    if (!context.inInit) throw new Error(`new SharedArray("${name}") is only possible in the init code`)
    if (typeof name !== 'string' || name === '')
      throw new Error('SharedArray needs a name (a non-empty string) as its first argument')
    const items = context.shared[name] ?? build(name, fn)
    if (context.shared[name] === undefined) context.post({ t: 'shared', name, items })
    const element = (index: number) => JSON.parse(items[index]!) as unknown
    const readOnly = () => {
      throw new Error(`SharedArray "${name}" is read-only`)
    }
    // biome-ignore lint/correctness/noConstructorReturn: k6's SharedArray is array-like; a Proxy is how it reads so.
    return new Proxy(this, {
      get: (target, key) => {
        if (key === 'length') return items.length
        if (key === Symbol.iterator)
          return function* () {
            for (let i = 0; i < items.length; i++) yield element(i)
          }
        if (typeof key === 'string' && /^\d+$/.test(key))
          return Number(key) < items.length ? element(Number(key)) : undefined
        return Reflect.get(target, key)
      },
      set: readOnly,
      deleteProperty: readOnly,
      defineProperty: readOnly,
    })
  }
}

/** Runs the SharedArray's function and keeps each element as JSON. */
function build(name: string, fn: () => unknown): string[] {
  if (typeof fn !== 'function')
    throw new Error(`SharedArray "${name}" needs a function returning its array as its second argument`)
  const array = fn()
  if (!Array.isArray(array))
    throw new Error(`SharedArray "${name}"'s function returned ${typeof array}: it must return an array`)
  return array.map((item) => JSON.stringify(item))
}

export default { SharedArray }
