#!/usr/bin/env bash
# The container tier (make container-test): the base image from Debian packages, the
# image built as README's "Running it in a container" builds it, then
# tests/system/test_container.py runs it (demo, worker with Dovecot + SMTP sink, health, user,
# podman stop, the reader-pool tests on the image's Python). As root, on a machine with
# no Docker engine and no image registry: podman (runc) from Debian.
set -euo pipefail
cd "$(dirname "$0")/.."

began=$SECONDS
bash .ci/install-podman.sh >/dev/null
bash .ci/base-image.sh

# pip inside the build needs the CA bundle when TLS to PyPI is inspected by a proxy
# (PIP_CERT is set then, as on CI); README shows both forms of the command.
# --format docker: the OCI image format has no HEALTHCHECK.
build=(podman build --format docker --network host)
if [[ -n ${PIP_CERT:-} ]]; then
    build+=(-v "$PIP_CERT:/run/ca.crt:ro" --build-arg PIP_CERT_FILE=/run/ca.crt)
fi

echo "== podman build --format docker -t formbot ."
start=$SECONDS
"${build[@]}" -t formbot . >/tmp/formbot-image-build.log 2>&1 || {
    tail -n 40 /tmp/formbot-image-build.log >&2
    exit 1
}
echo "image formbot built in $((SECONDS - start)) s;" \
     "size $(podman image inspect --format '{{.Size}}' formbot | numfmt --to=si --suffix=B)"
"${build[@]}" -t formbot-test tests/container >/tmp/formbot-test-image-build.log 2>&1 || {
    tail -n 40 /tmp/formbot-test-image-build.log >&2
    exit 1
}

.venv/bin/pytest -q -s -m container tests/system/test_container.py
# Untagged layers of earlier builds would otherwise pile up run after run.
podman image prune -f >/dev/null
echo "container tier: $((SECONDS - began)) s"
