/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Differences between the kernels evq builds against live here and only
 * here, so that the rest of the module reads like current mainline code.
 *
 * Supported: Linux 6.1 up to 6.12 (Debian bookworm's kernels). Everything
 * evq uses today (iov_iter_single_seg_count, fault_in_iov_iter_writeable,
 * FMODE_NOWAIT, wake_up_locked_poll, compat_ptr_ioctl) has the same shape
 * on both, so this header only fences the range. A difference found later
 * gets a build-time probe in Kbuild or a version test here, never an #if
 * in the core files.
 */
#ifndef EVQ_COMPAT_H
#define EVQ_COMPAT_H

#include <linux/version.h>

#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 1, 0)
#error "evq needs Linux 6.1 or later"
#endif

#endif /* EVQ_COMPAT_H */
