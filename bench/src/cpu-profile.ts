import { readFile } from 'node:fs/promises'

/** A V8 CPU profile (`node --cpu-prof`), the parts this reads. */
interface CpuProfile {
  nodes: {
    id: number
    callFrame: { functionName: string; scriptId: string; url: string; lineNumber: number }
    children?: number[]
  }[]
  startTime: number
  samples: number[]
  timeDeltas: number[]
}

/** Self and inclusive CPU time per function and per package, within a window of the profile. */
export interface ProfileBreakdown {
  /** Sampled CPU time in the window, idle excluded, µs. */
  readonly busyUs: number
  readonly idleUs: number
  /** Self time by package (`db-core`, `pg`, `pg-pool`, `kysely`, `node`, `(garbage collector)`...), µs. */
  readonly byGroup: Map<string, number>
  /** Self time by `group function (file:line)`, µs. */
  readonly selfByFunction: Map<string, number>
  /** Time with the function anywhere on the stack (once per sample), µs. */
  readonly inclusiveByFunction: Map<string, number>
}

/**
 * Which package a script belongs to: a pnpm package's name, a workspace package, Node itself, V8's
 * own entries (`(garbage collector)`, `(program)`), native code (system calls: `writev`...), or code
 * generated with `new Function` (Ajv validators, fast-json-stringify serializers).
 */
export function groupOf(url: string, functionName: string, scriptId = '0'): string {
  if (url === '') {
    if (functionName.startsWith('(')) return functionName
    return scriptId === '0' ? '(native)' : '(generated code)'
  }
  if (url.startsWith('node:')) return 'node'
  const pnpm = /node_modules\/\.pnpm\/(@?[^@/]+(?:\+[^@/]+)?)@/.exec(url)
  if (pnpm) return pnpm[1]!.replace('+', '/')
  const workspace = /\/(packages|apps|bench)\/([^/]+)?/.exec(url)
  if (workspace) return workspace[1] === 'bench' ? 'bench' : workspace[2]!
  return url
}

function label(frame: CpuProfile['nodes'][number]['callFrame']): string {
  const file = frame.url.split('/').at(-1) ?? ''
  return `${groupOf(frame.url, frame.functionName, frame.scriptId)} ${frame.functionName || '(anonymous)'} (${file}:${frame.lineNumber + 1})`
}

/**
 * Reads a profile and sums its samples whose time lies in [fromUs, toUs] (V8's profile clock is
 * the monotonic clock `process.hrtime` reads, in µs, so another process's marks apply).
 */
export async function analyzeProfile(file: string, fromUs = 0, toUs = Number.POSITIVE_INFINITY) {
  const profile = JSON.parse(await readFile(file, 'utf8')) as CpuProfile
  const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  const parent = new Map<number, number>()
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
  const byGroup = new Map<string, number>()
  const selfByFunction = new Map<string, number>()
  const inclusiveByFunction = new Map<string, number>()
  const add = (map: Map<string, number>, key: string, us: number) => map.set(key, (map.get(key) ?? 0) + us)
  let busyUs = 0
  let idleUs = 0
  let t = profile.startTime
  for (let i = 0; i < profile.samples.length; i++) {
    t += profile.timeDeltas[i] ?? 0
    // A sample stands for the time until the next one.
    const us = profile.timeDeltas[i + 1] ?? 0
    if (t < fromUs || t > toUs) continue
    const node = byId.get(profile.samples[i]!)!
    const frame = node.callFrame
    if (frame.functionName === '(idle)') {
      idleUs += us
      continue
    }
    busyUs += us
    add(byGroup, groupOf(frame.url, frame.functionName, frame.scriptId), us)
    add(selfByFunction, label(frame), us)
    const seen = new Set<string>()
    for (let id: number | undefined = node.id; id !== undefined; id = parent.get(id)) {
      const key = label(byId.get(id)!.callFrame)
      if (!seen.has(key)) {
        seen.add(key)
        add(inclusiveByFunction, key, us)
      }
    }
  }
  return { busyUs, idleUs, byGroup, selfByFunction, inclusiveByFunction } satisfies ProfileBreakdown
}

/** The breakdown as text: µs per operation and share of busy time, largest first. */
export function formatBreakdown(b: ProfileBreakdown, operations: number, top = 25, focus?: RegExp): string {
  const perOp = (us: number) => (us / operations).toFixed(2).padStart(7)
  const share = (us: number) => `${((100 * us) / b.busyUs).toFixed(1).padStart(5)} %`
  const sorted = (m: Map<string, number>) => [...m].sort((a, b) => b[1] - a[1])
  const lines = [
    `  sampled busy ${perOp(b.busyUs)} µs/op (idle ${perOp(b.idleUs)} µs/op)`,
    '  self time by package:',
  ]
  for (const [group, us] of sorted(b.byGroup)) lines.push(`    ${perOp(us)} µs/op ${share(us)}  ${group}`)
  lines.push('  self time, top functions:')
  for (const [fn, us] of sorted(b.selfByFunction).slice(0, top))
    lines.push(`    ${perOp(us)} µs/op ${share(us)}  ${fn}`)
  if (focus) {
    lines.push(`  inclusive time, functions matching ${focus}:`)
    for (const [fn, us] of sorted(b.inclusiveByFunction)
      .filter(([fn]) => focus.test(fn))
      .slice(0, top))
      lines.push(`    ${perOp(us)} µs/op ${share(us)}  ${fn}`)
  }
  return lines.join('\n')
}
