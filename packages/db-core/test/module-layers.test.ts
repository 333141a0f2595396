// db-core's modules in layers, read from their import statements: no import circle, no arrow pointing up.
import { readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import ts from 'typescript'
import { describe, expect, it } from 'vitest'

const SRC = fileURLToPath(new URL('../src/', import.meta.url))

/**
 * The layers, bottom first, each the files and folders (ending in `/`) of `src` it holds. A module
 * imports from its own layer or the ones below, never from one above.
 */
const LAYERS: readonly (readonly string[])[] = [
  ['connection-errors.ts', 'errors.ts', 'logging/'],
  ['config/'],
  ['pool/'],
  ['dialect/', 'replicas/'],
  ['connection-budget.ts', 'database-health.ts', 'idempotent-transaction.ts'],
  ['index.ts', 'env.ts', 'tracing.ts'],
]

/** An import of one module of `src` by another, as paths relative to `src`: `pool/clock.ts`. */
type Edge = readonly [from: string, to: string]

/** The layer `file` belongs to, counted from the bottom; -1 for none. */
function layerOf(file: string): number {
  return LAYERS.findIndex((layer) =>
    layer.some((entry) => (entry.endsWith('/') ? file.startsWith(entry) : file === entry)),
  )
}

/**
 * The modules `file` imports, relative to `src`: static, type-only, re-exported, side-effect and
 * dynamic imports alike (TypeScript's own scanner reads them), packages left out.
 */
function importsOf(file: string, text: string): string[] {
  return ts
    .preProcessFile(text, true, true)
    .importedFiles.map((imported) => imported.fileName)
    .filter((specifier) => specifier.startsWith('.'))
    .map((specifier) => path.posix.join(path.posix.dirname(file), specifier).replace(/\.js$/, '.ts'))
}

/** Edges going from a layer up to a higher one. */
function upwardEdges(edges: readonly Edge[]): Edge[] {
  return edges.filter(([from, to]) => layerOf(to) > layerOf(from))
}

/** Edges on an import circle: those whose target leads back to their source. */
function circleEdges(edges: readonly Edge[]): Edge[] {
  const reaches = (from: string, to: string): boolean => {
    const seen = new Set([from])
    for (const module of seen) {
      if (module === to) return true
      for (const [source, target] of edges) if (source === module) seen.add(target)
    }
    return false
  }
  return edges.filter(([from, to]) => reaches(to, from))
}

const show = (edges: readonly Edge[]) => edges.map(([from, to]) => `${from} → ${to}`)

const files = readdirSync(SRC, { recursive: true, encoding: 'utf8' })
  .filter((file) => file.endsWith('.ts'))
  .map((file) => file.split(path.sep).join('/'))
const edges: Edge[] = files.flatMap((file) =>
  importsOf(file, readFileSync(path.join(SRC, file), 'utf8')).map((to): Edge => [file, to]),
)

describe("db-core's module layers", () => {
  it('places every module of src in one declared layer, and every import on a module of src', () => {
    expect(files.filter((file) => layerOf(file) === -1)).toEqual([])
    expect(show(edges.filter(([, to]) => !files.includes(to)))).toEqual([])
    // The check reads real imports: an empty graph would pass every test below.
    expect(edges.length).toBeGreaterThan(files.length)
  })

  it('has no import circle', () => {
    expect(show(circleEdges(edges))).toEqual([])
  })

  it('has no arrow against the layer order', () => {
    expect(show(upwardEdges(edges))).toEqual([])
  })
})

describe('the layer check itself', () => {
  it('reads type-only, multi-line, re-exported and dynamic imports, resolved against the importer', () => {
    const text = [
      "import type { A } from '../config/db-config.js'",
      "import {\n  b,\n} from './clock.js'",
      "export { c } from '../errors.js'",
      "import pg from 'pg'",
      "const d = await import('../dialect/cancel-request.js')",
    ].join('\n')
    expect(importsOf('pool/x.ts', text)).toEqual([
      'config/db-config.ts',
      'pool/clock.ts',
      'errors.ts',
      'dialect/cancel-request.ts',
    ])
  })

  it('lists each upward arrow and each edge of a circle', () => {
    const made: Edge[] = [
      ['errors.ts', 'pool/clock.ts'],
      ['pool/clock.ts', 'pool/leak-detector.ts'],
      ['pool/leak-detector.ts', 'pool/clock.ts'],
      ['pool/leak-detector.ts', 'config/db-config.ts'],
    ]
    expect(show(upwardEdges(made))).toEqual(['errors.ts → pool/clock.ts'])
    expect(show(circleEdges(made))).toEqual([
      'pool/clock.ts → pool/leak-detector.ts',
      'pool/leak-detector.ts → pool/clock.ts',
    ])
  })
})
