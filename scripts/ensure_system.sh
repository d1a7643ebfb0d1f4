#!/usr/bin/env bash
# System packages the tests need that PyPI cannot provide: Debian's Chromium + ChromeDriver for the
# web page test. Installed once; a no-op when present.
set -euo pipefail
if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "chromium/chromedriver missing: run 'apt-get install -y chromium chromium-driver' as root" >&2
  exit 1
fi
echo "installing chromium + chromium-driver (Debian packages)" >&2
apt-get update -qq >&2
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >&2
