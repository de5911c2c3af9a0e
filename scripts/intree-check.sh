#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# intree-check.sh BUILDDIR
#
# Checks evq as a kernel patch (scripts/intree.sh) in two of Debian's
# kernel source trees: linux-source-6.12, this machine's, and the newest the
# archive offers, the one the built kernels come from (the "source" line of
# scripts/lanes: linux-source-7.3 from trixie-backports). One verdict line
# per check and tree on stdout ("ok NAME" or "not ok NAME"), TREE its
# version (6.12, 7.3), details on stderr:
#   intree.TREE.patch_applies  the patch (BUILDDIR/intree/TREE/evq.patch)
#                           applies to the pristine tree with git apply and
#                           patch -p1
#   intree.TREE.lay_matches_patch  intree.sh laying evq into a tree, twice,
#                           gives exactly the tree the patch gives
#   intree.TREE.checkpatch  that tree's checkpatch.pl --strict on the patch:
#                           no error, warning or check, except the accepted
#                           ones below, each with its reason
#   intree.TREE.build.y, intree.TREE.build.m
#                           `make W=1 C=2 drivers/misc/evq/` with
#                           CONFIG_EVQ=y, then =m, in a small x86_64 config
#                           (tinyconfig plus what evq and its tests use): no
#                           compiler, sparse or kernel-doc diagnostic at
#                           all, and sparse checked every evq source file
#                           (kbuild skips a missing or too old sparse with
#                           one line and goes on; for 7.x the sparse of
#                           scripts/sparse.sh, as lint.sh uses)
#   intree.TREE.selftests   the kselftest target builds and installs
#                           (run_kselftest.sh and evq/, static binaries)
#   intree.TREE.rst         docutils parses evq.rst and the ioctl-number
#                           table without a warning
#
# The pristine trees (scripts/kernel-source.sh) are never written: the
# patch is applied to a hard-link copy (BUILDDIR/intree/TREE/src) by
# patch(1), which writes each file it changes anew. Builds use O=
# directories under BUILDDIR/intree/TREE that are kept, so a second run
# only compiles evq.
set -uo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$(realpath -m "${1:?usage: intree-check.sh BUILDDIR}")
jobs=(-j2)
checks=(patch_applies lay_matches_patch checkpatch build.y build.m selftests rst)

verdict() { if [ "$2" -eq 0 ]; then echo "ok $1"; else echo "not ok $1"; fi; }

# fresh_copy DIR: DIR becomes a hard-link copy of the pristine tree.
fresh_copy() {
	rm -rf "$1"
	cp -al "$ksrc" "$1" 2>/dev/null || { rm -rf "$1" && cp -a "$ksrc" "$1"; }
}

# check_tree TREE SPEC: the checks above in the kernel source SPEC names
# (kernel-source.sh), their verdicts named intree.TREE.*.
check_tree() {
	local tree=$1 ksrc dir patch src obj check=() sparse
	ksrc=$("$top/scripts/kernel-source.sh" "$build" "$2") || {
		for c in "${checks[@]}"; do
			verdict "intree.$tree.$c" 1
		done
		return 0
	}
	# The real directory: where BUILDDIR/linux-source-X.Y is a symlink (a
	# worktree sharing another build's tree), cp -al would copy the link,
	# and patch(1) would then write through it into the pristine tree.
	ksrc=$(realpath "$ksrc")
	dir=$build/intree/$tree
	patch=$dir/evq.patch
	src=$dir/src
	# Linux 7.x headers have sparse parse __typeof_unqual__, which this
	# machine's sparse cannot (lint.sh): a newer one, from sparse.sh.
	# Without it kbuild skips sparse, and the builds below fail.
	if [ "${tree%%.*}" -ge 7 ]; then
		if sparse=$("$top/scripts/sparse.sh" "$build"); then
			check=(CHECK="$sparse")
		else
			echo "intree-check: no sparse that parses $tree's headers (scripts/sparse.sh)" >&2
		fi
	fi

	mkdir -p "$dir"
	if ! "$top/scripts/intree.sh" --patch "$patch" "$ksrc" >&2; then
		for c in "${checks[@]}"; do
			verdict "intree.$tree.$c" 1
		done
		return 0
	fi

	# The patch applies to the pristine tree (checked without writing to it;
	# GIT_CEILING_DIRECTORIES keeps git apply from finding the repository the
	# build directory may be in, whose root would change what the paths mean).
	status=0
	(cd "$ksrc" && GIT_CEILING_DIRECTORIES=$(dirname "$ksrc") \
		git apply --check "$patch") >&2 || status=1
	patch -p1 -s --dry-run -d "$ksrc" <"$patch" >&2 || status=1
	if [ "$status" -eq 0 ]; then
		fresh_copy "$src"
		patch -p1 -s -d "$src" <"$patch" >&2 || status=1
	fi
	# patch(1) must have written new files, not through the hard links.
	if grep -q '^EVQ ' "$ksrc/MAINTAINERS"; then
		echo "intree-check: the pristine tree $ksrc was modified" >&2
		status=1
	fi
	applied=$status
	verdict "intree.$tree.patch_applies" "$status"

	# intree.sh without --patch, run twice, makes the same tree.
	status=$applied
	if [ "$status" -eq 0 ]; then
		lay=$dir/lay
		fresh_copy "$lay"
		"$top/scripts/intree.sh" "$lay" >&2 &&
			"$top/scripts/intree.sh" "$lay" >&2 &&
			diff -r "$src" "$lay" >&2 || status=1
		rm -rf "$lay"
	fi
	verdict "intree.$tree.lay_matches_patch" "$status"

	# checkpatch on the patch as a whole. Accepted findings, as
	# "SEVERITY TYPE FILE-PATTERN", each with its reason:
	accepted=(
		# The userspace selftests follow userspace conventions, as the
		# kernel's other selftests do: stdint types (PREFER_KERNEL_TYPES),
		# __x86_64__ tests for the syscall numbers of the arch they build
		# for, the harness's macro shapes; every CHECK there is advice for
		# kernel code.
		"CHECK * tools/testing/selftests/evq/*"
		# ASSERT_*/EXPECT_* expand to a statement followed by
		# `for (...) TH_LOG()`: without braces, `if (x) ASSERT_EQ(a, b);`
		# would run the for outside the if.
		"WARNING BRACES tools/testing/selftests/evq/evq_poll_test.c"
		"WARNING BRACES tools/testing/selftests/evq/evq_fdinfo_test.c"
		"WARNING BRACES tools/testing/selftests/evq/evq_concurrency_test.c"
		# The sscanf() return value is checked: it is the first argument of
		# EXPECT_EQ(1, sscanf(...)), which checkpatch does not follow.
		"WARNING NAKED_SSCANF tools/testing/selftests/evq/evq_fdinfo_test.c"
		# Messages a failing test prints, kept whole so that they can be
		# grepped for (coding-style.rst, "Breaking long lines and strings").
		"WARNING LONG_LINE_STRING tools/testing/selftests/evq/*"
	)
	status=$applied
	if [ "$status" -eq 0 ]; then
		out=$(cd "$src" && ./scripts/checkpatch.pl --strict --show-types \
			"$patch" 2>&1)
		# One "SEVERITY TYPE FILE" per finding (FILE "-" for the message).
		findings=$(awk '
			function flush() { if (f != "") print f, (file == "" ? "-" : file) }
			/^(ERROR|WARNING|CHECK):[A-Z_0-9]+:/ {
				flush()
				split($0, a, ":"); f = a[1] " " a[2]; file = ""
				next
			}
			f != "" && file == "" && /^#[0-9]+: FILE: / {
				file = $3; sub(/:[0-9]+:$/, "", file)
			}
			END { flush() }' <<<"$out")
		bad=0
		while read -r sev type file; do
			[ -n "$sev" ] || continue
			ok=0
			for a in "${accepted[@]}"; do
				read -r asev atype afile <<<"$a"
				# shellcheck disable=SC2053 # the patterns are globs
				if [[ $sev == "$asev" && $type == $atype && $file == $afile ]]; then
					ok=1
					break
				fi
			done
			[ "$ok" -eq 1 ] || { echo "checkpatch: $sev $type $file" >&2; bad=1; }
		done <<<"$findings"
		if [ "$bad" -ne 0 ]; then
			echo "$out" >&2
			status=1
		fi
		printf 'intree-check: checkpatch: %s findings, all accepted\n' \
			"$(grep -c . <<<"$findings")" >&2
	fi
	verdict "intree.$tree.checkpatch" "$status"

	# The W=1 builds. The config is tinyconfig plus what evq and its selftests
	# use, in one object tree for both builds: it is made again only when this
	# list or the tree changes, and CONFIG_EVQ flips between y and m in it, so
	# the second build's prepare only redoes what depends on CONFIG_EVQ.
	options=(64BIT MODULES MODULE_UNLOAD PROC_FS EVENTFD EPOLL DEVTMPFS IO_URING)
	obj=$dir/obj
	stamp="$(cat "$ksrc/.evq-extracted" 2>/dev/null) ${options[*]}"
	configured=$applied
	if [ "$configured" -eq 0 ] && [ "$(cat "$obj/.evq-config" 2>/dev/null)" != "$stamp" ]; then
		rm -rf "$obj" "$dir/obj-y" "$dir/obj-m"
		mkdir -p "$obj"
		cfg=(--file "$obj/.config")
		for o in "${options[@]}"; do
			cfg+=(--enable "$o")
		done
		{ make -s -C "$src" O="$obj" ARCH=x86_64 tinyconfig &&
			"$src/scripts/config" "${cfg[@]}" &&
			echo "$stamp" >"$obj/.evq-config"; } >&2 || configured=1
	fi
	for mode in y m; do
		status=$configured
		if [ "$status" -eq 0 ]; then
			if [ "$mode" = y ]; then set_evq=--enable; else set_evq=--module; fi
			{ "$src/scripts/config" --file "$obj/.config" "$set_evq" EVQ &&
				make -s -C "$src" O="$obj" ARCH=x86_64 olddefconfig; } >&2 ||
				status=1
		fi
		if [ "$status" -eq 0 ]; then
			for o in "${options[@]}" EVQ; do
				want=y
				[ "$o" = EVQ ] && want=$mode
				grep -qx "CONFIG_$o=$want" "$obj/.config" ||
					{ echo "intree-check: CONFIG_$o=$want missing" >&2; status=1; }
			done
		fi
		if [ "$status" -eq 0 ]; then
			# Compile evq every time, so that its diagnostics are seen.
			rm -rf "$obj/drivers/misc/evq"
			out=$(nice make -C "$src" O="$obj" ARCH=x86_64 "${jobs[@]}" prepare 2>&1 &&
				nice make -C "$src" O="$obj" ARCH=x86_64 W=1 C=2 \
					"${check[@]}" drivers/misc/evq/ 2>&1)
			status=$?
			if [ "$mode" = y ]; then built="built-in.a"; else built="evq.o"; fi
			[ -f "$obj/drivers/misc/evq/$built" ] || status=1
			# Compiler, sparse, kernel-doc and make diagnostics (not
			# "str_error_r.o"), and kbuild's line for a sparse it skipped.
			if [ "$status" -ne 0 ] ||
				grep -qE ': (warning|error|note): |^WARNING|sparse is not available' <<<"$out"; then
				echo "$out" >&2
				status=1
			fi
			# A build that ran no checker fails: sparse checked every
			# source file of evq (kbuild's "CHECK drivers/misc/evq/F.c",
			# named from the top of the source tree on 6.12).
			for c in "$top"/module/*.c; do
				c=drivers/misc/evq/${c##*/}
				awk -v c="$c" -v s="$src/$c" '$1 == "CHECK" &&
					($2 == c || $2 == s) { f = 1 }
					END { exit !f }' <<<"$out" && continue
				echo "intree-check: sparse did not check $c in $tree" >&2
				status=1
			done
		fi
		verdict "intree.$tree.build.$mode" "$status"
	done

	# The kselftest target, against the uapi headers of the patched tree.
	status=$applied
	if [ "$status" -eq 0 ]; then
		inst=$dir/kselftest-install
		rm -rf "$inst"
		{ nice make -s -C "$src" O="$obj" ARCH=x86_64 headers &&
			nice make -s -C "$src/tools/testing/selftests" O="$obj" \
				TARGETS=evq "${jobs[@]}" &&
			nice make -s -C "$src/tools/testing/selftests" O="$obj" \
				TARGETS=evq INSTALL_PATH="$inst" install; } >&2 || status=1
		for f in run_kselftest.sh kselftest-list.txt evq/evq_rw_test \
			evq/evq_poll_test evq/evq_fdinfo_test evq/evq_lifetime_test \
			evq/evq_concurrency_test evq/evq_fuzz_test evq/evq_uring_test \
			evq/evq_modes_test evq/evq_maximum_test \
			evq/evq_wakeone_mode_test evq/evq_bits_test evq/evq_factory_test \
			evq/evq_fast_test evq/evq_fast_race_test evq/evq_fast_memcg_test \
			evq/config evq/settings; do
			[ -e "$inst/$f" ] || { echo "intree-check: $inst/$f missing" >&2; status=1; }
		done
		for f in "$inst"/evq/evq_*test; do
			file "$f" | grep -q 'statically linked' ||
				{ echo "intree-check: $f is not static" >&2; status=1; }
		done
	fi
	verdict "intree.$tree.selftests" "$status"

	# The documentation: evq.rst with the Sphinx-only kernel-doc directive
	# stubbed out (W=1 checks the kernel-doc comments themselves), and the
	# ioctl table, whose columns the new line must keep (7.x's links to
	# another document with Sphinx's :doc: role, stubbed out too).
	status=$applied
	if [ "$status" -eq 0 ]; then
		# Debian's python3, which has python3-docutils (scripts/deps.sh).
		py=/usr/bin/python3
		[ -x "$py" ] || py=python3
		"$py" - "$src/Documentation/userspace-api/evq.rst" \
			"$src/Documentation/userspace-api/ioctl/ioctl-number.rst" <<-'EOF' >&2 || status=1
	import sys
	from docutils.core import publish_doctree
	from docutils.utils import SystemMessage
	from docutils import nodes
	from docutils.parsers.rst import Directive, directives, roles


	class KernelDoc(Directive):
	    required_arguments = 1
	    option_spec = {k: directives.unchanged for k in
	                   ("functions", "identifiers", "internal", "export",
	                    "doc", "no-identifiers")}

	    def run(self):
	        return []


	def doc_role(name, rawtext, text, lineno, inliner, options=None, content=None):
	    return [nodes.literal(rawtext, text)], []


	directives.register_directive("kernel-doc", KernelDoc)
	roles.register_local_role("doc", doc_role)
	for path in sys.argv[1:]:
	    with open(path, encoding="utf-8") as f:
	        try:
	            publish_doctree(f.read(), source_path=path,
	                            settings_overrides={"halt_level": 2,
	                                                "report_level": 2})
	        except SystemMessage as e:
	            sys.exit(str(e))
	EOF
	fi
	verdict "intree.$tree.rst" "$status"
}

# Each tree by its version: 6.12 (this machine's linux-source-6.12) and the
# newest, the built kernels' (scripts/lanes).
for spec in linux-source-6.12 built; do
	ksrc=$("$top/scripts/kernel-source.sh" "$build" "$spec") || ksrc=
	tree=$(make -s -C "$ksrc" kernelversion 2>/dev/null | cut -d. -f1-2)
	[ -n "$tree" ] || tree=$spec
	check_tree "$tree" "$spec"
done
