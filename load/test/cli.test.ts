import { spawnSync } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { helpWanted, parseCommandLine, parseRunCommand, UsageError } from '../runner/cli.js'
import { DRILLS } from '../runner/drills/index.js'
import { SOAK_SECONDS } from '../runner/drills/soak.js'
import { k6Available } from '../runner/k6-engine.js'

const CLI = fileURLToPath(new URL('../dist/runner/cli.js', import.meta.url))
const REPO = fileURLToPath(new URL('../..', import.meta.url))

/** `pnpm load …` as a user types it in `cwd`: through pnpm, the build and the root script. */
function pnpmLoad(args: string[], cwd = REPO) {
  return spawnSync('pnpm', ['--silent', 'load', ...args], { cwd, encoding: 'utf8' })
}

describe('pnpm load: the command line', () => {
  it('reads a restart drill with its phases, mode and downtime', () => {
    const options = parseCommandLine(
      [
        'restart',
        '--before',
        '5',
        '--window',
        '8',
        '--after',
        '7',
        '--mode',
        'immediate',
        '--down-seconds',
        '3',
      ],
      {},
    )
    expect(options).toMatchObject({
      scenario: 'restart',
      engine: 'node',
      phases: { before: 5, window: 8, after: 7 },
      mode: 'immediate',
      downSeconds: 3,
      databaseUrl: undefined,
    })
    expect(options.resultsDir).toMatch(/load\/results$/)
  })

  it.each([
    [[], 'name one scenario, steady, soak, restart, failover, replicas or overload (got 0)'],
    [['spike'], '--scenario is one of steady, soak, restart, failover, replicas, overload, not "spike"'],
    [['soak', '--duration', '0'], '--duration takes a whole number of seconds ≥ 1, not "0"'],
    [['soak', '--async'], '--async is for the failover drill, not soak'],
    [['replicas', '--read-your-writes', 'maybe'], '--read-your-writes is one of on, off, not "maybe"'],
    [['steady', '--read-your-writes', 'off'], '--read-your-writes is for the replicas drill, not steady'],
    [['replicas', '--async'], '--async is for the failover drill, not replicas'],
    [['failover', '--via', 'dns'], '--via is one of hosts, proxy, not "dns"'],
    [['restart', '--async'], '--async is for the failover drill, not restart'],
    [['steady', '--promote-after', '2'], '--promote-after is for the failover drill, not steady'],
    [['steady', '--duration', '0'], '--duration takes a whole number of seconds ≥ 1, not "0"'],
    [['steady', '--duration', '1m'], '--duration takes a whole number of seconds ≥ 1, not "1m"'],
    [['restart', '--window', '1'], '--window takes a whole number of seconds ≥ 2, not "1"'],
    [['restart', '--mode', 'smart'], '--mode is one of fast, immediate, not "smart"'],
    [['steady', '--engine', 'jmeter'], '--engine is one of node, k6, not "jmeter"'],
    [['steady', '--engine', 'k6'], '--engine k6 needs the k6 binary on PATH'],
    [['steady', '--users', '10'], "Unknown option '--users'"],
    [
      ['restart', '--warmup', '3'],
      "--warmup is for steady and the soak, not restart (a drill's before phase warms it)",
    ],
    [['steady', '--warmup', '1.5'], '--warmup takes a whole number of seconds ≥ 0, not "1.5"'],
  ])('refuses %j: %s', (argv, message) => {
    expect(() => parseCommandLine(argv, { PATH: '/nonexistent' })).toThrow(UsageError)
    expect(() => parseCommandLine(argv, { PATH: '/nonexistent' })).toThrow(message)
  })

  it('reads soak as steady for 30 minutes, its own --duration and --warmup kept', () => {
    const options = parseCommandLine(['soak'], {})
    expect(options).toMatchObject({ scenario: 'soak', durationSeconds: SOAK_SECONDS })
    expect(SOAK_SECONDS).toBe(1800)
    expect(parseCommandLine(['steady'], {}).durationSeconds).toBe(60)
    // steady's plan, named steady: its summary, report and results are steady's.
    const plan = DRILLS.soak.plan(options, undefined)
    expect(plan.name).toBe('steady')
    expect(plan.phases.find((phase) => phase.name === 'steady')?.durationSeconds).toBe(SOAK_SECONDS)
    expect(parseCommandLine(['soak', '--duration', '900', '--warmup', '3'], {})).toMatchObject({
      scenario: 'soak',
      durationSeconds: 900,
      warmupSeconds: 3,
    })
    expect(parseCommandLine(['soak', '--duration=840'], {}).durationSeconds).toBe(840)
  })

  it('refuses a restart drill on DATABASE_URL without DB_RESTART_COMMAND', () => {
    expect(() => parseCommandLine(['restart'], { DATABASE_URL: 'postgres://x@h/d' })).toThrow(
      'restart with DATABASE_URL needs DB_RESTART_COMMAND',
    )
    expect(
      parseCommandLine(['restart'], { DATABASE_URL: 'postgres://x@h/d', DB_RESTART_COMMAND: 'true' })
        .restartCommand,
    ).toBe('true')
  })

  it('exits 2 with the usage on a bad command line', () => {
    const run = spawnSync(process.execPath, [CLI, 'restart', '--mode', 'gentle'], { encoding: 'utf8' })
    expect(run.status).toBe(2)
    expect(run.stderr).toContain('--mode is one of fast, immediate, not "gentle"')
    expect(run.stderr).toContain('usage: pnpm load restart')
  })

  it('reads a failover drill: immediate kill, synchronous, multi-host URL and a 1 s promotion by default', () => {
    expect(parseCommandLine(['failover'], {})).toMatchObject({
      scenario: 'failover',
      mode: 'immediate',
      promoteAfterSeconds: 1,
      replication: { synchronous: true, via: 'hosts' },
    })
    expect(
      parseCommandLine(
        ['failover', '--async', '--via', 'proxy', '--mode', 'fast', '--promote-after', '3'],
        {},
      ),
    ).toMatchObject({
      mode: 'fast',
      promoteAfterSeconds: 3,
      replication: { synchronous: false, via: 'proxy' },
    })
  })

  it('reads a replicas drill: read-your-writes on, the standby down 5 s after a fast stop, by default; off when asked', () => {
    expect(parseCommandLine(['replicas'], {})).toMatchObject({
      scenario: 'replicas',
      readYourWrites: true,
      downSeconds: 5,
      mode: 'fast',
      phases: { before: 20, window: 20, after: 20 },
    })
    expect(
      parseCommandLine(['replicas', '--read-your-writes', 'off', '--down-seconds', '3', '--window', '9'], {}),
    ).toMatchObject({ readYourWrites: false, downSeconds: 3, phases: { window: 9 } })
  })

  it('reads an overload drill: the probe, 0.5x for 10 s before and after, 2x20 and 5x10, the issue targets, by default', () => {
    expect(parseCommandLine(['overload'], {})).toMatchObject({
      scenario: 'overload',
      phases: { before: 10, after: 10 },
      overload: {
        probeSeconds: 5,
        probeUsers: 8,
        latencyMs: 10,
        deadlineMs: 1000,
        base: 0.5,
        maxVus: 100,
        targets: { minGoodput: 0.9, maxP99Ms: 100, maxRefusalMs: 100, maxRecoveryMs: 1000 },
      },
    })
    expect(parseCommandLine(['overload'], {}).overload).not.toHaveProperty('capacity')
    expect(
      parseCommandLine(
        [
          'overload',
          '--capacity',
          '250',
          '--overload',
          '1.2x10,3x5',
          '--base',
          '0.9',
          '--min-goodput',
          '0.8',
        ],
        {},
      ).overload,
    ).toMatchObject({
      capacity: 250,
      base: 0.9,
      stages: [
        { multiple: 1.2, seconds: 10 },
        { multiple: 3, seconds: 5 },
      ],
      targets: { minGoodput: 0.8 },
    })
  })

  it.each([
    [['overload', '--overload', '2x'], '--overload: overload stage "2x" is MULTIPLExSECONDS'],
    [['overload', '--capacity', 'lots'], '--capacity takes a number > 0, not "lots"'],
    [['overload', '--min-goodput', '0'], '--min-goodput takes a number > 0, not "0"'],
    [['overload', '--deadline-ms', '0'], '--deadline-ms takes a whole number of milliseconds ≥ 1, not "0"'],
    [
      ['overload', '--window', '5'],
      '--window is for the restart drill, the failover drill and the replicas drill, not overload',
    ],
    [['steady', '--deadline-ms', '500'], '--deadline-ms is for the overload drill, not steady'],
  ])('refuses %j: %s', (argv, message) => {
    expect(() => parseCommandLine(argv, {})).toThrow(UsageError)
    expect(() => parseCommandLine(argv, {})).toThrow(message)
  })

  it('refuses an overload drill on DATABASE_URL: it puts its latency proxy before a server it starts', () => {
    expect(() => parseCommandLine(['overload'], { DATABASE_URL: 'postgres://x@h/d' })).toThrow(
      'overload runs on an embedded PostgreSQL behind a latency proxy it starts: unset DATABASE_URL',
    )
  })

  it('refuses a replicas drill on DATABASE_URL: it stops a standby it must have started', () => {
    expect(() => parseCommandLine(['replicas'], { DATABASE_URL: 'postgres://x@h/d' })).toThrow(
      'replicas runs on a primary and two standbys it starts (it stops one mid-run): unset DATABASE_URL',
    )
  })

  it('exits 2 naming --read-your-writes and its choices, with the replicas usage, on a bad value', () => {
    const run = spawnSync(process.execPath, [CLI, 'replicas', '--read-your-writes', 'maybe'], {
      encoding: 'utf8',
    })
    expect(run.status).toBe(2)
    expect(run.stderr).toContain('--read-your-writes is one of on, off, not "maybe"')
    expect(run.stderr).toContain('usage: pnpm load replicas')
    expect(run.stderr).toContain('passes\n                           only if it saw some')
  })

  it('refuses a failover drill on DATABASE_URL without DB_FAILOVER_COMMAND, and embedded-only options with it', () => {
    const external = { DATABASE_URL: 'postgres://x@h1,h2/d?target_session_attrs=read-write' }
    expect(() => parseCommandLine(['failover'], external)).toThrow(
      'failover with DATABASE_URL needs DB_FAILOVER_COMMAND',
    )
    const withCommand = { ...external, DB_FAILOVER_COMMAND: './failover.sh' }
    expect(parseCommandLine(['failover'], withCommand).failoverCommand).toBe('./failover.sh')
    expect(() => parseCommandLine(['failover', '--async'], withCommand)).toThrow(
      '--async sets up the embedded servers; with DATABASE_URL, DB_FAILOVER_COMMAND does',
    )
  })
})

describe('pnpm load run: the command line', () => {
  it('reads a script and its -e variables as k6 run does', () => {
    expect(
      parseRunCommand(['my-test.ts', '-e', 'BASE_URL=http://127.0.0.1:3000', '-e', 'QUERY=a=b'], {
        INIT_CWD: '/w',
      }),
    ).toEqual({
      script: '/w/my-test.ts',
      cwd: '/w',
      env: { BASE_URL: 'http://127.0.0.1:3000', QUERY: 'a=b' },
      engine: 'node',
    })
  })

  it('reads the script and --results-dir from where the user typed the command (INIT_CWD), not from load/', () => {
    const env = { INIT_CWD: '/home/me/tests' }
    expect(parseRunCommand(['./my-test.js'], env)).toMatchObject({
      script: '/home/me/tests/my-test.js',
      cwd: '/home/me/tests',
    })
    expect(parseRunCommand(['/abs/x.js'], env).script).toBe('/abs/x.js')
    expect(parseCommandLine(['steady', '--results-dir', 'out'], env).resultsDir).toBe('/home/me/tests/out')
  })

  it.each([
    [[], 'run takes one script (got 0)'],
    [['a.ts', '-e', 'NOVALUE'], '-e takes KEY=VALUE, not "NOVALUE"'],
    [['a.ts', '--engine', 'k6'], '--engine k6 needs the k6 binary on PATH'],
  ])('refuses %j: %s', (argv, message) => {
    expect(() => parseRunCommand(argv, { PATH: '/nonexistent' })).toThrow(message)
  })
})

describe('pnpm load through pnpm, as a user types it', () => {
  it('runs a script given relative to the repository root and keeps k6 exit code 99 for a breached threshold', () => {
    const run = pnpmLoad(['run', './load/test/fixtures/failing-threshold.js'])
    expect(run.stderr).not.toContain('no script at')
    expect(run.stdout).toMatch(/iterations\n\s+✗ 'count>5' count=1/)
    expect(run.status).toBe(99)
  })

  it('keeps k6 exit code 107 for a script using what does not run here, naming it', () => {
    const run = pnpmLoad(['run', 'fixtures/unsupported-module.js'], path.join(REPO, 'load', 'test'))
    expect(run.stderr).toContain('imports "k6/ws", which does not run here')
    expect(run.status).toBe(107)
  })

  it('prints the usage and exits 0 on --help, for the command and each subcommand', () => {
    const top = pnpmLoad(['--help'])
    expect(top.status).toBe(0)
    expect(top.stdout).toContain(
      'usage: pnpm load <steady|soak|restart|failover|replicas|overload> [options]',
    )
    expect(top.stdout).toContain('the run passes only if it saw stale reads')
    const run = pnpmLoad(['run', '--help'])
    expect(run.status).toBe(0)
    expect(run.stdout).toContain('usage: pnpm load run <script.js|script.ts>')
    expect(run.stdout).toContain('107 the script cannot run here')
  })
})

describe('measure-engine: the command line', () => {
  const MEASURE = fileURLToPath(new URL('../dist/runner/measure-engine.js', import.meta.url))

  it('exits 2 naming --earlier when it is missing, and 0 with its usage on --help', () => {
    const missing = spawnSync(process.execPath, [MEASURE], { encoding: 'utf8' })
    expect(missing.status).toBe(2)
    expect(missing.stderr).toContain('--earlier DIR is required: the earlier load package, built')
    const help = spawnSync(process.execPath, [MEASURE, '--help'], { encoding: 'utf8' })
    expect(help.status).toBe(0)
    expect(help.stdout).toContain('usage: pnpm --filter @classroom/load measure-engine --earlier DIR')
  })
})

describe('helpWanted', () => {
  it.each([
    [['--help'], 'usage: pnpm load <steady|soak|restart|failover|replicas|overload>'],
    [['-h'], 'usage: pnpm load <steady|soak|restart|failover|replicas|overload>'],
    [['help'], 'usage: pnpm load <steady|soak|restart|failover|replicas|overload>'],
    [['help', 'failover'], 'usage: pnpm load failover'],
    [['replicas', '--read-your-writes', 'off', '--help'], 'usage: pnpm load replicas'],
    [['steady', '--help'], 'usage: pnpm load steady'],
    [['soak', '--help'], 'usage: pnpm load soak'],
    [['restart', '--mode', 'fast', '-h'], 'usage: pnpm load restart'],
    [['run', 'x.js', '--help'], 'usage: pnpm load run'],
  ])('%j prints %s', (argv, usage) => {
    expect(helpWanted(argv)).toContain(usage)
  })

  it('answers help for a name that is no subcommand (an inherited property among them) with the general usage', () => {
    for (const name of ['constructor', 'toString', 'nonsense']) {
      expect(helpWanted(['help', name])).toMatch(/^usage: pnpm load /)
      expect(helpWanted(['help', name])).not.toContain('function')
    }
  })

  it("leaves a command without --help alone, and a run script's -e value that reads --help", () => {
    expect(helpWanted(['steady', '--duration', '5'])).toBeUndefined()
    expect(helpWanted(['run', 'x.js', '-e', '--help'])).toBeUndefined()
  })
})

describe('k6Available', () => {
  let fakeBin: string | undefined

  afterEach(async () => {
    vi.unstubAllEnvs()
    if (fakeBin) await rm(fakeBin, { recursive: true, force: true })
    fakeBin = undefined
  })

  /** A directory holding a stand-in `k6` that answers `k6 version`, as on a machine that has k6. */
  async function fakeK6(): Promise<string> {
    fakeBin = await mkdtemp(path.join(tmpdir(), 'load-fake-k6-'))
    await writeFile(path.join(fakeBin, 'k6'), '#!/bin/sh\n[ "$1" = version ]\n', { mode: 0o755 })
    return fakeBin
  }

  it('looks k6 up on the PATH of the env it is given, not on process.env.PATH', async () => {
    const bin = await fakeK6()
    // k6 is on this process's PATH: only the env argument can make it missing.
    vi.stubEnv('PATH', bin)
    expect(k6Available({ PATH: bin })).toBe(true)
    expect(k6Available({ PATH: '/nonexistent' })).toBe(false)
  })

  it('lets parseCommandLine decide --engine k6 on the env it receives', async () => {
    const bin = await fakeK6()
    vi.stubEnv('PATH', bin)
    expect(() => parseCommandLine(['steady', '--engine', 'k6'], { PATH: '/nonexistent' })).toThrow(
      '--engine k6 needs the k6 binary on PATH',
    )
    expect(parseCommandLine(['steady', '--engine', 'k6'], { PATH: bin }).engine).toBe('k6')
  })
})
