import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import {
  README,
  readmeSettingsTable as readmeTable,
  renderSettingsTable as renderReadmeTable,
  withSettingsTable as withReadmeTable,
} from '../scripts/settings-table.js'
import { OPTION_RULES } from '../src/config/db-config.js'
import { envDefault } from '../src/config/env-settings.js'
import {
  DB_ENV_SETTINGS,
  dbEnvSpec,
  LOGGER_ENV_SETTINGS,
  readmeSettingsTable,
  renderSettingsTable,
  withSettingsTable,
} from '../src/env.js'

// db-core's README holds the table with each variable's unit and typed option beside it.
const readmeTableNow = () =>
  renderReadmeTable({ settings: DB_ENV_SETTINGS, loggerSettings: LOGGER_ENV_SETTINGS, envDefault })

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
  it("db-core's README settings table is the one made from the settings list (run the settings-table script after a change)", () => {
    const text = readFileSync(README, 'utf8')
    // Compared cell by cell: the formatter may pad the columns.
    expect(cells(readmeTable(text))).toEqual(cells(readmeTableNow()))
  })

  it("the README's table names every variable once, with its unit, its typed option and the default of the settings list", () => {
    const rows = cells(readmeTableNow()).slice(1)
    expect(rows.map(([name]) => name)).toEqual(
      [...DB_ENV_SETTINGS, ...LOGGER_ENV_SETTINGS].map((s) => `\`${s.name}\``),
    )
    const byName = new Map(rows.map((row) => [row[0], row]))
    expect(byName.get('`DB_POOL_TIMEOUT_SECONDS`')).toEqual([
      '`DB_POOL_TIMEOUT_SECONDS`',
      's',
      '`pool.acquireTimeoutMs` (ms)',
      '`30`',
      expect.any(String),
    ])
    expect(byName.get('`DB_POOL_SIZE`')?.slice(0, 4)).toEqual([
      '`DB_POOL_SIZE`',
      'count',
      '`pool.size`',
      '`20`',
    ])
    expect(byName.get('`DB_QUERY_TIMEOUT_MS`')?.slice(0, 4)).toEqual([
      '`DB_QUERY_TIMEOUT_MS`',
      'ms',
      '`session.queryTimeoutMs`',
      '`35000`',
    ])
  })

  it("the script rewrites only what stands between the markers of db-core's README", () => {
    const readme =
      'intro\n<!-- settings-table:begin (generated: pnpm --filter @classroom/db-core settings-table) -->\n| old |\n<!-- settings-table:end -->\noutro\n'
    const updated = withReadmeTable(readme, readmeTableNow())
    expect(readmeTable(updated)).toBe(readmeTableNow())
    expect(updated.startsWith('intro\n<!-- settings-table:begin')).toBe(true)
    expect(updated.endsWith('<!-- settings-table:end -->\noutro\n')).toBe(true)
    expect(() => withReadmeTable('no table here', '')).toThrow(/has no <!-- settings-table:begin/)
  })

  it('rewrites only the table between its markers, and names the markers when they are missing', () => {
    const readme =
      'intro\n<!-- settings-table:begin (generated: pnpm --filter @classroom/db-core settings-table) -->\n| old |\n<!-- settings-table:end -->\noutro\n'
    const updated = withSettingsTable(readme)
    expect(readmeSettingsTable(updated)).toBe(renderSettingsTable())
    expect(updated.startsWith('intro\n<!-- settings-table:begin')).toBe(true)
    expect(updated.endsWith('<!-- settings-table:end -->\noutro\n')).toBe(true)
    expect(() => withSettingsTable('no table here')).toThrow(/has no <!-- settings-table:begin/)
  })

  it('every typed option has exactly one variable, and every variable is in the env spec', () => {
    const paths = Object.entries(OPTION_RULES).flatMap(([section, rules]) =>
      Object.keys(rules).map((key) => `${section}.${key}`),
    )
    const options = DB_ENV_SETTINGS.map((s) => s.option)
    expect(new Set(options).size).toBe(options.length)
    expect([...paths, 'connectionString', 'passwordFile', 'pgbouncer'].sort()).toEqual([...options].sort())
    expect(Object.keys(dbEnvSpec).sort()).toEqual(DB_ENV_SETTINGS.map((s) => s.name).sort())
  })
})
