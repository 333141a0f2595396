import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { createServer, type Server } from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { LocalPostgres, PortTakenError } from '../src/index.js'
import { proveServerIsOurs } from '../src/server-identity.js'

// Another PostgreSQL on the port (trust auth, as a developer's own server often is) must never get
// our roles, databases or migrations: every start proves the server that answers is its own.

let foreign: LocalPostgres
let foreignUrl: string

/** What a start could have created on the foreign server: its databases and roles. */
async function foreignObjects(): Promise<string[]> {
  const rows = await foreign.query<{ name: string }>(
    'select datname as name from pg_database union all select rolname from pg_roles order by 1',
  )
  return rows.map((row) => row.name)
}

beforeAll(async () => {
  foreign = await LocalPostgres.temporary()
  const [hba] = await foreign.query<{ file: string }>("select current_setting('hba_file') as file")
  const file = hba?.file as string
  await writeFile(file, `host all all 127.0.0.1/32 trust\n${await readFile(file, 'utf8')}`)
  await foreign.query('select pg_reload_conf()')
  // Any user, any password: what made the old start take it for its own.
  foreignUrl = `postgres://postgres:wrong@127.0.0.1:${foreign.port}/postgres`
  const client = new pg.Client({ connectionString: foreignUrl })
  await client.connect()
  await client.end()
})

afterAll(async () => {
  await foreign?.destroy()
})

describe('LocalPostgres.start beside another server', () => {
  it('fails at once naming the port when another server listens on the port asked for, creating nothing there or here', async () => {
    const before = await foreignObjects()
    const root = await mkdtemp(path.join(tmpdir(), 'local-postgres-foreign-'))
    try {
      const dataDir = path.join(root, 'data')
      const error = await LocalPostgres.start({ dataDir, port: foreign.port }).catch((caught) => caught)
      expect(error).toBeInstanceOf(PortTakenError)
      expect(error.port).toBe(foreign.port)
      expect(error.message).toContain(`Port ${foreign.port} on 127.0.0.1 is taken by another server`)
      // Refused before initdb: no cluster of ours was made either.
      await expect(stat(dataDir)).rejects.toThrow(/ENOENT/)
      expect(await foreignObjects()).toEqual(before)
    } finally {
      await rm(root, { recursive: true, force: true })
    }
  })

  it('refuses to start again on its port once another server holds it', async () => {
    const own = await LocalPostgres.temporary()
    let squatter: Server | undefined
    try {
      await own.stop()
      squatter = createServer()
      await new Promise<void>((resolve) => squatter?.listen(own.port, '127.0.0.1', resolve))
      await expect(own.start()).rejects.toThrow(
        new RegExp(
          `^Port ${own.port} on 127\\.0\\.0\\.1 is taken by another server: something already listens there`,
        ),
      )
      expect(own.running).toBe(false)
    } finally {
      await new Promise((resolve) => squatter?.close(resolve) ?? resolve(undefined))
      await own.destroy()
    }
  })
})

describe('proveServerIsOurs', () => {
  let own: LocalPostgres

  beforeAll(async () => {
    own = await LocalPostgres.temporary()
  })

  afterAll(async () => {
    await own?.destroy()
  })

  /** Runs the proof on a connection to `url`, expecting the server started on `own`'s data directory. */
  async function prove(url: string, postmasterPid = own.pid as number): Promise<void> {
    const client = new pg.Client({ connectionString: url })
    await client.connect()
    try {
      await proveServerIsOurs(client, { dataDir: own.dataDir, port: own.port, postmasterPid })
    } finally {
      await client.end()
    }
  }

  it('accepts the server running on our data directory under our postmaster', async () => {
    await expect(prove(own.connectionString())).resolves.toBeUndefined()
  })

  it('refuses a server that answers but runs on another data directory, naming both', async () => {
    const [theirs] = await foreign.query<{ dir: string }>("select current_setting('data_directory') as dir")
    const error = await prove(foreignUrl).catch((caught) => caught)
    expect(error).toBeInstanceOf(PortTakenError)
    expect(error.message).toContain(`it runs on ${theirs?.dir}`)
    expect(error.message).toContain(`not on ${own.dataDir}`)
  })

  it('refuses when our data directory is held by another postmaster than the one started', async () => {
    const stranger = (own.pid as number) + 1
    await expect(prove(own.connectionString(), stranger)).rejects.toThrow(
      `${own.dataDir} is held by postmaster ${own.pid} on port ${own.port}, not by the one started (pid ${stranger})`,
    )
  })
})
