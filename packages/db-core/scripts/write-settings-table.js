// Rewrites the settings table in db-core's README from db-core's settings list (run after `pnpm build`),
// then formats the README as biome would (it pads the table's columns), so `biome check` stays clean.
import { execFileSync } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { withSettingsTable } from '../dist/config/settings-table.js'

const README = fileURLToPath(new URL('../README.md', import.meta.url))
writeFileSync(README, withSettingsTable(readFileSync(README, 'utf8')))
execFileSync('pnpm', ['exec', 'biome', 'format', '--write', README], { stdio: 'inherit' })
