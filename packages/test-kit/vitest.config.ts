// The package's own built config (tests run after build).
import { defineTestConfig } from './dist/vitest-config.js'

export default defineTestConfig({ database: false })
