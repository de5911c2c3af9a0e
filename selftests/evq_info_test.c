// SPDX-License-Identifier: GPL-2.0
/*
 * evq_info_test - EVQ_IOC_GET_INFO, the snapshot ioctl of /dev/evq.
 *
 * Checks every field of struct evq_info after open, EVQ_IOC_SETUP, writes
 * and reads; that the ioctl consumes nothing and wakes nobody (an
 * edge-triggered epoll waiter sees no edge, a blocked reader is not even
 * woken: its voluntary context switches do not move); that the readers and
 * writers counts are exact with 1 to 3 threads blocked, while they are
 * released one by one, and after EINTR; EFAULT for bad pointers, ENOTTY for
 * the same number with another size or direction, and ENOTTY on a native
 * eventfd, which is how an event loop probes for evq.
 *
 * Fixture "info" has one variant, "evq", so that `evq_info_test -v evq`
 * runs every evq case, as for the other suites. Setup fails, never skips,
 * when /dev/evq cannot be opened.
 *
 * Timing: nothing passes or fails on how long something took. Waiter
 * counts are polled until they reach the expected value or WAIT_MS pass;
 * "still blocked" is looked at after SETTLE_MS.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <linux/evq.h>

#include "evq.h"
#include "evq_ksft_common.h"
#include "kselftest_harness.h"

#define MAX_WAITERS	3

/* ---- small helpers ------------------------------------------------------- */

/* GET_INFO into @info, poisoned first so that unwritten bytes show. */
static long get_info(int fd, struct evq_info *info)
{
	memset(info, 0xa5, sizeof(*info));
	return ret_or_errno(ioctl(fd, EVQ_IOC_GET_INFO, info));
}

static long setup(int fd, uint64_t initval, uint32_t flags)
{
	struct evq_setup s = { .initval = initval, .flags = flags };

	return ret_or_errno(ioctl(fd, EVQ_IOC_SETUP, &s));
}

static void sleep_ms(int ms)
{
	struct timespec ts = { .tv_sec = ms / 1000,
			       .tv_nsec = (long)(ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* The eventfd-id line of /proc/self/fdinfo/@fd, or -1. */
static long fdinfo_id(int fd)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	return proc_long(path, "eventfd-id: %ld");
}

/* voluntary_ctxt_switches of thread @tid of this process, or -1. */
static long voluntary_switches(pid_t tid)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/self/task/%d/status", (int)tid);
	return proc_long(path, "voluntary_ctxt_switches: %ld");
}

/*
 * Every field of a fresh snapshot of @fd against what is expected; @when
 * says at which step of the test, so a failure names it.
 */
static void expect_info(struct __test_metadata *_metadata, int fd,
			const char *when, uint64_t count, uint32_t flags,
			uint32_t readers, uint32_t writers)
{
	struct evq_info info;
	long ret = get_info(fd, &info);
	size_t i;

	ASSERT_EQ(0, ret) TH_LOG("%s: GET_INFO: %s", when, errstr(ret));
	EXPECT_EQ(count, info.count) TH_LOG("%s: count", when);
	EXPECT_EQ(EVQ_COUNT_MAX, info.maximum) TH_LOG("%s: maximum", when);
	EXPECT_EQ(flags, info.flags) TH_LOG("%s: flags", when);
	EXPECT_EQ(fdinfo_id(fd), (long)info.id) TH_LOG("%s: id against fdinfo",
						       when);
	EXPECT_EQ(readers, info.readers) TH_LOG("%s: readers", when);
	EXPECT_EQ(writers, info.writers) TH_LOG("%s: writers", when);
	for (i = 0; i < ARRAY_SIZE(info.reserved); i++)
		EXPECT_EQ(0ULL, info.reserved[i])
			TH_LOG("%s: reserved[%zu]", when, i);
}

/*
 * Poll GET_INFO until it shows @readers and @writers or WAIT_MS pass. The
 * last snapshot is left in @info; true if it matched.
 */
static bool wait_waiters(int fd, uint32_t readers, uint32_t writers,
			 struct evq_info *info)
{
	int64_t deadline = now_ms() + WAIT_MS;

	for (;;) {
		if (get_info(fd, info) == 0 && info->readers == readers &&
		    info->writers == writers)
			return true;
		if (now_ms() >= deadline)
			return false;
		sleep_ms(5);
	}
}

#define EXPECT_WAITERS(fd, r, w, when) do {				\
	struct evq_info _i;						\
	bool _ok = wait_waiters((fd), (r), (w), &_i);			\
	EXPECT_TRUE(_ok) TH_LOG("%s: expected readers %u writers %u, "	\
				"got readers %u writers %u after %d ms",	\
				(when), (unsigned int)(r),		\
				(unsigned int)(w), _i.readers,		\
				_i.writers, WAIT_MS);			\
} while (0)

/* ---- threads blocked in read or write ----------------------------------- */

/* Heap-allocated: a thread given up on must not write into a dead stack. */
struct waiter {
	pthread_t thread;
	int fd;
	bool write;
	uint64_t value;		/* write: to write; read: what was read */
	long ret;		/* 8 or -errno */
	atomic_int tid;
	atomic_bool done;
};

static void *waiter_fn(void *arg)
{
	struct waiter *w = arg;

	atomic_store(&w->tid, (int)syscall(SYS_gettid));
	if (w->write)
		w->ret = write_u64(w->fd, w->value);
	else
		w->ret = read_u64(w->fd, &w->value);
	atomic_store(&w->done, true);
	return NULL;
}

static struct waiter *start_waiter(struct __test_metadata *_metadata, int fd,
				   bool write, uint64_t value)
{
	struct waiter *w = calloc(1, sizeof(*w));
	int err;

	ASSERT_NE(NULL, w);
	w->fd = fd;
	w->write = write;
	w->value = value;
	atomic_init(&w->tid, 0);
	atomic_init(&w->done, false);
	err = pthread_create(&w->thread, NULL, waiter_fn, w);
	ASSERT_EQ(0, err) TH_LOG("pthread_create: %s", strerror(err));
	return w;
}

/* Wait up to WAIT_MS for @w to return and join it; false if it did not. */
static bool finish_waiter(struct waiter *w)
{
	int64_t deadline = now_ms() + WAIT_MS;

	while (!atomic_load(&w->done) && now_ms() < deadline)
		sleep_ms(5);
	if (!atomic_load(&w->done))
		return false;
	pthread_join(w->thread, NULL);
	return true;
}

/* SIGUSR1 without SA_RESTART, so that a blocked call returns EINTR. */
static void on_signal(int sig)
{
	(void)sig;
}

static void install_handler(struct __test_metadata *_metadata)
{
	struct sigaction sa = { .sa_handler = on_signal };

	sigemptyset(&sa.sa_mask);
	ASSERT_EQ(0, sigaction(SIGUSR1, &sa, NULL));
}

/* Signal @w until it returns (the first signal could come too early). */
static bool interrupt_waiter(struct waiter *w)
{
	int64_t deadline = now_ms() + WAIT_MS;

	while (!atomic_load(&w->done) && now_ms() < deadline) {
		pthread_kill(w->thread, SIGUSR1);
		sleep_ms(20);
	}
	return finish_waiter(w);
}

/* ---- fixture ------------------------------------------------------------- */

FIXTURE(info) {
	int fd;		/* fresh /dev/evq counter, blocking, not set up */
};

FIXTURE_VARIANT(info) {
	int unused;
};

FIXTURE_VARIANT_ADD(info, evq) {
	.unused = 0,
};

static int open_evq(struct __test_metadata *_metadata, int flags)
{
	const char *path = evq_device();
	int fd = open(path, O_RDWR | O_CLOEXEC | flags);
	int err = errno;

	ASSERT_LE(0, fd) TH_LOG("open(%s): %s; is the evq module loaded?",
				path, strerror(err));
	return fd;
}

FIXTURE_SETUP(info)
{
	(void)variant;
	self->fd = open_evq(_metadata, 0);
}

FIXTURE_TEARDOWN(info)
{
	if (self->fd >= 0)
		close(self->fd);
}

/* ---- every field --------------------------------------------------------- */

TEST_F(info, fresh_counter_every_field)
{
	int other = open_evq(_metadata, 0);
	struct evq_info a, b;

	expect_info(_metadata, self->fd, "after open", 0, 0, 0, 0);
	/* Two live counters never share an id. */
	ASSERT_EQ(0, get_info(self->fd, &a));
	ASSERT_EQ(0, get_info(other, &b));
	EXPECT_NE(a.id, b.id) TH_LOG("two counters, both id %u", a.id);
	expect_info(_metadata, other, "second counter", 0, 0, 0, 0);
	close(other);
}

TEST_F(info, setup_initval_and_semaphore_shown)
{
	int fd = open_evq(_metadata, 0);

	ASSERT_EQ(0, setup(self->fd, 7, 0));
	expect_info(_metadata, self->fd, "setup(7, 0)", 7, 0, 0, 0);
	ASSERT_EQ(0, setup(fd, EVQ_COUNT_MAX, EVQ_SEMAPHORE));
	expect_info(_metadata, fd, "setup(COUNT_MAX, EVQ_SEMAPHORE)",
		    EVQ_COUNT_MAX, EVQ_SEMAPHORE, 0, 0);
	close(fd);
}

TEST_F(info, writes_and_reads_shown)
{
	int sem = open_evq(_metadata, 0);
	uint64_t v;

	ASSERT_EQ(8, write_u64(self->fd, 3));
	expect_info(_metadata, self->fd, "write 3", 3, 0, 0, 0);
	ASSERT_EQ(8, write_u64(self->fd, 0x100000000ULL));
	expect_info(_metadata, self->fd, "write 3, 2^32", 0x100000003ULL, 0,
		    0, 0);
	ASSERT_EQ(8, read_u64(self->fd, &v));
	EXPECT_EQ(0x100000003ULL, v);
	expect_info(_metadata, self->fd, "after read", 0, 0, 0, 0);

	ASSERT_EQ(0, setup(sem, 0, EVQ_SEMAPHORE));
	ASSERT_EQ(8, write_u64(sem, 2));
	expect_info(_metadata, sem, "semaphore, write 2", 2, EVQ_SEMAPHORE,
		    0, 0);
	ASSERT_EQ(8, read_u64(sem, &v));
	EXPECT_EQ(1ULL, v);
	expect_info(_metadata, sem, "semaphore, one read", 1, EVQ_SEMAPHORE,
		    0, 0);
	close(sem);
}

/* ---- consumes nothing, wakes nobody -------------------------------------- */

TEST_F(info, peek_consumes_nothing)
{
	uint64_t v;
	int i;

	ASSERT_EQ(8, write_u64(self->fd, 5));
	for (i = 0; i < 10; i++)
		expect_info(_metadata, self->fd, "peeking at 5", 5, 0, 0, 0);
	ASSERT_EQ(8, read_u64(self->fd, &v));
	EXPECT_EQ(5ULL, v) TH_LOG("the read after 10 peeks");
}

TEST_F(info, peek_wakes_no_epollet_waiter)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT | EPOLLET };
	struct evq_info info;
	int ep, n;

	ASSERT_EQ(8, write_u64(self->fd, 3));
	ep = epoll_create1(EPOLL_CLOEXEC);
	ASSERT_LE(0, ep);
	ASSERT_EQ(0, epoll_ctl(ep, EPOLL_CTL_ADD, self->fd, &ev));
	/* The edge of the registration itself, then quiet. */
	n = epoll_wait(ep, &ev, 1, WAIT_MS);
	ASSERT_EQ(1, n) TH_LOG("first epoll_wait: %d", n);
	n = epoll_wait(ep, &ev, 1, 0);
	ASSERT_EQ(0, n) TH_LOG("no write since the first edge");

	ASSERT_EQ(0, get_info(self->fd, &info));
	n = epoll_wait(ep, &ev, 1, SETTLE_MS);
	EXPECT_EQ(0, n) TH_LOG("GET_INFO gave an edge: events %#x",
			       n > 0 ? ev.events : 0);
	EXPECT_EQ(3ULL, info.count);

	/* The waiter still works: a write is an edge. */
	ASSERT_EQ(8, write_u64(self->fd, 1));
	n = epoll_wait(ep, &ev, 1, WAIT_MS);
	EXPECT_EQ(1, n) TH_LOG("edge after a write");
	close(ep);
}

/*
 * A reader asleep at count 0 must not even be woken: a wake-up it ignored
 * (the count still 0) would show as one more voluntary context switch.
 */
TEST_F(info, peek_leaves_blocked_reader_asleep)
{
	struct waiter *w = start_waiter(_metadata, self->fd, false, 0);
	long before, after;
	int i;

	EXPECT_WAITERS(self->fd, 1, 0, "one reader blocked");
	sleep_ms(SETTLE_MS);
	before = voluntary_switches(atomic_load(&w->tid));
	ASSERT_LE(0, before);
	for (i = 0; i < 10; i++)
		expect_info(_metadata, self->fd, "peek at a blocked reader", 0,
			    0, 1, 0);
	sleep_ms(SETTLE_MS);
	after = voluntary_switches(atomic_load(&w->tid));
	EXPECT_EQ(before, after) TH_LOG("the reader was woken by GET_INFO");
	EXPECT_FALSE(atomic_load(&w->done)) TH_LOG("reader returned %ld",
						   w->ret);

	ASSERT_EQ(8, write_u64(self->fd, 4));
	ASSERT_TRUE(finish_waiter(w)) TH_LOG("reader not woken by a write");
	EXPECT_EQ(8, w->ret) TH_LOG("read: %s", errstr(w->ret));
	EXPECT_EQ(4ULL, w->value);
	expect_info(_metadata, self->fd, "after the reader got 4", 0, 0, 0, 0);
	free(w);
}

/* ---- waiter counts ------------------------------------------------------- */

/*
 * 1, 2 and 3 readers asleep on a semaphore counter at 0, released one
 * write of 1 at a time: readers goes n, n-1, ... 0 and the count stays 0.
 */
TEST_F(info, blocked_readers_counted_1_to_3)
{
	struct waiter *w[MAX_WAITERS];
	char when[64];
	int n, i, fd;

	for (n = 1; n <= MAX_WAITERS; n++) {
		fd = open_evq(_metadata, 0);
		ASSERT_EQ(0, setup(fd, 0, EVQ_SEMAPHORE));
		for (i = 0; i < n; i++)
			w[i] = start_waiter(_metadata, fd, false, 0);
		snprintf(when, sizeof(when), "%d readers blocked", n);
		EXPECT_WAITERS(fd, n, 0, when);
		sleep_ms(SETTLE_MS);
		expect_info(_metadata, fd, when, 0, EVQ_SEMAPHORE, n, 0);
		for (i = n - 1; i >= 0; i--) {
			ASSERT_EQ(8, write_u64(fd, 1));
			snprintf(when, sizeof(when), "%d readers, %d released",
				 n, n - i);
			EXPECT_WAITERS(fd, i, 0, when);
			expect_info(_metadata, fd, when, 0, EVQ_SEMAPHORE, i,
				    0);
		}
		for (i = 0; i < n; i++) {
			ASSERT_TRUE(finish_waiter(w[i]));
			EXPECT_EQ(8, w[i]->ret);
			EXPECT_EQ(1ULL, w[i]->value);
			free(w[i]);
		}
		close(fd);
	}
}

/*
 * 1, 2 and 3 writers of 1 asleep on a counter at the maximum; a read
 * empties it, all of them get through, writers is 0 and the count n.
 */
TEST_F(info, blocked_writers_counted_1_to_3)
{
	struct waiter *w[MAX_WAITERS];
	char when[64];
	uint64_t v;
	int n, i, fd;

	for (n = 1; n <= MAX_WAITERS; n++) {
		fd = open_evq(_metadata, 0);
		ASSERT_EQ(0, setup(fd, EVQ_COUNT_MAX, 0));
		for (i = 0; i < n; i++)
			w[i] = start_waiter(_metadata, fd, true, 1);
		snprintf(when, sizeof(when), "%d writers blocked", n);
		EXPECT_WAITERS(fd, 0, n, when);
		sleep_ms(SETTLE_MS);
		expect_info(_metadata, fd, when, EVQ_COUNT_MAX, 0, 0, n);
		ASSERT_EQ(8, read_u64(fd, &v));
		EXPECT_EQ(EVQ_COUNT_MAX, v);
		for (i = 0; i < n; i++) {
			ASSERT_TRUE(finish_waiter(w[i]))
				TH_LOG("writer %d not released", i);
			EXPECT_EQ(8, w[i]->ret);
			free(w[i]);
		}
		snprintf(when, sizeof(when), "%d writers released", n);
		expect_info(_metadata, fd, when, n, 0, 0, 0);
		close(fd);
	}
}

/* Three readers, then writers, interrupted one by one: EINTR, and gone. */
static void interrupt_each(struct __test_metadata *_metadata, int fd,
			   bool write, uint64_t count)
{
	struct waiter *w[MAX_WAITERS];
	const char *what = write ? "writers" : "readers";
	char when[64];
	int i, left;

	install_handler(_metadata);
	for (i = 0; i < MAX_WAITERS; i++)
		w[i] = start_waiter(_metadata, fd, write, 1);
	snprintf(when, sizeof(when), "%d %s blocked", MAX_WAITERS, what);
	EXPECT_WAITERS(fd, write ? 0 : MAX_WAITERS, write ? MAX_WAITERS : 0,
		       when);
	for (i = 0; i < MAX_WAITERS; i++) {
		ASSERT_TRUE(interrupt_waiter(w[i]))
			TH_LOG("%s %d not interrupted", what, i);
		EXPECT_EQ(-EINTR, w[i]->ret) TH_LOG("%s %d: %s", what, i,
						    errstr(w[i]->ret));
		free(w[i]);
		left = MAX_WAITERS - 1 - i;
		snprintf(when, sizeof(when), "%d of %d %s interrupted", i + 1,
			 MAX_WAITERS, what);
		EXPECT_WAITERS(fd, write ? 0 : left, write ? left : 0, when);
		expect_info(_metadata, fd, when, count, 0, write ? 0 : left,
			    write ? left : 0);
	}
}

TEST_F(info, eintr_read_not_counted)
{
	interrupt_each(_metadata, self->fd, false, 0);
}

TEST_F(info, eintr_write_not_counted)
{
	ASSERT_EQ(0, setup(self->fd, EVQ_COUNT_MAX, 0));
	interrupt_each(_metadata, self->fd, true, EVQ_COUNT_MAX);
}

/* O_NONBLOCK reads and writes that fail with EAGAIN never wait. */
TEST_F(info, eagain_not_counted)
{
	int fd = open_evq(_metadata, O_NONBLOCK);
	uint64_t v;

	EXPECT_EQ(-EAGAIN, read_u64(fd, &v));
	expect_info(_metadata, fd, "after EAGAIN from read", 0, 0, 0, 0);
	ASSERT_EQ(8, write_u64(fd, EVQ_COUNT_MAX));
	EXPECT_EQ(-EAGAIN, write_u64(fd, 1));
	expect_info(_metadata, fd, "after EAGAIN from write", EVQ_COUNT_MAX,
		    0, 0, 0);
	close(fd);
}

/* A task in poll(2) waits on the queue, not in read: not a reader. */
static void *poll_fn(void *arg)
{
	struct pollfd p = { .fd = *(int *)arg, .events = POLLIN };

	poll(&p, 1, WAIT_MS);
	return NULL;
}

TEST_F(info, pollers_not_counted)
{
	pthread_t t;

	ASSERT_EQ(0, pthread_create(&t, NULL, poll_fn, &self->fd));
	sleep_ms(SETTLE_MS);
	expect_info(_metadata, self->fd, "one task in poll", 0, 0, 0, 0);
	ASSERT_EQ(8, write_u64(self->fd, 1));
	pthread_join(t, NULL);
}

/* ---- errors -------------------------------------------------------------- */

TEST_F(info, bad_pointer_efault)
{
	long page = sysconf(_SC_PAGESIZE);
	unsigned char *map, *ro;
	long ret;

	ASSERT_EQ(8, write_u64(self->fd, 9));
	ret = ret_or_errno(ioctl(self->fd, EVQ_IOC_GET_INFO, NULL));
	EXPECT_EQ(-EFAULT, ret) TH_LOG("NULL: %s", errstr(ret));

	/* Two pages, the second unmapped: the struct straddles the hole. */
	map = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, map);
	ASSERT_EQ(0, munmap(map + page, page));
	ret = ret_or_errno(ioctl(self->fd, EVQ_IOC_GET_INFO, map + page - 8));
	EXPECT_EQ(-EFAULT, ret) TH_LOG("half-mapped struct: %s", errstr(ret));
	ret = ret_or_errno(ioctl(self->fd, EVQ_IOC_GET_INFO, map + page));
	EXPECT_EQ(-EFAULT, ret) TH_LOG("unmapped struct: %s", errstr(ret));
	munmap(map, page);

	ro = mmap(NULL, page, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, ro);
	ret = ret_or_errno(ioctl(self->fd, EVQ_IOC_GET_INFO, ro));
	EXPECT_EQ(-EFAULT, ret) TH_LOG("read-only page: %s", errstr(ret));
	munmap(ro, page);

	expect_info(_metadata, self->fd, "after the EFAULTs", 9, 0, 0, 0);
}

/* The same number with another size or direction is another ioctl. */
TEST_F(info, wrong_size_or_direction_enotty)
{
	const unsigned long cmds[] = {
		_IO(EVQ_IOC_MAGIC, 0x01),
		_IOR(EVQ_IOC_MAGIC, 0x01, __u64),
		_IOR(EVQ_IOC_MAGIC, 0x01, struct evq_setup),
		_IOR(EVQ_IOC_MAGIC, 0x01, __u64[9]),
		_IOW(EVQ_IOC_MAGIC, 0x01, struct evq_info),
		_IOWR(EVQ_IOC_MAGIC, 0x01, struct evq_info),
		_IOR(EVQ_IOC_MAGIC, 0x02, struct evq_info),
	};
	unsigned char buf[128], poison[128];
	size_t i;
	long ret;

	memset(poison, 0xa5, sizeof(poison));
	ASSERT_EQ(8, write_u64(self->fd, 2));
	for (i = 0; i < ARRAY_SIZE(cmds); i++) {
		memcpy(buf, poison, sizeof(buf));
		ret = ret_or_errno(ioctl(self->fd, cmds[i], buf));
		EXPECT_EQ(-ENOTTY, ret) TH_LOG("cmd %#lx: %s", cmds[i],
					       errstr(ret));
		EXPECT_EQ(0, memcmp(buf, poison, sizeof(buf)))
			TH_LOG("cmd %#lx wrote to the buffer", cmds[i]);
	}
	expect_info(_metadata, self->fd, "after the ENOTTYs", 2, 0, 0, 0);
}

/* How an event loop tells /dev/evq from eventfd(2): ENOTTY on the latter. */
TEST(native_eventfd_get_info_enotty)
{
	struct evq_info info, poison;
	int fd = eventfd(3, EFD_CLOEXEC | EFD_NONBLOCK);
	uint64_t v;
	long ret;

	ASSERT_LE(0, fd) TH_LOG("eventfd: %s", strerror(errno));
	ret = get_info(fd, &info);
	EXPECT_EQ(-ENOTTY, ret) TH_LOG("GET_INFO on eventfd: %s", errstr(ret));
	memset(&poison, 0xa5, sizeof(poison));
	EXPECT_EQ(0, memcmp(&info, &poison, sizeof(info)))
		TH_LOG("GET_INFO on eventfd wrote to the buffer");
	EXPECT_EQ(8, read_u64(fd, &v));
	EXPECT_EQ(3ULL, v);
	close(fd);
}

TEST_HARNESS_MAIN
