// SPDX-License-Identifier: GPL-2.0
/*
 * evq_wakeone_mode_test - wake-one readers (EVQ_WAKE_ONE): a write wakes
 * only as many readers as it can serve.
 *
 * Fixture "wake_one", a wake-one counter made both ways (variants "setup"
 * and "factory", see evq_modes.h):
 *
 *   wake_one.*    a write completes exactly as many reads as it can serve;
 *                 pollers are still woken by every write; which reader
 *                 goes first (the writer's CPU, then the most recent
 *                 sleeper); a signal that hits the chosen reader, or a bad
 *                 buffer, loses nothing
 *
 * evq_wakeone_test.c, apart, builds one order on purpose: a signalled
 * reader that must not absorb the wake-ups. evq_modes.h holds the helpers,
 * how a counter is made both ways, and the timing rules.
 */
#include "evq_modes.h"

/* Wake-one: readers blocked at once. */
#define NR_READERS	6

/* The lost-wake-up race: readers, rounds, and the time caps. */
#define RACE_READERS	4
#define RACE_ROUNDS	2000
#define RACE_CAP_MS	20000
#define RACE_LOST_MS	2000

/* ---- small helpers ------------------------------------------------------- */

/*
 * The first two CPUs this thread may run on, into @cpus: how many there
 * are (at most 2), or -errno.
 */
static int two_cpus(int cpus[2])
{
	cpu_set_t set;
	int cpu, n = 0;

	cpus[0] = 0;
	cpus[1] = 0;
	if (sched_getaffinity(0, sizeof(set), &set))
		return -errno;
	for (cpu = 0; cpu < CPU_SETSIZE && n < 2; cpu++)
		if (CPU_ISSET(cpu, &set))
			cpus[n++] = cpu;
	return n;
}

/*
 * Run the calling thread on @cpu only; threads it starts later inherit
 * that. Each test runs in a process of its own, so it ends with the test.
 */
static int pin_to(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set) ? -errno : 0;
}

/* ---- threads that block -------------------------------------------------- */

/* SIGUSR1 (on_sigusr1(), evq_modes.h) also tells a racer that it came. */
struct racer;
static _Thread_local struct racer *racer_self;
static void racer_signalled(struct racer *r);

static void racer_on_sigusr1(void)
{
	if (racer_self)
		racer_signalled(racer_self);
}

/* How many of the @n calls in @ops returned. */
static int ops_done(struct bg_call *ops, int n)
{
	int i, done = 0;

	for (i = 0; i < n; i++)
		done += atomic_load(&ops[i].done);
	return done;
}

/* ---- wake_one.*: a write wakes as many readers as it can serve ----------- */

FIXTURE(wake_one) {
	int dev;
	int fd;
};

FIXTURE_VARIANT(wake_one) {
	bool factory;
};

FIXTURE_VARIANT_ADD(wake_one, setup) {
	.factory = false,
};

FIXTURE_VARIANT_ADD(wake_one, factory) {
	.factory = true,
};

FIXTURE_SETUP(wake_one)
{
	sigusr1_hook = racer_on_sigusr1;
	open_mode(_metadata, &self->dev, &self->fd, variant->factory,
		  EVQ_WAKE_ONE, 0);
}

FIXTURE_TEARDOWN(wake_one)
{
	close_mode(self->dev, self->fd);
}

/*
 * NR_READERS readers blocked on @fd; a write of @n must complete exactly
 * @served reads, the others stay blocked (GET_INFO readers agrees).
 */
static void write_completes_exactly(struct __test_metadata *_metadata,
				    int fd, uint64_t n, int served)
{
	struct bg_call ops[NR_READERS] = { 0 };
	int i, done, bad;

	for (i = 0; i < NR_READERS; i++)
		ASSERT_EQ(0, bg_start(&ops[i], BG_READ, fd, 0));
	EXPECT_EQ(NR_READERS, wait_waiters(fd, false, NR_READERS));
	ASSERT_EQ(8, write_u64(fd, n));
	for (i = 0; i < WAIT_MS && ops_done(ops, NR_READERS) < served; i++)
		sleep_us(1000);
	sleep_ms(SETTLE_MS);
	done = ops_done(ops, NR_READERS);
	EXPECT_EQ(served, done) TH_LOG("reads completed by a write of %llu",
				       (unsigned long long)n);
	EXPECT_EQ(NR_READERS - served,
		  wait_waiters(fd, false, NR_READERS - served))
		TH_LOG("GET_INFO readers still blocked");
	EXPECT_EQ(0ULL, count_of(fd));
	for (i = 0, bad = -1; i < NR_READERS; i++)
		if (atomic_load(&ops[i].done) && ops[i].ret != 8)
			bad = i;
	EXPECT_EQ(-1, bad) TH_LOG("reader %d: %s", bad,
				  errstr(bad < 0 ? 0 : ops[bad].ret));
	/* Release the rest (each write of 1 serves one) and join. */
	for (i = 0; i < NR_READERS - done; i++)
		EXPECT_EQ(8, write_u64(fd, 1));
	for (i = 0; i < NR_READERS; i++)
		EXPECT_TRUE(bg_finish(&ops[i]));
}

TEST_F(wake_one, write_of_one_completes_exactly_one_read)
{
	write_completes_exactly(_metadata, self->fd, 1, 1);
}

TEST_F(wake_one, write_of_five_completes_exactly_one_read)
{
	write_completes_exactly(_metadata, self->fd, 5, 1);
}

TEST_F(wake_one, semaphore_write_of_k_completes_exactly_k_reads)
{
	int sem = make_counter(self->dev, variant->factory,
			       EVQ_SEMAPHORE | EVQ_WAKE_ONE, 0, 0);

	ASSERT_LE(0, sem) TH_LOG("semaphore wake-one counter: %s",
				 errstr(sem));
	write_completes_exactly(_metadata, sem, 3, 3);
	close(sem);
}

TEST_F(wake_one, every_poller_woken_by_every_write)
{
	struct bg_call ops[4] = { 0 };
	int ep[2], i;
	uint64_t v;

	for (i = 0; i < 2; i++) {
		ep[i] = epoll_on(self->fd, EPOLLIN);
		ASSERT_LE(0, ep[i]);
	}
	for (int round = 0; round < 2; round++) {
		for (i = 0; i < 2; i++) {
			ASSERT_EQ(0, bg_start(&ops[i], BG_EPOLL, ep[i], 0));
			ASSERT_EQ(0, bg_start(&ops[2 + i], BG_POLL, self->fd, 0));
		}
		sleep_ms(SETTLE_MS);
		EXPECT_EQ(0, ops_done(ops, 4)) TH_LOG("a poller woke at 0");
		ASSERT_EQ(8, write_u64(self->fd, 1));
		for (i = 0; i < 4; i++) {
			EXPECT_TRUE(bg_wait(&ops[i], WAIT_MS))
				TH_LOG("round %d: %s waiter %d not woken",
				       round, i < 2 ? "epoll" : "poll", i % 2);
			ASSERT_TRUE(bg_finish(&ops[i]));
			EXPECT_EQ(1, ops[i].ret);
			EXPECT_EQ(POLLIN, ops[i].events & POLLIN);
		}
		ASSERT_EQ(8, read_u64(self->fd, &v));
	}
	close(ep[0]);
	close(ep[1]);
}

/*
 * Which reader a write of 1 wakes: @first blocks on CPU @cpu_first, then
 * @last on CPU @cpu_last, and the write comes from CPU @cpu_write. The
 * reader woken must be @want (the other stays blocked until a second
 * write); @why says why it is the one.
 */
static void expect_woken(struct __test_metadata *_metadata, int fd,
			 int cpu_first, int cpu_last, int cpu_write,
			 bool want_first, const char *why)
{
	struct bg_call r[2] = { 0 };
	struct bg_call *want = &r[!want_first], *other = &r[want_first];
	int i, cpus[2] = { cpu_first, cpu_last };

	for (i = 0; i < 2; i++) {
		ASSERT_EQ(0, pin_to(cpus[i]));
		ASSERT_EQ(0, bg_start(&r[i], BG_READ, fd, 0));
		ASSERT_EQ(i + 1, wait_waiters(fd, false, i + 1));
	}
	ASSERT_EQ(0, pin_to(cpu_write));
	ASSERT_EQ(8, write_u64(fd, 1));
	EXPECT_TRUE(bg_wait(want, WAIT_MS))
		TH_LOG("expected the reader that blocked %s (%s) to be woken; it is still blocked",
		       want_first ? "first" : "last", why);
	sleep_ms(SETTLE_MS);
	EXPECT_FALSE(atomic_load(&other->done))
		TH_LOG("expected the reader that blocked %s to stay blocked, the other one chosen (%s); it returned %s",
		       want_first ? "last" : "first", why, errstr(other->ret));
	ASSERT_EQ(8, write_u64(fd, 1));
	EXPECT_TRUE(bg_wait(other, WAIT_MS)) TH_LOG("the second write woke nobody");
	for (i = 0; i < 2; i++) {
		ASSERT_TRUE(bg_finish(&r[i]));
		EXPECT_EQ(8, r[i].ret) TH_LOG("reader %d: %s", i, errstr(r[i].ret));
		EXPECT_EQ(1ULL, r[i].val);
	}
}

/*
 * A reader that last ran on the writer's CPU is woken before the most
 * recent sleeper elsewhere: it will most likely run right there, where the
 * writer's data is warm, instead of being woken on another CPU.
 */
TEST_F(wake_one, reader_last_on_writers_cpu_is_woken_first)
{
	int cpus[2];

	if (two_cpus(cpus) < 2)
		SKIP(return, "one CPU only: every reader last ran on the writer's");
	expect_woken(_metadata, self->fd, cpus[0], cpus[1], cpus[0], true,
		     "it last ran on the writer's CPU");
}

/* With no reader on the writer's CPU, the most recent sleeper goes first. */
TEST_F(wake_one, readers_elsewhere_most_recent_sleeper_is_woken_first)
{
	int cpus[2];

	if (two_cpus(cpus) < 2)
		SKIP(return, "one CPU only: every reader last ran on the writer's");
	expect_woken(_metadata, self->fd, cpus[1], cpus[1], cpus[0], false,
		     "LIFO, none on the writer's CPU");
}

/* Every reader on the writer's CPU: the most recent sleeper goes first. */
TEST_F(wake_one, readers_on_writers_cpu_most_recent_sleeper_is_woken_first)
{
	int cpus[2];

	ASSERT_LE(1, two_cpus(cpus));
	expect_woken(_metadata, self->fd, cpus[0], cpus[0], cpus[0], false,
		     "LIFO, all on the writer's CPU");
}

/*
 * The EFAULT pass-on: reader B blocks first with a good buffer; reader A
 * blocks second, its buffer in an unmapped page. Everything runs on one
 * CPU, so a write of 1 picks A (the most recent sleeper), which cannot
 * store it: A fails with EFAULT and must pass the wake-up on, so that B
 * reads the 1.
 */
TEST_F(wake_one, efault_reader_passes_wakeup_to_next_reader)
{
	struct bg_call a = { 0 }, b = { 0 };
	int cpus[2];

	ASSERT_LE(1, two_cpus(cpus));
	ASSERT_EQ(0, pin_to(cpus[0]));
	a.buf = unmapped_page();
	ASSERT_NE(NULL, a.buf);
	ASSERT_EQ(0, bg_start(&b, BG_READ, self->fd, 0));
	ASSERT_EQ(1, wait_waiters(self->fd, false, 1));
	ASSERT_EQ(0, bg_start(&a, BG_READ, self->fd, 0));
	ASSERT_EQ(2, wait_waiters(self->fd, false, 2));
	ASSERT_EQ(8, write_u64(self->fd, 1));
	EXPECT_TRUE(bg_wait(&a, WAIT_MS)) TH_LOG("the first reader not woken");
	EXPECT_TRUE(bg_wait(&b, RACE_LOST_MS))
		TH_LOG("lost wake-up: the second reader still blocked, count %llu",
		       (unsigned long long)count_of(self->fd));
	ASSERT_TRUE(bg_finish(&a));
	ASSERT_TRUE(bg_finish(&b));
	EXPECT_EQ(-EFAULT, a.ret) TH_LOG("bad buffer: %s", errstr(a.ret));
	EXPECT_EQ(8, b.ret) TH_LOG("good buffer: %s", errstr(b.ret));
	EXPECT_EQ(1ULL, b.val);
	EXPECT_EQ(0ULL, count_of(self->fd));
}

/*
 * The lost-wake-up race. RACE_READERS threads loop on read(2); a SIGUSR1
 * (no SA_RESTART) makes a read fail with EINTR, and a reader that gets
 * EINTR parks until the main thread lets it read again. Each round the
 * main thread waits until every reader is blocked, writes 1 and at once
 * signals the reader it expects the write to pick (odd rounds: see
 * race_head(); the readers alternate between two CPUs, the main thread
 * stays on the first) or every reader (even rounds). A chosen reader
 * that finds the count must take it, the signal notwithstanding: if it
 * left with EINTR instead, the 1 would stay with the other readers
 * asleep. Fails when a written value is not read within RACE_LOST_MS.
 */
struct racer {
	pthread_t th;
	int fd;
	int cpu;			/* the one it runs on */
	atomic_bool parked;
	atomic_bool release;
	atomic_bool exited;
	atomic_uint sigs;		/* SIGUSR1s handled */
	atomic_uint eintr;
	atomic_uint hits;		/* reads that got a value and a signal */
	atomic_ullong consumed;		/* sum of the values read */
	long err;			/* an unexpected read result */
};

static atomic_bool race_stop;

static void racer_signalled(struct racer *r)
{
	atomic_fetch_add(&r->sigs, 1);
}

static void *racer_main(void *arg)
{
	struct racer *r = arg;
	uint64_t v;
	ssize_t n;

	racer_self = r;
	if (pin_to(r->cpu)) {
		r->err = -errno;
		atomic_store(&r->exited, true);
		return NULL;
	}
	while (!atomic_load(&race_stop)) {
		unsigned int s0 = atomic_load(&r->sigs);

		n = read(r->fd, &v, sizeof(v));
		if (n == sizeof(v)) {
			atomic_fetch_add(&r->consumed, v);
			if (atomic_load(&r->sigs) != s0)
				atomic_fetch_add(&r->hits, 1);
			continue;
		}
		if (n < 0 && errno == EINTR) {
			atomic_fetch_add(&r->eintr, 1);
			atomic_store(&r->parked, true);
			while (!atomic_load(&r->release) &&
			       !atomic_load(&race_stop))
				sleep_us(100);
			atomic_store(&r->release, false);
			atomic_store(&r->parked, false);
			continue;
		}
		r->err = n < 0 ? -errno : n;
		break;
	}
	atomic_store(&r->exited, true);
	return NULL;
}

static uint64_t racers_consumed(struct racer *r)
{
	uint64_t sum = 0;
	int i;

	for (i = 0; i < RACE_READERS; i++)
		sum += atomic_load(&r[i].consumed);
	return sum;
}

static long race_readers(int fd)
{
	struct evq_info info;

	return get_info(fd, &info) ? -1 : (long)info.readers;
}

/*
 * Wait until every signal sent was handled and every racer is either
 * blocked in read(2) or parked; then let the parked ones read again, one
 * at a time, so that @order (the expected queue) stays right. False after
 * WAIT_MS.
 */
static bool race_settle(int fd, struct racer *r, const unsigned int *sent,
			int *order, int consumer)
{
	int64_t end = now_ms() + WAIT_MS;
	int i, j, n = 0, parked, next[RACE_READERS];

	for (;;) {
		bool handled = true;

		parked = 0;
		for (i = 0; i < RACE_READERS; i++) {
			handled &= atomic_load(&r[i].sigs) == sent[i];
			parked += atomic_load(&r[i].parked);
		}
		if (handled && race_readers(fd) + parked == RACE_READERS)
			break;
		if (now_ms() > end)
			return false;
		sleep_us(100);
	}
	/* Those still asleep keep their places, the reader served follows. */
	for (j = 0; j < RACE_READERS; j++) {
		i = order[j];
		if (i != consumer && !atomic_load(&r[i].parked))
			next[n++] = i;
	}
	if (consumer >= 0 && !atomic_load(&r[consumer].parked))
		next[n++] = consumer;
	for (i = 0; i < RACE_READERS; i++) {
		if (!atomic_load(&r[i].parked))
			continue;
		atomic_store(&r[i].release, true);
		while (race_readers(fd) < n + 1) {
			if (now_ms() > end)
				return false;
			sleep_us(100);
		}
		next[n++] = i;
	}
	memcpy(order, next, sizeof(next));
	return true;
}

/*
 * The reader a write from @cpu wakes, @order being the blocking order: the
 * one that blocked last of those on @cpu, else the one that blocked last.
 */
static int race_head(const struct racer *r, const int *order, int cpu)
{
	int j;

	for (j = RACE_READERS - 1; j >= 0; j--)
		if (r[order[j]].cpu == cpu)
			return order[j];
	return order[RACE_READERS - 1];
}

TEST_F_TIMEOUT(wake_one, signal_right_after_write_loses_no_wakeup, 90)
{
	struct racer r[RACE_READERS] = { 0 };
	unsigned int sent[RACE_READERS] = { 0 };
	uint64_t prev[RACE_READERS] = { 0 };
	int order[RACE_READERS];
	unsigned int eintr = 0, hits = 0;
	int64_t cap = now_ms() + RACE_CAP_MS, end;
	int i, round, consumer = -1, cpus[2], ncpus = two_cpus(cpus);
	bool lost = false;

	/* Readers alternate between two CPUs; the writer is on the first. */
	ASSERT_LE(1, ncpus);
	ASSERT_EQ(0, pin_to(cpus[0]));
	for (i = 0; i < RACE_READERS; i++) {
		r[i].fd = self->fd;
		r[i].cpu = cpus[i % ncpus];
		ASSERT_EQ(0, pthread_create(&r[i].th, NULL, racer_main, &r[i]));
		ASSERT_EQ(i + 1, wait_waiters(self->fd, false, i + 1));
		order[i] = i;
	}
	for (round = 0; round < RACE_ROUNDS && now_ms() < cap; round++) {
		int head;

		if (!race_settle(self->fd, r, sent, order, consumer)) {
			EXPECT_TRUE(false) TH_LOG("round %d: readers never all blocked again (readers %ld)",
						  round, race_readers(self->fd));
			break;
		}
		head = race_head(r, order, cpus[0]);
		ASSERT_EQ(8, write_u64(self->fd, 1));
		for (i = 0; i < RACE_READERS; i++) {
			if (round % 2 && i != head)
				continue;
			pthread_kill(r[i].th, SIGUSR1);
			sent[i]++;
		}
		end = now_ms() + RACE_LOST_MS;
		while (racers_consumed(r) != (uint64_t)round + 1 &&
		       now_ms() <= end)
			sleep_us(100);
		if (racers_consumed(r) != (uint64_t)round + 1) {
			int parked = 0;

			for (i = 0; i < RACE_READERS; i++)
				parked += atomic_load(&r[i].parked);
			EXPECT_EQ((uint64_t)round + 1, racers_consumed(r))
				TH_LOG("round %d: lost wake-up: count %llu left for %d ms with %ld readers asleep in read(2), %d parked after EINTR",
				       round,
				       (unsigned long long)count_of(self->fd),
				       RACE_LOST_MS, race_readers(self->fd),
				       parked);
			lost = true;
			break;
		}
		for (i = 0; i < RACE_READERS; i++) {
			if (atomic_load(&r[i].consumed) != prev[i])
				consumer = i;
			prev[i] = atomic_load(&r[i].consumed);
		}
	}

	atomic_store(&race_stop, true);
	end = now_ms() + WAIT_MS;
	for (i = 0; i < RACE_READERS; i++) {
		while (!atomic_load(&r[i].exited) && now_ms() <= end) {
			pthread_kill(r[i].th, SIGUSR1);
			sleep_us(10000);
		}
		ASSERT_TRUE(atomic_load(&r[i].exited))
			TH_LOG("reader %d never returned", i);
		pthread_join(r[i].th, NULL);
		EXPECT_EQ(0, r[i].err) TH_LOG("reader %d: read returned %s",
					      i, errstr(r[i].err));
		eintr += atomic_load(&r[i].eintr);
		hits += atomic_load(&r[i].hits);
	}
	ksft_print_msg("%d rounds, %u reads interrupted (EINTR), %u reads that took the value with a signal arriving%s\n",
		       round, eintr, hits, lost ? ", then a lost wake-up" : "");
	EXPECT_LE(100, round) TH_LOG("too few rounds to mean anything");
}

TEST_HARNESS_MAIN
