// Proves that the server answering on a port is the one running on our data directory, so that
// nothing is ever created on another PostgreSQL that happens to listen there.
import { readFile } from 'node:fs/promises'
import { endianness } from 'node:os'
import path from 'node:path'
import type pg from 'pg'

/**
 * Another server holds the port a cluster was to use: it was taken before the start, our server
 * could not bind it, or a server that is not ours answered there. Nothing was run on that server.
 */
export class PortTakenError extends Error {
  override readonly name = 'PortTakenError'
  readonly port: number

  constructor(port: number, detail: string, options?: ErrorOptions) {
    super(
      `Port ${port} on 127.0.0.1 is taken by another server: ${detail}. Nothing was created on it; ` +
        'stop that server or choose another port (or none, and a free one is chosen).',
      options,
    )
    this.port = port
  }
}

/** What a running cluster must answer with to be the one started on `dataDir` by `postmasterPid`. */
export interface ExpectedServer {
  readonly dataDir: string
  readonly port: number
  readonly postmasterPid: number
}

/**
 * Throws a {@link PortTakenError} unless the server `client` is connected to runs on
 * `expected.dataDir` (its `data_directory` and the system identifier in that directory's
 * `global/pg_control`) and that directory's `postmaster.pid` names our postmaster on our port.
 * Only one postmaster can hold a data directory, so together they prove the server is ours.
 *
 * ```ts
 * await proveServerIsOurs(client, { dataDir, port, postmasterPid: child.pid })
 * ```
 */
export async function proveServerIsOurs(client: pg.Client, expected: ExpectedServer): Promise<void> {
  const { dataDir, port, postmasterPid } = expected
  let answered: { data_directory: string; system_identifier: string }
  try {
    const { rows } = await client.query<{ data_directory: string; system_identifier: string }>(
      "select current_setting('data_directory') as data_directory, system_identifier::text from pg_control_system()",
    )
    answered = rows[0] ?? { data_directory: '(none)', system_identifier: '(none)' }
  } catch (cause) {
    throw new PortTakenError(port, 'the server there would not say which data directory it runs on', {
      cause,
    })
  }
  const ours = await readSystemIdentifier(dataDir)
  if (
    answered.system_identifier !== ours ||
    path.resolve(answered.data_directory) !== path.resolve(dataDir)
  ) {
    throw new PortTakenError(
      port,
      `it runs on ${answered.data_directory} (system identifier ${answered.system_identifier}), ` +
        `not on ${path.resolve(dataDir)} (system identifier ${ours})`,
    )
  }
  const lock = (await readFile(path.join(dataDir, 'postmaster.pid'), 'utf8')).split('\n')
  // postmaster.pid: line 1 the postmaster's pid, line 4 its port.
  if (Number(lock[0]) !== postmasterPid || Number(lock[3]) !== port) {
    throw new PortTakenError(
      port,
      `${dataDir} is held by postmaster ${lock[0]} on port ${lock[3]}, not by the one started (pid ${postmasterPid})`,
    )
  }
}

/** The system identifier `initdb` wrote into `global/pg_control`: its first field, a uint64 in host byte order. */
async function readSystemIdentifier(dataDir: string): Promise<string> {
  const control = await readFile(path.join(dataDir, 'global', 'pg_control'))
  return (endianness() === 'BE' ? control.readBigUInt64BE(0) : control.readBigUInt64LE(0)).toString()
}
