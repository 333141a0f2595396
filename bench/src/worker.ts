import { testApiToken } from '@classroom/test-kit'
import { Pool } from 'undici'
import { closedLoop, type LoopResult } from './closed-loop.js'
import { sqlContender } from './contenders.js'
import { CLASSROOM_ROWS, type WorkloadName } from './workloads.js'

// The api answers 401 without a bearer token (the minimal handler ignores it): one made once, sent by every request.
const AUTHORIZATION = { authorization: `Bearer ${testApiToken()}` }

/** One measurement, run in a process of its own so memory and JIT state are the contender's alone. */
export type WorkerTask =
  | {
      kind: 'sql'
      contender: string
      workload: WorkloadName
      databaseUrl: string
      concurrency: number
      warmupSeconds: number
      seconds: number
    }
  | { kind: 'http'; baseUrl: string; concurrency: number; warmupSeconds: number; seconds: number }

export interface WorkerResult extends LoopResult {
  /** Peak resident memory of the worker process. */
  readonly peakRssMb: number
}

const randomId = () => 1 + Math.floor(Math.random() * CLASSROOM_ROWS)

async function measure(task: WorkerTask): Promise<LoopResult> {
  if (task.kind === 'sql') {
    const driver = sqlContender(task.contender).create(task.databaseUrl)
    try {
      return await closedLoop({ ...task, operation: () => driver.run(task.workload, randomId()) })
    } finally {
      await driver.close()
    }
  }
  const client = new Pool(task.baseUrl, { connections: task.concurrency })
  try {
    return await closedLoop({
      ...task,
      operation: async () => {
        const response = await client.request({
          method: 'GET',
          path: `/classrooms/${randomId()}`,
          headers: AUTHORIZATION,
        })
        await response.body.dump()
        if (response.statusCode !== 200) throw new Error(`status ${response.statusCode}`)
      },
    })
  } finally {
    await client.close()
  }
}

// The task arrives as JSON in argv; the result leaves as one JSON line on stdout.
const task = JSON.parse(process.argv[2] ?? '') as WorkerTask
const result = await measure(task)
const peakRssMb = Math.round((process.resourceUsage().maxRSS / 1024) * 10) / 10
process.stdout.write(`${JSON.stringify({ ...result, peakRssMb } satisfies WorkerResult)}\n`)
