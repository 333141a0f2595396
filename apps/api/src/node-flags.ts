// The flags node runs the api with: `pnpm start` passes them, and so do the drills that start it as a process.

/**
 * V8's young generation capped at 16 MB a semi-space and its old generation at 128 MB. Left to
 * itself on a machine with gigabytes, V8 grows each semi-space to 64 MB under the api's allocation
 * rate and lets the old generation fill to 3 or 4 times its live data (about 30 MB) before a
 * mark-compact; the pages it commits for both stay resident: RSS 310 MB. With these, about 155 MB,
 * at a throughput the steady drill cannot tell apart (apps/api/README.md, "Memory"). A heap whose
 * live data outgrew 128 MB would stop the api with V8's out-of-memory error: give it more with
 * `node --max-old-space-size=N dist/main.js`, and a container as much again.
 *
 * ```ts
 * spawn(process.execPath, [...API_NODE_FLAGS, entry])
 * ```
 */
export const API_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=16', '--max-old-space-size=128']
