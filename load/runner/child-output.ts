// What a child process printed, and how it ended: collected for the callers that judge it afterwards.
import type { ChildProcessWithoutNullStreams } from 'node:child_process'

/** Resolves once the child closed, with its exit code and all it wrote on stdout and stderr. */
export function outputOf(
  child: ChildProcessWithoutNullStreams,
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk
  })
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk
  })
  return new Promise((resolve, reject) => {
    child.once('error', reject)
    child.once('close', (status) => resolve({ status, stdout, stderr }))
  })
}
