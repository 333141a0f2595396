// Types of settings-table.js, for the test that keeps the README's table equal to the settings list.
import type { EnvSetting } from '../src/config/env-settings.js'

export interface SettingsLists {
  readonly settings: readonly EnvSetting[]
  readonly loggerSettings: readonly {
    readonly name: string
    readonly default: string
    readonly meaning: string
  }[]
  readonly envDefault: (setting: EnvSetting) => string | number | boolean | undefined
}

export declare const README: URL
export declare function renderSettingsTable(lists: SettingsLists): string
export declare function readmeSettingsTable(readme: string): string
export declare function withSettingsTable(readme: string, table: string): string
