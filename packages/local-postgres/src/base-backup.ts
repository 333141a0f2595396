import { chmod, chown, copyFile, lchown, mkdir, readdir, readFile, writeFile } from 'node:fs/promises'
import path from 'node:path'
import type { RunAs } from './run-as.js'

/** Files never copied, at any depth: what `pg_basebackup` leaves out, and signal files of the source. */
const EXCLUDED_FILES = new Set([
  'postmaster.pid',
  'postmaster.opts',
  'backup_label',
  'tablespace_map',
  'backup_manifest',
  'standby.signal',
  'recovery.signal',
  'postgresql.auto.conf.tmp',
  'current_logfiles.tmp',
])

/** Top-level directories copied empty: their contents are rebuilt or meaningless on another server. */
const EMPTIED_DIRS = new Set([
  'pg_dynshmem',
  'pg_notify',
  'pg_replslot',
  'pg_serial',
  'pg_snapshots',
  'pg_stat_tmp',
  'pg_subtrans',
])

/**
 * Copies a running cluster's data directory (between `pg_backup_start` and `pg_backup_stop`) the
 * way the PostgreSQL docs' low-level base backup says: without the files listed there, with
 * `pg_wal/` and its subdirectories (`archive_status/`, `summaries/`) but none of their files. Files
 * the server removes while we copy are skipped, as `pg_basebackup` does: WAL replay recreates them.
 * With `runAs`, every copied entry is owned by the service user; directories are 0700.
 *
 * ```ts
 * await copyForBaseBackup(primary.dataDir, '/tmp/standby/data', resolveRunAs())
 * ```
 */
export async function copyForBaseBackup(from: string, to: string, runAs: RunAs | undefined): Promise<void> {
  await mkdir(to, { recursive: true, mode: 0o700 })
  await chmod(to, 0o700)
  if (runAs) await chown(to, runAs.uid, runAs.gid)
  await copyDir(from, to, '', runAs)
}

async function copyDir(from: string, to: string, rel: string, runAs: RunAs | undefined): Promise<void> {
  const entries = await readdir(path.join(from, rel), { withFileTypes: true }).catch(ignoreVanished)
  if (!entries) return
  const top = rel.split(path.sep)[0] ?? ''
  for (const entry of entries) {
    const name = entry.name
    const relPath = path.join(rel, name)
    if (EXCLUDED_FILES.has(name) || name.startsWith('pg_internal.init') || name.startsWith('pgsql_tmp'))
      continue
    const target = path.join(to, relPath)
    if (entry.isSymbolicLink() && top === 'pg_tblspc') {
      throw new Error(
        `Tablespace ${relPath} lives outside the data directory: a standby would share its files with the primary. Standbys of clusters with tablespaces are not supported.`,
      )
    }
    // `pg_wal` may be a symbolic link (initdb --waldir): the copy gets a real directory.
    const isDir = entry.isDirectory() || (relPath === 'pg_wal' && entry.isSymbolicLink())
    if (isDir) {
      await mkdir(target, { mode: 0o700 })
      if (runAs) await chown(target, runAs.uid, runAs.gid)
      if (!(rel === '' && EMPTIED_DIRS.has(name))) await copyDir(from, to, relPath, runAs)
    } else if (top !== 'pg_wal') {
      const copied = await copyFile(path.join(from, relPath), target).then(() => true, ignoreVanished)
      if (copied && runAs) await lchown(target, runAs.uid, runAs.gid)
    }
  }
}

function ignoreVanished(error: NodeJS.ErrnoException): undefined {
  if (error.code === 'ENOENT') return undefined
  throw error
}

/**
 * Writes a file in the copy, private to the service user, as the server writes its own.
 *
 * ```ts
 * await writeServerFile(path.join(dataDir, 'standby.signal'), '', runAs)
 * ```
 */
export async function writeServerFile(
  file: string,
  content: string,
  runAs: RunAs | undefined,
): Promise<void> {
  await writeFile(file, content, { mode: 0o600 })
  if (runAs) await chown(file, runAs.uid, runAs.gid)
}

/**
 * Rewrites the copy's `postgresql.auto.conf` for a standby: `primary_conninfo` and
 * `primary_slot_name` set, and no `synchronous_standby_names` (which the primary may carry for its
 * own synchronous standbys: a promoted standby would wait forever for standbys it does not have).
 *
 * ```ts
 * await configureStandby(dataDir, { primary_conninfo: 'host=127.0.0.1 ...', primary_slot_name: 'standby1' }, runAs)
 * ```
 */
export async function configureStandby(
  dataDir: string,
  settings: { readonly primary_conninfo: string; readonly primary_slot_name: string },
  runAs: RunAs | undefined,
): Promise<void> {
  const file = path.join(dataDir, 'postgresql.auto.conf')
  const dropped = new Set(['synchronous_standby_names', ...Object.keys(settings)])
  const current = await readFile(file, 'utf8').catch(() => '')
  const kept = current.split('\n').filter((line) => {
    const name = /^\s*([A-Za-z_][\w.]*)\s*=?/.exec(line)?.[1]?.toLowerCase()
    return line.length > 0 && !(name && dropped.has(name))
  })
  for (const [name, value] of Object.entries(settings)) kept.push(`${name} = ${configValue(value)}`)
  await writeServerFile(file, `${kept.join('\n')}\n`, runAs)
  await writeServerFile(path.join(dataDir, 'standby.signal'), '', runAs)
}

/** A value quoted for a libpq connection string (`key='value'`). */
export function conninfoValue(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`
}

/** A value quoted for postgresql.conf. */
function configValue(value: string): string {
  return `'${value.replace(/'/g, "''")}'`
}

/**
 * The standby names a `synchronous_standby_names` value lists, in any of its three forms
 * (`a, b`, `FIRST 1 (a, b)`, `ANY 1 (a, b)`), double quotes kept.
 *
 * ```ts
 * parseStandbyNames('ANY 1 (a, "B")') // ['a', '"B"']
 * ```
 */
export function parseStandbyNames(value: string): string[] {
  const list = /^\s*(?:(?:first|any)\s+)?\d+\s*\((.*)\)\s*$/is.exec(value)?.[1] ?? value
  return list.match(/"(?:[^"]|"")*"|[^,\s]+/g) ?? []
}

/**
 * The `synchronous_standby_names` value that makes the primary wait, on every commit, for every
 * listed standby: `FIRST n (all n names)`, or empty for none.
 *
 * ```ts
 * formatStandbyNames(['standby1', 'standby2']) // 'FIRST 2 (standby1, standby2)'
 * ```
 */
export function formatStandbyNames(names: readonly string[]): string {
  return names.length === 0 ? '' : `FIRST ${names.length} (${names.join(', ')})`
}
