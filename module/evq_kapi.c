// SPDX-License-Identifier: GPL-2.0
/*
 * evq in-kernel producer API: other modules signal /dev/evq counters, as
 * drivers signal eventfds with eventfd_signal().
 *
 * Reference model: a kernel user turns a file descriptor or struct file
 * into a counter with evq_ctx_fdget() or evq_ctx_fileget(), which take a
 * reference on the counter (struct evq_ctx.kref), not on the file. The
 * counter then stays valid until the user calls evq_ctx_put(), even if
 * every file descriptor for it is closed meanwhile; signals to a counter
 * whose file is gone are counted and wake nobody. The user's module links
 * against these symbols, so evq cannot be unloaded before it; the user
 * must put every counter before its own module exit returns.
 *
 * Locking: as in evq_main.c, ctx->wqh.lock guards the count. Here it is
 * taken with spin_lock_irqsave(), so evq_signal() works from any context
 * except NMI, hard-IRQ handlers included.
 */
#include <linux/bug.h>
#include <linux/err.h>
#include <linux/export.h>
#include <linux/file.h>
#include <linux/percpu.h>
#include <linux/spinlock.h>

#include <evq/evq_kernel.h>

#include "evq_ctx.h"

DEFINE_PER_CPU(bool, evq_in_wake);

/**
 * evq_ctx_fileget() - take a reference on the counter of an open file
 * @file: a file opened on /dev/evq
 *
 * The caller keeps @file alive for the duration of the call; the counter
 * returned stays valid after @file is closed, until evq_ctx_put().
 *
 * Context: any context.
 * Return: the counter, or ERR_PTR(-EINVAL) if @file is not a /dev/evq
 * file (a native eventfd included).
 */
struct evq_ctx *evq_ctx_fileget(struct file *file)
{
	struct evq_ctx *ctx;

	if (file->f_op != &evq_fops)
		return ERR_PTR(-EINVAL);

	ctx = file->private_data;
	kref_get(&ctx->kref);
	return ctx;
}
EXPORT_SYMBOL_GPL(evq_ctx_fileget);

/**
 * evq_ctx_fdget() - take a reference on the counter behind a file descriptor
 * @fd: a file descriptor of the current process
 *
 * Context: process context.
 * Return: the counter, or
 * ERR_PTR(-EBADF) if @fd is not an open file descriptor,
 * ERR_PTR(-EINVAL) if it is not a /dev/evq file.
 */
struct evq_ctx *evq_ctx_fdget(int fd)
{
	struct evq_ctx *ctx;
	struct file *file;

	file = fget(fd);
	if (!file)
		return ERR_PTR(-EBADF);
	ctx = evq_ctx_fileget(file);
	fput(file);
	return ctx;
}
EXPORT_SYMBOL_GPL(evq_ctx_fdget);

/**
 * evq_ctx_put() - drop a reference taken by evq_ctx_fdget() or evq_ctx_fileget()
 * @ctx: the counter
 *
 * The counter is freed when this was the last reference and its file is
 * closed.
 *
 * Context: any context except NMI.
 */
void evq_ctx_put(struct evq_ctx *ctx)
{
	kref_put(&ctx->kref, evq_ctx_free);
}
EXPORT_SYMBOL_GPL(evq_ctx_put);

/**
 * evq_signal_allowed() - may evq_signal() be called here?
 *
 * False while this CPU is running the wake-up callbacks of an evq counter
 * (a wait-queue entry's function, e.g. one added through vfs_poll()): a
 * signal from there could deadlock on the counter's lock, so evq_signal()
 * refuses it. Code that can end up in such a callback checks this first
 * and defers the signal (to a workqueue, say) when it is false.
 *
 * Context: any context except NMI.
 * Return: true if evq_signal() would signal, false if it would refuse.
 */
bool evq_signal_allowed(void)
{
	/*
	 * Preemptible callers may read any CPU's flag: it is set only with
	 * interrupts off on that CPU, so a caller running there can see it
	 * set only from inside the section that set it.
	 */
	return !this_cpu_read(evq_in_wake);
}
EXPORT_SYMBOL_GPL(evq_signal_allowed);

/**
 * evq_signal() - add to a counter from the kernel and wake its waiters
 * @ctx: the counter, from evq_ctx_fdget() or evq_ctx_fileget()
 * @n: the value to add
 *
 * Unlike write(2), this never blocks: a sum past the largest count a write
 * can reach saturates at ULLONG_MAX, which poll(2) reports as EPOLLERR (as
 * for eventfd_signal()); a read(2) then returns 0xffffffffffffffff and
 * resets the count. Readers are woken with EPOLLIN, and with EPOLLERR too
 * when the count is at ULLONG_MAX. A signal of 0 wakes them and adds
 * nothing, like a write of 0.
 *
 * Refused, with a warning once, from inside an evq wake-up callback; see
 * evq_signal_allowed().
 *
 * Context: any context except NMI, hard IRQ included; does not sleep.
 * Return: true if signalled, false if refused.
 */
bool evq_signal(struct evq_ctx *ctx, u64 n)
{
	unsigned long flags;
	__poll_t mask = EPOLLIN;
	u64 count;

	if (WARN_ON_ONCE(!evq_signal_allowed()))
		return false;

	spin_lock_irqsave(&ctx->wqh.lock, flags);
	count = ctx->count;
	count = ULLONG_MAX - count < n ? ULLONG_MAX : count + n;
	WRITE_ONCE(ctx->count, count);
	if (count == ULLONG_MAX)
		mask |= EPOLLERR;
	evq_wake_locked(ctx, mask);
	spin_unlock_irqrestore(&ctx->wqh.lock, flags);
	return true;
}
EXPORT_SYMBOL_GPL(evq_signal);
