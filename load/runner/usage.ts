// The command line's help: one text per subcommand, and the overview `pnpm load --help` prints.

const OPTIONS = `  --results-dir DIR        where <scenario>-<time>/ goes (default load/results; relative to where you
                           typed the command)
  --engine node|k6         k6 when it is on PATH, or the built-in engine (default: node)
  -h, --help               this text`

const API_ENV = `  DB_POOL_* and friends    reach the api unchanged, e.g. DB_POOL_PRE_PING_IDLE_MS=0`

const COMMON = `${OPTIONS}

  DATABASE_URL             load an existing database instead of an embedded one
${API_ENV}`

const DRILL_EXIT = `exit codes: 0 passed, 99 a threshold breached, 1 only the write ledger failed, 2 a bad command line`

/** Each subcommand's help, as `pnpm load <subcommand> --help` prints it. */
export const SUBCOMMAND_USAGE = {
  steady: `usage: pnpm load steady [--duration N] [--warmup N] [options]

  50 users, closed loop, against the api on an embedded PostgreSQL: a warm-up stage ramping the users
  up (shown, not judged), then --duration seconds judged by the thresholds.

  --duration N             seconds of judged load (default 60)
  --warmup N               seconds of warm-up before it, users ramping 1 → 50 (default 5; 0: none)
${COMMON}

${DRILL_EXIT}`,
  soak: `usage: pnpm load soak [--duration N] [--warmup N] [options]

  steady for 30 minutes: the same users, mix and thresholds, with --duration 1800 unless given. Any
  steady run whose api scrapes after its first 120 s span 600 s (a --duration of 720 or more) is
  judged on the api's memory too: its RSS trend at most 5 MB per 10 min and its heap after GC at most
  2 MB per 10 min, both after those 120 s. Loads the machine for the whole run: not for CI.

  --duration N             seconds of judged load (default 1800)
  --warmup N               seconds of warm-up before it, users ramping 1 → 50 (default 5; 0: none)
${COMMON}

${DRILL_EXIT}`,
  restart: `usage: pnpm load restart [--before N --window N --after N] [--mode fast|immediate] [--down-seconds N] [options]

  50 users through three phases; PostgreSQL restarts 1 s into the window.

  --before N --window N --after N
                           phase lengths in seconds (default 20 each; the window at least 2)
  --mode fast|immediate    PostgreSQL shutdown mode (default fast)
  --down-seconds N         keep PostgreSQL down N seconds (default 0)
${COMMON}
  DB_RESTART_COMMAND       with DATABASE_URL: the shell command that restarts it (it receives
                           DB_RESTART_MODE and DB_DOWN_SECONDS)

${DRILL_EXIT}`,
  failover: `usage: pnpm load failover [--before N --window N --after N] [--mode fast|immediate] [--promote-after N] [--async] [--via hosts|proxy] [options]

  The same phases on a primary and a standby; the primary is killed 1 s into the window and the
  standby promoted --promote-after seconds later.

  --before N --window N --after N
                           phase lengths in seconds (default 20 each; the window at least 2)
  --mode fast|immediate    how the primary is killed (default immediate)
  --promote-after N        seconds from the kill to the promotion (default 1)
  --async                  asynchronous replication (default synchronous)
  --via hosts|proxy        the api gets the multi-host URL with target_session_attrs=read-write
                           (default), or one address re-pointed to the promoted node (a VIP, a DNS name)
${COMMON}
  DB_FAILOVER_COMMAND      with DATABASE_URL: the shell command that kills the primary and promotes a
                           standby, returning once it is promoted (it receives DB_FAILOVER_MODE and
                           DB_PROMOTE_AFTER_SECONDS)

${DRILL_EXIT}`,
  replicas: `usage: pnpm load replicas [--before N --window N --after N] [--down-seconds N] [--mode fast|immediate] [--read-your-writes on|off] [options]

  The same phases on a primary and two asynchronous standbys the api reads from (DATABASE_READ_URLS).
  Each user writes (enrolls, drops, creates a student) and reads its write back with the
  Read-Position the write answered; the stale-read ledger counts read-backs that miss their write.
  The second standby is stopped 1 s into the window and started again --down-seconds later, while
  the first stops replaying (falls behind) for as long: no request may fail. The summary gives the reads each target served, from the api's /metrics.

  --before N --window N --after N
                           phase lengths in seconds (default 20 each; the window at least 2)
  --down-seconds N         seconds the standby stays stopped and the other behind (default 5)
  --mode fast|immediate    how the standby is stopped (default fast)
  --read-your-writes on|off
                           on (default): reads follow the users' positions; the run fails on any
                           stale read. off: the api runs with DB_READ_YOUR_WRITES=false, reads go to
                           any healthy standby; the run reports the stale reads it saw and passes
                           only if it saw some (proof the ledger sees them)
${OPTIONS}

${API_ENV}, DB_REPLICA_MAX_LAG_MS=1000

exit codes: 0 passed, 99 a threshold breached (a stale read breaches stale_reads), 1 only a ledger failed
(the write ledger, or the stale-read ledger: a stale read; with --read-your-writes off, none seen),
2 a bad command line`,
  run: `usage: pnpm load run <script.js|script.ts> [-e KEY=VALUE ...] [--engine node|k6]

  A k6 script of your own, as \`k6 run\` runs it, against the api you point it at (-e BASE_URL=...).
  The path is relative to where you typed the command. The supported k6 subset: load/README.md.

  -e, --env KEY=VALUE      __ENV.KEY in the script (repeatable)
  --engine node|k6         a real k6 when it is on PATH, or the built-in engine (default: node)
  -h, --help               this text

exit codes (k6's): 0 passed, 99 a threshold breached, 107 the script cannot run here (what is not
supported is named) or setup()/teardown() threw, 108 exec.test.abort(); 2 a bad command line`,
} as const

export type Subcommand = keyof typeof SUBCOMMAND_USAGE

/** `pnpm load --help`: the subcommands in one screen. */
export const USAGE = `usage: pnpm load <steady|soak|restart|failover|replicas> [options]
       pnpm load run <script.js|script.ts> [-e KEY=VALUE ...] [--engine node|k6]
       pnpm load <subcommand> --help

  steady                   50 users: a warm-up stage, then --duration seconds (default 60) judged
  soak                     steady for 30 minutes (--duration 1800), judged on the api's memory trend too
  restart                  50 users through --before, --window, --after; PostgreSQL restarts 1 s into the window
  failover                 the same phases on a primary and a standby; the primary is killed 1 s into
                           the window and the standby promoted --promote-after seconds later
  replicas                 the same phases on a primary and two standbys the api reads from; each user
                           reads its own writes back (stale reads fail the run); a standby stopped and
                           started in the window. --read-your-writes off: the api without read-your-writes,
                           the run passes only if it saw stale reads
  run SCRIPT               a k6 script of your own, as \`k6 run\` runs it (exit codes 0/99/107/108, as k6)

The users' guide: load/README.md`
