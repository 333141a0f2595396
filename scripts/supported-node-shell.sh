#!/bin/sh
# pnpm's script shell (scriptShell in pnpm-workspace.yaml): every package script, root commands and
# install scripts alike, runs on a Node this project supports. When the `node` in PATH is one
# (package.json engines), the script runs as `sh` would run it and nothing is fetched; otherwise on
# Node .nvmrc from the npm registry, installed once into a cache (scripts/node-from-npm.sh), saying
# so in one line on stderr. By hand: `sh scripts/supported-node-shell.sh -c 'pnpm exec vitest run'`.
set -eu
scripts=$(dirname "$0")
if ! node "$scripts/node-support.mjs" 2>/dev/null; then
  have=$(node --version 2>/dev/null || echo "none")
  major=$(cat "$scripts/../.nvmrc")
  bin=$(bash "$scripts/node-from-npm.sh" "$major")
  PATH="$bin:$PATH"
  export PATH
  echo "Node $have is not one this project supports: running on Node $(node --version) from the npm registry ($bin)" >&2
fi
exec sh "$@"
