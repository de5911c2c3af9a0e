// SPDX-License-Identifier: GPL-2.0
/*
 * evq_kapi_guard_test - the recursion guard of evq's in-kernel producer
 * API, driven through the test module evq_testmod (selftests/kmod), which
 * must be loaded: setup fails, never skips, without /dev/evq_testmod. The
 * producers themselves are in evq_kapi_test.c, evq's own modes in
 * evq_kapi_modes_test.c; the helpers they share in evq_kapi_common.h,
 * fixture "kapi" (one variant, "evq") in evq_kapi_fixture.h.
 *
 * A wake-up callback cannot signal directly: evq_signal_allowed() is false
 * inside evq's wake-up, whoever woke the counter, and inside a native
 * eventfd's (the guard's mark is eventfd's own), and the callback defers
 * its signal. The guard refuses only the task inside the wake-up: a task
 * that preempted a waker on its CPU (PREEMPT_RT), and one signalling on
 * another CPU while a task is held inside a wake-up, are never refused.
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


/*
 * The recursion guard: a wait-queue callback on counter a, called inside
 * evq's wake-up, must find evq_signal_allowed() false, whoever woke a (a
 * write(2), a burst, an hrtimer, the EPOLLHUP of closing a's file), and so
 * defers its signal of b to a work item; b still gets every one.
 */
TEST_F(kapi, wakeup_callback_may_not_signal_directly)
{
	struct evq_testmod_hook hook = { .watch_fd = self->fd };
	struct evq_testmod_stats st;
	uint64_t v = 1;
	int b;

	b = evq_eventfd(0, EFD_CLOEXEC);
	ASSERT_LE(0, b);
	hook.target_fd = b;
	ASSERT_EQ(0, attach(self->tm, self->fd));
	ASSERT_EQ(0, ioctl_ret(self->tm, EVQ_TESTMOD_IOC_HOOK, &hook));

	ASSERT_EQ(8, write(self->fd, &v, sizeof(v)));
	EXPECT_EQ(1ULL, read_until(b, 1)) TH_LOG("after a write(2) to a");
	ASSERT_EQ(0, tm_signal(self->tm, 1, 1, EVQ_TESTMOD_BURST));
	EXPECT_EQ(1ULL, read_until(b, 1)) TH_LOG("after a burst signal of a");
	ASSERT_EQ(0, tm_signal(self->tm, 1, 1, EVQ_TESTMOD_HRTIMER));
	EXPECT_EQ(1ULL, read_until(b, 1)) TH_LOG("after an hrtimer signal of a");

	/* Closing a wakes the callback with EPOLLHUP, also guarded. */
	close(self->fd);
	self->fd = -1;

	st = stats(_metadata, self->tm);
	EXPECT_EQ(3ULL, st.cb_calls);
	EXPECT_EQ(0ULL, st.cb_direct)
		TH_LOG("evq_signal_allowed() was true inside a wake-up");
	EXPECT_EQ(3ULL, st.cb_deferred);
	EXPECT_EQ(1ULL, st.cb_hup) TH_LOG("EPOLLHUP when a's file was closed");
	EXPECT_EQ(0ULL, st.refused);
	close(b);
}

/*
 * The guard's mark is eventfd's own (current->in_eventfd), so inside a
 * native eventfd's wake-up callbacks evq_signal_allowed() is false too: a
 * recursion that alternates between eventfd and evq is stopped as well.
 * The hook watches an eventfd and signals an evq counter; both ways of
 * waking the eventfd, write(2) and eventfd_signal(), must defer.
 */
TEST_F(kapi, eventfd_wakeup_callback_may_not_signal_evq_directly)
{
	struct evq_testmod_native nat = { .times = 1 };
	struct evq_testmod_hook hook = { 0 };
	struct evq_testmod_stats st;
	uint64_t v = 1;
	int e, b;

	e = eventfd(0, EFD_CLOEXEC);
	ASSERT_LE(0, e);
	b = evq_eventfd(0, EFD_CLOEXEC);
	ASSERT_LE(0, b);
	hook.watch_fd = e;
	hook.target_fd = b;
	nat.fd = e;
	ASSERT_EQ(0, ioctl_ret(self->tm, EVQ_TESTMOD_IOC_HOOK, &hook));

	ASSERT_EQ(8, write(e, &v, sizeof(v)));
	EXPECT_EQ(1ULL, read_until(b, 1)) TH_LOG("after a write(2) to the eventfd");
	ASSERT_EQ(0, ioctl_ret(self->tm, EVQ_TESTMOD_IOC_NATIVE_SIGNAL, &nat));
	EXPECT_EQ(1ULL, read_until(b, 1)) TH_LOG("after an eventfd_signal()");

	st = stats(_metadata, self->tm);
	EXPECT_EQ(2ULL, st.cb_calls);
	EXPECT_EQ(0ULL, st.cb_direct)
		TH_LOG("evq_signal_allowed() was true inside an eventfd's wake-up, expected false");
	EXPECT_EQ(2ULL, st.cb_deferred);
	EXPECT_EQ(0ULL, st.refused);
	close(e);
	close(b);
}

/* The waker of signal_from_a_task_that_preempted_a_waker_is_allowed. */
struct waker_loop {
	pthread_t thread;
	int fd;			/* a counter registered in an epoll set */
	atomic_bool stop;
	long ret;
	unsigned long writes;
};

static void *waker_loop_fn(void *arg)
{
	struct waker_loop *w = arg;
	uint64_t one = 1, v;

	w->ret = pin_to_cpu(0);
	while (!w->ret && !atomic_load(&w->stop)) {
		/*
		 * Every write wakes the epoll entry, under the counter's lock;
		 * now and then a read keeps the count small.
		 */
		bool ok = write(w->fd, &one, sizeof(one)) == sizeof(one) &&
			  (++w->writes % 1024 ||
			   read(w->fd, &v, sizeof(v)) == sizeof(v));

		if (!ok)
			w->ret = -errno;
	}
	return NULL;
}

/*
 * The recursion guard marks the task that is inside an evq wake-up, not
 * the CPU. On PREEMPT_RT a wake-up runs with preemption on, so another
 * task may run on that CPU in the middle of it, and it must still be
 * allowed to signal. Here a SCHED_FIFO task shares CPU 0 with a task that
 * wakes an epoll entry in a loop, and wakes up every 50 us to signal: on
 * RT it often preempts the waker inside its wake-up. Not one signal may be
 * refused. (With the guard as a per-CPU flag, RT refused them; elsewhere
 * the wake-up runs with interrupts off and the high-priority task waits.)
 */
TEST_F(kapi, signal_from_a_task_that_preempted_a_waker_is_allowed)
{
	enum { ROUNDS = 2000 };
	struct epoll_event ev = { .events = EPOLLIN };
	struct sched_param prio = { .sched_priority = 10 };
	struct waker_loop w = { .fd = evq_eventfd(0, EFD_CLOEXEC) };
	struct evq_testmod_stats st;
	int ep = epoll_create1(EPOLL_CLOEXEC);
	long ret = 0;
	int i;

	ASSERT_LE(0, w.fd);
	ASSERT_LE(0, ep);
	ASSERT_EQ(0, epoll_ctl(ep, EPOLL_CTL_ADD, w.fd, &ev));
	ASSERT_EQ(0, attach(self->tm, self->fd));
	ASSERT_EQ(0, pin_to_cpu(0));
	ASSERT_EQ(0, pthread_create(&w.thread, NULL, waker_loop_fn, &w));
	ASSERT_EQ(0, sched_setscheduler(0, SCHED_FIFO, &prio))
		TH_LOG("SCHED_FIFO: %s (needs root)", strerror(errno));
	for (i = 0; i < ROUNDS && !ret; i++) {
		usleep(50);
		ret = tm_signal(self->tm, 1, 1, EVQ_TESTMOD_BURST);
	}
	prio.sched_priority = 0;
	sched_setscheduler(0, SCHED_OTHER, &prio);
	atomic_store(&w.stop, true);
	pthread_join(w.thread, NULL);
	EXPECT_EQ(0, ret) TH_LOG("SIGNAL: %s", errstr(ret));
	EXPECT_EQ(0, w.ret) TH_LOG("waker: %s", errstr(w.ret));
	st = stats(_metadata, self->tm);
	EXPECT_EQ(0ULL, st.refused)
		TH_LOG("%llu of %d signals refused while the waker made %lu writes",
		       (unsigned long long)st.refused, ROUNDS, w.writes);
	EXPECT_EQ((uint64_t)ROUNDS, st.signalled);
	EXPECT_EQ((uint64_t)ROUNDS, read_until(self->fd, ROUNDS));
	close(ep);
	close(w.fd);
}

/*
 * The recursion guard refuses only the task that is inside an evq
 * wake-up, never the others. Here a writer on CPU 0 wakes a hooked
 * counter whose callback stays inside each wake-up for 20 ms, while this
 * task, on CPU 1, signals another counter from the kernel in a loop:
 * every one of its signals must land, and some must have been made while
 * the writer was held inside (else the case proved nothing). A guard
 * that marked the CPU, a bucket or the whole module would refuse them.
 */
TEST_F(kapi, signals_beside_a_task_held_in_a_wake_up_all_land)
{
	enum { WRITES = 20, HOLD_US = 20000 };
	struct evq_testmod_hook hook = { .hold_us = HOLD_US };
	struct writer_loop w = { .n = WRITES, .pin = true, .cpu = 0 };
	struct evq_testmod_stats st;
	uint64_t rounds = 0;
	long ret = 0;
	int hooker, b;

	if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
		SKIP(return, "needs two CPUs: one held in a wake-up, one signalling");
	hooker = open(EVQ_TESTMOD_DEVICE, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, hooker);
	w.fd = evq_eventfd(0, EFD_CLOEXEC);
	b = evq_eventfd(0, EFD_CLOEXEC);
	ASSERT_LE(0, w.fd);
	ASSERT_LE(0, b);
	hook.watch_fd = w.fd;
	hook.target_fd = b;
	ret = ioctl_ret(hooker, EVQ_TESTMOD_IOC_HOOK, &hook);
	ASSERT_EQ(0, ret) TH_LOG("HOOK with hold_us: %s", errstr(ret));
	ASSERT_EQ(0, attach(self->tm, self->fd));
	ASSERT_EQ(0, pin_to_cpu(1));

	ASSERT_EQ(0, pthread_create(&w.thread, NULL, writer_loop_fn, &w));
	while (!atomic_load(&w.done) && !ret) {
		ret = tm_signal(self->tm, 1, 1, EVQ_TESTMOD_BURST);
		rounds++;
	}
	pthread_join(w.thread, NULL);
	EXPECT_EQ(0, ret) TH_LOG("SIGNAL: %s", errstr(ret));
	EXPECT_EQ(0, w.ret) TH_LOG("writer: %s", errstr(w.ret));

	st = stats(_metadata, self->tm);
	EXPECT_EQ(0ULL, st.refused)
		TH_LOG("%llu of %llu signals refused beside a held wake-up",
		       (unsigned long long)st.refused,
		       (unsigned long long)rounds);
	EXPECT_EQ(rounds, st.signalled);
	EXPECT_LT(0ULL, st.during_hold)
		TH_LOG("no signal was made while the writer was held inside");
	EXPECT_EQ(rounds, read_until(self->fd, rounds));
	/* The held task itself was refused, and deferred every signal. */
	st = stats(_metadata, hooker);
	EXPECT_EQ((uint64_t)WRITES, st.cb_calls);
	EXPECT_EQ(0ULL, st.cb_direct)
		TH_LOG("evq_signal_allowed() was true inside a wake-up");
	EXPECT_EQ((uint64_t)WRITES, read_until(b, WRITES));
	close(hooker);
	close(w.fd);
	close(b);
}

TEST_HARNESS_MAIN
