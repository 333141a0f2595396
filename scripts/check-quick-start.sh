#!/usr/bin/env bash
# CI: the README's quick start as a newcomer types it, in a fresh clone of this repository's HEAD, on
# a machine whose Node is the given major (default 20, which the project does not support) from the
# npm registry: `bash scripts/setup.sh && pnpm start` must bring a supported Node by itself, serve
# GET / and /healthz, print the URL to open, and stop on Ctrl-C (SIGINT) with exit 0.
set -euo pipefail
major=${1:-20}
root=$(cd "$(dirname "$0")/.." && pwd)
node_bin=$(bash "$root/scripts/node-from-npm.sh" "$major")

work=$(mktemp -d)
# PostgreSQL runs as its own user when we are root: it must reach the data directory in here.
chmod 755 "$work"
pid=
cleanup() {
  if [ -n "$pid" ]; then kill -KILL -- "-$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
git clone --quiet "$root" "$work/clone"
cd "$work/clone"

# That Node first in PATH, as on such a machine; npm puts pnpm beside it (its global prefix).
export PATH="$node_bin:$PATH"
echo "=== the quick start on a fresh clone, on Node $(node --version) (from the npm registry) ==="
bash scripts/setup.sh

# PORT=0: a free port (the URL comes from the start's own line); the database in the clone's folder.
# Its own process group, so that Ctrl-C reaches pnpm and the api as a terminal's would.
PORT=0 EMBEDDED_PG_DATA_DIR="$work/postgres" setsid pnpm start >"$work/start.log" 2>&1 &
pid=$!
url=
for _ in $(seq 1 600); do
  url=$(sed -n 's|.*api listening: open \(http://[0-9.:]*\)/ .*|\1|p' "$work/start.log" | head -n 1)
  if [ -n "$url" ] || ! kill -0 "$pid" 2>/dev/null; then break; fi
  sleep 0.5
done
fail() {
  echo "quick start: $1; what pnpm start printed:" >&2
  cat "$work/start.log" >&2
  exit 1
}
[ -n "$url" ] || fail "pnpm start did not say which URL to open"
grep -q "^Node v$major\..* is not one this project supports: running on Node v" "$work/start.log" ||
  fail "pnpm start did not say which Node it runs on instead of Node $major"
curl -fsS "$url/healthz" | grep -q '"status":"ok"' || fail "GET $url/healthz did not answer ok"
curl -fsS "$url/" | grep -q '"href":"/documentation"' || fail "GET $url/ did not link the reference"
curl -fsS -H 'accept: text/html' "$url/documentation" | grep -q 'swagger-ui' ||
  fail "GET $url/documentation did not serve the reference page"

kill -INT -- "-$pid"
status=0
wait "$pid" || status=$?
pid=
grep -q '"message":"shut down"' "$work/start.log" || fail "the api did not shut down on SIGINT (exit $status)"
echo "quick start on Node $major: pnpm start served $url (/, /healthz, /documentation) and shut down on SIGINT"
