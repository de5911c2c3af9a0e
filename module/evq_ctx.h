/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The counter object, shared inside evq by evq_main.c (the /dev/evq file
 * interface) and evq_kapi.c (the in-kernel producer API). Not for other
 * modules: they see only the opaque struct evq_ctx of
 * include/evq/evq_kernel.h.
 */
#ifndef EVQ_CTX_H
#define EVQ_CTX_H

#include <linux/atomic.h>
#include <linux/fs.h>
#include <linux/kref.h>
#include <linux/lockdep.h>
#include <linux/list.h>
#include <linux/poll.h>
#include <linux/sched.h>
#include <linux/types.h>
#include <linux/wait.h>

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
 * evq_main.c checks the offsets at build time. The kernel never trusts
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
 *	-1 until first asked for (evq_ctx_id() in evq_main.c), then constant
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
 * compare-and-swap it (see evq_main.c), not store over it. @ctx->shared
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
 */
static inline void evq_disarm(struct evq_shared *shared, u32 bits)
{
	if (atomic_read(&shared->armed) & bits)
		atomic_andnot(bits, &shared->armed);
}

/* The file operations of /dev/evq: how a struct file is recognised. */
extern const struct file_operations evq_fops;

void evq_ctx_free(struct kref *kref);
void evq_wake_in_locked(struct evq_ctx *ctx, __poll_t mask, u64 n);

/**
 * struct evq_waker - a task inside the wake-up callbacks of an evq counter
 * @node: in the bucket of evq_wakers for @task
 * @task: the task that issued the wake-up (current)
 *
 * Lives on the waking task's stack for the duration of evq_wake_locked().
 */
struct evq_waker {
	struct hlist_node node;
	struct task_struct *task;
};

void evq_waker_enter(struct evq_waker *w);
void evq_waker_exit(struct evq_waker *w);

/**
 * evq_wake_locked() - wake the waiters of @ctx
 * @ctx: the counter, with @ctx->wqh.lock held
 * @mask: the poll events that became true
 *
 * The callbacks run here, under @ctx->wqh.lock. While they run, the
 * current task is marked as inside an evq wake-up (evq_waker_enter()), so
 * that a callback that signals an evq counter again (the same one would
 * deadlock on its lock, a cycle of them would recurse without bound) is
 * refused by evq_signal(), as eventfd does with current->in_eventfd. The
 * mark is per task, not per CPU, because on PREEMPT_RT @ctx->wqh.lock is
 * a sleeping lock that leaves interrupts and preemption on: another task
 * may run on this CPU inside the section, and must not see the mark.
 */
static inline void evq_wake_locked(struct evq_ctx *ctx, __poll_t mask)
{
	struct evq_waker w;

	lockdep_assert_held(&ctx->wqh.lock);

	/* No barrier needed: wqh.lock is held, as in eventfd. */
	if (!waitqueue_active(&ctx->wqh))
		return;
	evq_waker_enter(&w);
	wake_up_locked_poll(&ctx->wqh, mask);
	evq_waker_exit(&w);
}

#endif /* EVQ_CTX_H */
