#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# vm-run.sh --kernel VMLINUZ --initrd INITRD --log CONSOLE.log
#           --verdict VERDICT.log [--timeout SECONDS] [--stall SECONDS]
#           [--append "ARGS"] [--mem 1G] [--smp 2] [--interactive] [--quiet]
#           [--system-map FILE] [--qemu-arg ARG]...
# vm-run.sh --print-accel [--kernel VMLINUZ]
#
# Boots INITRD (mkinitramfs.sh) on VMLINUZ in qemu (KVM if /dev/kvm works,
# else TCG), waits for the VM to end, then judges the run:
#   - the console (ttyS0) goes to CONSOLE.log and, unless --quiet, to stdout
#   - the second serial port (ttyS1, $EVQ_VERDICT in the VM) goes to
#     VERDICT.log; vm-init ends it with "evq-exit STATUS"
#   - the whole console log is scanned for kernel splats (BUG, WARNING, Oops,
#     panic, lockdep, KASAN, UBSAN, kmemleak, lockups, hung tasks...)
# Exit status: 0 only for "evq-exit 0" and a clean log (in --interactive mode
# "evq-exit shell" counts as 0 too); otherwise one line on stderr says why:
#   1 the payload exited non-zero     3 kernel splat in the console log
#   2 usage error                     4 no evq-exit: the VM crashed or hung
#   5 timeout (qemu killed)           6 qemu itself failed
#   7 stalled: no progress for --stall seconds (qemu killed)
# A splat wins over a missing or non-zero evq-exit, a stall or timeout over
# all. A stall or timeout names the test that was running (the last
# kselftest "RUN" line, and the last lines of the console).
#
# --interactive: the console is this terminal (for `make shell`): evq.shell=1,
# no timeout unless one is given; Ctrl-A X kills the VM.
# --append: more kernel parameters, e.g. "evq.cmd=bench" (run /payload/bench
# instead of /payload/run) or "loglevel=7" (the whole boot on the console).
# --timeout: overall cap in seconds (default 3600; 0 = none). It is only a
# backstop: a busy machine makes an emulated VM slow, not stuck.
# --stall: the watchdog (default 300; 0 = none): the VM counts as hung when
# neither the console nor the verdict port has grown for this many
# seconds. Every test plan prints at least a line per test case, so a slow
# VM keeps going while a stuck one is stopped within minutes. Before it is
# stopped, qemu's monitor (a socket, read with socat) samples where each
# vCPU is, three times: idle vCPUs mean tasks blocked or a console that
# stopped printing, the same busy address a CPU that spins.
# --system-map: the kernel's System.map, to name those addresses.
# --print-accel: print the accelerator a run would use (kvm or tcg), exit.
#
# KVM is used only when /dev/kvm is there AND a probe boot of the kernel
# under it gets as far as the kernel's own panic for a missing root (a few
# seconds): some hosts have a /dev/kvm whose qemu aborts at the first vCPU
# register write ("failed to set MSR") or faults on the guest's first
# instructions. Callers that boot several times probe once and export
# EVQ_ACCEL (evq-vm.sh does). Without --kernel, --print-accel cannot probe
# and says tcg unless EVQ_ACCEL says otherwise.
#
# Environment: EVQ_ACCEL=kvm|tcg forces the accelerator; EVQ_LOG_IGNORE is an
# extended regex of console lines not to count as splats (use sparingly).
set -euo pipefail

prog=vm-run.sh
usage() {
	printf 'usage: ' >&2
	sed -n '4,7p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
	exit 2
}
die() { echo "$prog: $*" >&2; exit 2; }

kernel='' initrd='' log='' verdict='' append='' timeout_s='' mem=1G smp=2
sysmap=''
stall_s=300
interactive=0 quiet=0 print_accel=0
qemu_extra=()
while [ $# -gt 0 ]; do
	case $1 in
	--kernel) kernel=${2:?}; shift 2 ;;
	--initrd) initrd=${2:?}; shift 2 ;;
	--log) log=${2:?}; shift 2 ;;
	--verdict) verdict=${2:?}; shift 2 ;;
	--timeout) timeout_s=${2:?}; shift 2 ;;
	--stall) stall_s=${2:?}; shift 2 ;;
	--append) append=${2?}; shift 2 ;;
	--mem) mem=${2:?}; shift 2 ;;
	--smp) smp=${2:?}; shift 2 ;;
	--qemu-arg) qemu_extra+=("${2:?}"); shift 2 ;;
	--system-map) sysmap=${2:?}; shift 2 ;;
	--interactive) interactive=1; shift ;;
	--quiet) quiet=1; shift ;;
	--print-accel) print_accel=1; shift ;;
	-h | --help) usage ;;
	*) echo "$prog: unknown argument $1" >&2; usage ;;
	esac
done
# kvm_works VMLINUZ: does this kernel boot under KVM? See the header.
kvm_works() {
	local out
	[ -r /dev/kvm ] && [ -w /dev/kvm ] || return 1
	out=$(timeout -k 5 60 qemu-system-x86_64 -nodefaults -no-user-config \
		-no-reboot -accel kvm -cpu host -m 256 -display none \
		-kernel "$1" -serial stdio \
		-append "console=ttyS0 loglevel=1 panic=-1 root=/dev/evq-none" \
		</dev/null 2>&1) || return 1
	grep -q 'Kernel panic' <<<"$out"
}

accel=${EVQ_ACCEL:-}
if [ -z "$accel" ]; then
	if [ -n "$kernel" ] && kvm_works "$kernel"; then accel=kvm; else accel=tcg; fi
fi
case $accel in
kvm) cpu=host ;;
tcg) cpu=max ;; # AMD-flavoured "QEMU TCG CPU"; boots both kernels cleanly
*) die "EVQ_ACCEL must be kvm or tcg" ;;
esac
[ "$print_accel" -eq 0 ] || { echo "$accel"; exit 0; }

if [ -z "$kernel" ] || [ -z "$initrd" ] || [ -z "$log" ] || [ -z "$verdict" ]; then
	usage
fi
[ -r "$kernel" ] || die "cannot read kernel $kernel"
[ -r "$initrd" ] || die "cannot read initrd $initrd"
if [ -z "$timeout_s" ]; then
	if [ "$interactive" -eq 1 ]; then timeout_s=0; else timeout_s=3600; fi
fi
case $timeout_s in *[!0-9]* | "") die "bad --timeout $timeout_s" ;; esac
case $stall_s in *[!0-9]* | "") die "bad --stall $stall_s" ;; esac
# qemu's chardev options are comma-separated: no commas in these paths.
case $log$verdict in *,*) die "no commas in --log/--verdict paths" ;; esac

# Kernel parameters. loglevel=5: warnings and worse (every splat) reach the
# console during boot but the ~350 info lines do not; vm-init raises the
# console level to 7 once the payload starts, so a module's pr_info shows.
# panic=-1 turns any panic into a reboot, and -no-reboot into qemu's exit.
cmdline="console=ttyS0,115200 rdinit=/init loglevel=5"
cmdline+=" panic=-1 panic_on_warn=1 oops=panic"
if [ "$interactive" -eq 1 ]; then
	cmdline+=" evq.shell=1"
	if [ -t 0 ] && size=$(stty size 2>/dev/null) && [ -n "$size" ]; then
		cmdline+=" evq.rows=${size% *} evq.cols=${size#* }"
	fi
fi
[ -z "$append" ] || cmdline+=" $append"

mkdir -p "$(dirname "$log")" "$(dirname "$verdict")"
rm -f "$log" "$verdict"

qemu=(qemu-system-x86_64 -nodefaults -no-user-config -no-reboot
	-accel "$accel" -cpu "$cpu" -smp "$smp,sockets=$smp,cores=1" -m "$mem"
	-display none -kernel "$kernel" -initrd "$initrd" -append "$cmdline")
if [ "$interactive" -eq 1 ]; then
	# mux: Ctrl-A X quits, Ctrl-A C is the monitor; signal=off: Ctrl-C
	# goes to the VM's shell, not to qemu.
	qemu+=(-chardev "stdio,id=con,mux=on,signal=off,logfile=$log"
		-serial chardev:con -mon chardev=con)
else
	qemu+=(-chardev "stdio,id=con,signal=off,logfile=$log" -serial chardev:con)
fi
qemu+=(-chardev "file,id=verdict,path=$verdict" -serial chardev:verdict)
# The monitor, for the stall report. A socket path has at most 107 bytes.
mondir=$(mktemp -d "${TMPDIR:-/tmp}/evq-vm.XXXXXX")
mon=$mondir/monitor
trap 'rm -rf "$mondir"' EXIT
qemu+=(-monitor "unix:$mon,server=on,wait=off")
qemu+=("${qemu_extra[@]}")

run=()
# --foreground: qemu stays in our process group, so Ctrl-C reaches it.
[ "$timeout_s" -eq 0 ] || run=(timeout --foreground -k 10 "$timeout_s")

# size FILE: its size in bytes, 0 while it does not exist.
size() { stat -c %s "$1" 2>/dev/null || echo 0; }

# symbol ADDR: "function+0xoff" from $sysmap, or nothing. Addresses are
# compared as 16-digit hex strings (awk's numbers are doubles, too short for
# 64 bits); an offset is taken from the low 32 bits.
symbol() {
	[ -r "$sysmap" ] || return 0
	awk -v a="$(printf '%016s' "$1" | tr 'A-F ' 'a-f0')" '
		function lo(s,  i, n) {
			n = 0
			for (i = 9; i <= 16; i++)
				n = n * 16 + index("0123456789abcdef", substr(s, i, 1)) - 1
			return n
		}
		$2 ~ /^[tTwW]$/ && length($1) == 16 && $1 <= a && $1 >= best {
			best = $1; name = $3
		}
		END { if (name != "") printf "%s+0x%x", name, lo(a) - lo(best) }' "$sysmap"
}

# where_cpus: where each vCPU is, from qemu's monitor, on stderr.
where_cpus() {
	local sample regs cpu rip line
	command -v socat >/dev/null || { echo "$prog: no socat: cannot ask qemu where the vCPUs are" >&2; return 0; }
	for sample in 1 2 3; do
		regs=$(printf 'info registers -a\n' |
			timeout 20 socat -t 5 - "UNIX-CONNECT:$mon" 2>/dev/null |
			tr -d '\r' | grep -aoE '^CPU#[0-9]+|^RIP=[0-9a-f]+' || true)
		[ -n "$regs" ] || { echo "$prog: qemu's monitor did not answer" >&2; return 0; }
		cpu=
		while read -r line; do
			case $line in
			CPU#*) cpu=$line ;;
			RIP=*)
				rip=${line#RIP=}
				echo "$prog: stall sample $sample: $cpu at $rip $(symbol "$rip")" >&2 ;;
			esac
		done <<<"$regs"
		sleep 2
	done
}

# watch PID: wait for the VM, killing it if neither output grows for
# $stall_s seconds. Sets rc, and stalled=1 if it had to kill.
stalled=0
watch() {
	local pid=$1 last=-1 now idle=0
	while kill -0 "$pid" 2>/dev/null; do
		now=$(($(size "$log") + $(size "$verdict")))
		if [ "$now" -ne "$last" ]; then
			last=$now idle=0
		elif [ "$stall_s" -gt 0 ] && [ "$idle" -ge "$stall_s" ]; then
			stalled=1
			where_cpus
			kill -TERM "$pid" 2>/dev/null || true
			sleep 5
			kill -KILL "$pid" 2>/dev/null || true
			break
		fi
		sleep 1
		idle=$((idle + 1))
	done
	rc=0
	wait "$pid" || rc=$?
}

start=$SECONDS
rc=0
if [ "$interactive" -eq 1 ]; then
	"${run[@]}" "${qemu[@]}" || rc=$?
	stty sane 2>/dev/null || true
elif [ "$quiet" -eq 1 ]; then
	"${run[@]}" "${qemu[@]}" </dev/null >/dev/null &
	watch $!
else
	"${run[@]}" "${qemu[@]}" </dev/null &
	watch $!
fi
elapsed=$((SECONDS - start))

# What was running when the VM was stopped: the last kselftest case that
# started, and the last lines of the console.
last_test() {
	local t
	t=$(tr -d '\r' <"$log" 2>/dev/null | grep -a '^#  RUN ' | tail -n1 |
		sed 's/^#  RUN *//') || t=
	echo "last test started: ${t:-none (no kselftest RUN line)}; console ends:" >&2
	tr -d '\r' <"$log" 2>/dev/null | tail -n 8 | sed 's/^/  /' >&2
}

# Kernel splats anywhere in the console log. Case-sensitive on purpose:
# Debian's clean boots print "... report a bug" and "This is not a bug"
# (ACPI/PCI, AMD-Vi), which a case-insensitive "bug" would catch.
#   BUG:                  BUG: kernel NULL pointer..., scheduling while
#                         atomic, sleeping function called..., KASAN,
#                         soft lockups ("watchdog: BUG: soft lockup")
#   kernel BUG at         BUG_ON()
#   BUG <cache> (         SLUB debug: "BUG kmalloc-64 (Tainted: ...): ..."
#   WARNING:              WARN*(), lockdep's reports
#   detected stall        RCU stalls
splat_re='BUG:|kernel BUG at|BUG [^ ]+ \(|WARNING:|Oops|Call Trace|Kernel panic'
splat_re+='|lockdep|KASAN|UBSAN|kmemleak|unreferenced object'
splat_re+='|general protection|watchdog: BUG|hard LOCKUP|hung_task'
splat_re+='|blocked for more than|detected stall|Bad page (state|map)'
# Benign lines that match the above. A kmemleak kernel announces itself at
# boot; that is not a leak report. Nor is a lockdep kernel's boot banner.
benign_re='kmemleak: Kernel memory leak detector initialized'
benign_re+='|kmemleak: Automatic memory scanning thread'
benign_re+='|rcu:[[:space:]]+RCU lockdep checking is enabled'
# KCSAN reports races anywhere in the kernel; the rt-kcsan lane's plan
# (scripts/guest/kcsan) fails on the ones that name evq and lists the rest.
benign_re+='|BUG: KCSAN: data-race'
# On RT, two CPUs' output interleaves on the console (the kernel's reports,
# and the kcsan plan listing them), so a KCSAN title can be cut anywhere
# after "BUG:" by another line's timestamp: "BUG: K[  546.22]", "BUG:
# KCSAN: data-[  878.39]", "BUG:[  769.27]", all seen with races outside
# evq. A title cut that way is not counted; the plan judges KCSAN from
# dmesg, whose records are whole. Every other report that starts with
# "BUG:" (KASAN, sleeping in atomic, ...) also prints "Call Trace", which
# stays a splat however its title was cut.
benign_re+='|BUG:[A-Za-z :-]*\[ *[0-9]+\.[0-9]+\]'
[ -z "${EVQ_LOG_IGNORE:-}" ] || benign_re+="|$EVQ_LOG_IGNORE"

splats=
if [ -f "$log" ]; then
	splats=$(tr -d '\r' <"$log" | grep -anE "$splat_re" |
		grep -avE "$benign_re" || true)
fi
exit_line=
if [ -f "$verdict" ]; then
	exit_line=$(tr -d '\r' <"$verdict" | grep -a '^evq-exit ' | tail -n1 || true)
fi
status=${exit_line#evq-exit }

fail() {
	if [ "$quiet" -eq 1 ] && [ -f "$log" ]; then
		echo "$prog: last lines of $log:" >&2
		tr -d '\r' <"$log" | tail -n 25 | sed 's/^/  /' >&2
	fi
	echo "$prog: FAIL: $2 (after ${elapsed}s; console: $log)" >&2
	exit "$1"
}

if [ "$stalled" -eq 1 ]; then
	[ -z "$splats" ] || { echo "$splats" | head -n 40 >&2; }
	last_test
	fail 7 "stalled: no console or verdict output for ${stall_s}s"
fi
if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
	[ -z "$splats" ] || { echo "$splats" | head -n 40 >&2; }
	last_test
	fail 5 "timeout: the VM ran longer than ${timeout_s}s"
fi
if [ -n "$splats" ]; then
	echo "$prog: kernel problems in the console log:" >&2
	echo "$splats" | head -n 40 | sed 's/^/  /' >&2
	n=$(wc -l <<<"$splats")
	[ "$n" -le 40 ] || echo "  ... and $((n - 40)) more" >&2
	fail 3 "kernel splat ($n lines; first: $(head -n1 <<<"$splats" | cut -c1-120))"
fi
if [ "$rc" -ne 0 ]; then
	fail 6 "qemu exited with status $rc"
fi
if [ -z "$exit_line" ]; then
	if [ "$interactive" -eq 1 ]; then
		fail 4 "no evq-exit line in $verdict: the VM was killed (Ctrl-A X?) or crashed"
	fi
	fail 4 "no evq-exit line in $verdict: the VM crashed or /init died"
fi
case $status in
0 | shell) ;;
*) fail 1 "payload exited with status $status" ;;
esac
if [ "$status" = shell ] && [ "$interactive" -ne 1 ]; then
	fail 1 "unexpected evq-exit shell"
fi
[ "$quiet" -eq 1 ] || echo "$prog: ok: evq-exit $status, clean kernel log, ${elapsed}s ($accel)" >&2
exit 0
