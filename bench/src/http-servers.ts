import { type ChildProcess, spawn } from 'node:child_process'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { findFreePort, spawnApi } from '@classroom/test-kit'

const HERE = path.dirname(fileURLToPath(import.meta.url))

/** One server the HTTP workload is run against. */
export interface HttpContender {
  readonly name: string
  readonly label: string
  /** The api's environment on top of the database's, given where OTLP exports go; none for the minimal handler. */
  readonly apiEnv?: (otlpEndpoint: string) => Record<string, string>
}

/** The servers of the HTTP rows, the minimal handler (their baseline) first. */
export const HTTP_CONTENDERS: readonly HttpContender[] = [
  { name: 'http-minimal', label: 'fastify + bare pg.Pool, same query' },
  {
    name: 'http-api',
    label: 'the api, all defaults (db-core, validation, metrics; LOG_LEVEL=warn)',
    apiEnv: () => ({}),
  },
  {
    name: 'http-api-no-leak-detection',
    label: 'the api, DB_POOL_LEAK_WARN_MS=0',
    apiEnv: () => ({ DB_POOL_LEAK_WARN_MS: '0' }),
  },
  {
    name: 'http-api-traced',
    label: 'the api, traced: every request sampled, spans sent by OTLP/HTTP (protobuf) to a local sink',
    apiEnv: (otlpEndpoint) => ({
      OTEL_EXPORTER_OTLP_ENDPOINT: otlpEndpoint,
      OTEL_TRACES_SAMPLER: 'always_on',
      // The cost of tracing alone: the pool's metrics stay on /metrics, as in the other rows.
      OTEL_METRICS_EXPORTER: 'none',
      OTEL_LOGS_EXPORTER: 'none',
    }),
  },
]

/** Starts `contender`'s server on `databaseUrl`, with `nodeArgs` for node itself (`--cpu-prof`). */
export async function startHttpServer(
  contender: HttpContender,
  databaseUrl: string,
  nodeArgs: readonly string[],
  otlpEndpoint: string,
): Promise<{ url: string; child: ChildProcess }> {
  if (!contender.apiEnv) return startMinimalServer(databaseUrl, nodeArgs)
  // The built api as a process of its own, request logging off (the minimal handler logs nothing either).
  const api = await spawnApi({
    entry: fileURLToPath(import.meta.resolve('@classroom/api/main')),
    env: {
      ...contender.apiEnv(otlpEndpoint),
      DATABASE_URL: databaseUrl,
      LOG_LEVEL: 'warn',
      DB_MIGRATE_ON_START: 'false',
    },
    nodeArgs,
  })
  return { url: api.url, child: api.child }
}

async function startMinimalServer(databaseUrl: string, nodeArgs: readonly string[]) {
  const port = await findFreePort()
  const child = spawn(process.execPath, [...nodeArgs, path.join(HERE, 'minimal-server.js')], {
    env: { ...process.env, DATABASE_URL: databaseUrl, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  await new Promise<void>((resolve, reject) => {
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      if (chunk.includes('listening')) resolve()
    })
    child.once('exit', (code) => reject(new Error(`the minimal server exited with ${code}`)))
  })
  return { url: `http://127.0.0.1:${port}`, child }
}
