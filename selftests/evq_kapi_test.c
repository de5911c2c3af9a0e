// SPDX-License-Identifier: GPL-2.0
/*
 * evq_kapi_test - evq's in-kernel producer API, driven through the test
 * module evq_testmod (selftests/kmod), which must be loaded: setup fails,
 * never skips, without /dev/evq_testmod. The recursion guard is in
 * evq_kapi_guard_test.c, evq's own modes in evq_kapi_modes_test.c; the
 * helpers they share in evq_kapi_common.h, fixture "kapi" in
 * evq_kapi_fixture.h.
 *
 * The test module signals a counter the way a driver would: in a burst from
 * process context, from an hrtimer in hard-IRQ context and from a work
 * item. The tests check that the values add up, also with every producer
 * at once, that blocked readers and pollers wake, that a kernel-side
 * overflow saturates at ULLONG_MAX with EPOLLERR and a read of
 * 0xffffffffffffffff (fixture "overflow", beside native eventfd's
 * eventfd_signal()), that a counter stays usable by the kernel after its
 * file descriptor is closed, and that only /dev/evq files are accepted.
 *
 * Fixture "kapi" tests evq's own API and has no native variant; its one
 * variant is called "evq", so that `evq_kapi_test -v evq` runs every evq
 * case, as for the other suites.
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
#include "evq_kapi_fixture.h"
#include "kselftest_harness.h"

TEST_F(kapi, fdget_rejects_what_is_not_an_evq_counter)
{
	int efd = eventfd(0, EFD_CLOEXEC);
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	int closed = dup(self->fd);
	long ret;

	ASSERT_LE(0, efd);
	ASSERT_LE(0, null);
	ASSERT_LE(0, closed);
	close(closed);

	ret = attach(self->tm, efd);
	EXPECT_EQ(-EINVAL, ret) TH_LOG("native eventfd: %s", errstr(ret));
	ret = attach(self->tm, null);
	EXPECT_EQ(-EINVAL, ret) TH_LOG("/dev/null: %s", errstr(ret));
	ret = attach(self->tm, self->tm);
	EXPECT_EQ(-EINVAL, ret) TH_LOG("/dev/evq_testmod: %s", errstr(ret));
	ret = attach(self->tm, -1);
	EXPECT_EQ(-EBADF, ret) TH_LOG("fd -1: %s", errstr(ret));
	ret = attach(self->tm, closed);
	EXPECT_EQ(-EBADF, ret) TH_LOG("closed fd: %s", errstr(ret));
	ret = tm_signal(self->tm, 1, 1, EVQ_TESTMOD_BURST);
	EXPECT_EQ(-ENOTCONN, ret)
		TH_LOG("signal after failed attaches: %s", errstr(ret));

	ret = attach(self->tm, self->fd);
	EXPECT_EQ(0, ret) TH_LOG("/dev/evq: %s", errstr(ret));
	close(efd);
	close(null);
}

TEST_F(kapi, burst_values_add_up)
{
	struct evq_testmod_stats st;
	uint64_t v = POISON;
	long ret;

	ASSERT_EQ(0, attach(self->tm, self->fd));
	ret = tm_signal(self->tm, 3, 1000, EVQ_TESTMOD_BURST);
	ASSERT_EQ(0, ret) TH_LOG("SIGNAL: %s", errstr(ret));
	ASSERT_EQ(8, read(self->fd, &v, sizeof(v)));
	EXPECT_EQ(3000ULL, v);
	st = stats(_metadata, self->tm);
	EXPECT_EQ(1000ULL, st.signalled);
	EXPECT_EQ(0ULL, st.refused);
	EXPECT_EQ(0ULL, st.hardirq + st.softirq)
		TH_LOG("a burst runs in process context");
}

TEST_F(kapi, signal_of_zero_wakes_and_adds_nothing)
{
	struct blocked_read b = { .fd = self->fd };

	ASSERT_EQ(0, attach(self->tm, self->fd));
	ASSERT_EQ(0, pthread_create(&b.thread, NULL, blocked_read_fn, &b));
	usleep(SETTLE_MS * 1000);
	ASSERT_EQ(0, tm_signal(self->tm, 0, 1, EVQ_TESTMOD_BURST));
	EXPECT_EQ(POLLOUT, poll_now(self->fd)) TH_LOG("count must stay 0");
	ASSERT_EQ(0, tm_signal(self->tm, 4, 1, EVQ_TESTMOD_BURST));
	ASSERT_TRUE(join_within(&b)) TH_LOG("reader not woken by a signal");
	EXPECT_EQ(8, b.ret) TH_LOG("read: %s", errstr(b.ret));
	EXPECT_EQ(4ULL, b.value);
}

TEST_F(kapi, burst_wakes_blocked_reader)
{
	struct blocked_read b = { .fd = self->fd };

	ASSERT_EQ(0, attach(self->tm, self->fd));
	ASSERT_EQ(0, pthread_create(&b.thread, NULL, blocked_read_fn, &b));
	usleep(SETTLE_MS * 1000);
	ASSERT_EQ(0, tm_signal(self->tm, 7, 1, EVQ_TESTMOD_BURST));
	ASSERT_TRUE(join_within(&b)) TH_LOG("reader not woken by a signal");
	EXPECT_EQ(8, b.ret) TH_LOG("read: %s", errstr(b.ret));
	EXPECT_EQ(7ULL, b.value);
}

/*
 * How many of a session's signals came from the hrtimer's context: hard
 * IRQ, or softirq on PREEMPT_RT (the test module's timers are plain
 * HRTIMER_MODE_REL, which RT expires in softirq context).
 */
static uint64_t timer_context_signals(struct __test_metadata *_metadata,
				      const struct evq_testmod_stats *st)
{
	if (st->preempt_rt) {
		EXPECT_EQ(0ULL, st->hardirq) TH_LOG("PREEMPT_RT: no hard IRQ");
		return st->softirq;
	}
	EXPECT_EQ(0ULL, st->softirq) TH_LOG("not RT: the timer is hard IRQ");
	return st->hardirq;
}

TEST_F(kapi, hrtimer_signals_from_irq_context_add_up)
{
	struct evq_testmod_stats st;
	struct blocked_read b = { .fd = self->fd };
	uint64_t sum;

	ASSERT_EQ(0, attach(self->tm, self->fd));
	/* The first expiry wakes a reader blocked in read(2). */
	ASSERT_EQ(0, pthread_create(&b.thread, NULL, blocked_read_fn, &b));
	usleep(SETTLE_MS * 1000);
	ASSERT_EQ(0, tm_signal(self->tm, 2, 50, EVQ_TESTMOD_HRTIMER));
	ASSERT_TRUE(join_within(&b)) TH_LOG("reader not woken by the hrtimer");
	ASSERT_EQ(8, b.ret) TH_LOG("read: %s", errstr(b.ret));
	ASSERT_EQ(0ULL, b.value % 2) TH_LOG("read %llu",
					    (unsigned long long)b.value);
	sum = b.value + read_until(self->fd, 100 - b.value);
	EXPECT_EQ(100ULL, sum) TH_LOG("50 signals of 2");
	st = stats(_metadata, self->tm);
	EXPECT_EQ(50ULL, st.signalled);
	EXPECT_EQ(50ULL, timer_context_signals(_metadata, &st))
		TH_LOG("every expiry in the timer's IRQ context (preempt_rt %u)",
		       st.preempt_rt);
	EXPECT_EQ(0ULL, st.refused);
}

TEST_F(kapi, work_signals_add_up_and_wake_epoll)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLET };
	struct evq_testmod_stats st;
	int ep, n;

	ASSERT_EQ(0, attach(self->tm, self->fd));
	ep = epoll_create1(EPOLL_CLOEXEC);
	ASSERT_LE(0, ep);
	ASSERT_EQ(0, epoll_ctl(ep, EPOLL_CTL_ADD, self->fd, &ev));
	ASSERT_EQ(0, tm_signal(self->tm, 1, 500, EVQ_TESTMOD_WORK));
	n = epoll_wait(ep, &ev, 1, WAIT_MS);
	EXPECT_EQ(1, n) TH_LOG("epoll_wait: %d, %s", n, strerror(errno));
	EXPECT_EQ(EPOLLIN, ev.events);
	close(ep);
	EXPECT_EQ(500ULL, read_until(self->fd, 500));
	st = stats(_metadata, self->tm);
	EXPECT_EQ(500ULL, st.signalled);
	EXPECT_EQ(0ULL, st.hardirq + st.softirq)
		TH_LOG("work runs in process context");
}

struct epoll_waiter {
	pthread_t thread;
	int ep;
	atomic_int n;		/* epoll_wait()'s return, once it has returned */
	uint32_t events;	/* valid once n is set */
};

static void *epoll_waiter_fn(void *arg)
{
	struct epoll_waiter *w = arg;
	struct epoll_event ev = { 0 };

	int n = epoll_wait(w->ep, &ev, 1, WAIT_MS);

	w->events = ev.events;
	atomic_store(&w->n, n);
	return NULL;
}

TEST_F(kapi, overflow_from_zero_with_one_signal)
{
	uint64_t v = POISON;

	ASSERT_EQ(0, attach(self->tm, self->fd));
	ASSERT_EQ(0, tm_signal(self->tm, UINT64_MAX, 1, EVQ_TESTMOD_BURST));
	EXPECT_EQ(POLLIN | POLLERR, poll_now(self->fd));
	ASSERT_EQ(8, read(self->fd, &v, sizeof(v)));
	EXPECT_EQ(UINT64_MAX, v);
}

TEST_F(kapi, semaphore_counter_reads_one_per_signal)
{
	int fd = evq_eventfd(0, EFD_SEMAPHORE | EFD_NONBLOCK | EFD_CLOEXEC);
	uint64_t v;
	int i;

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, attach(self->tm, fd));
	ASSERT_EQ(0, tm_signal(self->tm, 1, 5, EVQ_TESTMOD_BURST));
	for (i = 0; i < 5; i++) {
		v = POISON;
		EXPECT_EQ(8, read(fd, &v, sizeof(v))) TH_LOG("read %d", i);
		EXPECT_EQ(1ULL, v);
	}
	EXPECT_EQ(-1, read(fd, &v, sizeof(v)));
	EXPECT_EQ(EAGAIN, errno);
	close(fd);
}

/*
 * The test module's reference keeps the counter alive after the last file
 * descriptor is closed; signals then reach nobody, and the counter is
 * freed when the session ends (KASAN and kmemleak see to the rest on the
 * debug kernel). A dup() shows that closing one descriptor changes
 * nothing for the others.
 */
TEST_F(kapi, counter_outlives_its_file_descriptors)
{
	struct evq_testmod_stats st;
	int dupfd = dup(self->fd);
	uint64_t v = POISON;

	ASSERT_LE(0, dupfd);
	ASSERT_EQ(0, attach(self->tm, self->fd));
	close(self->fd);
	self->fd = -1;
	ASSERT_EQ(0, tm_signal(self->tm, 6, 1, EVQ_TESTMOD_BURST));
	ASSERT_EQ(8, read(dupfd, &v, sizeof(v)));
	EXPECT_EQ(6ULL, v);
	close(dupfd);
	ASSERT_EQ(0, tm_signal(self->tm, 1, 10, EVQ_TESTMOD_BURST));
	ASSERT_EQ(0, tm_signal(self->tm, 1, 10, EVQ_TESTMOD_HRTIMER));
	usleep(SETTLE_MS * 1000);
	st = stats(_metadata, self->tm);
	EXPECT_EQ(0ULL, st.refused);
}


/*
 * Every producer at once on one counter: an hrtimer (hard IRQ), a work
 * item and a burst, each from its own session, and a thread writing with
 * write(2), while this thread reads. Nothing is lost or counted twice.
 */
TEST_F(kapi, all_producers_at_once_add_up)
{
	enum { TIMER_N = 200, WORK_N = 2000, BURST_N = 2000, WRITE_N = 2000 };
	int tm2 = open(EVQ_TESTMOD_DEVICE, O_RDWR | O_CLOEXEC);
	int tm3 = open(EVQ_TESTMOD_DEVICE, O_RDWR | O_CLOEXEC);
	struct writer_loop w = { .fd = self->fd, .n = WRITE_N };
	uint64_t want = TIMER_N + WORK_N + BURST_N + WRITE_N;
	struct evq_testmod_stats st;

	ASSERT_LE(0, tm2);
	ASSERT_LE(0, tm3);
	ASSERT_EQ(0, attach(self->tm, self->fd));
	ASSERT_EQ(0, attach(tm2, self->fd));
	ASSERT_EQ(0, attach(tm3, self->fd));
	ASSERT_EQ(0, tm_signal(self->tm, 1, TIMER_N, EVQ_TESTMOD_HRTIMER));
	ASSERT_EQ(0, tm_signal(tm2, 1, WORK_N, EVQ_TESTMOD_WORK));
	ASSERT_EQ(0, pthread_create(&w.thread, NULL, writer_loop_fn, &w));
	ASSERT_EQ(0, tm_signal(tm3, 1, BURST_N, EVQ_TESTMOD_BURST));
	EXPECT_EQ(want, read_until(self->fd, want));
	pthread_join(w.thread, NULL);
	EXPECT_EQ(0, w.ret) TH_LOG("write: %s", errstr(w.ret));
	st = stats(_metadata, self->tm);
	EXPECT_EQ((uint64_t)TIMER_N, timer_context_signals(_metadata, &st));
	close(tm3);
	close(tm2);
}

/* ---- kernel-side overflow, native eventfd beside evq -------------------- */

/*
 * Fixture "overflow" compares the in-kernel signal of the two: variant
 * "native" calls eventfd_signal() on an eventfd (through the test module's
 * NATIVE_SIGNAL), "evq" calls evq_signal(). Both saturate at ULLONG_MAX,
 * report EPOLLIN | EPOLLERR and read 0xffffffffffffffff. The difference
 * stated here: eventfd wakes with EPOLLIN only, so a waiter that asked only
 * for EPOLLOUT (and so gets EPOLLERR) sleeps on; evq wakes with EPOLLERR
 * too, and that waiter sees the error.
 */
FIXTURE(overflow) {
	int tm;
	int fd;
};

FIXTURE_VARIANT(overflow) {
	bool is_evq;
};

FIXTURE_VARIANT_ADD(overflow, native) {
	.is_evq = false,
};

FIXTURE_VARIANT_ADD(overflow, evq) {
	.is_evq = true,
};

FIXTURE_SETUP(overflow)
{
	self->fd = -1;
	self->tm = tm_open(_metadata);
	self->fd = variant->is_evq ? evq_eventfd(0, EFD_CLOEXEC) :
				     eventfd(0, EFD_CLOEXEC);
	ASSERT_LE(0, self->fd) TH_LOG("counter: %s", strerror(errno));
	if (variant->is_evq)
		ASSERT_EQ(0, attach(self->tm, self->fd));
}

FIXTURE_TEARDOWN(overflow)
{
	if (self->fd >= 0)
		close(self->fd);
	if (self->tm >= 0)
		close(self->tm);
}

/* Add @times ones from the kernel, the variant's way. */
static long kernel_signal(const FIXTURE_VARIANT(overflow) *variant,
			  FIXTURE_DATA(overflow) *self, uint32_t times)
{
	struct evq_testmod_native nat = { .fd = self->fd, .times = times };

	if (variant->is_evq)
		return tm_signal(self->tm, 1, times, EVQ_TESTMOD_BURST);
	return ioctl_ret(self->tm, EVQ_TESTMOD_IOC_NATIVE_SIGNAL, &nat);
}

TEST_F(overflow, kernel_signal_saturates_with_epollerr)
{
	struct epoll_event ev = { .events = EPOLLOUT };
	struct epoll_waiter w = { 0 };
	uint64_t v = COUNT_MAX;
	long ret;
	int mask;

	ASSERT_EQ(8, write(self->fd, &v, sizeof(v)));
	w.ep = epoll_create1(EPOLL_CLOEXEC);
	ASSERT_LE(0, w.ep);
	ASSERT_EQ(0, epoll_ctl(w.ep, EPOLL_CTL_ADD, self->fd, &ev));
	ASSERT_EQ(0, pthread_create(&w.thread, NULL, epoll_waiter_fn, &w));
	usleep(SETTLE_MS * 1000);

	ret = kernel_signal(variant, self, 1);
	ASSERT_EQ(0, ret) TH_LOG("signal: %s", errstr(ret));
	mask = poll_now(self->fd);
	EXPECT_EQ(POLLIN | POLLERR, mask) TH_LOG("poll mask %#x", mask);
	ret = kernel_signal(variant, self, 2);
	ASSERT_EQ(0, ret) TH_LOG("signal at ULLONG_MAX: %s", errstr(ret));

	if (variant->is_evq) {
		pthread_join(w.thread, NULL);
		EXPECT_EQ(1, atomic_load(&w.n))
			TH_LOG("EPOLLOUT waiter not woken at overflow");
		EXPECT_EQ(EPOLLERR, w.events);
	} else {
		/* Woken only by a wake-up with EPOLLERR; eventfd's has none. */
		usleep(SETTLE_MS * 1000);
		EXPECT_EQ(0, atomic_load(&w.n))
			TH_LOG("native eventfd woke the EPOLLOUT waiter: the kernel now wakes with EPOLLERR");
	}

	v = POISON;
	ASSERT_EQ(8, read(self->fd, &v, sizeof(v)));
	EXPECT_EQ(UINT64_MAX, v);
	mask = poll_now(self->fd);
	EXPECT_EQ(POLLOUT, mask) TH_LOG("after the read: poll mask %#x", mask);
	/* The read woke the EPOLLOUT waiter, if it was still waiting. */
	pthread_join(w.thread, NULL);
	close(w.ep);
}

TEST_HARNESS_MAIN
