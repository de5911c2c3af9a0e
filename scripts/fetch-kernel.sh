#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# fetch-kernel.sh KVER BUILDDIR
#
# Makes Debian's kernel KVER (e.g. 6.1.0-56-amd64) usable without
# installing it on this machine: downloads linux-headers-KVER, its -common
# and linux-kbuild packages and linux-image-KVER-unsigned into
# BUILDDIR/cache/debs (kept between runs), unpacks the headers and the
# image's /boot into BUILDDIR/kernels/KVER/root and points the headers'
# Makefile at the unpacked -common tree. Prints, on stdout:
#   KDIR=<headers dir: make -C $KDIR M=... modules>
#   VMLINUZ=<kernel image for qemu -kernel>
# Idempotent: a stamp records what was unpacked; a rerun only prints. Safe to
# run concurrently for the same KVER (a lock serialises the work).
set -euo pipefail

usage="usage: fetch-kernel.sh KVER BUILDDIR"
kver=${1:?$usage}
build=$(realpath -m "${2:?$usage}")
cache=$build/cache/debs
kdir_base=$build/kernels/$kver
root=$kdir_base/root
stamp=$kdir_base/.evq-unpacked
kdir=$root/usr/src/linux-headers-$kver
vmlinuz=$root/boot/vmlinuz-$kver

log() { echo "fetch-kernel.sh: $*" >&2; }

# Point the headers' one-line Makefile
#   include /usr/src/linux-headers-X-common/Makefile
# at the copy under $root. Rewritten whenever the tree has moved (or is a
# hard-linked copy of another checkout's build directory).
fix_makefile() {
	local mk=$kdir/Makefile inc
	inc=$(sed -n 's/^include[[:space:]]\{1,\}//p' "$mk")
	[ -n "$inc" ] || { log "unexpected $mk"; return 1; }
	case $inc in
	"$root"/*) ;;
	*) inc=$root/usr/src/${inc##*/usr/src/}
	   # A new file, not a rewrite: the tree may be hard-linked.
	   echo "include $inc" >"$mk.tmp" && mv "$mk.tmp" "$mk" ;;
	esac
	[ -f "$inc" ] || { log "$mk includes missing $inc"; return 1; }
}

done_already() {
	[ -f "$stamp" ] && [ -f "$kdir/Makefile" ] && [ -f "$vmlinuz" ]
}

print_result() {
	echo "KDIR=$kdir"
	echo "VMLINUZ=$vmlinuz"
}

mkdir -p "$kdir_base" "$cache"
exec 9>"$kdir_base.lock"
flock 9

if done_already; then
	fix_makefile
	print_result
	exit 0
fi

# Which packages, at which version: the headers' own version for all of
# them, the -common and kbuild names as the headers package depends on them.
hdr=linux-headers-$kver
img=linux-image-$kver-unsigned
info=$(apt-cache show --no-all-versions "$hdr" 2>/dev/null) || {
	log "apt knows no $hdr (apt-get update? see scripts/kernels.sh)"
	exit 1
}
ver=$(sed -n 's/^Version: //p' <<<"$info" | head -n1)
deps=$(sed -n 's/^Depends: //p' <<<"$info" | head -n1 | tr ',|' '\n' |
	sed -E 's/^ +//; s/ .*//')
common=$(grep -E '^linux-headers-.*-common(-rt)?$' <<<"$deps" | head -n1) || true
kbuild=$(grep -E '^linux-kbuild-' <<<"$deps" | head -n1) || true
if [ -z "$common" ] || [ -z "$kbuild" ]; then
	log "cannot find -common/kbuild in the Depends of $hdr $ver"
	exit 1
fi

# deb_path PKG: the cached .deb of PKG at $ver (apt's file naming: an epoch's
# colon is %3a), empty if not there.
deb_path() {
	local f
	for f in "$cache/${1}_${ver//:/%3a}_"*.deb; do
		[ -f "$f" ] && { echo "$f"; return 0; }
	done
	return 0
}

fetch() {
	local pkg=$1 tmp
	[ -n "$(deb_path "$pkg")" ] && return 0
	log "downloading $pkg $ver"
	tmp=$(mktemp -d "$cache/.dl.XXXXXX")
	# As root apt would drop to _apt, which cannot write here: that only
	# prints a warning, which APT::Sandbox::User=root avoids.
	if ! (cd "$tmp" && apt-get download -q=2 -o APT::Sandbox::User="$(id -un)" \
		"$pkg=$ver" >&2); then
		rm -rf "$tmp"
		# Stale package lists name files the archive no longer has:
		# refresh them once and start over (as root only).
		if [ -z "${EVQ_FETCH_RETRIED:-}" ] && [ "$(id -u)" -eq 0 ]; then
			log "apt-get download $pkg=$ver failed; apt-get update and retry"
			apt-get update -qq >&2 || true
			exec 9>&-
			EVQ_FETCH_RETRIED=1 exec "${BASH_SOURCE[0]}" "$kver" "$build"
		fi
		log "apt-get download $pkg=$ver failed (if apt no longer has" \
			"$kver, scripts/kernels.sh names the current kernels)"
		return 1
	fi
	mv "$tmp"/*.deb "$cache/"
	rmdir "$tmp"
	[ -n "$(deb_path "$pkg")" ] || { log "no .deb for $pkg $ver"; return 1; }
}

for p in "$hdr" "$common" "$kbuild" "$img"; do
	fetch "$p"
done

log "unpacking $kver"
rm -rf "$root" "$stamp"
tmproot=$kdir_base/root.tmp
rm -rf "$tmproot"
mkdir -p "$tmproot"
for p in "$hdr" "$common" "$kbuild"; do
	dpkg-deb -x "$(deb_path "$p")" "$tmproot"
done
# Of the image only /boot: the modules are not needed and are most of it.
dpkg-deb --fsys-tarfile "$(deb_path "$img")" | tar -x -C "$tmproot" ./boot
mv "$tmproot" "$root"
fix_makefile
[ -f "$vmlinuz" ] || { log "no $vmlinuz in $img"; exit 1; }
printf '%s\n' "$hdr $ver" "$common" "$kbuild" "$img" >"$stamp"
print_result
