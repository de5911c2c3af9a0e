/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The counter core: one struct evq_ctx, its count (in the context or in the
 * EVQ_FAST page), arming, the waits and every wake-up, with the recursion
 * guard they need. The file interface (evq_file.c: /dev/evq, the file
 * operations, the ioctls, mmap) and the in-kernel producer API (evq_kapi.c)
 * stand on it and never on each other; it includes nothing else of evq.
 * What every read and write runs is inline here, forced where it matters:
 * as calls (each with a return thunk on kernels with retbleed mitigations)
 * they made a write+read pair about 10% slower than eventfd under TCG. The
 * rest, the slow paths and the counter's life, is in evq_core.c.
 *
 * Locking: one object, one lock. The wait queue's own spinlock,
 * ctx->wqh.lock, guards every mutable field of the counter, and wake-ups
 * are issued with it held, as in fs/eventfd.c. It is taken with interrupts
 * disabled so that an in-kernel producer may signal from hard-IRQ context.
 * Not for other modules: they see only the opaque struct evq_ctx of
 * include/evq/evq_kernel.h.
 */
#ifndef EVQ_CORE_H
#define EVQ_CORE_H

#include <linux/atomic.h>
#include <linux/fs.h>
#include <linux/kref.h>
#include <linux/lockdep.h>
#include <linux/list.h>
#include <linux/poll.h>
#include <linux/sched.h>
#include <linux/types.h>
#include <linux/wait.h>

#include <linux/evq.h>

/**
 * struct evq_shared - the kernel's view of struct evq_page (uapi/linux/evq.h)
 * @count: the counter, in EVQ_FAST mode; userspace changes it at any time
 * @armed: EVQ_ARMED_IN, EVQ_ARMED_OUT; userspace clears them at any time
 * @flags: copy of the mode flags for userspace, written once
 * @maximum: copy of the maximum for userspace (wqh.lock)
 * @size: sizeof(struct evq_page), written once
 * @pad: zero
 * @reserved: zero
 *
 * The same layout with atomic types for the two words both sides update;
 * evq_core.c checks the offsets at build time. The kernel never trusts
 * what it reads from the page: it reads only @count and @armed, and any
 * value of either is valid.
 */
struct evq_shared {
	atomic64_t count;
	atomic_t armed;
	u32 flags;
	u64 maximum;
	u32 size;
	u32 pad;
	u64 reserved[4];
};

/**
 * struct evq_ctx - one counter
 * @kref: the open file holds one reference, and every kernel user that got
 *	the counter through evq_ctx_fdget() or evq_ctx_fileget() one more; the
 *	counter is freed, and its @id released, when the last is put
 * @wqh: readers, writers and pollers wait here; @wqh.lock guards the fields
 *	below marked "wqh.lock"
 * @count: the counter value, or the set bits with EVQ_BITS (wqh.lock;
 *	read without it only in evq_poll()); unused once @shared is set,
 *	always read through evq_count_locked()
 * @maximum: the largest count a write may reach, EVQ_COUNT_MAX by default
 *	(wqh.lock; read without it only in evq_poll())
 * @flags: the mode flags, EVQ_SEMAPHORE, EVQ_WAKE_ONE, EVQ_BITS, EVQ_FAST
 *	(wqh.lock; set once, at setup or creation, before any reader can
 *	block)
 * @used: EVQ_IOC_SETUP is no longer allowed: the counter was set up or
 *	created configured, or has been used (evq_mark_used()). Set under
 *	wqh.lock by setup and before anybody else sees a created counter;
 *	set without it, with WRITE_ONCE(), by every other use, each before
 *	it takes wqh.lock or queues on @wqh; read under wqh.lock by setup
 * @readers: tasks asleep in a read of this counter, counted from before
 *	they sleep until their wait returns, signals included (wqh.lock)
 * @writers: the same for writes waiting for room (wqh.lock)
 * @shared: EVQ_FAST: the page shared with userspace, which holds the
 *	count; NULL otherwise. Set once, under wqh.lock, at setup or creation
 *	(with smp_store_release(), after the page is filled in), freed with
 *	the counter; read locklessly, with smp_load_acquire(), by poll and
 *	mmap
 * @id: number shown as eventfd-id in fdinfo, unique among live counters;
 *	-1 until first asked for (evq_ctx_id()), then constant
 *	until the counter is freed; set once with cmpxchg(), no lock
 */
struct evq_ctx {
	struct kref kref;
	wait_queue_head_t wqh;
	u64 count;
	struct evq_shared *shared;
	u64 maximum;
	u32 flags;
	bool used;
	u32 readers;
	u32 writers;
	int id;
};

/**
 * evq_count_locked() - the count of a counter, under its lock
 * @ctx: the counter, with @ctx->wqh.lock held
 *
 * The count lives in @ctx->count, or in the EVQ_FAST page, which userspace
 * updates without the lock: a caller that acts on the value must
 * compare-and-swap it (see EVQ_FAST below), not store over it. @ctx->shared
 * and @ctx->count are read plainly, as the lock orders them.
 *
 * Return: the count, or the set bits with EVQ_BITS.
 */
static inline u64 evq_count_locked(const struct evq_ctx *ctx)
{
	lockdep_assert_held(&ctx->wqh.lock);

	if (ctx->shared)
		return atomic64_read(&ctx->shared->count);
	return ctx->count;
}

/**
 * evq_mark_used() - note that a counter is in use: EVQ_IOC_SETUP is refused
 * @ctx: the counter
 *
 * "Used" means any read or write call (read(2), readv(2), io_uring and the
 * like, whatever it returns), any poll (poll(2), select(2), an epoll
 * registration, io_uring's), and any in-kernel reference
 * (evq_ctx_fileget()). Each calls this before it takes @ctx->wqh.lock or
 * queues on @ctx->wqh, so that the unlock of that section publishes the
 * mark: a setup that takes the lock later sees it, and one that took it
 * earlier configured the counter before this use looked at it. Either
 * way nobody is queued on a counter that EVQ_IOC_SETUP configures, and
 * nobody has seen its count. Not uses: EVQ_IOC_GET_INFO, fdinfo,
 * EVQ_IOC_SET_MAXIMUM (a setting, the way to give an opened counter a
 * maximum before setup), EVQ_IOC_CREATE on it (a factory's call, for
 * another counter), and the calls that fail on a counter not set up
 * (mmap, EVQ_IOC_WAKE). Tested once, so that a used counter's hot paths
 * only read the flag.
 */
static inline void evq_mark_used(struct evq_ctx *ctx)
{
	if (!READ_ONCE(ctx->used))
		WRITE_ONCE(ctx->used, true);
}

/**
 * evq_disarm() - clear armed bits of a counter's page before a wake-up
 * @shared: the counter's page
 * @bits: EVQ_ARMED_IN, EVQ_ARMED_OUT or both
 *
 * Whoever clears an armed bit wakes everybody who may have set it; the
 * caller's wake-up follows. The bits are tested first so that a counter
 * nobody waits on keeps its cache line clean.
 *
 * Return: true if any of @bits was set (and is now clear).
 */
static inline bool evq_disarm(struct evq_shared *shared, u32 bits)
{
	if (!(atomic_read(&shared->armed) & bits))
		return false;
	atomic_andnot(bits, &shared->armed);
	return true;
}

/*
 * EVQ_FAST: the count lives in a page that userspace maps and updates with
 * atomic instructions, without the lock. The kernel keeps its wait queue,
 * its lock and its wake-ups; what changes is that every update of the
 * count is an atomic operation on the page (evq_try_add_locked(),
 * evq_try_sub_locked(), evq_peek_or_take_locked()), and that whoever is
 * about to wait first says so in the page, so that a userspace signaller
 * knows when to come in and wake it (EVQ_IOC_WAKE):
 *
 *   waiter (read, write, poll)          fast-path signaller (userspace)
 *   --------------------------          -------------------------------
 *   on the wait queue (wqh.lock)
 *   armed |= EVQ_ARMED_IN               count += n (compare-and-swap)
 *   smp_mb()                            full barrier (seq_cst)
 *   count == 0: sleep                   armed & EVQ_ARMED_IN: clear it,
 *                                         EVQ_IOC_WAKE (takes wqh.lock)
 *
 * Each side stores, then loads, with a full barrier between: they cannot
 * both miss the other's store. Either the waiter sees the new count and
 * does not sleep, or the signaller sees the bit and wakes it; the
 * wake-up takes wqh.lock, so it comes after the waiter is queued, and
 * wakes it even if it has not gone to sleep yet. Readers and writers arm
 * under wqh.lock, pollers after poll_wait() queued them. Only a task that
 * may wait arms, so that the next signal does not pay an EVQ_IOC_WAKE for
 * nobody: not a read or write that fails with EAGAIN instead of waiting,
 * and not a poll while nothing is queued on the counter (see evq_poll()).
 * The arm, the barrier and the look still come before any sleep. Takers
 * and writers blocked by the maximum do the same with EVQ_ARMED_OUT.
 * Whoever clears a bit wakes the whole queue for it (evq_disarm(), then a
 * wake-up), which is why EVQ_WAKE_ONE is refused with EVQ_FAST: a woken
 * subset would leave the others asleep and unannounced.
 *
 * Userspace may write anything into the page at any time, and anyone who
 * holds the descriptor (a peer that got it over SCM_RIGHTS, a child after
 * fork) may map the page: any count is taken as the count, and no system
 * call may be kept in the kernel by what the page holds. Each completes,
 * sleeps or fails in bounded time:
 *
 * - A read that takes the whole count (not EVQ_SEMAPHORE) takes it with an
 *   exchange (atomic64_xchg() to 0), which cannot lose a race: it gets
 *   the count of that instant, or 0 and arms and sleeps as usual. The
 *   store to the reader's buffer comes after the take, with page faults
 *   disabled; if it fails, the value is given back with an atomic add
 *   (evq_give_back_locked()) before the buffer is faulted in.
 * - What must compare-and-swap, a semaphore read's take of 1 and a write,
 *   which must respect the maximum, gets EVQ_FAST_TRIES lost races per
 *   system call, each followed by dropping the lock and checking for
 *   signals (evq_unlock_backoff()); then it fails with EAGAIN, even on a
 *   blocking descriptor. Legitimate users race with it too, but each of
 *   their compare-and-swaps takes a few nanoseconds: losing so many in a
 *   row, with the lock dropped and the scheduler let in between, takes a
 *   peer that rewrites the count in a loop.
 * - evq_signal() (evq_kapi.c), which may not sleep nor fail, falls back to
 *   an atomic add, which cannot lose, after its lost races.
 *
 * So a peer sharing a fast counter can lose, invent or reorder its counts
 * and wake-ups, make its reads and writes fail with EAGAIN, and keep
 * blocked tasks asleep (a count of 0) or writers out (a count above the
 * maximum), as a peer writing and reading the descriptor could; it cannot
 * keep a task running in the kernel, nor reach another counter.
 */

/*
 * Lost races to userspace that one read or write on a fast counter may
 * have before it fails with EAGAIN; see above.
 */
#define EVQ_FAST_TRIES		16

/* Announce a waiter for @bits in the page, then order the count after. */
static inline void evq_arm(struct evq_shared *shared, u32 bits)
{
	atomic_or(bits, &shared->armed);
	/* Pairs with the signaller's seq_cst compare-and-swap, see above. */
	smp_mb__after_atomic();
}

/*
 * Recursion guard: a wake-up callback of a counter (a wait-queue entry's
 * function, e.g. one added through vfs_poll()) that signals an evq counter
 * again would deadlock on the same counter's lock, and a cycle of them
 * would recurse without bound. While the callbacks run, the waking task
 * carries the mark mainline eventfd keeps for exactly this,
 * current->in_eventfd, and evq_signal() refuses to run under it
 * (evq_in_wake()), as eventfd_signal() does. The mark is per task, not per
 * CPU, which is right on PREEMPT_RT too, where ctx->wqh.lock is a sleeping
 * lock that leaves interrupts and preemption on: another task may run on
 * this CPU inside the section and must not see the mark. Only the task
 * itself sets and clears it, around its own wake-up, so "current is
 * marked" is stable while current looks. Sharing eventfd's mark also stops
 * a recursion that alternates between evq and eventfd (evq_signal() from
 * an eventfd's callback, eventfd_signal() from an evq's), and makes every
 * callback see what it would see under an eventfd: io_uring and aio check
 * eventfd_signal_allowed() and defer; a callback that calls
 * eventfd_signal() regardless is refused with eventfd's one-time warning,
 * as it would be on an eventfd. The bit is eventfd's, so evq needs
 * CONFIG_EVENTFD (evq_compat.h).
 */
static __always_inline void evq_wake_begin(void)
{
	current->in_eventfd = 1;
}

static __always_inline void evq_wake_end(void)
{
	current->in_eventfd = 0;
}

/* Is the current task inside a counter's wake-up callbacks? See above. */
static inline bool evq_in_wake(void)
{
	return current->in_eventfd;
}

/**
 * evq_wake_locked() - wake the waiters of @ctx
 * @ctx: the counter, with @ctx->wqh.lock held
 * @mask: the poll events that became true
 *
 * The callbacks run here, under @ctx->wqh.lock and under the recursion
 * guard's mark (see above).
 */
static __always_inline void evq_wake_locked(struct evq_ctx *ctx, __poll_t mask)
{
	lockdep_assert_held(&ctx->wqh.lock);

	/* No barrier needed: wqh.lock is held, as in eventfd. */
	if (!waitqueue_active(&ctx->wqh))
		return;
	evq_wake_begin();
	wake_up_locked_poll(&ctx->wqh, mask);
	evq_wake_end();
}

void evq_wake_nr_locked(struct evq_ctx *ctx, __poll_t mask, u64 nr);

/**
 * evq_wake_in_locked() - wake the waiters of a counter that @n was added to
 * @ctx: the counter, with @ctx->wqh.lock held
 * @mask: the poll events to report, EPOLLIN and maybe EPOLLERR
 * @n: what was added (a write's value, or the bits ORed in)
 *
 * Without EVQ_WAKE_ONE every waiter is woken, as by eventfd. With it, the
 * pollers are, but of the blocked readers only as many as @n can serve:
 * one for a plain counter or a bit mask, @n in semaphore mode, none for 0
 * (evq_wake_nr_locked()).
 */
static __always_inline void evq_wake_in_locked(struct evq_ctx *ctx,
					       __poll_t mask, u64 n)
{
	lockdep_assert_held(&ctx->wqh.lock);

	if (!(ctx->flags & EVQ_WAKE_ONE))
		evq_wake_locked(ctx, mask);
	else
		evq_wake_nr_locked(ctx, mask, (ctx->flags & EVQ_SEMAPHORE) ?
				   n : !!n);
}

/*
 * Does a write of @n fit on @count? Always in bit mode. The count may be
 * above the maximum (lowered by EVQ_IOC_SET_MAXIMUM, saturated by
 * evq_signal(), or written by userspace into a fast counter's page); then
 * nothing fits, not even 0. With the default maximum this is eventfd's
 * test, ULLONG_MAX - count > n.
 */
static inline bool evq_fits_locked(struct evq_ctx *ctx, u64 count, u64 n)
{
	lockdep_assert_held(&ctx->wqh.lock);

	if (ctx->flags & EVQ_BITS)
		return true;
	return count <= ctx->maximum && ctx->maximum - count >= n;
}

/*
 * Add @n to the count (OR it in, with EVQ_BITS) if it fits, and wake.
 * Returns false, having changed nothing, if it does not fit, which on a
 * fast counter may also mean that userspace changed the count since the
 * caller looked.
 */
static __always_inline bool evq_try_add_locked(struct evq_ctx *ctx, u64 n)
{
	struct evq_shared *shared = ctx->shared;
	u64 count = evq_count_locked(ctx);

	lockdep_assert_held(&ctx->wqh.lock);

	if (!evq_fits_locked(ctx, count, n))
		return false;
	if (shared) {
		if (!atomic64_try_cmpxchg(&shared->count, &count, count + n))
			return false;
		evq_disarm(shared, EVQ_ARMED_IN);
	} else if (ctx->flags & EVQ_BITS) {
		WRITE_ONCE(ctx->count, count | n);
	} else {
		WRITE_ONCE(ctx->count, count + n);
	}
	evq_wake_in_locked(ctx, EPOLLIN, n);
	return true;
}

/*
 * Take @n from a count of @count and wake EPOLLOUT waiters. Returns false,
 * having changed nothing, if a fast counter's count is no longer @count.
 */
static __always_inline bool evq_try_sub_locked(struct evq_ctx *ctx, u64 count, u64 n)
{
	struct evq_shared *shared = ctx->shared;

	lockdep_assert_held(&ctx->wqh.lock);

	if (shared) {
		if (!atomic64_try_cmpxchg(&shared->count, &count, count - n))
			return false;
		evq_disarm(shared, EVQ_ARMED_OUT);
	} else {
		WRITE_ONCE(ctx->count, count - n);
	}
	evq_wake_locked(ctx, EPOLLOUT);
	return true;
}

/*
 * Does a read take the whole count from the page with an exchange (see
 * EVQ_FAST above)? Then what it sees is already taken.
 */
static __always_inline bool evq_takes_all_locked(struct evq_ctx *ctx)
{
	lockdep_assert_held(&ctx->wqh.lock);

	return ctx->shared && !(ctx->flags & EVQ_SEMAPHORE);
}

/*
 * The count, for a read: taken already, the page's count exchanged with 0,
 * if evq_takes_all_locked(); else only looked at.
 */
static __always_inline u64 evq_peek_or_take_locked(struct evq_ctx *ctx)
{
	lockdep_assert_held(&ctx->wqh.lock);

	if (evq_takes_all_locked(ctx))
		return atomic64_xchg(&ctx->shared->count, 0);
	return evq_count_locked(ctx);
}

/*
 * Is the count non-zero? Stores what evq_peek_or_take_locked() returned in
 * *@count. A fast counter's waiter arms first, see above; @arm is false
 * for a caller that will not wait.
 */
static __always_inline bool evq_readable_locked(struct evq_ctx *ctx,
						u64 *count, bool arm)
{
	lockdep_assert_held(&ctx->wqh.lock);

	*count = evq_peek_or_take_locked(ctx);
	if (*count)
		return true;
	if (!ctx->shared || !arm)
		return false;
	evq_arm(ctx->shared, EVQ_ARMED_IN);
	*count = evq_peek_or_take_locked(ctx);
	return *count;
}

/*
 * Does @n fit? A fast counter's waiter arms first, see above; @arm is
 * false for a caller that will not wait.
 */
static __always_inline bool evq_writable_locked(struct evq_ctx *ctx, u64 n,
						bool arm)
{
	lockdep_assert_held(&ctx->wqh.lock);

	if (evq_fits_locked(ctx, evq_count_locked(ctx), n))
		return true;
	if (!ctx->shared || !arm)
		return false;
	evq_arm(ctx->shared, EVQ_ARMED_OUT);
	return evq_fits_locked(ctx, evq_count_locked(ctx), n);
}

/*
 * Add @n to a fast counter's page with an atomic add, which cannot lose a
 * race to userspace (no compare-and-swap), saturating at ULLONG_MAX if the
 * sum passed it, as evq_signal() does. Returns the count it made. The way
 * out for evq_signal() after its lost races, and for a read that gives
 * back what it took (evq_give_back_locked()).
 */
static inline u64 evq_fast_add_locked(struct evq_ctx *ctx, u64 n)
{
	u64 old;

	lockdep_assert_held(&ctx->wqh.lock);

	old = atomic64_fetch_add(n, &ctx->shared->count);
	if (old + n >= old)
		return old + n;
	atomic64_set(&ctx->shared->count, ULLONG_MAX);
	return ULLONG_MAX;
}

void evq_give_back_locked(struct evq_ctx *ctx, u64 count);
int evq_unlock_backoff(struct evq_ctx *ctx, unsigned int *lost)
	__releases(&ctx->wqh.lock);
int evq_wait_readable_slow_locked(struct evq_ctx *ctx, u64 *count);
int evq_wait_writable_slow_locked(struct evq_ctx *ctx, u64 n);

/*
 * Wait until the count is non-zero. Returns 0 with the lock held and the
 * non-zero count in *@count (taken already if evq_takes_all_locked(); a
 * fast semaphore's may have changed by the time the caller acts on it),
 * -EAGAIN if @nowait, or -ERESTARTSYS on a signal. The look that finds a
 * count is inline; the wait is evq_wait_readable_slow_locked().
 */
static __always_inline int evq_wait_readable_locked(struct evq_ctx *ctx,
						    bool nowait, u64 *count)
{
	lockdep_assert_held(&ctx->wqh.lock);

	/* Arm only if about to wait (see EVQ_FAST above). */
	if (evq_readable_locked(ctx, count, !nowait))
		return 0;
	if (nowait)
		return -EAGAIN;
	return evq_wait_readable_slow_locked(ctx, count);
}

/*
 * Wait until @n fits. Same returns as evq_wait_readable_locked(); the wait
 * is evq_wait_writable_slow_locked().
 */
static __always_inline int evq_wait_writable_locked(struct evq_ctx *ctx, u64 n,
						    bool nowait)
{
	lockdep_assert_held(&ctx->wqh.lock);

	/* Arm only if about to wait, as a reader does. */
	if (evq_writable_locked(ctx, n, !nowait))
		return 0;
	if (nowait)
		return -EAGAIN;
	return evq_wait_writable_slow_locked(ctx, n);
}

struct evq_ctx *evq_ctx_alloc(void);
int evq_ctx_id(struct evq_ctx *ctx);
void evq_ctx_ref(struct evq_ctx *ctx);
void evq_ctx_unref(struct evq_ctx *ctx);
void evq_core_init(const struct file_operations *fops);
void evq_core_exit(void);
struct evq_ctx *evq_ctx_of_file(struct file *file);

#endif /* EVQ_CORE_H */
