#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# mkdeb.sh BUILDDIR [OUTDIR VERSION]
#
# `make deb`: the Debian packages evq-dkms (module source and dkms.conf),
# libevq1 and libevq-dev, built by Debian's own tools from debian/ (the
# Debian convention: it sits at the top of the source tree). The tree is
# copied to BUILDDIR/deb/evq-VERSION first (the checkout's files, never its
# build products), so that dpkg-buildpackage -us -uc -b writes the .debs,
# .buildinfo and .changes into BUILDDIR/deb and leaves the checkout alone.
# Then lintian checks the .changes and every .deb in it: any error fails,
# warnings are printed. The last lines list the packages and their sizes.
#
# With OUTDIR and VERSION, the same sources are packaged as release VERSION
# (a changelog entry and the Makefile's VERSION in the copy) into OUTDIR:
# the system lanes (system-image.sh) upgrade to such a package.
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$(realpath -m "${1:?usage: mkdeb.sh BUILDDIR [OUTDIR VERSION]}")
out=$(realpath -m "${2:-$build/deb}")
as_version=${3:-}

log() { echo "mkdeb: $*" >&2; }

"$top/scripts/deps.sh"

version=$(sed -n 's/^VERSION := //p' "$top/Makefile")
deb_version=$(dpkg-parsechangelog -l "$top/debian/changelog" -S Version)
if [ "${deb_version%-*}" != "$version" ]; then
	log "debian/changelog says $deb_version, the Makefile VERSION $version"
	exit 1
fi

src=$out/evq-$version
rm -rf "$out"
mkdir -p "$src"
parts=(Kbuild Makefile module uapi libevq scripts/dkms.conf.in debian docs/evq.4
	docs/evq_eventfd.3 docs/evq_get_info.3 docs/evq_create.3 docs/evq_fast.3)
if git -C "$top" rev-parse --git-dir >/dev/null 2>&1; then
	# Tracked files and new ones that are not ignored.
	(cd "$top" && git ls-files -z -c -o --exclude-standard -- "${parts[@]}" |
		xargs -0 cp --parents -t "$src")
else
	(cd "$top" && cp -r --parents "${parts[@]}" "$src")
	find "$src" \( -name '*.o' -o -name '.*.cmd' -o -name '*.ko' \) -delete
fi

if [ -n "$as_version" ]; then
	sed -i "s/^VERSION := .*/VERSION := $as_version/" "$src/Makefile"
	{
		printf 'evq (%s) unstable; urgency=medium\n\n' "$as_version"
		printf '  * The same sources as %s, packaged as %s.\n\n' \
			"$deb_version" "$as_version"
		# A day after the release it follows (lintian wants it newer).
		printf ' -- evq developers <dev@evq.invalid>  %s\n\n' \
			"$(date -u -R -d @$(($(dpkg-parsechangelog -l "$top/debian/changelog" -S Timestamp) + 86400)))"
		cat "$top/debian/changelog"
	} >"$src/debian/changelog"
	deb_version=$as_version
fi

log "dpkg-buildpackage in $src"
(cd "$src" && dpkg-buildpackage -us -uc -b >"$out/build.log" 2>&1) || {
	tail -n 40 "$out/build.log" >&2
	log "dpkg-buildpackage failed; full log: $out/build.log"
	exit 1
}

changes=$(echo "$out"/evq_"$deb_version"_*.changes)
[ -f "$changes" ] || { log "no .changes in $out"; exit 1; }
log "lintian $changes"
lintian_status=0
lintian --fail-on error "$changes" >"$out/lintian.txt" 2>&1 || lintian_status=$?
cat "$out/lintian.txt" >&2
echo "lintian: $(grep -c '^E: ' "$out/lintian.txt" || true) errors," \
	"$(grep -c '^W: ' "$out/lintian.txt" || true) warnings ($out/lintian.txt)"
for deb in "$out"/*.deb; do
	printf '%s %s bytes\n' "$deb" "$(stat -c %s "$deb")"
done
exit "$lintian_status"
