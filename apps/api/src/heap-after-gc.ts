// The V8 heap's live data, read right after each major GC: the figure a leak grows and a sawtooth hides.
import { constants, type PerformanceEntry, PerformanceObserver } from 'node:perf_hooks'
import { getHeapSpaceStatistics } from 'node:v8'
import { Counter, Gauge, type Registry } from 'prom-client'

// The young generation is garbage-to-be between scavenges: what survives it is counted once promoted.
const YOUNG_SPACES = new Set(['new_space', 'new_large_object_space'])

/** A `gc` performance entry: its detail says which collection ran. */
type GcEntry = PerformanceEntry & { readonly detail?: { readonly kind?: number } }

/** The heap outside the young generation, in bytes, as V8 reports it now. */
export function oldGenerationUsedBytes(): number {
  let used = 0
  for (const space of getHeapSpaceStatistics())
    if (!YOUNG_SPACES.has(space.space_name)) used += space.space_used_size
  return used
}

/**
 * Adds `nodejs_heap_used_after_gc_bytes`, the heap outside the young generation as the observer
 * sees it just after the latest major (mark-compact) GC, and `nodejs_heap_major_gcs_total`. No
 * `--expose-gc`, nothing forced: it reads what V8's own collections leave, so the gauge is 0 until
 * the first one (`nodejs_heap_major_gcs_total` 0). The observer runs a moment after the collection (a few scavenges may have
 * promoted some bytes since), so the figure is an upper bound of the live data, within that much.
 * Returns the stop that disconnects the observer.
 *
 * ```ts
 * const stop = registerHeapAfterGcMetrics(registry)
 * // … at shutdown
 * stop()
 * ```
 */
export function registerHeapAfterGcMetrics(registry: Registry): () => void {
  const afterGc = new Gauge({
    name: 'nodejs_heap_used_after_gc_bytes',
    help: 'V8 heap in use outside the young generation, read just after the latest major GC: the live data.',
    registers: [registry],
  })
  const majorGcs = new Counter({
    name: 'nodejs_heap_major_gcs_total',
    help: 'Major (mark-compact) GCs seen since the api started; nodejs_heap_used_after_gc_bytes is read after each.',
    registers: [registry],
  })
  const observer = new PerformanceObserver((list) => {
    const major = list
      .getEntries()
      .filter((entry) => (entry as GcEntry).detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR)
    if (major.length === 0) return
    majorGcs.inc(major.length)
    afterGc.set(oldGenerationUsedBytes())
  })
  observer.observe({ entryTypes: ['gc'] })
  return () => observer.disconnect()
}
