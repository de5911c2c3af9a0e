/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What differs between the architectures evq builds for, decided at
 * compile time here and only here (evq_compat.h is for kernel versions,
 * and only out of tree; this header goes in tree too). make lint
 * cross-builds evq for arm64 with 4K and 64K pages and for 32-bit ARM
 * (scripts/lint-cross.sh).
 */
#ifndef EVQ_ARCH_H
#define EVQ_ARCH_H

#include <linux/evq.h>
#include <linux/kconfig.h>
#include <linux/mm.h>

/*
 * The ABI's page, EVQ_PAGE_SIZE (4096) bytes, does not depend on the
 * kernel's page size: a fast counter's page is one kernel page, PAGE_SIZE
 * bytes (4K, 16K or 64K), of which the first EVQ_PAGE_SIZE are struct
 * evq_page and the rest stay zero, and the mapping is that one page,
 * EVQ_MAP_SIZE bytes, which mmap(2) rounds EVQ_PAGE_SIZE up to.
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

#endif /* EVQ_ARCH_H */
