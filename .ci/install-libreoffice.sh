#!/usr/bin/env bash
# Installs LibreOffice (no GUI) for converting legacy .doc/.xls/.wps/.et files, and
# python3-uno, which the warm converter's bridge runs under (/usr/bin/python3: the
# project's venv may be another Python, which cannot load Debian's uno module).
# No CJK fonts: conversion only moves text from one format to another, never renders
# it, and tests/parsers/test_convert.py checks Chinese text survives on a machine without them.
# libarchive-tools gives bsdtar, the free backend `rarfile` runs to unpack compressed
# members of the .rar archives units send (parsers/rar.py pins rarfile to it).
# Idempotent: installs only what is missing, runs apt-get update at most once.
set -euo pipefail

export DEBIAN_FRONTEND=noninteractive

bash "$(dirname "$0")/apt-install.sh" libreoffice-writer-nogui libreoffice-calc-nogui python3-uno \
    libarchive-tools

/usr/bin/python3 -c 'import uno' || {
    echo "install-libreoffice.sh: /usr/bin/python3 cannot import uno" >&2
    exit 1
}
# A private, throwaway profile: --version must not leave one in $HOME.
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
soffice -env:UserInstallation="file://$profile" --headless --version
bsdtar --version
