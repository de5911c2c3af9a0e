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
# ABI for which apt has both linux-headers-KVER and
# linux-image-KVER-unsigned. Default series: the debian: lanes of
# scripts/lanes.
#
# Environment:
#   EVQ_KVERS   space- or newline-separated KVERs: for each series the first
#               of them that belongs to it is printed, apt is not asked
#               (pins the kernels, or works without apt lists)
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if [ $# -gt 0 ]; then
	series=$*
else
	series=$(awk '$2 ~ /^debian:/ { sub(/^debian:/, "", $2); print $2 }' \
		"$top/scripts/lanes")
fi

# kver_re SERIES: an extended regex for the KVERs of SERIES.
kver_re() {
	local base=${1%-rt} flavour=
	[ "$base" = "$1" ] || flavour=rt-
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

# Every name apt knows (virtual ones too, hence the madison check below).
names=$(apt-cache pkgnames linux-)

# KVERs of each series, newest first: 6.1.0-56-amd64, 6.12.117+deb12-amd64
# or 6.12.117+deb12-rt-amd64, never -cloud-amd64.
candidates=()
for s in $series; do
	re="^linux-headers-$(kver_re "$s")\$"
	mapfile -t k < <(sed -nE "s/$re/\\1/p" <<<"$names" | sort -rV)
	candidates+=("${k[@]}")
done
[ "${#candidates[@]}" -gt 0 ] || {
	echo "kernels.sh: no linux-headers for series $series (apt-get update?)" >&2
	exit 1
}

# Which of them really have both packages available (one apt call).
pkgs=()
for k in "${candidates[@]}"; do
	pkgs+=("linux-headers-$k" "linux-image-$k-unsigned")
done
available=$(apt-cache madison "${pkgs[@]}" 2>/dev/null | awk '{ print $1 }' | sort -u)

status=0
for s in $series; do
	found=
	for k in "${candidates[@]}"; do
		grep -qE "^$(kver_re "$s")\$" <<<"$k" || continue
		if grep -qxF "linux-headers-$k" <<<"$available" &&
			grep -qxF "linux-image-$k-unsigned" <<<"$available"; then
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
exit "$status"
