import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vitest/config'

// k6's modules exist only inside the k6 binary: the options test imports the real scripts with
// these stand-ins, which provide the names the scripts touch at import time and nothing else.
const k6Runtime = fileURLToPath(new URL('./test/k6-runtime.ts', import.meta.url))

export default defineConfig({
  resolve: {
    alias: [{ find: /^k6(\/.*)?$/, replacement: k6Runtime }],
  },
  test: {
    globalSetup: ['@classroom/local-postgres/vitest-global-setup'],
    setupFiles: ['./test/k6-globals.ts'],
    testTimeout: 120_000,
    hookTimeout: 60_000,
  },
})
