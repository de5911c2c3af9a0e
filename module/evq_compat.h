/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Differences between the kernels evq builds against, and between the
 * architectures it builds for, live here and only here, so that the rest
 * of the module reads like current mainline code.
 *
 * Supported: Linux 6.1 up to 6.12 (Debian bookworm's kernels). Everything
 * evq uses today (iov_iter_single_seg_count, fault_in_iov_iter_writeable,
 * FMODE_NOWAIT, wake_up_locked_poll, compat_ptr_ioctl) has the same shape
 * on both, except the vm_flags helpers below. A difference found later
 * gets a build-time probe in Kbuild or a version test here, never an #if
 * in the core files.
 */
#ifndef EVQ_COMPAT_H
#define EVQ_COMPAT_H

#include <linux/evq.h>
#include <linux/kconfig.h>
#include <linux/mm.h>
#include <linux/version.h>

#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 1, 0)
#error "evq needs Linux 6.1 or later"
#endif

/*
 * vm_flags_set() and vm_flags_clear() (Linux 6.3) replaced writing
 * vma->vm_flags directly; EVQ_HAVE_VM_FLAGS_SET is Kbuild's probe of
 * <linux/mm.h>, since a stable kernel may have backported them.
 */
static inline void evq_vm_flags_set(struct vm_area_struct *vma,
				    vm_flags_t flags)
{
#ifdef EVQ_HAVE_VM_FLAGS_SET
	vm_flags_set(vma, flags);
#else
	vma->vm_flags |= flags;
#endif
}

static inline void evq_vm_flags_clear(struct vm_area_struct *vma,
				      vm_flags_t flags)
{
#ifdef EVQ_HAVE_VM_FLAGS_SET
	vm_flags_clear(vma, flags);
#else
	vma->vm_flags &= ~flags;
#endif
}

/*
 * Architectures. The ABI's page, EVQ_PAGE_SIZE (4096) bytes, does not
 * depend on the kernel's page size: a fast counter's page is one kernel
 * page, PAGE_SIZE bytes (4K, 16K or 64K), of which the first
 * EVQ_PAGE_SIZE are struct evq_page and the rest stay zero, and the
 * mapping is that one page, EVQ_MAP_SIZE bytes, which mmap(2) rounds
 * EVQ_PAGE_SIZE up to.
 *
 * EVQ_FAST shares a 64-bit count, and a 32-bit armed word, that userspace
 * updates with its own atomic instructions, so the kernel's atomic64_t
 * and atomic_t must be the hardware's too. With CONFIG_GENERIC_ATOMIC64
 * (32-bit ARM before v6K, 32-bit MIPS, PowerPC 32, ...) atomic64_t is a
 * u64 under a hashed spinlock, and on PA-RISC and 32-bit SPARC atomic_t
 * is as well: userspace's instructions would bypass the lock. There
 * EVQ_FAST is refused (EOPNOTSUPP) and everything else works.
 */
#define EVQ_MAP_SIZE	PAGE_ALIGN(EVQ_PAGE_SIZE)
#define EVQ_HAVE_FAST	(!IS_ENABLED(CONFIG_GENERIC_ATOMIC64) && \
			 !IS_ENABLED(CONFIG_PARISC) && \
			 !IS_ENABLED(CONFIG_SPARC32))

#endif /* EVQ_COMPAT_H */
