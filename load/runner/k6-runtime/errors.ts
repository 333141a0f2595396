/** k6's exit codes, which the built-in engine gives for the same causes. */
export const EXIT_CODES = {
  ok: 0,
  /** A threshold was breached. */
  thresholdsFailed: 99,
  /** The script could not be loaded, or setup()/teardown() threw. */
  scriptError: 107,
  /** The script called `exec.test.abort()`. */
  scriptAborted: 108,
} as const

/**
 * A script that cannot run here: an import outside the supported k6 subset, bad options, an
 * invalid threshold. Raised at load time, before any VU starts, with what is wrong and what is expected.
 */
export class K6ScriptError extends Error {
  override readonly name = 'K6ScriptError'
}
