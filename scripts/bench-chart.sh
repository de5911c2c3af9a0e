#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# bench-chart.sh JSON SVG
#
# Draws the evq/native ratio of every paired workload of a `make bench`
# run (the JSON that scripts/bench-report.sh writes) as an SVG chart with
# gnuplot: one row per workload, a point at the median of the
# per-repetition ratios ("ratio_median") and a bar from the smallest to the
# largest per-repetition ratio ("ratio_min", "ratio_max"), on a log scale
# from 0.25 to 4 with a line at 1; a bar that reaches further is cut at the
# edge, and the numbers at the right of each row are the uncut ones. Below
# 1 evq was cheaper (for rates the ratio is native/evq, so this holds for
# every row). "ref" rows (floors and controls) have no ratio and are left
# out; so are rows that did not run. A run of two boots (two vCPUs, then
# one vCPU for W9: bench-report.sh) has a row per workload and boot, the
# one-vCPU rows right below their two-vCPU ones, in another colour and
# marked "(1 vCPU)". The caption names the kernel, the
# accelerator, the repetitions, and the host's CPUs and load averages
# before the boot and at the end of the run, so that a chart from a busy
# host says so.
set -euo pipefail

usage="usage: bench-chart.sh JSON SVG"
json=${1:?$usage}
svg=${2:?$usage}

# jq -r: one tab-separated line per paired row that has a ratio, a row
# from a boot with another vCPU count than the first boot's marked with
# its count, and the point's colour as a number (#1f5fa8 blue for the
# first boot, #d9730d orange for the others). Older JSON has no "vcpus".
rows=$(jq -r '(.boots[0].vcpus // null) as $main
	| .workloads[]
	| select(.kind == "pair" and .ratio_median != null)
	| (.vcpus // $main) as $n
	| [.id + (if $n == $main then ""
		  else " (\($n) vCPU\(if $n == 1 then "" else "s" end))" end),
	   .ratio_median, (.ratio_min // .ratio_median),
	   (.ratio_max // .ratio_median),
	   (if $n == $main then 2056104 else 14250765 end)]
	| @tsv' "$json")
[ -n "$rows" ] || { echo "bench-chart: no ratios in $json" >&2; exit 1; }
n=$(wc -l <<<"$rows")

meta() { jq -r --arg k "$1" '.[$k] // "?"' "$json"; }
aa=$(jq -r 'if has("aa_run") then " (A/A run: both sides native eventfd)" else "" end' "$json")

lo=0.25
hi=4
title="evq / native eventfd cost ratio per workload, kernel $(meta kernel)$aa"
caption="point: median of $(meta reps) per-repetition ratios; bar: their min..max, cut at $lo and $hi; at the right: median [min-max]. Below 1: evq cheaper."
host="qemu $(meta accel), $(meta cpus) vCPUs"
# The other boots: their vCPU count and workloads.
others=$(jq -r '.boots[1:][]?
	| "\(.vcpus) vCPU\(if .vcpus == 1 then "" else "s" end) for \(.only // "all")"' "$json" |
	paste -sd ';' - | sed 's/;/; /g')
[ -z "$others" ] || host+=" (a second boot: $others, in orange)"
[ "$(meta host_cpus)" = "?" ] || host+="; host: $(meta host_cpus) CPUs"
[ "$(meta host_loadavg_before)" = "?" ] ||
	host+=", load average (1/5/15 min) $(meta host_loadavg_before) before the boot, $(meta host_loadavg_after) at the end (VM included)"

# Data block: label, median, min, max, each clamped to the axis.
data=$(awk -F'\t' -v lo="$lo" -v hi="$hi" '
	function clamp(x) { return x < lo ? lo : x > hi ? hi : x }
	{
		gsub(/"/, "", $1)
		printf "\"%s\" %s %s %s %d\n", $1, clamp($2), clamp($3), clamp($4),
		       $5
	}' <<<"$rows")
# One label per row, right of the plot: the numbers before clamping.
labels=$(awk -F'\t' '
	function f(x) { return sprintf(x < 0.1 ? "%.2g" : "%.2f", x) }
	{
		printf "set label %d \"%s [%s-%s]\" at graph 1.02, first %d left font \"monospace,10\" noenhanced\n",
		       NR, f($2), f($3), f($4), NR - 1
	}' <<<"$rows")
height=$((170 + 20 * n))

mkdir -p "$(dirname "$svg")"
gnuplot <<GNUPLOT
set terminal svg size 1000,$height dynamic font "sans,12" background "white"
set output "$svg.tmp"
set title "$title\n$caption\n$host" noenhanced font "sans,11"
\$data << EOD
$data
EOD
set logscale x
set xrange [$lo:$hi]
set xtics (0.25, 0.5, 0.67, 0.8, 1, 1.25, 1.5, 2, 4) nomirror
set yrange [$n:-1]
set ytics nomirror noenhanced font "monospace,10"
set grid xtics
set xlabel "evq / native (for rates native / evq), log scale"
set lmargin 36
set rmargin 24
set key off
$labels
set arrow from 1, graph 0 to 1, graph 1 nohead lc rgb "#444444" lw 1.5
plot \$data using 2:0:3:4:5:ytic(1) with xerrorbars pt 7 ps 0.8 lc rgb variable lw 1.5
GNUPLOT
mv "$svg.tmp" "$svg"
