// SPDX-License-Identifier: GPL-2.0
/*
 * evq_kapi_test - evq's in-kernel producer API, driven through the test
 * module evq_testmod (selftests/kmod), which must be loaded: setup fails,
 * never skips, without /dev/evq_testmod.
 *
 * The test module signals a counter the way a driver would: in a burst from
 * process context, from an hrtimer in hard-IRQ context and from a work
 * item. The tests check that the values add up, that blocked readers and
 * pollers wake, that a kernel-side overflow saturates at ULLONG_MAX with
 * EPOLLERR and a read of 0xffffffffffffffff (fixture "overflow", beside
 * native eventfd's eventfd_signal()), that a counter stays usable by
 * the kernel after its file descriptor is closed, that only /dev/evq files
 * are accepted, and that a wake-up callback cannot signal directly (the
 * recursion guard, which refuses only the task inside the wake-up, of an
 * evq counter or of a native eventfd).
 *
 * Fixture "kapi" tests evq's own API and has no native variant; its one
 * variant is called "evq", so that `evq_kapi_test -v evq` runs every evq
 * case, as for the other suites. Fixture "modes" (variant "evq" too)
 * signals counters in evq's own modes, made by the factory: below a
 * maximum a signal stops there and drops the rest, in bit mode it ORs,
 * in wake-one mode it wakes only the readers it can serve, and with
 * EVQ_FAST it lands in the shared page and wakes a blocked reader.
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
#include "kselftest_harness.h"

static long ioctl_ret(int fd, unsigned long cmd, void *arg)
{
	return ioctl(fd, cmd, arg) < 0 ? -errno : 0;
}

static long attach(int tm, int fd)
{
	return ioctl_ret(tm, EVQ_TESTMOD_IOC_ATTACH, &fd);
}

static long tm_signal(int tm, uint64_t value, uint32_t times, uint32_t how)
{
	struct evq_testmod_signal sig = {
		.value = value, .times = times, .how = how,
	};

	return ioctl_ret(tm, EVQ_TESTMOD_IOC_SIGNAL, &sig);
}

static struct evq_testmod_stats stats(struct __test_metadata *_metadata,
				      int tm)
{
	struct evq_testmod_stats st;
	long ret;

	memset(&st, 0xa5, sizeof(st));
	ret = ioctl_ret(tm, EVQ_TESTMOD_IOC_STATS, &st);
	EXPECT_EQ(0, ret) TH_LOG("STATS: %s", errstr(ret));
	return st;
}

/*
 * Read @fd (blocking, non-semaphore) until the values add up to @want or
 * WAIT_MS pass without POLLIN. Returns the sum, which is more than @want
 * if more arrived.
 */
static uint64_t read_until(int fd, uint64_t want)
{
	uint64_t sum = 0, v;
	struct pollfd p = { .fd = fd, .events = POLLIN };

	while (sum < want) {
		if (poll(&p, 1, WAIT_MS) <= 0)
			break;
		v = POISON;
		if (read(fd, &v, sizeof(v)) != sizeof(v))
			break;
		sum += v;
	}
	return sum;
}

struct blocked_read {
	pthread_t thread;
	int fd;
	uint64_t value;
	long ret;
};

static void *blocked_read_fn(void *arg)
{
	struct blocked_read *b = arg;

	b->value = POISON;
	b->ret = read(b->fd, &b->value, sizeof(b->value)) < 0 ?
		 -errno : (long)sizeof(b->value);
	return NULL;
}

/* Join @b within WAIT_MS; false if it is still blocked. */
static bool join_within(struct blocked_read *b)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += WAIT_MS / 1000;
	return pthread_timedjoin_np(b->thread, NULL, &ts) == 0;
}

FIXTURE(kapi) {
	int tm;		/* a /dev/evq_testmod session */
	int fd;		/* a /dev/evq counter, count 0, blocking */
};

FIXTURE_VARIANT(kapi) {
	int unused;
};

FIXTURE_VARIANT_ADD(kapi, evq) {
	.unused = 0,
};

FIXTURE_SETUP(kapi)
{
	(void)variant;
	self->fd = -1;
	self->tm = open(EVQ_TESTMOD_DEVICE, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->tm)
		TH_LOG("open %s: %s; is evq_testmod.ko loaded?",
		       EVQ_TESTMOD_DEVICE, strerror(errno));
	self->fd = evq_eventfd(0, EFD_CLOEXEC);
	ASSERT_LE(0, self->fd) TH_LOG("evq_eventfd: %s", strerror(errno));
}

FIXTURE_TEARDOWN(kapi)
{
	if (self->fd >= 0)
		close(self->fd);
	if (self->tm >= 0)
		close(self->tm);
}

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

/* A thread that writes 1 @n times, on CPU @cpu if @pin; @done after. */
struct writer_loop {
	pthread_t thread;
	int fd;
	int n;
	bool pin;
	int cpu;
	atomic_bool done;
	long ret;
};

static int pin_to_cpu(int cpu);

static void *writer_loop_fn(void *arg)
{
	struct writer_loop *w = arg;
	uint64_t one = 1;
	int i;

	w->ret = w->pin ? pin_to_cpu(w->cpu) : 0;
	for (i = 0; i < w->n && !w->ret; i++) {
		if (write(w->fd, &one, sizeof(one)) != sizeof(one))
			w->ret = -errno;
	}
	atomic_store(&w->done, true);
	return NULL;
}

/* The waker of signal_from_a_task_that_preempted_a_waker_is_allowed. */
struct waker_loop {
	pthread_t thread;
	int fd;			/* a counter registered in an epoll set */
	atomic_bool stop;
	long ret;
	unsigned long writes;
};

static int pin_to_cpu(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set) ? -errno : 0;
}

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
	self->tm = open(EVQ_TESTMOD_DEVICE, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->tm)
		TH_LOG("open %s: %s; is evq_testmod.ko loaded?",
		       EVQ_TESTMOD_DEVICE, strerror(errno));
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
	self->tm = open(EVQ_TESTMOD_DEVICE, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->tm)
		TH_LOG("open %s: %s; is evq_testmod.ko loaded?",
		       EVQ_TESTMOD_DEVICE, strerror(errno));
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
