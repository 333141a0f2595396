// The replicas drill's stale-read ledger: each acknowledged write paired with its user's next read, judged.
import {
  acknowledgedWrite,
  type OwnWrite,
  READ_POSITION_HEADER,
  readBack,
  readBackVerdict,
} from '../shared/own-writes.js'
import { parseJson } from './exchange-records.js'
import type { Exchange } from './k6-runtime/http-bridge.js'

/** What the users read back of their own acknowledged writes. */
export interface StaleReadCheck {
  /** Whether the api ran with read-your-writes (`DB_READ_YOUR_WRITES`), which decides what passes. */
  readonly readYourWrites: boolean
  /** Read-backs judged: an acknowledged write followed by its user's read of it, answered. */
  readonly readBacks: number
  /** Read-backs that missed their write: on, must be 0; off, must be more (the ledger sees them). */
  readonly staleReads: number
  readonly staleByPhase: Readonly<Record<string, number>>
  /** Read-backs that carried no `Read-Position` (the write's answer handed none). */
  readonly withoutPosition: number
  /** Read-backs answered with an error: they tell nothing (the request is counted as failed). */
  readonly unanswered: number
  /** Acknowledged writes whose user's next request was not their read-back (a broken script). */
  readonly notReadBack: number
  /** Up to 10 stale reads, for the report. */
  readonly examples: readonly string[]
  readonly passed: boolean
}

/**
 * Pairs each user's acknowledged write with that user's next request, from the exchanges alone (a
 * user's requests reach it in the order sent: a VU waits for each answer), and judges whether that
 * read, when it is the write's read-back, shows the write.
 *
 * ```ts
 * const ledger = new StaleReadLedger()
 * ledger.record(exchange, 'window') // for each exchange of the load
 * ledger.check({ readYourWrites: true }).passed
 * ```
 */
export class StaleReadLedger {
  /** Each user's last acknowledged write, until its next request. */
  readonly #pending = new Map<number, { write: OwnWrite; position: string | undefined }>()
  readonly #staleByPhase: Record<string, number> = {}
  readonly #examples: string[] = []
  #readBacks = 0
  #staleReads = 0
  #withoutPosition = 0
  #unanswered = 0
  #notReadBack = 0

  /** One exchange of the load (setup's apart), with the phase it started in. */
  record({ call, answer, vuId }: Exchange, phase: string): void {
    const path = new URL(call.url).pathname
    const pending = this.#pending.get(vuId)
    this.#pending.delete(vuId)
    if (pending) this.#judge(pending, { method: call.method, path, headers: call.headers }, answer, phase)
    const written = acknowledgedWrite(
      { name: call.tags.name ?? '', path, body: parseJson(call.body) },
      { status: answer.status, body: parseJson(answer.body) },
    )
    if (written)
      this.#pending.set(vuId, { write: written, position: header(answer.headers, READ_POSITION_HEADER) })
  }

  #judge(
    { write, position }: { write: OwnWrite; position: string | undefined },
    read: { method: string; path: string; headers: Record<string, string> },
    answer: Exchange['answer'],
    phase: string,
  ): void {
    if (read.method !== 'GET' || read.path !== readBack(write).path) {
      this.#notReadBack++
      return
    }
    const carried = header(read.headers, READ_POSITION_HEADER)
    if (carried === undefined) this.#withoutPosition++
    const verdict = readBackVerdict(write, { status: answer.status, body: parseJson(answer.body) })
    if (verdict === undefined) {
      this.#unanswered++
      return
    }
    this.#readBacks++
    if (verdict === 'fresh') return
    this.#staleReads++
    this.#staleByPhase[phase] = (this.#staleByPhase[phase] ?? 0) + 1
    if (this.#examples.length < 10)
      this.#examples.push(
        `stale (${phase}): ${describe(write)} (answered with Read-Position ${position ?? 'none'}), then GET ${read.path} ` +
          `with ${carried ?? 'no position'} answered ${answer.status} without it`,
      )
  }

  /** The counts so far; passes with read-your-writes when no read was stale, without it when one was. */
  check({ readYourWrites }: { readYourWrites: boolean }): StaleReadCheck {
    return {
      readYourWrites,
      readBacks: this.#readBacks,
      staleReads: this.#staleReads,
      staleByPhase: { ...this.#staleByPhase },
      withoutPosition: this.#withoutPosition,
      unanswered: this.#unanswered,
      notReadBack: this.#notReadBack,
      examples: [...this.#examples],
      passed: readYourWrites ? this.#staleReads === 0 : this.#staleReads > 0,
    }
  }
}

function describe(write: OwnWrite): string {
  switch (write.kind) {
    case 'createStudent':
      return `created student ${write.studentId}`
    case 'enroll':
      return `enrolled student ${write.studentId} in classroom ${write.classroomId}`
    case 'unenroll':
      return `dropped student ${write.studentId} from classroom ${write.classroomId}`
  }
}

/** A header by name, whatever its case (undici gives answers' in lower case, k6 scripts send theirs canonical). */
function header(headers: Readonly<Record<string, string>>, name: string): string | undefined {
  const wanted = name.toLowerCase()
  for (const [key, value] of Object.entries(headers)) if (key.toLowerCase() === wanted) return value
  return undefined
}
