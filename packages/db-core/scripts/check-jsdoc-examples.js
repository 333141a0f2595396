// Type-checks every ```ts example in src/'s JSDoc, as Kysely's test:jsdocs does: each example becomes
// the body of a function in a file of its own, with the public surface imported and a few free names
// declared (a logger, a config, a pool...). Run by `pnpm typecheck` after `tsc --noEmit`.
import { execFileSync } from 'node:child_process'
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const SRC = path.join(ROOT, 'src')
const OUT = path.join(ROOT, '.jsdoc-examples')

/** The names a module exports (`export { a, type B } from ...`), as an import list. */
function exportsOf(file) {
  const text = readFileSync(path.join(SRC, file), 'utf8')
  return [...text.matchAll(/export (type )?\{([^}]*)\}/g)]
    .flatMap(([, wholeType, names]) =>
      names
        .split(',')
        .map((name) => name.trim())
        .filter(Boolean)
        .map((name) => (wholeType && !name.startsWith('type ') ? `type ${name}` : name)),
    )
    .join(', ')
}

// Every public name in scope, and the free names examples lean on declared.
const PRELUDE = `import { ${exportsOf('index.ts')} } from '../src/index.js'
import { ${exportsOf('env.ts')} } from '../src/env.js'
import { isSecretName } from '../src/logging/redact.js'
import { systemClock } from '../src/pool/clock.js'
import { parseConnectionUrl } from '../src/config/connection-url.js'
import { HostSelection } from '../src/pool/host-selection.js'
import { sendCancelRequest } from '../src/dialect/cancel-request.js'
import { PoolTelemetry } from '../src/pool/pool-telemetry.js'
import { PoolTracing } from '../src/pool/pool-tracing.js'
import { dbCoreQuerySpanHook } from '../src/pool/query-span-hook.js'
import { WaitQueue } from '../src/pool/queue/wait-queue.js'
import { OverloadDetector } from '../src/pool/queue/overload-detector.js'
import { PgPoolStore } from '../src/pool/queue/pg-pool-adapter.js'
import pg from 'pg'
import winston from 'winston'
KYSELY_IMPORT
declare const url: string
declare const logger: DbLogger
declare const config: DbConfig
declare const pool: InstrumentedPool
declare const db: Kysely<any>
declare const error: unknown
declare const stream: NodeJS.WritableStream
interface Reply { code(status: number): Reply; header(name: string, value: string): Reply }
declare const reply: Reply
declare const env: { LOG_LEVEL: LoggerLevel; LOG_FORMAT: 'auto' | 'json' | 'pretty' }
declare const apiEnvSpec: Record<string, never>
`

function* sourceFiles(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name)
    if (entry.isDirectory()) yield* sourceFiles(full)
    else if (entry.name.endsWith('.ts')) yield full
  }
}

rmSync(OUT, { recursive: true, force: true })
mkdirSync(OUT)
const origins = new Map()
let count = 0
for (const file of sourceFiles(SRC)) {
  const text = readFileSync(file, 'utf8')
  for (const comment of text.matchAll(/\/\*\*[\s\S]*?\*\//g)) {
    for (const block of comment[0].matchAll(/```ts\n([\s\S]*?)```/g)) {
      const lines = block[1].split('\n').map((line) => line.replace(/^\s*\* ?/, ''))
      const imports = lines.filter((line) => line.startsWith('import '))
      // Names an example imports itself are left out of the prelude's kysely import.
      const own = new Set(
        imports.flatMap((line) => (line.match(/\{([^}]*)\}/)?.[1] ?? '').split(',').map((n) => n.trim())),
      )
      const kysely = ['Kysely', 'sql'].filter((name) => !own.has(name))
      const prelude = PRELUDE.replace(
        'KYSELY_IMPORT',
        kysely.length ? `import { ${kysely.join(', ')} } from 'kysely'` : '',
      )
      const body = lines.filter((line) => !line.startsWith('import '))
      const line = text.slice(0, comment.index + block.index).split('\n').length + 1
      const name = `example-${++count}.ts`
      origins.set(name, `${path.relative(ROOT, file)}:${line}`)
      writeFileSync(
        path.join(OUT, name),
        `// ${path.relative(ROOT, file)}:${line}\n${prelude}${imports.join('\n')}\nexport async function example(): Promise<void> {\n${body.join('\n')}\n}\n`,
      )
    }
  }
}
writeFileSync(
  path.join(OUT, 'tsconfig.json'),
  JSON.stringify({
    extends: '../tsconfig.json',
    compilerOptions: { rootDir: '..', noEmit: true },
    include: ['*.ts'],
  }),
)
try {
  execFileSync(path.join(ROOT, 'node_modules', '.bin', 'tsc'), ['-p', OUT], {
    stdio: 'pipe',
    encoding: 'utf8',
  })
} catch (failure) {
  const report = String(failure.stdout).replace(
    /\.jsdoc-examples\/(example-\d+\.ts)/g,
    (_, name) => `${origins.get(name)} (${name})`,
  )
  process.stderr.write(`JSDoc examples that do not type-check:\n${report}`)
  process.exit(1)
}
rmSync(OUT, { recursive: true, force: true })
console.log(`${count} JSDoc examples type-check`)
