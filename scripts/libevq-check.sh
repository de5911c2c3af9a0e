#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# libevq-check.sh BUILDDIR
#
# The installed libevq, checked the way its users meet it. Installs it with
# `make install-lib` (PREFIX=/usr/local) into BUILDDIR/libevq-install,
# checks what landed there, then builds selftests/outside/evq_outside.c
# against that tree with nothing but pkg-config (PKG_CONFIG_PATH and
# PKG_CONFIG_SYSROOT_DIR point into the staged install), once linked to
# libevq.so.1 and once statically. Both programs and the library go to
# BUILDDIR/selftests/outside/, where the VM payload picks them up;
# scripts/vm-payload-tests runs them (pkgconfig.*). One verdict line per
# check on stdout, details on stderr:
#   libevq.install_layout         libraries, symlinks, headers, evq.pc;
#                                 <linux/evq.h> under include/evq, nothing
#                                 in include/linux (linux-libc-dev's)
#   libevq.exports_only_libevq_1  SONAME libevq.so.1; the dynamic symbols
#                                 are evq_eventfd and evq_get_info at
#                                 LIBEVQ_1, evq_create and evq_factory_open
#                                 at LIBEVQ_1.1, evq_fast_map,
#                                 evq_fast_unmap and evq_fast_wake at
#                                 LIBEVQ_1.2, and nothing else
#   pkgconfig.outside_program_builds         dynamic, pkg-config --libs
#   pkgconfig.outside_static_program_builds  pkg-config --static --libs
set -uo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$(realpath -m "${1:?usage: libevq-check.sh BUILDDIR}")
dest=$build/libevq-install
prefix=/usr/local
out=$build/selftests/outside
src=$top/selftests/outside/evq_outside.c

verdict() { if [ "$2" -eq 0 ]; then echo "ok $1"; else echo "not ok $1"; fi; }
fail() { echo "libevq-check: $*" >&2; return 1; }

rm -rf "$dest" "$out"
mkdir -p "$out"
make -s -C "$top" BUILD="$build" install-lib DESTDIR="$dest" PREFIX="$prefix" >&2
install_status=$?

lib=$dest$prefix/lib
inc=$dest$prefix/include
layout() {
	local f
	[ "$install_status" -eq 0 ] || fail "make install-lib failed"
	for f in "$lib/libevq.so.1.0.0" "$lib/libevq.a" "$inc/evq.h" \
		"$inc/evq/linux/evq.h" "$lib/pkgconfig/evq.pc"; do
		[ -f "$f" ] || fail "missing $f" || return 1
	done
	# include/linux belongs to the kernel's uapi headers (linux-libc-dev).
	[ ! -e "$inc/linux" ] || fail "installed into $inc/linux" || return 1
	[ "$(readlink "$lib/libevq.so.1")" = libevq.so.1.0.0 ] ||
		fail "libevq.so.1 does not point at libevq.so.1.0.0"
	[ "$(readlink "$lib/libevq.so")" = libevq.so.1 ] ||
		fail "libevq.so does not point at libevq.so.1"
}
layout
verdict libevq.install_layout $?

exports() {
	local soname syms want
	soname=$(readelf -d "$lib/libevq.so.1.0.0" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
	[ "$soname" = libevq.so.1 ] || fail "SONAME is '$soname', expected libevq.so.1" ||
		return 1
	# Defined, global dynamic symbols, name@@version (the version's own
	# ABS symbol is not a function).
	syms=$(readelf --dyn-syms -W "$lib/libevq.so.1.0.0" |
		awk '$5 == "GLOBAL" && $7 != "UND" && $4 != "OBJECT" { print $8 }' | sort)
	want=$(printf '%s\n' evq_create@@LIBEVQ_1.1 evq_eventfd@@LIBEVQ_1 \
		evq_factory_open@@LIBEVQ_1.1 evq_get_info@@LIBEVQ_1 \
		evq_fast_map@@LIBEVQ_1.2 evq_fast_unmap@@LIBEVQ_1.2 \
		evq_fast_wake@@LIBEVQ_1.2 | sort)
	[ "$syms" = "$want" ] ||
		fail "exported: $(tr '\n' ' ' <<<"$syms"), expected: $(tr '\n' ' ' <<<"$want")"
}
exports
verdict libevq.exports_only_libevq_1 $?

# What a user of the installed tree types, nothing more.
export PKG_CONFIG_PATH=$lib/pkgconfig PKG_CONFIG_SYSROOT_DIR=$dest
export PKG_CONFIG_LIBDIR=
build_outside() {
	local name=$1 cflags libs
	shift
	cflags=$(pkg-config "$@" --cflags evq) || return 1
	libs=$(pkg-config "$@" --libs evq) || return 1
	echo "libevq-check: cc $cflags evq_outside.c $libs${static:+ -static}" >&2
	# shellcheck disable=SC2086 # pkg-config's flags are words
	cc -Wall -Wextra -Werror $cflags -o "$out/$name" "$src" $libs \
		${static:+-static} >&2
}
# The VM runs evq_outside with LD_LIBRARY_PATH=/payload/outside/lib.
static='' build_outside evq_outside &&
	mkdir -p "$out/lib" && cp -P "$lib"/libevq.so.1* "$out/lib/"
verdict pkgconfig.outside_program_builds $?
static=1 build_outside evq_outside_static --static
verdict pkgconfig.outside_static_program_builds $?
exit 0
