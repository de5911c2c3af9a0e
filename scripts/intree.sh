#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# intree.sh [--patch FILE] KSRC_DIR
#
# Lays evq into a kernel source tree as a kernel developer would carry it,
# generated from the files the out-of-tree build uses (nothing here is a
# second copy of a source):
#
#   drivers/misc/evq/               module/*.c, module/evq_core.h,
#                                   module/evq_arch.h and
#                                   module/include/evq/evq_kernel.h (as
#                                   include/evq/, found through
#                                   ccflags-y += -I$(src)/include), a Kconfig
#                                   (config EVQ, tristate) and a Makefile whose
#                                   object list is Kbuild's evq-y
#   include/uapi/linux/evq.h        uapi/linux/evq.h
#   Documentation/userspace-api/evq.rst   docs/evq.rst, listed in the index
#   tools/testing/selftests/evq/    the differential suite (evq_rw_test,
#                                   evq_poll_test, evq_fdinfo_test,
#                                   evq_lifetime_test, evq_concurrency_test
#                                   and their evq_counter.h), evq_fuzz_test
#                                   (evq_fuzz_test.c, evq_fuzz_modes.c,
#                                   evq_fuzz_conc.c and their evq_fuzz.h),
#                                   evq_uring_test, evq_info_test,
#                                   the modes' evq_modes_test,
#                                   evq_maximum_test,
#                                   evq_wakeone_mode_test, evq_bits_test
#                                   and evq_factory_test (and their
#                                   evq_modes.h), evq_fast_test,
#                                   evq_fast_race_test, evq_fast_memcg_test
#                                   and their evq_fast.h (static, kselftest
#                                   lib.mk), libevq,
#                                   selftests/config and selftests/settings
#   drivers/misc/{Kconfig,Makefile}, tools/testing/selftests/Makefile,
#   MAINTAINERS, Documentation/userspace-api/ioctl/ioctl-number.rst:
#                                   one entry each
#
# Out of tree only: module/evq_compat.h (it fences the range of kernels the
# out-of-tree module builds against; in tree there is one kernel, so its
# #include is dropped, its evq_vm_flags_set()/_clear() become the kernel's
# own vm_flags_set()/_clear(), and kzalloc_obj() is kept where the tree
# has it, else written as kzalloc(sizeof(...)) as that tree's code does),
# and evq_kapi_test, evq_kapi_guard_test and evq_kapi_modes_test (they need
# the out-of-tree test module selftests/kmod/).
#
# Without --patch, KSRC_DIR itself is changed: new files are added and each
# existing file that gets an entry is written anew and mv'd over the old
# one, so a tree of hard links (cp -al) keeps its source intact. Running it
# twice gives the same tree.
#
# With --patch FILE, KSRC_DIR is only read, and FILE gets the whole change
# as one git-format-patch mail that `git apply` or `patch -p1` applies to
# KSRC_DIR. Author and Signed-off-by: EVQ_PATCH_AUTHOR ("Name <email>",
# default "evq developer <dev@evq.invalid>"); the date is that of the evq
# commit checked out, so the same commit gives the same patch.
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
usage="usage: intree.sh [--patch FILE] KSRC_DIR"
patch=
if [ "${1:-}" = --patch ]; then
	patch=$(realpath -m "${2:?$usage}")
	shift 2
fi
[ $# -eq 1 ] || { echo "$usage" >&2; exit 2; }
ksrc=$(realpath "$1")
if [ ! -f "$ksrc/drivers/misc/Kconfig" ] || [ ! -f "$ksrc/MAINTAINERS" ]; then
	echo "intree.sh: $ksrc is not a kernel source tree" >&2
	exit 1
fi

author=${EVQ_PATCH_AUTHOR:-evq developer <dev@evq.invalid>}

# The existing files that get one entry each.
touched=(
	MAINTAINERS
	Documentation/userspace-api/index.rst
	Documentation/userspace-api/ioctl/ioctl-number.rst
	drivers/misc/Kconfig
	drivers/misc/Makefile
	tools/testing/selftests/Makefile
)

die() { echo "intree.sh: $*" >&2; exit 1; }

# put DEST: stdin becomes DEST, as a new file mv'd over any old one. A
# DEST that already has this content is left alone, so that laying evq
# into a built tree again makes make rebuild only what changed.
put() {
	mkdir -p "$(dirname "$1")"
	cat >"$1.evq-new"
	if cmp -s "$1.evq-new" "$1"; then
		rm -f "$1.evq-new"
	else
		mv -f "$1.evq-new" "$1"
	fi
}

# copy SRC DEST: a repository file into the tree (a new inode, never a link).
copy() {
	put "$2" <"$top/$1"
}

# edit FILE [awk options...] AWK-PROGRAM: FILE through awk, written anew;
# the program must print every line and set the variable done when it added
# its entry. Nothing happens if FILE already has the line in $marker.
edit() {
	local file=$1 prog=${*: -1}
	set -- "${@:2:$#-2}"
	if grep -qxF -- "$marker" "$file"; then
		return
	fi
	LC_ALL=C awk "$@" "$prog"'
		END { if (!done) exit 3 }' "$file" >"$file.evq-new" ||
		die "$file: could not find where the evq entry goes"
	mv -f "$file.evq-new" "$file"
}

# The Makefile's object list, from Kbuild's evq-y (module/ dropped).
kbuild_objs() {
	local objs
	objs=$(sed -n 's/^evq-y[[:space:]]*[:+]\?=[[:space:]]*//p' "$top/Kbuild" |
		tr '\n' ' ' | sed 's,module/,,g; s/[[:space:]]*$//')
	[ -n "$objs" ] || die "no evq-y objects in Kbuild"
	echo "$objs"
}

lay() {
	local t=$1 f objs d
	local kd=drivers/misc/evq st=tools/testing/selftests/evq

	# The driver. evq_compat.h is out-of-tree only (see above): its
	# #include goes, and what it provides becomes the kernel's own:
	# evq_vm_flags_set()/_clear() the kernel's vm_flags_set()/_clear(),
	# kzalloc_obj() stays kzalloc_obj() where the tree's <linux/slab.h>
	# has it (KSRC_DIR's, as the out-of-tree Kbuild probes) and is written
	# kzalloc(sizeof(...), ...) where it has not (6.1, an older 6.12).
	local no_kzalloc_obj=
	grep -qs 'define kzalloc_obj' "$ksrc/include/linux/slab.h" ||
		no_kzalloc_obj='s/\bkzalloc_obj(\([^,()]*\),/kzalloc(sizeof(\1),/'
	for f in "$top"/module/*.c "$top"/module/*.h; do
		f=${f#"$top"/}
		case $f in
		module/evq_compat.h) ;;
		module/evq_file.c | module/evq_core.c)
			grep -qx '#include "evq_compat.h"' "$top/$f" ||
				die "$f no longer includes evq_compat.h: update intree.sh"
			grep -vx '#include "evq_compat.h"' "$top/$f" |
				sed -e 's/\bevq_vm_flags_\(set\|clear\)(/vm_flags_\1(/' \
					${no_kzalloc_obj:+-e "$no_kzalloc_obj"} |
				put "$t/$kd/${f#module/}"
			;;
		*)
			! grep -q '#include "evq_compat\.h"\|evq_vm_flags_\|kzalloc_obj(' \
				"$top/$f" ||
				die "$f uses evq_compat.h: update intree.sh"
			copy "$f" "$t/$kd/${f#module/}"
			;;
		esac
	done
	copy module/include/evq/evq_kernel.h "$t/$kd/include/evq/evq_kernel.h"

	objs=$(kbuild_objs)
	put "$t/$kd/Makefile" <<EOF
# SPDX-License-Identifier: GPL-2.0
obj-\$(CONFIG_EVQ)	+= evq.o
evq-y			:= $objs
# include/evq/evq_kernel.h, the producer API for other kernel code
ccflags-y		+= -I\$(src)/include
EOF
	put "$t/$kd/Kconfig" <<'EOF'
# SPDX-License-Identifier: GPL-2.0-only
config EVQ
	tristate "evq: eventfd-style counters on /dev/evq"
	depends on EVENTFD
	help
	  The misc device /dev/evq: every open() of it is a new, independent
	  counter with the semantics of eventfd(2), current mainline's: 8-byte
	  read() and write(), blocking and non-blocking, semaphore mode, and
	  poll(), select() and epoll support. EVQ_IOC_SETUP sets the initial
	  count and semaphore mode of a fresh counter. Other kernel code can
	  signal a counter a process hands it, from any context (on
	  PREEMPT_RT, any but hard IRQ), through the API in
	  drivers/misc/evq/include/evq/evq_kernel.h.

	  See Documentation/userspace-api/evq.rst.

	  To compile this driver as a module, choose M here: the module
	  will be called evq.

	  If unsure, say N.
EOF

	copy uapi/linux/evq.h "$t/include/uapi/linux/evq.h"
	copy docs/evq.rst "$t/Documentation/userspace-api/evq.rst"

	# The selftests that need no test module.
	for f in evq_rw_test.c evq_poll_test.c evq_fdinfo_test.c \
		evq_lifetime_test.c evq_concurrency_test.c evq_counter.h \
		evq_fuzz_test.c evq_uring_test.c evq_info_test.c \
		evq_fuzz_modes.c evq_fuzz_conc.c evq_fuzz.h \
		evq_modes_test.c evq_maximum_test.c \
		evq_wakeone_mode_test.c evq_bits_test.c evq_factory_test.c \
		evq_modes.h evq_fast_test.c evq_fast_race_test.c \
		evq_fast_memcg_test.c evq_fast.h evq_masks.h \
		evq_ksft_common.h settings; do
		copy "selftests/$f" "$t/$st/$f"
	done
	copy libevq/evq.c "$t/$st/evq.c"
	copy libevq/evq.h "$t/$st/evq.h"
	{
		cat "$top/selftests/config"
		echo CONFIG_EVQ=y
		echo CONFIG_IO_URING=y
	} | put "$t/$st/config"
	put "$t/$st/.gitignore" <<'EOF'
# SPDX-License-Identifier: GPL-2.0-only
evq_bits_test
evq_concurrency_test
evq_fast_memcg_test
evq_fast_race_test
evq_fast_test
evq_factory_test
evq_fdinfo_test
evq_fuzz_test
evq_info_test
evq_lifetime_test
evq_maximum_test
evq_modes_test
evq_poll_test
evq_rw_test
evq_uring_test
evq_wakeone_mode_test
EOF
	put "$t/$st/Makefile" <<'EOF'
# SPDX-License-Identifier: GPL-2.0
#
# Static binaries, so that they run in a VM with a bare initramfs. /dev/evq
# must exist (CONFIG_EVQ=y, or modprobe evq): the tests fail, rather than
# skip, without it. evq_uring_test, evq_fast_test and evq_fast_race_test
# need liburing, linked statically.
CFLAGS += -std=c11 -O2 -Wall -Wextra -Werror -pthread $(KHDR_INCLUDES) \
	-isystem $(selfdir)
LDFLAGS += -static -pthread

TEST_GEN_PROGS := evq_rw_test evq_poll_test evq_fdinfo_test \
	evq_lifetime_test evq_concurrency_test evq_fuzz_test evq_uring_test \
	evq_info_test evq_modes_test evq_maximum_test evq_wakeone_mode_test \
	evq_bits_test evq_factory_test evq_fast_test evq_fast_race_test \
	evq_fast_memcg_test
LOCAL_HDRS += evq.h evq_masks.h evq_ksft_common.h evq_counter.h evq_modes.h
LOCAL_HDRS += evq_fast.h evq_fuzz.h

include ../lib.mk

# libevq: evq_eventfd(), the eventfd() of /dev/evq
$(TEST_GEN_PROGS): evq.c
# evq_fuzz_test is one program from three files (evq_fuzz.h)
$(OUTPUT)/evq_fuzz_test: evq_fuzz_modes.c evq_fuzz_conc.c
$(OUTPUT)/evq_uring_test: LDLIBS += -luring
$(OUTPUT)/evq_fast_test: LDLIBS += -luring
$(OUTPUT)/evq_fast_race_test: LDLIBS += -luring
EOF

	# One entry in each existing file; $marker is the line it adds.
	marker='source "drivers/misc/evq/Kconfig"'
	edit "$t/drivers/misc/Kconfig" -v m="$marker" '
		/^endmenu$/ && !done { print m; done = 1 } { print }'

	marker='obj-$(CONFIG_EVQ)		+= evq/'
	edit "$t/drivers/misc/Makefile" -v m="$marker" '
		{ print } END { print m; done = 1 }'

	marker='TARGETS += evq'
	edit "$t/tools/testing/selftests/Makefile" -v m="$marker" '
		/^TARGETS \+= / && !done && $3 > "evq" { print m; done = 1 }
		{ print }'

	# In the "Devices and I/O" toctree, after its last entry.
	marker='   evq'
	edit "$t/Documentation/userspace-api/index.rst" -v m="$marker" '
		/^Devices and I\/O$/ { sect = 1 }
		sect && /^   [^ :]/ { entries = 1 }
		sect && entries && /^$/ && !done { print m; done = 1; sect = 0 }
		{ print }'

	# ioctl code 0xE7, in order, in the columns of the 0xE5 line above.
	marker=$(printf '%-6s%-7s%-58s%s' 0xE7 00-3F uapi/linux/evq.h \
		'evq eventfd-style counters')
	edit "$t/Documentation/userspace-api/ioctl/ioctl-number.rst" \
		-v m="$marker" '
		/^0x[0-9A-F][0-9A-F]  / && !done && $1 > "0xE7" {
			print m; done = 1
		}
		{ print }'

	# In the alphabetical list of sections, files in order.
	d='EVQ EVENTFD-STYLE COUNTER DEVICE'
	marker=$d
	edit "$t/MAINTAINERS" -v m="$marker" -v who="$author" '
		{ line[NR] = $0 }
		END {
			# Before the first section title (after a blank line,
			# before a tag line) with our initial that sorts after
			# ours (the file as a whole has a few misplaced ones).
			for (i = 2; i < NR; i++) {
				print line[i - 1]
				if (!done && line[i - 1] == "" && line[i] != "" &&
				    line[i + 1] ~ /^[A-Z]:\t/ && line[i] > m &&
				    substr(line[i], 1, 1) == substr(m, 1, 1)) {
					print m
					print "M:\t" who
					print "S:\tMaintained"
					print "F:\tDocumentation/userspace-api/evq.rst"
					print "F:\tdrivers/misc/evq/"
					print "F:\tinclude/uapi/linux/evq.h"
					print "F:\ttools/testing/selftests/evq/"
					print ""
					done = 1
				}
			}
			print line[NR - 1]
			print line[NR]
		}'
}

if [ -z "$patch" ]; then
	lay "$ksrc"
	echo "intree.sh: evq laid into $ksrc" >&2
	exit 0
fi

# --patch: a scratch git repository holding only the files the change
# touches, committed as they are in KSRC_DIR, then with evq laid in.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
email=${author#*<}
email=${email%>*}
g() { git -C "$tmp" -c user.name="${author% <*}" -c user.email="$email" "$@"; }
g init -q
for f in "${touched[@]}"; do
	mkdir -p "$tmp/$(dirname "$f")"
	cp "$ksrc/$f" "$tmp/$f"
done
g add -A
g commit -q -m base
lay "$tmp"
g add -A
date=$(git -C "$top" log -1 --format=%aD 2>/dev/null || date -R)
GIT_AUTHOR_DATE=$date GIT_COMMITTER_DATE=$date g commit -q -F - <<EOF
misc: add evq, eventfd-style counters on /dev/evq

evq is a misc character device, /dev/evq, whose every open() is a new,
independent counter with the semantics of eventfd(2): 8-byte read() and
write() of a native-endian u64, blocking and non-blocking, semaphore mode,
and poll(), select() and epoll support with the masks eventfd reports.
The behaviour is that of current mainline eventfd: writes of other sizes
than 8 bytes fail, and fdinfo shows eventfd-count, eventfd-id and
eventfd-semaphore. Where evq differs on purpose, it is documented: a
read() into a bad buffer leaves the count unchanged instead of losing it,
and write_iter honours IOCB_NOWAIT, so io_uring writes are issued inline
instead of in an io-wq worker.

Why a device and not more eventfd flags: evq grows through ioctls on its
own file (type 0xE7) without touching eventfd's ABI or its users, and it
is a small, self-contained misc driver. Beyond eventfd, all opt-in, with
eventfd's behaviour as the default: EVQ_IOC_GET_INFO, a snapshot that
consumes nothing and wakes nobody; EVQ_IOC_CREATE, a factory that makes a
configured counter on an anonymous file in one call, as fast as
eventfd(2); a configurable maximum (flow control, EVQ_IOC_SET_MAXIMUM);
EVQ_WAKE_ONE, where a write wakes only as many blocked readers as it can
serve; and EVQ_BITS, a 64-bit event mask instead of a count.

A counter is created by open(2) with O_NONBLOCK and O_CLOEXEC as wanted
(EVQ_IOC_SETUP, once and before first use, sets a non-zero initial count
and the mode), or by EVQ_IOC_CREATE on any evq file. Every other ioctl
number of type 0xE7 fails with ENOTTY, reserved for later extensions.

Other kernel code can signal a counter that a process hands it as a file
descriptor, from any context including hard IRQ, as drivers signal an
eventfd: evq_ctx_fdget(), evq_ctx_fileget(), evq_signal(),
evq_signal_allowed() and evq_ctx_put() in drivers/misc/evq/include/.

The selftests in tools/testing/selftests/evq/ run every case against
native eventfd and against evq with one test body, plus a seeded random
differential test and an io_uring test.

Signed-off-by: $author
EOF
g format-patch -q -1 --stdout --no-signature >"$patch.evq-new"
mv -f "$patch.evq-new" "$patch"
echo "intree.sh: wrote $patch" >&2
