// SPDX-License-Identifier: GPL-2.0
/*
 * evq_testmod - a kernel user of evq's producer API, for the selftests only.
 *
 * Object model: every open() of /dev/evq_testmod is a session (struct
 * evq_tm_session in file->private_data). A session holds up to three evq
 * counter references: the attached counter it signals, and for a hook the
 * watched counter and the target. They are put in ->release, after every
 * timer, work item and wait-queue entry of the session is gone. Besides
 * sessions, the module keeps the counters of EVQ_TESTMOD_IOC_HOLD in a
 * global table until module exit, signalled every millisecond; that lets
 * the unload tests close every file while a counter is still referenced.
 *
 * Contexts: BURST signals in the ioctl (process context), HRTIMER from an
 * hrtimer in plain HRTIMER_MODE_REL (hard-IRQ context, except on
 * PREEMPT_RT, which expires such timers in softirq context because their
 * callbacks may take spinlock_t locks, evq's included: a _HARD timer
 * would take a sleeping lock in hard IRQ there, and lockdep's raw-lock
 * nesting check flags that pattern on other kernels too),
 * WORK from a work item on system_wq, and the hook's callback runs inside
 * evq's wake-up, where evq_signal_allowed() must say no.
 */
#include <linux/atomic.h>
#include <linux/delay.h>
#include <linux/err.h>
#include <linux/eventfd.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/hrtimer.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/poll.h>
#include <linux/preempt.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/uaccess.h>
#include <linux/wait.h>
#include <linux/workqueue.h>

#include <evq/evq_kernel.h>

#include "evq_testmod.h"

/* The HRTIMER period, and the HOLD timer's. */
#define EVQ_TM_PERIOD_NS	(100 * NSEC_PER_USEC)
#define EVQ_TM_HOLD_PERIOD_NS	NSEC_PER_MSEC
#define EVQ_TM_MAX_HELD		16

/**
 * struct evq_tm_session - one open /dev/evq_testmod
 * @lock: serialises the ioctls; guards @ctx, @hook_ctx and @target being set
 * @ctx: the attached counter; set once under @lock, then constant until
 *	release, so the timer and the work read it without the lock
 * @value: what each HRTIMER or WORK signal adds; written before the run
 *	starts (under @lock), read by the run
 * @left: signals the current HRTIMER or WORK run has still to make; 0 when
 *	no run is going
 * @timer: the HRTIMER run
 * @work: the WORK run
 * @hook_ctx: the watched counter of the hook, or NULL
 * @hook_efd: the native eventfd the hook watches instead of a counter, or
 *	NULL; its reference, from eventfd_ctx_fileget()
 * @hook_wqh: its wait queue, where @hook_wait is queued
 * @hook_wait: the hook's wait-queue entry
 * @hook_pt: the poll table that queues @hook_wait
 * @target: the counter the hook signals
 * @hook_work: signals @target when the callback may not
 * @hook_pending: signals @hook_work has still to make
 * @hold_us: how long the hook's callback busy-waits inside each EPOLLIN
 *	wake-up; set with @hook_ctx, under @lock, before the hook is queued
 * @signalled: see struct evq_testmod_stats, as are the counters below
 * @refused: see struct evq_testmod_stats
 * @hardirq: see struct evq_testmod_stats
 * @softirq: see struct evq_testmod_stats
 * @cb_calls: see struct evq_testmod_stats
 * @cb_direct: see struct evq_testmod_stats
 * @cb_deferred: see struct evq_testmod_stats
 * @cb_hup: see struct evq_testmod_stats
 * @during_hold: see struct evq_testmod_stats
 */
struct evq_tm_session {
	struct mutex lock;	/* serialises the ioctls */
	struct evq_ctx *ctx;
	u64 value;
	atomic_t left;
	struct hrtimer timer;
	struct work_struct work;

	struct evq_ctx *hook_ctx;
	struct eventfd_ctx *hook_efd;
	wait_queue_head_t *hook_wqh;
	wait_queue_entry_t hook_wait;
	poll_table hook_pt;
	struct evq_ctx *target;
	struct work_struct hook_work;
	atomic_t hook_pending;
	u32 hold_us;

	atomic64_t signalled;
	atomic64_t refused;
	atomic64_t hardirq;
	atomic64_t softirq;
	atomic64_t cb_calls;
	atomic64_t cb_direct;
	atomic64_t cb_deferred;
	atomic64_t cb_hup;
	atomic64_t during_hold;
};

/* Hook callbacks busy-waiting inside a wake-up right now, all sessions. */
static atomic_t evq_tm_holding = ATOMIC_INIT(0);

/* The HOLD table; the lock is taken in the timer, so with interrupts off. */
static DEFINE_SPINLOCK(evq_tm_held_lock);
static struct evq_ctx *evq_tm_held[EVQ_TM_MAX_HELD];	/* evq_tm_held_lock */
static unsigned int evq_tm_nheld;			/* evq_tm_held_lock */
static struct hrtimer evq_tm_hold_timer;

/*
 * hrtimer_setup() appeared in 6.13, and hrtimer_init() with it a separate
 * assignment of ->function went away in 6.15; Kbuild probes which one the
 * kernel has. Both timers here use plain HRTIMER_MODE_REL (see the top).
 */
static void evq_tm_hrtimer_setup(struct hrtimer *timer,
				 enum hrtimer_restart (*fn)(struct hrtimer *))
{
#ifdef EVQ_TM_HAVE_HRTIMER_SETUP
	hrtimer_setup(timer, fn, CLOCK_MONOTONIC, HRTIMER_MODE_REL);
#else
	hrtimer_init(timer, CLOCK_MONOTONIC, HRTIMER_MODE_REL);
	timer->function = fn;
#endif
}

/*
 * kzalloc_obj() (7.0, and stable 6.12; not 6.1) allocates one zeroed
 * object of a variable's type, as kzalloc(sizeof(*p), gfp) does; Kbuild
 * probes for it.
 */
#ifndef EVQ_TM_HAVE_KZALLOC_OBJ
#define kzalloc_obj(P, GFP)	kzalloc(sizeof(P), GFP)
#endif

/* Signal @ctx with @value and count what happened. */
static void evq_tm_signal(struct evq_tm_session *s, struct evq_ctx *ctx,
			  u64 value)
{
	bool hard = in_hardirq();
	bool soft = !hard && in_serving_softirq();

	if (atomic_read(&evq_tm_holding))
		atomic64_inc(&s->during_hold);

	/*
	 * Counted before the signal, so that a reader who sees the value
	 * also sees the count (the counter's lock orders them).
	 */
	atomic64_inc(&s->signalled);
	if (hard)
		atomic64_inc(&s->hardirq);
	if (soft)
		atomic64_inc(&s->softirq);
	if (evq_signal(ctx, value))
		return;
	atomic64_dec(&s->signalled);
	if (hard)
		atomic64_dec(&s->hardirq);
	if (soft)
		atomic64_dec(&s->softirq);
	atomic64_inc(&s->refused);
}

static enum hrtimer_restart evq_tm_timer_fn(struct hrtimer *timer)
{
	struct evq_tm_session *s = container_of(timer, struct evq_tm_session,
						timer);

	evq_tm_signal(s, s->ctx, s->value);
	if (atomic_dec_return(&s->left) <= 0)
		return HRTIMER_NORESTART;
	hrtimer_forward_now(timer, ns_to_ktime(EVQ_TM_PERIOD_NS));
	return HRTIMER_RESTART;
}

static void evq_tm_work_fn(struct work_struct *work)
{
	struct evq_tm_session *s = container_of(work, struct evq_tm_session,
						work);

	while (atomic_read(&s->left) > 0) {
		evq_tm_signal(s, s->ctx, s->value);
		atomic_dec(&s->left);
	}
}

static void evq_tm_hook_work_fn(struct work_struct *work)
{
	struct evq_tm_session *s = container_of(work, struct evq_tm_session,
						hook_work);

	while (atomic_add_unless(&s->hook_pending, -1, 0))
		evq_tm_signal(s, s->target, 1);
}

/*
 * Stay inside the wake-up that called the hook for @us microseconds,
 * spinning (the counter's lock is held, with interrupts off except on
 * PREEMPT_RT), so that tasks on other CPUs can signal meanwhile.
 */
static void evq_tm_hold_inside(u32 us)
{
	atomic_inc(&evq_tm_holding);
	while (us) {
		u32 d = min(us, 1000U);

		udelay(d);
		us -= d;
	}
	atomic_dec(&evq_tm_holding);
}

/*
 * The hook's wait-queue callback: runs inside evq's wake-up of the watched
 * counter, with that counter's lock held (and interrupts off, except on
 * PREEMPT_RT).
 */
static int evq_tm_hook_wake(wait_queue_entry_t *wait, unsigned int mode,
			    int sync, void *key)
{
	struct evq_tm_session *s = container_of(wait, struct evq_tm_session,
						hook_wait);
	__poll_t mask = key_to_poll(key);

	if (mask & EPOLLHUP) {
		atomic64_inc(&s->cb_hup);
		if (evq_signal_allowed())
			atomic64_inc(&s->cb_direct);
	}
	if (!(mask & EPOLLIN))
		return 0;
	atomic64_inc(&s->cb_calls);
	if (s->hold_us)
		evq_tm_hold_inside(s->hold_us);
	if (evq_signal_allowed()) {
		/* Wrong, but harmless: the target is another counter. */
		atomic64_inc(&s->cb_direct);
		evq_tm_signal(s, s->target, 1);
	} else {
		atomic64_inc(&s->cb_deferred);
		atomic_inc(&s->hook_pending);
		schedule_work(&s->hook_work);
	}
	return 0;
}

static void evq_tm_hook_queue(struct file *file, wait_queue_head_t *wqh,
			      poll_table *pt)
{
	struct evq_tm_session *s = container_of(pt, struct evq_tm_session,
						hook_pt);

	s->hook_wqh = wqh;
	add_wait_queue(wqh, &s->hook_wait);
}

static int evq_tm_open(struct inode *inode, struct file *file)
{
	struct evq_tm_session *s;

	s = kzalloc_obj(*s, GFP_KERNEL);
	if (!s)
		return -ENOMEM;
	mutex_init(&s->lock);
	evq_tm_hrtimer_setup(&s->timer, evq_tm_timer_fn);
	INIT_WORK(&s->work, evq_tm_work_fn);
	INIT_WORK(&s->hook_work, evq_tm_hook_work_fn);
	init_waitqueue_func_entry(&s->hook_wait, evq_tm_hook_wake);
	init_poll_funcptr(&s->hook_pt, evq_tm_hook_queue);
	file->private_data = s;
	return 0;
}

static int evq_tm_release(struct inode *inode, struct file *file)
{
	struct evq_tm_session *s = file->private_data;

	hrtimer_cancel(&s->timer);
	cancel_work_sync(&s->work);
	if (s->hook_wqh)
		remove_wait_queue(s->hook_wqh, &s->hook_wait);
	/* The callback cannot queue it again now. */
	cancel_work_sync(&s->hook_work);
	if (s->hook_ctx)
		evq_ctx_put(s->hook_ctx);
	if (s->hook_efd)
		eventfd_ctx_put(s->hook_efd);
	if (s->target)
		evq_ctx_put(s->target);
	if (s->ctx)
		evq_ctx_put(s->ctx);
	mutex_destroy(&s->lock);
	kfree(s);
	return 0;
}

static long evq_tm_attach(struct evq_tm_session *s, int fd)
{
	struct evq_ctx *ctx;

	lockdep_assert_held(&s->lock);

	if (s->ctx)
		return -EBUSY;
	ctx = evq_ctx_fdget(fd);
	if (IS_ERR(ctx))
		return PTR_ERR(ctx);
	s->ctx = ctx;
	return 0;
}

static long evq_tm_start(struct evq_tm_session *s,
			 const struct evq_testmod_signal *sig)
{
	u32 i;

	lockdep_assert_held(&s->lock);

	if (sig->pad[0] || sig->pad[1] || !sig->times ||
	    sig->times > EVQ_TESTMOD_MAX_TIMES)
		return -EINVAL;
	if (!s->ctx)
		return -ENOTCONN;
	if (atomic_read(&s->left))
		return -EBUSY;

	switch (sig->how) {
	case EVQ_TESTMOD_BURST:
		for (i = 0; i < sig->times; i++)
			evq_tm_signal(s, s->ctx, sig->value);
		return 0;
	case EVQ_TESTMOD_HRTIMER:
		s->value = sig->value;
		atomic_set(&s->left, sig->times);
		hrtimer_start(&s->timer, ns_to_ktime(EVQ_TM_PERIOD_NS),
			      HRTIMER_MODE_REL);
		return 0;
	case EVQ_TESTMOD_WORK:
		s->value = sig->value;
		atomic_set(&s->left, sig->times);
		schedule_work(&s->work);
		return 0;
	default:
		return -EINVAL;
	}
}

static long evq_tm_hook(struct evq_tm_session *s,
			const struct evq_testmod_hook *hook)
{
	struct eventfd_ctx *efd = NULL;
	struct evq_ctx *watch, *target;
	struct file *file;
	long ret;

	lockdep_assert_held(&s->lock);

	if (hook->pad || hook->hold_us > EVQ_TESTMOD_MAX_HOLD_US)
		return -EINVAL;
	if (s->hook_ctx || s->hook_efd)
		return -EBUSY;
	target = evq_ctx_fdget(hook->target_fd);
	if (IS_ERR(target))
		return PTR_ERR(target);
	file = fget(hook->watch_fd);
	if (!file) {
		ret = -EBADF;
		goto err_put_target;
	}
	watch = evq_ctx_fileget(file);
	if (IS_ERR(watch)) {
		/* Not a counter: a native eventfd will do (see the header). */
		efd = eventfd_ctx_fileget(file);
		if (IS_ERR(efd)) {
			ret = PTR_ERR(watch);
			goto err_fput;
		}
		watch = NULL;
	}
	s->target = target;
	s->hook_ctx = watch;
	s->hook_efd = efd;
	s->hold_us = hook->hold_us;
	/* Queues hook_wait on the counter's wait queue (evq_tm_hook_queue). */
	vfs_poll(file, &s->hook_pt);
	fput(file);
	return s->hook_wqh ? 0 : -EIO;

err_fput:
	fput(file);
err_put_target:
	evq_ctx_put(target);
	return ret;
}

static long evq_tm_stats(struct evq_tm_session *s,
			 struct evq_testmod_stats __user *ustats)
{
	struct evq_testmod_stats st = {
		.signalled = atomic64_read(&s->signalled),
		.refused = atomic64_read(&s->refused),
		.hardirq = atomic64_read(&s->hardirq),
		.softirq = atomic64_read(&s->softirq),
		.preempt_rt = IS_ENABLED(CONFIG_PREEMPT_RT),
		.cb_calls = atomic64_read(&s->cb_calls),
		.cb_direct = atomic64_read(&s->cb_direct),
		.cb_deferred = atomic64_read(&s->cb_deferred),
		.cb_hup = atomic64_read(&s->cb_hup),
		.during_hold = atomic64_read(&s->during_hold),
	};

	return copy_to_user(ustats, &st, sizeof(st)) ? -EFAULT : 0;
}

static enum hrtimer_restart evq_tm_hold_timer_fn(struct hrtimer *timer)
{
	unsigned int i;

	spin_lock(&evq_tm_held_lock);
	for (i = 0; i < evq_tm_nheld; i++)
		evq_signal(evq_tm_held[i], 1);
	spin_unlock(&evq_tm_held_lock);
	hrtimer_forward_now(timer, ns_to_ktime(EVQ_TM_HOLD_PERIOD_NS));
	return HRTIMER_RESTART;
}

static long evq_tm_hold(int fd)
{
	struct evq_ctx *ctx;
	long ret = 0;

	ctx = evq_ctx_fdget(fd);
	if (IS_ERR(ctx))
		return PTR_ERR(ctx);
	evq_signal(ctx, 1);

	spin_lock_irq(&evq_tm_held_lock);
	if (evq_tm_nheld < EVQ_TM_MAX_HELD)
		evq_tm_held[evq_tm_nheld++] = ctx;
	else
		ret = -ENOSPC;
	spin_unlock_irq(&evq_tm_held_lock);
	if (ret) {
		evq_ctx_put(ctx);
		return ret;
	}
	if (!hrtimer_active(&evq_tm_hold_timer))
		hrtimer_start(&evq_tm_hold_timer,
			      ns_to_ktime(EVQ_TM_HOLD_PERIOD_NS),
			      HRTIMER_MODE_REL);
	return 0;
}

/*
 * Native eventfd, for comparison. eventfd_signal() lost its count in 6.8
 * and always adds 1 since; Kbuild probes the header for the new form.
 */
static long evq_tm_native_signal(const struct evq_testmod_native *nat)
{
	struct eventfd_ctx *ctx;
	u32 i;

	if (!nat->times || nat->times > EVQ_TESTMOD_MAX_TIMES)
		return -EINVAL;
	ctx = eventfd_ctx_fdget(nat->fd);
	if (IS_ERR(ctx))
		return PTR_ERR(ctx);
	for (i = 0; i < nat->times; i++) {
#ifdef EVQ_TM_EVENTFD_SIGNAL_NO_COUNT
		eventfd_signal(ctx);
#else
		eventfd_signal(ctx, 1);
#endif
	}
	eventfd_ctx_put(ctx);
	return 0;
}

static long evq_tm_ioctl(struct file *file, unsigned int cmd,
			 unsigned long arg)
{
	struct evq_tm_session *s = file->private_data;
	void __user *argp = (void __user *)arg;
	struct evq_testmod_signal sig;
	struct evq_testmod_native nat;
	struct evq_testmod_hook hook;
	long ret;
	int fd;

	switch (cmd) {
	case EVQ_TESTMOD_IOC_ATTACH:
		if (get_user(fd, (int __user *)argp))
			return -EFAULT;
		mutex_lock(&s->lock);
		ret = evq_tm_attach(s, fd);
		mutex_unlock(&s->lock);
		return ret;
	case EVQ_TESTMOD_IOC_SIGNAL:
		if (copy_from_user(&sig, argp, sizeof(sig)))
			return -EFAULT;
		mutex_lock(&s->lock);
		ret = evq_tm_start(s, &sig);
		mutex_unlock(&s->lock);
		return ret;
	case EVQ_TESTMOD_IOC_HOOK:
		if (copy_from_user(&hook, argp, sizeof(hook)))
			return -EFAULT;
		mutex_lock(&s->lock);
		ret = evq_tm_hook(s, &hook);
		mutex_unlock(&s->lock);
		return ret;
	case EVQ_TESTMOD_IOC_STATS:
		return evq_tm_stats(s, argp);
	case EVQ_TESTMOD_IOC_HOLD:
		if (get_user(fd, (int __user *)argp))
			return -EFAULT;
		return evq_tm_hold(fd);
	case EVQ_TESTMOD_IOC_NATIVE_SIGNAL:
		if (copy_from_user(&nat, argp, sizeof(nat)))
			return -EFAULT;
		return evq_tm_native_signal(&nat);
	default:
		return -ENOIOCTLCMD;
	}
}

static const struct file_operations evq_tm_fops = {
	.owner		= THIS_MODULE,
	.open		= evq_tm_open,
	.release	= evq_tm_release,
	.unlocked_ioctl	= evq_tm_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
	.llseek		= noop_llseek,
};

static struct miscdevice evq_tm_misc = {
	.minor		= MISC_DYNAMIC_MINOR,
	.name		= "evq_testmod",
	.fops		= &evq_tm_fops,
	.mode		= 0600,
};

static int __init evq_tm_init(void)
{
	evq_tm_hrtimer_setup(&evq_tm_hold_timer, evq_tm_hold_timer_fn);
	return misc_register(&evq_tm_misc);
}

static void __exit evq_tm_exit(void)
{
	unsigned int i;

	/* No session is open: each pins the module. */
	misc_deregister(&evq_tm_misc);
	hrtimer_cancel(&evq_tm_hold_timer);
	for (i = 0; i < evq_tm_nheld; i++)
		evq_ctx_put(evq_tm_held[i]);
	evq_tm_nheld = 0;
}

module_init(evq_tm_init);
module_exit(evq_tm_exit);

MODULE_DESCRIPTION("evq selftest helper: signals evq counters from the kernel");
MODULE_AUTHOR("evq developers");
MODULE_LICENSE("GPL");
