// The command line's help: one text per subcommand (each drill's from its record), and the overview `pnpm load --help` prints.
import { DRILL_NAMES, DRILLS } from './drills/index.js'

const RUN_USAGE = `usage: pnpm load run <script.js|script.ts> [-e KEY=VALUE ...] [--engine node|k6]

  A k6 script of your own, as \`k6 run\` runs it, against the api you point it at (-e BASE_URL=...).
  The path is relative to where you typed the command. The supported k6 subset: load/README.md.

  -e, --env KEY=VALUE      __ENV.KEY in the script (repeatable)
  --engine node|k6         a real k6 when it is on PATH, or the built-in engine (default: node)
  -h, --help               this text

exit codes (k6's): 0 passed, 99 a threshold breached, 107 the script cannot run here (what is not
supported is named) or setup()/teardown() threw, 108 exec.test.abort(); 2 a bad command line`

/** Each subcommand's help, as `pnpm load <subcommand> --help` prints it. */
export const SUBCOMMAND_USAGE: Readonly<Record<string, string>> = {
  ...Object.fromEntries(DRILL_NAMES.map((name) => [name, DRILLS[name].usage])),
  run: RUN_USAGE,
}

export type Subcommand = keyof typeof SUBCOMMAND_USAGE

/** `pnpm load --help`: the subcommands in one screen. */
export const USAGE = `usage: pnpm load <${DRILL_NAMES.join('|')}> [options]
       pnpm load run <script.js|script.ts> [-e KEY=VALUE ...] [--engine node|k6]
       pnpm load <subcommand> --help

${DRILL_NAMES.map((name) => DRILLS[name].overview).join('\n')}
  run SCRIPT               a k6 script of your own, as \`k6 run\` runs it (exit codes 0/99/107/108, as k6)

The users' guide: load/README.md`
