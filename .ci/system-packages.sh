#!/usr/bin/env bash
# What `make test` and `make demo` need from Debian, installed when missing: with
# apt-get as root, through sudo otherwise; where neither is possible, one sentence
# naming the packages, and the make target stops.
#
#   bash .ci/system-packages.sh python3-venv libreoffice-writer-nogui ...
set -euo pipefail
cd "$(dirname "$0")"

if ! command -v dpkg-query >/dev/null 2>&1; then
    echo "本机不是 Debian/Ubuntu，无法自动安装：请自行装好与 $* 相当的软件包后再执行 make。" >&2
    exit 1
fi
missing=()
for package in "$@"; do
    status=$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null || true)
    [[ $status == "install ok installed" ]] || missing+=("$package")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

if [[ $(id -u) -eq 0 ]]; then
    echo "安装缺少的系统软件包：${missing[*]}" >&2
    bash apt-install.sh "${missing[@]}"
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    echo "通过 sudo 安装缺少的系统软件包：${missing[*]}" >&2
    sudo -n env DEBIAN_FRONTEND=noninteractive bash apt-install.sh "${missing[@]}"
elif command -v sudo >/dev/null 2>&1 && [[ -t 0 ]]; then
    echo "通过 sudo 安装缺少的系统软件包：${missing[*]}（可能需要输入密码）" >&2
    sudo env DEBIAN_FRONTEND=noninteractive bash apt-install.sh "${missing[@]}"
else
    echo "缺少系统软件包 ${missing[*]}，本机既非 root 也无法使用 sudo：请管理员运行 apt-get install -y ${missing[*]} 后再执行 make。" >&2
    exit 1
fi
