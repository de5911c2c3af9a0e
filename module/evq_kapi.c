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
 * Locking: as everywhere (evq_core.h), ctx->wqh.lock guards the count.
 * Here it is taken with spin_lock_irqsave(), so evq_signal() works from any
 * context except NMI, hard-IRQ handlers included; on PREEMPT_RT that lock
 * sleeps, so there, as for eventfd_signal(), not from hard-IRQ context
 * (threaded handlers, softirqs and plain hrtimers, which RT expires in a
 * thread, are fine).
 *
 * Recursion guard: evq_signal() refuses to run inside the wake-up
 * callbacks of a counter (see evq_core.h), where it could deadlock on the
 * counter's lock or recurse without bound.
 */
#include <linux/bug.h>
#include <linux/err.h>
#include <linux/export.h>
#include <linux/file.h>
#include <linux/evq.h>
#include <linux/minmax.h>
#include <linux/spinlock.h>

#include <evq/evq_kernel.h>

#include "evq_core.h"

/**
 * evq_ctx_fileget() - take a reference on the counter of an open file
 * @file: a file opened on /dev/evq
 *
 * The caller keeps @file alive for the duration of the call; the counter
 * returned stays valid after @file is closed, until evq_ctx_put(). The
 * counter counts as used: EVQ_IOC_SETUP fails on it from now on.
 *
 * Context: any context.
 * Return: the counter, or ERR_PTR(-EINVAL) if @file is not a /dev/evq
 * file (a native eventfd included).
 */
struct evq_ctx *evq_ctx_fileget(struct file *file)
{
	struct evq_ctx *ctx = evq_ctx_of_file(file);

	if (!ctx)
		return ERR_PTR(-EINVAL);

	evq_ctx_ref(ctx);
	/* A kernel user may signal or wait at any time: no setup after it. */
	evq_mark_used(ctx);
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
	evq_ctx_unref(ctx);
}
EXPORT_SYMBOL_GPL(evq_ctx_put);

/**
 * evq_signal_allowed() - may evq_signal() be called here?
 *
 * False while the current task is running the wake-up callbacks of an evq
 * counter (a wait-queue entry's function, e.g. one added through
 * vfs_poll()): a signal from there could deadlock on the counter's lock,
 * so evq_signal() refuses it. Also false inside an eventfd's wake-up
 * callbacks: the mark is the one eventfd keeps (current->in_eventfd), so
 * this is eventfd_signal_allowed() too. Code that can end up in such a
 * callback checks this first and defers the signal (to a workqueue, say)
 * when it is false.
 *
 * Context: any context except NMI.
 * Return: true if evq_signal() would signal, false if it would refuse.
 */
bool evq_signal_allowed(void)
{
	return !evq_in_wake();
}
EXPORT_SYMBOL_GPL(evq_signal_allowed);

/*
 * An EVQ_FAST counter's page belongs to userspace too, which may rewrite
 * the count between evq_signal()'s look and its compare-and-swap. A
 * signal cannot sleep and wait its turn, nor fail, so after this many
 * lost races it adds with an atomic add, which cannot lose; see
 * evq_signal().
 */
#define EVQ_SIGNAL_TRIES	64

/*
 * What the count becomes when @n is signalled into a count of @count:
 * ORed in bit mode; with eventfd's maximum, saturated at ULLONG_MAX; below
 * it, stopped at the maximum. Callers hold ctx->wqh.lock.
 */
static u64 evq_signal_sum(const struct evq_ctx *ctx, u64 count, u64 n)
{
	u64 room;

	if (ctx->flags & EVQ_BITS)
		return count | n;
	if (ctx->maximum == EVQ_COUNT_MAX)
		return ULLONG_MAX - count < n ? ULLONG_MAX : count + n;
	room = count < ctx->maximum ? ctx->maximum - count : 0;
	return count + min(n, room);
}

/*
 * The wake-up key for a count of @count after a signal: EPOLLIN, and
 * EPOLLERR where evq_poll() reports it, at ULLONG_MAX outside bit mode (a
 * full mask is no overflow). A key with EPOLLERR passes every epoll
 * entry's filter, EPOLLOUT-only ones included. Callers hold ctx->wqh.lock.
 */
static __poll_t evq_signal_key(const struct evq_ctx *ctx, u64 count)
{
	if (count == ULLONG_MAX && !(ctx->flags & EVQ_BITS))
		return EPOLLIN | EPOLLERR;
	return EPOLLIN;
}

/**
 * evq_signal() - add to a counter from the kernel and wake its waiters
 * @ctx: the counter, from evq_ctx_fdget() or evq_ctx_fileget()
 * @n: the value to add (the bits to set, for a counter in bit mode)
 *
 * Unlike write(2), this never blocks. With eventfd's maximum, a sum past
 * it saturates at ULLONG_MAX, which poll(2) reports as EPOLLERR (as for
 * eventfd_signal()); a read(2) then returns 0xffffffffffffffff and resets
 * the count. With a lower maximum (EVQ_IOC_SET_MAXIMUM), the count stops
 * at the maximum and the rest of @n is dropped: flow control applies to
 * the kernel's producers too, without ever making them wait. A counter in
 * bit mode (EVQ_BITS) gets @n ORed in. Readers are woken with EPOLLIN, and
 * with EPOLLERR too when the count is at ULLONG_MAX outside bit mode, as
 * poll reports it; in wake-one mode only as many readers as @n can serve.
 * A signal of 0 wakes them and adds nothing, like a write of 0.
 *
 * Refused, with a warning once, from inside an evq wake-up callback; see
 * evq_signal_allowed(). On an EVQ_FAST counter, whose count userspace
 * updates without the lock, the signal is a compare-and-swap in the
 * shared page. If userspace changed the count EVQ_SIGNAL_TRIES times in a
 * row while it tried (a heavy fast-path load, or a peer rewriting the
 * page in a loop), @n is added with an atomic add instead, which cannot
 * lose a race: the signal is never dropped and the time spent is
 * bounded, but it is added whole, so the count may end above a lowered
 * maximum (writers then wait until reads bring it down, as after
 * EVQ_IOC_SET_MAXIMUM lowered it); a sum past ULLONG_MAX saturates there.
 *
 * Context: any context except NMI, hard IRQ included; does not sleep. On
 * PREEMPT_RT, where the counter's lock is a sleeping lock, not from hard
 * IRQ (as for eventfd_signal()); hrtimers not marked _HARD are fine there.
 * Return: true if signalled, false if refused.
 */
bool evq_signal(struct evq_ctx *ctx, u64 n)
{
	struct evq_shared *shared;
	unsigned long flags;
	unsigned int tries = 0;
	u64 old, count;

	if (WARN_ON_ONCE(!evq_signal_allowed()))
		return false;

	spin_lock_irqsave(&ctx->wqh.lock, flags);
	shared = ctx->shared;
	old = evq_count_locked(ctx);
	for (;;) {
		count = evq_signal_sum(ctx, old, n);
		if (!shared) {
			WRITE_ONCE(ctx->count, count);
			break;
		}
		if (atomic64_try_cmpxchg(&shared->count, &old, count)) {
			evq_disarm(shared, EVQ_ARMED_IN);
			break;
		}
		if (++tries == EVQ_SIGNAL_TRIES) {
			count = evq_fast_add_locked(ctx, n);
			evq_disarm(shared, EVQ_ARMED_IN);
			break;
		}
	}
	evq_wake_in_locked(ctx, evq_signal_key(ctx, count), n);
	spin_unlock_irqrestore(&ctx->wqh.lock, flags);
	return true;
}
EXPORT_SYMBOL_GPL(evq_signal);
