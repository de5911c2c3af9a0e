#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# kernels.sh
#
# Prints the Debian kernels evq is tested on, one full version (KVER, as in
# `uname -r`) per line, oldest series first, e.g.
#   6.1.0-56-amd64
#   6.12.117+deb12-amd64
# For each series in EVQ_SERIES (default "6.1 6.12") it takes the newest ABI
# for which apt has both linux-headers-KVER and linux-image-KVER-unsigned.
#
# Environment:
#   EVQ_KVERS   space- or newline-separated KVERs: printed as given, apt is
#               not asked (pins the kernels, or works without apt lists)
#   EVQ_SERIES  the series to look for (default "6.1 6.12")
set -euo pipefail

if [ -n "${EVQ_KVERS:-}" ]; then
	tr -s ' \t' '\n' <<<"$EVQ_KVERS" | sed '/^$/d'
	exit 0
fi

series=${EVQ_SERIES:-6.1 6.12}

# Every name apt knows (virtual ones too, hence the madison check below).
names=$(apt-cache pkgnames linux-)

# KVERs of each series, newest first. Only the generic amd64 flavour:
# 6.1.0-56-amd64 and 6.12.117+deb12-amd64, not -cloud-amd64 or -rt-amd64.
candidates=()
for s in $series; do
	re="^linux-headers-(${s//./\\.}[.-][0-9][^-]*(-[0-9]+)?-amd64)\$"
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
		case $k in "$s".* | "$s"-*) ;; *) continue ;; esac
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
