// The settings table of db-core's README: each variable beside the typed option it sets, its unit
// and its default, made from the one settings list. The lists are passed in, so the script (on the
// built package) and the test (on the sources) render the same table.

const BEGIN = '<!-- settings-table:begin (generated: pnpm --filter @classroom/db-core settings-table) -->'
const END = '<!-- settings-table:end -->'

// The logger's variables set `createLogger()` options.
const LOGGER_OPTIONS = { LOG_LEVEL: 'level', LOG_FORMAT: 'format' }

/** The README the table lives in: db-core's own. */
export const README = new URL('../README.md', import.meta.url)

/** A variable's unit, in the variable's terms (a seconds variable sets a millisecond option). */
function unitOf(setting, fallback) {
  if (setting.seconds) return 's'
  if (setting.name.endsWith('_MS')) return 'ms'
  if (setting.option === 'connectionString') return 'URL'
  if (setting.name.endsWith('_FILE')) return 'path'
  if (typeof fallback === 'boolean') return 'boolean'
  if (typeof fallback === 'number') return 'count'
  return 'one of'
}

function codeOrEmpty(value) {
  return value === undefined ? '' : `\`${String(value)}\``
}

/**
 * The table as markdown. `settings`: `DB_ENV_SETTINGS`; `loggerSettings`: `LOGGER_ENV_SETTINGS`;
 * `envDefault`: a setting's default in its variable's unit.
 */
export function renderSettingsTable({ settings, loggerSettings, envDefault }) {
  const rows = [
    ...settings.map((s) => {
      const fallback = envDefault(s)
      const option = s.seconds ? `\`${s.option}\` (ms)` : `\`${s.option}\``
      return [s.name, unitOf(s, fallback), option, s.defaultText ?? codeOrEmpty(fallback), s.meaning]
    }),
    ...loggerSettings.map((s) => [
      s.name,
      'one of',
      `\`createLogger({ ${LOGGER_OPTIONS[s.name]} })\``,
      codeOrEmpty(s.default),
      s.meaning,
    ]),
  ]
  return [
    '| variable | unit | typed option | default | meaning |',
    '| --- | --- | --- | --- | --- |',
    ...rows.map(
      ([name, unit, option, fallback, meaning]) =>
        `| \`${name}\` | ${unit} | ${option} | ${fallback} | ${meaning} |`,
    ),
  ].join('\n')
}

/** Where the table stands in a README: between its two markers. */
function tableBounds(readme) {
  const start = readme.indexOf(BEGIN)
  const end = readme.indexOf(END)
  if (start < 0 || end < start) throw new Error(`the README has no ${BEGIN} ... ${END} section`)
  return { start: start + BEGIN.length, end }
}

/** The table a README holds now. */
export function readmeSettingsTable(readme) {
  const { start, end } = tableBounds(readme)
  return readme.slice(start, end).trim()
}

/** The README with `table` between the markers, everything else as it was. */
export function withSettingsTable(readme, table) {
  const { start, end } = tableBounds(readme)
  return `${readme.slice(0, start)}\n${table}\n${readme.slice(end)}`
}
