import { fileURLToPath } from 'node:url'
import { defineTestConfig } from '@classroom/test-kit/vitest-config'

// k6's modules exist only inside the k6 binary: the options test imports the real scripts with
// these stand-ins, which provide the names the scripts touch at import time and nothing else.
const k6Runtime = fileURLToPath(new URL('./test/k6-runtime.ts', import.meta.url))

export default defineTestConfig(
  { database: true, testTimeoutMs: 120_000 },
  {
    resolve: { alias: [{ find: /^k6(\/.*)?$/, replacement: k6Runtime }] },
    test: { setupFiles: ['./test/k6-globals.ts'] },
  },
)
