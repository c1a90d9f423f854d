#!/usr/bin/env bash
# The README's promise, shown: a clean clone's `make test` on a bare Debian 12 with its
# own Python (3.11.2), where LibreOffice was never installed. Runs in the base image the
# container tier makes (.ci/base-image.sh: debootstrap, no registry), with only what the
# README assumes a machine has: python3, make, git. Not part of .ci/run (it reinstalls
# everything: about 25 minutes); run it by hand as root:  bash .ci/bare-debian-make-test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bash .ci/install-podman.sh >/dev/null
bash .ci/base-image.sh >/dev/null
cert=${PIP_CERT:-/etc/ssl/certs/ca-certificates.crt}
podman --runtime runc run --rm --network host \
    -v "$PWD:/src:ro" -v "$cert:/run/host-ca.crt:ro" \
    -e PIP_CERT=/run/host-ca.crt -e GIT_SSL_CAINFO=/run/host-ca.crt \
    debian:bookworm-slim bash -c '
      set -e
      apt-get update -qq && apt-get install -y -qq python3 make git >/dev/null
      python3 --version
      git clone -q /src /repo && cd /repo
      command -v soffice && { echo "LibreOffice is already there: not a bare machine"; exit 1; }
      make test'
