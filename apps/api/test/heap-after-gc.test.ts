import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { Registry } from 'prom-client'
import { describe, expect, it } from 'vitest'
import { registerHeapAfterGcMetrics } from '../src/heap-after-gc.js'

// The test's own major GCs, on demand (the api never forces one: it reads V8's own).
setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void
const MB = 1024 * 1024

/** The two series as `/metrics` would show them, once the observer has had its turn. */
async function read(registry: Registry): Promise<{ afterGcMb: number; majorGcs: number }> {
  await new Promise((resolve) => setTimeout(resolve, 50))
  const value = async (name: string) => (await registry.getSingleMetric(name)!.get()).values[0]!.value
  return {
    afterGcMb: (await value('nodejs_heap_used_after_gc_bytes')) / MB,
    majorGcs: await value('nodejs_heap_major_gcs_total'),
  }
}

describe('the heap after GC', () => {
  it('reads 0 with no major GC seen, then the live heap after each: up by what is held, down once it is let go', async () => {
    const registry = new Registry()
    const stop = registerHeapAfterGcMetrics(registry)
    try {
      expect(await read(registry)).toEqual({ afterGcMb: 0, majorGcs: 0 })
      gc()
      const base = await read(registry)
      expect(base.majorGcs).toBeGreaterThanOrEqual(1)
      expect(base.afterGcMb).toBeGreaterThan(1)
      // About 60 MB of small objects on the V8 heap (a Buffer would live outside it).
      let held: { i: number; text: string }[] | undefined = Array.from({ length: 600_000 }, (_, i) => ({
        i,
        text: `student-${i}`.repeat(3),
      }))
      gc()
      const holding = await read(registry)
      expect(holding.afterGcMb - base.afterGcMb).toBeGreaterThan(30)
      expect(held.length).toBe(600_000)
      held = undefined
      gc()
      const released = await read(registry)
      expect(released.afterGcMb - base.afterGcMb).toBeLessThan(10)
      expect(released.majorGcs).toBeGreaterThanOrEqual(base.majorGcs + 2)
    } finally {
      stop()
    }
  })

  it('stops counting once stopped: no observer left behind by an api that closed', async () => {
    const registry = new Registry()
    const stop = registerHeapAfterGcMetrics(registry)
    gc()
    const seen = await read(registry)
    stop()
    gc()
    expect(await read(registry)).toEqual(seen)
  })
})
