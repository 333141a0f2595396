import { DB_ENV_SETTINGS, type EnvSetting, envDefault } from './env-settings.js'
import { LOGGER_ENV_SETTINGS } from './logger-env.js'

/**
 * The README's settings table (markdown), made from {@link DB_ENV_SETTINGS} and the logger's
 * variables: names, typed options, units, defaults and meanings have one source. Each variable
 * stands beside the typed option it sets and its unit, so the seconds of a `*_SECONDS` variable
 * are seen to land in a millisecond option. A test keeps the README equal to it;
 * `pnpm --filter @classroom/db-core settings-table` rewrites it.
 *
 * ```ts
 * const table = renderSettingsTable()
 * table.startsWith('| variable | typed option | unit | default | meaning |') // true
 * ```
 */
export function renderSettingsTable(): string {
  const rows = [
    ...DB_ENV_SETTINGS.map((s) => [
      s.name,
      `\`${s.option}\``,
      unitOf(s),
      s.defaultText ?? codeOrEmpty(envDefault(s)),
      s.meaning,
    ]),
    // The logger's variables are named after createLogger's options: LOG_LEVEL sets `level`.
    ...LOGGER_ENV_SETTINGS.map((s) => [
      s.name,
      `createLogger \`${s.name.replace(/^LOG_/, '').toLowerCase()}\``,
      '',
      codeOrEmpty(s.default),
      s.meaning,
    ]),
  ]
  return [
    '| variable | typed option | unit | default | meaning |',
    '| --- | --- | --- | --- | --- |',
    ...rows.map(
      ([name, option, unit, fallback, meaning]) =>
        `| \`${name}\` | ${option} | ${unit} | ${fallback} | ${meaning} |`,
    ),
  ].join('\n')
}

/** A variable's unit and, when it differs, its option's: seconds in the variable, milliseconds in the option. */
function unitOf(setting: EnvSetting): string {
  if (setting.seconds) return 'seconds (option: ms)'
  return setting.option.endsWith('Ms') ? 'ms' : ''
}

const BEGIN = '<!-- settings-table:begin (generated: pnpm --filter @classroom/db-core settings-table) -->'
const END = '<!-- settings-table:end -->'

/** Where the generated table stands in a README: between its two markers. */
function tableBounds(readme: string): { start: number; end: number } {
  const start = readme.indexOf(BEGIN)
  const end = readme.indexOf(END)
  if (start < 0 || end < start) throw new Error(`the README has no ${BEGIN} ... ${END} section`)
  return { start: start + BEGIN.length, end }
}

/**
 * The settings table a README holds now (between the generator's markers).
 *
 * ```ts
 * import { readFileSync } from 'node:fs'
 *
 * const current = readmeSettingsTable(readFileSync('README.md', 'utf8'))
 * ```
 */
export function readmeSettingsTable(readme: string): string {
  const { start, end } = tableBounds(readme)
  return readme.slice(start, end).trim()
}

/**
 * The README with its settings table made anew from the settings list.
 *
 * ```ts
 * import { readFileSync, writeFileSync } from 'node:fs'
 *
 * writeFileSync('README.md', withSettingsTable(readFileSync('README.md', 'utf8')))
 * ```
 */
export function withSettingsTable(readme: string): string {
  const { start, end } = tableBounds(readme)
  return `${readme.slice(0, start)}\n${renderSettingsTable()}\n${readme.slice(end)}`
}

function codeOrEmpty(value: unknown): string {
  return value === undefined ? '' : `\`${String(value)}\``
}
