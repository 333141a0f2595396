// Rewrites the README's settings table from db-core's settings list (run after `pnpm build`).
import { readFileSync, writeFileSync } from 'node:fs'
import { withSettingsTable } from '../dist/env.js'

const README = new URL('../../../README.md', import.meta.url)
writeFileSync(README, withSettingsTable(readFileSync(README, 'utf8')))
