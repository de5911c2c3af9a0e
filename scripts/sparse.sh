#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# sparse.sh BUILDDIR
#
# A sparse that parses Linux 7.x headers, for lint.sh's C=2 builds against
# them; prints its path. From 7.x on, compiler_types.h has sparse see
# __typeof_unqual__ (USE_TYPEOF_UNQUAL for __CHECKER__), which bookworm's
# sparse 0.6.4 (and trixie's 0.6.4-5) reject as an undefined identifier, so
# kbuild's CHECK finds errors in every file. Debian's sparse 0.6.5~rc1 (sid)
# parses it, but sid's binary needs glibc 2.38 (__isoc23_strtoul) where
# bookworm has 2.36: this builds sid's source package (Debian's patches
# applied) with this machine's compiler, the sparse program alone (no
# LLVM, GTK, libxml or sqlite tools), once. The source comes through the
# private apt of scripts/apt-suite.sh (deb-src lines), cached in
# BUILDDIR/cache/src; the build in BUILDDIR/sparse/VERSION. A built one is
# used as it is (no apt); if none is there the newest source apt names is
# built. After the build it must parse __typeof_unqual__ or this fails.
#
# Environment: EVQ_SPARSE_SUITE, the suite to take sparse from (sid).
set -euo pipefail

build=$(realpath -m "${1:?usage: sparse.sh BUILDDIR}")
suite=${EVQ_SPARSE_SUITE:-sid}
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
base=$build/sparse

log() { echo "sparse.sh: $*" >&2; }

# parses SPARSE: does it take __typeof_unqual__, without a word?
parses() {
	local out
	out=$(printf '%s\n' 'static const volatile int x;' \
		'static int f(void) { __typeof_unqual__(x) y = x; return ++y; }' \
		'int g(void);' 'int g(void) { return f(); }' |
		"$1" -Wall - 2>&1) && [ -z "$out" ]
}

mkdir -p "$base"
exec 9>"$base.lock"
flock 9

for stamp in "$base"/*/.evq-built; do
	[ -f "$stamp" ] || continue
	bin=${stamp%/.evq-built}/sparse
	[ -x "$bin" ] && parses "$bin" && { echo "$bin"; exit 0; }
done

APT_CONFIG=$("$top/scripts/apt-suite.sh" "$build" "$suite" --src)
export APT_CONFIG
version=$(apt-cache showsrc --only-source sparse 2>/dev/null |
	sed -n 's/^Version: //p' | sort -rV | head -n1)
[ -n "$version" ] || { log "apt knows no sparse source in $suite"; exit 1; }
dir=$base/$version
srcs=$build/cache/src
mkdir -p "$srcs"
dsc=$srcs/sparse_${version#*:}.dsc
if [ ! -f "$dsc" ]; then
	log "downloading the sparse $version source from $suite"
	(cd "$srcs" && apt-get source -q=2 --download-only "sparse=$version" >&2)
fi

log "building sparse $version with $(gcc -dumpfullversion 2>/dev/null || echo gcc)"
rm -rf "$dir" "$dir.tmp"
# apt checked the files against the suite's signed index.
dpkg-source -q --no-check -x "$dsc" "$dir.tmp" >&2
# Debian's patches name gcc-16 (the compiler whose headers sparse uses, a
# dependency of the package); here it is the compiler that is here.
make -s -C "$dir.tmp" -j"$(nproc)" CC=gcc HAVE_LLVM=no HAVE_GTK=no \
	HAVE_LIBXML=no HAVE_SQLITE=no \
	SPARSE_VERSION="$version (Debian $suite, built here)" sparse >/dev/null
parses "$dir.tmp/sparse" || {
	log "the sparse built from $version does not parse __typeof_unqual__"
	exit 1
}
touch "$dir.tmp/.evq-built"
mv "$dir.tmp" "$dir"
echo "$dir/sparse"
