#!/bin/sh
# Set-up the test suite needs beyond pip, run by the README's test command: Debian's chromium,
# which tests/test_browser.py drives (never a browser downloaded by Playwright). Installs it
# with apt-get when /usr/bin/chromium is missing (as root, or through sudo), else does nothing.
# CHROMIUM overrides the path looked at (for tests/test_readme.py).
set -eu
[ -x "${CHROMIUM:-/usr/bin/chromium}" ] && exit 0
if ! command -v apt-get >/dev/null; then
  echo "the browser tests need Debian's chromium at /usr/bin/chromium, and apt-get is missing" >&2
  exit 1
fi
if [ "$(id -u)" -eq 0 ]; then as_root=; else as_root=sudo; fi
echo "installing Debian's chromium for tests/test_browser.py" >&2
$as_root apt-get update
$as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium
