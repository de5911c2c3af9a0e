/* SPDX-License-Identifier: GPL-2.0 */
/*
 * evq in-kernel producer API, for other kernel modules: signal a /dev/evq
 * counter that a process handed you as a file descriptor, from any context
 * (hard IRQ included, except on PREEMPT_RT, where the counter's lock
 * sleeps), as eventfd_signal() does for an eventfd.
 *
 *	struct evq_ctx *ctx = evq_ctx_fdget(fd);	// process context
 *
 *	if (IS_ERR(ctx))
 *		return PTR_ERR(ctx);			// -EBADF, -EINVAL
 *	...
 *	evq_signal(ctx, 1);				// see evq_signal()
 *	...
 *	evq_ctx_put(ctx);				// before module exit
 *
 * Building an out-of-tree module against it: add this directory's parent
 * to the include path and evq's Module.symvers to KBUILD_EXTRA_SYMBOLS, so
 * that modpost knows the symbols and their CRCs:
 *
 *	ccflags-y += -I/path/to/evq/module/include
 *	make -C $KDIR M=$PWD \
 *		KBUILD_EXTRA_SYMBOLS=/path/to/evq/Module.symvers modules
 *
 * The symbols are EXPORT_SYMBOL_GPL. Loading your module then needs evq
 * loaded first (modprobe does that once both are installed), and evq
 * cannot be unloaded while your module is. The functions are documented
 * with their definitions in module/evq_kapi.c.
 */
#ifndef _EVQ_KERNEL_H
#define _EVQ_KERNEL_H

#include <linux/types.h>

struct evq_ctx;
struct file;

struct evq_ctx *evq_ctx_fdget(int fd);
struct evq_ctx *evq_ctx_fileget(struct file *file);
void evq_ctx_put(struct evq_ctx *ctx);
bool evq_signal_allowed(void);
bool evq_signal(struct evq_ctx *ctx, u64 n);

#endif /* _EVQ_KERNEL_H */
