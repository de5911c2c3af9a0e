#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# apt-suite.sh BUILDDIR SUITE [--src]
# apt-suite.sh --mirror
#
# A private apt for one Debian suite that this machine's own apt does not
# use (e.g. trixie-backports for Debian's 7.3 kernel, sid for a sparse that
# parses 7.x headers): its own sources.list, package lists, cache and an
# empty dpkg status under BUILDDIR/apt/SUITE, so that `apt-cache show` and
# `apt-get download` (or `apt-get source`) see that suite and nothing else,
# and nothing is ever installed from it. Creates the configuration and runs
# `apt-get update` when the lists are missing (or the sources changed);
# prints the configuration file, for
#   APT_CONFIG=$(scripts/apt-suite.sh build trixie-backports) apt-cache ...
# --src adds the deb-src line (apt-get source). The mirror and keyring are
# those of this machine's Debian sources (/etc/apt/sources.list*), or
# EVQ_DEBIAN_MIRROR. Safe to run concurrently (a lock serialises updates);
# as root, apt keeps root rather than dropping to _apt (it could not write
# BUILDDIR). A later `apt-get update` with the same APT_CONFIG refreshes
# the lists (fetch-kernel.sh does, when a download fails). --mirror prints
# the mirror alone (system-image.sh's debootstrap uses it).
set -euo pipefail

usage="usage: apt-suite.sh BUILDDIR SUITE [--src] | --mirror"
[ "${1:-}" = --mirror ] || {
build=$(realpath -m "${1:?$usage}")
suite=${2:?$usage}
src=${3:-}
case $src in "" | --src) ;; *) echo "$usage" >&2; exit 2 ;; esac
case $suite in */* | "" | .*) echo "apt-suite.sh: bad suite $suite" >&2; exit 2 ;; esac
# With the deb-src lines (larger lists) a configuration of its own.
dir=$build/apt/$suite${src:+-src}
conf=$dir/apt.conf
}

log() { echo "apt-suite.sh: $*" >&2; }

# The Debian mirror this machine uses: the URI of the first source with a
# Debian suite (deb822 .sources or one-line lists), deb.debian.org if none.
mirror() {
	local f
	[ -z "${EVQ_DEBIAN_MIRROR:-}" ] || { echo "$EVQ_DEBIAN_MIRROR"; return; }
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
		/etc/apt/sources.list.d/*.sources; do
		[ -r "$f" ] || continue
		case $f in
		*.sources) awk '/^URIs:/ { u = $2 } /^Suites:/ && u ~ /\/debian\/?$/ &&
				/ (bookworm|trixie|sid|stable)/ { print u; exit }' "$f" ;;
		*) awk '$1 == "deb" { for (i = 2; i <= NF; i++)
				if ($i ~ /^[a-z+]+:\/\/.*\/debian\/?$/) { print $i; exit } }' "$f" ;;
		esac
	done | head -n1 | grep . || echo http://deb.debian.org/debian
}
[ "${1:-}" != --mirror ] || { mirror; exit 0; }

mkdir -p "$dir"
exec 9>"$dir.lock"
flock 9

# A backports suite comes with its release, as Debian means backports to be
# used: what the backported packages need (libc6 for one) is there.
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
sources=
for s in ${suite%-backports} $suite; do
	case $sources in *" $s main"*) continue ;; esac
	sources+="deb [signed-by=$keyring] $(mirror) $s main"$'\n'
	[ "$src" != --src ] || sources+="deb-src [signed-by=$keyring] $(mirror) $s main"$'\n'
done

if [ ! -f "$conf" ] || [ "$(cat "$dir/sources.list" 2>/dev/null)" != "${sources%$'\n'}" ]; then
	mkdir -p "$dir/lists/partial" "$dir/cache/archives/partial" "$dir/empty"
	printf %s "$sources" >"$dir/sources.list"
	: >"$dir/status"
	cat >"$conf.tmp" <<-EOF
	// Written by scripts/apt-suite.sh: apt for $suite alone, in $dir.
	Dir::Etc::sourcelist "$dir/sources.list";
	Dir::Etc::sourceparts "$dir/empty";
	Dir::Etc::preferences "$dir/empty/preferences";
	Dir::Etc::preferencesparts "$dir/empty";
	Dir::State::lists "$dir/lists/";
	Dir::State::status "$dir/status";
	Dir::Cache "$dir/cache/";
	APT::Architecture "amd64";
	APT::Architectures { "amd64"; };
	APT::Sandbox::User "root";
	Acquire::Languages "none";
	EOF
	mv "$conf.tmp" "$conf"
	rm -f "$dir/lists/"*_Packages* "$dir/lists/"*_Sources*
fi

have_lists() {
	local f
	for f in "$dir/lists/"*_Packages*; do [ -e "$f" ] && break; done
	[ -e "$f" ] || return 1
	[ "$src" != --src ] && return 0
	for f in "$dir/lists/"*_Sources*; do [ -e "$f" ] && return 0; done
	return 1
}

if ! have_lists; then
	log "apt-get update for $suite (private lists in $dir)"
	APT_CONFIG=$conf apt-get -q=2 update >&2 ||
		{ log "apt-get update for $suite failed"; exit 1; }
	have_lists || { log "no package lists for $suite after apt-get update"; exit 1; }
fi
echo "$conf"
