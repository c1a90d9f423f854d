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

installed() {
    local package
    for package in "$@"; do
        [[ $(dpkg-query -W -f='${Status}' "$package" 2>/dev/null) == "install ok installed" ]] \
            || return 1
    done
}

if ! installed chromium fonts-noto-cjk; then
    apt-get update -q
    apt-get install -y -q --no-install-recommends chromium fonts-noto-cjk
fi

/usr/bin/chromium --version
