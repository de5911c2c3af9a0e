#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# mkinitramfs.sh OUT.cpio.gz PAYLOAD_DIR
#
# Packs the test VM's initramfs (gzip'd newc cpio, all files owned by root):
#   /bin/busybox   from busybox-static (scripts/guest/init installs the applets)
#   /init          scripts/guest/init
#   /payload/      a copy of PAYLOAD_DIR: run, setup, the module, tests...
#   /etc/passwd, /etc/group   just root
#   host programs  every absolute path listed in PAYLOAD_DIR/host-files (one
#                  per line), at the same path, e.g. /usr/bin/perf
#   libraries      the shared libraries and dynamic loader of every
#                  dynamically linked ELF file above (found with ldd), at
#                  their host paths, so that dynamic programs and
#                  LD_PRELOAD libraries run in the VM
# No kernel modules. Staged next to OUT, written atomically.
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
cp "$here/guest/init" "$stage/init"
chmod 0755 "$stage/bin/busybox" "$stage/init"
cp -a "$payload/." "$stage/payload/"

# copy_host PATH: PATH from the host into the stage at the same place.
copy_host() {
	[ -e "$stage$1" ] && return 0
	mkdir -p "$stage$(dirname "$1")"
	cp -L "$1" "$stage$1"
}

if [ -f "$payload/host-files" ]; then
	while read -r f; do
		case $f in /*) ;; *) continue ;; esac
		[ -e "$f" ] || { echo "mkinitramfs.sh: host file $f missing" >&2; exit 1; }
		copy_host "$f"
	done <"$payload/host-files"
fi

# The libraries of every dynamic ELF file in the stage, and theirs (ldd
# lists the whole closure), from the host.
while IFS= read -r -d '' f; do
	head -c 4 "$f" 2>/dev/null | grep -q 'ELF' || continue
	ldd "$f" >/dev/null 2>&1 || continue	# static, or not a program
	ldd "$f" | sed -n -e 's/.*=> \(\/[^ ]*\) (.*/\1/p' \
		-e 's/^[[:space:]]*\(\/[^ ]*\) (.*/\1/p'
done < <(find "$stage/payload" "$stage/usr" "$stage/bin" -type f -print0) |
	sort -u | while read -r lib; do copy_host "$lib"; done

(cd "$stage" && find . -mindepth 1 -print0 | LC_ALL=C sort -z |
	cpio --null -o -H newc --owner=0:0 --reproducible --quiet) |
	gzip -n -6 >"$out.tmp"
mv "$out.tmp" "$out"
