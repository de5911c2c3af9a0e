#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# evq-vm.sh MODE
#
# What `make run`, `make shell` and `make check` do:
#   run    install what is missing, build, boot one kernel (KVER, default the
#          6.12 one), load evq and run the demo
#   shell  the same VM with evq loaded and a shell on the console
#   lint   checkpatch, W=1 + sparse on every kernel, userspace linters
#   check  build and run every test on every supported kernel, then print
#          "N passed, N failed" over all of them; exit 1 on any failure.
#          The kernels are Debian's and the debug kernel (lockdep, KASAN,
#          kmemleak, fault injection; built once by build-debug-kernel.sh
#          and cached), which runs scripts/vm-payload-debug
#   check-fast   check without the debug kernel
#   check-debug  the debug kernel alone (no lint, no Debian kernels)
#   bench  boot one kernel (KVER) and run the benchmarks (vm-payload-bench),
#          print the table, write $BUILD/bench/KVER.json
#
# Environment: BUILD (default ./build), KVER (run/shell: a full version such
# as 6.1.0-56-amd64, or just 6.1 / 6.12, or "debug"), EVQ_KVERS (the Debian
# kernels, see kernels.sh), EVQ_VM_TIMEOUT (seconds per boot),
# EVQ_BENCH_APPEND (bench: more kernel parameters, e.g.
# "evq_bench_reps=20 evq_bench_secs=0.5").
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$(realpath -m "${BUILD:-$top/build}")
mode=${1:?usage: evq-vm.sh run|shell|check|check-fast|check-debug|lint|bench}
timeout=${EVQ_VM_TIMEOUT:-900}

log() { echo "evq-vm: $*" >&2; }

"$top/scripts/deps.sh"
ksrc=$("$top/scripts/kernel-source.sh" "$build")
mapfile -t kvers < <("$top/scripts/kernels.sh")
[ "${#kvers[@]}" -gt 0 ] || { log "no kernels found"; exit 1; }

# Userspace: static test binaries and the demo, built once for all kernels.
log "building selftests and demo"
make -s -C "$top/selftests" OUT="$build/selftests" \
	KSFT_DIR="$ksrc/tools/testing/selftests" all >&2

# build_module KDIR DIR: build evq.ko for the kernel at KDIR in DIR, from a
# copy of the sources so that several kernels can be built side by side,
# then the selftests' evq_testmod.ko in DIR/selftests/kmod against evq's
# Module.symvers. Warnings are errors here.
build_module() {
	local kdir=$1 dir=$2
	rm -rf "$dir"
	mkdir -p "$dir/selftests"
	cp -r "$top/Kbuild" "$top/module" "$top/uapi" "$dir/"
	cp -r "$top/selftests/kmod" "$dir/selftests/"
	make -s -C "$kdir" M="$dir" KCFLAGS=-Werror modules 2>&1 |
		grep -v '^Skipping BTF generation' >&2 || true
	[ -f "$dir/evq.ko" ] || { log "module build failed for $kdir"; return 1; }
	make -s -C "$kdir" M="$dir/selftests/kmod" KCFLAGS=-Werror \
		KBUILD_EXTRA_SYMBOLS="$dir/Module.symvers" modules 2>&1 |
		grep -v '^Skipping BTF generation' >&2 || true
	[ -f "$dir/selftests/kmod/evq_testmod.ko" ] ||
		{ log "evq_testmod build failed for $kdir"; return 1; }
}

# make_payload DIR KO RUNSCRIPT: the /payload tree of the initramfs: the
# module, everything the selftests Makefile put in its OUT directory (test
# binaries, tools, and an optional host-files list, see mkinitramfs.sh), the
# plan to run, the helpers the plans source (lib) and the shell setup. A
# plan may name host programs it needs in RUNSCRIPT.host-files (same
# format).
make_payload() {
	local dir=$1 ko=$2 run=$3
	rm -rf "$dir"
	mkdir -p "$dir"
	cp "$ko" "$dir/evq.ko"
	cp "$(dirname "$ko")/selftests/kmod/evq_testmod.ko" "$dir/"
	cp -a "$build/selftests/." "$dir/"
	cp "$run" "$dir/run"
	cp "$top/scripts/vm-payload-lib" "$dir/lib"
	[ ! -f "$run.host-files" ] || cat "$run.host-files" >>"$dir/host-files"
	cp "$top/scripts/vm-payload-setup" "$dir/setup"
}

# prepare KVER RUNSCRIPT: fetch the kernel, build the module, pack the
# initramfs for the given payload script. Sets VMLINUZ, INITRD and KLABEL
# (the kernel's name in results: KVER, or the debug kernel's release). KVER
# "debug" is the debug kernel; its payload also gets vm-payload-tests as
# "tests", which vm-payload-debug runs first.
prepare() {
	local kver=$1 run=$2 vars kdir
	if [ "$kver" = debug ]; then
		log "building the debug kernel (cached after the first time)"
		vars=$("$top/scripts/build-debug-kernel.sh" "$build")
	else
		vars=$("$top/scripts/fetch-kernel.sh" "$kver" "$build")
	fi
	kdir=$(sed -n 's/^KDIR=//p' <<<"$vars")
	VMLINUZ=$(sed -n 's/^VMLINUZ=//p' <<<"$vars")
	KLABEL=$(sed -n 's/^KRELEASE=//p' <<<"$vars")
	KLABEL=${KLABEL:-$kver}
	log "building evq.ko for $KLABEL"
	build_module "$kdir" "$build/vm/$kver/module"
	make_payload "$build/vm/$kver/payload" \
		"$build/vm/$kver/module/evq.ko" "$run"
	[ "$kver" != debug ] ||
		cp "$top/scripts/vm-payload-tests" "$build/vm/$kver/payload/tests"
	# The module DKMS built from the evq-dkms package (dkms-check.sh).
	[ ! -f "$build/dkms/$kver/evq.ko" ] ||
		cp "$build/dkms/$kver/evq.ko" "$build/vm/$kver/payload/evq-dkms.ko"
	INITRD=$build/vm/$kver/initrd.cpio.gz
	"$top/scripts/mkinitramfs.sh" "$INITRD" "$build/vm/$kver/payload"
	# KVM or TCG: probed once, on the first kernel (vm-run.sh says why).
	if [ -z "${EVQ_ACCEL:-}" ]; then
		EVQ_ACCEL=$("$top/scripts/vm-run.sh" --print-accel --kernel "$VMLINUZ")
		export EVQ_ACCEL
		log "accelerator: $EVQ_ACCEL"
	fi
}

pick_kver() {
	local want=${KVER:-6.12} k
	[ "$want" != debug ] || { echo debug; return 0; }
	for k in "${kvers[@]}"; do
		case $k in
		"$want" | "$want".* | "$want"-*) echo "$k"; return 0 ;;
		esac
	done
	log "KVER=$want matches none of: ${kvers[*]}"
	return 1
}

case $mode in
run)
	kver=$(pick_kver)
	prepare "$kver" "$top/scripts/vm-payload-demo"
	log "booting $kver (software emulation takes a while)"
	"$top/scripts/vm-run.sh" --kernel "$VMLINUZ" --initrd "$INITRD" \
		--log "$build/vm/$kver/demo-console.log" \
		--verdict "$build/vm/$kver/demo-verdict.log" --timeout "$timeout"
	;;
shell)
	kver=$(pick_kver)
	prepare "$kver" "$top/scripts/vm-payload-tests"
	"$top/scripts/vm-run.sh" --kernel "$VMLINUZ" --initrd "$INITRD" \
		--log "$build/vm/$kver/shell-console.log" \
		--verdict "$build/vm/$kver/shell-verdict.log" --interactive
	;;
check | check-fast | check-debug)
	results=$build/results.txt
	: >"$results"
	log "installed libevq and pkg-config"
	"$top/scripts/libevq-check.sh" "$build" >>"$results"
	lanes=()
	if [ "$mode" != check-debug ]; then
		log "static checks"
		"$top/scripts/lint.sh" "$build" "${kvers[@]}" >>"$results"
		log "Debian packages and DKMS"
		"$top/scripts/dkms-check.sh" "$build" "${kvers[@]}" >>"$results"
		lanes=("${kvers[@]}")
	fi
	[ "$mode" = check-fast ] || lanes+=(debug)
	labels=()
	for kver in "${lanes[@]}"; do
		run=$top/scripts/vm-payload-tests
		[ "$kver" != debug ] || run=$top/scripts/vm-payload-debug
		prepare "$kver" "$run"
		labels+=("$KLABEL")
		verdict=$build/vm/$kver/verdict.log
		log "booting $KLABEL and running the tests"
		if "$top/scripts/vm-run.sh" --kernel "$VMLINUZ" \
			--initrd "$INITRD" --timeout "$timeout" \
			--log "$build/vm/$kver/console.log" --verdict "$verdict" \
			>"$build/vm/$kver/vm-run.out" 2>&1; then
			echo "ok $KLABEL: vm.boot_clean_and_complete" >>"$results"
		else
			cat "$build/vm/$kver/vm-run.out" >&2
			echo "not ok $KLABEL: vm.boot_clean_and_complete" >>"$results"
		fi
		grep -E '^(ok|not ok|skip) ' "$verdict" 2>/dev/null |
			sed -E "s/^(ok|not ok|skip) /\1 $KLABEL: /" >>"$results" || true
	done
	passed=$(grep -c '^ok ' "$results" || true)
	failed=$(grep -c '^not ok ' "$results" || true)
	skipped=$(grep -c '^skip ' "$results" || true)
	if [ "$failed" -gt 0 ]; then
		echo "Failed cases:"
		grep '^not ok ' "$results" | sed 's/^not ok /  /'
	fi
	if [ "$skipped" -gt 0 ]; then
		echo "Skipped cases (not counted as passed):"
		grep '^skip ' "$results" | sed 's/^skip /  /'
	fi
	echo "Kernels: ${labels[*]}; results in $results"
	echo "$passed passed, $failed failed"
	[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
	;;
bench)
	kver=$(pick_kver)
	prepare "$kver" "$top/scripts/vm-payload-bench"
	log "booting $kver for the benchmarks (a few minutes under TCG)"
	verdict=$build/vm/$kver/bench-verdict.log
	"$top/scripts/vm-run.sh" --kernel "$VMLINUZ" --initrd "$INITRD" \
		--log "$build/vm/$kver/bench-console.log" --verdict "$verdict" \
		--timeout "$timeout" --quiet \
		${EVQ_BENCH_APPEND:+--append "$EVQ_BENCH_APPEND"} ||
		bench_status=$?
	accel=$EVQ_ACCEL
	host_cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)
	"$top/scripts/bench-report.sh" "$verdict" "$build/bench/$kver.json" \
		"accel=$accel" "host_cpu=$host_cpu" || bench_status=1
	log "results: $build/bench/$kver.json; console: $build/vm/$kver/bench-console.log"
	exit "${bench_status:-0}"
	;;
lint)
	"$top/scripts/lint.sh" "$build" "${kvers[@]}" | tee "$build/lint.txt"
	! grep -q '^not ok ' "$build/lint.txt"
	;;
*)
	echo "usage: evq-vm.sh run|shell|check|check-fast|check-debug|lint|bench" >&2
	exit 2
	;;
esac
