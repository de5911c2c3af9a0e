#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# deps.sh
#
# Installs the Debian packages the build, the lints and the VM tests need,
# only those that are missing (apt-get update runs only then). Quiet and
# fast when everything is there. Extra packages: EVQ_EXTRA_DEPS="a b".
#
# Kernel headers and images are NOT installed here: fetch-kernel.sh unpacks
# them into the build directory (the 6.12 headers package would pull an
# image into /boot).
set -euo pipefail

# Extend this list when the project needs another package.
DEPS=(
	qemu-system-x86  # the VM (TCG when there is no KVM)
	socat            # vm-run.sh asks qemu's monitor where a stalled VM is
	busybox-static   # /bin/busybox of the initramfs
	cpio             # packing the initramfs
	build-essential  # gcc, make
	bc flex bison libelf-dev libssl-dev dwarves  # kbuild
	kmod             # modinfo, depmod
	sparse           # make lint (C=2)
	cppcheck clang-tidy shellcheck  # make lint (userspace, shell)
	ccache           # kernel rebuilds (build-kernel.sh)
	liburing-dev     # selftests
	linux-source-6.12  # kselftest harness, checkpatch.pl
	xz-utils         # unpacking linux-source
	linux-perf       # make bench: perf bench epoll wait in the VM
	python3-docutils  # intree-check.sh: evq.rst parses
	rsync            # intree-check.sh: kselftest's make install
	gnuplot-nox jq   # make bench: the chart (bench-chart.sh)
	mandoc groff-base  # make lint: the man pages in docs/
	pkgconf          # the installed libevq's evq.pc (make check)
	debhelper dh-dkms lintian  # make deb
	dkms             # make check: DKMS builds evq from the evq-dkms package
	debian-archive-keyring dpkg-dev  # apt-suite.sh: trixie/sid indexes; sparse.sh: dpkg-source
	debootstrap qemu-utils e2fsprogs  # the system lanes' root file systems
	gcc-aarch64-linux-gnu gcc-arm-linux-gnueabihf  # make lint: cross-builds
	# evq_compat_test's 32-bit program (gcc-multilib conflicts with the
	# cross compilers above)
	gcc-i686-linux-gnu libc6-dev-i386-cross
)
# shellcheck disable=SC2206 # word splitting wanted
[ -z "${EVQ_EXTRA_DEPS:-}" ] || DEPS+=($EVQ_EXTRA_DEPS)

missing=()
for p in "${DEPS[@]}"; do
	st=$(dpkg-query -W -f '${db:Status-Abbrev}' "$p" 2>/dev/null || true)
	[ "${st:0:2}" = ii ] || missing+=("$p")
done
# kernels.sh and fetch-kernel.sh need apt's package lists too.
lists=0
for f in /var/lib/apt/lists/*_Packages*; do
	[ -e "$f" ] && { lists=1; break; }
done
[ "${#missing[@]}" -eq 0 ] && [ "$lists" -eq 1 ] && exit 0

sudo=
[ "$(id -u)" -eq 0 ] || sudo=sudo
export DEBIAN_FRONTEND=noninteractive
echo "deps.sh: apt-get update" >&2
$sudo apt-get update -qq >&2
[ "${#missing[@]}" -eq 0 ] && exit 0
echo "deps.sh: installing ${missing[*]}" >&2
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
