#!/usr/bin/env bash
# Makes the image `debian:bookworm-slim` from Debian's own packages, for machines that
# reach Debian's mirror but no image registry (CI). Elsewhere `podman pull` or
# `docker pull debian:bookworm-slim` does the same.
#
#   bash .ci/base-image.sh            # as root, after .ci/install-podman.sh; idempotent
#
# The root file system is debootstrapped from the mirror apt already uses, trimmed as the
# official slim image is (no docs, man pages or translations), and kept as a tarball in
# $FORMBOT_CI_CACHE so the next run imports it in seconds instead of 75 s of debootstrap.
set -euo pipefail

image=debian:bookworm-slim
cache=${FORMBOT_CI_CACHE:-/var/cache/formbot-ci}
tarball=$cache/debian-bookworm-slim.tar
podman=(podman)

if [[ $(id -u) -ne 0 ]]; then
    echo "base-image.sh: must run as root (debootstrap, podman)" >&2
    exit 1
fi
if "${podman[@]}" image exists "$image"; then
    echo "base image $image already present"
    exit 0
fi

# The first bookworm mirror in apt's sources (deb822 .sources or one-line .list).
mirror() {
    local file
    for file in /etc/apt/sources.list /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list; do
        [[ -f $file ]] || continue
        case $file in
        *.sources)
            awk '/^URIs:/ {uri=$2} /^Suites:/ && / bookworm( |$)/ && uri {print uri; exit}' "$file" ;;
        *)
            awk '$1 == "deb" && $0 ~ / bookworm / {for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) {print $i; exit}}' "$file" ;;
        esac
    done | head -n 1
}

if [[ ! -s $tarball ]]; then
    url=$(mirror)
    url=${url:-http://deb.debian.org/debian}
    root=$(mktemp -d /var/tmp/formbot-rootfs.XXXXXX)
    trap 'rm -rf "$root"' EXIT
    echo "debootstrap bookworm from $url"
    debootstrap --variant=minbase bookworm "$root" "$url" >"$root.log" 2>&1 || {
        tail -n 20 "$root.log" >&2
        exit 1
    }
    rm -f "$root.log"

    # As in the official image: the same sources apt has here, no recommends, and dpkg
    # leaves out documentation and translations of everything installed later.
    security=${url%/debian}/debian-security
    rm -f "$root/etc/apt/sources.list"
    cat >"$root/etc/apt/sources.list.d/debian.sources" <<SOURCES
Types: deb
URIs: $url
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
    printf 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n' \
        >"$root/etc/apt/apt.conf.d/90slim"
    cat >"$root/etc/dpkg/dpkg.cfg.d/90slim" <<'DPKG'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
DPKG
    find "$root/usr/share/doc" -mindepth 2 ! -name copyright -delete 2>/dev/null || true
    rm -rf "$root"/usr/share/{man,info}/* "$root"/var/cache/apt/archives/*.deb \
        "$root"/var/cache/apt/*.bin "$root"/var/lib/apt/lists/*
    find "$root/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} +

    mkdir -p "$cache"
    tar --numeric-owner -C "$root" -cf "$tarball.part" .
    mv "$tarball.part" "$tarball"
fi

"${podman[@]}" import --quiet --message "debootstrap --variant=minbase bookworm" "$tarball" "$image" >/dev/null
echo "base image $image: $("${podman[@]}" image inspect --format '{{.Size}}' "$image" | numfmt --to=iec)"
