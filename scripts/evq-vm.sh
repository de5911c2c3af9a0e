#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# evq-vm.sh MODE
#
# What `make run`, `make shell` and `make check` do:
#   run    install what is missing, build, boot one kernel (KVER, default the
#          6.12 lane), load evq and run the demo
#   shell  the same VM with evq loaded and a shell on the console
#   lint   checkpatch, W=1 + sparse on every Debian kernel, the in-tree
#          patch, userspace linters
#   check  lint, then every lane of scripts/lanes (one line of data per
#          kernel: how it is obtained, which plan of scripts/guest/ runs in
#          the VM, extra kernel parameters), then "N passed, N failed" over
#          all of them; exit 1 on any failure. The built kernels compile
#          in the background meanwhile (prebuild below)
#   check-fast   check with only the debian: lanes (no kernel build, no
#                system lanes)
#   check-debug  only the built: lanes (no lint, no Debian kernels)
#   bench  boot one kernel (KVER) and run the benchmarks (scripts/guest/bench),
#          then boot it again with one vCPU for the workloads whose figures
#          are wake-up cost rather than thread placement (EVQ_BENCH_1CPU),
#          print the table, write $BUILD/bench/KVER.json and the chart
#          $BUILD/bench/KVER.svg (bench-chart.sh), both boots side by side
#   vmtest a developer's shortcut: boot one kernel (KVER), load evq and
#          run only the test programs EVQ_ONLY names ("evq_lib_test
#          evq_fast_test"), with verdicts and the console scan as in check
#   fuzz   boot one kernel (KVER) and run the random differential tester
#          once (scripts/guest/fuzz): FUZZ_OPS ops per seed (default
#          1000000), FUZZ_SEEDS seeds (1) from FUZZ_SEED (1); FUZZ_THREADS=N
#          runs the concurrent mode with N threads instead. Progress lines
#          keep the watchdog quiet; the overall cap grows with the ops
#
# Environment: BUILD (default ./build), KVER (run/shell/bench: a lane name
# such as 6.1, 6.12, 6.12-rt, 7.3, debug, or a full Debian version),
# LANES (check: the lanes to run, by name, e.g. "6.12 debug"), EVQ_KVERS
# (pins the Debian kernels, see kernels.sh), EVQ_VM_TIMEOUT (overall cap per
# boot, seconds), EVQ_VM_STALL (seconds without output before a VM counts
# as hung, see vm-run.sh), EVQ_BENCH_APPEND (bench: more kernel parameters,
# e.g. "evq_bench_reps=20 evq_bench_secs=0.5"; an evq_bench_only there
# limits both boots), EVQ_BENCH_1CPU (bench: the workloads of the one-vCPU
# boot, default "W9"; empty: no such boot), EVQ_SKIP_STATIC=1 (check:
# a developer's shortcut that skips the static checks and DKMS, so a run
# is only the lanes; `make check` itself never sets it).
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$(realpath -m "${BUILD:-$top/build}")
mode=${1:?usage: evq-vm.sh run|shell|check|check-fast|check-debug|lint|bench|fuzz|vmtest}
timeout=${EVQ_VM_TIMEOUT:-3600}
stall=${EVQ_VM_STALL:-300}
guest=$top/scripts/guest

# Each step says when it began (minutes:seconds into this run), so a slow
# run shows where its time went.
log() {
	printf 'evq-vm: [%d:%02d] %s\n' $((SECONDS / 60)) $((SECONDS % 60)) "$*" >&2
}

log "dependencies and the kernel source"
"$top/scripts/deps.sh"
ksrc=$("$top/scripts/kernel-source.sh" "$build")

# The lanes: "NAME KERNEL PLAN PARAMS..." lines, comments, blanks and the
# "source" line (kernel-source.sh reads it) gone.
mapfile -t lanes < <(sed -e 's/#.*//' -e '/^[[:space:]]*$/d' \
	-e '/^source[[:space:]]/d' "$top/scripts/lanes")
[ "${#lanes[@]}" -gt 0 ] || { log "no lanes in scripts/lanes"; exit 1; }

# Userspace: static test binaries and the demo, built once for all kernels.
log "building selftests and demo"
make -s -C "$top/selftests" OUT="$build/selftests" \
	KSFT_DIR="$ksrc/tools/testing/selftests" all >&2

# make_quiet ARGS...: make, without the kbuild line every Debian header tree
# prints; its status is whether the build produced what the caller checks.
make_quiet() {
	make -s "$@" 2>&1 | grep -v '^Skipping BTF generation' >&2 || true
}

# build_module KDIR DIR BUILTIN: build evq.ko for the kernel at KDIR in DIR,
# from a copy of the sources so that several kernels can be built side by
# side (not when BUILTIN is 1: the kernel has evq already), then the
# selftests' evq_testmod.ko in DIR/selftests/kmod against evq's
# Module.symvers (or the kernel's own, which has evq's symbols when it is
# built in). Warnings are errors here.
build_module() {
	local kdir=$1 dir=$2 builtin=$3 symvers=()
	rm -rf "$dir"
	mkdir -p "$dir/selftests"
	cp -r "$top/Kbuild" "$top/module" "$top/uapi" "$dir/"
	cp -r "$top/selftests/kmod" "$dir/selftests/"
	if [ "$builtin" -eq 0 ]; then
		make_quiet -C "$kdir" M="$dir" KCFLAGS=-Werror modules
		[ -f "$dir/evq.ko" ] || { log "module build failed for $kdir"; return 1; }
		symvers=(KBUILD_EXTRA_SYMBOLS="$dir/Module.symvers")
	fi
	make_quiet -C "$kdir" M="$dir/selftests/kmod" KCFLAGS=-Werror \
		"${symvers[@]}" modules
	[ -f "$dir/selftests/kmod/evq_testmod.ko" ] ||
		{ log "evq_testmod build failed for $kdir"; return 1; }
}

# make_payload DIR MODDIR PLAN: the /payload tree of the initramfs: the
# modules built in MODDIR (evq.ko unless the kernel has evq built in),
# everything the selftests Makefile put in its OUT directory (test
# binaries, tools, and an optional host-files list, see mkinitramfs.sh),
# every plan of scripts/guest (PLAN as "run"; plans may run each other),
# the helpers they source (lib) and the shell setup. A plan may name host
# programs it needs in PLAN.host-files (same format).
make_payload() {
	local dir=$1 moddir=$2 plan=$3 f
	rm -rf "$dir"
	mkdir -p "$dir"
	[ ! -f "$moddir/evq.ko" ] || cp "$moddir/evq.ko" "$dir/evq.ko"
	cp "$moddir/selftests/kmod/evq_testmod.ko" "$dir/"
	cp -a "$build/selftests/." "$dir/"
	for f in "$guest"/*; do
		case $f in */init | *.host-files) continue ;; esac
		cp "$f" "$dir/"
	done
	cp "$guest/$plan" "$dir/run"
	[ ! -f "$guest/$plan.host-files" ] ||
		cat "$guest/$plan.host-files" >>"$dir/host-files"
}

# install_kselftests TREE KDIR DEST: evq's in-tree selftests, built as a
# kernel CI builds them (uapi headers into KDIR, then the kselftest
# Makefile with O=KDIR) and installed with the kernel's own runner,
# run_kselftest.sh, into DEST.
install_kselftests() {
	local tree=$1 kdir=$2 dest=$3
	log "installing the in-tree selftests with the kselftest runner"
	make -s -C "$tree" O="$kdir" ARCH=x86_64 headers >&2
	make -s -C "$tree/tools/testing/selftests" O="$kdir" TARGETS=evq \
		INSTALL_PATH="$dest" install >&2
}

# suite_of KERNEL: "@SUITE" for a debian:SERIES@SUITE kernel, else nothing.
suite_of() {
	case $1 in *@*) echo "@${1#*@}" ;; esac
}

# kernel KERNEL: obtain the lane's kernel; sets KDIR, VMLINUZ, KLABEL (the
# name in results: the Debian version or the built kernel's release),
# KTREE (a source tree with evq laid in, for built kernels that have it)
# and BUILTIN (1 if evq is built into the kernel).
kernel() {
	local spec=$1 vars kver
	case $spec in
	debian:*)
		kver=$("$top/scripts/kernels.sh" "${spec#debian:}")
		vars=$("$top/scripts/fetch-kernel.sh" "$kver$(suite_of "$spec")" "$build")
		KLABEL=$kver
		;;
	built:*)
		log "building the ${spec#built:} kernel (cached after the first time)"
		vars=$("$top/scripts/build-kernel.sh" "$build" "${spec#built:}")
		KLABEL=$(sed -n 's/^KRELEASE=//p' <<<"$vars")
		;;
	*) log "scripts/lanes: unknown kernel $spec"; return 1 ;;
	esac
	KDIR=$(sed -n 's/^KDIR=//p' <<<"$vars")
	VMLINUZ=$(sed -n 's/^VMLINUZ=//p' <<<"$vars")
	KTREE=$(sed -n 's/^KSRC=//p' <<<"$vars")
	BUILTIN=0
	grep -qs '^CONFIG_EVQ=y' "$KDIR/.config" && BUILTIN=1
	return 0
}

# prepare LANE PLAN: obtain the lane's kernel, build the modules, pack the
# initramfs with PLAN as /payload/run. Sets what kernel() sets, INITRD and
# APPEND (the lane's kernel parameters), and VMDIR, the lane's directory.
prepare() {
	local name=$1 plan=$2 spec params
	read -r _ spec _ params <<<"$(lane "$name")"
	kernel "$spec"
	APPEND=$params
	VMDIR=$build/vm/$name
	log "building modules for $KLABEL"
	build_module "$KDIR" "$VMDIR/module" "$BUILTIN"
	make_payload "$VMDIR/payload" "$VMDIR/module" "$plan"
	if [ -n "$KTREE" ] && [ -d "$KTREE/tools/testing/selftests/evq" ]; then
		install_kselftests "$KTREE" "$KDIR" "$VMDIR/payload/kselftest"
	fi
	# The module DKMS built from the evq-dkms package (dkms-check.sh).
	[ ! -f "$build/dkms/$KLABEL/evq.ko" ] ||
		cp "$build/dkms/$KLABEL/evq.ko" "$VMDIR/payload/evq-dkms.ko"
	INITRD=$VMDIR/initrd.cpio.gz
	"$top/scripts/mkinitramfs.sh" "$INITRD" "$VMDIR/payload"
	probe_accel "$VMLINUZ"
}

# probe_accel VMLINUZ: KVM or TCG, probed once, on the first kernel booted
# (vm-run.sh says why; a probe can cost a minute), then EVQ_ACCEL for all.
probe_accel() {
	[ -z "${EVQ_ACCEL:-}" ] || return 0
	EVQ_ACCEL=$("$top/scripts/vm-run.sh" --print-accel --kernel "$1")
	export EVQ_ACCEL
	log "accelerator: $EVQ_ACCEL"
}

# lane NAME: its line of scripts/lanes.
lane() {
	local l
	for l in "${lanes[@]}"; do
		[ "${l%%[[:space:]]*}" != "$1" ] || { echo "$l"; return 0; }
	done
	log "no lane $1 in scripts/lanes"
	return 1
}

# lane_names [KIND]: the names of every lane, or of those whose kernel is
# KIND (debian or built).
lane_names() {
	local l name spec
	for l in "${lanes[@]}"; do
		read -r name spec _ <<<"$l"
		[ -z "${1:-}" ] || [ "${spec%%:*}" = "$1" ] || continue
		echo "$name"
	done
}

# pick_lane: the lane KVER names (default 6.12): a lane name, or a Debian
# version (full, or its start) of a debian: lane.
pick_lane() {
	local want=${KVER:-6.12} name spec kver
	lane "$want" >/dev/null 2>&1 && { echo "$want"; return 0; }
	for name in $(lane_names debian); do
		read -r _ spec _ <<<"$(lane "$name")"
		kver=$("$top/scripts/kernels.sh" "${spec#debian:}") || continue
		case $kver in
		"$want" | "$want".* | "$want"-* | "$want"+*) echo "$name"; return 0 ;;
		esac
	done
	log "KVER=$want matches no lane: $(lane_names | tr '\n' ' ')"
	return 1
}

# debian_kvers: the Debian kernels of the debian: lanes, for lint and DKMS:
# KVER, or KVER@SUITE when the lane names a suite (as fetch-kernel.sh takes
# them).
debian_kvers() {
	local name spec kver
	for name in $(lane_names debian); do
		read -r _ spec _ <<<"$(lane "$name")"
		kver=$("$top/scripts/kernels.sh" "${spec#debian:}")
		echo "$kver$(suite_of "$spec")"
	done
}

# prebuild NAME...: build the kernels of the built: lanes among NAME... in
# the background, one after the other, at the lowest CPU and I/O priority.
# The static checks and the VM lanes leave most of a core idle (a test
# program is mostly one thread, checkpatch one process, a vCPU waiting
# for an event sleeps), and a build at nice 19 takes only what they leave.
# A lane's prepare() then waits on build-kernel.sh's lock for whatever is
# left of its kernel; if a background build fails, that call builds again
# and says why. Output in $build/prebuild.log.
prebuild() {
	local name spec kernels=() systems=()
	for name in "$@"; do
		read -r _ spec _ <<<"$(lane "$name" 2>/dev/null)"
		[ "${spec%%:*}" != built ] || kernels+=("${spec#built:}")
		[ "${spec%%:*}" != system ] || systems+=("${spec#system:}")
	done
	if [ "${#systems[@]}" -gt 0 ]; then
		# The system lanes' Debian bases (downloads and dpkg, mostly
		# waiting on the network and the disk), beside the kernels.
		log "building the system lanes' bases in the background (log: $build/prebuild-system.log)"
		# shellcheck disable=SC2016 # expanded by the inner bash
		setsid nice -n 19 ionice -c 3 bash -c '
			echo 19 2>/dev/null >/proc/self/autogroup || true
			top=$1 build=$2
			shift 2
			for s in "$@"; do
				"$top/scripts/system-image.sh" --base "$build" "${s%%,*}" "$s" || true
			done' prebuild "$top" "$build" "${systems[@]}" \
			>"$build/prebuild-system.log" 2>&1 &
		prebuild_system_pid=$!
	fi
	[ "${#kernels[@]}" -gt 0 ] || return 0
	log "building the ${kernels[*]} kernel(s) in the background (log: $build/prebuild.log)"
	# setsid: a process group of its own, for stop_prebuild to end. A
	# new session is also a new autogroup where the kernel has them (as
	# Debian's does), and autogroups share the CPU equally whatever the
	# nice values of their tasks: the group itself is set to nice 19.
	# shellcheck disable=SC2016 # expanded by the inner bash
	setsid nice -n 19 ionice -c 3 bash -c '
		echo 19 2>/dev/null >/proc/self/autogroup || true
		top=$1 build=$2
		shift 2
		for k in "$@"; do
			"$top/scripts/build-kernel.sh" "$build" "$k" >/dev/null || true
		done' prebuild "$top" "$build" "${kernels[@]}" \
		>"$build/prebuild.log" 2>&1 &
	prebuild_pid=$!
}

# stop_prebuild: end the background builds (on exit: normally they are
# done by then, but a run that stops early must not leave them behind).
stop_prebuild() {
	[ -z "${prebuild_pid:-}" ] || kill -- "-$prebuild_pid" 2>/dev/null || true
	[ -z "${prebuild_system_pid:-}" ] ||
		kill -- "-$prebuild_system_pid" 2>/dev/null || true
}
trap stop_prebuild EXIT

# boot LOGNAME ARGS...: vm-run.sh on the prepared lane, logs in VMDIR.
# The System.map names the vCPUs' addresses if the VM stalls: a Debian
# image's sits beside its vmlinuz, a built kernel's in its build tree.
boot() {
	local what=$1 map
	shift
	map=${VMLINUZ%/*}/System.map-${VMLINUZ##*/vmlinuz-}
	[ -r "$map" ] || map=$KDIR/System.map
	"$top/scripts/vm-run.sh" --kernel "$VMLINUZ" --initrd "$INITRD" \
		--log "$VMDIR/$what-console.log" \
		--verdict "$VMDIR/$what-verdict.log" --system-map "$map" \
		${APPEND:+--append "$APPEND"} "$@"
}

# judged LABEL CASE OUT VERDICT CMD...: a boot of `make check`. CMD (its
# output in OUT, shown when it fails) gives "ok|not ok LABEL: CASE" in
# $results, and so does every verdict line the VM wrote to VERDICT.
judged() {
	local label=$1 case=$2 out=$3 verdict=$4
	shift 4
	if "$@" >"$out" 2>&1; then
		echo "ok $label: $case" >>"$results"
	else
		cat "$out" >&2
		echo "not ok $label: $case" >>"$results"
	fi
	grep -aE '^(ok|not ok|skip) ' "$verdict" 2>/dev/null |
		sed -E "s#^(ok|not ok|skip) #\1 $label: #" >>"$results" || true
}

# The test programs a system lane runs (scripts/guest/system): the
# differential core of the suite and the library's, against the module
# DKMS built in the guest's own release.
system_tests="evq_rw_test evq_poll_test evq_fdinfo_test evq_info_test
evq_factory_test evq_lib_test"

# system_lane NAME SUITES: a system lane (scripts/lanes, system:SUITES):
# the packages of $build/deb installed into a Debian root file system of
# the first suite's release (system-image.sh), booted with systemd on each
# suite's default kernel in turn, all on one disk: every boot checks evq
# as installed ("installed"), the last one also upgrades the packages with
# counters open and purges them ("upgrade"), and one more boot checks that
# nothing is left ("purged"). Verdicts go to $results as RELEASE/KVER: NAME.
system_lane() {
	local name=$1 suites=$2 release dir vars image kernels=() line
	local version next suite kver vmlinuz initrd i phase label what
	release=${suites%%,*}
	dir=$build/vm/$name
	rm -rf "$dir"
	mkdir -p "$dir/payload"
	version=$(sed -n 's/^VERSION := //p' "$top/Makefile")
	next=$version+systest1
	[ -f "$build/deb/evq-dkms_${version}_all.deb" ] ||
		"$top/scripts/mkdeb.sh" "$build" >&2
	log "lane $name: the packages again as $next, the upgrade"
	"$top/scripts/mkdeb.sh" "$build" "$build/deb-next" "$next" >/dev/null
	cp "$guest/lib" "$guest/system-holder.c" "$dir/payload/"
	cp "$guest/system" "$dir/payload/run"
	printf 'VERSION=%s\nNEXT_VERSION=%s\n' "$version" "$next" >"$dir/payload/env"
	for t in $system_tests; do cp "$build/selftests/$t" "$dir/payload/"; done
	log "lane $name: Debian $release with evq installed by apt"
	vars=$("$top/scripts/system-image.sh" "$build" "$release" "$suites" \
		"$build/deb" "$build/deb-next" "$dir/payload") || {
		echo "not ok $release: system.image_builds_and_installs" >>"$results"
		return 0
	}
	echo "ok $release: system.image_builds_and_installs" >>"$results"
	image=$(sed -n 's/^IMAGE=//p' <<<"$vars")
	mapfile -t kernels < <(sed -n 's/^KERNEL //p' <<<"$vars")
	qemu-img create -q -f qcow2 -b "$image" -F raw "$dir/disk.qcow2"
	read -r _ _ vmlinuz _ <<<"${kernels[0]}"
	probe_accel "$vmlinuz"
	for ((i = 0; i <= ${#kernels[@]}; i++)); do
		if [ "$i" -lt "${#kernels[@]}" ]; then
			line=${kernels[i]} phase=installed
			[ "$i" -lt $((${#kernels[@]} - 1)) ] || phase=installed+upgrade
		else
			line=${kernels[i - 1]} phase=purged
		fi
		read -r suite kver vmlinuz initrd <<<"$line"
		label=$release/$kver what=boot-$i-$phase
		[ "$phase" = purged ] || labels+=("$label")
		log "lane $name: booting $kver from $suite with systemd: $phase"
		judged "$label" "system.$phase.boot_clean_and_complete" \
			"$dir/$what.out" "$dir/$what-verdict.log" \
			"$top/scripts/vm-run.sh" --kernel "$vmlinuz" --initrd "$initrd" \
			--log "$dir/$what-console.log" --verdict "$dir/$what-verdict.log" \
			--timeout "$timeout" --stall "$stall" --quiet \
			--append "root=/dev/vda ro evq.system=$phase" \
			--qemu-arg -drive --qemu-arg "file=$dir/disk.qcow2,format=qcow2,if=virtio"
	done
}

case $mode in
run)
	name=$(pick_lane)
	prepare "$name" demo
	log "booting $KLABEL (software emulation takes a while)"
	boot demo --timeout "$timeout" --stall "$stall"
	;;
shell)
	name=$(pick_lane)
	prepare "$name" tests
	boot shell --interactive
	;;
check | check-fast | check-debug)
	results=$build/results.txt
	: >"$results"
	log "installed libevq and pkg-config"
	"$top/scripts/libevq-check.sh" "$build" >>"$results"
	case $mode in
	check) selected=$(lane_names) ;;
	check-fast) selected=$(lane_names debian) ;;
	check-debug) selected=$(lane_names built) ;;
	esac
	[ -z "${LANES:-}" ] || selected=$LANES
	# shellcheck disable=SC2086 # lane names, split on purpose
	prebuild $selected
	if [ "$mode" = check-debug ] || [ "${EVQ_SKIP_STATIC:-0}" = 1 ]; then
		log "static checks and DKMS skipped"
	else
		log "static checks"
		mapfile -t kvers < <(debian_kvers)
		"$top/scripts/lint.sh" "$build" "${kvers[@]}" >>"$results"
		log "Debian packages and DKMS"
		"$top/scripts/dkms-check.sh" "$build" "${kvers[@]}" >>"$results"
	fi
	labels=()
	for name in $selected; do
		read -r _ spec plan _ <<<"$(lane "$name")"
		if [ "${spec%%:*}" = system ]; then
			system_lane "$name" "${spec#system:}"
			continue
		fi
		prepare "$name" "$plan"
		labels+=("$KLABEL")
		log "lane $name: booting $KLABEL, plan $plan"
		judged "$KLABEL" vm.boot_clean_and_complete "$VMDIR/vm-run.out" \
			"$VMDIR/check-verdict.log" \
			boot check --timeout "$timeout" --stall "$stall"
	done
	log "all lanes done"
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
	name=$(pick_lane)
	prepare "$name" bench
	log "booting $KLABEL for the benchmarks (a few minutes under TCG)"
	# The host's load averages before and after: was anything else running?
	load_before=$(cut -d' ' -f1-3 /proc/loadavg)
	boot bench --timeout "$timeout" --stall "$stall" --quiet \
		${EVQ_BENCH_APPEND:+--append "$APPEND $EVQ_BENCH_APPEND"} ||
		bench_status=$?
	cat "$VMDIR/bench-verdict.log" >"$VMDIR/bench-all-verdict.log" ||
		bench_status=1
	# The one-vCPU boot. On two vCPUs (two sockets under TCG) a wake-up
	# goes where the scheduler places the wakee, and W9's job pool
	# measures that placement more than what a wake-up costs (README,
	# W9); on one vCPU every wake-up is a context switch on the same CPU,
	# so wake-ups saved are time saved. It runs EVQ_BENCH_1CPU, or what
	# of it an evq_bench_only in EVQ_BENCH_APPEND asks for.
	asked='' append1='' only1=''
	for arg in ${EVQ_BENCH_APPEND:-}; do
		case $arg in
		evq_bench_only=*) asked=,${arg#evq_bench_only=}, ;;
		*) append1+=" $arg" ;;
		esac
	done
	for w in ${EVQ_BENCH_1CPU-W9}; do
		case ${asked:-all} in all | *",$w,"*) only1+=${only1:+,}$w ;; esac
	done
	if [ -n "$only1" ]; then
		log "booting $KLABEL again with one vCPU: $only1"
		boot bench-1cpu --smp 1 --timeout "$timeout" --stall "$stall" \
			--quiet --append "$APPEND$append1 evq_bench_only=$only1" ||
			bench_status=$?
		# One log, the boots one after the other: each starts with its
		# BENCH-META lines, "cpus" among them (bench-report.sh).
		cat "$VMDIR/bench-1cpu-verdict.log" >>"$VMDIR/bench-all-verdict.log" ||
			bench_status=1
	fi
	host_cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)
	load_after=$(cut -d' ' -f1-3 /proc/loadavg)
	json=$build/bench/$KLABEL.json
	"$top/scripts/bench-report.sh" "$VMDIR/bench-all-verdict.log" "$json" \
		"accel=$EVQ_ACCEL" "host_cpu=$host_cpu" \
		"host_loadavg_before=$load_before" \
		"host_loadavg_after=$load_after" "host_cpus=$(nproc)" ||
		bench_status=1
	if [ -f "$json" ]; then
		"$top/scripts/bench-chart.sh" "$json" "${json%.json}.svg" ||
			bench_status=1
	fi
	log "results: $json, chart ${json%.json}.svg; consoles: $VMDIR/bench-console.log${only1:+, $VMDIR/bench-1cpu-console.log}"
	exit "${bench_status:-0}"
	;;
vmtest)
	[ -n "${EVQ_ONLY:-}" ] || { log "EVQ_ONLY names no test program"; exit 2; }
	name=$(pick_lane)
	prepare "$name" only
	log "booting $KLABEL: $EVQ_ONLY"
	verdict=$VMDIR/vmtest-verdict.log
	# A splat, a hang or a crash fails the run as in check.
	if boot vmtest --timeout "$timeout" --stall "$stall" \
		--append "$APPEND evq_only=${EVQ_ONLY// /,}"; then
		echo "ok vm.boot_clean_and_complete" >>"$verdict"
	else
		echo "not ok vm.boot_clean_and_complete" >>"$verdict"
	fi
	grep -aE '^(ok|not ok|skip) ' "$verdict" | sed "s/^/$KLABEL: /" || true
	passed=$(grep -c '^ok ' "$verdict" || true)
	failed=$(grep -c '^not ok ' "$verdict" || true)
	echo "$passed passed, $failed failed"
	[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
	;;
fuzz)
	ops=${FUZZ_OPS:-1000000} seeds=${FUZZ_SEEDS:-1}
	for val in "$ops" "$seeds" "${FUZZ_SEED:-1}" "${FUZZ_THREADS:-0}"; do
		case $val in *[!0-9]* | "") log "FUZZ_* must be numbers"; exit 2 ;; esac
	done
	fuzz_args="evq_fuzz_ops=$ops evq_fuzz_seeds=$seeds"
	fuzz_args+=" evq_fuzz_seed=${FUZZ_SEED:-1} evq_fuzz_threads=${FUZZ_THREADS:-0}"
	# An hour plus 1 s per 2000 ops: TCG manages 10,000-50,000 ops/s.
	fuzz_timeout=${EVQ_VM_TIMEOUT:-$((3600 + ops * seeds / 2000))}
	name=$(pick_lane)
	prepare "$name" fuzz
	verdict=$VMDIR/fuzz-verdict.log
	log "booting $KLABEL: $fuzz_args (cap ${fuzz_timeout}s)"
	boot fuzz --timeout "$fuzz_timeout" --stall "$stall" \
		--append "$APPEND $fuzz_args" || fuzz_status=$?
	grep -E '^(ok|not ok) ' "$verdict" | sed "s/^/$KLABEL: /" || true
	sed -n 's/^FUZZ-TOTAL /fuzz total: /p' "$verdict"
	grep -h '# replay' "$VMDIR/fuzz-console.log" | tr -d '\r' || true
	passed=$(grep -c '^ok ' "$verdict" || true)
	failed=$(grep -c '^not ok ' "$verdict" || true)
	echo "$passed passed, $failed failed"
	[ "${fuzz_status:-0}" -eq 0 ] && [ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
	;;
lint)
	mapfile -t kvers < <(debian_kvers)
	"$top/scripts/lint.sh" "$build" "${kvers[@]}" | tee "$build/lint.txt"
	! grep -q '^not ok ' "$build/lint.txt"
	;;
*)
	echo "usage: evq-vm.sh run|shell|check|check-fast|check-debug|lint|bench|fuzz|vmtest" >&2
	exit 2
	;;
esac
