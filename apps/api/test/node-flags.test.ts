import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { API_NODE_FLAGS } from '../src/node-flags.js'

const MB = 1024 * 1024

/** V8's heap limit in MB for a node started with `flags`: the old generation's cap plus three semi-spaces. */
function heapLimitMb(flags: readonly string[]): number {
  const limit = execFileSync(
    process.execPath,
    [...flags, '-p', 'require("v8").getHeapStatistics().heap_size_limit'],
    {
      encoding: 'utf8',
    },
  )
  return Number(limit) / MB
}

describe("the api's node flags", () => {
  it('are what `pnpm start` passes to node', () => {
    const manifest = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
      scripts: Record<string, string>
    }
    expect(manifest.scripts.start).toBe(`node ${API_NODE_FLAGS.join(' ')} dist/main.js`)
  })

  it('cap the heap at 128 MB of old generation and 16 MB a semi-space (V8 reserves three: 48 MB more), on any machine', () => {
    expect(heapLimitMb(API_NODE_FLAGS)).toBe(128 + 3 * 16)
    // Each flag sets its own part of the limit: another pair, another sum.
    expect(heapLimitMb(['--max-semi-space-size=64', '--max-old-space-size=256'])).toBe(256 + 3 * 64)
  })
})
