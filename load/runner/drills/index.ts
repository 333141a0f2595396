// The registry: every drill of `pnpm load`, by name. Adding a drill is a record here and its k6 script.
import type { DrillName } from '../../shared/scenarios.js'
import type { Drill } from './drill.js'
import { failover } from './failover.js'
import { overload } from './overload.js'
import { replicas } from './replicas.js'
import { restart } from './restart.js'
import { soak } from './soak.js'
import { steady } from './steady.js'

export const DRILLS: Readonly<Record<DrillName, Drill>> = {
  steady,
  soak,
  restart,
  failover,
  replicas,
  overload,
}

/** The drills' names, in the order help and refusals list them. */
export const DRILL_NAMES = Object.keys(DRILLS) as DrillName[]

export type { Drill } from './drill.js'
