import { LOGGER_ENV_SETTINGS } from '../logging/winston-logger.js'
import { DB_ENV_SETTINGS, envDefault } from './env-settings.js'

/**
 * The README's settings table (markdown), made from {@link DB_ENV_SETTINGS} and the logger's
 * variables: names, defaults and meanings have one source. A test keeps the README equal to it;
 * `pnpm --filter @classroom/db-core settings-table` rewrites it.
 *
 * ```ts
 * const table = renderSettingsTable()
 * table.startsWith('| variable | default | meaning |') // true
 * ```
 */
export function renderSettingsTable(): string {
  const rows = [
    ...DB_ENV_SETTINGS.map((s) => [s.name, s.defaultText ?? codeOrEmpty(envDefault(s)), s.meaning]),
    ...LOGGER_ENV_SETTINGS.map((s) => [s.name, codeOrEmpty(s.default), s.meaning]),
  ]
  return [
    '| variable | default | meaning |',
    '| --- | --- | --- |',
    ...rows.map(([name, fallback, meaning]) => `| \`${name}\` | ${fallback} | ${meaning} |`),
  ].join('\n')
}

function codeOrEmpty(value: unknown): string {
  return value === undefined ? '' : `\`${String(value)}\``
}
