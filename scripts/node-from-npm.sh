#!/usr/bin/env bash
# Prints the directory of a `node` of the given major version, installed when missing from the npm
# registry's node-<os>-<arch> package into a cache: how CI runs a supported Node on any machine.
#
#   PATH="$(bash scripts/node-from-npm.sh 24):$PATH"
set -euo pipefail
major=${1:?usage: node-from-npm.sh <major version, e.g. 24>}

case "$(uname -s)" in
  Linux) os=linux ;;
  Darwin) os=darwin ;;
  *) echo "node-from-npm.sh: npm has no Node package for $(uname -s); install Node $major yourself" >&2; exit 1 ;;
esac
case "$(uname -m)" in
  x86_64 | amd64) arch=x64 ;;
  aarch64 | arm64) arch=arm64 ;;
  ppc64le) arch=ppc64le ;;
  s390x) arch=s390x ;;
  *) echo "node-from-npm.sh: npm has no Node package for $(uname -m); install Node $major yourself" >&2; exit 1 ;;
esac

package="node-$os-$arch"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/classroom-engine/$package-$major"
bin="$cache/node_modules/$package/bin"
if ! "$bin/node" --version 2>/dev/null | grep -q "^v$major\."; then
  echo "installing Node $major from the npm registry ($package@$major) into $cache" >&2
  mkdir -p "$cache"
  if ! npm install --prefix "$cache" --no-save --no-package-lock --no-fund --no-audit "$package@$major" >&2; then
    echo "node-from-npm.sh: could not install $package@$major from the npm registry; install Node $major yourself" >&2
    exit 1
  fi
fi
version=$("$bin/node" --version)
case "$version" in
  "v$major".*) echo "$bin" ;;
  *) echo "node-from-npm.sh: $bin/node is $version, not Node $major" >&2; exit 1 ;;
esac
