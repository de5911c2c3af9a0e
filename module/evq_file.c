// SPDX-License-Identifier: GPL-2.0
/*
 * evq - eventfd-style counters on a misc character device.
 *
 * The file interface: the misc device, the file operations, the ioctls and
 * the EVQ_FAST page's mmap, on top of the counter core (evq_core.h, which
 * also describes the locking and the EVQ_FAST protocol).
 *
 * Object model: every open() of /dev/evq allocates one struct evq_ctx
 * (evq_core.h) and hangs it on file->private_data. dup(), fork() and
 * SCM_RIGHTS share the file. The counter has a kref: the file holds one
 * reference, dropped by ->release, and a kernel user of the producer API
 * (evq_kapi.c) holds its own, so the counter can outlive its file.
 *
 * The module is pinned while a counter is open: the misc core takes a
 * reference on evq_fops.owner at open, so delete_module(2) (rmmod) fails
 * with EWOULDBLOCK (EAGAIN), the kernel's answer for a module in use.
 */
#include <linux/anon_inodes.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
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

#include "evq_arch.h"
#include "evq_compat.h"
#include "evq_core.h"

#define EVQ_CREATE_FLAGS	(EVQ_MODE_FLAGS | EVQ_MAXIMUM | EVQ_CLOEXEC | \
				 EVQ_NONBLOCK)
#define EVQ_ARMED_ALL		(EVQ_ARMED_IN | EVQ_ARMED_OUT)

static const struct file_operations evq_fops;

/*
 * Times one read may fault its buffer in and find it gone again before
 * it fails with EFAULT: only a racer that keeps unmapping the buffer
 * (MADV_DONTNEED from another thread) gets there.
 */
#define EVQ_FAULT_TRIES		16

/*
 * What every evq file gets, from open(2) or from EVQ_IOC_CREATE: look like
 * an eventfd to fcntl(F_GETFL) and to pread/pwrite. open(2) forces
 * O_LARGEFILE on 64-bit, eventfd has none, and eventfd files have no
 * position. Keep noop_llseek (stream_open() would make lseek fail, unlike
 * eventfd). FMODE_NOWAIT: read and write honour IOCB_NOWAIT, so io_uring
 * may issue them inline.
 */
static void evq_file_init(struct file *file)
{
	file->f_flags &= ~O_LARGEFILE;
	file->f_mode &= ~(FMODE_PREAD | FMODE_PWRITE);
	file->f_mode |= FMODE_NOWAIT;
}

static int evq_open(struct inode *inode, struct file *file)
{
	struct evq_ctx *ctx = evq_ctx_alloc();

	if (!ctx)
		return -ENOMEM;
	file->private_data = ctx;
	evq_file_init(file);
	return 0;
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
	evq_ctx_unref(ctx);
	return 0;
}

/*
 * The body of every read: wait for a non-zero count unless @nowait, store
 * what the read takes (the count, or 1 in semaphore mode) with @store, and
 * only then consume it, so that a bad buffer leaves the count as it was
 * (eventfd consumes first and loses the value on EFAULT); a fast counter's
 * read that takes the whole count has taken it already, and gives it back
 * if the store fails (see EVQ_FAST in evq_core.h). No page fault may be
 * taken under the spinlock: @store runs with faults disabled and fails
 * instead, then @fault_in faults the buffer in without the lock and the
 * whole read is retried, as futex does for its user words: at most
 * EVQ_FAULT_TRIES times, each after a signal check and cond_resched(), so
 * that a thread unmapping the buffer in a loop cannot keep the reader in
 * the kernel.
 * Returns 8 or a negative errno. Always inlined, so that @store and
 * @fault_in, constants at every call site, are direct calls.
 */
static __always_inline ssize_t
evq_read_common(struct evq_ctx *ctx, bool nowait,
		bool (*store)(void *dst, u64 ucnt), int (*fault_in)(void *dst),
		void (*unstore)(void *dst), void *dst)
{
	unsigned int lost = 0, faults = 0;
	u64 count, ucnt;
	bool stored;
	int ret;

retry:
	spin_lock_irq(&ctx->wqh.lock);
	ret = evq_wait_readable_locked(ctx, nowait, &count);
	if (ret)
		goto out_unlock;

	ucnt = (ctx->flags & EVQ_SEMAPHORE) ? 1 : count;
	/* Bit mode: take every bit; evq_try_sub_locked() clears them. */
	pagefault_disable();
	stored = store(dst, ucnt);
	pagefault_enable();
	if (evq_takes_all_locked(ctx)) {
		if (unlikely(!stored)) {
			evq_give_back_locked(ctx, count);
			goto out_fault;
		}
		evq_disarm(ctx->shared, EVQ_ARMED_OUT);
		evq_wake_locked(ctx, EPOLLOUT);
		goto out_unlock;
	}
	if (unlikely(!stored))
		goto out_fault;
	if (unlikely(!evq_try_sub_locked(ctx, count, ucnt))) {
		unstore(dst);
		goto out_contended;
	}

out_unlock:
	spin_unlock_irq(&ctx->wqh.lock);
	return ret ? ret : sizeof(ucnt);

out_fault:
	spin_unlock_irq(&ctx->wqh.lock);
	ret = fault_in(dst);
	if (!ret && ++faults >= EVQ_FAULT_TRIES)
		ret = -EFAULT;
	if (!ret && signal_pending(current))
		ret = -ERESTARTSYS;
	if (ret)
		goto out_pass_on;
	cond_resched();
	goto retry;

out_contended:
	ret = evq_unlock_backoff(ctx, &lost);
	if (!ret)
		goto retry;
	return ret;

out_pass_on:
	/*
	 * In wake-one mode this reader may have been the one chosen for the
	 * count it now leaves behind: pass the wake-up on, or the readers
	 * still asleep would never see it. Only there: in the other modes
	 * every waiter had the wake-up already, and another would give
	 * edge-triggered epoll an edge for a count that did not change.
	 */
	spin_lock_irq(&ctx->wqh.lock);
	if ((ctx->flags & EVQ_WAKE_ONE) && evq_count_locked(ctx))
		evq_wake_in_locked(ctx, EPOLLIN, 1);
	spin_unlock_irq(&ctx->wqh.lock);
	return ret;
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

/* The store went to the iterator, which must not keep it for the retry. */
static void evq_unstore_iter(void *dst)
{
	struct evq_iter_dst *d = dst;

	iov_iter_revert(d->to, sizeof(u64));
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

	evq_mark_used(file->private_data);
	if (iov_iter_count(to) < sizeof(u64))
		return -EINVAL;
	return evq_read_common(file->private_data, nowait, evq_store_iter,
			       evq_fault_in_iter, evq_unstore_iter, &dst);
}

/*
 * Add @ucnt to the count (OR it in, in bit mode), waiting for room unless
 * @nowait. Returns 8 or a negative errno. The one place both write paths
 * take the lock.
 */
static ssize_t evq_add(struct evq_ctx *ctx, u64 ucnt, bool nowait)
{
	unsigned int lost = 0;
	int ret = 0;

retry:
	spin_lock_irq(&ctx->wqh.lock);
	if (ucnt == ULLONG_MAX && !(ctx->flags & EVQ_BITS)) {
		ret = -EINVAL;
		goto out_unlock;
	}
	/* The common case, room at once, looks at the count only once. */
	if (likely(evq_try_add_locked(ctx, ucnt)))
		goto out_unlock;
	ret = evq_wait_writable_locked(ctx, ucnt, nowait);
	if (!ret && unlikely(!evq_try_add_locked(ctx, ucnt)))
		goto out_contended;

out_unlock:
	spin_unlock_irq(&ctx->wqh.lock);
	return ret ? ret : sizeof(ucnt);

out_contended:
	ret = evq_unlock_backoff(ctx, &lost);
	if (!ret)
		goto retry;
	return ret;
}

/*
 * One write of exactly eight bytes from @from: its current segment for a
 * writev(2) (ITER_IOVEC), whose segments are writes of their own as for
 * eventfd; anything else is one buffer, as write(2)'s: a user buffer
 * (ITER_UBUF), or a registered io_uring buffer (ITER_BVEC, one segment a
 * page), where eight bytes may cross a page boundary and so two segments.
 * Returns 8 or a negative errno.
 */
static ssize_t evq_write_one(struct evq_ctx *ctx, struct iov_iter *from,
			     bool nowait)
{
	size_t len = iter_is_iovec(from) ? iov_iter_single_seg_count(from) :
		     iov_iter_count(from);
	u64 ucnt;

	if (len != sizeof(ucnt))
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

	evq_mark_used(ctx);
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

/* A retry simply stores again. */
static void evq_unstore_user(void *dst)
{
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

	evq_mark_used(file->private_data);
	if (count < sizeof(*ubuf))
		return -EINVAL;
	if (!access_ok(ubuf, sizeof(*ubuf)))
		return -EFAULT;
	return evq_read_common(file->private_data, file->f_flags & O_NONBLOCK,
			       evq_store_user, evq_fault_in_user,
			       evq_unstore_user, &ubuf);
}

static ssize_t evq_write(struct file *file, const char __user *buf,
			 size_t count, loff_t *ppos)
{
	struct evq_ctx *ctx = file->private_data;
	u64 ucnt;

	evq_mark_used(ctx);
	if (count != sizeof(ucnt))
		return -EINVAL;
	if (get_user(ucnt, (const u64 __user *)buf))
		return -EFAULT;
	return evq_add(ctx, ucnt, file->f_flags & O_NONBLOCK);
}

static __poll_t evq_poll(struct file *file, poll_table *wait)
{
	struct evq_ctx *ctx = file->private_data;
	struct evq_shared *shared;
	__poll_t events = 0;
	u64 count, maximum;
	u32 flags;

	evq_mark_used(ctx);
	poll_wait(file, &ctx->wqh, wait);

	/*
	 * A fast counter's poller arms for what it asks, before it reads the
	 * count (see EVQ_FAST in evq_core.h), if it may wait: only a caller
	 * queued on ctx->wqh can be woken, so arm only while the queue is not
	 * empty.
	 * That covers poll(2), select(2) and io_uring about to sleep (just
	 * queued by poll_wait()) and every epoll harvest (queued at
	 * EPOLL_CTL_ADD, which ep->mtx orders before the harvest; the harvest
	 * has no queueing function, and arms so that the first fast-path
	 * signal after it is an edge). A zero-timeout poll(2) or select(2)
	 * queues nothing and, with nobody else queued, does not arm. What
	 * remains: a poll while another waiter is queued arms for it, and
	 * poll(2) that queued here, then found another descriptor ready,
	 * returns with the bit set; each costs the next fast-path user one
	 * needless EVQ_IOC_WAKE, never a lost wake-up. The queue is looked at
	 * without the lock: this caller's own entry is ordered by program
	 * order, an entry that is being removed only costs a needless arm.
	 */
	shared = smp_load_acquire(&ctx->shared);
	/* waitqueue_active() without a barrier: see just above. */
	if (shared && wait && waitqueue_active(&ctx->wqh)) {
		__poll_t req = poll_requested_events(wait);
		u32 bits = (req & EPOLLIN ? EVQ_ARMED_IN : 0) |
			   (req & EPOLLOUT ? EVQ_ARMED_OUT : 0);

		if (bits)
			evq_arm(shared, bits);
	}

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
	count = shared ? atomic64_read(&shared->count) : READ_ONCE(ctx->count);
	maximum = READ_ONCE(ctx->maximum);
	flags = READ_ONCE(ctx->flags);

	if (count > 0)
		events |= EPOLLIN;
	if (flags & EVQ_BITS)
		return events | EPOLLOUT;
	if (count == ULLONG_MAX)
		events |= EPOLLERR;
	if (count < maximum)
		events |= EPOLLOUT;

	return events;
}

/*
 * Mode flags and an initial value that make sense together: no semaphore
 * or maximum in bit mode, where @initval may be any mask; otherwise
 * @initval at most @maximum. The fast path wakes whole queues, so not
 * with wake-one, and keeps a count, so not with bit mode.
 */
static bool evq_config_valid(u32 flags, u64 initval, u64 maximum)
{
	if ((flags & EVQ_FAST) && (flags & (EVQ_WAKE_ONE | EVQ_BITS)))
		return false;
	if (flags & EVQ_BITS)
		return !(flags & EVQ_SEMAPHORE) && maximum == EVQ_COUNT_MAX;
	return initval <= maximum;
}

/*
 * A zeroed page for a fast counter, charged to the creator's memory
 * cgroup, filled in for @flags and @initval; the caller sets the maximum.
 */
static struct evq_shared *evq_shared_alloc(u32 flags, u64 initval)
{
	struct evq_shared *shared;

	shared = (void *)get_zeroed_page(GFP_KERNEL_ACCOUNT);
	if (!shared)
		return NULL;
	atomic64_set(&shared->count, initval);
	shared->flags = flags;
	shared->size = sizeof(struct evq_page);
	return shared;
}

/*
 * Configure a counter made by open(2) and not used yet (evq_mark_used()):
 * its count is 0 and nobody is queued on it, so there is nobody to arm
 * for or to wake. @shared is its page if @flags has EVQ_FAST.
 */
static void evq_configure_locked(struct evq_ctx *ctx, u32 flags, u64 initval,
				 struct evq_shared *shared)
{
	lockdep_assert_held(&ctx->wqh.lock);

	WRITE_ONCE(ctx->used, true);
	WRITE_ONCE(ctx->flags, flags);
	if (shared) {
		shared->maximum = ctx->maximum;
		/* Filled in first; pairs with the acquire of poll and mmap. */
		smp_store_release(&ctx->shared, shared);
	} else {
		WRITE_ONCE(ctx->count, initval);
	}
}

static long evq_ioctl_setup(struct evq_ctx *ctx,
			    const struct evq_setup __user *uarg)
{
	struct evq_shared *shared = NULL;
	struct evq_setup setup;
	long ret = 0;

	if (copy_from_user(&setup, uarg, sizeof(setup)))
		return -EFAULT;
	if ((setup.flags & ~EVQ_MODE_FLAGS) || setup.pad)
		return -EINVAL;
	if ((setup.flags & EVQ_FAST) && !EVQ_HAVE_FAST)
		return -EOPNOTSUPP;
	/* What is wrong whatever the maximum, before allocating. */
	if (!evq_config_valid(setup.flags, 0, EVQ_COUNT_MAX))
		return -EINVAL;
	/* The page is allocated before the lock, and freed if not used. */
	if (setup.flags & EVQ_FAST) {
		shared = evq_shared_alloc(setup.flags, setup.initval);
		if (!shared)
			return -ENOMEM;
	}

	spin_lock_irq(&ctx->wqh.lock);
	if (!evq_config_valid(setup.flags, setup.initval, ctx->maximum)) {
		ret = -EINVAL;
		goto out_unlock;
	}
	/* Set up before, or used: somebody may have seen or awaited it. */
	if (READ_ONCE(ctx->used)) {
		ret = -EBUSY;
		goto out_unlock;
	}
	evq_configure_locked(ctx, setup.flags, setup.initval, shared);
	shared = NULL;

out_unlock:
	spin_unlock_irq(&ctx->wqh.lock);
	if (shared)
		free_page((unsigned long)shared);
	return ret;
}

/*
 * EVQ_IOC_CREATE: a new counter on a new anonymous file, as eventfd(2)
 * makes one; the file holds the counter's first reference and, through
 * evq_fops.owner, a reference on this module. Everything is checked
 * before anything is allocated.
 */
static long evq_ioctl_create(const struct evq_create __user *uarg)
{
	struct evq_create create;
	struct evq_ctx *ctx;
	struct file *file;
	u64 maximum = EVQ_COUNT_MAX;
	int fd, ret;

	BUILD_BUG_ON(sizeof(create) != 56);
	if (copy_from_user(&create, uarg, sizeof(create)))
		return -EFAULT;
	if ((create.flags & ~EVQ_CREATE_FLAGS) || create.pad ||
	    memchr_inv(create.reserved, 0, sizeof(create.reserved)))
		return -EINVAL;
	if ((create.flags & EVQ_FAST) && !EVQ_HAVE_FAST)
		return -EOPNOTSUPP;
	if (create.flags & EVQ_MAXIMUM) {
		if (!create.maximum || create.maximum > EVQ_COUNT_MAX ||
		    (create.flags & EVQ_BITS))
			return -EINVAL;
		maximum = create.maximum;
	} else if (create.maximum) {
		return -EINVAL;
	}
	if (!evq_config_valid(create.flags & EVQ_MODE_FLAGS, create.initval,
			      maximum))
		return -EINVAL;

	ctx = evq_ctx_alloc();
	if (!ctx)
		return -ENOMEM;
	/* Nobody else can see the counter yet: no lock, nobody to wake. */
	ctx->maximum = maximum;
	ctx->flags = create.flags & EVQ_MODE_FLAGS;
	ctx->used = true;
	if (create.flags & EVQ_FAST) {
		ctx->shared = evq_shared_alloc(ctx->flags, create.initval);
		if (!ctx->shared) {
			ret = -ENOMEM;
			goto err_put_ctx;
		}
		ctx->shared->maximum = maximum;
	} else {
		ctx->count = create.initval;
	}

	fd = get_unused_fd_flags(O_RDWR |
				 (create.flags & EVQ_CLOEXEC ? O_CLOEXEC : 0));
	if (fd < 0) {
		ret = fd;
		goto err_put_ctx;
	}
	file = anon_inode_getfile("[evq]", &evq_fops, ctx, O_RDWR |
				  (create.flags & EVQ_NONBLOCK ? O_NONBLOCK : 0));
	if (IS_ERR(file)) {
		ret = PTR_ERR(file);
		goto err_put_fd;
	}
	evq_file_init(file);
	fd_install(fd, file);
	return fd;

err_put_fd:
	put_unused_fd(fd);
err_put_ctx:
	evq_ctx_unref(ctx);
	return ret;
}

/*
 * EVQ_IOC_SET_MAXIMUM: a higher maximum may let blocked writers in, so
 * they and the pollers are woken; a lower one only stops later writes.
 */
static long evq_ioctl_set_maximum(struct evq_ctx *ctx, const u64 __user *uarg)
{
	u64 maximum;
	bool raised;
	long ret = 0;

	if (get_user(maximum, uarg))
		return -EFAULT;
	if (!maximum || maximum > EVQ_COUNT_MAX)
		return -EINVAL;

	spin_lock_irq(&ctx->wqh.lock);
	if (ctx->flags & EVQ_BITS) {
		ret = -EINVAL;
		goto out_unlock;
	}
	raised = maximum > ctx->maximum;
	WRITE_ONCE(ctx->maximum, maximum);
	if (ctx->shared) {
		WRITE_ONCE(ctx->shared->maximum, maximum);
		if (raised)
			evq_disarm(ctx->shared, EVQ_ARMED_OUT);
	}
	if (raised)
		evq_wake_locked(ctx, EPOLLOUT);

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
	int id = evq_ctx_id(ctx);

	if (id < 0)
		return id;
	/* The ABI has no implicit padding: 64 bytes on every architecture. */
	BUILD_BUG_ON(sizeof(info) != 64);
	memset(&info, 0, sizeof(info));
	info.id = id;

	spin_lock_irq(&ctx->wqh.lock);
	info.count = evq_count_locked(ctx);
	info.maximum = ctx->maximum;
	info.flags = ctx->flags;
	info.readers = ctx->readers;
	info.writers = ctx->writers;
	spin_unlock_irq(&ctx->wqh.lock);

	if (copy_to_user(uarg, &info, sizeof(info)))
		return -EFAULT;
	return 0;
}

/*
 * EVQ_IOC_WAKE: a fast-path user found armed bits and cleared them; wake
 * everybody who may have set them. @bits is the ioctl's value argument.
 */
static long evq_ioctl_wake(struct evq_ctx *ctx, unsigned long bits)
{
	__poll_t mask = 0;

	/* Widened first: ~ of the 32-bit mask would let bits 32-63 through. */
	if (!bits || (bits & ~(unsigned long)EVQ_ARMED_ALL))
		return -EINVAL;
	if (bits & EVQ_ARMED_IN)
		mask |= EPOLLIN;
	if (bits & EVQ_ARMED_OUT)
		mask |= EPOLLOUT;

	spin_lock_irq(&ctx->wqh.lock);
	if (!ctx->shared) {
		spin_unlock_irq(&ctx->wqh.lock);
		return -EINVAL;
	}
	evq_disarm(ctx->shared, bits);
	evq_wake_locked(ctx, mask);
	spin_unlock_irq(&ctx->wqh.lock);
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
	case EVQ_IOC_CREATE:
		return evq_ioctl_create(argp);
	case EVQ_IOC_SET_MAXIMUM:
		return evq_ioctl_set_maximum(ctx, argp);
	case EVQ_IOC_WAKE:
		return evq_ioctl_wake(ctx, arg);
	default:
		return -ENOIOCTLCMD;
	}
}

#ifdef CONFIG_COMPAT
/*
 * A 32-bit process's ioctl: compat_ptr() for the requests whose argument
 * is a pointer, as compat_ptr_ioctl() does, but EVQ_IOC_WAKE's is a value
 * and passes unchanged (compat_ptr() may alter it: s390 clears bit 31).
 * Every structure has the same layout for 32-bit and 64-bit userspace.
 */
static long evq_compat_ioctl(struct file *file, unsigned int cmd,
			     unsigned long arg)
{
	if (cmd == EVQ_IOC_WAKE)
		return evq_ioctl(file, cmd, arg);
	return compat_ptr_ioctl(file, cmd, arg);
}
#endif

/*
 * A fast counter's page, mapped: the mapping's file reference keeps the
 * counter (and so the page, and this module) alive until munmap, and each
 * page table entry holds a page reference of its own. Faulting it in,
 * rather than inserting it at mmap time, lets madvise(MADV_DONTNEED) and
 * the like drop the entry harmlessly.
 */
static vm_fault_t evq_vm_fault(struct vm_fault *vmf)
{
	struct evq_ctx *ctx = vmf->vma->vm_file->private_data;
	struct page *page;

	if (vmf->pgoff)
		return VM_FAULT_SIGBUS;
	/* Set before the mmap that led here; pairs with the setup's release. */
	page = virt_to_page(smp_load_acquire(&ctx->shared));
	get_page(page);
	vmf->page = page;
	return 0;
}

static const struct vm_operations_struct evq_vm_ops = {
	.fault = evq_vm_fault,
};

/*
 * mmap: one page at offset 0, shared, not executable, of a fast counter:
 * EVQ_PAGE_SIZE bytes, or the kernel page they round up to where pages
 * are larger (see EVQ_MAP_SIZE). VM_DONTEXPAND keeps mremap(2) from
 * growing it.
 */
static int evq_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct evq_ctx *ctx = file->private_data;

	/* Pairs with the setup's release: the page is filled in. */
	if (!smp_load_acquire(&ctx->shared))
		return -ENODEV;
	if (vma->vm_pgoff || vma->vm_end - vma->vm_start != EVQ_MAP_SIZE ||
	    !(vma->vm_flags & VM_MAYSHARE))
		return -EINVAL;
	if (vma->vm_flags & VM_EXEC)
		return -EPERM;
	evq_vm_flags_set(vma, VM_DONTEXPAND | VM_DONTDUMP);
	evq_vm_flags_clear(vma, VM_MAYEXEC);
	vma->vm_ops = &evq_vm_ops;
	return 0;
}

#ifdef CONFIG_PROC_FS
static void evq_show_fdinfo(struct seq_file *m, struct file *file)
{
	struct evq_ctx *ctx = file->private_data;
	u64 count, maximum;
	u32 flags;
	int id = evq_ctx_id(ctx);

	spin_lock_irq(&ctx->wqh.lock);
	count = evq_count_locked(ctx);
	maximum = ctx->maximum;
	flags = ctx->flags;
	spin_unlock_irq(&ctx->wqh.lock);

	/* The keys and formats of eventfd's fdinfo since Linux 6.5. */
	seq_printf(m, "eventfd-count: %16llx\n", count);
	if (id >= 0)
		seq_printf(m, "eventfd-id: %d\n", id);
	seq_printf(m, "eventfd-semaphore: %d\n", !!(flags & EVQ_SEMAPHORE));
	/* evq's own, only where a counter differs from an eventfd. */
	if (maximum != EVQ_COUNT_MAX)
		seq_printf(m, "evq-maximum: %llu\n", maximum);
	if (flags & EVQ_WAKE_ONE)
		seq_puts(m, "evq-wake-one: 1\n");
	if (flags & EVQ_BITS)
		seq_puts(m, "evq-bits: 1\n");
	if (flags & EVQ_FAST)
		seq_puts(m, "evq-fast: 1\n");
}
#endif

static const struct file_operations evq_fops = {
	.owner		= THIS_MODULE,
	.open		= evq_open,
	.release	= evq_release,
	.read		= evq_read,
	.write		= evq_write,
	.read_iter	= evq_read_iter,
	.write_iter	= evq_write_iter,
	.poll		= evq_poll,
	.mmap		= evq_mmap,
	.unlocked_ioctl	= evq_ioctl,
#ifdef CONFIG_COMPAT
	.compat_ioctl	= evq_compat_ioctl,
#endif
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
	evq_core_init(&evq_fops);
	return misc_register(&evq_misc);
}

static void __exit evq_exit(void)
{
	misc_deregister(&evq_misc);
	evq_core_exit();
}

module_init(evq_init);
module_exit(evq_exit);

MODULE_DESCRIPTION("eventfd-style counters on /dev/evq");
MODULE_AUTHOR("evq developers");
MODULE_LICENSE("GPL");
#ifdef EVQ_VERSION
MODULE_VERSION(EVQ_VERSION);
#endif
