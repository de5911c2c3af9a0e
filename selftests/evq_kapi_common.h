/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the in-kernel API tests share: a session on the test module
 * evq_testmod (selftests/kmod, /dev/evq_testmod) and its ioctls, a reader
 * blocked in read(2), a writer thread. Used by evq_kapi_test.c (the
 * producers and kernel-side overflow), evq_kapi_guard_test.c (the
 * recursion guard), evq_kapi_modes_test.c (evq's own modes) and
 * evq_peer_test.c (its kernel-signal cases); evq_kapi_fixture.h adds the
 * "kapi" fixture the first two share.
 *
 * Timing: nothing passes or fails on how long something took; what should
 * happen gets WAIT_MS before it counts as a hang.
 */
#ifndef EVQ_KAPI_COMMON_H
#define EVQ_KAPI_COMMON_H

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "evq_ksft_common.h"
#include "kmod/evq_testmod.h"
#include "kselftest_harness.h"

static inline long ioctl_ret(int fd, unsigned long cmd, void *arg)
{
	return ioctl(fd, cmd, arg) < 0 ? -errno : 0;
}

/**
 * tm_open() - a session on the test module
 * @_metadata: the running case, which fails (never skips) without
 *             /dev/evq_testmod
 *
 * Return: the session's descriptor.
 */
static inline int tm_open(struct __test_metadata *_metadata)
{
	int tm = open(EVQ_TESTMOD_DEVICE, O_RDWR | O_CLOEXEC);

	ASSERT_LE(0, tm) TH_LOG("open %s: %s; is evq_testmod.ko loaded?",
				EVQ_TESTMOD_DEVICE, strerror(errno));
	return tm;
}

static inline long attach(int tm, int fd)
{
	return ioctl_ret(tm, EVQ_TESTMOD_IOC_ATTACH, &fd);
}

static inline long tm_signal(int tm, uint64_t value, uint32_t times,
			     uint32_t how)
{
	struct evq_testmod_signal sig = {
		.value = value, .times = times, .how = how,
	};

	return ioctl_ret(tm, EVQ_TESTMOD_IOC_SIGNAL, &sig);
}

static inline struct evq_testmod_stats
stats(struct __test_metadata *_metadata, int tm)
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
static inline uint64_t read_until(int fd, uint64_t want)
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

static inline void *blocked_read_fn(void *arg)
{
	struct blocked_read *b = arg;

	b->value = POISON;
	b->ret = read(b->fd, &b->value, sizeof(b->value)) < 0 ?
		 -errno : (long)sizeof(b->value);
	return NULL;
}

/* Join @b within WAIT_MS; false if it is still blocked. */
static inline bool join_within(struct blocked_read *b)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += WAIT_MS / 1000;
	return pthread_timedjoin_np(b->thread, NULL, &ts) == 0;
}

static inline int pin_to_cpu(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set) ? -errno : 0;
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

static inline void *writer_loop_fn(void *arg)
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

#endif /* EVQ_KAPI_COMMON_H */
