import { createServer } from 'node:http'

/**
 * An OTLP/HTTP endpoint that takes every export and keeps nothing: where the traced api row sends
 * its spans, so the row measures the api's cost of tracing (recording, batching, encoding, sending)
 * and not a collector's. It runs in the bench's own process, beside the load generator.
 */
export async function startOtlpSink(): Promise<{ endpoint: string; close(): Promise<void> }> {
  const server = createServer((request, response) => {
    request.resume().on('end', () => response.writeHead(200).end())
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  return {
    endpoint: `http://127.0.0.1:${port}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  }
}
