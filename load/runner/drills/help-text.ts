// The pieces every drill's help shares.

export const OPTIONS = `  --results-dir DIR        where <scenario>-<time>/ goes (default load/results; relative to where you
                           typed the command)
  --engine node|k6         k6 when it is on PATH, or the built-in engine (default: node)
  -h, --help               this text`

export const API_ENV = `  DB_POOL_* and friends    reach the api unchanged, e.g. DB_POOL_PRE_PING_IDLE_MS=0`

export const COMMON = `${OPTIONS}

  DATABASE_URL             load an existing database instead of an embedded one
${API_ENV}`

export const DRILL_EXIT = `exit codes: 0 passed, 99 a threshold breached, 1 only the write ledger failed, 2 a bad command line`

export const PHASE_FLAGS = `  --before N --window N --after N
                           phase lengths in seconds (default 20 each; the window at least 2)`
