#!/usr/bin/env bash
# Debian packages the tests use as real parts: a browser, squashfs images, an
# mDNS publisher, an SSH server, FAT32 sticks (fusefat where the kernel has no
# vfat), busybox sh for install.sh, network namespaces, baselines.
# Installs what is missing when run as root; otherwise lists what to install.
set -euo pipefail
pkgs=(chromium squashfs-tools avahi-daemon avahi-utils openssh-server openssh-client rsync dosfstools iproute2 curl util-linux time openssl busybox fusefat jq shellcheck xxd bc bzip2)
# The real-device lane runs upstream Pantavisor from the device kit beside the
# project (../shared/pantavisor-device): add the packages its README lists.
kit="${PVKIT_DIR:-${FIELDSYNC_SHARED_DIR:-$(dirname "$0")/../../shared}/pantavisor-device}/apt-packages.txt"
if [ -f "$kit" ]; then
  while read -r p; do pkgs+=("$p"); done < <(grep -v '^#' "$kit" | tr -s ' \t' '\n' | grep -v '^$')
fi
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "installing Debian packages for the tests: ${missing[*]}" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "warning: missing Debian packages (tests that need them are skipped): ${missing[*]}" >&2
  echo "         install them with: sudo apt-get install ${missing[*]}" >&2
fi
