// SPDX-License-Identifier: GPL-2.0
/*
 * evq_concurrency_test - /dev/evq counters and native eventfd(2) used by
 * several threads at once: blocked reads and writes and what wakes them,
 * signals that interrupt or restart them, and writers and readers whose
 * sums must match.
 *
 * The fixture "counter", its variants "native" and "evq", and the helpers
 * are in evq_counter.h.
 */
#include "evq_counter.h"

/* ---- blocking ------------------------------------------------------------ */

TEST_F(counter, blocking_read_woken_by_write)
{
	struct blocked *b = start_blocked(_metadata, self->fd, OP_READ, 0);

	EXPECT_TRUE(still_blocked(b))
		TH_LOG("read at 0 returned %ld (%s) with no writer", b->ret,
		       errstr(b->ret));
	ASSERT_EQ(8, write_u64(self->fd, 5));
	ASSERT_TRUE(finish_blocked(b))
		TH_LOG("read still blocked %d ms after a write", WAIT_MS);
	EXPECT_EQ(8, b->ret) TH_LOG("read: %s", errstr(b->ret));
	EXPECT_EQ(5ULL, b->value);
	EXPECT_EQ(0ULL, take_count(_metadata, self->fd));
}

TEST_F(counter, blocking_write_at_max_woken_by_read)
{
	struct blocked *b;
	uint64_t v;

	ASSERT_EQ(8, write_u64(self->fd, COUNT_MAX));
	b = start_blocked(_metadata, self->fd, OP_WRITE, 1);
	EXPECT_TRUE(still_blocked(b))
		TH_LOG("write of 1 at COUNT_MAX returned %ld (%s)", b->ret,
		       errstr(b->ret));
	ASSERT_EQ(8, read_u64(self->fd, &v));
	EXPECT_EQ(COUNT_MAX, v);
	ASSERT_TRUE(finish_blocked(b))
		TH_LOG("write still blocked %d ms after a read", WAIT_MS);
	EXPECT_EQ(8, b->ret) TH_LOG("write: %s", errstr(b->ret));
	EXPECT_EQ(1ULL, take_count(_metadata, self->fd));
}

/* Blocked readers wait non-exclusively: one write can wake them all. */
TEST_F(counter, semaphore_write_wakes_every_blocked_reader)
{
	int fd = NEW_COUNTER(0, EFD_SEMAPHORE);
	struct blocked *b[2];
	int i;

	for (i = 0; i < 2; i++)
		b[i] = start_blocked(_metadata, fd, OP_READ, 0);
	for (i = 0; i < 2; i++) {
		EXPECT_TRUE(still_blocked(b[i]))
			TH_LOG("reader %d returned %ld (%s) with no writer",
			       i, b[i]->ret, errstr(b[i]->ret));
	}
	ASSERT_EQ(8, write_u64(fd, 2));
	for (i = 0; i < 2; i++) {
		ASSERT_TRUE(finish_blocked(b[i]))
			TH_LOG("reader %d still blocked %d ms after writing 2",
			       i, WAIT_MS);
		EXPECT_EQ(8, b[i]->ret) TH_LOG("reader %d: %s", i,
					       errstr(b[i]->ret));
		EXPECT_EQ(1ULL, b[i]->value) TH_LOG("reader %d", i);
	}
	EXPECT_EQ(POLLOUT, poll_mask(fd));
}

TEST_F(counter, signal_interrupts_blocked_read_eintr)
{
	struct blocked *b;

	install_handler(_metadata, 0);	/* no SA_RESTART */
	b = start_blocked(_metadata, self->fd, OP_READ, 0);
	EXPECT_TRUE(still_blocked(b))
		TH_LOG("read at 0 returned %ld (%s) with no writer", b->ret,
		       errstr(b->ret));
	signal_until_done(b);
	ASSERT_TRUE(finish_blocked(b))
		TH_LOG("read not interrupted by SIGUSR1 within %d ms",
		       WAIT_MS);
	EXPECT_EQ(-EINTR, b->ret) TH_LOG("read: %s", errstr(b->ret));
	EXPECT_LT(0, atomic_load(&signals_seen));
	EXPECT_EQ(0ULL, take_count(_metadata, self->fd));
}

TEST_F(counter, signal_interrupts_blocked_write_eintr)
{
	struct blocked *b;

	install_handler(_metadata, 0);
	ASSERT_EQ(8, write_u64(self->fd, COUNT_MAX));
	b = start_blocked(_metadata, self->fd, OP_WRITE, 1);
	EXPECT_TRUE(still_blocked(b))
		TH_LOG("write at COUNT_MAX returned %ld (%s)", b->ret,
		       errstr(b->ret));
	signal_until_done(b);
	ASSERT_TRUE(finish_blocked(b))
		TH_LOG("write not interrupted by SIGUSR1 within %d ms",
		       WAIT_MS);
	EXPECT_EQ(-EINTR, b->ret) TH_LOG("write: %s", errstr(b->ret));
	EXPECT_EQ(COUNT_MAX, take_count(_metadata, self->fd));
}

TEST_F(counter, signal_with_sa_restart_restarts_blocked_read)
{
	int64_t deadline = now_ms() + WAIT_MS;
	struct blocked *b;

	install_handler(_metadata, SA_RESTART);
	b = start_blocked(_metadata, self->fd, OP_READ, 0);
	EXPECT_TRUE(still_blocked(b))
		TH_LOG("read at 0 returned %ld (%s) with no writer", b->ret,
		       errstr(b->ret));
	ASSERT_EQ(0, pthread_kill(b->thread, SIGUSR1));
	while (!atomic_load(&signals_seen) && now_ms() < deadline)
		sleep_ms(5);
	ASSERT_LT(0, atomic_load(&signals_seen))
		TH_LOG("SIGUSR1 not handled within %d ms", WAIT_MS);
	EXPECT_TRUE(still_blocked(b))
		TH_LOG("read returned %ld (%s) after an SA_RESTART signal",
		       b->ret, errstr(b->ret));
	ASSERT_EQ(8, write_u64(self->fd, 4));
	ASSERT_TRUE(finish_blocked(b))
		TH_LOG("read still blocked %d ms after a write", WAIT_MS);
	EXPECT_EQ(8, b->ret) TH_LOG("read: %s", errstr(b->ret));
	EXPECT_EQ(4ULL, b->value);
}

/* ---- concurrency --------------------------------------------------------- */

#define N_WRITERS	4
#define N_READERS	4
#define N_EACH		3000

struct sum_shared {
	int fd;
	bool semaphore;
	atomic_ullong written;
	atomic_ullong read;
	atomic_ullong reads;	/* successful reads */
	atomic_bool writers_done;
	atomic_int errors;
};

static void *sum_writer_fn(void *arg)
{
	struct sum_shared *sh = arg;
	uint64_t i;

	for (i = 0; i < N_EACH; i++) {
		uint64_t v = i % 5;	/* 0 too: a write of 0 counts */

		if (write_u64(sh->fd, v) == 8)
			atomic_fetch_add(&sh->written, v);
		else
			atomic_fetch_add(&sh->errors, 1);
	}
	return NULL;
}

static void *sum_reader_fn(void *arg)
{
	struct sum_shared *sh = arg;
	struct pollfd p = { .fd = sh->fd, .events = POLLIN };
	uint64_t v;

	for (;;) {
		bool done;
		long ret;

		if (poll(&p, 1, 20) < 0 && errno != EINTR)
			atomic_fetch_add(&sh->errors, 1);
		/* Before the read: EAGAIN then means nothing can come. */
		done = atomic_load(&sh->writers_done);
		ret = read_u64(sh->fd, &v);
		if (ret == 8) {
			if (sh->semaphore && v != 1)
				atomic_fetch_add(&sh->errors, 1);
			atomic_fetch_add(&sh->read, v);
			atomic_fetch_add(&sh->reads, 1);
		} else if (ret != -EAGAIN) {
			atomic_fetch_add(&sh->errors, 1);
		} else if (done) {
			/* EAGAIN after the last write: all is read. */
			break;
		}
	}
	return NULL;
}

/*
 * N writers and M readers on one non-blocking counter: the sum of what the
 * readers got equals the sum of what the writers wrote, and the counter is
 * empty at the end.
 */
static void writers_readers(struct __test_metadata *_metadata, int fd,
			    bool semaphore)
{
	pthread_t w[N_WRITERS], r[N_READERS];
	struct sum_shared sh = { .fd = fd, .semaphore = semaphore };
	int i;

	atomic_init(&sh.written, 0);
	atomic_init(&sh.read, 0);
	atomic_init(&sh.reads, 0);
	atomic_init(&sh.writers_done, false);
	atomic_init(&sh.errors, 0);
	for (i = 0; i < N_READERS; i++)
		ASSERT_EQ(0, pthread_create(&r[i], NULL, sum_reader_fn, &sh));
	for (i = 0; i < N_WRITERS; i++)
		ASSERT_EQ(0, pthread_create(&w[i], NULL, sum_writer_fn, &sh));
	for (i = 0; i < N_WRITERS; i++)
		pthread_join(w[i], NULL);
	atomic_store(&sh.writers_done, true);
	for (i = 0; i < N_READERS; i++)
		pthread_join(r[i], NULL);
	EXPECT_EQ(0, atomic_load(&sh.errors));
	EXPECT_EQ(atomic_load(&sh.written), atomic_load(&sh.read))
		TH_LOG("%llu reads", (unsigned long long)atomic_load(&sh.reads));
	if (semaphore) {
		EXPECT_EQ(atomic_load(&sh.read), atomic_load(&sh.reads));
	}
	EXPECT_EQ(POLLOUT, poll_mask(fd)) TH_LOG("count left over");
}

TEST_F_TIMEOUT(counter, writers_readers_sum_plain, 300)
{
	writers_readers(_metadata, NEW_COUNTER(0, EFD_NONBLOCK), false);
}

TEST_F_TIMEOUT(counter, writers_readers_sum_semaphore, 300)
{
	writers_readers(_metadata,
			NEW_COUNTER(0, EFD_NONBLOCK | EFD_SEMAPHORE), true);
}

TEST_HARNESS_MAIN
