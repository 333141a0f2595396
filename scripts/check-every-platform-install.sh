#!/usr/bin/env bash
# CI: installs every platform's optional packages (status=0
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
