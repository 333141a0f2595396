import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { OPTION_RULES } from '../src/config/db-config.js'
import { DB_ENV_SETTINGS, dbEnvSpec, renderSettingsTable } from '../src/env.js'

const README = new URL('../../../README.md', import.meta.url)
const BEGIN = '<!-- settings-table:begin (generated: pnpm --filter @classroom/db-core settings-table) -->'
const END = '<!-- settings-table:end -->'

/** A markdown table's rows as trimmed cells, the separator row left out. */
function cells(table: string): string[][] {
  return table
    .trim()
    .split('\n')
    .map((row) =>
      row
        .split('|')
        .slice(1, -1)
        .map((cell) => cell.trim()),
    )
    .filter((row) => !row.every((cell) => /^-+$/.test(cell)))
}

describe('the settings have one source', () => {
  it("the README's settings table is the one made from the settings list (run the settings-table script after a change)", () => {
    const text = readFileSync(README, 'utf8')
    const start = text.indexOf(BEGIN)
    const end = text.indexOf(END)
    expect(start, 'README.md has the generated settings section').toBeGreaterThan(-1)
    // Compared cell by cell: the formatter may pad the columns.
    expect(cells(text.slice(start + BEGIN.length, end))).toEqual(cells(renderSettingsTable()))
  })

  it('every typed option has exactly one variable, and every variable is in the env spec', () => {
    const paths = Object.entries(OPTION_RULES).flatMap(([section, rules]) =>
      Object.keys(rules).map((key) => `${section}.${key}`),
    )
    const options = DB_ENV_SETTINGS.map((s) => s.option)
    expect(new Set(options).size).toBe(options.length)
    expect([...paths, 'connectionString', 'pgbouncer'].sort()).toEqual([...options].sort())
    expect(Object.keys(dbEnvSpec).sort()).toEqual(DB_ENV_SETTINGS.map((s) => s.name).sort())
  })
})
