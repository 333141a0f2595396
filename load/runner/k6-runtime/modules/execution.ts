// `k6/execution` inside a VU of the built-in engine.
import { TestAborted, vu } from '../vu-context.js'

/** Tags of this VU, added to its samples from now on; assigning one retags the VU. */
const vuTags = new Proxy({} as Record<string, string>, {
  get: (_, key: string) => vu().vuTags[key],
  set: (_, key: string, value: unknown) => {
    const context = vu()
    if (context.vuTags[key] !== String(value)) {
      context.vuTags[key] = String(value)
      context.retag()
    }
    return true
  },
  deleteProperty: (_, key: string) => {
    delete vu().vuTags[key]
    vu().retag()
    return true
  },
  ownKeys: () => Reflect.ownKeys(vu().vuTags),
  getOwnPropertyDescriptor: (_, key: string) => Reflect.getOwnPropertyDescriptor(vu().vuTags, key),
})

const vuInfo = {
  get idInTest() {
    return vu().vuId
  },
  get idInInstance() {
    return vu().vuId
  },
  get iterationInInstance() {
    return vu().iterationInInstance
  },
  get iterationInScenario() {
    return vu().iterationInScenario
  },
  /** k6's older name for `metrics.tags`. */
  tags: vuTags,
  metrics: { tags: vuTags },
}

const scenario = {
  get name() {
    return vu().scenario?.name ?? ''
  },
  get executor() {
    return vu().scenario?.executor ?? ''
  },
  get startTime() {
    return vu().scenario?.startedAt ?? 0
  },
  get iterationInInstance() {
    return vu().iterationInTest
  },
  get iterationInTest() {
    return vu().iterationInTest
  },
}

const test = {
  /** Stops the whole test (k6 exits 108). */
  abort(reason = 'test aborted'): never {
    vu().post({ t: 'abort', reason })
    throw new TestAborted(reason)
  },
  get options() {
    return vu().options
  },
}

export { scenario, test, vuInfo as vu }
export default { vu: vuInfo, scenario, test }
