import { spawnSync } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

// A tiny run of the whole bench so it never rots: every contender, one round, one second each.
const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url))

describe('pnpm bench', () => {
  it('runs every contender once and writes the markdown report', async () => {
    const resultsDir = await mkdtemp(path.join(tmpdir(), 'bench-smoke-'))
    try {
      const run = spawnSync(
        process.execPath,
        [
          CLI,
          '--rounds',
          '1',
          '--seconds',
          '1',
          '--warmup',
          '0',
          '--no-install-pgbench',
          '--results-dir',
          resultsDir,
        ],
        { encoding: 'utf8', timeout: 240_000 },
      )
      expect(run.status, run.stderr).toBe(0)
      const report = await readFile(path.join(resultsDir, 'latest.md'), 'utf8')
      expect(report).toBe(`${run.stdout.trim()}\n`)
      for (const heading of [
        '## `SELECT 1`',
        '## Indexed read',
        '## Small transaction',
        '## HTTP `GET /classrooms/:id`',
        '## Targets',
      ]) {
        expect(report).toContain(heading)
      }
      for (const label of [
        'bare pg.Pool (max 60)',
        'db-core, pre-ping off, leak detection off',
        'db-core, pre-ping idle ≥ 1 s, leak detection off',
        'db-core, pre-ping every checkout, leak detection off',
        'db-core, all defaults (pre-ping idle ≥ 1 s, leak detection 60 s)',
        'Kysely over db-core, all defaults',
        'postgres.js (max 60)',
        'fastify + bare pg.Pool, same query',
        'the api, all defaults (db-core, validation, metrics; LOG_LEVEL=warn)',
        'the api, DB_POOL_LEAK_WARN_MS=0',
      ]) {
        expect(report).toContain(`| ${label} |`)
      }
      // Every measured row ran without errors.
      expect(report).not.toMatch(/\| [1-9]\d* \|$/m)
    } finally {
      await rm(resultsDir, { recursive: true, force: true })
    }
  })

  it('refuses a bad option with exit code 2 and the usage', () => {
    const run = spawnSync(process.execPath, [CLI, '--rounds', 'many'], { encoding: 'utf8' })
    expect(run.status).toBe(2)
    expect(run.stderr).toContain('--rounds takes a whole number ≥ 1, not "many"')
    expect(run.stderr).toContain('usage: pnpm bench')
  })
})
