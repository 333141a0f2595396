#!/usr/bin/env bash
# Prepares a machine that has Node and npm, any versions: a supported Node (the one in PATH, else
# Node .nvmrc from the npm registry, once), the pinned pnpm, then the locked dependencies. pnpm runs
# every script on that Node (scripts/supported-node-shell.sh). Used by the quick start and .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."

sh scripts/supported-node-shell.sh -c true
pnpm_version=$(sed -n 's/.*"packageManager": *"pnpm@\([^"]*\)".*/\1/p' package.json)
if [ "$(pnpm --version 2>/dev/null || true)" != "$pnpm_version" ]; then
  # With the machine's npm, so that pnpm lands in its PATH; pnpm 12 is a native program, on any Node.
  echo "installing pnpm $pnpm_version"
  npm install --global --no-fund --no-audit "pnpm@$pnpm_version"
fi
pnpm install --frozen-lockfile
