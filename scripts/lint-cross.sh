#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# lint-cross.sh BUILDDIR [NAME...]
#
# evq built for other architectures than the host's, with W=1 and
# -Werror, against Debian's linux-source-6.12 (scripts/kernel-source.sh)
# and Debian's cross compilers. One verdict line per target on stdout
# ("ok lint.cross.NAME" or "not ok lint.cross.NAME"), details on stderr:
#   arm64-4k    arm64 defconfig, 4K pages (EVQ_PAGE_SIZE == PAGE_SIZE)
#   arm64-64k   arm64 defconfig, 64K pages (the fast page is one 64K page)
#   arm         32-bit ARM, multi_v7_defconfig (Debian's armhf)
# Without NAME, all three.
#
# Each target has its own kernel object directory under
# BUILDDIR/cross/NAME-KEY: the defconfig, the page size and CONFIG_MODULES,
# then `make modules_prepare`. KEY hashes everything the prepared tree
# depends on (the linux-source version, the compiler's version, the
# configuration recipe below), so a later run reuses it and a change
# prepares it afresh; stale directories of the target are removed. The
# prepares of all targets run in parallel (each make with -j1: the
# machine's cores are shared between them), then evq is built in a
# scratch copy with M=, one target after the other. Only evq's objects
# are built (not the final modpost step, which needs the kernel's
# Module.symvers that modules_prepare does not make).
set -uo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$(realpath -m "${1:?usage: lint-cross.sh BUILDDIR [NAME...]}")
shift
ksrc=$("$top/scripts/kernel-source.sh" "$build") || exit 1
targets=("$@")
[ "${#targets[@]}" -gt 0 ] || targets=(arm64-4k arm64-64k arm)

verdict() { if [ "$2" -eq 0 ]; then echo "ok $1"; else echo "not ok $1"; fi; }

# The recipe of each target: ARCH, CROSS_COMPILE, defconfig target, and
# scripts/config options.
recipe() {
	case $1 in
	arm64-4k) echo "arm64 aarch64-linux-gnu- defconfig -e MODULES -e ARM64_4K_PAGES -d ARM64_64K_PAGES" ;;
	arm64-64k) echo "arm64 aarch64-linux-gnu- defconfig -e MODULES -d ARM64_4K_PAGES -e ARM64_64K_PAGES" ;;
	arm) echo "arm arm-linux-gnueabihf- multi_v7_defconfig -e MODULES" ;;
	*) return 1 ;;
	esac
}

# prepare NAME: print the prepared object directory of NAME, preparing it
# first unless a previous run did.
prepare() {
	local name=$1 arch cross defconfig opts key obj cc
	read -r arch cross defconfig opts < <(recipe "$name") || {
		echo "lint-cross: unknown target $name" >&2
		return 1
	}
	cc=${cross}gcc
	command -v "$cc" >/dev/null || {
		echo "lint-cross: $cc missing (run scripts/deps.sh)" >&2
		return 1
	}
	key=$( { cat "$ksrc/.evq-extracted"; "$cc" --version | head -1
		recipe "$name"; echo v1; } | sha256sum | cut -c1-12)
	obj=$build/cross/$name-$key
	if [ ! -f "$obj/.evq-prepared" ]; then
		rm -rf "$build/cross/$name"-*
		mkdir -p "$obj"
		# shellcheck disable=SC2086 # $opts are scripts/config's words
		{ make -s -C "$ksrc" O="$obj" ARCH="$arch" CROSS_COMPILE="$cross" \
			"$defconfig" &&
			"$ksrc/scripts/config" --file "$obj/.config" $opts &&
			make -s -C "$ksrc" O="$obj" ARCH="$arch" \
				CROSS_COMPILE="$cross" olddefconfig &&
			make -s -C "$ksrc" O="$obj" ARCH="$arch" \
				CROSS_COMPILE="$cross" modules_prepare; } \
			>"$obj.log" 2>&1 || {
			cat "$obj.log" >&2
			echo "lint-cross: preparing $name failed" >&2
			return 1
		}
		touch "$obj/.evq-prepared"
	fi
	echo "$obj"
}

# Prepare every target at once, in the background.
declare -A pid
for name in "${targets[@]}"; do
	mkdir -p "$build/cross"
	prepare "$name" >"$build/cross/$name.dir" &
	pid[$name]=$!
done

for name in "${targets[@]}"; do
	if ! wait "${pid[$name]}"; then
		verdict "lint.cross.$name" 1
		continue
	fi
	obj=$(cat "$build/cross/$name.dir")
	read -r arch cross _ < <(recipe "$name")
	dir=$build/lint/cross-$name
	rm -rf "$dir"
	mkdir -p "$dir"
	cp -r "$top/Kbuild" "$top/module" "$top/uapi" "$dir/"
	# shellcheck disable=SC2046 # the objects, one word each
	out=$(make -C "$obj" M="$dir" ARCH="$arch" CROSS_COMPILE="$cross" W=1 \
		KCFLAGS=-Werror $(sed -n 's/^evq-y[[:space:]]*:=//p' "$top/Kbuild") 2>&1)
	status=$?
	diag=$(grep -E 'warning|error|: note:' <<<"$out")
	if [ "$status" -ne 0 ] || [ -n "$diag" ]; then
		echo "$out" >&2
		status=1
	fi
	verdict "lint.cross.$name" "$status"
done
