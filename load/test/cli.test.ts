import { spawnSync } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { parseCommandLine, UsageError } from '../runner/cli.js'
import { k6Available } from '../runner/k6-engine.js'

const CLI = fileURLToPath(new URL('../dist/runner/cli.js', import.meta.url))

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
    [[], 'name one scenario, steady or restart (got 0)'],
    [['soak'], '--scenario is one of steady, restart, not "soak"'],
    [['steady', '--duration', '0'], '--duration takes a whole number of seconds ≥ 1, not "0"'],
    [['steady', '--duration', '1m'], '--duration takes a whole number of seconds ≥ 1, not "1m"'],
    [['restart', '--window', '1'], '--window takes a whole number of seconds ≥ 2, not "1"'],
    [['restart', '--mode', 'smart'], '--mode is one of fast, immediate, not "smart"'],
    [['steady', '--engine', 'jmeter'], '--engine is one of node, k6, not "jmeter"'],
    [['steady', '--engine', 'k6'], '--engine k6 needs the k6 binary on PATH'],
    [['steady', '--users', '10'], "Unknown option '--users'"],
  ])('refuses %j: %s', (argv, message) => {
    expect(() => parseCommandLine(argv, { PATH: '/nonexistent' })).toThrow(UsageError)
    expect(() => parseCommandLine(argv, { PATH: '/nonexistent' })).toThrow(message)
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
    expect(run.stderr).toContain('usage: pnpm load <steady|restart> [options]')
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
