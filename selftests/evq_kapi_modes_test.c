// SPDX-License-Identifier: GPL-2.0
/*
 * evq_kapi_modes_test - evq_signal(), the in-kernel producer API, on
 * counters in evq's own modes, driven through the test module evq_testmod
 * (selftests/kmod), which must be loaded: setup fails, never skips,
 * without /dev/evq_testmod. The producers and kernel-side overflow are in
 * evq_kapi_test.c, the recursion guard in evq_kapi_guard_test.c; the
 * helpers they share in evq_kapi_common.h.
 *
 * Fixture "modes" (one variant, "evq", so that `-v evq` runs every case)
 * signals counters made by the factory: below a maximum a signal stops
 * there and drops the rest, in bit mode it ORs, in wake-one mode it wakes
 * only the readers it can serve, and with EVQ_FAST it lands in the shared
 * page and wakes a blocked reader.
 *
 * Timing: nothing passes or fails on how long something took; what should
 * happen gets WAIT_MS before it counts as a hang.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "evq.h"
#include "evq_ksft_common.h"
#include "kmod/evq_testmod.h"
#include "evq_kapi_common.h"
#include "kselftest_harness.h"

/* ---- the modes: maximum, bit mask, wake-one -------------------------------- */

/*
 * Fixture "modes": evq_signal() on counters in evq's own modes, each made
 * by the factory (EVQ_IOC_CREATE), which the test module attaches the
 * usual way (evq_ctx_fdget() on the new descriptor). One variant, "evq".
 */
FIXTURE(modes) {
	int tm;
	int fd;
};

FIXTURE_VARIANT(modes) {
	int unused;
};

FIXTURE_VARIANT_ADD(modes, evq) {
	.unused = 0,
};

FIXTURE_SETUP(modes)
{
	(void)variant;
	self->fd = -1;
	self->tm = tm_open(_metadata);
}

FIXTURE_TEARDOWN(modes)
{
	if (self->fd >= 0)
		close(self->fd);
	if (self->tm >= 0)
		close(self->tm);
}

/* A factory-made blocking counter, attached to the session. */
static int factory_attached(struct __test_metadata *_metadata,
			    FIXTURE_DATA(modes) *self, uint64_t initval,
			    uint64_t maximum, uint32_t flags)
{
	long ret;

	self->fd = evq_mode_counter(true, initval, maximum, flags, false);
	ASSERT_LE(0, self->fd) TH_LOG("EVQ_IOC_CREATE(%llu, maximum %#llx, flags %#x): %s",
				      (unsigned long long)initval,
				      (unsigned long long)maximum, flags,
				      errstr(self->fd));
	ret = attach(self->tm, self->fd);
	ASSERT_EQ(0, ret) TH_LOG("ATTACH of a factory-made counter: %s",
				 errstr(ret));
	return self->fd;
}

#define FACTORY_ATTACHED(initval, maximum, flags) \
	factory_attached(_metadata, self, (initval), (maximum), (flags))

/* One evq_signal() of @value from process context; ASSERTs it was made. */
#define SIGNAL_ONCE(value) do {						\
	uint64_t v_ = (value);						\
	long ret_ = tm_signal(self->tm, v_, 1, EVQ_TESTMOD_BURST);	\
	ASSERT_EQ(0, ret_) TH_LOG("SIGNAL(%#llx): %s",			\
				  (unsigned long long)v_, errstr(ret_));	\
} while (0)

/* The count and the blocked tasks, from EVQ_IOC_GET_INFO. */
#define EXPECT_INFO(want_count, want_readers, want_writers) do {	\
	struct evq_info i_;						\
	int r_ = evq_info_of(self->fd, &i_);				\
	ASSERT_EQ(0, r_) TH_LOG("EVQ_IOC_GET_INFO: %s", errstr(r_));	\
	EXPECT_EQ((uint64_t)(want_count), i_.count);			\
	EXPECT_EQ((uint32_t)(want_readers), i_.readers);		\
	EXPECT_EQ((uint32_t)(want_writers), i_.writers);		\
} while (0)

TEST_F(modes, factory_counter_is_signalled_through_fdget)
{
	int fd = FACTORY_ATTACHED(0, EVQ_COUNT_MAX, 0);
	uint64_t v = POISON;

	SIGNAL_ONCE(5);
	SIGNAL_ONCE(6);
	ASSERT_EQ(8, read(fd, &v, sizeof(v)));
	EXPECT_EQ(11ULL, v);
	EXPECT_EQ(POLLOUT, poll_now(fd));
}

struct blocked_write {
	pthread_t thread;
	int fd;
	uint64_t value;
	long ret;
	atomic_bool done;
};

static void *blocked_write_fn(void *arg)
{
	struct blocked_write *w = arg;

	w->ret = write(w->fd, &w->value, sizeof(w->value)) < 0 ?
		 -errno : (long)sizeof(w->value);
	atomic_store(&w->done, true);
	return NULL;
}

/*
 * A maximum of 10: signals stop there and drop the rest, whatever their
 * size (ULLONG_MAX too), never set EPOLLERR and never let a blocked
 * writer in; a read makes room and the writer then completes.
 */
TEST_F(modes, signal_stops_at_maximum_and_drops_the_rest)
{
	int fd = FACTORY_ATTACHED(0, 10, 0);
	struct blocked_write w = { .fd = fd, .value = 5 };
	uint64_t v = POISON;

	SIGNAL_ONCE(8);
	EXPECT_INFO(8, 0, 0);
	ASSERT_EQ(0, pthread_create(&w.thread, NULL, blocked_write_fn, &w));
	ASSERT_TRUE(evq_wait_blocked(fd, 0, 1))
		TH_LOG("a write of 5 at 8 of 10 did not block");

	SIGNAL_ONCE(7);
	EXPECT_INFO(10, 0, 1);
	EXPECT_EQ(POLLIN, poll_now(fd))
		TH_LOG("at the maximum: readable, not writable, no POLLERR");
	SIGNAL_ONCE(UINT64_MAX);
	SIGNAL_ONCE(1);
	usleep(SETTLE_MS * 1000);
	EXPECT_INFO(10, 0, 1);
	EXPECT_EQ(POLLIN, poll_now(fd)) TH_LOG("no POLLERR below ULLONG_MAX");
	EXPECT_FALSE(atomic_load(&w.done))
		TH_LOG("the blocked writer got in (write returned %ld)", w.ret);

	ASSERT_EQ(8, read(fd, &v, sizeof(v)));
	EXPECT_EQ(10ULL, v) TH_LOG("the count stops at the maximum");
	ASSERT_TRUE(evq_wait_blocked(fd, 0, 0))
		TH_LOG("the writer was not let in by the read");
	pthread_join(w.thread, NULL);
	EXPECT_EQ(8, w.ret) TH_LOG("write: %s", errstr(w.ret));
	EXPECT_INFO(5, 0, 0);
}

/*
 * A count of 9, then the maximum lowered to 4: a signal adds nothing (the
 * count is not cut either); once a read brings the count to 0, signals
 * again stop at 4.
 */
TEST_F(modes, signal_above_lowered_maximum_adds_nothing)
{
	int fd = FACTORY_ATTACHED(0, EVQ_COUNT_MAX, 0);
	uint64_t four = 4, v = POISON;

	SIGNAL_ONCE(9);
	ASSERT_EQ(0, ioctl(fd, EVQ_IOC_SET_MAXIMUM, &four))
		TH_LOG("EVQ_IOC_SET_MAXIMUM(4): %s", strerror(errno));
	SIGNAL_ONCE(3);
	EXPECT_INFO(9, 0, 0);
	EXPECT_EQ(POLLIN, poll_now(fd)) TH_LOG("above the maximum: no POLLOUT");
	ASSERT_EQ(8, read(fd, &v, sizeof(v)));
	EXPECT_EQ(9ULL, v);
	SIGNAL_ONCE(6);
	EXPECT_INFO(4, 0, 0);
}

/*
 * EVQ_FAST: evq_signal() adds to the count in the shared page (the fast
 * path sees it at once and takes it without a system call), clears
 * EVQ_ARMED_IN and wakes a reader blocked in read(2), which armed it.
 */
TEST_F(modes, fast_counter_signal_lands_in_the_page_and_wakes_reader)
{
	int fd = FACTORY_ATTACHED(0, EVQ_COUNT_MAX, EVQ_FAST);
	struct blocked_read b = { .fd = fd };
	struct evq_fast f;
	uint64_t v = POISON;
	int ms;

	ASSERT_EQ(0, evq_fast_map(fd, &f)) TH_LOG("evq_fast_map: %s", strerror(errno));
	SIGNAL_ONCE(5);
	EXPECT_EQ(5ULL, atomic_load((_Atomic uint64_t *)&f.page->count))
		TH_LOG("evq_signal() did not land in the page");
	EXPECT_INFO(5, 0, 0);
	EXPECT_EQ(0, evq_fast_take(&f, &v)) TH_LOG("take after evq_signal()");
	EXPECT_EQ(5ULL, v);

	ASSERT_EQ(0, pthread_create(&b.thread, NULL, blocked_read_fn, &b));
	ASSERT_TRUE(evq_wait_blocked(fd, 1, 0));
	for (ms = 0; ms < WAIT_MS &&
	     !(atomic_load((_Atomic uint32_t *)&f.page->armed) & EVQ_ARMED_IN);
	     ms++)
		usleep(1000);
	EXPECT_EQ(EVQ_ARMED_IN, f.page->armed & EVQ_ARMED_IN)
		TH_LOG("blocked reader did not arm IN: armed %#x", f.page->armed);
	SIGNAL_ONCE(3);
	ASSERT_TRUE(join_within(&b)) TH_LOG("evq_signal() did not wake the reader");
	EXPECT_EQ(8, b.ret);
	EXPECT_EQ(3ULL, b.value);
	EXPECT_EQ(0ULL, atomic_load((_Atomic uint64_t *)&f.page->count));
	EXPECT_EQ(0U, f.page->armed & EVQ_ARMED_IN)
		TH_LOG("evq_signal() woke the reader but left EVQ_ARMED_IN set");
	EXPECT_EQ(0, evq_fast_signal(&f, 1));
	evq_fast_unmap(&f);
}

/* Bit mode: signals OR, ~0 included, which is no overflow: no EPOLLERR. */
TEST_F(modes, bits_signal_ors_and_never_sets_epollerr)
{
	int fd = FACTORY_ATTACHED(0, EVQ_COUNT_MAX, EVQ_BITS);
	uint64_t v = POISON;

	SIGNAL_ONCE(0x1);
	SIGNAL_ONCE(0x4);
	SIGNAL_ONCE(0x5);
	EXPECT_INFO(0x5, 0, 0);
	ASSERT_EQ(8, read(fd, &v, sizeof(v)));
	EXPECT_EQ(0x5ULL, v) TH_LOG("0x1 | 0x4 | 0x5 (a sum would be 0xa)");

	SIGNAL_ONCE(UINT64_MAX);
	SIGNAL_ONCE(0x10);
	EXPECT_EQ(POLLIN | POLLOUT, poll_now(fd))
		TH_LOG("a full mask is no overflow: no POLLERR");
	v = POISON;
	ASSERT_EQ(8, read(fd, &v, sizeof(v)));
	EXPECT_EQ(UINT64_MAX, v);
	EXPECT_EQ(POLLOUT, poll_now(fd));
}

/*
 * The wake-up key of a full mask's signal matches what poll reports: no
 * EPOLLERR. epoll always listens for EPOLLERR, so a key carrying it gets
 * past the filter of an entry registered for EPOLLOUT only, which an
 * EPOLLIN key does not: the entry is queued and, edge-triggered, reports
 * EPOLLOUT again although nothing changed for a writer.
 */
TEST_F(modes, bits_full_mask_signal_gives_epollout_waiter_no_edge)
{
	int fd = FACTORY_ATTACHED(0, EVQ_COUNT_MAX, EVQ_BITS);
	struct epoll_event ev;
	int ep = epoll_on(fd, EPOLLOUT | EPOLLET);
	int n;

	ASSERT_LE(0, ep) TH_LOG("epoll_on: %s", errstr(ep));
	ASSERT_EQ(1, epoll_wait(ep, &ev, 1, 0)) TH_LOG("the first edge");
	EXPECT_EQ((uint32_t)EPOLLOUT, ev.events);
	SIGNAL_ONCE(0x1);
	n = epoll_wait(ep, &ev, 1, 0);
	EXPECT_EQ(0, n) TH_LOG("EPOLLOUT edge after a signal of 0x1: %#x",
			       n > 0 ? ev.events : 0);
	SIGNAL_ONCE(UINT64_MAX);
	n = epoll_wait(ep, &ev, 1, 0);
	EXPECT_EQ(0, n)
		TH_LOG("EPOLLOUT edge after a full mask (EPOLLERR in the wake-up key?): %#x",
		       n > 0 ? ev.events : 0);
	EXPECT_EQ(POLLIN | POLLOUT, poll_now(fd));
	close(ep);
}

/* A reader thread that says which task it is, and when it is done. */
struct tracked_read {
	pthread_t thread;
	int fd;
	atomic_int tid;
	atomic_bool done;
	uint64_t value;
	long ret;
	long switches;	/* voluntary context switches before the signal */
};

static void *tracked_read_fn(void *arg)
{
	struct tracked_read *r = arg;

	atomic_store(&r->tid, gettid());
	r->value = POISON;
	r->ret = read(r->fd, &r->value, sizeof(r->value)) < 0 ?
		 -errno : (long)sizeof(r->value);
	atomic_store(&r->done, true);
	return NULL;
}

/* How often the thread @tid has gone to sleep; -1 if unknown. */
static long voluntary_switches(int tid)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/self/task/%d/status", tid);
	return proc_long(path, "voluntary_ctxt_switches: %ld");
}

/*
 * @n readers blocked in read(2) on a wake-one counter get one signal of
 * @value. Exactly @woken of them return, each with @each; after a settle,
 * GET_INFO.readers says @n - @woken and the count is 0; and none of the
 * others was woken at all: its count of voluntary context switches is
 * unchanged (a reader woken for nothing goes back to sleep and counts one
 * more). Then the others are let go, one signal of 1 at a time.
 */
static void wake_one_case(struct __test_metadata *_metadata,
			  FIXTURE_DATA(modes) *self, int n, uint64_t value,
			  int woken, uint64_t each)
{
	struct tracked_read r[8];
	bool joined[8] = { false };
	int i, done = 0;

	ASSERT_GE(8, n);
	for (i = 0; i < n; i++) {
		r[i].fd = self->fd;
		atomic_init(&r[i].tid, 0);
		atomic_init(&r[i].done, false);
		ASSERT_EQ(0, pthread_create(&r[i].thread, NULL,
					    tracked_read_fn, &r[i]));
	}
	ASSERT_TRUE(evq_wait_blocked(self->fd, (uint32_t)n, 0))
		TH_LOG("%d readers never all blocked", n);
	for (i = 0; i < n; i++) {
		r[i].switches = voluntary_switches(atomic_load(&r[i].tid));
		ASSERT_LE(0, r[i].switches) TH_LOG("/proc/self/task/%d/status",
						   atomic_load(&r[i].tid));
	}

	SIGNAL_ONCE(value);
	ASSERT_TRUE(evq_wait_blocked(self->fd, (uint32_t)(n - woken), 0))
		TH_LOG("blocked readers never dropped to %d", n - woken);
	usleep(SETTLE_MS * 1000);
	EXPECT_INFO(0, n - woken, 0);
	for (i = 0; i < n; i++) {
		long now = voluntary_switches(atomic_load(&r[i].tid));

		if (atomic_load(&r[i].done)) {
			pthread_join(r[i].thread, NULL);
			joined[i] = true;
			EXPECT_EQ(8, r[i].ret) TH_LOG("reader %d: %s", i,
						      errstr(r[i].ret));
			EXPECT_EQ(each, r[i].value) TH_LOG("reader %d", i);
			done++;
			continue;
		}
		EXPECT_EQ(r[i].switches, now)
			TH_LOG("reader %d, still blocked, was woken: %ld voluntary switches, %ld before the signal",
			       i, now, r[i].switches);
	}
	EXPECT_EQ(woken, done) TH_LOG("readers that returned");

	for (i = n - done; i > 0; i--) {
		SIGNAL_ONCE(1);
		ASSERT_TRUE(evq_wait_blocked(self->fd, (uint32_t)(i - 1), 0))
			TH_LOG("a signal of 1 let no reader go");
	}
	for (i = 0; i < n; i++)
		if (!joined[i])
			pthread_join(r[i].thread, NULL);
}

/*
 * Wake-one, plain: of three blocked readers, a signal of 1 wakes exactly
 * one, which takes the 1.
 */
TEST_F(modes, wake_one_signal_of_one_wakes_one_of_three_readers)
{
	FACTORY_ATTACHED(0, EVQ_COUNT_MAX, EVQ_WAKE_ONE);
	wake_one_case(_metadata, self, 3, 1, 1, 1);
}

/*
 * Wake-one, plain: a signal of 7 still wakes only one reader (it takes
 * all 7; a second would find nothing).
 */
TEST_F(modes, wake_one_signal_of_seven_wakes_one_reader)
{
	FACTORY_ATTACHED(0, EVQ_COUNT_MAX, EVQ_WAKE_ONE);
	wake_one_case(_metadata, self, 3, 7, 1, 7);
}

/*
 * Wake-one in semaphore mode: of five blocked readers, a signal of 3
 * wakes exactly three, each taking 1.
 */
TEST_F(modes, wake_one_semaphore_signal_of_three_wakes_three_of_five)
{
	FACTORY_ATTACHED(0, EVQ_COUNT_MAX, EVQ_WAKE_ONE | EVQ_SEMAPHORE);
	wake_one_case(_metadata, self, 5, 3, 3, 1);
}

TEST_HARNESS_MAIN
