// SPDX-License-Identifier: GPL-2.0
/*
 * evq_poll_test - poll(2), epoll and select(2) on /dev/evq counters and
 * native eventfd(2), side by side: the masks each count reports, wake-ups,
 * edge- and level-triggered epoll, EPOLLONESHOT and EPOLLEXCLUSIVE.
 *
 * The fixture "counter", its variants "native" and "evq", and the helpers
 * are in evq_counter.h.
 */
#include "evq_counter.h"

/* ---- poll, epoll, select ------------------------------------------------- */

/*
 * The count can only reach COUNT_MAX from userspace; EPOLLERR (count ==
 * ULLONG_MAX) needs an in-kernel producer and is not tested here.
 */
static const struct {
	uint64_t count;
	int poll;
	int sel;
} mask_cases[] = {
	{ 0, POLLOUT, SEL_WRITE },
	{ 1, POLLIN | POLLOUT, SEL_READ | SEL_WRITE },
	{ COUNT_MAX - 1, POLLIN | POLLOUT, SEL_READ | SEL_WRITE },
	{ COUNT_MAX, POLLIN, SEL_READ },
};

#define N_MASK_CASES ARRAY_SIZE(mask_cases)

/* A fresh non-blocking counter holding @count. */
static int counter_at(struct __test_metadata *_metadata,
		      FIXTURE_DATA(counter) *self,
		      const FIXTURE_VARIANT(counter) *variant, uint64_t count)
{
	int fd = NEW_COUNTER(0, EFD_NONBLOCK);

	if (count) {
		ASSERT_EQ(8, write_u64(fd, count));
	}
	return fd;
}

TEST_F(counter, poll_masks)
{
	size_t i;

	for (i = 0; i < N_MASK_CASES; i++) {
		int fd = counter_at(_metadata, self, variant,
				    mask_cases[i].count);
		int got = poll_mask(fd);

		EXPECT_EQ(mask_cases[i].poll, got)
			TH_LOG("count %#llx: revents %#x, want %#x (POLLIN 0x1, POLLOUT 0x4)",
			       (unsigned long long)mask_cases[i].count,
			       (unsigned int)got,
			       (unsigned int)mask_cases[i].poll);
		drop_counter(self, fd);
	}
}

TEST_F(counter, epoll_masks)
{
	size_t i;

	for (i = 0; i < N_MASK_CASES; i++) {
		int fd = counter_at(_metadata, self, variant,
				    mask_cases[i].count);
		int got = epoll_mask(fd);

		/* EPOLLIN == POLLIN and EPOLLOUT == POLLOUT */
		EXPECT_EQ(mask_cases[i].poll, got)
			TH_LOG("count %#llx: events %#x, want %#x (EPOLLIN 0x1, EPOLLOUT 0x4)",
			       (unsigned long long)mask_cases[i].count,
			       (unsigned int)got,
			       (unsigned int)mask_cases[i].poll);
		drop_counter(self, fd);
	}
}

TEST_F(counter, select_masks)
{
	size_t i;

	for (i = 0; i < N_MASK_CASES; i++) {
		int fd = counter_at(_metadata, self, variant,
				    mask_cases[i].count);
		int got = select_mask(fd);

		EXPECT_EQ(mask_cases[i].sel, got)
			TH_LOG("count %#llx: select %#x, want %#x (read 1, write 2, except 4)",
			       (unsigned long long)mask_cases[i].count,
			       (unsigned int)got,
			       (unsigned int)mask_cases[i].sel);
		drop_counter(self, fd);
	}
}

TEST_F(counter, blocked_poll_woken_by_write)
{
	struct blocked *b = start_blocked(_metadata, self->fd, OP_POLL, 0);

	EXPECT_TRUE(still_blocked(b))
		TH_LOG("poll(POLLIN) at 0 returned %#lx", b->ret);
	ASSERT_EQ(8, write_u64(self->fd, 1));
	ASSERT_TRUE(finish_blocked(b))
		TH_LOG("poll still blocked %d ms after a write", WAIT_MS);
	EXPECT_EQ(POLLIN, b->ret);
}

/*
 * Every write wakes the wait queue, even when the count was already
 * non-zero or the value is 0. With EPOLLET that is one event per write;
 * event loops (libuv, libevent) rely on it.
 */
TEST_F(counter, epollet_event_on_every_write)
{
	int fd = NEW_COUNTER(0, EFD_NONBLOCK);
	struct epoll_event ev = {
		.events = EPOLLIN | EPOLLOUT | EPOLLET,
		.data.fd = fd,
	};
	static const uint64_t writes[] = { 1, 1, 0 };
	struct epoll_event out;
	size_t i;
	int ep, n;

	ep = epoll_create1(EPOLL_CLOEXEC);
	ASSERT_LE(0, ep);
	ASSERT_EQ(0, epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev));
	n = epoll_wait(ep, &out, 1, 0);
	ASSERT_EQ(1, n) TH_LOG("initial edge");
	EXPECT_EQ((uint32_t)EPOLLOUT, out.events);
	EXPECT_EQ(0, epoll_wait(ep, &out, 1, 0)) TH_LOG("edge reported twice");

	for (i = 0; i < ARRAY_SIZE(writes); i++) {
		ASSERT_EQ(8, write_u64(fd, writes[i]));
		n = epoll_wait(ep, &out, 1, 0);
		EXPECT_EQ(1, n) TH_LOG("write %zu (of %llu): no event", i,
				       (unsigned long long)writes[i]);
		if (n == 1) {
			EXPECT_EQ((uint32_t)(EPOLLIN | EPOLLOUT), out.events)
				TH_LOG("write %zu", i);
		}
		EXPECT_EQ(0, epoll_wait(ep, &out, 1, 0))
			TH_LOG("write %zu: edge reported twice", i);
	}
	close(ep);
}

/*
 * A read that fails with EFAULT makes no EPOLLIN edge: eventfd consumes the
 * count and wakes only EPOLLOUT waiters; evq leaves the count as it was
 * and wakes nobody (only a wake-one counter passes a reader's turn on).
 */
TEST_F(counter, efault_read_makes_no_epollin_edge)
{
	int fd = NEW_COUNTER(0, EFD_NONBLOCK);
	struct epoll_event ev = { .events = EPOLLIN | EPOLLET };
	struct epoll_event out;
	void *bad;
	long ret;
	int ep;

	ep = epoll_create1(EPOLL_CLOEXEC);
	ASSERT_LE(0, ep);
	ASSERT_EQ(0, epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev));
	ASSERT_EQ(8, write_u64(fd, 3));
	EXPECT_EQ(1, epoll_wait(ep, &out, 1, 0)) TH_LOG("the write's edge");
	EXPECT_EQ(0, epoll_wait(ep, &out, 1, 0)) TH_LOG("edge reported twice");
	bad = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, bad);
	ret = ret_or_errno(read(fd, bad, sizeof(uint64_t)));
	munmap(bad, 4096);
	EXPECT_EQ(-EFAULT, ret) TH_LOG("read into PROT_NONE: %s", errstr(ret));
	EXPECT_EQ(0, epoll_wait(ep, &out, 1, 0))
		TH_LOG("the EFAULT read made an edge: events %#x", out.events);
	close(ep);
}

/* ---- wake-ups ------------------------------------------------------------ */

struct epoll_waiter {
	pthread_t thread;
	int ep;
	int timeout_ms;
	int n;			/* epoll_wait's return, or -errno */
	uint32_t events;
	atomic_bool done;
};

static void *epoll_waiter_fn(void *arg)
{
	struct epoll_waiter *w = arg;
	struct epoll_event ev = { 0 };
	int n;

	n = epoll_wait(w->ep, &ev, 1, w->timeout_ms);
	w->n = n < 0 ? -errno : n;
	w->events = ev.events;
	atomic_store(&w->done, true);
	return NULL;
}

/* Heap-allocated for the same reason as struct blocked. */
static struct epoll_waiter *start_epoll_waiter(struct __test_metadata *_metadata,
					       int ep)
{
	struct epoll_waiter *w = calloc(1, sizeof(*w));
	int err;

	ASSERT_NE(NULL, w);
	w->ep = ep;
	w->timeout_ms = -1;
	atomic_init(&w->done, false);
	err = pthread_create(&w->thread, NULL, epoll_waiter_fn, w);
	ASSERT_EQ(0, err) TH_LOG("pthread_create: %s", strerror(err));
	return w;
}

static bool epoll_waiter_finished(struct epoll_waiter *w)
{
	return join_when_done(w->thread, &w->done);
}

/*
 * A write of 0 at count 0 changes nothing but still wakes a waiter. The
 * wake-up carries EPOLLIN, so only entries that asked for EPOLLIN see it
 * (epoll filters on the key); the event then reports the state, EPOLLOUT.
 */
TEST_F(counter, write_zero_wakes_epoll_waiter)
{
	int fd = NEW_COUNTER(0, EFD_NONBLOCK);
	struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT | EPOLLET };
	struct epoll_waiter *w;
	int ep;

	ep = epoll_create1(EPOLL_CLOEXEC);
	ASSERT_LE(0, ep);
	ASSERT_EQ(0, epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev));
	ASSERT_EQ(1, epoll_wait(ep, &ev, 1, 0)) TH_LOG("initial edge");
	w = start_epoll_waiter(_metadata, ep);
	sleep_ms(SETTLE_MS);
	EXPECT_FALSE(atomic_load(&w->done))
		TH_LOG("epoll_wait returned %d with nothing written", w->n);
	ASSERT_EQ(8, write_u64(fd, 0));
	ASSERT_TRUE(epoll_waiter_finished(w))
		TH_LOG("epoll_wait still blocked %d ms after a write of 0",
		       WAIT_MS);
	EXPECT_EQ(1, w->n);
	EXPECT_EQ((uint32_t)EPOLLOUT, w->events);
	close(ep);
}

/* ---- epoll --------------------------------------------------------------- */

static int epoll_with(struct __test_metadata *_metadata, int fd,
		      uint32_t events, uint64_t data)
{
	struct epoll_event ev = { .events = events, .data.u64 = data };
	int ep = epoll_create1(EPOLL_CLOEXEC);

	ASSERT_LE(0, ep) TH_LOG("epoll_create1: %s", strerror(errno));
	ASSERT_EQ(0, epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev))
		TH_LOG("EPOLL_CTL_ADD: %s", strerror(errno));
	return ep;
}

/* epoll_wait without waiting: events of the one entry, 0, or -errno. */
static int epoll_now(int ep, uint64_t *data)
{
	struct epoll_event ev = { 0 };
	int n = epoll_wait(ep, &ev, 1, 0);

	if (n < 0)
		return -errno;
	if (data)
		*data = ev.data.u64;
	return n ? (int)ev.events : 0;
}

TEST_F(counter, epoll_level_triggered_repeats_until_read)
{
	int fd = NEW_COUNTER(0, EFD_NONBLOCK);
	int ep = epoll_with(_metadata, fd, EPOLLIN, 0);
	int i;

	EXPECT_EQ(0, epoll_now(ep, NULL));
	ASSERT_EQ(8, write_u64(fd, 1));
	for (i = 0; i < 3; i++)
		EXPECT_EQ(EPOLLIN, epoll_now(ep, NULL)) TH_LOG("wait %d", i);
	EXPECT_EQ(1ULL, take_count(_metadata, fd));
	EXPECT_EQ(0, epoll_now(ep, NULL)) TH_LOG("after the read");
	close(ep);
}

TEST_F(counter, epoll_oneshot_rearm)
{
	int fd = NEW_COUNTER(0, EFD_NONBLOCK);
	int ep = epoll_with(_metadata, fd, EPOLLIN | EPOLLONESHOT, 1);
	struct epoll_event ev = {
		.events = EPOLLIN | EPOLLONESHOT,
		.data.u64 = 2,
	};
	uint64_t data = 0;

	ASSERT_EQ(8, write_u64(fd, 1));
	EXPECT_EQ(EPOLLIN, epoll_now(ep, &data));
	EXPECT_EQ(1ULL, data);
	EXPECT_EQ(0, epoll_now(ep, NULL)) TH_LOG("one-shot fired twice");
	ASSERT_EQ(8, write_u64(fd, 1));
	EXPECT_EQ(0, epoll_now(ep, NULL)) TH_LOG("disarmed entry fired");
	ASSERT_EQ(0, epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev));
	EXPECT_EQ(EPOLLIN, epoll_now(ep, &data)) TH_LOG("after re-arm");
	EXPECT_EQ(2ULL, data);
	EXPECT_EQ(0, epoll_now(ep, NULL));
	EXPECT_EQ(2ULL, take_count(_metadata, fd));
	close(ep);
}

TEST_F(counter, one_counter_in_several_epoll_sets)
{
	int fd = NEW_COUNTER(0, EFD_NONBLOCK);
	int ep[3], i;

	for (i = 0; i < 3; i++)
		ep[i] = epoll_with(_metadata, fd, EPOLLIN | EPOLLOUT, i);
	ASSERT_EQ(8, write_u64(fd, 1));
	for (i = 0; i < 3; i++) {
		uint64_t data = 99;

		EXPECT_EQ(EPOLLIN | EPOLLOUT, epoll_now(ep[i], &data))
			TH_LOG("set %d", i);
		EXPECT_EQ((uint64_t)i, data);
	}
	EXPECT_EQ(1ULL, take_count(_metadata, fd));
	for (i = 0; i < 3; i++) {
		EXPECT_EQ(EPOLLOUT, epoll_now(ep[i], NULL)) TH_LOG("set %d", i);
		close(ep[i]);
	}
}

/*
 * epoll watches the open file, not the descriptor: closing one of two
 * descriptors keeps the entry; closing the last removes it.
 */
TEST_F(counter, close_removes_counter_from_epoll_set)
{
	int fd = NEW_COUNTER(0, EFD_NONBLOCK);
	int ep = epoll_with(_metadata, fd, EPOLLIN, 7);
	struct epoll_event ev = { .events = EPOLLIN };
	uint64_t data = 0;
	int d;

	d = dup(fd);
	ASSERT_LE(0, d);
	drop_counter(self, fd);
	ASSERT_EQ(8, write_u64(d, 1));
	EXPECT_EQ(EPOLLIN, epoll_now(ep, &data))
		TH_LOG("entry gone while a dup() is open");
	EXPECT_EQ(7ULL, data);
	close(d);
	EXPECT_EQ(0, epoll_now(ep, NULL)) TH_LOG("entry of a closed counter");
	fd = NEW_COUNTER(1, EFD_NONBLOCK);
	EXPECT_EQ(0, epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev))
		TH_LOG("epoll set unusable after the close: %s",
		       strerror(errno));
	EXPECT_EQ(EPOLLIN, epoll_now(ep, NULL));
	close(ep);
}

/*
 * EPOLLEXCLUSIVE on the same counter in several epoll instances, one
 * thread blocked in each: every write wakes at least one of them, so as
 * many writes as threads wake them all. (How many one write wakes is not
 * checked: a thread that is not asleep yet when the write comes gets the
 * event queued, which is correct too.)
 */
#define N_EXCL 4

TEST_F(counter, epollexclusive_every_write_wakes_a_waiter)
{
	int fd = NEW_COUNTER(0, EFD_NONBLOCK);
	struct epoll_waiter *w[N_EXCL];
	int ep[N_EXCL], i, woken = 0, writes = 0;

	for (i = 0; i < N_EXCL; i++) {
		ep[i] = epoll_with(_metadata, fd, EPOLLIN | EPOLLEXCLUSIVE, i);
		w[i] = start_epoll_waiter(_metadata, ep[i]);
	}
	sleep_ms(SETTLE_MS);
	for (i = 0; i < N_EXCL; i++) {
		EXPECT_FALSE(atomic_load(&w[i]->done))
			TH_LOG("waiter %d returned %d at count 0", i, w[i]->n);
	}
	while (woken < N_EXCL && writes < N_EXCL) {
		int64_t deadline = now_ms() + WAIT_MS;
		int before = woken;

		ASSERT_EQ(8, write_u64(fd, 1));
		writes++;
		while (woken == before && now_ms() < deadline) {
			sleep_ms(5);
			for (woken = 0, i = 0; i < N_EXCL; i++)
				woken += atomic_load(&w[i]->done);
		}
		ASSERT_LT(before, woken)
			TH_LOG("write %d woke none of %d blocked waiters",
			       writes, N_EXCL - before);
	}
	for (i = 0; i < N_EXCL; i++) {
		ASSERT_TRUE(epoll_waiter_finished(w[i]));
		EXPECT_EQ(1, w[i]->n) TH_LOG("waiter %d", i);
		EXPECT_EQ((uint32_t)EPOLLIN, w[i]->events) TH_LOG("waiter %d",
								 i);
		close(ep[i]);
	}
	TH_LOG("%d writes woke %d exclusive waiters", writes, N_EXCL);
}

/*
 * Many threads, each with its own edge-triggered epoll set on one counter,
 * read whatever they are woken for while the main thread writes 1 many
 * times. A lost wake-up leaves a count that nobody is told about: the sum
 * read stays short of the sum written.
 */
#define N_ET_THREADS	8
#define N_ET_WRITES	2000

struct et_shared {
	int fd;
	atomic_ullong sum;
	atomic_bool stop;
	atomic_int errors;
};

struct et_thread {
	pthread_t thread;
	struct et_shared *sh;
	int ep;
};

static void *et_reader_fn(void *arg)
{
	struct et_thread *t = arg;
	struct epoll_event ev;
	uint64_t v;

	while (!atomic_load(&t->sh->stop)) {
		int n = epoll_wait(t->ep, &ev, 1, 50);
		long ret;

		if (n < 0 && errno != EINTR)
			atomic_fetch_add(&t->sh->errors, 1);
		if (n <= 0)
			continue;
		ret = read_u64(t->sh->fd, &v);
		if (ret == 8)
			atomic_fetch_add(&t->sh->sum, v);
		else if (ret != -EAGAIN)
			atomic_fetch_add(&t->sh->errors, 1);
	}
	return NULL;
}

TEST_F_TIMEOUT(counter, epollet_many_waiters_no_lost_wakeup, 120)
{
	static struct et_thread t[N_ET_THREADS];
	struct et_shared sh = { .fd = NEW_COUNTER(0, EFD_NONBLOCK) };
	int64_t deadline;
	int i;

	atomic_init(&sh.sum, 0);
	atomic_init(&sh.stop, false);
	atomic_init(&sh.errors, 0);
	for (i = 0; i < N_ET_THREADS; i++) {
		t[i].sh = &sh;
		t[i].ep = epoll_with(_metadata, sh.fd, EPOLLIN | EPOLLET, i);
		ASSERT_EQ(0, pthread_create(&t[i].thread, NULL, et_reader_fn,
					    &t[i]));
	}
	for (i = 0; i < N_ET_WRITES; i++)
		ASSERT_EQ(8, write_u64(sh.fd, 1));
	deadline = now_ms() + WAIT_MS;
	while (atomic_load(&sh.sum) < N_ET_WRITES && now_ms() < deadline)
		sleep_ms(5);
	atomic_store(&sh.stop, true);
	for (i = 0; i < N_ET_THREADS; i++) {
		pthread_join(t[i].thread, NULL);
		close(t[i].ep);
	}
	EXPECT_EQ(0, atomic_load(&sh.errors));
	EXPECT_EQ((unsigned long long)N_ET_WRITES, atomic_load(&sh.sum))
		TH_LOG("count left unread: %llu",
		       (unsigned long long)take_count(_metadata, sh.fd));
}

TEST_HARNESS_MAIN
