// Says whether a Node version is one this project supports, from the root package.json's `engines`
// (the one place that states it): `^major.minor.patch` ranges joined by `||`. Plain JavaScript that
// any Node runs, so that an unsupported one gets a clear message instead of a failure further on.
//
//   node scripts/node-support.mjs          exit 0 on a supported Node, else 1 saying what to install
//   node scripts/node-support.mjs v22.3.0  the same for a given version
import { readFileSync } from 'node:fs'

const root = new URL('../package.json', import.meta.url)
const range = JSON.parse(readFileSync(root, 'utf8')).engines.node
const nvmrc = readFileSync(new URL('../.nvmrc', import.meta.url), 'utf8').trim()

/** Whether `version` (`v24.1.0` or `24.1.0`) satisfies one of the `||`-separated `^x.y.z` alternatives. */
function satisfies(version, alternatives) {
  const have = version.replace(/^v/, '').split('.').map(Number)
  return alternatives.split('||').some((alternative) => {
    const match = /^\s*\^(\d+)\.(\d+)\.(\d+)\s*$/.exec(alternative)
    if (!match)
      throw new Error(`package.json engines.node: "${alternative.trim()}" is not a ^major.minor.patch range`)
    const want = match.slice(1).map(Number)
    if (have[0] !== want[0]) return false
    return have[1] > want[1] || (have[1] === want[1] && have[2] >= want[2])
  })
}

const version = process.argv[2] ?? process.version
if (!satisfies(version, range)) {
  process.stderr.write(
    `Node ${version} is not supported: this project needs Node ${range} (package.json engines).\n` +
      `Install Node ${nvmrc} (.nvmrc): \`nvm install\` or \`fnm use --install-if-missing\` in this directory, ` +
      `or https://nodejs.org/en/download; then run this again.\n`,
  )
  process.exit(1)
}
