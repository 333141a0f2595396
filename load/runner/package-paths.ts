import { existsSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

/** The load package's root, found the same from its sources and from `dist/`. */
function packageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url))
  while (!existsSync(path.join(dir, 'package.json'))) {
    const parent = path.dirname(dir)
    if (parent === dir) throw new Error('the load package has no package.json above its runner')
    dir = parent
  }
  return dir
}

/** `load/k6/`: the k6 scripts, run by k6 as TypeScript. */
export const K6_SCRIPTS_DIR = path.join(packageRoot(), 'k6')

/** `load/results/`: where runs are written by default (ignored by git). */
export const DEFAULT_RESULTS_DIR = path.join(packageRoot(), 'results')

/**
 * The built k6 runtime (`dist/runner/k6-runtime/`): VU workers and the k6 modules scripts import
 * run as JavaScript, from the build, whether the runner itself runs from `dist/` or from sources (tests).
 */
export const K6_RUNTIME_DIR = path.join(packageRoot(), 'dist', 'runner', 'k6-runtime')
