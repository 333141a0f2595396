import { defineTestConfig } from '@classroom/test-kit/vitest-config'

export default defineTestConfig({ database: true })
