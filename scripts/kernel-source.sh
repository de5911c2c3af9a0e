#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# kernel-source.sh BUILDDIR
#
# Extracts Debian's linux-source-6.12 tarball into BUILDDIR/linux-source-6.12
# once (a stamp names the package version) and prints that directory. The
# tree is read-only input: kselftest_harness.h, checkpatch.pl, and the debug
# kernel, which builds with O= elsewhere.
set -euo pipefail

build=$(realpath -m "${1:?usage: kernel-source.sh BUILDDIR}")
tarball=/usr/src/linux-source-6.12.tar.xz
[ -r "$tarball" ] || { echo "kernel-source.sh: $tarball missing (run scripts/deps.sh)" >&2; exit 1; }

version=$(dpkg-query -W -f '${Version}' linux-source-6.12)
dir=$build/linux-source-6.12
stamp=$dir/.evq-extracted

if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$version" ]; then
	echo "kernel-source.sh: extracting linux-source-6.12 $version" >&2
	rm -rf "$dir" "$dir.tmp"
	mkdir -p "$dir.tmp"
	tar -xJf "$tarball" -C "$dir.tmp"
	mv "$dir.tmp/linux-source-6.12" "$dir"
	rmdir "$dir.tmp"
	echo "$version" >"$stamp"
fi
echo "$dir"
