#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# fetch-kernel.sh KVER[@SUITE] BUILDDIR
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
#
# @SUITE takes the packages from that Debian suite (7.3.4+deb13-amd64@
# trixie-backports) through the private apt of scripts/apt-suite.sh. Debian
# 7.x splits the image: its vmlinuz is in linux-binary-unsigned-KVER (as
# /usr/lib/modules/KVER/vmlinuz.unsigned; unpacked to /boot like the
# others). Its System.map is a placeholder (the real one is in the -dbg
# package), so a stalled VM's addresses go unnamed there.
#
# Headers from a newer Debian release than this machine's cannot build a
# module here, and then KDIR is instead Debian's linux-source of the same
# version, prepared (BUILDDIR/kernels/KVER/src, cached): Debian's .config
# from the headers package, `make olddefconfig modules_prepare` with this
# machine's compiler and LOCALVERSION such that the release is exactly KVER,
# and the headers package's own Module.symvers copied in. That is the case
# when the headers ask for a compiler this machine lacks (a Depends on
# gcc-N: 7.3.4+deb13 wants gcc-14, bookworm has gcc-12, and the headers'
# configuration passes gcc-14-only options such as
# -fmin-function-alignment) or when linux-kbuild's programs (modpost,
# objtool) need a newer libc6 than this machine's (trixie's are linked
# against glibc 2.38 symbols, bookworm has 2.36). Rebuilding only those
# programs would leave the compiler mismatch; the prepared tree fixes both
# with the compiler and libc that are here. What keeps the module loadable
# into Debian's image: the release string (checked below, vermagic starts
# with it), Debian's configuration for everything that is not a property of
# the toolchain (checked below: olddefconfig may change only toolchain
# symbols), and Debian's Module.symvers (the symbols, their CRCs where
# CONFIG_MODVERSIONS is set, their GPL-only-ness and namespaces). The VM
# lane proves it: insmod checks the vermagic (and the CRCs, if any).
set -euo pipefail

usage="usage: fetch-kernel.sh KVER[@SUITE] BUILDDIR"
spec=${1:?$usage}
kver=${spec%@*}
suite=${spec#"$kver"}
suite=${suite#@}
build=$(realpath -m "${2:?$usage}")
cache=$build/cache/debs
kdir_base=$build/kernels/$kver
root=$kdir_base/root
stamp=$kdir_base/.evq-unpacked
hdrdir=$root/usr/src/linux-headers-$kver
src=$kdir_base/src
vmlinuz=$root/boot/vmlinuz-$kver
# The build tree: Debian's headers, or the prepared source (see above).
kdir=$hdrdir
[ ! -f "$src/.evq-prepared" ] || kdir=$src

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

log() { echo "fetch-kernel.sh: $*" >&2; }

# Point the headers' one-line Makefile
#   include /usr/src/linux-headers-X-common/Makefile
# at the copy under $root. Rewritten whenever the tree has moved (or is a
# hard-linked copy of another checkout's build directory).
fix_makefile() {
	local mk=$kdir/Makefile inc
	[ "$kdir" = "$hdrdir" ] || return 0
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

if [ -n "$suite" ]; then
	APT_CONFIG=$("$top/scripts/apt-suite.sh" "$build" "$suite")
	export APT_CONFIG
fi

# Which packages, at which version: the headers' own version for all of
# them, the -common and kbuild names as the headers package depends on them.
hdr=linux-headers-$kver
img=linux-image-$kver-unsigned
info=$(apt-cache show --no-all-versions "$hdr" 2>/dev/null) || {
	log "apt knows no $hdr (apt-get update? see scripts/kernels.sh)"
	exit 1
}
apt-cache show --no-all-versions "$img" >/dev/null 2>&1 ||
	img=linux-binary-unsigned-$kver
ver=$(sed -n 's/^Version: //p' <<<"$info" | head -n1)
depends=$(sed -n 's/^Depends: //p' <<<"$info" | head -n1)
deps=$(tr ',|' '\n' <<<"$depends" | sed -E 's/^ +//; s/ .*//')
common=$(grep -E '^linux-headers-.*-common(-rt)?$' <<<"$deps" | head -n1) || true
kbuild=$(grep -E '^linux-kbuild-' <<<"$deps" | head -n1) || true
if [ -z "$common" ] || [ -z "$kbuild" ]; then
	log "cannot find -common/kbuild in the Depends of $hdr $ver"
	exit 1
fi

# Can Debian's headers build modules on this machine? Their compiler, gcc-N
# (gcc-N, gcc-N-for-host or linux-compiler-gcc-N-ARCH in the Depends), and
# the libc6 linux-kbuild's programs need.
why_not=
cc=$(grep -oE '(^|[^[:alnum:]])gcc-[0-9]+' <<<"$depends" | grep -oE 'gcc-[0-9]+' |
	head -n1) || true
if [ -n "$cc" ] && ! command -v "$cc" >/dev/null; then
	why_not="they build with $cc, not on this machine"
fi
libc_need=$(apt-cache show --no-all-versions "$kbuild" 2>/dev/null |
	sed -n 's/^Depends: //p' | head -n1 | tr ',' '\n' |
	sed -nE 's/^ *libc6 \(>= ([^)]*)\).*/\1/p') || true
libc_have=$(dpkg-query -W -f '${Version}' libc6 2>/dev/null) || true
if [ -n "$libc_need" ] && [ -n "$libc_have" ] &&
	dpkg --compare-versions "$libc_have" lt "$libc_need"; then
	why_not="${why_not:+$why_not; }$kbuild needs libc6 >= $libc_need, this machine has $libc_have"
fi
srcpkg=
if [ -n "$why_not" ]; then
	# linux-source-X.Y of exactly the headers' version.
	srcpkg=linux-source-$(sed -E 's/^([0-9]+\.[0-9]+).*/\1/' <<<"$ver")
	log "Debian's headers for $kver cannot build here ($why_not):" \
		"preparing $srcpkg $ver instead"
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
			EVQ_FETCH_RETRIED=1 exec "${BASH_SOURCE[0]}" "$spec" "$build"
		fi
		log "apt-get download $pkg=$ver failed (if apt no longer has" \
			"$kver, scripts/kernels.sh names the current kernels)"
		return 1
	fi
	mv "$tmp"/*.deb "$cache/"
	rmdir "$tmp"
	[ -n "$(deb_path "$pkg")" ] || { log "no .deb for $pkg $ver"; return 1; }
}

if [ -n "$srcpkg" ]; then
	# The source itself: kernel-source.sh, in prepare_source.
	pkgs=("$hdr" "$img")
else
	pkgs=("$hdr" "$common" "$kbuild" "$img")
fi
for p in "${pkgs[@]}"; do
	fetch "$p"
done

# prepare_source: the prepared tree in $src (see the top of this file), a
# copy of the pristine source of exactly $ver that scripts/kernel-source.sh
# downloads and extracts (the tree the in-tree check and the built
# kernels use, when they are of the same version).
prepare_source() {
	local tmp=$src.tmp base lv release pristine
	local mk=(make -s -C "$tmp")
	pristine=$("$top/scripts/kernel-source.sh" "$build" \
		"$srcpkg=$ver${suite:+@$suite}")
	log "copying $srcpkg $ver"
	rm -rf "$src" "$tmp"
	cp -a "$pristine" "$tmp"
	rm -f "$tmp/.evq-extracted"
	cp "$root/usr/src/$hdr/.config" "$tmp/.config"
	# The release: the source's version and a LOCALVERSION for the rest
	# (7.3.4 and +deb13-amd64), as Debian's own build sets it.
	base=$("${mk[@]}" kernelversion)
	lv=${kver#"$base"}
	[ "$lv" != "$kver" ] || { log "$srcpkg is $base, not $kver"; return 1; }
	mk+=(LOCALVERSION="$lv")
	log "make olddefconfig modules_prepare in $src (about a minute, once)"
	"${mk[@]}" olddefconfig >&2
	check_config "$root/usr/src/$hdr/.config" "$tmp/.config" || return 1
	"${mk[@]}" -j"$(nproc)" modules_prepare >&2
	release=$(cat "$tmp/include/config/kernel.release")
	[ "$release" = "$kver" ] ||
		{ log "the prepared tree's release is $release, not $kver"; return 1; }
	grep -qF "\"$kver\"" "$tmp/include/generated/utsrelease.h" ||
		{ log "utsrelease.h does not say $kver"; return 1; }
	cp "$root/usr/src/$hdr/Module.symvers" "$tmp/Module.symvers"
	echo "$srcpkg $ver" >"$tmp/.evq-prepared"
	mv "$tmp" "$src"
}

# check_config DEBIAN PREPARED: olddefconfig with this machine's toolchain
# changed only what is a property of the toolchain, never Debian's choices
# for the kernel; any other difference fails. Allowed: the toolchain's
# description (CONFIG_CC_*, GCC_*, AS_*, LD_*, RUSTC_*, BINDGEN_*, PAHOLE_*,
# TOOLS_*); Rust and what depends on it (no rustc here: *RUST*,
# AMCC_QT2025_PHY, DRM_PANIC_SCREEN_QR_*, NOVA_CORE, and X86_NATIVE_CPU,
# which is only offered without Rust, and not set); abilities of this
# compiler and linker (DEBUG_INFO_COMPRESSED_ZSTD) and of this OpenSSL
# (OPENSSL_SUPPORTS_ML_DSA, MODULE_SIG_KEY_TYPE_MLDSA_*: bookworm's 3.0
# has no ML-DSA; the type of a signing key, not in the module ABI). Found
# on 7.3.4+deb13: nothing else differs.
check_config() {
	local changed
	changed=$(diff <(grep -E '^(# )?CONFIG_' "$1" | sort) \
		<(grep -E '^(# )?CONFIG_' "$2" | sort) | sed -nE \
		's/^[<>] (# )?CONFIG_([A-Za-z0-9_]+)[= ].*/\2/p' | sort -u |
		grep -vE '^(CC|GCC|CLANG|AS|LD|LLD|RUSTC|BINDGEN|PAHOLE|TOOLS)_' |
		grep -vE '(^|_)RUST(_|$)' |
		grep -vE '^(AMCC_QT2025_PHY|DRM_PANIC_SCREEN_QR_.*|NOVA_CORE|X86_NATIVE_CPU)$' |
		grep -vE '^(DEBUG_INFO_COMPRESSED_ZSTD|OPENSSL_SUPPORTS_ML_DSA|MODULE_SIG_KEY_TYPE_MLDSA_.*)$') ||
		true
	if [ -n "$changed" ]; then
		log "olddefconfig changed more than the toolchain's symbols:" \
			"$(tr '\n' ' ' <<<"$changed")"
		return 1
	fi
	log "olddefconfig: $(diff "$1" "$2" | grep -c '^>' || true) lines differ from" \
		"Debian's .config, all of them about the toolchain (see check_config)"
}

log "unpacking $kver"
rm -rf "$root" "$stamp"
tmproot=$kdir_base/root.tmp
rm -rf "$tmproot"
mkdir -p "$tmproot"
for p in "${pkgs[@]}"; do
	case $p in "$img" | "$srcpkg") continue ;; esac
	dpkg-deb -x "$(deb_path "$p")" "$tmproot"
done
# Of the image only the kernel: the modules are not needed and are most of it.
if [ "$img" = "linux-image-$kver-unsigned" ]; then
	dpkg-deb --fsys-tarfile "$(deb_path "$img")" | tar -x -C "$tmproot" ./boot
else
	dpkg-deb --fsys-tarfile "$(deb_path "$img")" |
		tar -x -C "$tmproot" "./usr/lib/modules/$kver/vmlinuz.unsigned"
	mkdir -p "$tmproot/boot"
	mv "$tmproot/usr/lib/modules/$kver/vmlinuz.unsigned" "$tmproot/boot/vmlinuz-$kver"
fi
mv "$tmproot" "$root"
if [ -n "$srcpkg" ]; then
	prepare_source
	kdir=$src
fi
fix_makefile
[ -f "$vmlinuz" ] || { log "no $vmlinuz in $img"; exit 1; }
printf '%s\n' "$hdr $ver" "${pkgs[@]:1}" >"$stamp"
print_result
