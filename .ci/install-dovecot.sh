#!/usr/bin/env bash
# Installs Debian's dovecot-imapd for the Dovecot test tier (pytest -m dovecot).
# The tests run their own dovecot with a throwaway config, so the packaged
# system service must not be left running: it would hold port 143 and its
# state would be something the tests silently depend on.
set -euo pipefail

export DEBIAN_FRONTEND=noninteractive

if [[ $(id -u) -ne 0 ]]; then
    echo "install-dovecot.sh: must run as root (apt-get install)" >&2
    exit 1
fi

bash "$(dirname "$0")/apt-install.sh" dovecot-imapd

# Whatever the init system did, make sure no packaged dovecot keeps running.
if command -v systemctl >/dev/null 2>&1 && [[ -d /run/systemd/system ]]; then
    systemctl disable --now dovecot.service dovecot.socket >/dev/null 2>&1 || true
fi
if [[ -s /run/dovecot/master.pid ]] && kill -0 "$(cat /run/dovecot/master.pid)" 2>/dev/null; then
    dovecot -c /etc/dovecot/dovecot.conf stop || true
fi

echo "dovecot $(dovecot --version)"
