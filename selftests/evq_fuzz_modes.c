// SPDX-License-Identifier: GPL-2.0
/*
 * evq_fuzz_modes.c - the modes seeds of evq_fuzz_test ("modes_ops.seed_N"):
 * evq's own modes (a maximum, bit mode, wake-one, the EVQ_FAST page and its
 * fast path) against a model of the counter.
 *
 * Native eventfd has no maximum, no bit mode and no wake-one readers, so
 * the modes seeds compare evq with a model of the counter instead: each
 * slot holds one evq counter, always O_NONBLOCK, made by EVQ_IOC_CREATE or
 * by open(2), EVQ_IOC_SET_MAXIMUM and EVQ_IOC_SETUP, with random mode
 * flags, maximum and initial value (invalid ones too), and gets random
 * writes, reads, poll/epoll/select, EVQ_IOC_GET_INFO, EVQ_IOC_SET_MAXIMUM
 * (up, down, below the count, invalid) and a second EVQ_IOC_SETUP. Every
 * result must be the model's: return value, errno, the value read, the
 * mask, every field of the snapshot. Wake-one changes only whom a write
 * wakes, so with one thread its model is the plain counter's.
 *
 * A seed's counters (struct mslot in struct fuzz) are in evq_fuzz.h;
 * evq_fuzz_test.c runs the seeds, one mstep() an op, and keeps the op log.
 */
#include "evq_fuzz.h"

/* What a write of @v (8 bytes) gives, and what it does to the model. */
static long model_write(struct mslot *m, uint64_t v)
{
	if (m->flags & EVQ_BITS) {
		m->count |= v;
		return 8;
	}
	if (v == UINT64_MAX)
		return -EINVAL;
	if (m->count > m->maximum || m->maximum - m->count < v)
		return -EAGAIN;
	m->count += v;
	return 8;
}

/* The poll mask of the model (the events poll() reports). */
static int model_mask(const struct mslot *m)
{
	int mask = m->count ? POLLIN : 0;

	if (m->flags & EVQ_BITS)
		return mask | POLLOUT;
	if (m->count == UINT64_MAX)
		mask |= POLLERR;
	if (m->count < m->maximum)
		mask |= POLLOUT;
	return mask;
}

/*
 * Close a slot; a fast counter's page is unmapped before or after the
 * close, either order must work.
 */
void mclose(struct fuzz *f, struct mslot *m)
{
	bool unmap_first = below(f, 2);

	if (!m->open)
		return;
	if ((m->flags & EVQ_FAST) && unmap_first)
		evq_fast_unmap(&m->fast);
	close(m->fd);
	if ((m->flags & EVQ_FAST) && !unmap_first)
		evq_fast_unmap(&m->fast);
	m->open = false;
}

static uint64_t pick_maximum(struct fuzz *f, uint64_t count)
{
	static const uint64_t fixed[] = {
		1, 2, 3, 5, 10, 100, 0xffffffff, COUNT_MAX - 1, COUNT_MAX,
	};

	switch (below(f, 10)) {
	case 0:
		return 0;				/* EINVAL */
	case 1:
		return UINT64_MAX;			/* EINVAL */
	case 2:
		return count;
	case 3:
		return count ? count - 1 : 1;		/* below the count */
	case 4:
		return count + 1 + below(f, 4);
	case 5:
		return rnd(f) >> below(f, 64);
	default:
		return fixed[below(f, ARRAY_SIZE(fixed))];
	}
}

/*
 * Create slot @i: the factory or open+SET_MAXIMUM+SETUP, the model's
 * verdict first (0 or -EINVAL), then the counter's.
 */
static void mop_create(struct fuzz *f, int i)
{
	struct mslot *m = &f->m[i];
	uint32_t flags = 0;
	bool factory = below(f, 2), has_max, bad_pad = !below(f, 32);
	uint64_t initval, maximum, max_now = COUNT_MAX;
	struct evq_info info;
	long want = 0, ret;
	int fd;

	if (!below(f, 3))
		flags |= EVQ_SEMAPHORE;
	if (below(f, 2))
		flags |= EVQ_WAKE_ONE;
	if (!below(f, 3))
		flags |= EVQ_BITS;
	if (!below(f, 3))
		flags |= EVQ_FAST;
	/* Bit mode with a maximum is EINVAL: now and then. */
	has_max = below(f, (flags & EVQ_BITS) ? 8 : 2) == 0;
	maximum = has_max ? pick_maximum(f, 0) : COUNT_MAX;
	switch (below(f, 6)) {
	case 0:
	case 1:
		initval = 0;
		break;
	case 2:
		initval = 1 + below(f, 10);
		break;
	case 3:
		initval = maximum;
		break;
	case 4:
		initval = maximum + 1;
		break;
	default:
		initval = rnd(f) >> below(f, 64);
		break;
	}
	mclose(f, m);
	m->first_op = f->op;
	note(f, i, "create slot %d: %s(initval %#llx, maximum %#llx%s, flags %#x%s)",
	     i, factory ? "EVQ_IOC_CREATE" : "open+SET_MAXIMUM+SETUP",
	     (unsigned long long)initval, (unsigned long long)maximum,
	     has_max ? "" : " (none)", flags, bad_pad ? ", pad 1" : "");

	/*
	 * The model: what the ABI (uapi/linux/evq.h) says. The factory
	 * refuses EVQ_MAXIMUM with EVQ_BITS whatever the value; open+setup
	 * refuses bit mode only on a counter whose maximum is not the
	 * default.
	 */
	if (has_max) {
		if (!maximum || maximum > COUNT_MAX ||
		    (factory && (flags & EVQ_BITS)))
			want = -EINVAL;
		max_now = maximum;
	}
	if ((flags & EVQ_BITS) ?
	    (flags & EVQ_SEMAPHORE) || max_now != COUNT_MAX :
	    initval > max_now)
		want = -EINVAL;
	if ((flags & EVQ_FAST) && (flags & (EVQ_WAKE_ONE | EVQ_BITS)))
		want = -EINVAL;
	if (bad_pad)
		want = -EINVAL;

	if (factory) {
		struct evq_create c = {
			.initval = initval,
			.maximum = has_max ? maximum : 0,
			.flags = flags | EVQ_NONBLOCK | EVQ_CLOEXEC |
				 (has_max ? EVQ_MAXIMUM : 0),
			.pad = bad_pad,
		};

		fd = (int)sys_ret(ioctl(f->factory, EVQ_IOC_CREATE, &c));
		ret = fd < 0 ? fd : 0;
	} else {
		struct evq_setup st = {
			.initval = initval, .flags = flags, .pad = bad_pad,
		};

		fd = (int)sys_ret(open(evq_device(),
				       O_RDWR | O_NONBLOCK | O_CLOEXEC));
		if (fd < 0) {
			ksft_print_msg("open /dev/evq: %s\n", strerror(-fd));
			f->failed = true;
			return;
		}
		ret = has_max ? sys_ret(ioctl(fd, EVQ_IOC_SET_MAXIMUM,
					      &maximum)) : 0;
		if (!ret)
			ret = sys_ret(ioctl(fd, EVQ_IOC_SETUP, &st));
		if (ret) {
			close(fd);
			fd = -1;
		}
	}
	if (!expect(f, EVQ, "create", want, ret) || ret)
		return;
	*m = (struct mslot){
		.open = true, .fd = fd, .count = initval, .maximum = max_now,
		.flags = flags, .first_op = f->op,
	};
	/* The page of a fast counter; the module says ENODEV for any other. */
	if (flags & EVQ_FAST) {
		ret = evq_fast_map(fd, &m->fast) ? -errno : 0;
		if (!expect(f, EVQ, "evq_fast_map", 0, ret)) {
			close(fd);
			m->open = false;
		}
	} else {
		void *p = mmap(NULL, EVQ_PAGE_SIZE, PROT_READ | PROT_WRITE,
			       MAP_SHARED, fd, 0);

		ret = p == MAP_FAILED ? -errno : 0;
		if (!expect(f, EVQ, "mmap", -ENODEV, ret) && !ret)
			munmap(p, EVQ_PAGE_SIZE);
	}
	ret = sys_ret(ioctl(fd, EVQ_IOC_GET_INFO, &info));
	if (expect(f, EVQ, "GET_INFO after create", 0, ret))
		m->id = info.id;
}

static void mop_write(struct fuzz *f, int i)
{
	struct mslot *m = &f->m[i];
	uint64_t v = pick_value(f, m->count, m->maximum, true);
	size_t len = below(f, 10) ? 8 : 4;
	long want, ret;

	note(f, i, "write(slot %d, %#llx, %zu bytes) at count %#llx, maximum %#llx",
	     i, (unsigned long long)v, len, (unsigned long long)m->count,
	     (unsigned long long)m->maximum);
	ret = sys_ret(write(m->fd, &v, len));
	want = len == 8 ? model_write(m, v) : -EINVAL;
	expect(f, EVQ, "write", want, ret);
}

static void mop_read(struct fuzz *f, int i)
{
	static const size_t sizes[] = { 4, 8, 8, 8, 8, 16 };
	struct mslot *m = &f->m[i];
	size_t len = sizes[below(f, ARRAY_SIZE(sizes))];
	uint64_t buf[2] = { POISON, POISON }, v;
	long want = 8, ret;

	note(f, i, "read(slot %d, %zu bytes) at count %#llx", i, len,
	     (unsigned long long)m->count);
	ret = sys_ret(read(m->fd, buf, len));
	if (len < 8)
		want = -EINVAL;
	else if (!m->count)
		want = -EAGAIN;
	if (!expect(f, EVQ, "read", want, ret) || ret != 8)
		return;
	v = (m->flags & EVQ_SEMAPHORE) ? 1 : m->count;
	m->count -= v;
	if (buf[0] != v) {
		ksft_print_msg("evq: read %#llx, the model says %#llx\n",
			       (unsigned long long)buf[0],
			       (unsigned long long)v);
		f->failed = true;
	}
}

/* What the fast path returns, as a system call would: 8 or -errno. */
static long fast_ret(int ret)
{
	return ret < 0 ? -errno : 8;
}

/* EVQ_FAST: a signal through the page, as a write(2) in the model. */
static void mop_fast_signal(struct fuzz *f, int i)
{
	struct mslot *m = &f->m[i];
	uint64_t v = pick_value(f, m->count, m->maximum, true);

	note(f, i, "evq_fast_signal(slot %d, %#llx) at count %#llx, maximum %#llx",
	     i, (unsigned long long)v, (unsigned long long)m->count,
	     (unsigned long long)m->maximum);
	expect(f, EVQ, "evq_fast_signal", model_write(m, v),
	       fast_ret(evq_fast_signal(&m->fast, v)));
}

/* EVQ_FAST: a take through the page, as a non-blocking read. */
static void mop_fast_take(struct fuzz *f, int i)
{
	struct mslot *m = &f->m[i];
	uint64_t got = POISON, v;
	long ret;

	note(f, i, "evq_fast_take(slot %d) at count %#llx", i,
	     (unsigned long long)m->count);
	ret = fast_ret(evq_fast_take(&m->fast, &got));
	if (!expect(f, EVQ, "evq_fast_take", m->count ? 8 : -EAGAIN, ret) ||
	    ret != 8)
		return;
	v = (m->flags & EVQ_SEMAPHORE) ? 1 : m->count;
	m->count -= v;
	if (got != v) {
		ksft_print_msg("evq: evq_fast_take %#llx, the model says %#llx\n",
			       (unsigned long long)got, (unsigned long long)v);
		f->failed = true;
	}
}

static void mop_poll(struct fuzz *f, int i)
{
	static const char *const kinds[] = { "poll", "epoll", "select" };
	struct mslot *m = &f->m[i];
	int kind = (int)below(f, 3), want = model_mask(m), got;

	note(f, i, "%s(slot %d) at count %#llx, maximum %#llx", kinds[kind],
	     i, (unsigned long long)m->count, (unsigned long long)m->maximum);
	if (kind == 0) {
		got = poll_mask(m->fd);
	} else if (kind == 1) {
		got = epoll_mask(m->fd);
	} else {
		got = select_mask(m->fd);
		want = ((want & (POLLIN | POLLERR)) ? SEL_READ : 0) |
		       ((want & (POLLOUT | POLLERR)) ? SEL_WRITE : 0);
	}
	expect(f, EVQ, kinds[kind], want, got);
}

static void mop_info(struct fuzz *f, int i)
{
	struct mslot *m = &f->m[i];
	struct evq_info info;
	bool reserved = false;
	long ret;
	int k;

	note(f, i, "GET_INFO(slot %d)", i);
	memset(&info, 0xa5, sizeof(info));
	ret = sys_ret(ioctl(m->fd, EVQ_IOC_GET_INFO, &info));
	if (!expect(f, EVQ, "GET_INFO", 0, ret))
		return;
	for (k = 0; k < 4; k++)
		reserved |= info.reserved[k] != 0;
	if ((m->flags & EVQ_FAST) &&
	    (m->fast.page->count != m->count ||
	     m->fast.page->maximum != m->maximum ||
	     m->fast.page->flags != m->flags)) {
		ksft_print_msg("page: count %#llx maximum %#llx flags %#x; the model: %#llx %#llx %#x\n",
			       (unsigned long long)m->fast.page->count,
			       (unsigned long long)m->fast.page->maximum,
			       m->fast.page->flags,
			       (unsigned long long)m->count,
			       (unsigned long long)m->maximum, m->flags);
		f->failed = true;
	}
	if (info.count != m->count || info.maximum != m->maximum ||
	    info.flags != m->flags || info.id != m->id || info.readers ||
	    info.writers || reserved) {
		ksft_print_msg("GET_INFO: count %#llx maximum %#llx flags %#x id %u readers %u writers %u reserved %s; the model: %#llx %#llx %#x %u 0 0 zero\n",
			       (unsigned long long)info.count,
			       (unsigned long long)info.maximum, info.flags,
			       info.id, info.readers, info.writers,
			       reserved ? "non-zero" : "zero",
			       (unsigned long long)m->count,
			       (unsigned long long)m->maximum, m->flags, m->id);
		f->failed = true;
	}
}

static void mop_set_maximum(struct fuzz *f, int i)
{
	struct mslot *m = &f->m[i];
	uint64_t v = pick_maximum(f, m->count);
	long want = 0, ret;

	note(f, i, "SET_MAXIMUM(slot %d, %#llx) at count %#llx, maximum %#llx",
	     i, (unsigned long long)v, (unsigned long long)m->count,
	     (unsigned long long)m->maximum);
	ret = sys_ret(ioctl(m->fd, EVQ_IOC_SET_MAXIMUM, &v));
	if (!v || v > COUNT_MAX || (m->flags & EVQ_BITS))
		want = -EINVAL;
	if (expect(f, EVQ, "SET_MAXIMUM", want, ret) && !ret)
		m->maximum = v;
}

/* A second EVQ_IOC_SETUP: EBUSY, whichever way the counter was made. */
static void mop_setup_again(struct fuzz *f, int i)
{
	struct evq_setup st = { 0 };

	note(f, i, "SETUP again(slot %d)", i);
	expect(f, EVQ, "second SETUP", -EBUSY,
	       sys_ret(ioctl(f->m[i].fd, EVQ_IOC_SETUP, &st)));
}

/* One random op of a modes seed. */
void mstep(struct fuzz *f)
{
	int i = (int)below(f, N_SLOTS);
	unsigned int r = below(f, 100);

	if (!f->m[i].open || r < 3) {
		mop_create(f, i);
	} else if (r < 5) {
		note(f, i, "close(slot %d)", i);
		mclose(f, &f->m[i]);
	} else if (r < 40) {
		if ((f->m[i].flags & EVQ_FAST) && below(f, 2))
			mop_fast_signal(f, i);
		else
			mop_write(f, i);
	} else if (r < 68) {
		if ((f->m[i].flags & EVQ_FAST) && below(f, 2))
			mop_fast_take(f, i);
		else
			mop_read(f, i);
	} else if (r < 83) {
		mop_poll(f, i);
	} else if (r < 91) {
		mop_info(f, i);
	} else if (r < 99) {
		mop_set_maximum(f, i);
	} else {
		mop_setup_again(f, i);
	}
}
