import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

// The root scripts the quick start and CI lean on (scripts/), run as they are run: by node and bash.
const SCRIPTS = fileURLToPath(new URL('../../../scripts/', import.meta.url))
const ENGINES = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')).engines
  .node

function run(file: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(file, args, (error, stdout, stderr) =>
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
