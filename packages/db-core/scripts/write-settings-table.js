// Rewrites the README's settings table from db-core's settings list (run after `pnpm build`).
import { readFileSync, writeFileSync } from 'node:fs'
import { renderSettingsTable } from '../dist/env.js'

const README = new URL('../../../README.md', import.meta.url)
const BEGIN = '<!-- settings-table:begin (generated: pnpm --filter @classroom/db-core settings-table) -->'
const END = '<!-- settings-table:end -->'

const text = readFileSync(README, 'utf8')
const start = text.indexOf(BEGIN)
const end = text.indexOf(END)
if (start < 0 || end < start) throw new Error(`README.md has no ${BEGIN} ... ${END} section`)
writeFileSync(README, `${text.slice(0, start + BEGIN.length)}\n${renderSettingsTable()}\n${text.slice(end)}`)
