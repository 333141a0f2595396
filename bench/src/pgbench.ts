import { execFile, execFileSync } from 'node:child_process'
import { existsSync, readdirSync } from 'node:fs'
import { userInfo } from 'node:os'
import { promisify } from 'node:util'

const execFileAsync = promisify(execFile)

/** Where pgbench is, or why it is not there. */
export type PgbenchLocation = { found: true; path: string } | { found: false; reason: string }

const DEBIAN_BIN = '/usr/lib/postgresql'

function findPgbench(): string | undefined {
  if (existsSync(DEBIAN_BIN)) {
    for (const version of readdirSync(DEBIAN_BIN).sort().reverse()) {
      const candidate = `${DEBIAN_BIN}/${version}/bin/pgbench`
      if (existsSync(candidate)) return candidate
    }
  }
  try {
    return execFileSync('sh', ['-c', 'command -v pgbench'], { encoding: 'utf8' }).trim() || undefined
  } catch {
    return undefined
  }
}

/**
 * Debian's pgbench, installed with apt-get (package postgresql-15) when missing, `install` is
 * true and we are root; otherwise the reason it is not there.
 */
export function locatePgbench({ install }: { install: boolean }): PgbenchLocation {
  const existing = findPgbench()
  if (existing) return { found: true, path: existing }
  if (!install)
    return {
      found: false,
      reason: 'pgbench is not installed (run without --no-install-pgbench to install it)',
    }
  if (userInfo().uid !== 0)
    return {
      found: false,
      reason: 'pgbench is not installed and installing it needs root (apt-get install postgresql-15)',
    }
  try {
    process.stderr.write('installing Debian pgbench (apt-get install postgresql-15)...\n')
    execFileSync(
      'sh',
      [
        '-c',
        'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql-15',
      ],
      {
        stdio: ['ignore', 'ignore', 'inherit'],
      },
    )
  } catch (error) {
    return { found: false, reason: `apt-get could not install pgbench: ${(error as Error).message}` }
  }
  const installed = findPgbench()
  return installed
    ? { found: true, path: installed }
    : { found: false, reason: 'pgbench still missing after apt-get install postgresql-15' }
}

/** Creates pgbench's tables (scale 1: 100 000 accounts) in the given database. */
export async function initPgbench(pgbench: string, databaseUrl: string): Promise<void> {
  await execFileAsync(pgbench, ['-i', '-s', '1', '-q', databaseUrl])
}

export interface PgbenchResult {
  readonly tps: number
  readonly latencyAverageMs: number
}

/** `pgbench -S` (select-only, an indexed read by primary key) with `clients` connections. */
export async function runPgbenchSelectOnly(
  pgbench: string,
  databaseUrl: string,
  { clients, seconds }: { clients: number; seconds: number },
): Promise<PgbenchResult> {
  const { stdout } = await execFileAsync(pgbench, [
    '-S',
    '-n',
    '-c',
    String(clients),
    '-j',
    '2',
    '-T',
    String(seconds),
    databaseUrl,
  ])
  const tps = /tps = ([\d.]+) \(without initial connection time\)/.exec(stdout)
  const latency = /latency average = ([\d.]+) ms/.exec(stdout)
  if (!tps || !latency) throw new Error(`could not read pgbench's output:\n${stdout}`)
  return { tps: Number(tps[1]), latencyAverageMs: Number(latency[1]) }
}
