#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# kernels.sh [SERIES...]
#
# Prints the Debian kernels evq is tested on, one full version (KVER, as in
# `uname -r`) per series, in the order given, e.g. for "6.1 6.12 6.12-rt"
#   6.1.0-56-amd64
#   6.12.117+deb12-amd64
#   6.12.117+deb12-rt-amd64
# A series is a kernel series with an optional flavour: 6.12 is the generic
# amd64 flavour, 6.12-rt the PREEMPT_RT one. For each it takes the newest
# ABI for which apt has both linux-headers-KVER and the unsigned image,
# linux-image-KVER-unsigned (or, as Debian splits 7.x kernels,
# linux-binary-unsigned-KVER). Default series: the debian: lanes of
# scripts/lanes.
#
# SERIES@SUITE (7.3@trixie-backports) takes the kernel from another Debian
# suite than this machine's, through the private apt of
# scripts/apt-suite.sh (lists under BUILD, default ./build).
#
# Environment:
#   EVQ_KVERS   space- or newline-separated KVERs: for each series the first
#               of them that belongs to it is printed, apt is not asked
#               (pins the kernels, or works without apt lists)
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$(realpath -m "${BUILD:-$top/build}")
if [ $# -gt 0 ]; then
	series=$*
else
	series=$(sed 's/#.*//' "$top/scripts/lanes" |
		awk '$2 ~ /^debian:/ { sub(/^debian:/, "", $2); print $2 }')
fi

# kver_re SERIES: an extended regex for the KVERs of SERIES (@SUITE aside).
kver_re() {
	local series=${1%@*}
	local base=${series%-rt} flavour=
	[ "$base" = "$series" ] || flavour=rt-
	echo "(${base//./\\.}[.-][0-9][^-]*(-[0-9]+)?-${flavour}amd64)"
}

if [ -n "${EVQ_KVERS:-}" ]; then
	status=0
	for s in $series; do
		k=$(tr -s ' \t' '\n' <<<"$EVQ_KVERS" | grep -E "^$(kver_re "$s")\$" |
			head -n1) || true
		if [ -n "$k" ]; then echo "$k"; else
			echo "kernels.sh: EVQ_KVERS has no $s kernel" >&2
			status=1
		fi
	done
	exit "$status"
fi

# resolve SERIES...: the KVER of each SERIES, all from one apt (the same
# suite); status 1 if any is missing.
resolve() {
	local names candidates=() pkgs=() available s k re found status=0
	# Every name apt knows (virtual ones too, hence the madison check below).
	names=$(apt-cache pkgnames linux-)

	# KVERs of each series, newest first: 6.1.0-56-amd64, 6.12.117+deb12-amd64
	# or 6.12.117+deb12-rt-amd64, never -cloud-amd64.
	for s in "$@"; do
		re="^linux-headers-$(kver_re "$s")\$"
		mapfile -t k < <(sed -nE "s/$re/\\1/p" <<<"$names" | sort -rV)
		candidates+=("${k[@]}")
	done
	[ "${#candidates[@]}" -gt 0 ] || {
		echo "kernels.sh: no linux-headers for series $* (apt-get update?)" >&2
		return 1
	}

	# Which of them really have both packages available (one apt call).
	for k in "${candidates[@]}"; do
		pkgs+=("linux-headers-$k" "linux-image-$k-unsigned"
			"linux-binary-unsigned-$k")
	done
	available=$(apt-cache madison "${pkgs[@]}" 2>/dev/null | awk '{ print $1 }' | sort -u)

	for s in "$@"; do
		found=
		for k in "${candidates[@]}"; do
			grep -qE "^$(kver_re "$s")\$" <<<"$k" || continue
			if grep -qxF "linux-headers-$k" <<<"$available" &&
				grep -qxF -e "linux-image-$k-unsigned" \
					-e "linux-binary-unsigned-$k" <<<"$available"; then
				found=$k
				break
			fi
		done
		if [ -n "$found" ]; then
			echo "$found"
		else
			echo "kernels.sh: no $s kernel with both headers and unsigned image" >&2
			status=1
		fi
	done
	return "$status"
}

# One apt per suite: this machine's for plain series, a private one for
# SERIES@SUITE. The KVERs are printed in the order of the series.
declare -A kvers=()
status=0
for suite in $(for s in $series; do
	case $s in *@*) echo "${s#*@}" ;; *) echo @ ;; esac
done | awk '!seen[$0]++'); do
	group=()
	for s in $series; do
		case $s in *@*) [ "${s#*@}" = "$suite" ] ;; *) [ "$suite" = @ ] ;; esac &&
			group+=("$s")
	done
	if [ "$suite" = @ ]; then
		out=$(resolve "${group[@]}") || status=1
	elif conf=$("$top/scripts/apt-suite.sh" "$build" "$suite"); then
		out=$(APT_CONFIG=$conf resolve "${group[@]}") || status=1
	else
		status=1
		continue
	fi
	for s in "${group[@]}"; do
		kvers[$s]=$(grep -E "^$(kver_re "$s")\$" <<<"$out" | head -n1) || true
	done
done
for s in $series; do
	[ -z "${kvers[$s]:-}" ] || echo "${kvers[$s]}"
done
exit "$status"
