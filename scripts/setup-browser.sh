#!/usr/bin/env bash
# Makes sure Debian's Chromium and ChromeDriver are installed: the web console's story tests
# drive /usr/bin/chromium through /usr/bin/chromedriver (crates/hookrelay/tests/story/browser.rs).
set -euo pipefail
if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then
  exit 0
fi
echo "setup-browser: installing chromium and chromium-driver" >&2
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
/usr/bin/chromedriver --version >&2
