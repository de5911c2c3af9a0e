#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# dkms-check.sh BUILDDIR KVER[@SUITE]...
#
# The evq-dkms package, checked the way DKMS uses it, without touching this
# machine's kernels, /lib/modules or DKMS tree: builds the packages
# (mkdeb.sh, lintian included), unpacks evq-dkms with dpkg-deb -x into a
# throwaway root, and has dkms build evq from that root's /usr/src for each
# Debian kernel KVER, against the headers fetch-kernel.sh unpacked
# (--dkmstree, --sourcetree, --installtree, --kernelsourcedir, -k). Should
# dkms find a sign-file and sign, its key is made in the throwaway tree too
# (mok_signing_key, mok_certificate), never in /var/lib/dkms.
#
# Each module is copied to BUILDDIR/dkms/KVER/evq.ko, which evq-vm.sh puts
# into that kernel's VM payload as evq-dkms.ko (vm-payload-tests: dkms.*).
# One verdict line per check on stdout, details on stderr:
#   deb.packages_build_lintian_clean  make deb: dpkg-buildpackage, lintian
#   dkms.build.KVER                   dkms build from the installed package
#   dkms.vermagic.KVER                modinfo: name evq, vermagic of KVER
set -uo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$(realpath -m "${1:?usage: dkms-check.sh BUILDDIR KVER[@SUITE]...}")
shift
work=$build/dkms

verdict() { if [ "$2" -eq 0 ]; then echo "ok $1"; else echo "not ok $1"; fi; }
log() { echo "dkms-check: $*" >&2; }

rm -rf "$work"
mkdir -p "$work"
"$top/scripts/mkdeb.sh" "$build" >&2
deb_status=$?
verdict deb.packages_build_lintian_clean "$deb_status"

debs=("$build"/deb/evq-dkms_*_all.deb)
root=$work/root
tree=$work/tree
# A lintian error fails the verdict above, not the DKMS builds.
if [ -f "${debs[0]}" ]; then
	dpkg-deb -x "${debs[0]}" "$root"
	version=$(dpkg-deb -f "${debs[0]}" Version)
	version=${version%-*}
fi

for spec in "$@"; do
	kver=${spec%@*}
	ko=$work/$kver/evq.ko
	if [ -z "${version:-}" ]; then
		log "no evq-dkms package to build from"
		verdict "dkms.build.$kver" 1
		verdict "dkms.vermagic.$kver" 1
		continue
	fi
	kdir=$("$top/scripts/fetch-kernel.sh" "$spec" "$build" | sed -n 's/^KDIR=//p')
	opts=(--dkmstree "$tree" --sourcetree "$root/usr/src"
		--installtree "$work/lib/modules" --kernelsourcedir "$kdir"
		-m evq -v "$version" -k "$kver")
	mkdir -p "$tree" "$work/lib/modules"
	export mok_signing_key=$tree/mok.key mok_certificate=$tree/mok.pub
	[ -d "$tree/evq/$version/source" ] ||
		dkms add "${opts[@]}" >&2
	if dkms build "${opts[@]}" -j 2 >&2 &&
		built=$(echo "$tree/evq/$version/$kver"/*/module/evq.ko) &&
		[ -f "$built" ]; then
		mkdir -p "$work/$kver"
		cp "$built" "$ko"
		log "built $ko"
		status=0
	else
		cat "$tree/evq/$version/build/make.log" >&2 2>/dev/null
		status=1
	fi
	verdict "dkms.build.$kver" "$status"

	status=1
	if [ -f "$ko" ]; then
		name=$(modinfo -F name "$ko")
		vermagic=$(modinfo -F vermagic "$ko")
		log "modinfo $ko: name $name, vermagic $vermagic"
		[ "$name" = evq ] && [ "${vermagic%% *}" = "$kver" ] && status=0
	fi
	verdict "dkms.vermagic.$kver" "$status"
done
exit 0
