#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# mkinitramfs.sh OUT.cpio.gz PAYLOAD_DIR
#
# Packs the test VM's initramfs (gzip'd newc cpio, all files owned by root):
#   /bin/busybox   from busybox-static (vm-init installs the applets)
#   /init          scripts/vm-init
#   /payload/      a copy of PAYLOAD_DIR: run, setup, the module, tests...
#   /etc/passwd, /etc/group   just root
# No kernel modules and no libraries: payload binaries must be static (or
# bring their libraries along). Staged next to OUT, written atomically.
set -euo pipefail

usage="usage: mkinitramfs.sh OUT.cpio.gz PAYLOAD_DIR"
out=$(realpath -m "${1:?$usage}")
payload=${2:?$usage}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
busybox=${EVQ_BUSYBOX:-/bin/busybox}

[ -d "$payload" ] || { echo "mkinitramfs.sh: no directory $payload" >&2; exit 1; }
if ! file -L "$busybox" 2>/dev/null | grep -q 'statically linked'; then
	# Without file(1) trust the package; else insist on the static binary.
	if command -v file >/dev/null || [ ! -x "$busybox" ]; then
		echo "mkinitramfs.sh: $busybox is not a static busybox" \
			"(scripts/deps.sh installs busybox-static)" >&2
		exit 1
	fi
fi

mkdir -p "$(dirname "$out")"
stage=$(mktemp -d "$out.stage.XXXXXX")
trap 'rm -rf "$stage" "$out.tmp"' EXIT

mkdir -p "$stage"/{bin,sbin,usr/bin,usr/sbin,dev,etc,proc,sys,tmp,run,root,payload}
echo "root:x:0:0:root:/root:/bin/sh" >"$stage/etc/passwd"
echo "root:x:0:" >"$stage/etc/group"
cp "$busybox" "$stage/bin/busybox"
cp "$here/vm-init" "$stage/init"
chmod 0755 "$stage/bin/busybox" "$stage/init"
cp -a "$payload/." "$stage/payload/"

(cd "$stage" && find . -mindepth 1 -print0 | LC_ALL=C sort -z |
	cpio --null -o -H newc --owner=0:0 --reproducible --quiet) |
	gzip -n -6 >"$out.tmp"
mv "$out.tmp" "$out"
