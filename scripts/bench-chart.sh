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
# with a line at 1. Below 1 evq was cheaper (for rates the ratio is
# native/evq, so this holds for every row). "ref" rows (floors and
# controls) have no ratio and are left out; so are rows that did not run.
# The caption names the kernel, the accelerator, the repetitions and the
# host's load averages recorded before the boot and at the end of the run.
set -euo pipefail

usage="usage: bench-chart.sh JSON SVG"
json=${1:?$usage}
svg=${2:?$usage}

# jq -r: one tab-separated line per paired row that has a ratio.
rows=$(jq -r '.workloads[]
	| select(.kind == "pair" and .ratio_median != null)
	| [.id + " (" + .unit + ")", .ratio_median,
	   (.ratio_min // .ratio_median), (.ratio_max // .ratio_median)]
	| @tsv' "$json")
[ -n "$rows" ] || { echo "bench-chart: no ratios in $json" >&2; exit 1; }
n=$(wc -l <<<"$rows")

meta() { jq -r --arg k "$1" '.[$k] // "?"' "$json"; }
kernel=$(meta kernel)
accel=$(meta accel)
reps=$(meta reps)
cpus=$(meta cpus)
load_before=$(meta host_loadavg_before)
load_after=$(meta host_loadavg_after)
aa=$(jq -r 'if has("aa_run") then " (A/A run: both sides native eventfd)" else "" end' "$json")

title="evq / native eventfd cost ratio, kernel $kernel$aa"
caption="point: median of $reps per-repetition ratios; bar: their min..max. Below 1: evq cheaper (rates: native/evq)."
host="qemu $accel, $cpus vCPUs; host load average (1/5/15 min) before boot: $load_before, at the end (VM included): $load_after"

# Values in the data block: label (quoted), median, min, max.
data=$(awk -F'\t' '{ gsub(/"/, "", $1); printf "\"%s\" %s %s %s\n", $1, $2, $3, $4 }' <<<"$rows")
# The x range: every min and max, and 1, with some room; log scale.
read -r lo hi < <(awk -F'\t' 'BEGIN { lo = 1; hi = 1 }
	{ if ($3 < lo) lo = $3; if ($4 > hi) hi = $4 }
	END { printf "%g %g\n", lo / 1.1, hi * 1.1 }' <<<"$rows")
height=$((160 + 22 * n))

mkdir -p "$(dirname "$svg")"
gnuplot <<EOF
set terminal svg size 1000,$height dynamic font "sans,12" background "white"
set rmargin 4
set output "$svg.tmp"
set title "$title\n$caption\n$host" noenhanced
set datafile separator whitespace
\$data << EOD
$data
EOD
set logscale x
set xrange [$lo:$hi]
set xtics (0.5, 0.67, 0.8, 0.9, 1, 1.1, 1.25, 1.5, 2, 3, 4) nomirror
set mxtics default
set yrange [$n:-1]
set ytics nomirror noenhanced font "monospace,11"
set grid xtics
set xlabel "evq / native (log scale)"
set lmargin 30
set key off
set arrow from 1, graph 0 to 1, graph 1 nohead lc rgb "#444444" lw 1.5
plot \$data using 2:0:3:4:ytic(1) with xerrorbars pt 7 ps 0.8 lc rgb "#1f5fa8" lw 1.5, \
	'' using 2:0:(sprintf("%.2f", \$2)) with labels offset 0,0.75 font "sans,9" noenhanced
EOF
mv "$svg.tmp" "$svg"
