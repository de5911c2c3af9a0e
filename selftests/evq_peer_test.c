// SPDX-License-Identifier: GPL-2.0
/*
 * evq_peer_test - what a peer sharing an EVQ_FAST counter can and cannot
 * do to its other users, and what the counter's own users cost each other.
 *
 * Anyone who holds the descriptor (here a child process that received it
 * over SCM_RIGHTS) can map the page read-write and rewrite the count in a
 * tight loop: the scribbler. It may make reads and writes fail with
 * EAGAIN, or leave tasks asleep, but a system call must complete, sleep
 * or fail in bounded time whatever the page holds. Fixture "peer":
 *   liveness        while the scribbler runs, a blocked reader (plain and
 *                   semaphore), a writer blocked at the maximum and an
 *                   io_uring read, each woken with EVQ_IOC_WAKE, must
 *                   return within LIVE_MS (a deadline for "returns at
 *                   all", never a timing): 8, or EAGAIN where the
 *                   operation must compare-and-swap (a semaphore's take
 *                   of 1, a write under the maximum)
 *   arming          a non-blocking read at 0, a failed non-blocking write
 *                   and a zero-timeout poll(2) or select(2) leave the
 *                   armed bits clear, so the next fast-path call makes no
 *                   system call
 *   zapped buffer   reads whose buffer another thread keeps unmapping
 *                   (MADV_DONTNEED) complete or fail with EFAULT within
 *                   LIVE_MS, and lose no value (a plain and a fast
 *                   counter)
 *   wake OUT        EVQ_IOC_WAKE with EVQ_ARMED_OUT (a fast take making
 *                   room) wakes a POLLOUT poller and a blocked writer
 *   kernel signals  evq_signal() from the test module (evq_testmod, which
 *                   must be loaded) is never dropped: not while the
 *                   scribbler runs, and not while a userspace producer
 *                   and taker use the fast path flat out, where every
 *                   value in must come out again
 *
 * Every thread that may block is released with SIGUSR1 (no SA_RESTART)
 * at teardown, after the scribbler is killed, so no case hangs for good.
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
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <liburing.h>

#include "evq.h"
#include "evq_fast.h"
#include "evq_kapi_common.h"
#include "evq_ksft_common.h"
#include "kmod/evq_testmod.h"
#include "kselftest_harness.h"

/* How long a woken call may take to return while the scribbler runs. */
#define LIVE_MS		20000

/* The top of the scribbler's values: it never gets there, nor back. */
#define SCRIBBLE_TOP	(1ULL << 40)

/* Kernel signals and fast-path values in the flat-out case. */
#define KSIGNALS	100000

/*
 * Pin the calling thread (0) or thread @th to the last CPU (@last) or to
 * CPU 0, so that the scribbler and its victim run at the same time, on
 * two CPUs: on one, the victim's short window under the counter's lock
 * (interrupts off) would shut the scribbler out. Nothing with one CPU.
 */
static void pin(pthread_t th, bool last)
{
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	cpu_set_t set;

	if (ncpu < 2)
		return;
	CPU_ZERO(&set);
	CPU_SET(last ? (int)ncpu - 1 : 0, &set);
	if (th)
		pthread_setaffinity_np(th, sizeof(set), &set);
	else
		sched_setaffinity(0, sizeof(set), &set);
}

/*
 * The scribbler's loop, in a child: map the counter received over @sock
 * and store lo, lo + 1, ... hi, lo, ... into its count until killed. The
 * callers give ranges too wide to come round in a test's time: a value
 * seen again would let a compare-and-swap through (ABA) and hide a loop.
 */
static void scribble(int sock, uint64_t lo, uint64_t hi)
{
	_Atomic uint64_t *count;
	struct evq_page *p;
	uint64_t i, span = hi - lo + 1;
	int fd;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	pin(0, true);
	fd = recv_fd(sock);
	if (fd < 0)
		_exit(1);
	p = mmap(NULL, EVQ_PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		_exit(2);
	count = (_Atomic uint64_t *)&p->count;
	if (write(sock, "r", 1) != 1)
		_exit(3);
	for (i = 0;; i++)
		atomic_store_explicit(count, lo + i % span, memory_order_relaxed);
}

/*
 * Start a peer process that gets @fd over SCM_RIGHTS and rewrites the
 * count with values from @lo to @hi; returns once it runs. Its pid, or
 * -errno.
 */
static pid_t scribbler_start(int fd, uint64_t lo, uint64_t hi)
{
	int sv[2], err;
	pid_t pid;
	char c;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		return -errno;
	pid = fork();
	if (pid < 0) {
		err = -errno;
		close(sv[0]);
		close(sv[1]);
		return err;
	}
	if (!pid) {
		close(sv[0]);
		scribble(sv[1], lo, hi);
	}
	close(sv[1]);
	err = send_fd(sv[0], fd);
	if (!err && read(sv[0], &c, 1) != 1)
		err = -EPIPE;
	close(sv[0]);
	if (err) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		return err;
	}
	return pid;
}

static void scribbler_stop(pid_t *pid)
{
	if (*pid <= 0)
		return;
	kill(*pid, SIGKILL);
	waitpid(*pid, NULL, 0);
	*pid = 0;
}

FIXTURE(peer) {
	int fd;			/* EVQ_FAST, blocking, made by the factory */
	struct evq_fast fast;	/* its page */
	pid_t scribbler;	/* the peer, or 0 */
	struct bg_call bg;	/* the victim */
	int tm;			/* an evq_testmod session, or -1 */
};

FIXTURE_SETUP(peer)
{
	self->fd = -1;
	self->tm = -1;
	self->scribbler = 0;
	memset(&self->bg, 0, sizeof(self->bg));
	memset(&self->fast, 0, sizeof(self->fast));
	ASSERT_EQ(0, sigusr1_interrupts(sigusr1_ignore));
}

FIXTURE_TEARDOWN(peer)
{
	scribbler_stop(&self->scribbler);
	if (!bg_finish(&self->bg))
		TH_LOG("a blocked call could not be interrupted");
	if (self->fast.page)
		evq_fast_unmap(&self->fast);
	if (self->fd >= 0)
		close(self->fd);
	if (self->tm >= 0)
		close(self->tm);
}

/* A fast counter in self->fd, mapped in self->fast. */
static void fast_counter(struct __test_metadata *_metadata,
			 FIXTURE_DATA(peer) *self, uint64_t initval,
			 uint64_t maximum, uint32_t flags, bool nonblock)
{
	self->fd = evq_mode_counter(true, initval, maximum, flags | EVQ_FAST,
				    nonblock);
	ASSERT_LE(0, self->fd) TH_LOG("fast counter (initval %llu, maximum %llu, flags %#x): %s",
				      (unsigned long long)initval,
				      (unsigned long long)maximum, flags,
				      errstr(self->fd));
	ASSERT_EQ(0, evq_fast_map(self->fd, &self->fast))
		TH_LOG("evq_fast_map: %s", strerror(errno));
}

#define FAST_COUNTER(initval, maximum, flags) \
	fast_counter(_metadata, self, (initval), (maximum), (flags), false)
#define FAST_COUNTER_NONBLOCK(initval, maximum, flags) \
	fast_counter(_metadata, self, (initval), (maximum), (flags), true)

#define START_SCRIBBLER(lo, hi) do {					\
	pin(0, false);							\
	if (self->bg.started)						\
		pin(self->bg.th, false);				\
	self->scribbler = scribbler_start(self->fd, (lo), (hi));	\
	ASSERT_LT(0, self->scribbler)					\
		TH_LOG("scribbler: %s", errstr(self->scribbler));	\
	sleep_us(SETTLE_MS * 1000L);					\
} while (0)

/*
 * Wait LIVE_MS for the victim; then stop the scribbler whatever happened,
 * and fail if the victim was still in the kernel.
 */
#define EXPECT_VICTIM_RETURNS(what) do {				\
	bool back_ = bg_wait(&self->bg, LIVE_MS);			\
	scribbler_stop(&self->scribbler);				\
	ASSERT_TRUE(back_)						\
		TH_LOG("%s still in the kernel %d ms after it was woken, while a peer rewrote the count", \
		       (what), LIVE_MS);				\
} while (0)

/* ---- liveness while the scribbler runs ----------------------------------- */

/* A read that takes the whole count takes it with an exchange: always 8. */
TEST_F_TIMEOUT(peer, blocked_reader_returns_while_a_peer_rewrites_the_count, 90)
{
	FAST_COUNTER(0, EVQ_COUNT_MAX, 0);
	ASSERT_EQ(0, bg_start(&self->bg, BG_READ, self->fd, 0));
	ASSERT_TRUE(evq_wait_blocked(self->fd, 1, 0));
	ASSERT_TRUE(armed_within(self->fast.page, EVQ_ARMED_IN));
	START_SCRIBBLER(1, SCRIBBLE_TOP);
	EXPECT_EQ(0, wake(self->fd, EVQ_ARMED_IN));
	EXPECT_VICTIM_RETURNS("read(2)");
	EXPECT_EQ(8, self->bg.ret) TH_LOG("read: %s", errstr(self->bg.ret));
	EXPECT_TRUE(self->bg.val >= 1 && self->bg.val <= SCRIBBLE_TOP)
		TH_LOG("read %#llx, not a value the peer stored",
		       (unsigned long long)self->bg.val);
}

/* A semaphore's take of 1 must compare-and-swap: 8, or EAGAIN. */
TEST_F_TIMEOUT(peer, blocked_semaphore_reader_returns_while_a_peer_rewrites_the_count, 90)
{
	FAST_COUNTER(0, EVQ_COUNT_MAX, EVQ_SEMAPHORE);
	ASSERT_EQ(0, bg_start(&self->bg, BG_READ, self->fd, 0));
	ASSERT_TRUE(evq_wait_blocked(self->fd, 1, 0));
	ASSERT_TRUE(armed_within(self->fast.page, EVQ_ARMED_IN));
	START_SCRIBBLER(1, SCRIBBLE_TOP);
	EXPECT_EQ(0, wake(self->fd, EVQ_ARMED_IN));
	EXPECT_VICTIM_RETURNS("semaphore read(2)");
	EXPECT_TRUE(self->bg.ret == 8 || self->bg.ret == -EAGAIN)
		TH_LOG("read: %ld (%s), want 8 or EAGAIN", self->bg.ret,
		       errstr(self->bg.ret));
	if (self->bg.ret == 8)
		EXPECT_EQ(1ULL, self->bg.val);
}

/* A write must respect the maximum, so compare-and-swap: 8, or EAGAIN. */
TEST_F_TIMEOUT(peer, writer_at_the_maximum_returns_while_a_peer_rewrites_the_count, 90)
{
	FAST_COUNTER(2 * SCRIBBLE_TOP, 2 * SCRIBBLE_TOP, 0);
	ASSERT_EQ(0, bg_start(&self->bg, BG_WRITE, self->fd, 1));
	ASSERT_TRUE(evq_wait_blocked(self->fd, 0, 1));
	ASSERT_TRUE(armed_within(self->fast.page, EVQ_ARMED_OUT));
	/* Counts below the maximum: the write of 1 always fits. */
	START_SCRIBBLER(1, SCRIBBLE_TOP);
	EXPECT_EQ(0, wake(self->fd, EVQ_ARMED_OUT));
	EXPECT_VICTIM_RETURNS("write(2)");
	EXPECT_TRUE(self->bg.ret == 8 || self->bg.ret == -EAGAIN)
		TH_LOG("write: %ld (%s), want 8 or EAGAIN", self->bg.ret,
		       errstr(self->bg.ret));
}

/* BG_FN: one io_uring read of the counter @b->fd into @b->val. */
static long uring_read(struct bg_call *b)
{
	struct __kernel_timespec ts = { .tv_sec = 2 * LIVE_MS / 1000 };
	struct io_uring_cqe *cqe;
	struct io_uring_sqe *sqe;
	struct io_uring ring;
	long ret;

	ret = io_uring_queue_init(4, &ring, 0);
	if (ret < 0)
		return ret;
	sqe = io_uring_get_sqe(&ring);
	io_uring_prep_read(sqe, b->fd, &b->val, sizeof(b->val), 0);
	ret = io_uring_submit(&ring);
	if (ret >= 0)
		ret = io_uring_wait_cqe_timeout(&ring, &cqe, &ts);
	if (!ret) {
		ret = cqe->res;
		io_uring_cqe_seen(&ring, cqe);
	}
	io_uring_queue_exit(&ring);
	return ret;
}

TEST_F_TIMEOUT(peer, io_uring_read_returns_while_a_peer_rewrites_the_count, 90)
{
	FAST_COUNTER(0, EVQ_COUNT_MAX, 0);
	self->bg.fn = uring_read;
	ASSERT_EQ(0, bg_start(&self->bg, BG_FN, self->fd, 0));
	/* Queued at count 0: io_uring's poll armed IN. */
	ASSERT_TRUE(armed_within(self->fast.page, EVQ_ARMED_IN))
		TH_LOG("the pending io_uring read did not arm IN");
	START_SCRIBBLER(1, SCRIBBLE_TOP);
	EXPECT_EQ(0, wake(self->fd, EVQ_ARMED_IN));
	EXPECT_VICTIM_RETURNS("io_uring read");
	EXPECT_EQ(8, self->bg.ret) TH_LOG("io_uring read: %s", errstr(self->bg.ret));
}

/* ---- a reader whose buffer keeps going away ------------------------------ */

#define ZAP_READS	2000

struct zapper {
	void *page;
	atomic_bool stop;
	unsigned long zaps;
};

/* Unmap the page's contents (MADV_DONTNEED) in a loop until told to stop. */
static void *zapper_main(void *arg)
{
	struct zapper *z = arg;

	while (!atomic_load_explicit(&z->stop, memory_order_relaxed)) {
		madvise(z->page, 4096, MADV_DONTNEED);
		z->zaps++;
	}
	return NULL;
}

struct zap_reads {
	int fd;
	uint64_t *buf;		/* in the zapped page */
	uint64_t in, out;	/* written, read */
	long efault;
};

/* BG_FN: ZAP_READS writes of 1, each followed by a read into @b->arg's buf. */
static long zap_reads(struct bg_call *b)
{
	struct zap_reads *zr = b->arg;
	ssize_t n;
	int i;

	for (i = 0; i < ZAP_READS; i++) {
		if (write_u64(zr->fd, 1) != 8)
			return -EIO;
		zr->in++;
		n = read(zr->fd, zr->buf, sizeof(*zr->buf));
		if (n == 8)
			zr->out += *zr->buf;
		else if (errno == EFAULT)
			zr->efault++;
		else
			return -errno;
	}
	return 0;
}

/*
 * Reads whose buffer another thread keeps unmapping: each completes or
 * fails with EFAULT (no value lost: what a failed read did not take is
 * read later), and the whole run returns within LIVE_MS. On the debug
 * kernel, no soft-lockup report either.
 */
static void zapped_reads(struct __test_metadata *_metadata,
			 FIXTURE_DATA(peer) *self, int fd)
{
	struct zap_reads zr = { .fd = fd };
	struct zapper z = { 0 };
	pthread_t th;
	uint64_t v;
	bool back;

	/* Shared: a zap drops the mapping, not the value a read stored. */
	z.page = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
		      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, z.page);
	zr.buf = z.page;
	ASSERT_EQ(0, pthread_create(&th, NULL, zapper_main, &z));
	self->bg.fn = zap_reads;
	self->bg.arg = &zr;
	ASSERT_EQ(0, bg_start(&self->bg, BG_FN, fd, 0));
	back = bg_wait(&self->bg, LIVE_MS);
	atomic_store(&z.stop, true);
	pthread_join(th, NULL);
	ASSERT_TRUE(back) TH_LOG("%ld of %d reads done after %d ms, %lu zaps",
				 (long)zr.in, ZAP_READS, LIVE_MS, z.zaps);
	ASSERT_TRUE(bg_finish(&self->bg));
	EXPECT_EQ(0, self->bg.ret) TH_LOG("%s", errstr(self->bg.ret));
	ksft_print_msg("%d reads: %ld EFAULT, %lu zaps\n", ZAP_READS,
		       zr.efault, z.zaps);
	/* What the failed reads left is still there (@fd is non-blocking). */
	if (read_u64(fd, &v) == 8)
		zr.out += v;
	EXPECT_EQ(zr.in, zr.out) TH_LOG("written %llu, read %llu",
					(unsigned long long)zr.in,
					(unsigned long long)zr.out);
	munmap(z.page, 4096);
}

TEST_F_TIMEOUT(peer, reads_into_a_buffer_that_keeps_being_unmapped_return, 90)
{
	self->fd = evq_mode_counter(true, 0, EVQ_COUNT_MAX, 0, true);
	ASSERT_LE(0, self->fd) TH_LOG("counter: %s", errstr(self->fd));
	zapped_reads(_metadata, self, self->fd);
}

TEST_F_TIMEOUT(peer, fast_reads_into_a_buffer_that_keeps_being_unmapped_return, 90)
{
	FAST_COUNTER_NONBLOCK(0, EVQ_COUNT_MAX, 0);
	zapped_reads(_metadata, self, self->fd);
}

/* ---- arming only where somebody will wait -------------------------------- */

/*
 * The page's armed bits must be clear, and the next fast-path call must
 * stay in userspace (0), after @what.
 */
#define EXPECT_NOT_ARMED(what) do {					\
	EXPECT_EQ(0U, pg_armed(self->fast.page))			\
		TH_LOG("%s armed the page: %#x", (what),		\
		       pg_armed(self->fast.page));			\
} while (0)

TEST_F(peer, nonblocking_read_at_zero_does_not_arm)
{
	struct iovec iov;
	uint64_t v = POISON;

	FAST_COUNTER_NONBLOCK(0, EVQ_COUNT_MAX, 0);
	EXPECT_EQ(-EAGAIN, read_u64(self->fd, &v));
	EXPECT_NOT_ARMED("an O_NONBLOCK read at 0");
	iov.iov_base = &v;
	iov.iov_len = sizeof(v);
	EXPECT_EQ(-EAGAIN, ret_or_errno(preadv2(self->fd, &iov, 1, -1,
						RWF_NOWAIT)));
	EXPECT_NOT_ARMED("a RWF_NOWAIT read at 0");
	EXPECT_EQ(0, evq_fast_signal(&self->fast, 1))
		TH_LOG("the signal after a read that did not wait made a system call");
	EXPECT_EQ(8, read_u64(self->fd, &v));
	EXPECT_EQ(1ULL, v);
}

TEST_F(peer, failed_nonblocking_write_does_not_arm)
{
	uint64_t v = POISON;

	FAST_COUNTER_NONBLOCK(5, 5, 0);
	EXPECT_EQ(-EAGAIN, write_u64(self->fd, 1));
	EXPECT_NOT_ARMED("an O_NONBLOCK write at the maximum");
	EXPECT_EQ(0, evq_fast_take(&self->fast, &v))
		TH_LOG("the take after a write that did not wait made a system call");
	EXPECT_EQ(5ULL, v);
}

TEST_F(peer, zero_timeout_poll_and_select_do_not_arm)
{
	struct timeval tv = { 0 };
	struct pollfd p;
	fd_set r, w;

	FAST_COUNTER(0, EVQ_COUNT_MAX, 0);
	p.fd = self->fd;
	p.events = POLLIN | POLLOUT;
	EXPECT_EQ(1, poll(&p, 1, 0));
	EXPECT_EQ(POLLOUT, p.revents);
	EXPECT_NOT_ARMED("poll(2) with a zero timeout");
	FD_ZERO(&r);
	FD_ZERO(&w);
	FD_SET(self->fd, &r);
	FD_SET(self->fd, &w);
	EXPECT_EQ(1, select(self->fd + 1, &r, &w, NULL, &tv));
	EXPECT_NOT_ARMED("select(2) with a zero timeout");
	EXPECT_EQ(0, evq_fast_signal(&self->fast, 1))
		TH_LOG("the signal after a poll that did not wait made a system call");
	EXPECT_EQ(1ULL, pg_count(self->fast.page));
}

/* ---- EVQ_IOC_WAKE(EVQ_ARMED_OUT) ----------------------------------------- */

/* BG_FN: poll(2) for POLLOUT alone on @b->fd; revents in @b->events. */
static long poll_out(struct bg_call *b)
{
	struct pollfd p = { .fd = b->fd, .events = POLLOUT };
	long ret = ret_or_errno(poll(&p, 1, -1));

	b->events = (uint32_t)p.revents;
	return ret;
}

/*
 * A take through the page that makes room wakes, through EVQ_IOC_WAKE with
 * EVQ_ARMED_OUT, both a poller waiting for POLLOUT alone (woken only by an
 * EPOLLOUT wake-up) and a writer blocked at the maximum.
 */
TEST_F(peer, wake_out_wakes_a_pollout_poller_and_a_blocked_writer)
{
	uint64_t v = POISON;

	FAST_COUNTER(1, 1, 0);
	/* The poller alone: nobody fills the room it is woken for. */
	self->bg.fn = poll_out;
	ASSERT_EQ(0, bg_start(&self->bg, BG_FN, self->fd, 0));
	ASSERT_TRUE(armed_within(self->fast.page, EVQ_ARMED_OUT))
		TH_LOG("the POLLOUT poller did not arm OUT");
	EXPECT_FALSE(bg_wait(&self->bg, SETTLE_MS))
		TH_LOG("poll returned at the maximum: %#x", self->bg.events);
	EXPECT_EQ(1, evq_fast_take(&self->fast, &v))
		TH_LOG("the take with OUT armed made no system call");
	EXPECT_EQ(1ULL, v);
	EXPECT_TRUE(bg_wait(&self->bg, WAIT_MS))
		TH_LOG("EVQ_IOC_WAKE(EVQ_ARMED_OUT) did not wake the POLLOUT poller");
	EXPECT_EQ(1, self->bg.ret);
	EXPECT_EQ((uint32_t)POLLOUT, self->bg.events);

	/* Then a writer blocked at the maximum. */
	ASSERT_TRUE(bg_finish(&self->bg));
	memset(&self->bg, 0, sizeof(self->bg));
	EXPECT_EQ(0, evq_fast_signal(&self->fast, 1));
	ASSERT_EQ(0, bg_start(&self->bg, BG_WRITE, self->fd, 1));
	ASSERT_TRUE(evq_wait_blocked(self->fd, 0, 1));
	ASSERT_TRUE(armed_within(self->fast.page, EVQ_ARMED_OUT));
	EXPECT_EQ(1, evq_fast_take(&self->fast, &v))
		TH_LOG("the take with a writer asleep made no system call");
	EXPECT_TRUE(bg_wait(&self->bg, WAIT_MS))
		TH_LOG("EVQ_IOC_WAKE(EVQ_ARMED_OUT) did not wake the blocked writer");
	EXPECT_EQ(8, self->bg.ret) TH_LOG("write: %s", errstr(self->bg.ret));
	EXPECT_EQ(1ULL, pg_count(self->fast.page));
}

/* ---- kernel signals ------------------------------------------------------ */

/* Open an evq_testmod session on self->tm and attach self->fd. */
static void tm_attach(struct __test_metadata *_metadata,
		      FIXTURE_DATA(peer) *self)
{
	long ret;

	self->tm = tm_open(_metadata);
	ret = attach(self->tm, self->fd);
	ASSERT_EQ(0, ret) TH_LOG("ATTACH: %s", errstr(ret));
}

TEST_F_TIMEOUT(peer, kernel_signal_is_never_dropped_while_a_peer_rewrites_the_count, 90)
{
	struct evq_testmod_stats st;
	long ret;

	FAST_COUNTER(0, EVQ_COUNT_MAX, 0);
	tm_attach(_metadata, self);
	START_SCRIBBLER(0, SCRIBBLE_TOP);
	ret = tm_signal(self->tm, 1, 10000, EVQ_TESTMOD_BURST);
	scribbler_stop(&self->scribbler);
	ASSERT_EQ(0, ret) TH_LOG("SIGNAL: %s", errstr(ret));
	st = stats(_metadata, self->tm);
	EXPECT_EQ(10000ULL, st.signalled);
	EXPECT_EQ(0ULL, st.refused)
		TH_LOG("%llu of 10000 evq_signal() calls returned false",
		       (unsigned long long)st.refused);
}

struct flat {
	struct evq_fast *fast;
	atomic_bool stop;	/* the producer stops */
	atomic_bool drain;	/* the taker stops at the next EAGAIN */
	uint64_t produced;	/* values the producer added */
	uint64_t taken;		/* values the taker took */
	long err;		/* first error, -errno */
};

static void *flat_producer(void *arg)
{
	struct flat *f = arg;

	while (!atomic_load_explicit(&f->stop, memory_order_relaxed)) {
		if (evq_fast_signal(f->fast, 1) < 0) {
			f->err = -errno;
			break;
		}
		f->produced++;
	}
	return NULL;
}

static void *flat_taker(void *arg)
{
	struct flat *f = arg;
	uint64_t v;

	for (;;) {
		if (evq_fast_take(f->fast, &v) >= 0) {
			f->taken += v;
			continue;
		}
		if (errno != EAGAIN) {
			f->err = -errno;
			break;
		}
		if (atomic_load(&f->drain))
			break;
	}
	return NULL;
}

/*
 * A legitimate heavy load: a fast producer and a fast taker flat out while
 * the kernel signals KSIGNALS times. Every value in comes out.
 */
TEST_F_TIMEOUT(peer, kernel_signals_all_land_under_a_flat_out_fast_producer_and_taker, 120)
{
	struct flat f = { .fast = &self->fast };
	struct evq_testmod_stats st;
	pthread_t prod, take;
	uint64_t rest = 0;
	long ret;

	FAST_COUNTER(0, EVQ_COUNT_MAX, 0);
	tm_attach(_metadata, self);
	ASSERT_EQ(0, pthread_create(&prod, NULL, flat_producer, &f));
	ASSERT_EQ(0, pthread_create(&take, NULL, flat_taker, &f));
	ret = tm_signal(self->tm, 1, KSIGNALS, EVQ_TESTMOD_BURST);
	atomic_store(&f.stop, true);
	pthread_join(prod, NULL);
	atomic_store(&f.drain, true);
	pthread_join(take, NULL);
	ASSERT_EQ(0, ret) TH_LOG("SIGNAL: %s", errstr(ret));
	EXPECT_EQ(0, f.err) TH_LOG("fast path: %s", errstr(f.err));
	if (evq_fast_take(&self->fast, &rest) < 0)
		rest = 0;
	st = stats(_metadata, self->tm);
	ksft_print_msg("%llu kernel signals, %llu fast signals\n",
		       (unsigned long long)st.signalled,
		       (unsigned long long)f.produced);
	EXPECT_EQ(0ULL, st.refused)
		TH_LOG("%llu evq_signal() calls returned false",
		       (unsigned long long)st.refused);
	EXPECT_EQ((uint64_t)KSIGNALS, st.signalled);
	EXPECT_EQ(KSIGNALS + f.produced, f.taken + rest)
		TH_LOG("in: %d kernel + %llu fast; out: %llu taken + %llu left",
		       KSIGNALS, (unsigned long long)f.produced,
		       (unsigned long long)f.taken, (unsigned long long)rest);
	EXPECT_EQ(0ULL, pg_count(self->fast.page));
}

TEST_HARNESS_MAIN
