#!/usr/bin/env bash
# Installs the official Standard Webhooks verifiers that the signing story tests check hookrelay's
# signatures with (crates/hookrelay/tests/story/signing_official.rs): the `standardwebhooks`
# package from PyPI into a virtualenv, and the one from npm, both under target/verifiers/.
# Versions are pinned here and in scripts/verifiers/package.json (with its package-lock.json).
set -euo pipefail
cd "$(dirname "$0")/.."
dest=target/verifiers
mkdir -p "$dest"
if [ ! -x "$dest/venv/bin/python" ] || ! "$dest/venv/bin/python" -c 'import standardwebhooks' 2>/dev/null; then
  echo "setup-verifiers: installing standardwebhooks (PyPI) into $dest/venv" >&2
  python3 -m venv "$dest/venv"
  "$dest/venv/bin/pip" install -q --disable-pip-version-check 'standardwebhooks==1.1.0'
fi
if [ ! -d "$dest/node/node_modules/standardwebhooks" ]; then
  echo "setup-verifiers: installing standardwebhooks (npm) into $dest/node" >&2
  mkdir -p "$dest/node"
  cp scripts/verifiers/package.json scripts/verifiers/package-lock.json "$dest/node/" 2>/dev/null \
    || cp scripts/verifiers/package.json "$dest/node/"
  (cd "$dest/node" && npm install --silent --no-audit --no-fund >/dev/null)
fi
