#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# lint.sh BUILDDIR KVER[@SUITE]...
#
# Static checks, one verdict line per check on stdout ("ok NAME" or
# "not ok NAME"), details on stderr:
#   lint.checkpatch      checkpatch.pl --strict on module/, uapi/ and the
#                        test module (selftests/kmod/), with the per-file
#                        exceptions in scripts/checkpatch.ignore
#   lint.kbuild.KVER     W=1 build with sparse (C=2) against KVER's headers,
#                        evq and then the test module: no compiler or sparse
#                        diagnostics at all, and sparse ran on every file
#                        (kbuild skips a missing or too old sparse quietly);
#                        for 7.x kernels with the sparse of scripts/sparse.sh
#                        (this machine's cannot parse their headers)
#   lint.cross.NAME      evq cross-built with W=1 and -Werror against
#                        linux-source-6.12 for arm64 with 4K and with 64K
#                        pages and for 32-bit ARM (scripts/lint-cross.sh;
#                        the prepared kernel trees are cached in
#                        BUILDDIR/cross: about a minute cold, seconds warm)
#   lint.userspace       selftests' lint target (cppcheck, clang-tidy)
#   lint.shellcheck      shellcheck on every shell script (settings and
#                        accepted exceptions in .shellcheckrc)
#   intree.TREE.*        evq as a kernel patch (scripts/intree-check.sh) in
#                        linux-source-6.12 and in the newest source the
#                        archive offers (7.3): applies, checkpatch with the
#                        tree, W=1 and sparse builds with CONFIG_EVQ=y and
#                        =m, kselftest target, evq.rst
#   docs.links_resolve   every relative link in README.md and docs/*.md
#                        resolves inside the repository, none into ../shared
#                        (check-doc-links.sh)
#   docs.man.PAGE        each man page in docs/: mandoc -T lint and
#                        groff -ww -z -man -t, not one message from either
set -uo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$(realpath -m "${1:?usage: lint.sh BUILDDIR KVER[@SUITE]...}")
shift
ksrc=$("$top/scripts/kernel-source.sh" "$build") || exit 1
checkpatch=$ksrc/scripts/checkpatch.pl

verdict() { if [ "$2" -eq 0 ]; then echo "ok $1"; else echo "not ok $1"; fi; }

# checkpatch, each file with its own accepted exceptions.
status=0
for f in "$top"/module/*.[ch] "$top"/module/include/evq/*.h \
	"$top"/uapi/linux/*.h "$top"/selftests/kmod/*.[ch]; do
	rel=${f#"$top"/}
	ignore=$(awk -v f="$rel" '$1 == f { printf "%s,", $2 }' \
		"$top/scripts/checkpatch.ignore")
	if ! out=$(cd "$top" && "$checkpatch" --strict --no-tree --quiet \
			--show-types ${ignore:+--ignore "${ignore%,}"} -f "$rel" 2>&1); then
		status=1
	fi
	if [ -n "$out" ]; then
		echo "$out" >&2
		status=1
	fi
done
verdict lint.checkpatch "$status"

# W=1 and sparse against each kernel's headers.
for spec in "$@"; do
	kver=${spec%@*}
	kdir=$("$top/scripts/fetch-kernel.sh" "$spec" "$build" | sed -n 's/^KDIR=//p')
	dir=$build/lint/$kver
	rm -rf "$dir"
	mkdir -p "$dir"
	mkdir -p "$dir/selftests"
	cp -r "$top/Kbuild" "$top/module" "$top/uapi" "$dir/"
	cp -r "$top/selftests/kmod" "$dir/selftests/"
	# Linux 7.x headers have sparse parse __typeof_unqual__, which this
	# machine's sparse cannot: a newer one, built by sparse.sh. Without
	# it kbuild skips sparse, and the check below fails.
	check=()
	if [ "${kver%%.*}" -ge 7 ]; then
		if sparse=$("$top/scripts/sparse.sh" "$build"); then
			check=(CHECK="$sparse")
		else
			echo "lint: no sparse that parses $kver's headers (scripts/sparse.sh)" >&2
		fi
	fi
	out=$(make -C "$kdir" M="$dir" W=1 C=2 "${check[@]}" modules 2>&1 &&
		make -C "$kdir" M="$dir/selftests/kmod" W=1 C=2 "${check[@]}" \
			KBUILD_EXTRA_SYMBOLS="$dir/Module.symvers" modules 2>&1)
	status=$?
	# Keep only diagnostics: the compiler's, sparse's, modpost's.
	diag=$(grep -E 'warning|error|: note:|^WARNING' <<<"$out")
	if [ "$status" -ne 0 ] || [ -n "$diag" ]; then
		echo "$out" >&2
		status=1
	fi
	# A check that ran no checker fails: kbuild skips sparse with one
	# line when it is missing or too old for the kernel, and goes on.
	# Kbuild names a file of an M= build by its absolute path, or (7.x)
	# from the top of the M= directory.
	for c in "$top"/module/*.c "$top"/selftests/kmod/*.c; do
		c=$dir/${c#"$top"/}
		case $c in
		"$dir"/selftests/kmod/*) rel=${c#"$dir"/selftests/kmod/} ;;
		*) rel=${c#"$dir"/} ;;
		esac
		awk -v c="$c" -v r="$rel" '$1 == "CHECK" && ($2 == c || $2 == r) { f = 1 }
			END { exit !f }' <<<"$out" && continue
		echo "lint: sparse did not check $c against $kver" >&2
		status=1
	done
	verdict "lint.kbuild_w1_sparse.$kver" "$status"
done

# Other architectures and page sizes; prints its own verdicts.
"$top/scripts/lint-cross.sh" "$build"

make -s -C "$top/selftests" OUT="$build/selftests" \
	KSFT_DIR="$ksrc/tools/testing/selftests" lint >&2
verdict lint.userspace $?

# Shell: every file under scripts/ and selftests/ whose #!
# line names a shell (the VM-side scripts have no .sh; a plan's
# .host-files list is data), and CI's entry point.
(
	cd "$top" || exit 1
	grep -lE '^#!.*[/ ](ba)?sh$' -r scripts selftests --exclude-dir=kmod |
		sort | xargs shellcheck .ci/run
) >&2
verdict lint.shellcheck $?

# evq as a patch to Debian's linux-source-6.12 and to the newest source
# (scripts/lanes); prints its own verdicts.
"$top/scripts/intree-check.sh" "$build"
"$top/scripts/check-doc-links.sh" "$top"

# Man pages: any message from mandoc (style and up) or groff fails the page.
for page in "$top"/docs/*.[1-8]; do
	[ -f "$page" ] || continue
	out=$(mandoc -T lint "$page" 2>&1; groff -ww -z -man -t "$page" 2>&1)
	[ -z "$out" ] || echo "$out" >&2
	verdict "docs.man.$(basename "$page")" "$([ -z "$out" ]; echo $?)"
done
