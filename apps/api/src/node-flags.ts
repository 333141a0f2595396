// The flags node runs the api with: `pnpm start` passes them, and so do the drills that start it as a process.

/**
 * V8's young generation capped at 16 MB a semi-space. Left to itself on a machine with gigabytes,
 * V8 grows each semi-space to 64 MB under the api's allocation rate, which commits 128 MB of pages
 * that are garbage between scavenges and never handed back: RSS 310 MB instead of about 220 MB
 * (apps/api/README.md, "Memory"). A scavenge then runs four times as often, each over as few
 * survivors, at no throughput cost the steady drill can tell.
 *
 * ```ts
 * spawn(process.execPath, [...API_NODE_FLAGS, entry])
 * ```
 */
export const API_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=16']
