#!/usr/bin/env bash
# Installs schemathesis, the OpenAPI fuzzer that crates/hookrelay/tests/cli/schemathesis.rs runs
# against the real binary's /openapi.json, into a virtualenv under target/schemathesis/ (skipped
# when the pinned version is already there). The version is pinned here; the test runs this script
# itself too, so `cargo test` alone also works.
set -euo pipefail
cd "$(dirname "$0")/.."
version=4.32.5
dest=target/schemathesis
if [ ! -x "$dest/venv/bin/schemathesis" ] \
  || [ "$("$dest/venv/bin/schemathesis" --version 2>/dev/null | awk '{print $NF}')" != "$version" ]; then
  echo "setup-schemathesis: installing schemathesis $version (PyPI) into $dest/venv" >&2
  mkdir -p "$dest"
  python3 -m venv "$dest/venv"
  "$dest/venv/bin/pip" install -q --disable-pip-version-check "schemathesis==$version"
fi
