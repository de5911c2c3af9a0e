// SPDX-License-Identifier: GPL-2.0
/*
 * evq_wakeone_test - a wake-one reader that a write chooses while it is
 * already awake must not absorb the wake-up.
 *
 * In wake-one mode a write of n wakes at most n blocked readers (semaphore
 * mode), and a reader counts as woken only if the wake-up really woke it:
 * one that a signal woke a moment before, and that has not run yet, is
 * passed over. If it were counted, a write of 2 could spend both wake-ups
 * on it (the write looks at the readers on its own CPU first, then at all
 * of them, and it is in both) and leave another reader asleep with the
 * count at 1.
 *
 * signalled_reader_does_not_absorb_the_wake_ups builds that order on
 * purpose: reader A pinned to CPU 0, reader B to CPU 1, both blocked; the
 * writer, pinned to CPU 0 and SCHED_FIFO so that A cannot run in between,
 * signals A and writes 2 at once. Both readers must each take 1.
 * signals_at_blocked_readers_lose_no_wake_up aims signals at blocked
 * readers while writes arrive, thousands of times; everything written
 * must be read in the end. A reader left asleep while the count is
 * non-zero fails either case (after WAIT_MS, a liveness deadline only).
 *
 * Fixture "wake_one" has one variant, "evq". Needs two CPUs and
 * SCHED_FIFO (root); skips with the reason otherwise.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include <linux/evq.h>

#include "evq_ksft_common.h"
#include "kselftest_harness.h"

/* Rounds of the deliberate order, and signal+write pairs of the storm. */
#define ORDER_ROUNDS	100
#define STORM_WRITES	5000
#define STORM_READERS	4

static int pin_to(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set) ? -errno : 0;
}

struct reader {
	pthread_t th;
	int fd;
	int cpu;		/* pinned here, or -1 */
	atomic_bool stop;	/* storm: leave at the next EINTR */
	atomic_bool done;
	atomic_ullong taken;	/* what the reads returned, summed */
	long ret;		/* the last read's return, or -errno */
};

/* Read 8 bytes until stopped (storm) or once (@once). */
static void *reader_fn(void *arg)
{
	struct reader *r = arg;
	uint64_t v;

	r->ret = r->cpu >= 0 ? pin_to(r->cpu) : 0;
	while (!r->ret) {
		r->ret = read_u64(r->fd, &v);
		if (r->ret == 8)
			atomic_fetch_add(&r->taken, v);
		if (r->ret == 8 && r->cpu >= 0)
			break;
		if (r->ret == -EINTR)
			r->ret = atomic_load(&r->stop) ? 1 : 0;
		else if (r->ret == 8)
			r->ret = 0;
	}
	atomic_store(&r->done, true);
	return NULL;
}

static int start_reader(struct reader *r, int fd, int cpu)
{
	memset(r, 0, sizeof(*r));
	r->fd = fd;
	r->cpu = cpu;
	return pthread_create(&r->th, NULL, reader_fn, r) ? -1 : 0;
}

FIXTURE(wake_one) {
	int fd;		/* semaphore, wake-one, count 0, blocking */
};

FIXTURE_VARIANT(wake_one) {
	int unused;
};

FIXTURE_VARIANT_ADD(wake_one, evq) {
	.unused = 0,
};

FIXTURE_SETUP(wake_one)
{
	ASSERT_EQ(0, sigusr1_interrupts(sigusr1_ignore));
	self->fd = evq_mode_counter(true, 0, EVQ_COUNT_MAX,
				    EVQ_SEMAPHORE | EVQ_WAKE_ONE, false);
	ASSERT_LE(0, self->fd) TH_LOG("wake-one semaphore counter: %s",
				      errstr(self->fd));
}

FIXTURE_TEARDOWN(wake_one)
{
	if (self->fd >= 0)
		close(self->fd);
}

static uint64_t count_of(int fd)
{
	struct evq_info info;

	return evq_info_of(fd, &info) ? UINT64_MAX : info.count;
}

TEST_F(wake_one, signalled_reader_does_not_absorb_the_wake_ups)
{
	struct sched_param fifo = { .sched_priority = 1 };
	struct sched_param other = { .sched_priority = 0 };
	struct reader a, b;
	int round;

	if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
		SKIP(return, "needs two CPUs");
	ASSERT_EQ(0, pin_to(0));
	if (sched_setscheduler(0, SCHED_FIFO, &fifo))
		SKIP(return, "SCHED_FIFO: %s (needs root)", strerror(errno));
	ASSERT_EQ(0, sched_setscheduler(0, SCHED_OTHER, &other));

	for (round = 0; round < ORDER_ROUNDS; round++) {
		/* B blocks on CPU 1, then A on CPU 0, the writer's. */
		ASSERT_EQ(0, start_reader(&b, self->fd, 1));
		ASSERT_TRUE(evq_wait_blocked(self->fd, 1, 0))
			TH_LOG("round %d: reader B did not block", round);
		ASSERT_EQ(0, start_reader(&a, self->fd, 0));
		ASSERT_TRUE(evq_wait_blocked(self->fd, 2, 0))
			TH_LOG("round %d: reader A did not block", round);

		/* A is woken by the signal but cannot run before the write. */
		ASSERT_EQ(0, sched_setscheduler(0, SCHED_FIFO, &fifo));
		pthread_kill(a.th, SIGUSR1);
		ASSERT_EQ(8, write_u64(self->fd, 2));
		ASSERT_EQ(0, sched_setscheduler(0, SCHED_OTHER, &other));

		EXPECT_TRUE(done_within(&a.done, WAIT_MS))
			TH_LOG("round %d: reader A never returned", round);
		EXPECT_TRUE(done_within(&b.done, WAIT_MS))
			TH_LOG("round %d: reader B left asleep with the count at %llu: the signalled reader A absorbed its wake-up",
			       round, (unsigned long long)count_of(self->fd));
		if (!atomic_load(&a.done) || !atomic_load(&b.done)) {
			/* Let them out, or the process cannot end. */
			write_u64(self->fd, 2);
			done_within(&a.done, WAIT_MS);
			done_within(&b.done, WAIT_MS);
			break;
		}
		pthread_join(a.th, NULL);
		pthread_join(b.th, NULL);
		EXPECT_EQ(8, a.ret);
		EXPECT_EQ(8, b.ret);
		EXPECT_EQ(1ULL, atomic_load(&a.taken));
		EXPECT_EQ(1ULL, atomic_load(&b.taken));
		if (_metadata->exit_code != KSFT_PASS)
			break;
	}
}

TEST_F(wake_one, signals_at_blocked_readers_lose_no_wake_up)
{
	struct reader r[STORM_READERS];
	uint64_t written = 0, taken = 0;
	int64_t deadline;
	int i;

	for (i = 0; i < STORM_READERS; i++)
		ASSERT_EQ(0, start_reader(&r[i], self->fd, -1));
	ASSERT_TRUE(evq_wait_blocked(self->fd, STORM_READERS, 0));

	for (i = 0; i < STORM_WRITES; i++) {
		uint64_t n = 1 + (uint64_t)(i % 2);

		pthread_kill(r[i % STORM_READERS].th, SIGUSR1);
		ASSERT_EQ(8, write_u64(self->fd, n));
		written += n;
		if (i % 64 == 63)
			sched_yield();
	}

	/* Every reader blocked again and everything read, or a lost wake-up. */
	deadline = now_ms() + WAIT_MS;
	do {
		taken = 0;
		for (i = 0; i < STORM_READERS; i++)
			taken += atomic_load(&r[i].taken);
		if (taken == written)
			break;
		sleep_us(1000);
	} while (now_ms() < deadline);
	EXPECT_EQ(written, taken)
		TH_LOG("%llu of %llu read; count %llu left with readers asleep",
		       (unsigned long long)taken, (unsigned long long)written,
		       (unsigned long long)count_of(self->fd));

	for (i = 0; i < STORM_READERS; i++)
		atomic_store(&r[i].stop, true);
	for (i = 0; i < STORM_READERS; i++)
		EXPECT_TRUE(kick_and_join(r[i].th, &r[i].done,
					  now_ms() + WAIT_MS));
}

TEST_HARNESS_MAIN
