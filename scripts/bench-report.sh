#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# bench-report.sh VERDICT.log OUT.json [KEY=VALUE...]
#
# Turns the BENCH lines of a `make bench` VM run (scripts/guest/bench,
# evq_bench from bench/) into a table on stdout and a JSON file:
#   - per row and counter type: median, min and max over the repetitions
#   - ratio: the median over repetitions of the per-pair cost ratio
#     evq/native (pair = the native and evq runs of one repetition, run back
#     to back). For time-like units (lower is better) it is evq/native, for
#     rates (ops/s, events/ms) native/evq, so below 1.00 always means evq
#     was cheaper. ratio_min/ratio_max in the JSON: the smallest and the
#     largest per-pair ratio, the spread scripts/bench-chart.sh draws.
#   - "ref" rows (floors, futex/pipe controls) have one value, no ratio.
#   - BENCH-GAP lines show as "not run: WHY" in the table and null in JSON.
#   - The log may hold several boots one after the other (`make bench`
#     boots twice: two vCPUs for every workload, one vCPU for W9), each
#     beginning with its BENCH-META lines. A row belongs to the boot whose
#     "BENCH-META cpus N" came last before it: the table's vCPUs column and
#     the JSON's "vcpus" say which, and a workload measured in both boots
#     has one row per boot, next to each other. The JSON's top level keeps
#     the first boot's BENCH-META; "boots" lists every boot's, with its
#     "vcpus". A log of one boot (older runs too) reads as before.
# KEY=VALUE pairs are added to the JSON's top level (e.g. accel=tcg).
# Exit status 1 if the log has a BENCH-ERROR line or no BENCH line at all.
set -euo pipefail

usage="usage: bench-report.sh VERDICT.log OUT.json [KEY=VALUE...]"
log=${1:?$usage}
json=${2:?$usage}
shift 2

mkdir -p "$(dirname "$json")"
extra=$(IFS=$'\x1f'; echo "$*")
status=0
tr -d '\r' <"$log" | awk -v json="$json.tmp" -v extra="$extra" '
function sort(a, n,    i, j, t) {
	for (i = 2; i <= n; i++) {
		t = a[i]
		for (j = i - 1; j >= 1 && a[j] > t; j--)
			a[j + 1] = a[j]
		a[j + 1] = t
	}
}
function median(a, n) {
	sort(a, n)
	if (n % 2)
		return a[(n + 1) / 2]
	return (a[n / 2] + a[n / 2 + 1]) / 2
}
# Stats of row r (a row id and a vCPU count, see rowkey), kind k into
# st_med, st_min, st_max, st_list.
function stats(r, k,    i, n, a) {
	n = cnt[r, k]
	st_list = ""
	for (i = 1; i <= n; i++) {
		a[i] = val[r, k, i]
		st_list = st_list (i > 1 ? ", " : "") fmt(a[i])
	}
	st_med = median(a, n)
	st_min = a[1]
	st_max = a[n]
}
function fmt(x) {
	if (x == int(x) || x >= 1000)
		return sprintf("%.0f", x)
	if (x >= 100)
		return sprintf("%.1f", x)
	if (x >= 10)
		return sprintf("%.2f", x)
	if (x >= 0.1)
		return sprintf("%.3f", x)
	# Small figures (system calls per signal): 3 significant digits.
	return sprintf("%.3g", x)
}
# A ratio: 2 decimals, or 2 significant digits below 0.1 (e.g. 0.0042).
function fmtratio(x) {
	return sprintf(x < 0.1 ? "%.2g" : "%.2f", x)
}
# A JSON number from a count, null if it is not one ("?": no cpus line).
function jnum(s) {
	return s ~ /^[0-9]+$/ ? s : "null"
}
function jstr(s) {
	gsub(/\\/, "\\\\", s)
	gsub(/"/, "\\\"", s)
	return "\"" s "\""
}
# A row: its id in the boot whose vCPU count is cpus ("?" before any
# "BENCH-META cpus" line). Ids are listed in the order they first appear,
# and under each id its boots in the order they ran.
function rowkey(id,    r) {
	r = id " " cpus
	if (!(r in seen)) {
		seen[r] = 1
		rid[r] = id
		rcpus[r] = cpus
		if (!(id in nkeys))
			idorder[++nids] = id
		keys[id, ++nkeys[id]] = r
		nrows++
	}
	return r
}
BEGIN { cpus = "?" }
$1 == "BENCH" && NF == 7 {
	r = rowkey($3); k = $4
	unit[r] = $6
	better[r] = $7
	n = ++cnt[r, k]
	val[r, k, n] = $5 + 0
	rep[r, k, n] = $2
	next
}
$1 == "BENCH-GAP" {
	r = rowkey($2); k = $3
	s = $0
	sub(/^BENCH-GAP [^ ]+ [^ ]+ /, "", s)
	gap[r, k] = s
	next
}
$1 == "BENCH-ERROR" {
	errors[++nerr] = $0 (nboots > 1 ? " (boot " nboots ", vCPUs: " cpus ")" : "")
	next
}
# "BENCH-META kernel" opens a boot (scripts/guest/bench says it first).
$1 == "BENCH-META" {
	s = $0
	sub(/^BENCH-META [^ ]+ ?/, "", s)
	if ($2 == "kernel" || nboots == 0)
		nboots++
	if ($2 == "cpus")
		cpus = s
	bmeta[nboots, ++nbmeta[nboots]] = $2
	bval[nboots, nbmeta[nboots]] = s
	if (nboots == 1) {
		meta[$2] = s
		metaorder[++nmeta] = $2
	}
	next
}
END {
	if (nrows == 0) {
		print "bench-report: no BENCH lines in the log" > "/dev/stderr"
		exit 1
	}
	printf "%-28s %5s %-15s %12s %12s %19s %19s %8s\n", "workload", "vCPUs",
	       "unit", "native med", "evq med", "native min/max", "evq min/max",
	       "ratio"
	printf "{\n"  > json
	for (i = 1; i <= nmeta; i++)
		printf "  %s: %s,\n", jstr(metaorder[i]), jstr(meta[metaorder[i]]) > json
	m = split(extra, kv, "\037")
	for (i = 1; i <= m; i++) {
		p = index(kv[i], "=")
		if (p)
			printf "  %s: %s,\n", jstr(substr(kv[i], 1, p - 1)),
			       jstr(substr(kv[i], p + 1)) > json
	}
	printf "  \"ratio\": %s,\n", jstr("median over repetitions of the per-pair cost ratio evq/native (native/evq for rates); below 1 evq is cheaper") > json
	printf "  \"boots\": [\n" > json
	for (b = 1; b <= nboots; b++) {
		obj = ""
		for (i = 1; i <= nbmeta[b]; i++) {
			obj = obj sprintf(", %s: %s", jstr(bmeta[b, i]), jstr(bval[b, i]))
			if (bmeta[b, i] == "cpus")
				bcpus = bval[b, i]
		}
		printf "    {\"vcpus\": %s%s}%s\n", jnum(bcpus), obj,
		       (b < nboots ? "," : "") > json
		bcpus = ""
	}
	printf "  ],\n" > json
	printf "  \"workloads\": [\n" > json
	no = 0
	for (n = 1; n <= nids; n++)
		for (j = 1; j <= nkeys[idorder[n]]; j++)
			order[++no] = keys[idorder[n], j]
	for (i = 1; i <= nrows; i++) {
		r = order[i]
		obj = ""
		obj = obj sprintf("    {\"id\": %s, \"vcpus\": %s, \"unit\": %s, \"better\": %s",
		       jstr(rid[r]), jnum(rcpus[r]), jstr(unit[r]), jstr(better[r]))
		if (cnt[r, "ref"] > 0) {
			stats(r, "ref")
			printf "%-28s %5s %-15s %12s %12s %19s %19s %8s\n", rid[r],
			       rcpus[r], unit[r], fmt(st_med), "-",
			       fmt(st_min) "/" fmt(st_max), "-", "ref"
			obj = obj sprintf(", \"kind\": \"reference\", \"median\": %s, \"min\": %s, \"max\": %s, \"samples\": [%s]}",
			       fmt(st_med), fmt(st_min), fmt(st_max), st_list)
			wobj[i] = obj
			continue
		}
		nmed = "-"; emed = "-"; nmm = "-"; emm = "-"; ratio = "-"
		obj = obj sprintf(", \"kind\": \"pair\"")
		split("native evq", kinds, " ")
		for (j = 1; j <= 2; j++) {
			k = kinds[j]
			if (cnt[r, k] > 0) {
				stats(r, k)
				if (k == "native") {
					nmed = fmt(st_med); nmm = fmt(st_min) "/" fmt(st_max)
				} else {
					emed = fmt(st_med); emm = fmt(st_min) "/" fmt(st_max)
				}
				obj = obj sprintf(", %s: {\"median\": %s, \"min\": %s, \"max\": %s, \"samples\": [%s]}",
				       jstr(k), fmt(st_med), fmt(st_min), fmt(st_max),
				       st_list)
			} else {
				why = ((r, k) in gap) ? gap[r, k] : "not run"
				if (k == "native")
					nmed = why
				else
					emed = why
				obj = obj sprintf(", %s: null, %s: %s", jstr(k), jstr(k "_note"),
				       jstr(why))
			}
		}
		# Pairs: the native and evq figures of the same repetition.
		np = 0
		for (a = 1; a <= cnt[r, "native"]; a++)
			for (b = 1; b <= cnt[r, "evq"]; b++)
				if (rep[r, "native", a] == rep[r, "evq", b] &&
				    val[r, "native", a] > 0 && val[r, "evq", b] > 0) {
					if (better[r] == "higher")
						pr[++np] = val[r, "native", a] / val[r, "evq", b]
					else
						pr[++np] = val[r, "evq", b] / val[r, "native", a]
				}
		if (np > 0) {
			ratio = fmtratio(median(pr, np))
			# median() sorted pr: the extremes of the per-pair ratios.
			obj = obj sprintf(", \"ratio_median\": %s, \"ratio_min\": %s, \"ratio_max\": %s, \"pairs\": %d",
			       ratio, fmt(pr[1]), fmt(pr[np]), np)
		} else {
			obj = obj sprintf(", \"ratio_median\": null")
		}
		wobj[i] = obj "}"
		if (nmed ~ / / || emed ~ / /)
			printf "%-28s %5s %-15s %12s %s\n", rid[r], rcpus[r], unit[r],
			       nmed, emed
		else
			printf "%-28s %5s %-15s %12s %12s %19s %19s %8s\n", rid[r],
			       rcpus[r], unit[r], nmed, emed, nmm, emm, ratio
	}
	for (i = 1; i <= nrows; i++)
		printf "%s%s\n", wobj[i], (i < nrows ? "," : "") > json
	printf "  ],\n  \"errors\": %d\n}\n", nerr > json
	print "ratio: median of per-repetition evq/native cost ratios (rates inverted); below 1.00 evq is cheaper; ref = floor or control"
	for (i = 1; i <= nerr; i++)
		print errors[i]
	if (nerr)
		exit 1
}' || status=$?
# A run with errors still gets its JSON ("errors": N); a log without a
# single BENCH line gets none.
[ ! -f "$json.tmp" ] || mv "$json.tmp" "$json"
exit "$status"
