#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# build-kernel.sh BUILDDIR NAME
#
# Builds one of the kernels evq's VM lanes boot (scripts/lanes, kernel
# "built:NAME") from the Debian kernel source the "source" line of
# scripts/lanes names (linux-source-7.3 from trixie-backports, the newest
# the archive offers), with this machine's gcc: `make ARCH=x86_64
# tinyconfig`, then scripts/kconfig/base.config and scripts/kconfig/NAME.config
# (the latter wins where both set a symbol), then olddefconfig; then bzImage
# and `make modules` so that Module.symvers exists and an out-of-tree module
# builds with `make -C $KDIR M=<dir> modules`.
#
# The source is extracted once into BUILDDIR/linux-source-X.Y by
# scripts/kernel-source.sh (never built in: O= is used). The kernel goes
# to BUILDDIR/kernel-NAME/<key>/build, where the key names the
# linux-source package version, the gcc version and a hash of the fragments;
# a second run with the same key only prints the result. build.log in the key
# directory has the full make output.
#
# A fragment that sets CONFIG_EVQ builds evq in-tree: the kernel is built
# from BUILDDIR/kernel-NAME/<key>/src, a hard-link copy of the extracted
# tree into which scripts/intree.sh lays evq's sources (it adds files and
# replaces changed ones with new files, so the shared tree is never
# written). evq's sources are not part of the key: when they change, the
# next run lays them in again and rebuilds incrementally (a minute or two).
#
# On success the last lines on stdout are
#   KDIR=<absolute O= directory>
#   VMLINUZ=<absolute path of bzImage>
#   KRELEASE=<its uname -r>
#   KSRC=<the source tree with evq laid in>   (in-tree evq only)
# Progress goes to stderr. Missing build packages are installed with apt-get.
# ccache is used when installed (CCACHE_DIR=BUILDDIR/ccache).
#
# Environment: JOBS (make -j, default nproc).
set -euo pipefail

# Bump when the way the kernel is configured or built changes (not the
# fragment: its hash is part of the key already).
recipe=2

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
usage="usage: build-kernel.sh BUILDDIR NAME"
build=$(realpath -m "${1:?$usage}")
kname=${2:?$usage}
fragments=("$top/scripts/kconfig/base.config" "$top/scripts/kconfig/$kname.config")
jobs=${JOBS:-$(nproc)}

log() { echo "build-kernel($kname): $*" >&2; }
die() { log "error: $*"; exit 1; }

for f in "${fragments[@]}"; do [ -r "$f" ] || die "$f missing"; done

# The fragments as one, a symbol's last setting winning, in first-seen
# order: what is applied and checked.
merged_fragment() {
	awk '
		/^CONFIG_[A-Za-z0-9_]+=/ { sym = $0; sub(/=.*/, "", sym) }
		/^# CONFIG_[A-Za-z0-9_]+ is not set$/ { sym = $2 }
		sym != "" { if (!(sym in line)) order[++n] = sym; line[sym] = $0 }
		{ sym = "" }
		END { for (i = 1; i <= n; i++) print line[order[i]] }
	' "${fragments[@]}"
}
fragment=$(mktemp)
trap 'rm -f "$fragment"' EXIT
merged_fragment >"$fragment"
evq_in_tree=0
! grep -qE '^CONFIG_EVQ=[ym]$' "$fragment" || evq_in_tree=1

# evq's sources as intree.sh lays them: a hash, to know when to lay again.
evq_sources_sum() {
	(cd "$top" && find Kbuild module uapi docs selftests scripts/intree.sh \
		-type f ! -name '*.o' ! -name '*.ko' ! -name '.*' -print0 2>/dev/null |
		LC_ALL=C sort -z | xargs -0 sha256sum) | sha256sum | cut -c1-16
}

# --- Packages -----------------------------------------------------------------
installed() {
	dpkg-query -W -f '${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

ensure_packages() {
	local p missing=() sudo=
	for p in bc flex bison libelf-dev libssl-dev dwarves cpio xz-utils \
		build-essential; do
		installed "$p" || missing+=("$p")
	done
	[ "${#missing[@]}" -eq 0 ] && return 0
	if [ "$(id -u)" -ne 0 ]; then
		command -v sudo >/dev/null || die "need root to install: ${missing[*]}"
		sudo=sudo
	fi
	log "installing ${missing[*]}"
	$sudo apt-get update >&2
	$sudo env DEBIAN_FRONTEND=noninteractive \
		apt-get install -y --no-install-recommends "${missing[@]}" >&2
}

# --- Cache key ----------------------------------------------------------------
# <linux-source version>-gcc<version>-<hash of fragment + recipe>, e.g.
# 7.3.4-1_bpo13+1-gcc12.2.0-0123456789ab
cache_key() {
	local ver=$version gccver sum
	gccver=$(gcc -dumpfullversion)
	sum=$({ echo "recipe=$recipe"; cat "$fragment"; } | sha256sum | cut -c1-12)
	echo "${ver//[^A-Za-z0-9.+-]/_}-gcc$gccver-$sum"
}

result() {
	echo "KDIR=$obj"
	echo "VMLINUZ=$obj/arch/x86/boot/bzImage"
	echo "KRELEASE=$(cat "$obj/include/config/kernel.release")"
	[ "$evq_in_tree" -eq 0 ] || echo "KSRC=${obj%/build}/src"
}

# built KEYDIR: that key's kernel is complete, the source tree its
# Makefile points at is still the one it was built from, and (in-tree evq)
# it was built from evq's current sources.
built() {
	[ -f "$1/.done" ] && [ -f "$1/build/arch/x86/boot/bzImage" ] &&
		[ -f "$1/build/Module.symvers" ] &&
		[ "$(cat "$extracted/.evq-extracted" 2>/dev/null)" = "$version" ] &&
		{ [ "$evq_in_tree" -eq 0 ] ||
			[ "$(cat "$1/.evq-sources" 2>/dev/null)" = "$(evq_sources_sum)" ]; }
}

# The source (extracted once, cached) and its version.
extracted=$("$top/scripts/kernel-source.sh" "$build" built) ||
	die "no kernel source (scripts/kernel-source.sh)"
version=$(cat "$extracted/.evq-extracted")

# Fast path: nothing to do when this key was built already.
if command -v gcc >/dev/null; then
	key=$(cache_key)
	obj=$build/kernel-$kname/$key/build
	if built "$build/kernel-$kname/$key"; then
		log "up to date: $build/kernel-$kname/$key"
		result
		exit 0
	fi
fi

ensure_packages
key=$(cache_key)
keydir=$build/kernel-$kname/$key
obj=$keydir/build
src=$extracted
mkdir -p "$keydir"

# One build per key at a time; a second caller waits and then reuses it.
exec 9>"$keydir/.lock"
if ! flock -n 9; then
	log "another build of $key is running, waiting"
	flock 9
fi
if built "$keydir"; then
	log "up to date: $keydir"
	result
	exit 0
fi
incremental=0
[ ! -f "$keydir/.done" ] || incremental=1
rm -f "$keydir/.done"

# In-tree evq: a hard-link copy of the tree (made once per extraction),
# evq laid into it every time (intree.sh leaves unchanged files alone, so
# make rebuilds only what changed).
if [ "$evq_in_tree" -eq 1 ]; then
	src=$keydir/src
	if [ "$(cat "$src/.evq-extracted" 2>/dev/null)" != "$version" ]; then
		log "hard-link copy of the source tree for in-tree evq"
		rm -rf "$src"
		cp -al "$extracted" "$src"
	fi
	laid_sum=$(evq_sources_sum)
	"$top/scripts/intree.sh" "$src" >&2 || die "intree.sh failed"
fi

# --- Build --------------------------------------------------------------------
buildlog=$keydir/build.log
: >"$buildlog"

if [ -d /usr/lib/ccache ] && command -v ccache >/dev/null; then
	# Masquerade directory: CC stays "gcc", so out-of-tree module builds
	# (plain gcc) see the same compiler as the kernel did.
	export PATH=/usr/lib/ccache:$PATH
	export CCACHE_DIR=$build/ccache
	log "using ccache ($CCACHE_DIR)"
fi

kmake() {
	make -C "$src" O="$obj" ARCH=x86_64 "$@" >>"$buildlog" 2>&1
}

# step NAME CMD...: run one step, all output in build.log; on failure show
# its end and stop.
step() {
	local name=$1 t0=$SECONDS
	shift
	log "$name"
	echo "=== $name: $*" >>"$buildlog"
	if ! "$@"; then
		[ "$1" != kmake ] || tail -n 40 "$buildlog" >&2
		die "$name failed (full log: $buildlog)"
	fi
	log "$name: done in $((SECONDS - t0)) s"
}

# Symbols the fragment sets, and the value it wants for each (n for
# "# CONFIG_X is not set").
fragment_values() {
	sed -nE -e 's/^(CONFIG_[A-Za-z0-9_]+)=(.*)$/\1 \2/p' \
		-e 's/^# (CONFIG_[A-Za-z0-9_]+) is not set$/\1 n/p' "$fragment"
}

# tinyconfig, then the fragment replaces whatever tinyconfig said about the
# same symbols, then olddefconfig resolves the rest.
apply_fragment() {
	local syms
	syms=$(fragment_values | cut -d' ' -f1)
	awk -v syms="$syms" '
		BEGIN { n = split(syms, s, "\n"); for (i = 1; i <= n; i++) want[s[i]] = 1 }
		{
			sym = $0
			if (sym ~ /^# CONFIG_[A-Za-z0-9_]+ is not set$/) sym = $2
			else if (sym ~ /^CONFIG_[A-Za-z0-9_]+=/) sub(/=.*/, "", sym)
			else sym = ""
			if (!(sym in want)) print
		}' "$obj/.config" >"$obj/.config.merged"
	cat "$fragment" >>"$obj/.config.merged"
	mv "$obj/.config.merged" "$obj/.config"
}

# Where a symbol is defined and what it depends on, to explain a mismatch.
explain() {
	local sym=${1#CONFIG_}
	grep -rnE --include='Kconfig*' "^[[:space:]]*(menu)?config $sym\$" "$src" |
		while IFS=: read -r file line _; do
			awk -v start="$line" -v f="${file#"$src"/}" '
				NR == start { print "      " f ":" NR ": " $0; next }
				NR < start { next }
				cont { print "      " $0; cont = /\\$/; next }
				/^[[:space:]]*(menu)?config |^(menu|endmenu|choice|endchoice|if|endif|source)/ { exit }
				/^[[:space:]]*(depends on|select|imply|default|range|bool|tristate|int)/ {
					print "      " $0; cont = /\\$/ }' "$file"
		done
}

# Every value the fragment asks for must be in the final .config.
check_config() {
	local sym want got bad=0 report=$keydir/config-check.txt
	: >"$report"
	while read -r sym want; do
		got=$(sed -n "s/^$sym=//p" "$obj/.config")
		got=${got:-n}
		if [ "$got" = "$want" ]; then
			echo "ok $sym=$got" >>"$report"
		else
			echo "MISMATCH $sym: wanted $want, got $got" | tee -a "$report" >&2
			explain "$sym" | tee -a "$report" >&2
			bad=1
		fi
	done < <(fragment_values)
	[ "$bad" -eq 0 ] || { log "see $report"; return 1; }
	log "all $(grep -c '^ok ' "$report") fragment values are in .config"
}

start=$SECONDS
log "building $key in $obj (log: $buildlog)"
mkdir -p "$obj"
if [ "$incremental" -eq 0 ] || [ ! -f "$obj/.config" ]; then
	step "tinyconfig" kmake tinyconfig
	apply_fragment
	cp "$fragment" "$keydir/fragment.config"
	step "olddefconfig" kmake olddefconfig
else
	log "evq's sources changed: incremental rebuild"
fi
step "checking .config against the fragments" check_config
cp "$obj/.config" "$keydir/config"
step "make -j$jobs bzImage modules_prepare (several minutes)" \
	kmake -j"$jobs" bzImage modules_prepare
# Module.symvers comes from `make modules` only (no in-tree modules are
# configured; it still runs modpost on vmlinux).
step "make modules (Module.symvers)" kmake -j"$jobs" modules

[ -f "$obj/arch/x86/boot/bzImage" ] || die "no bzImage in $obj"
[ -s "$obj/Module.symvers" ] || die "no Module.symvers in $obj"
echo "$((SECONDS - start))" >"$keydir/build-seconds"
[ "$evq_in_tree" -eq 0 ] || echo "$laid_sum" >"$keydir/.evq-sources"
touch "$keydir/.done"
log "built in $((SECONDS - start)) s"
result
