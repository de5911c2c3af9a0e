#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# system-image.sh BUILDDIR RELEASE SUITES DEBDIR NEXTDIR PAYLOAD
# system-image.sh --base BUILDDIR RELEASE SUITES
#
# The disk of a system lane: a Debian RELEASE (bookworm, trixie) as a user
# has it, with evq installed from its packages by apt.
#
# 1. The base, cached in BUILDDIR/system/RELEASE-KEY (KEY: a hash of this
#    script and its arguments RELEASE and SUITES, so a changed package list
#    builds anew): debootstrap --variant=minbase with systemd as init, then,
#    in a chroot, what a user of evq-dkms has: dkms, the compiler of the
#    release (dkms pulls it in), pkg-config, man-db, initramfs-tools, and
#    for each suite of SUITES (comma-separated, e.g.
#    "trixie,trixie-backports") `apt-get install [-t SUITE] linux-image-amd64
#    linux-headers-amd64`: that suite's default kernel with its headers.
#    The release's -updates and -security suites are there too, and the
#    base is upgraded from them first, as a user's system is.
#    Downloads are kept in BUILDDIR/system/debs-RELEASE.
# 2. The image, BUILDDIR/system/RELEASE/disk.img (ext4, made with mke2fs
#    -d; never mounted on the host): the base under an overlay, where a
#    chroot runs `apt-get install ./evq-dkms_*.deb ./libevq1_*.deb
#    ./libevq-dev_*.deb` from DEBDIR (so DKMS builds evq with the release's
#    own gcc for every kernel installed), and PAYLOAD (the guest's test plan,
#    its helpers and test programs) goes to /opt/evq-systest with the
#    packages of NEXTDIR (the upgrade the plan installs), and the unit that
#    runs the plan at boot, evq-systest.service.
#
# --base: only step 1 (make check builds the bases in the background).
# Prints IMAGE=PATH, then "KERNEL SUITE KVER VMLINUZ INITRD" for each suite.
# The guest gets nothing over a network: everything it installs is in the
# image. The host's own apt, /boot and /lib/modules are never touched.
set -euo pipefail

usage="usage: system-image.sh [--base] BUILDDIR RELEASE SUITES [DEBDIR NEXTDIR PAYLOAD]"
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
only_base=0
[ "${1:-}" != --base ] || { only_base=1; shift; }
build=$(realpath -m "${1:?$usage}")
release=${2:?$usage}
suites=${3:?$usage}
if [ "$only_base" -eq 0 ]; then
	debdir=$(realpath "${4:?$usage}")
	nextdir=$(realpath "${5:?$usage}")
	payload=$(realpath "${6:?$usage}")
fi
case $release$suites in *[!a-z0-9,-]*) echo "system-image.sh: bad release or suites" >&2; exit 2 ;; esac

log() { echo "system-image.sh: $*" >&2; }

# What the base has beyond debootstrap's minbase. dkms depends on the
# release's compiler and make; libc6-dev and pkg-config build a program
# against libevq-dev (gcc: the cc a user types).
packages=(systemd-sysv udev kmod initramfs-tools dkms gcc libc6-dev pkg-config man-db)

key=$( { cat "${BASH_SOURCE[0]}"; echo "$release $suites ${packages[*]}"; } |
	sha256sum | cut -c1-12)
base=$build/system/$release-$key
root=$base/root
work=$build/system/$release
mirror=$("$top/scripts/apt-suite.sh" --mirror)

# Mounts, undone in reverse order: down to the first N by unmount_to N,
# all of them on every exit.
mounts=()
unmount_to() {
	local i
	for ((i = ${#mounts[@]} - 1; i >= $1; i--)); do
		umount "${mounts[i]}" 2>/dev/null || umount -l "${mounts[i]}" || true
		unset 'mounts[i]'
	done
}
unmount_all() { unmount_to 0; }
trap unmount_all EXIT
chroot_mounts() {
	mount -t proc proc "$1/proc" && mounts+=("$1/proc")
	mount -t sysfs sysfs "$1/sys" && mounts+=("$1/sys")
	mount --bind /dev "$1/dev" && mounts+=("$1/dev")
}
in_chroot() {
	local dir=$1
	shift
	chroot "$dir" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
		DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8 "$@"
}

build_base() {
	local tmp=$base.tmp suite kver target
	rm -rf "$tmp"
	mkdir -p "$tmp" "$build/system/debs-$release"
	log "debootstrap $release (log: $tmp/build.log)"
	debootstrap --variant=minbase --include=systemd-sysv \
		--cache-dir="$build/system/debs-$release" \
		"$release" "$tmp/root" "$mirror" >"$tmp/build.log" 2>&1 ||
		{ tail -n 20 "$tmp/build.log" >&2; return 1; }
	# The suites with the release's updates and security fixes, as a
	# user's system has them; the VM's own configuration; the packages.
	{
		echo "deb $mirror $release main"
		echo "deb $mirror $release-updates main"
		case $mirror in
		*/debian | */debian/)
			echo "deb ${mirror%/}-security $release-security main" ;;
		esac
		for suite in ${suites//,/ }; do
			[ "$suite" = "$release" ] || echo "deb $mirror $suite main"
		done
	} >"$tmp/root/etc/apt/sources.list"
	mkdir -p "$tmp/root/etc/initramfs-tools/conf.d"
	# The initramfs needs only the virtio disk and ext4 (MODULES=list
	# makes it small; "most", the default, puts hundreds of drivers in).
	printf 'MODULES=list\n' >"$tmp/root/etc/initramfs-tools/conf.d/evq-vm.conf"
	printf 'virtio_pci\nvirtio_blk\next4\n' >>"$tmp/root/etc/initramfs-tools/modules"
	printf '/dev/vda / ext4 defaults 0 1\n' >"$tmp/root/etc/fstab"
	# The kernels' driver, sound, network and KVM modules stay out (dpkg's own
	# filter, as minimal images use it for documentation): a VM has no
	# such hardware, and depmod, which DKMS runs after every install and
	# removal, reads every module: 35 s a run under emulation with all
	# 4,000 of them, a few seconds without.
	{
		echo '# evq system lane: no hardware modules (scripts/system-image.sh)'
		for d in /lib /usr/lib; do
			echo "path-exclude=$d/modules/*/kernel/drivers/*"
			echo "path-exclude=$d/modules/*/kernel/sound/*"
			echo "path-exclude=$d/modules/*/kernel/net/*"
			# KVM: no nested virtualisation here, and kvm_amd's SEV
			# needs drivers/crypto/ccp, which is out.
			echo "path-exclude=$d/modules/*/kernel/arch/x86/kvm/*"
			echo "path-include=$d/modules/*/kernel/drivers/virtio/*"
			echo "path-include=$d/modules/*/kernel/drivers/block/virtio_blk.ko*"
		done
	} >"$tmp/root/etc/dpkg/dpkg.cfg.d/evq-vm-modules"
	echo evq-vm >"$tmp/root/etc/hostname"
	# The consoles are the test's: no login prompts on them.
	ln -sf /dev/null "$tmp/root/etc/systemd/system/serial-getty@ttyS0.service"
	ln -sf /dev/null "$tmp/root/etc/systemd/system/serial-getty@ttyS1.service"
	ln -sf /dev/null "$tmp/root/etc/systemd/system/getty@tty1.service"
	chroot_mounts "$tmp/root"
	{
		in_chroot "$tmp/root" apt-get update -q &&
		in_chroot "$tmp/root" apt-get dist-upgrade -y -q &&
		in_chroot "$tmp/root" apt-get install -y -q --no-install-recommends \
			"${packages[@]}"
	} >>"$tmp/build.log" 2>&1 || { tail -n 20 "$tmp/build.log" >&2; return 1; }
	: >"$tmp/kernels"
	for suite in ${suites//,/ }; do
		log "$release: the default kernel of $suite with its headers"
		# -t for another suite (backports) alone: for the release's own,
		# it would prefer the release's kernel to a newer security fix.
		target=()
		[ "$suite" = "$release" ] || target=(-t "$suite")
		in_chroot "$tmp/root" apt-get install -y -q --no-install-recommends \
			"${target[@]}" linux-image-amd64 linux-headers-amd64 \
			>>"$tmp/build.log" 2>&1 || { tail -n 20 "$tmp/build.log" >&2; return 1; }
		kver=$(in_chroot "$tmp/root" dpkg-query -W -f '${Depends}' linux-image-amd64 |
			grep -o 'linux-image-[0-9][^ ,]*' | head -n1)
		kver=${kver#linux-image-}
		if [ ! -f "$tmp/root/boot/vmlinuz-$kver" ] ||
			[ ! -f "$tmp/root/boot/initrd.img-$kver" ]; then
			log "no vmlinuz or initrd for $kver from $suite"
			return 1
		fi
		echo "$suite $kver" >>"$tmp/kernels"
	done
	in_chroot "$tmp/root" apt-get clean
	unmount_all
	rm -rf "$base"
	mv "$tmp" "$base"
}

# One build of a base at a time (the background one of make check, and a
# lane that needs it).
mkdir -p "$build/system"
exec 8>"$build/system/$release.lock"
flock 8
if [ ! -f "$base/kernels" ]; then
	# Older bases of this release (another package list) go.
	rm -rf "$build/system/$release"-*
	build_base
fi
[ "$only_base" -eq 0 ] || exit 0

# The image: the base under an overlay, evq installed into it.
rm -rf "$work"
mkdir -p "$work/upper" "$work/ovl" "$work/merged"
mount -t overlay overlay \
	-o "lowerdir=$root,upperdir=$work/upper,workdir=$work/ovl" "$work/merged"
mounts+=("$work/merged")
m=$work/merged
debs=()
for p in evq-dkms libevq1 libevq-dev; do
	f=$(echo "$debdir/${p}_"*.deb)
	[ -f "$f" ] || { log "no $p package in $debdir"; exit 1; }
	debs+=("./${f##*/}")
done
mkdir -p "$m/root/evq" "$m/opt/evq-systest/next"
cp "$debdir"/*.deb "$m/root/evq/"
cp "$nextdir"/*.deb "$m/opt/evq-systest/next/"
cp -a "$payload/." "$m/opt/evq-systest/"
chroot_mounts "$m"
log "$release: apt-get install ${debs[*]} (DKMS builds evq; log: $work/install.log)"
in_chroot "$m" sh -c "cd /root/evq && apt-get install -y -q ${debs[*]}" \
	>"$work/install.log" 2>&1 || { tail -n 30 "$work/install.log" >&2; exit 1; }
rm -rf "$m/root/evq"
cat >"$m/etc/systemd/system/evq-systest.service" <<-'EOF'
	# The system lane's test plan (evq's make check), once the system is up.
	[Unit]
	Description=evq system lane checks
	After=multi-user.target

	[Service]
	Type=oneshot
	ExecStart=/bin/sh /opt/evq-systest/run
	StandardOutput=journal+console
	StandardError=journal+console

	[Install]
	WantedBy=multi-user.target
EOF
mkdir -p "$m/etc/systemd/system/multi-user.target.wants"
ln -sf ../evq-systest.service "$m/etc/systemd/system/multi-user.target.wants/"
unmount_to 1
# Room for the upgrade's DKMS builds: the tree's size and a GiB.
size=$(( $(du -sm "$m" | cut -f1) + 1024 ))
rm -f "$work/disk.img"
mke2fs -q -t ext4 -L evqroot -d "$m" "$work/disk.img" "${size}M" ||
	{ log "mke2fs failed"; exit 1; }
unmount_all
echo "IMAGE=$work/disk.img"
while read -r suite kver; do
	echo "KERNEL $suite $kver $root/boot/vmlinuz-$kver $root/boot/initrd.img-$kver"
done <"$base/kernels"
