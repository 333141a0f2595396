// The error a Kysely stream ends with when its connection is lost after it began.
import { DbCoreError } from '../errors.js'
import { redactSecrets } from '../logging/redact.js'

/**
 * A `.stream()` whose connection was lost while it ran (a server restart, `pg_terminate_backend`, a
 * network cut): the rows it yielded are all there will be, and it is never run again, since its
 * reader has already acted on part of the result. `rowsStreamed` says how many; `cause` is the
 * driver's error.
 *
 * ```ts
 * try {
 *   for await (const row of db.selectFrom('classrooms').selectAll().stream(500)) console.log(row)
 * } catch (error) {
 *   if (error instanceof StreamInterruptedError) console.log(`stopped after ${error.rowsStreamed} rows`)
 * }
 * ```
 */
export class StreamInterruptedError extends DbCoreError {
  readonly code = 'STREAM_INTERRUPTED'
  readonly rowsStreamed: number

  constructor(rowsStreamed: number, cause: unknown) {
    const reason = cause instanceof Error ? `: ${redactSecrets(cause.message)}` : ''
    super(`the connection was lost after ${rowsStreamed} rows of a stream${reason}`, { cause })
    this.name = 'StreamInterruptedError'
    this.rowsStreamed = rowsStreamed
  }
}
