#!/usr/bin/env bash
# Installs Debian's podman with the runc runtime (no Docker engine on CI machines) and
# debootstrap, which makes the base image from Debian packages (.ci/base-image.sh).
#
#   bash .ci/install-podman.sh        # as root; idempotent
set -euo pipefail

if [[ $(id -u) -ne 0 ]]; then
    echo "install-podman.sh: must run as root (apt-get install)" >&2
    exit 1
fi

bash "$(dirname "$0")/apt-install.sh" podman runc debootstrap

# Podman as root gives each container nofile=1048576, above the hard limit CI's own
# sandbox allows (20000), so no container would start: inherit the host's limits instead.
# runc is the runtime that works here; naming it lets the plain README commands run.
conf=/etc/containers/containers.conf
if [[ ! -e $conf ]]; then
    mkdir -p /etc/containers
    printf '[containers]\ndefault_ulimits = []\n\n[engine]\nruntime = "runc"\n' >"$conf"
elif ! grep -q '^default_ulimits' "$conf"; then
    echo "install-podman.sh: $conf exists without default_ulimits = [] under [containers];" \
         "add it if containers fail to start with a ulimit error" >&2
fi

podman --version
podman info --format 'runtime {{.Host.OCIRuntime.Name}}'
runc --version | head -n 1
