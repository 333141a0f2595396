import { execFile } from 'node:child_process'
import { chmod, mkdir, mkdtemp, rm, stat } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { UsageError } from '@classroom/test-kit'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseDevCommand } from '../src/dev-database-cli.js'

// `pnpm db:start` and friends as a developer runs them: the built command, in processes of its own.
const CLI = fileURLToPath(new URL('../dist/dev-database-cli.js', import.meta.url))

interface Outcome {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

function cli(...args: string[]): Promise<Outcome> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], (error, stdout, stderr) =>
      resolve({ code: typeof error?.code === 'number' ? error.code : 0, stdout, stderr }),
    )
  })
}

async function query(url: string, sql: string): Promise<unknown[]> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    return (await client.query(sql)).rows
  } finally {
    await client.end()
  }
}

describe('the development database', () => {
  let root: string
  let dataDir: string

  beforeAll(async () => {
    root = await mkdtemp(path.join(tmpdir(), 'local-postgres-dev-'))
    // mkdtemp makes it 0700; the server's own user (when we are root) must reach the data directory.
    await chmod(root, 0o755)
    dataDir = path.join(root, 'pg')
  })

  afterAll(async () => {
    await cli('stop', '--data-dir', dataDir)
    await rm(root, { recursive: true, force: true })
  })

  it('starts in the background printing a DATABASE_URL; start again finds it, url prints it, stop stops it', async () => {
    const started = await cli('start', '--data-dir', dataDir, '--database', 'report_dev')
    expect(started).toMatchObject({ code: 0, stderr: '' })
    const url = /^DATABASE_URL=(postgres:\/\/\S+\/report_dev)$/m.exec(started.stdout)?.[1] as string
    expect(url).toBeDefined()
    expect(await query(url, 'select current_database() as db')).toEqual([{ db: 'report_dev' }])

    const again = await cli('start', '--data-dir', dataDir, '--database', 'report_dev')
    expect(again.stdout).toMatch(/^already running: PostgreSQL on /)
    expect(again.stdout).toContain(`DATABASE_URL=${url}\n`)
    expect(await cli('url', '--data-dir', dataDir)).toEqual({ code: 0, stdout: `${url}\n`, stderr: '' })

    expect((await cli('stop', '--data-dir', dataDir)).stdout).toBe(
      `stopped the development database on ${dataDir}\n`,
    )
    await expect(query(url, 'select 1')).rejects.toThrow(/ECONNREFUSED/)
    expect(await cli('url', '--data-dir', dataDir)).toMatchObject({
      code: 1,
      stderr: `no development database runs on ${dataDir}: \`pnpm db:start\` starts it\n`,
    })
    expect((await cli('stop', '--data-dir', dataDir)).stdout).toBe(
      `no development database runs on ${dataDir}\n`,
    )
  })

  it('keeps its data from one start to the next', async () => {
    const first = await cli('start', '--data-dir', dataDir)
    const url = /^DATABASE_URL=(\S+)$/m.exec(first.stdout)?.[1] as string
    await query(url, 'create table kept as select 42 as answer')
    await cli('stop', '--data-dir', dataDir)
    const second = await cli('start', '--data-dir', dataDir)
    const again = /^DATABASE_URL=(\S+)$/m.exec(second.stdout)?.[1] as string
    expect(await query(again, 'select answer from kept')).toEqual([{ answer: 42 }])
    await cli('stop', '--data-dir', dataDir)
  })

  it('stops the server it started when it cannot announce it (its state file cannot be written), leaving nothing running', async () => {
    const blocked = path.join(root, 'blocked')
    // A directory where the state file goes: the server starts, then writing its state fails.
    await mkdir(`${blocked}.server.json`)
    const outcome = await cli('start', '--data-dir', blocked)
    expect(outcome.code).toBe(1)
    expect(outcome.stderr).toContain('EISDIR')
    // Stopped: PostgreSQL removes postmaster.pid as it shuts down.
    await expect(stat(path.join(blocked, 'postmaster.pid'))).rejects.toMatchObject({ code: 'ENOENT' })
  })

  it('fails to start naming the port when another server holds the one asked for, leaving nothing running', async () => {
    const squatter = createServer()
    await new Promise<void>((resolve) => squatter.listen(0, '127.0.0.1', resolve))
    const { port } = squatter.address() as { port: number }
    try {
      const outcome = await cli('start', '--data-dir', dataDir, '--port', String(port))
      expect(outcome.code).toBe(1)
      expect(outcome.stderr).toMatch(/^The development database did not start \(code 1, signal null\)\./)
      expect(outcome.stderr).toContain(`Port ${port} on 127.0.0.1 is taken by another server`)
      expect((await cli('url', '--data-dir', dataDir)).code).toBe(1)
    } finally {
      await new Promise((resolve) => squatter.close(resolve))
    }
  })
})

describe('parseDevCommand', () => {
  it('reads the command and its options, with defaults', () => {
    expect(
      parseDevCommand(['start', '--data-dir', '/srv/pg', '--port', '5433', '--database', 'app']),
    ).toEqual({
      command: 'start',
      options: { dataDir: '/srv/pg', port: 5433, database: 'app' },
    })
    expect(parseDevCommand(['stop']).options).toMatchObject({ database: 'dev' })
    expect(parseDevCommand(['stop']).options).not.toHaveProperty('port')
  })

  it.each([
    [[], 'name one command, start, stop, url or serve (got none)'],
    [['begin'], 'name one command, start, stop, url or serve (got "begin")'],
    [['start', 'now'], 'unexpected argument "now"'],
    [['start', '--data-dir', 'pg'], '--data-dir takes an absolute path, not "pg"'],
    [['start', '--port', '0'], '--port takes a whole number ≥ 1, not "0"'],
    [['start', '--port', '70000'], '--port takes a whole number from 1 to 65535, not "70000"'],
    [
      ['start', '--database', 'My-DB'],
      '--database takes lowercase letters, digits and underscores (at most 63), not "My-DB"',
    ],
    [['start', '--verbose'], "Unknown option '--verbose'"],
  ])('refuses %j: %s', (argv, message) => {
    expect(() => parseDevCommand(argv)).toThrow(UsageError)
    expect(() => parseDevCommand(argv)).toThrow(message)
  })

  it('prints its usage with the problem and exits 2', async () => {
    const outcome = await cli('begin')
    expect(outcome.code).toBe(2)
    expect(outcome.stderr).toMatch(
      /^name one command, start, stop, url or serve \(got "begin"\)\n\nusage: local-postgres-dev/,
    )
  })
})
