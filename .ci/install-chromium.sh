#!/usr/bin/env bash
# Installs Debian's Chromium for the browser tier (pytest -m browser), and CJK fonts so
# the console's screenshots show Chinese instead of boxes. Playwright drives this binary
# (executable_path=/usr/bin/chromium); `playwright install` is never used: it downloads a
# browser build of its own, which CI cannot fetch.
set -euo pipefail

export DEBIAN_FRONTEND=noninteractive

if [[ $(id -u) -ne 0 ]]; then
    echo "install-chromium.sh: must run as root (apt-get install)" >&2
    exit 1
fi

bash "$(dirname "$0")/apt-install.sh" chromium fonts-noto-cjk

/usr/bin/chromium --version
