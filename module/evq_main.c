// SPDX-License-Identifier: GPL-2.0
/*
 * evq - eventfd-style counters on a misc character device.
 *
 * Object model: every open() of /dev/evq allocates one struct evq_ctx
 * (evq_ctx.h) and hangs it on file->private_data. dup(), fork() and
 * SCM_RIGHTS share the file. The counter has a kref: the file holds one
 * reference, dropped by ->release, and a kernel user of the producer API
 * (evq_kapi.c) holds its own, so the counter can outlive its file.
 *
 * Locking: one object, one lock. The wait queue's own spinlock, ctx->wqh.lock,
 * guards every mutable field of the counter, and wake-ups are issued with it
 * held, as in fs/eventfd.c. It is taken with interrupts disabled so that a
 * later in-kernel producer may signal from hard-IRQ context.
 *
 * The module is pinned while a counter is open: the misc core takes a
 * reference on evq_fops.owner at open, so delete_module(2) (rmmod) fails
 * with EWOULDBLOCK (EAGAIN), the kernel's answer for a module in use.
 */
#include <linux/fs.h>
#include <linux/idr.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/pagemap.h>
#include <linux/poll.h>
#include <linux/sched/signal.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/uaccess.h>
#include <linux/uio.h>
#include <linux/wait.h>

#include <linux/evq.h>

#include <evq/evq_kernel.h>

#include "evq_compat.h"
#include "evq_ctx.h"

#define EVQ_SETUP_FLAGS		EVQ_SEMAPHORE

static DEFINE_IDA(evq_ida);

/* Add @n to the count and wake EPOLLIN waiters. @n must fit. */
static void evq_add_locked(struct evq_ctx *ctx, u64 n)
{
	lockdep_assert_held(&ctx->wqh.lock);

	WRITE_ONCE(ctx->count, ctx->count + n);
	evq_wake_locked(ctx, EPOLLIN);
}

/* Take @n from the count and wake EPOLLOUT waiters. */
static void evq_sub_locked(struct evq_ctx *ctx, u64 n)
{
	lockdep_assert_held(&ctx->wqh.lock);

	WRITE_ONCE(ctx->count, ctx->count - n);
	evq_wake_locked(ctx, EPOLLOUT);
}

/*
 * Wait until the count is non-zero. Returns 0 with the lock held and the
 * count non-zero, -EAGAIN if @nowait, or -ERESTARTSYS on a signal. A task
 * that waits is counted in ctx->readers from before it sleeps until the
 * wait returns, on a signal too; both updates are made under the lock, so
 * every EVQ_IOC_GET_INFO snapshot is exact.
 */
static int evq_wait_readable_locked(struct evq_ctx *ctx, bool nowait)
{
	int ret;

	lockdep_assert_held(&ctx->wqh.lock);

	if (ctx->count)
		return 0;
	if (nowait)
		return -EAGAIN;
	ctx->readers++;
	ret = wait_event_interruptible_locked_irq(ctx->wqh, ctx->count);
	ctx->readers--;
	return ret ? -ERESTARTSYS : 0;
}

/*
 * Wait until @n can be added without passing EVQ_COUNT_MAX. Same returns as
 * evq_wait_readable_locked(); a sleeping task is counted in ctx->writers.
 */
static int evq_wait_writable_locked(struct evq_ctx *ctx, u64 n, bool nowait)
{
	int ret;

	lockdep_assert_held(&ctx->wqh.lock);

	if (ULLONG_MAX - ctx->count > n)
		return 0;
	if (nowait)
		return -EAGAIN;
	ctx->writers++;
	ret = wait_event_interruptible_locked_irq(ctx->wqh,
						  ULLONG_MAX - ctx->count > n);
	ctx->writers--;
	return ret ? -ERESTARTSYS : 0;
}

static int evq_open(struct inode *inode, struct file *file)
{
	struct evq_ctx *ctx;
	int ret;

	ctx = kzalloc(sizeof(*ctx), GFP_KERNEL_ACCOUNT);
	if (!ctx)
		return -ENOMEM;

	ret = ida_alloc(&evq_ida, GFP_KERNEL);
	if (ret < 0)
		goto err_free_ctx;
	ctx->id = ret;
	kref_init(&ctx->kref);
	init_waitqueue_head(&ctx->wqh);

	file->private_data = ctx;
	/*
	 * Look like an eventfd to fcntl(F_GETFL) and to pread/pwrite: open(2)
	 * forces O_LARGEFILE on 64-bit, eventfd has none, and eventfd files
	 * have no position. Keep noop_llseek (stream_open() would make lseek
	 * fail, unlike eventfd). FMODE_NOWAIT: read and write honour
	 * IOCB_NOWAIT, so io_uring may issue them inline.
	 */
	file->f_flags &= ~O_LARGEFILE;
	file->f_mode &= ~(FMODE_PREAD | FMODE_PWRITE);
	file->f_mode |= FMODE_NOWAIT;
	return 0;

err_free_ctx:
	kfree(ctx);
	return ret;
}

static int evq_release(struct inode *inode, struct file *file)
{
	struct evq_ctx *ctx = file->private_data;

	/*
	 * epoll entries are gone by now (eventpoll_release() runs before
	 * ->release); this reaches anything else still hooked on the queue,
	 * as eventfd_release() does, but through evq_wake_locked() so that
	 * the recursion guard also covers callbacks woken here.
	 */
	spin_lock_irq(&ctx->wqh.lock);
	evq_wake_locked(ctx, EPOLLHUP);
	spin_unlock_irq(&ctx->wqh.lock);
	evq_ctx_put(ctx);
	return 0;
}

/**
 * evq_ctx_free() - free a counter once its last reference is gone
 * @kref: &evq_ctx.kref of the counter
 *
 * Called by kref_put() from ->release or from evq_ctx_put(), in any
 * context: neither ida_free() nor kfree() sleeps.
 */
void evq_ctx_free(struct kref *kref)
{
	struct evq_ctx *ctx = container_of(kref, struct evq_ctx, kref);

	ida_free(&evq_ida, ctx->id);
	kfree(ctx);
}

/*
 * The body of every read: wait for a non-zero count unless @nowait, store
 * what the read takes (the count, or 1 in semaphore mode) with @store, and
 * only then consume it, so that a bad buffer leaves the count as it was
 * (eventfd consumes first and loses the value on EFAULT). No page fault may
 * be taken under the spinlock: @store runs with faults disabled and fails
 * instead, then @fault_in faults the buffer in without the lock and the
 * whole read is retried, as futex does for its user words. Returns 8 or a
 * negative errno. Always inlined, so that @store and @fault_in, constants
 * at every call site, are direct calls.
 */
static __always_inline ssize_t
evq_read_common(struct evq_ctx *ctx, bool nowait,
		bool (*store)(void *dst, u64 ucnt), int (*fault_in)(void *dst),
		void *dst)
{
	u64 ucnt;
	int ret;

retry:
	spin_lock_irq(&ctx->wqh.lock);
	ret = evq_wait_readable_locked(ctx, nowait);
	if (ret)
		goto out_unlock;

	ucnt = (ctx->flags & EVQ_SEMAPHORE) ? 1 : ctx->count;
	pagefault_disable();
	if (unlikely(!store(dst, ucnt))) {
		pagefault_enable();
		spin_unlock_irq(&ctx->wqh.lock);
		ret = fault_in(dst);
		if (ret)
			return ret;
		goto retry;
	}
	pagefault_enable();
	evq_sub_locked(ctx, ucnt);

out_unlock:
	spin_unlock_irq(&ctx->wqh.lock);
	return ret ? ret : sizeof(ucnt);
}

/* read_iter's destination: the kiocb for its flags, and the iterator. */
struct evq_iter_dst {
	struct kiocb *iocb;
	struct iov_iter *to;
};

static bool evq_store_iter(void *dst, u64 ucnt)
{
	struct evq_iter_dst *d = dst;
	size_t copied = copy_to_iter(&ucnt, sizeof(ucnt), d->to);

	if (likely(copied == sizeof(ucnt)))
		return true;
	iov_iter_revert(d->to, copied);
	return false;
}

static int evq_fault_in_iter(void *dst)
{
	struct evq_iter_dst *d = dst;

	if (d->iocb->ki_flags & IOCB_NOWAIT)
		return -EAGAIN;
	if (fault_in_iov_iter_writeable(d->to, sizeof(u64)))
		return -EFAULT;
	return 0;
}

static ssize_t evq_read_iter(struct kiocb *iocb, struct iov_iter *to)
{
	struct file *file = iocb->ki_filp;
	struct evq_iter_dst dst = { .iocb = iocb, .to = to };
	bool nowait = (file->f_flags & O_NONBLOCK) ||
		      (iocb->ki_flags & IOCB_NOWAIT);

	if (iov_iter_count(to) < sizeof(u64))
		return -EINVAL;
	return evq_read_common(file->private_data, nowait, evq_store_iter,
			       evq_fault_in_iter, &dst);
}

/*
 * Add @ucnt to the count, waiting for room unless @nowait. Returns 8 or a
 * negative errno. The one place both write paths take the lock.
 */
static ssize_t evq_add(struct evq_ctx *ctx, u64 ucnt, bool nowait)
{
	int ret;

	if (ucnt == ULLONG_MAX)
		return -EINVAL;

	spin_lock_irq(&ctx->wqh.lock);
	ret = evq_wait_writable_locked(ctx, ucnt, nowait);
	if (!ret)
		evq_add_locked(ctx, ucnt);
	spin_unlock_irq(&ctx->wqh.lock);

	return ret ? ret : sizeof(ucnt);
}

/*
 * One write of exactly eight bytes taken from the current segment of @from.
 * Returns 8 or a negative errno.
 */
static ssize_t evq_write_one(struct evq_ctx *ctx, struct iov_iter *from,
			     bool nowait)
{
	u64 ucnt;

	if (iov_iter_single_seg_count(from) != sizeof(ucnt))
		return -EINVAL;
	if (copy_from_iter(&ucnt, sizeof(ucnt), from) != sizeof(ucnt))
		return -EFAULT;
	return evq_add(ctx, ucnt, nowait);
}

static ssize_t evq_write_iter(struct kiocb *iocb, struct iov_iter *from)
{
	struct file *file = iocb->ki_filp;
	struct evq_ctx *ctx = file->private_data;
	bool nowait = (file->f_flags & O_NONBLOCK) ||
		      (iocb->ki_flags & IOCB_NOWAIT);
	ssize_t done = 0;
	ssize_t ret;

	/*
	 * eventfd has a plain ->write, so the VFS feeds it a writev() one
	 * segment at a time and stops at the first error: every segment must
	 * be exactly eight bytes, and writev(4 + 4) is EINVAL. Do the same.
	 * A zero-length write(2) reaches here with an empty iterator and
	 * fails like eventfd's; an empty writev() never reaches a driver.
	 */
	do {
		ret = evq_write_one(ctx, from, nowait);
		if (ret < 0)
			break;
		done += ret;
	} while (iov_iter_count(from));

	return done ? done : ret;
}

/* read's destination: @dst points at the user pointer. */
static bool evq_store_user(void *dst, u64 ucnt)
{
	u64 __user **ubuf = dst;

	return !__put_user(ucnt, *ubuf);
}

static int evq_fault_in_user(void *dst)
{
	u64 __user **ubuf = dst;

	if (fault_in_writeable((char __user *)*ubuf, sizeof(u64)))
		return -EFAULT;
	return 0;
}

/*
 * read(2) and write(2) take these plain entry points, as /dev/zero's do,
 * rather than going through a kiocb and an iov_iter: same semantics as the
 * _iter versions, which stay for readv/writev, preadv2(RWF_NOWAIT) and
 * io_uring. Only O_NONBLOCK can ask for no waiting here.
 */
static ssize_t evq_read(struct file *file, char __user *buf, size_t count,
			loff_t *ppos)
{
	u64 __user *ubuf = (u64 __user *)buf;

	if (count < sizeof(*ubuf))
		return -EINVAL;
	if (!access_ok(ubuf, sizeof(*ubuf)))
		return -EFAULT;
	return evq_read_common(file->private_data, file->f_flags & O_NONBLOCK,
			       evq_store_user, evq_fault_in_user, &ubuf);
}

static ssize_t evq_write(struct file *file, const char __user *buf,
			 size_t count, loff_t *ppos)
{
	struct evq_ctx *ctx = file->private_data;
	u64 ucnt;

	if (count != sizeof(ucnt))
		return -EINVAL;
	if (get_user(ucnt, (const u64 __user *)buf))
		return -EFAULT;
	return evq_add(ctx, ucnt, file->f_flags & O_NONBLOCK);
}

static __poll_t evq_poll(struct file *file, poll_table *wait)
{
	struct evq_ctx *ctx = file->private_data;
	__poll_t events = 0;
	u64 count;

	poll_wait(file, &ctx->wqh, wait);

	/*
	 * The count is read without ctx->wqh.lock. That is safe because a
	 * caller that is going to sleep has just taken and dropped that lock
	 * in poll_wait() to add itself to the queue, and every update of the
	 * count happens under the same lock, followed by a wake-up if the
	 * queue is not empty:
	 *
	 *   poll                              write
	 *   ----                              -----
	 *   take wqh.lock (poll_wait)
	 *   add to queue
	 *   drop wqh.lock
	 *                                     take wqh.lock
	 *                                     count += n
	 *                                     queue active: wake up
	 *                                     drop wqh.lock
	 *   count = READ_ONCE(ctx->count)
	 *
	 * Whether the read sees the old or the new count, the poller is
	 * already queued when the writer looks, so it is woken and polls
	 * again. The read cannot move before the lock in poll_wait() (its
	 * acquire orders it), so the case that would lose the wake-up,
	 * reading the old count, then the writer finding an empty queue,
	 * then queueing, cannot happen. Callers that will not sleep get a
	 * momentary snapshot, as with eventfd.
	 */
	count = READ_ONCE(ctx->count);

	if (count > 0)
		events |= EPOLLIN;
	if (count == ULLONG_MAX)
		events |= EPOLLERR;
	if (ULLONG_MAX - 1 > count)
		events |= EPOLLOUT;

	return events;
}

static long evq_ioctl_setup(struct evq_ctx *ctx,
			    const struct evq_setup __user *uarg)
{
	struct evq_setup setup;
	long ret = 0;

	if (copy_from_user(&setup, uarg, sizeof(setup)))
		return -EFAULT;
	if ((setup.flags & ~EVQ_SETUP_FLAGS) || setup.pad ||
	    setup.initval > EVQ_COUNT_MAX)
		return -EINVAL;

	spin_lock_irq(&ctx->wqh.lock);
	if (ctx->configured || ctx->count) {
		ret = -EBUSY;
		goto out_unlock;
	}
	ctx->configured = true;
	ctx->flags = setup.flags;
	if (setup.initval)
		evq_add_locked(ctx, setup.initval);

out_unlock:
	spin_unlock_irq(&ctx->wqh.lock);
	return ret;
}

/*
 * EVQ_IOC_GET_INFO: one snapshot under the lock, copied out after it is
 * dropped (copy_to_user() may fault and sleep). Zeroed first, so that
 * @reserved and any padding the compiler might add carry no kernel stack.
 */
static long evq_ioctl_get_info(struct evq_ctx *ctx,
			       struct evq_info __user *uarg)
{
	struct evq_info info;

	/* The ABI has no implicit padding: 64 bytes on every architecture. */
	BUILD_BUG_ON(sizeof(info) != 64);
	memset(&info, 0, sizeof(info));
	info.maximum = EVQ_COUNT_MAX;
	info.id = ctx->id;

	spin_lock_irq(&ctx->wqh.lock);
	info.count = ctx->count;
	info.flags = ctx->flags;
	info.readers = ctx->readers;
	info.writers = ctx->writers;
	spin_unlock_irq(&ctx->wqh.lock);

	if (copy_to_user(uarg, &info, sizeof(info)))
		return -EFAULT;
	return 0;
}

static long evq_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct evq_ctx *ctx = file->private_data;
	void __user *argp = (void __user *)arg;

	switch (cmd) {
	case EVQ_IOC_SETUP:
		return evq_ioctl_setup(ctx, argp);
	case EVQ_IOC_GET_INFO:
		return evq_ioctl_get_info(ctx, argp);
	default:
		return -ENOIOCTLCMD;
	}
}

#ifdef CONFIG_PROC_FS
static void evq_show_fdinfo(struct seq_file *m, struct file *file)
{
	struct evq_ctx *ctx = file->private_data;
	u64 count;
	u32 flags;

	spin_lock_irq(&ctx->wqh.lock);
	count = ctx->count;
	flags = ctx->flags;
	spin_unlock_irq(&ctx->wqh.lock);

	/* The keys and formats of eventfd's fdinfo since Linux 6.5. */
	seq_printf(m, "eventfd-count: %16llx\n", count);
	seq_printf(m, "eventfd-id: %d\n", ctx->id);
	seq_printf(m, "eventfd-semaphore: %d\n", !!(flags & EVQ_SEMAPHORE));
}
#endif

const struct file_operations evq_fops = {
	.owner		= THIS_MODULE,
	.open		= evq_open,
	.release	= evq_release,
	.read		= evq_read,
	.write		= evq_write,
	.read_iter	= evq_read_iter,
	.write_iter	= evq_write_iter,
	.poll		= evq_poll,
	.unlocked_ioctl	= evq_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
	.llseek		= noop_llseek,
#ifdef CONFIG_PROC_FS
	.show_fdinfo	= evq_show_fdinfo,
#endif
};

static struct miscdevice evq_misc = {
	.minor		= MISC_DYNAMIC_MINOR,
	.name		= "evq",
	.fops		= &evq_fops,
	.mode		= 0666,
};

static int __init evq_init(void)
{
	return misc_register(&evq_misc);
}

static void __exit evq_exit(void)
{
	misc_deregister(&evq_misc);
	ida_destroy(&evq_ida);
}

module_init(evq_init);
module_exit(evq_exit);

MODULE_DESCRIPTION("eventfd-style counters on /dev/evq");
MODULE_AUTHOR("evq developers");
MODULE_LICENSE("GPL");
