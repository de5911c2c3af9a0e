#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# kernel-source.sh BUILDDIR [PKG[=VERSION][@SUITE] | built]
#
# Extracts one of Debian's linux-source-X.Y packages into BUILDDIR/PKG once
# (a stamp, .evq-extracted, holds the package version) and prints that
# directory. The tree is read-only input, never built in: kselftest_harness.h
# and checkpatch.pl (6.12), the in-tree check (intree-check.sh: hard-link
# copies), the built kernels (build-kernel.sh: O= elsewhere) and the
# prepared tree of a Debian kernel whose headers cannot build here
# (fetch-kernel.sh: a copy).
#
#   (none)      linux-source-6.12, this machine's package (scripts/deps.sh
#               installs it; its tarball is in /usr/src)
#   PKG@SUITE   PKG from another Debian suite, through the private apt of
#               scripts/apt-suite.sh (nothing is installed): the newest
#               version there, or exactly VERSION; the .deb is kept in
#               BUILDDIR/cache/debs, where fetch-kernel.sh keeps its own.
#               Without @SUITE, a PKG this machine has not installed (or
#               not at VERSION) comes the same way from its own apt
#   built       the source the built: kernels of scripts/lanes come from,
#               as its "source" line names it (linux-source-7.3@trixie-
#               backports): the newest kernel source the archive offers
#
# The version a tree was extracted from: `cat DIR/.evq-extracted`. Safe to
# run concurrently (a lock per package).
set -euo pipefail

usage="usage: kernel-source.sh BUILDDIR [PKG[=VERSION][@SUITE] | built]"
build=$(realpath -m "${1:?$usage}")
spec=${2:-linux-source-6.12}
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

log() { echo "kernel-source.sh: $*" >&2; }

if [ "$spec" = built ]; then
	spec=$(sed 's/#.*//' "$top/scripts/lanes" |
		awk '$1 == "source" { print $2; exit }')
	[ -n "$spec" ] || { log "scripts/lanes has no source line"; exit 1; }
fi
suite=
case $spec in *@*) suite=${spec#*@} spec=${spec%%@*} ;; esac
pkg=${spec%%=*}
want=
[ "$pkg" = "$spec" ] || want=${spec#*=}
case $pkg in
linux-source-[0-9]*.[0-9]*) ;;
*) log "$pkg is no linux-source-X.Y package"; exit 2 ;;
esac

dir=$build/$pkg
stamp=$dir/.evq-extracted
mkdir -p "$build"
exec 9>"$build/.$pkg.lock"
flock 9

# The .deb of another suite: the version apt has (or VERSION), downloaded
# once into the cache shared with fetch-kernel.sh (apt's file naming).
deb=
tarball=/usr/src/$pkg.tar.xz
installed=
[ -n "$suite" ] || [ ! -r "$tarball" ] ||
	installed=$(dpkg-query -W -f '${Version}' "$pkg" 2>/dev/null) || true
if [ -z "$installed" ] || { [ -n "$want" ] && [ "$want" != "$installed" ]; }; then
	if [ -n "$suite" ]; then
		APT_CONFIG=$("$top/scripts/apt-suite.sh" "$build" "$suite")
		export APT_CONFIG
	fi
	version=$want
	if [ -z "$version" ]; then
		version=$(apt-cache show --no-all-versions "$pkg" 2>/dev/null |
			sed -n 's/^Version: //p' | head -n1)
		[ -n "$version" ] ||
			{ log "apt knows no $pkg${suite:+ in $suite}"; exit 1; }
	fi
	cache=$build/cache/debs
	mkdir -p "$cache"
	deb=$cache/${pkg}_${version//:/%3a}_all.deb
	if [ ! -f "$deb" ] && [ "$(cat "$stamp" 2>/dev/null)" != "$version" ]; then
		log "downloading $pkg $version${suite:+ from $suite}"
		tmp=$(mktemp -d "$cache/.dl.XXXXXX")
		# As root apt would drop to _apt, which cannot write here.
		(cd "$tmp" && apt-get download -q=2 \
			-o APT::Sandbox::User="$(id -un)" "$pkg=$version" >&2) ||
			{ rm -rf "$tmp"; log "apt-get download $pkg=$version failed"; exit 1; }
		mv "$tmp"/*.deb "$cache/"
		rmdir "$tmp"
		[ -f "$deb" ] || { log "no $deb after the download"; exit 1; }
	fi
else
	version=$installed
fi

if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$version" ]; then
	log "extracting $pkg $version"
	rm -rf "$dir" "$dir.tmp"
	mkdir -p "$dir.tmp"
	if [ -n "$deb" ]; then
		dpkg-deb --fsys-tarfile "$deb" |
			tar -xO --wildcards "./usr/src/$pkg.tar.xz" |
			tar -xJ -C "$dir.tmp"
	else
		tar -xJf "$tarball" -C "$dir.tmp"
	fi
	mv "$dir.tmp/$pkg" "$dir"
	rmdir "$dir.tmp"
	echo "$version" >"$stamp"
fi
echo "$dir"
