import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { OPTION_RULES } from '../src/config/db-config.js'
import {
  DB_ENV_SETTINGS,
  dbEnvSpec,
  LOGGER_ENV_SETTINGS,
  readmeSettingsTable,
  renderSettingsTable,
  withSettingsTable,
} from '../src/env.js'

// The table lives in db-core's own README, for the package's users.
const README = new URL('../README.md', import.meta.url)

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
    // Compared cell by cell: the formatter pads the columns.
    expect(cells(readmeSettingsTable(text))).toEqual(cells(renderSettingsTable()))
    const names = cells(renderSettingsTable())
      .slice(1)
      .map(([name]) => name)
    expect(names).toEqual(
      [...DB_ENV_SETTINGS, ...LOGGER_ENV_SETTINGS].map((setting) => `\`${setting.name}\``),
    )
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

  it('shows each variable beside the typed option it sets and its unit, seconds apart from milliseconds', () => {
    const rows = new Map(cells(renderSettingsTable()).map(([name, ...rest]) => [name, rest]))
    expect(rows.get('variable')).toEqual(['typed option', 'unit', 'default', 'meaning'])
    expect(rows.get('`DB_POOL_TIMEOUT_SECONDS`')?.slice(0, 3)).toEqual([
      '`pool.acquireTimeoutMs`',
      'seconds (option: ms)',
      '`30`',
    ])
    expect(rows.get('`DB_POOL_PRE_PING_TIMEOUT_MS`')?.slice(0, 2)).toEqual(['`pool.prePingTimeoutMs`', 'ms'])
    expect(rows.get('`DB_POOL_SIZE`')?.slice(0, 2)).toEqual(['`pool.size`', ''])
    expect(rows.get('`LOG_LEVEL`')?.slice(0, 2)).toEqual(['createLogger `level`', ''])
    for (const setting of DB_ENV_SETTINGS)
      expect(rows.get(`\`${setting.name}\``)?.[0]).toBe(`\`${setting.option}\``)
  })

  it('every typed option has exactly one variable, and every variable is in the env spec', () => {
    const paths = Object.entries(OPTION_RULES).flatMap(([section, rules]) =>
      Object.keys(rules).map((key) => `${section}.${key}`),
    )
    const options = DB_ENV_SETTINGS.map((s) => s.option)
    expect(new Set(options).size).toBe(options.length)
    expect([...paths, 'connectionString', 'passwordFile', 'pgbouncer', 'replicas.urls'].sort()).toEqual(
      [...options].sort(),
    )
    expect(Object.keys(dbEnvSpec).sort()).toEqual(DB_ENV_SETTINGS.map((s) => s.name).sort())
  })
})
