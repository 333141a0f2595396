#!/usr/bin/env bash
# CI: installs every platform's optional packages (pnpm install --force), as a Mac or an ARM machine
# installs its own, and fails when that install fails or rewrites pnpm-workspace.yaml (pnpm adds
# "set this to true or false" lines there for a dependency build allowBuilds does not name).
set -euo pipefail
cd "$(dirname "$0")/.."

before=$(mktemp)
trap 'rm -f "$before"' EXIT
cp pnpm-workspace.yaml "$before"
status=0
pnpm install --force --frozen-lockfile || status=$?
if ! cmp -s "$before" pnpm-workspace.yaml; then
  echo "pnpm install --force rewrote pnpm-workspace.yaml; name these builds in allowBuilds:" >&2
  diff -u "$before" pnpm-workspace.yaml >&2 || true
  cp "$before" pnpm-workspace.yaml
  status=1
fi
if [ "$status" -ne 0 ]; then
  echo "installing every platform's packages failed" >&2
  exit "$status"
fi
echo "every platform's packages installed; pnpm-workspace.yaml unchanged"
