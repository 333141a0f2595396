// Rewrites the settings table in db-core's README from db-core's settings list (run after `pnpm build`),
// then formats the README as biome would (it pads the table's columns), so `biome check` stays clean.
import { execFileSync } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { DB_ENV_SETTINGS, envDefault } from '../dist/config/env-settings.js'
import { LOGGER_ENV_SETTINGS } from '../dist/config/logger-env.js'
import { README, renderSettingsTable, withSettingsTable } from './settings-table.js'

const table = renderSettingsTable({
  settings: DB_ENV_SETTINGS,
  loggerSettings: LOGGER_ENV_SETTINGS,
  envDefault,
})
writeFileSync(README, withSettingsTable(readFileSync(README, 'utf8'), table))
execFileSync('pnpm', ['exec', 'biome', 'format', '--write', fileURLToPath(README)], { stdio: 'inherit' })
