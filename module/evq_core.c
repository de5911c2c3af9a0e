// SPDX-License-Identifier: GPL-2.0
/*
 * The counter core's slow paths and the counter's life: the waits, the
 * wake-one choice, a fast counter's give-back and back-off, allocation,
 * ids and references, and which files are counters. The locking, the
 * EVQ_FAST protocol and the recursion guard are described in evq_core.h,
 * with the inline paths every read and write runs. Includes nothing else
 * of evq but the out-of-tree compat header; evq_file.c and evq_kapi.c
 * stand on it.
 */
#include <linux/idr.h>
#include <linux/kref.h>
#include <linux/mm.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/wait.h>

#include <linux/evq.h>

#include "evq_arch.h"
#include "evq_compat.h"
#include "evq_core.h"

/* The kernel's view of the page must be the ABI's, field by field. */
static_assert(sizeof(struct evq_shared) == sizeof(struct evq_page));
static_assert(offsetof(struct evq_shared, count) ==
	      offsetof(struct evq_page, count));
static_assert(offsetof(struct evq_shared, armed) ==
	      offsetof(struct evq_page, armed));
static_assert(offsetof(struct evq_shared, maximum) ==
	      offsetof(struct evq_page, maximum));
/* One kernel page holds the ABI's page, whatever the page size. */
static_assert(sizeof(struct evq_page) <= EVQ_PAGE_SIZE &&
	      EVQ_PAGE_SIZE <= EVQ_MAP_SIZE && EVQ_MAP_SIZE == PAGE_SIZE);

static DEFINE_IDA(evq_ida);

/*
 * The file operations every counter file has, from evq_core_init(): how
 * evq_ctx_of_file() tells a counter from any other file. Set before
 * /dev/evq is registered, so before any counter exists.
 */
static const struct file_operations *evq_counter_fops;

/*
 * A compare-and-swap on a fast counter's page lost to userspace: drop the
 * lock, count the loss in *@lost, and let a signal or the scheduler in
 * before the operation starts over. Returns 0 to start over, -EAGAIN
 * after EVQ_FAST_TRIES losses, or -ERESTARTSYS.
 */
int evq_unlock_backoff(struct evq_ctx *ctx, unsigned int *lost)
	__releases(&ctx->wqh.lock)
{
	lockdep_assert_held(&ctx->wqh.lock);
	spin_unlock_irq(&ctx->wqh.lock);
	if (++*lost >= EVQ_FAST_TRIES)
		return -EAGAIN;
	if (signal_pending(current))
		return -ERESTARTSYS;
	cond_resched();
	return 0;
}

/*
 * Wake-one mode (EVQ_WAKE_ONE): a blocked reader waits exclusively, at the
 * head of ctx->wqh, with this wake function; evq_wake_nr_locked() chooses
 * whom to wake. It answers only wake-ups that can make the counter
 * readable, so that the EPOLLOUT wake-up of every read does not use up a
 * reader's turn, and counts as woken only if it really woke the task
 * (autoremove_wake_function() returns 0 for a task that was running
 * already, a signal having woken it, say): such a reader is passed over
 * and the next one is chosen.
 */
static int evq_reader_wake(struct wait_queue_entry *wait, unsigned int mode,
			   int sync, void *key)
{
	if (key && !(key_to_poll(key) & (EPOLLIN | EPOLLHUP)))
		return 0;
	return autoremove_wake_function(wait, mode, sync, key);
}

/**
 * evq_wake_nr_locked() - wake a wake-one counter's waiters, at most @nr readers
 * @ctx: the counter, in EVQ_WAKE_ONE mode, with @ctx->wqh.lock held
 * @mask: the poll events that became true
 * @nr: how many blocked readers to wake at most
 *
 * Wake everything on ctx->wqh that @mask concerns, as wake_up_locked_poll()
 * does (every plain waiter, one EPOLLEXCLUSIVE epoll), but at most @nr of
 * the wake-one readers. Which readers, as a thread pool wants:
 *
 * - First those that last ran on this CPU. The waker's data (the job it
 *   just queued) is warm in this CPU's cache, and the scheduler keeps a
 *   task it wakes near its last CPU: such a reader usually runs here once
 *   the waker sleeps, with no cross-CPU wake-up. A reader last seen on an
 *   idle CPU would be woken there, at the cost of an IPI and a cold cache.
 * - Then the others, the most recent sleeper first (readers are queued at
 *   the head): it is the one most likely still cache-warm, and the rest
 *   may stay asleep.
 *
 * task_cpu() of a sleeping task is where it last ran; read without its
 * runqueue lock it may be stale, which costs only the preference, never
 * a wake-up. Called only for counters in wake-one mode. The kernel's own
 * wake-ups (EPOLLOUT, EPOLLHUP) may meet the readers too: they are
 * exclusive entries at the head, which __wake_up_common() handles, and
 * evq_reader_wake() turns those keys down without counting as woken.
 */
void evq_wake_nr_locked(struct evq_ctx *ctx, __poll_t mask, u64 nr)
{
	struct wait_queue_entry *curr, *next;
	int this_cpu = raw_smp_processor_id();
	int excl = 1;

	lockdep_assert_held(&ctx->wqh.lock);

	/* No barrier needed: wqh.lock is held, as in evq_wake_locked(). */
	if (!waitqueue_active(&ctx->wqh))
		return;
	evq_wake_begin();
	list_for_each_entry_safe(curr, next, &ctx->wqh.head, entry) {
		struct task_struct *task = curr->private;

		if (!nr)
			break;
		if (curr->func != evq_reader_wake || task_cpu(task) != this_cpu)
			continue;
		if (curr->func(curr, TASK_NORMAL, 0, poll_to_key(mask)))
			nr--;
	}
	list_for_each_entry_safe(curr, next, &ctx->wqh.head, entry) {
		bool reader = curr->func == evq_reader_wake;
		bool exclusive = curr->flags & WQ_FLAG_EXCLUSIVE;

		if (reader ? !nr : exclusive && !excl)
			continue;
		if (!curr->func(curr, TASK_NORMAL, 0, poll_to_key(mask)))
			continue;
		if (reader)
			nr--;
		else if (exclusive)
			excl--;
	}
	evq_wake_end();
}

/*
 * A fast counter's read took @count with an exchange and could not store
 * it: add it back (no compare-and-swap, so it cannot lose a race), and, as
 * a signaller would, wake whoever armed while it was away. Writers may
 * have filled the room meanwhile, so the count may end above the maximum,
 * which writers then wait out. A sum past ULLONG_MAX saturates there, as
 * evq_signal() does.
 */
void evq_give_back_locked(struct evq_ctx *ctx, u64 count)
{
	lockdep_assert_held(&ctx->wqh.lock);

	evq_fast_add_locked(ctx, count);
	if (evq_disarm(ctx->shared, EVQ_ARMED_IN))
		evq_wake_locked(ctx, EPOLLIN);
}

/*
 * The wake-one reader's wait: wait_event_interruptible_locked_irq()'s loop
 * with an exclusive entry and evq_reader_wake(). The count is checked
 * before a pending signal, so a reader that was chosen and finds a count
 * takes it; it fails with -ERESTARTSYS only at count 0, where there is no
 * wake-up to pass on.
 */
static int evq_wait_exclusive_locked(struct evq_ctx *ctx)
{
	struct wait_queue_entry wait;
	int ret = 0;

	lockdep_assert_held(&ctx->wqh.lock);

	init_wait_entry(&wait, WQ_FLAG_EXCLUSIVE);
	wait.func = evq_reader_wake;
	do {
		if (list_empty(&wait.entry))
			__add_wait_queue(&ctx->wqh, &wait);
		set_current_state(TASK_INTERRUPTIBLE);
		if (signal_pending(current)) {
			ret = -ERESTARTSYS;
			break;
		}
		spin_unlock_irq(&ctx->wqh.lock);
		schedule();
		spin_lock_irq(&ctx->wqh.lock);
	} while (!evq_count_locked(ctx));
	list_del_init(&wait.entry);
	__set_current_state(TASK_RUNNING);
	return ret;
}

/*
 * The sleeping half of evq_wait_readable_locked(), once a look found 0. A
 * task that waits is counted in ctx->readers from before it sleeps until
 * the wait returns, on a signal too; both updates are made under the lock,
 * so every EVQ_IOC_GET_INFO snapshot is exact.
 */
int evq_wait_readable_slow_locked(struct evq_ctx *ctx, u64 *count)
{
	int ret;

	lockdep_assert_held(&ctx->wqh.lock);

	ctx->readers++;
	if (ctx->flags & EVQ_WAKE_ONE) {
		ret = evq_wait_exclusive_locked(ctx);
		*count = evq_count_locked(ctx);
	} else {
		/* Ends on a signal only after a look that found 0. */
		ret = wait_event_interruptible_locked_irq(ctx->wqh,
							  evq_readable_locked(ctx, count,
									      true));
	}
	ctx->readers--;
	return ret ? -ERESTARTSYS : 0;
}

/*
 * The sleeping half of evq_wait_writable_locked(): a sleeping task is
 * counted in ctx->writers, as readers are in ctx->readers.
 */
int evq_wait_writable_slow_locked(struct evq_ctx *ctx, u64 n)
{
	int ret;

	lockdep_assert_held(&ctx->wqh.lock);

	ctx->writers++;
	ret = wait_event_interruptible_locked_irq(ctx->wqh,
						  evq_writable_locked(ctx, n,
								      true));
	ctx->writers--;
	return ret ? -ERESTARTSYS : 0;
}

/**
 * evq_ctx_alloc() - a fresh counter
 *
 * Count 0, eventfd's maximum, no mode, no id yet (see evq_ctx_id()), one
 * reference, which evq_ctx_unref() drops.
 *
 * Context: process context.
 * Return: the counter, or NULL without memory.
 */
struct evq_ctx *evq_ctx_alloc(void)
{
	struct evq_ctx *ctx;

	ctx = kzalloc_obj(*ctx, GFP_KERNEL_ACCOUNT);
	if (!ctx)
		return NULL;

	ctx->id = -1;
	ctx->maximum = EVQ_COUNT_MAX;
	kref_init(&ctx->kref);
	init_waitqueue_head(&ctx->wqh);
	return ctx;
}

/**
 * evq_ctx_id() - the counter's id, as eventfd-id in fdinfo and in GET_INFO
 * @ctx: the counter
 *
 * Allocated the first time somebody asks (fdinfo,
 * EVQ_IOC_GET_INFO) and kept until the counter is freed: unique among
 * live counters, as eventfd's, but most counters are never looked at, and
 * they do not pay an IDA allocation and free for it. Two first askers race
 * with cmpxchg(); the loser gives its id back.
 *
 * Context: process context.
 * Return: the id, or -ENOMEM.
 */
int evq_ctx_id(struct evq_ctx *ctx)
{
	int id = READ_ONCE(ctx->id);
	int old;

	if (id >= 0)
		return id;
	id = ida_alloc(&evq_ida, GFP_KERNEL);
	if (id < 0)
		return id;
	old = cmpxchg(&ctx->id, -1, id);
	if (old >= 0) {
		ida_free(&evq_ida, id);
		return old;
	}
	return id;
}

/*
 * Free a counter once its last reference is gone: called by kref_put() in
 * evq_ctx_unref(), from ->release or from evq_ctx_put(), in any
 * context: neither ida_free(), free_page() nor kfree() sleeps. A fast
 * counter's page may outlive it, in a mapping: the mapping holds its own
 * page reference (evq_vm_fault()) and the file (vma->vm_file).
 */
static void evq_ctx_free(struct kref *kref)
{
	struct evq_ctx *ctx = container_of(kref, struct evq_ctx, kref);

	if (ctx->id >= 0)
		ida_free(&evq_ida, ctx->id);
	if (ctx->shared)
		free_page((unsigned long)ctx->shared);
	kfree(ctx);
}

/**
 * evq_ctx_ref() - take one more reference on a counter
 * @ctx: the counter, with a reference held by the caller already
 *
 * Context: any context.
 */
void evq_ctx_ref(struct evq_ctx *ctx)
{
	kref_get(&ctx->kref);
}

/**
 * evq_ctx_unref() - drop a reference; the last one frees the counter
 * @ctx: the counter
 *
 * Context: any context except NMI.
 */
void evq_ctx_unref(struct evq_ctx *ctx)
{
	kref_put(&ctx->kref, evq_ctx_free);
}

/**
 * evq_core_init() - name the file operations of counter files
 * @fops: the file interface's file operations, which every counter file has
 *
 * Called once, before the first counter exists.
 */
void evq_core_init(const struct file_operations *fops)
{
	evq_counter_fops = fops;
}

/**
 * evq_core_exit() - release what the core holds, once no counter is left
 */
void evq_core_exit(void)
{
	ida_destroy(&evq_ida);
}

/**
 * evq_ctx_of_file() - the counter of a counter file
 * @file: any open file
 *
 * Context: any context; the caller keeps @file alive.
 * Return: the counter, without a new reference, or NULL if @file is not a
 * counter file (a native eventfd included).
 */
struct evq_ctx *evq_ctx_of_file(struct file *file)
{
	if (file->f_op != evq_counter_fops)
		return NULL;
	return file->private_data;
}
