/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Differences between the kernels evq builds against live here and only
 * here, so that the rest of the module reads like current mainline code.
 *
 * Supported: Linux 6.1 up to 7.3 (Debian bookworm's kernels, trixie-
 * backports' 7.3). Everything evq uses today (iov_iter_single_seg_count,
 * fault_in_iov_iter_writeable, FMODE_NOWAIT, wake_up_locked_poll,
 * compat_ptr_ioctl) has the same shape on all of them, except the vm_flags
 * helpers and kzalloc_obj() below. A difference found later gets a
 * build-time probe in Kbuild or a version test here, never an #if in the
 * core files.
 *
 * In tree (scripts/intree.sh) this header is left out: the one kernel
 * there is current, and intree.sh writes what the header provides as that
 * kernel's own code would.
 */
#ifndef EVQ_COMPAT_H
#define EVQ_COMPAT_H

#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/version.h>

#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 1, 0)
#error "evq needs Linux 6.1 or later"
#endif

/*
 * The recursion guard (evq_core.h) is eventfd's per-task mark,
 * current->in_eventfd, which exists only with CONFIG_EVENTFD: every
 * distribution kernel has it (it needs CONFIG_EXPERT to turn off), and
 * evq's tests compare against eventfd anyway. The in-tree Kconfig says
 * "depends on EVENTFD".
 */
#ifndef CONFIG_EVENTFD
#error "evq needs CONFIG_EVENTFD: its recursion guard is eventfd's task mark"
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
 * kzalloc_obj(*p, gfp) allocates one zeroed object of *p's type, and
 * returns a pointer of that type:
 * 7.x checkpatch asks for it (ALLOC_WITH_SIZEOF) where older code wrote
 * kzalloc(sizeof(*p), gfp), which is what it means on a kernel without
 * it. EVQ_HAVE_KZALLOC_OBJ is Kbuild's probe of <linux/slab.h>, not a
 * version test: 7.0 added it, stable 6.12 has it too (Debian's 6.12.118
 * does), 6.1 has not.
 * Only the form evq uses, with the gfp argument, is provided.
 */
#ifndef EVQ_HAVE_KZALLOC_OBJ
#define kzalloc_obj(P, GFP)	kzalloc(sizeof(P), GFP)
#endif

#endif /* EVQ_COMPAT_H */
