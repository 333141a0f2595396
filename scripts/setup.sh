#!/usr/bin/env bash
# Prepares a machine that has only a supported Node (package.json engines, .nvmrc) and npm: the
# pinned pnpm, then the locked dependencies. Stops at once, saying what to install, on another Node.
# Used by the README's quick start and by .ci/run alike.
set -euo pipefail
cd "$(dirname "$0")/.."

node scripts/node-support.mjs
pnpm_version=$(node -p "require('./package.json').packageManager.split('@')[1]")
if [ "$(pnpm --version 2>/dev/null || true)" != "$pnpm_version" ]; then
  echo "installing pnpm $pnpm_version"
  npm install --global --no-fund --no-audit "pnpm@$pnpm_version"
fi
pnpm install --frozen-lockfile
