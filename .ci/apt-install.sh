#!/usr/bin/env bash
# Installs the Debian packages named on the command line that are missing, with
# `apt-get update` at most once, and without letting their scripts start services
# (there may be no init system in CI, and tests start their own servers).
#
#   bash .ci/apt-install.sh dovecot-imapd
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

if [[ $(id -u) -ne 0 ]]; then
    echo "apt-install.sh: must run as root (apt-get install)" >&2
    exit 1
fi

missing=()
for package in "$@"; do
    status=$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null || true)
    if [[ $status != "install ok installed" ]]; then
        missing+=("$package")
    fi
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

# policy-rc.d exit code 101 tells invoke-rc.d not to start services during the
# install; only add one when none exists, and only for the install itself.
policy=/usr/sbin/policy-rc.d
own_policy=no
if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod 755 "$policy"
    own_policy=yes
fi
cleanup() { if [[ $own_policy == yes ]]; then rm -f "$policy"; fi; }
trap cleanup EXIT

apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
