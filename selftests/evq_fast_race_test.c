// SPDX-License-Identifier: GPL-2.0
/*
 * evq_fast_race_test - EVQ_FAST under concurrency: lost wake-ups, many
 * producers and consumers, and a peer scribbling on the shared page. The
 * page's ABI and each single use of it are evq_fast_test's, its memory
 * accounting evq_fast_memcg_test's; the helpers they share are in
 * evq_fast.h.
 *
 * Fixture "race" (one variant per consumer): lost wake-ups. A consumer
 * waits in read(2), poll(2), select(2), epoll (level, edge, one-shot) or
 * io_uring (poll, read) while the test thread signals only through
 * evq_fast_signal(), one event per round, at varying moments of the
 * consumer's way to sleep. A round whose consumer is not woken within
 * LOST_MS fails, naming the round.
 * Fixture "stress" (no state; it gives its cases a longer timeout):
 * each_fast_signal_is_a_new_epoll_edge, a poller queued before a fast
 * setup, many_producers_many_consumers_add_up (evq_fast_read(), read(2)
 * and epoll with evq_fast_take(), checking the exact total) and
 * scribbled_page_harms_nobody (one thread writes random values to every
 * field of the page while others use the counter in every way; nothing
 * may hang, and afterwards the counter works and other counters are
 * untouched).
 *
 * Timing: see evq_ksft_common.h. Races run RACE_ROUNDS rounds or until
 * RACE_CAP_MS have passed, whichever comes first (TCG is slow); the number
 * of rounds run is printed. Every thread that may block is released with
 * SIGUSR1 (no SA_RESTART) before it is joined, so no case can hang.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/select.h>
#include <sys/uio.h>
#include <unistd.h>

#include <liburing.h>

#include "evq.h"
#include "evq_ksft_common.h"
#include "evq_fast.h"
#include "kselftest_harness.h"

/* Lost wake-up races: rounds, the time cap, and how long a wake may take. */
#define RACE_ROUNDS	20000
#define RACE_CAP_MS	8000
#define LOST_MS		5000

/* Many producers, many consumers. */
#define NR_PRODUCERS	4
#define NR_CONSUMERS	4
#define PER_PRODUCER	20000
#define MANY_CAP_MS	8000

/* The scribbler: how long it scribbles, and its worker threads. */
#define SCRIBBLE_MS	2500
#define NR_WORKERS	4

/* ---- small helpers ------------------------------------------------------- */

/* Busy-wait @n turns of a loop the compiler may not drop. */
static void spin_for(unsigned int n)
{
	while (n--)
		atomic_signal_fence(memory_order_seq_cst);
}

/* ---- lost wake-ups: one consumer, one fast producer ------------------------ */

enum consumer {
	C_READ, C_POLL, C_SELECT, C_EPOLL_LT, C_EPOLL_ET, C_EPOLL_ONESHOT,
	C_URING_POLL, C_URING_READ,
};

static const char *const consumer_names[] = {
	"read(2)", "poll(2)", "select(2)", "epoll LT", "epoll ET",
	"epoll EPOLLONESHOT", "io_uring poll", "io_uring read",
};

struct race {
	int fd;
	struct evq_fast fast;
	enum consumer kind;
	int ep;
	struct io_uring ring;
	pthread_t th;
	atomic_int ready;	/* the round the consumer waits for */
	atomic_int done;	/* the last round it took */
	atomic_bool stop;
	atomic_bool exited;
	bool inflight;		/* an io_uring request is queued */
	uint64_t buf;		/* what the io_uring read reads into */
	long err;		/* the consumer's error, or 0 */
	char what[128];
};

/* Wait for an event of @r's kind; 1 when told "readable", 0, or -errno. */
static int race_wait(struct race *r, uint64_t *val)
{
	struct epoll_event ev;
	struct pollfd p = { .fd = r->fd, .events = POLLIN };
	struct io_uring_cqe *cqe;
	struct io_uring_sqe *sqe;
	fd_set set;
	int n;

	switch (r->kind) {
	case C_READ:
		n = (int)read_u64(r->fd, val);
		return n == 8 ? 2 : n;
	case C_POLL:
		n = poll(&p, 1, -1);
		return n < 0 ? -errno : !!(p.revents & POLLIN);
	case C_SELECT:
		FD_ZERO(&set);
		FD_SET(r->fd, &set);
		n = select(r->fd + 1, &set, NULL, NULL, NULL);
		return n < 0 ? -errno : FD_ISSET(r->fd, &set);
	case C_EPOLL_LT:
	case C_EPOLL_ET:
	case C_EPOLL_ONESHOT:
		n = epoll_wait(r->ep, &ev, 1, -1);
		return n < 0 ? -errno : n && (ev.events & EPOLLIN);
	case C_URING_POLL:
	case C_URING_READ:
		if (!r->inflight && !atomic_load(&r->stop)) {
			/* Nothing in flight: queue the next one. */
			sqe = io_uring_get_sqe(&r->ring);
			if (!sqe)
				return -EBUSY;
			if (r->kind == C_URING_POLL)
				io_uring_prep_poll_add(sqe, r->fd, POLLIN);
			else
				io_uring_prep_read(sqe, r->fd, &r->buf,
						   sizeof(r->buf), 0);
			sqe->user_data = 1;
			n = io_uring_submit(&r->ring);
			if (n < 0)
				return n;
			r->inflight = true;
		}
		n = io_uring_wait_cqe(&r->ring, &cqe);
		if (n)
			return n;
		n = cqe->res;
		io_uring_cqe_seen(&r->ring, cqe);
		r->inflight = false;
		if (n < 0)
			return n;
		if (r->kind == C_URING_READ) {
			*val = r->buf;
			return n == 8 ? 2 : -EIO;
		}
		return !!(n & POLLIN);
	}
	return -EINVAL;
}

static void race_fail(struct race *r, long err, const char *fmt, int round,
		      unsigned long long a)
{
	r->err = err ? err : -EPROTO;
	snprintf(r->what, sizeof(r->what), fmt, round, a);
}

static void *consumer_main(void *arg)
{
	struct race *r = arg;
	uint64_t total = 0, v;
	unsigned int seed = 7;
	int round, n;

	for (round = 1; !atomic_load(&r->stop); round++) {
		atomic_store(&r->ready, round);
		/* Sometimes late, so that the signal may come first. */
		if (round % 3 == 0)
			spin_for(rand_r(&seed) % 3000);
		while (total < (uint64_t)round) {
			v = POISON;
			n = race_wait(r, &v);
			if (atomic_load(&r->stop))
				goto out;
			if (n == -EINTR || n == 0)
				continue;
			if (n < 0) {
				race_fail(r, n, "round %d: wait failed (%llu)",
					  round, (unsigned long long)-n);
				goto out;
			}
			if (n == 1) {
				/* Readable: take through the page. */
				if (evq_fast_take(&r->fast, &v) < 0) {
					if (errno == EAGAIN)
						continue;
					race_fail(r, -errno, "round %d: evq_fast_take: errno %llu",
						  round, (unsigned long long)errno);
					goto out;
				}
			}
			total += v;
			if (r->kind == C_EPOLL_ONESHOT) {
				struct epoll_event ev = {
					.events = EPOLLIN | EPOLLONESHOT,
				};

				if (epoll_ctl(r->ep, EPOLL_CTL_MOD, r->fd, &ev)) {
					race_fail(r, -errno, "round %d: EPOLL_CTL_MOD: errno %llu",
						  round, (unsigned long long)errno);
					goto out;
				}
			}
		}
		if (total != (uint64_t)round) {
			race_fail(r, 0, "round %d: took %llu in all, more than signalled",
				  round, (unsigned long long)total);
			goto out;
		}
		atomic_store(&r->done, round);
	}
out:
	atomic_store(&r->exited, true);
	return NULL;
}

FIXTURE(race) {
	struct race r;
	bool started;
	bool ring;
};

FIXTURE_VARIANT(race) {
	enum consumer kind;
};

FIXTURE_VARIANT_ADD(race, read) { .kind = C_READ, };
FIXTURE_VARIANT_ADD(race, poll) { .kind = C_POLL, };
FIXTURE_VARIANT_ADD(race, select) { .kind = C_SELECT, };
FIXTURE_VARIANT_ADD(race, epoll_lt) { .kind = C_EPOLL_LT, };
FIXTURE_VARIANT_ADD(race, epoll_et) { .kind = C_EPOLL_ET, };
FIXTURE_VARIANT_ADD(race, epoll_oneshot) { .kind = C_EPOLL_ONESHOT, };
FIXTURE_VARIANT_ADD(race, uring_poll) { .kind = C_URING_POLL, };
FIXTURE_VARIANT_ADD(race, uring_read) { .kind = C_URING_READ, };

FIXTURE_SETUP(race)
{
	struct race *r = &self->r;
	uint32_t ev = EPOLLIN;
	int ret;

	memset(r, 0, sizeof(*r));
	self->started = false;
	self->ring = false;
	r->kind = variant->kind;
	r->ep = -1;
	ASSERT_EQ(0, sigusr1_interrupts(sigusr1_ignore));
	r->fd = evq_mode_counter(true, 0, EVQ_COUNT_MAX, EVQ_FAST, false);
	ASSERT_LE(0, r->fd) TH_LOG("EVQ_FAST counter: %s", errstr(r->fd));
	ASSERT_EQ(0, evq_fast_map(r->fd, &r->fast)) TH_LOG("%s", strerror(errno));
	if (r->kind == C_EPOLL_ET)
		ev |= EPOLLET;
	if (r->kind == C_EPOLL_ONESHOT)
		ev |= EPOLLONESHOT;
	if (r->kind >= C_EPOLL_LT && r->kind <= C_EPOLL_ONESHOT) {
		r->ep = epoll_on(r->fd, ev);
		ASSERT_LE(0, r->ep) TH_LOG("epoll: %s", errstr(r->ep));
	}
	if (r->kind == C_URING_POLL || r->kind == C_URING_READ) {
		ret = io_uring_queue_init(8, &r->ring, 0);
		ASSERT_EQ(0, ret) TH_LOG("io_uring_queue_init: %s", errstr(ret));
		self->ring = true;
	}
}

/* Stop the consumer: a write(2) wakes every kind, SIGUSR1 the rest. */
static bool race_stop(struct race *r)
{
	atomic_store(&r->stop, true);
	write_u64(r->fd, 1);
	return kick_and_join(r->th, &r->exited, now_ms() + WAIT_MS);
}

FIXTURE_TEARDOWN(race)
{
	(void)variant;
	if (self->started && !race_stop(&self->r))
		TH_LOG("the consumer could not be stopped");
	if (self->ring)
		io_uring_queue_exit(&self->r.ring);
	if (self->r.ep >= 0)
		close(self->r.ep);
	close(self->r.fd);
}

/* Wait until @a reaches @want, the consumer fails, or LOST_MS pass. */
static bool reaches(struct race *r, atomic_int *a, int want)
{
	int64_t end = now_ms() + LOST_MS;
	unsigned int spins = 0;

	while (atomic_load(a) < want) {
		/*
		 * Mostly spin: seeing the consumer's announcement at once is
		 * what lets the signal land on its way into the kernel.
		 */
		if (++spins % 4096)
			continue;
		if (r->err || atomic_load(&r->exited) || now_ms() > end)
			return false;
		sched_yield();
	}
	return true;
}

/*
 * Each round the consumer announces that it is about to wait; the
 * producer then signals 1 through the page at once, after a short spin,
 * after yielding, or after seeing EVQ_ARMED_IN (then the signal must
 * enter the kernel), and waits for the consumer to take it.
 */
TEST_F_TIMEOUT(race, fast_signal_never_loses_a_wakeup, 60)
{
	struct race *r = &self->r;
	int64_t start = now_ms(), cap = start + RACE_CAP_MS;
	unsigned int seed = 1;
	int round, ret, syscalls = 0;

	ASSERT_EQ(0, pthread_create(&r->th, NULL, consumer_main, r));
	self->started = true;
	for (round = 1; round <= RACE_ROUNDS && now_ms() < cap; round++) {
		int how = round % 4;
		bool armed = false;

		if (!reaches(r, &r->ready, round)) {
			EXPECT_EQ(0, r->err) TH_LOG("%s consumer: %s",
						    consumer_names[r->kind],
						    r->what);
			EXPECT_TRUE(r->err) TH_LOG("round %d: %s consumer never started waiting",
						   round, consumer_names[r->kind]);
			break;
		}
		if (how == 1)
			spin_for(rand_r(&seed) % 1500);
		else if (how == 2)
			sched_yield();
		else if (how == 3)
			armed = armed_within(r->fast.page, EVQ_ARMED_IN);
		ret = evq_fast_signal(&r->fast, 1);
		syscalls += ret == 1;
		if (ret < 0) {
			EXPECT_LE(0, ret) TH_LOG("round %d: evq_fast_signal: %s", round,
						 strerror(errno));
			break;
		}
		if (how == 3) {
			EXPECT_TRUE(armed) TH_LOG("round %d: %s consumer never set EVQ_ARMED_IN (armed %#x)",
						  round, consumer_names[r->kind],
						  pg_armed(r->fast.page));
			EXPECT_EQ(1, ret) TH_LOG("round %d: EVQ_ARMED_IN was set but the signal made no system call",
						 round);
		}
		if (!reaches(r, &r->done, round)) {
			struct evq_info info = info_of(r->fd);

			EXPECT_EQ(0, r->err) TH_LOG("%s consumer: %s",
						    consumer_names[r->kind],
						    r->what);
			EXPECT_TRUE(r->err) TH_LOG("round %d of %d: %s consumer not woken %d ms after evq_fast_signal returned %d: page count %llu, armed %#x, readers %u",
						   round, RACE_ROUNDS,
						   consumer_names[r->kind], LOST_MS,
						   ret,
						   (unsigned long long)pg_count(r->fast.page),
						   pg_armed(r->fast.page),
						   info.readers);
			break;
		}
		if (_metadata->exit_code != KSFT_PASS)
			break;
	}
	ksft_print_msg("%s: %d rounds in %lld ms, %d signals found EVQ_ARMED_IN and woke\n",
		       consumer_names[r->kind], round - 1,
		       (long long)(now_ms() - start), syscalls);
	EXPECT_EQ(0, r->err) TH_LOG("%s consumer: %s", consumer_names[r->kind],
				    r->what);
}

/*
 * Fixture "stress" has no state of its own: it only lets its cases have
 * a longer timeout than TEST() gives.
 */
FIXTURE(stress) {
	int unused;
};

FIXTURE_SETUP(stress)
{
	self->unused = 0;
	ASSERT_EQ(0, sigusr1_interrupts(sigusr1_ignore));
}

FIXTURE_TEARDOWN(stress)
{
}

/*
 * Edge-triggered epoll, step by step: after a harvest and a take through
 * the page, every new fast signal is a new edge.
 */
TEST_F(stress, each_fast_signal_is_a_new_epoll_edge)
{
	struct evq_fast f;
	uint64_t v;
	long ev;
	int i, ep, fd;

	fd = evq_mode_counter(true, 0, EVQ_COUNT_MAX, EVQ_FAST, false);
	ASSERT_LE(0, fd) TH_LOG("%s", errstr(fd));
	ASSERT_EQ(0, evq_fast_map(fd, &f));
	ep = epoll_on(fd, EPOLLIN | EPOLLET);
	ASSERT_LE(0, ep);
	for (i = 0; i < 200; i++) {
		ASSERT_LE(0, evq_fast_signal(&f, 1));
		ev = epoll_within(ep, WAIT_MS);
		ASSERT_EQ(EPOLLIN, ev) TH_LOG("signal %d: no new edge (%#lx)", i, ev);
		ASSERT_EQ(0, epoll_within(ep, 0)) TH_LOG("signal %d: edge reported twice", i);
		v = POISON;
		ASSERT_EQ(0, evq_fast_take(&f, &v) < 0);
		ASSERT_EQ(1ULL, v);
	}
	close(ep);
	close(fd);
}

/*
 * A poller queued on a counter from open(2) before any EVQ_IOC_SETUP used
 * it: a fast setup, which the poller could not have armed for, is refused
 * (evq_setup_test has every other use).
 */
TEST_F(stress, poller_queued_before_fast_setup_refuses_it)
{
	struct evq_setup s = { .flags = EVQ_FAST };
	struct bg_call b;
	int fd = open("/dev/evq", O_RDWR | O_CLOEXEC);

	ASSERT_LE(0, fd);
	memset(&b, 0, sizeof(b));
	ASSERT_EQ(0, bg_start(&b, BG_POLL, fd, 0));
	sleep_us(SETTLE_MS * 1000L);
	ASSERT_FALSE(atomic_load(&b.done)) TH_LOG("poll returned before any write");
	EXPECT_EQ(-EBUSY, ret_or_errno(ioctl(fd, EVQ_IOC_SETUP, &s)))
		TH_LOG("EVQ_IOC_SETUP with a poller queued: %s", strerror(errno));
	EXPECT_EQ(8, write_u64(fd, 1));
	EXPECT_TRUE(bg_wait(&b, WAIT_MS)) TH_LOG("the poller was not woken");
	EXPECT_EQ(1, b.ret);
	EXPECT_EQ((uint32_t)POLLIN, b.events);
	EXPECT_TRUE(bg_finish(&b));
	close(fd);
}

/* ---- many producers, many consumers --------------------------------------- */

enum mc_kind { MC_FAST_READ, MC_READ, MC_EPOLL };

struct mc {
	pthread_t th;
	struct evq_fast *fast;
	uint64_t sent;		/* producers */
	atomic_ullong took;	/* consumers */
	long err;
	enum mc_kind kind;	/* consumers */
	int ep;
	unsigned int seed;	/* producers */
	atomic_bool exited;
};

static atomic_bool mc_stop;
static int64_t mc_cap;

static void *producer_main(void *arg)
{
	struct mc *p = arg;
	int i;

	for (i = 0; i < PER_PRODUCER && now_ms() < mc_cap; i++) {
		uint64_t n = 1 + rand_r(&p->seed) % 3;

		if (evq_fast_signal(p->fast, n) < 0) {
			p->err = -errno;
			break;
		}
		p->sent += n;
		if (!(i % 64))
			sched_yield();
	}
	atomic_store(&p->exited, true);
	return NULL;
}

static void *mc_consumer_main(void *arg)
{
	struct mc *c = arg;
	struct epoll_event ev;
	uint64_t v;
	int ret;

	while (!atomic_load(&mc_stop)) {
		v = POISON;
		switch (c->kind) {
		case MC_FAST_READ:
			ret = evq_fast_read(c->fast, &v);
			break;
		case MC_READ:
			ret = read(c->fast->fd, &v, sizeof(v)) == 8 ? 0 : -1;
			break;
		default:
			ret = epoll_wait(c->ep, &ev, 1, -1);
			if (ret == 1)
				ret = evq_fast_take(c->fast, &v);
			else if (ret == 0)
				continue;
			if (ret < 0 && errno == EAGAIN)
				continue;
			break;
		}
		if (ret < 0) {
			if (errno == EINTR)
				continue;
			c->err = -errno;
			break;
		}
		atomic_fetch_add(&c->took, v);
	}
	atomic_store(&c->exited, true);
	return NULL;
}

static uint64_t mc_took(struct mc *c)
{
	uint64_t sum = 0;
	int i;

	for (i = 0; i < NR_CONSUMERS; i++)
		sum += atomic_load(&c[i].took);
	return sum;
}

TEST_F_TIMEOUT(stress, many_producers_many_consumers_add_up, 60)
{
	struct mc prod[NR_PRODUCERS], cons[NR_CONSUMERS];
	struct evq_fast fast;
	uint64_t sent = 0;
	int64_t end;
	int fd, ep, i;
	bool stuck = false;

	memset(prod, 0, sizeof(prod));
	memset(cons, 0, sizeof(cons));
	fd = evq_mode_counter(true, 0, EVQ_COUNT_MAX, EVQ_FAST, false);
	ASSERT_LE(0, fd) TH_LOG("%s", errstr(fd));
	ASSERT_EQ(0, evq_fast_map(fd, &fast));
	ep = epoll_on(fd, EPOLLIN);
	ASSERT_LE(0, ep);
	mc_cap = now_ms() + MANY_CAP_MS;
	for (i = 0; i < NR_CONSUMERS; i++) {
		cons[i].fast = &fast;
		cons[i].ep = ep;
		cons[i].kind = i == 0 ? MC_READ : i == 1 ? MC_EPOLL : MC_FAST_READ;
		ASSERT_EQ(0, pthread_create(&cons[i].th, NULL, mc_consumer_main,
					    &cons[i]));
	}
	for (i = 0; i < NR_PRODUCERS; i++) {
		prod[i].fast = &fast;
		prod[i].seed = i + 1;
		ASSERT_EQ(0, pthread_create(&prod[i].th, NULL, producer_main,
					    &prod[i]));
	}
	for (i = 0; i < NR_PRODUCERS; i++) {
		pthread_join(prod[i].th, NULL);
		EXPECT_EQ(0, prod[i].err) TH_LOG("producer %d: %s", i, errstr(prod[i].err));
		sent += prod[i].sent;
	}
	/* Every event must be taken; a stall of LOST_MS is a lost wake-up. */
	end = now_ms() + LOST_MS;
	while (mc_took(cons) < sent && now_ms() <= end)
		sleep_us(1000);
	if (mc_took(cons) != sent) {
		struct evq_info info = info_of(fd);

		EXPECT_EQ(sent, mc_took(cons))
			TH_LOG("consumers took %llu of %llu after %d ms: page count %llu, armed %#x, readers %u",
			       (unsigned long long)mc_took(cons),
			       (unsigned long long)sent, LOST_MS,
			       (unsigned long long)pg_count(fast.page),
			       pg_armed(fast.page), info.readers);
	}
	atomic_store(&mc_stop, true);
	end = now_ms() + WAIT_MS;
	for (i = 0; i < NR_CONSUMERS; i++) {
		if (!kick_and_join(cons[i].th, &cons[i].exited, end)) {
			stuck = true;
			continue;
		}
		EXPECT_EQ(0, cons[i].err) TH_LOG("consumer %d: %s", i, errstr(cons[i].err));
	}
	ASSERT_FALSE(stuck) TH_LOG("a consumer could not be stopped");
	EXPECT_EQ(sent, mc_took(cons)) TH_LOG("after the consumers stopped");
	EXPECT_EQ(0ULL, pg_count(fast.page));
	ksft_print_msg("%d producers, %d consumers: %llu signalled, %llu taken\n",
		       NR_PRODUCERS, NR_CONSUMERS, (unsigned long long)sent,
		       (unsigned long long)mc_took(cons));
	close(ep);
	close(fd);
}

/* ---- the scribbler: the page is hostile input -------------------------------- */

enum worker_role { W_NONBLOCK, W_BLOCK, W_POLLERS, W_FAST };

struct worker {
	pthread_t th;
	struct evq_fast *fast;
	unsigned long ops;
	unsigned long eintr;
	enum worker_role role;
	unsigned int seed;
	atomic_int op;		/* what it is doing now (for the log) */
	atomic_bool exited;
};

static atomic_bool scribble_stop;

static uint64_t hostile_u64(unsigned int *seed)
{
	static const uint64_t pick[] = {
		0, 1, 2, ~0ULL, ~0ULL - 1, ~0ULL - 2, 1ULL << 63,
		0x7fffffffffffffffULL, EVQ_ARMED_IN, EVQ_ARMED_OUT, 3,
	};
	unsigned int r = rand_r(seed);

	if (r % 3)
		return pick[r % ARRAY_SIZE(pick)];
	return ((uint64_t)rand_r(seed) << 33) ^ ((uint64_t)rand_r(seed) << 2) ^
	       (uint64_t)rand_r(seed);
}

static void *scribbler_main(void *arg)
{
	struct worker *w = arg;
	struct evq_page *p = w->fast->page;
	unsigned char *raw = (unsigned char *)p;

	while (!atomic_load(&scribble_stop)) {
		uint64_t v = hostile_u64(&w->seed);

		switch (rand_r(&w->seed) % 9) {
		case 0:
		case 1:
			pg_set_count(p, v);
			break;
		case 2:
		case 3:
			pg_set_armed(p, (uint32_t)v);
			break;
		case 4:
			atomic_store((_Atomic uint32_t *)&p->flags, (uint32_t)v);
			break;
		case 5:
			atomic_store((_Atomic uint64_t *)&p->maximum, v);
			break;
		case 6:
			atomic_store((_Atomic uint32_t *)&p->size, (uint32_t)v);
			atomic_store((_Atomic uint32_t *)&p->pad, (uint32_t)(v >> 32));
			break;
		case 7:
			atomic_store((_Atomic uint64_t *)&p->reserved[v % 4], v);
			break;
		default:
			raw[sizeof(*p) + v % (PAGE_BYTES - sizeof(*p))] = (unsigned char)v;
			break;
		}
		w->ops++;
	}
	atomic_store(&w->exited, true);
	return NULL;
}

static const char *const op_names[] = {
	"idle", "read", "write", "preadv2 nowait", "pwritev2 nowait", "poll",
	"select", "epoll_wait", "GET_INFO", "fdinfo", "evq_fast_signal",
	"evq_fast_take", "evq_fast_read", "EVQ_IOC_WAKE",
};

static void *scribble_worker_main(void *arg)
{
	struct worker *w = arg;
	int fd = w->fast->fd, op, ep = epoll_on(fd, EPOLLIN | EPOLLOUT | EPOLLET);
	struct pollfd p = { .fd = fd, .events = POLLIN | POLLOUT };
	struct timeval tv;
	struct epoll_event ev;
	struct evq_info info;
	uint64_t v;
	struct iovec iov = { .iov_base = &v, .iov_len = sizeof(v) };
	fd_set r;
	long ret = 0;

	while (!atomic_load(&scribble_stop)) {
		unsigned int x = rand_r(&w->seed);

		switch (w->role) {
		case W_NONBLOCK:
			op = 3 + (int)(x % 2);		/* preadv2, pwritev2 */
			if (x % 5 == 0)
				op = 8;		/* GET_INFO */
			else if (x % 7 == 0)
				op = 9;		/* fdinfo */
			else if (x % 11 == 0)
				op = 13;	/* WAKE */
			break;
		case W_BLOCK:
			op = 1 + (int)(x % 2);		/* read, write */
			break;
		case W_POLLERS:
			op = 5 + (int)(x % 3);		/* poll, select, epoll */
			break;
		default:
			op = 10 + (int)(x % 3);	/* signal, take, read */
			break;
		}
		atomic_store(&w->op, op);
		v = hostile_u64(&w->seed) % 5;
		switch (op) {
		case 1:
			ret = read(fd, &v, sizeof(v));
			break;
		case 2:
			ret = write(fd, &v, sizeof(v));
			break;
		case 3:
			ret = preadv2(fd, &iov, 1, -1, RWF_NOWAIT);
			break;
		case 4:
			ret = pwritev2(fd, &iov, 1, -1, RWF_NOWAIT);
			break;
		case 5:
			ret = poll(&p, 1, 20);
			break;
		case 6:
			FD_ZERO(&r);
			FD_SET(fd, &r);
			tv.tv_sec = 0;
			tv.tv_usec = 20000;
			ret = select(fd + 1, &r, NULL, NULL, &tv);
			break;
		case 7:
			ret = ep < 0 ? -1 : epoll_wait(ep, &ev, 1, 20);
			break;
		case 8:
			ret = ioctl(fd, EVQ_IOC_GET_INFO, &info);
			break;
		case 9:
			fdinfo_count(fd);
			break;
		case 10:
			ret = evq_fast_signal(w->fast, v);
			break;
		case 11:
			ret = evq_fast_take(w->fast, &v);
			break;
		case 12:
			ret = evq_fast_read(w->fast, &v);
			break;
		default:
			ret = ioctl(fd, EVQ_IOC_WAKE, (unsigned long)(1 + x % 3));
			break;
		}
		if (ret < 0 && errno == EINTR)
			w->eintr++;
		w->ops++;
	}
	atomic_store(&w->op, 0);
	if (ep >= 0)
		close(ep);
	atomic_store(&w->exited, true);
	return NULL;
}

TEST_F_TIMEOUT(stress, scribbled_page_harms_nobody, 60)
{
	struct worker scrib, work[NR_WORKERS];
	struct evq_fast fast, other;
	struct evq_page *p;
	struct evq_info info;
	struct bg_call b;
	int fd, ofd, plain, i, stuck = 0;
	int64_t end;
	uint64_t v;
	long ret;

	fd = evq_mode_counter(true, 0, EVQ_COUNT_MAX, EVQ_FAST, false);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, evq_fast_map(fd, &fast));
	p = fast.page;
	/* The bystanders: a fast counter and a plain one. */
	ofd = evq_mode_counter(false, 42, 100, EVQ_FAST, false);
	ASSERT_LE(0, ofd);
	ASSERT_EQ(0, evq_fast_map(ofd, &other));
	plain = evq_mode_counter(true, 7, EVQ_COUNT_MAX, 0, false);
	ASSERT_LE(0, plain);

	memset(&scrib, 0, sizeof(scrib));
	memset(work, 0, sizeof(work));
	scrib.fast = &fast;
	scrib.seed = 12345;
	ASSERT_EQ(0, pthread_create(&scrib.th, NULL, scribbler_main, &scrib));
	for (i = 0; i < NR_WORKERS; i++) {
		work[i].fast = &fast;
		work[i].role = (enum worker_role)i;
		work[i].seed = 100 + i;
		ASSERT_EQ(0, pthread_create(&work[i].th, NULL,
					    scribble_worker_main, &work[i]));
	}
	/* Blocked calls are kicked out with SIGUSR1 every few ms. */
	end = now_ms() + SCRIBBLE_MS;
	while (now_ms() < end) {
		for (i = 0; i < NR_WORKERS; i++)
			pthread_kill(work[i].th, SIGUSR1);
		sleep_us(5000);
	}
	atomic_store(&scribble_stop, true);
	pthread_join(scrib.th, NULL);
	/*
	 * At count 0 a worker may block in read(2) with nobody left to write:
	 * only SIGUSR1 can bring it back, and must.
	 */
	pg_set_count(p, 0);
	end = now_ms() + WAIT_MS;
	for (i = 0; i < NR_WORKERS; i++) {
		if (!kick_and_join(work[i].th, &work[i].exited, end)) {
			EXPECT_TRUE(atomic_load(&work[i].exited))
				TH_LOG("worker %d still in %s %d ms after the end: a signal could not interrupt it",
				       i, op_names[atomic_load(&work[i].op)], WAIT_MS);
			stuck++;
		}
	}
	ksft_print_msg("scribbler: %lu stores; workers: %lu %lu %lu %lu ops, %lu %lu %lu %lu EINTR\n",
		       scrib.ops, work[0].ops, work[1].ops, work[2].ops,
		       work[3].ops, work[0].eintr, work[1].eintr,
		       work[2].eintr, work[3].eintr);
	ASSERT_EQ(0, stuck);

	/* Restore the page; the counter must work as new. */
	pg_set_count(p, 0);
	pg_set_armed(p, 0);
	p->flags = EVQ_FAST;
	p->maximum = EVQ_COUNT_MAX;
	p->size = sizeof(*p);
	p->pad = 0;
	memset(p->reserved, 0, sizeof(p->reserved));
	info = info_of(fd);
	EXPECT_EQ(0ULL, info.count);
	EXPECT_EQ(0U, info.readers);
	EXPECT_EQ(0U, info.writers);
	EXPECT_EQ(EVQ_FAST, info.flags);
	EXPECT_EQ(EVQ_COUNT_MAX, info.maximum);
	EXPECT_EQ(POLLOUT, poll_now(fd));
	EXPECT_EQ(8, write_u64(fd, 3));
	EXPECT_EQ(8, read_u64(fd, &v));
	EXPECT_EQ(3ULL, v);
	EXPECT_EQ(0, evq_fast_signal(&fast, 2));
	EXPECT_EQ(0, evq_fast_take(&fast, &v));
	EXPECT_EQ(2ULL, v);
	memset(&b, 0, sizeof(b));
	ASSERT_EQ(0, bg_start(&b, BG_READ, fd, 0));
	EXPECT_TRUE(evq_wait_blocked(fd, 1, 0));
	EXPECT_EQ(1, evq_fast_signal(&fast, 4)) TH_LOG("after the scribbling");
	EXPECT_TRUE(bg_wait(&b, WAIT_MS)) TH_LOG("reader not woken after the scribbling");
	EXPECT_EQ(4ULL, b.val);
	ASSERT_TRUE(bg_finish(&b));

	/* The bystanders. */
	expect_page(_metadata, other.page, 42, 0, EVQ_FAST, 100);
	EXPECT_EQ(42ULL, info_of(ofd).count);
	EXPECT_EQ(8, read_u64(ofd, &v));
	EXPECT_EQ(42ULL, v);
	ret = read_u64(plain, &v);
	EXPECT_EQ(8, ret);
	EXPECT_EQ(7ULL, v);
	evq_fast_unmap(&other);
	evq_fast_unmap(&fast);
	close(plain);
	close(ofd);
	close(fd);
}

TEST_HARNESS_MAIN
