// SPDX-License-Identifier: GPL-2.0
/*
 * evq_fast_test - EVQ_FAST: the count in a page shared with userspace
 * (struct evq_page), signalled and taken with atomics, entering the kernel
 * only to wake a sleeper (EVQ_IOC_WAKE) or to block.
 *
 * Fixture "fast" (variants "setup": open(2) and EVQ_IOC_SETUP, "factory":
 * EVQ_IOC_CREATE), the test bodies the same:
 *   ABI and bad input  the page's first contents, the refused mode and
 *                      mmap combinations (each followed by a check that
 *                      nothing changed), EVQ_IOC_WAKE's bad arguments, the
 *                      page's lifetime (close/munmap in either order, fork,
 *                      SCM_RIGHTS, mremap, MADV_DONTNEED)
 *   mixed use          fast path and system calls on one counter: read,
 *                      write, readv/writev, poll, select, epoll, fdinfo,
 *                      EVQ_IOC_GET_INFO, io_uring, semaphore, maximum
 *   syscall-free       with nobody armed, evq_fast_signal() and
 *                      evq_fast_take() return 0; a blocked reader, writer
 *                      or poller arms its bit, and the first signal or take
 *                      after that enters the kernel
 *   hostile page       values the kernel must take as they come (a count of
 *                      ULLONG_MAX or above the maximum, foreign armed bits,
 *                      fields it never reads)
 * Fixture "race" (one variant per consumer): lost wake-ups. A consumer
 * waits in read(2), poll(2), select(2), epoll (level, edge, one-shot) or
 * io_uring (poll, read) while the test thread signals only through
 * evq_fast_signal(), one event per round, at varying moments of the
 * consumer's way to sleep. A round whose consumer is not woken within
 * LOST_MS fails, naming the round. many_producers_many_consumers mixes
 * evq_fast_read(), read(2) and epoll with evq_fast_take() and checks the
 * exact total. Fixture "scribble": one thread writes random values to
 * every field of the page while others use the counter in every way;
 * nothing may hang, and afterwards the counter works and another counter
 * is untouched. page_is_charged_to_the_creators_memory_cgroup: the page
 * counts against the creator's memory cgroup (root only; skipped, and
 * reported as such, on a kernel without cgroups or the memory controller).
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
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <liburing.h>

#include "evq.h"
#include "evq_ksft_common.h"
#include "kselftest_harness.h"

#define PAGE_BYTES	((size_t)EVQ_PAGE_SIZE)

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

static long wake(int fd, unsigned long bits)
{
	return ret_or_errno(ioctl(fd, EVQ_IOC_WAKE, bits));
}

static long set_maximum(int fd, uint64_t maximum)
{
	return ret_or_errno(ioctl(fd, EVQ_IOC_SET_MAXIMUM, &maximum));
}

static struct evq_info info_of(int fd)
{
	struct evq_info info;

	memset(&info, 0xa5, sizeof(info));
	if (ioctl(fd, EVQ_IOC_GET_INFO, &info))
		info.count = POISON;
	return info;
}

/* The page's fields, with the atomics the protocol asks for. */
static uint64_t pg_count(struct evq_page *p)
{
	return atomic_load((_Atomic uint64_t *)&p->count);
}

static void pg_set_count(struct evq_page *p, uint64_t v)
{
	atomic_store((_Atomic uint64_t *)&p->count, v);
}

static uint32_t pg_armed(struct evq_page *p)
{
	return atomic_load((_Atomic uint32_t *)&p->armed);
}

static void pg_set_armed(struct evq_page *p, uint32_t v)
{
	atomic_store((_Atomic uint32_t *)&p->armed, v);
}

static void *map_page(int fd, int prot, int flags, off_t off, size_t len)
{
	return mmap(NULL, len, prot, flags, fd, off);
}

/* /proc/self/fdinfo's eventfd-count of @fd, or POISON. */
static uint64_t fdinfo_count(int fd)
{
	char path[64], line[256];
	unsigned long long v = POISON;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "re");
	if (!f)
		return POISON;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "eventfd-count: %llx", &v) == 1)
			break;
	fclose(f);
	return v;
}

/* Does /proc/self/fdinfo/@fd have the line @want? */
static bool fdinfo_has(int fd, const char *want)
{
	char path[64], line[256];
	bool found = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "re");
	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		found = !strcmp(line, want);
	}
	fclose(f);
	return found;
}

/* What epoll_wait() reports within @ms: the events, 0, or -errno. */
static long epoll_within(int ep, int ms)
{
	struct epoll_event ev = { 0 };
	int n = epoll_wait(ep, &ev, 1, ms);

	if (n < 0)
		return -errno;
	return n ? (long)ev.events : 0;
}

/* Wait up to WAIT_MS for the page's armed bits to include @bits. */
static bool armed_within(struct evq_page *p, uint32_t bits)
{
	int64_t end = now_ms() + WAIT_MS;

	while ((pg_armed(p) & bits) != bits) {
		if (now_ms() > end)
			return false;
		sleep_us(200);
	}
	return true;
}

/* Busy-wait @n turns of a loop the compiler may not drop. */
static void spin_for(unsigned int n)
{
	while (n--)
		atomic_signal_fence(memory_order_seq_cst);
}

/* BG_FN: evq_fast_signal() of @b->val on the page @b->arg. */
static long bg_fast_signal(struct bg_call *b)
{
	int r = evq_fast_signal(b->arg, b->val);

	return r < 0 ? -errno : r;
}

/* ---- fixture "fast": both ways of making a counter ------------------------ */

#define MAX_FDS		8

FIXTURE(fast) {
	int fd;			/* EVQ_FAST, count 0, blocking */
	struct evq_fast fast;	/* its page, mapped */
	int fds[MAX_FDS];	/* more descriptors, closed at teardown */
	int nfds;
	struct bg_call bg;	/* a blocked call, joined at teardown */
	struct evq_fast bg_fast; /* the page bg signals through, if it does */
};

FIXTURE_VARIANT(fast) {
	bool factory;
};

FIXTURE_VARIANT_ADD(fast, setup) {
	.factory = false,
};

FIXTURE_VARIANT_ADD(fast, factory) {
	.factory = true,
};

/*
 * A counter made the variant's way, with mode flags @flags (EVQ_FAST
 * added unless @plain), maximum @maximum and initial count @initval; its
 * page mapped into @f unless @f is NULL. Closed at teardown.
 */
static int new_counter(struct __test_metadata *_metadata,
		       FIXTURE_DATA(fast) *self,
		       const FIXTURE_VARIANT(fast) *variant, uint64_t initval,
		       uint64_t maximum, uint32_t flags, bool nonblock,
		       struct evq_fast *f)
{
	int fd, ret;

	ASSERT_GT(MAX_FDS, self->nfds);
	fd = evq_mode_counter(variant->factory, initval, maximum, flags,
			      nonblock);
	ASSERT_LE(0, fd) TH_LOG("%s counter (initval %llu, maximum %#llx, flags %#x): %s",
				variant->factory ? "factory" : "setup",
				(unsigned long long)initval,
				(unsigned long long)maximum, flags, errstr(fd));
	self->fds[self->nfds++] = fd;
	if (f) {
		ret = evq_fast_map(fd, f);
		ASSERT_EQ(0, ret) TH_LOG("evq_fast_map: %s", strerror(errno));
	}
	return fd;
}

#define NEW_FAST(initval, maximum, flags, nonblock, f)			\
	new_counter(_metadata, self, variant, (initval), (maximum),	\
		    (flags) | EVQ_FAST, (nonblock), (f))
#define NEW_PLAIN(initval, flags)					\
	new_counter(_metadata, self, variant, (initval), EVQ_COUNT_MAX,	\
		    (flags), false, NULL)

FIXTURE_SETUP(fast)
{
	self->nfds = 0;
	memset(&self->bg, 0, sizeof(self->bg));
	ASSERT_EQ(0, sigusr1_interrupts(sigusr1_ignore));
	self->fd = NEW_FAST(0, EVQ_COUNT_MAX, 0, false, &self->fast);
}

FIXTURE_TEARDOWN(fast)
{
	int i;

	(void)variant;
	if (!bg_finish(&self->bg))
		TH_LOG("a blocked call could not be interrupted");
	for (i = 0; i < self->nfds; i++)
		close(self->fds[i]);
}

/* The page must hold exactly these values, and zeros after it. */
static void expect_page(struct __test_metadata *_metadata,
			struct evq_page *p, uint64_t count, uint32_t armed,
			uint32_t flags, uint64_t maximum)
{
	const unsigned char *tail = (const unsigned char *)p + sizeof(*p);
	size_t i, nonzero = 0;

	EXPECT_EQ(count, pg_count(p));
	EXPECT_EQ(armed, pg_armed(p));
	EXPECT_EQ(flags, p->flags);
	EXPECT_EQ(maximum, p->maximum);
	EXPECT_EQ(sizeof(struct evq_page), p->size);
	EXPECT_EQ(0U, p->pad);
	for (i = 0; i < 4; i++)
		EXPECT_EQ(0ULL, p->reserved[i]) TH_LOG("reserved[%zu]", i);
	for (i = 0; i < PAGE_BYTES - sizeof(*p); i++)
		nonzero += tail[i] != 0;
	EXPECT_EQ(0U, nonzero) TH_LOG("bytes after struct evq_page not zero");
}

/* ---- ABI and bad input ----------------------------------------------------- */

TEST_F(fast, page_struct_is_64_bytes)
{
	EXPECT_EQ(64U, sizeof(struct evq_page));
	EXPECT_EQ(4096, EVQ_PAGE_SIZE);
}

TEST_F(fast, page_starts_with_count_flags_maximum_and_size)
{
	struct evq_fast f;
	struct evq_info info;

	expect_page(_metadata, self->fast.page, 0, 0, EVQ_FAST,
		    EVQ_COUNT_MAX);
	NEW_FAST(5, 100, EVQ_SEMAPHORE, false, &f);
	expect_page(_metadata, f.page, 5, 0, EVQ_FAST | EVQ_SEMAPHORE, 100);
	info = info_of(f.fd);
	EXPECT_EQ(EVQ_FAST | EVQ_SEMAPHORE, info.flags);
	EXPECT_EQ(5ULL, info.count);
	EXPECT_EQ(100ULL, info.maximum);
	EXPECT_EQ((unsigned int)(EVQ_FAST | EVQ_SEMAPHORE), f.flags);
}

/* mmap(2) that must fail with @err and leave the counter as it was. */
static void expect_mmap_fails(struct __test_metadata *_metadata, int fd,
			      int prot, int flags, off_t off, size_t len,
			      int err, const char *what)
{
	uint64_t before = info_of(fd).count;
	void *p = map_page(fd, prot, flags, off, len);

	EXPECT_EQ(MAP_FAILED, p) TH_LOG("%s: mapped, expected %s", what,
					strerror(err));
	if (p != MAP_FAILED) {
		munmap(p, len);
		return;
	}
	EXPECT_EQ(err, errno) TH_LOG("%s: expected %s, got %s", what,
				     strerror(err), strerror(errno));
	EXPECT_EQ(before, info_of(fd).count) TH_LOG("%s changed the count",
						    what);
}

TEST_F(fast, fast_with_wake_one_or_bits_is_einval)
{
	static const uint32_t bad[] = {
		EVQ_FAST | EVQ_WAKE_ONE, EVQ_FAST | EVQ_BITS,
		EVQ_FAST | EVQ_WAKE_ONE | EVQ_SEMAPHORE,
	};
	struct evq_setup s = { 0 };
	size_t i;
	int fd, before = next_fd();

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		fd = evq_mode_counter(variant->factory, 0, EVQ_COUNT_MAX,
				      bad[i], false);
		EXPECT_EQ(-EINVAL, fd) TH_LOG("flags %#x: expected EINVAL, got %s (%d)",
					      bad[i], errstr(fd), fd);
		if (fd >= 0)
			close(fd);
		EXPECT_EQ(before, next_fd()) TH_LOG("flags %#x: a descriptor leaked",
						    bad[i]);
	}
	/* A refused EVQ_IOC_SETUP leaves the counter to be set up again. */
	fd = open("/dev/evq", O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, fd);
	s.flags = EVQ_FAST | EVQ_BITS;
	EXPECT_EQ(-EINVAL, ret_or_errno(ioctl(fd, EVQ_IOC_SETUP, &s)));
	expect_mmap_fails(_metadata, fd, PROT_READ, MAP_SHARED, 0, PAGE_BYTES,
			  ENODEV, "mmap after a refused EVQ_FAST|EVQ_BITS setup");
	s.flags = EVQ_FAST;
	s.initval = 3;
	EXPECT_EQ(0, ret_or_errno(ioctl(fd, EVQ_IOC_SETUP, &s)))
		TH_LOG("setup after a refused one: %s", strerror(errno));
	EXPECT_EQ(EVQ_FAST, info_of(fd).flags);
	EXPECT_EQ(3ULL, info_of(fd).count);
	close(fd);
}

TEST_F(fast, mmap_without_fast_is_enodev)
{
	int plain = NEW_PLAIN(4, 0);
	int sema = NEW_PLAIN(4, EVQ_SEMAPHORE);
	int fresh = open("/dev/evq", O_RDWR | O_CLOEXEC);
	struct evq_fast f;
	struct evq_setup s = { .initval = 2, .flags = EVQ_FAST };

	expect_mmap_fails(_metadata, plain, PROT_READ | PROT_WRITE, MAP_SHARED,
			  0, PAGE_BYTES, ENODEV, "plain counter");
	expect_mmap_fails(_metadata, sema, PROT_READ, MAP_SHARED, 0,
			  PAGE_BYTES, ENODEV, "semaphore counter");
	EXPECT_EQ(-1, evq_fast_map(plain, &f));
	EXPECT_EQ(ENODEV, errno);
	ASSERT_LE(0, fresh);
	expect_mmap_fails(_metadata, fresh, PROT_READ | PROT_WRITE, MAP_SHARED,
			  0, PAGE_BYTES, ENODEV, "counter not set up yet");
	/* The refused mmap was not its first use: it can still be set up. */
	EXPECT_EQ(0, ret_or_errno(ioctl(fresh, EVQ_IOC_SETUP, &s)))
		TH_LOG("EVQ_IOC_SETUP after a refused mmap: %s",
		       strerror(errno));
	ASSERT_EQ(0, evq_fast_map(fresh, &f)) TH_LOG("%s", strerror(errno));
	EXPECT_EQ(2ULL, pg_count(f.page));
	evq_fast_unmap(&f);
	close(fresh);
}

TEST_F(fast, mmap_of_other_length_offset_or_private_is_einval)
{
	uint64_t v;

	ASSERT_EQ(0, evq_fast_signal(&self->fast, 6));
	expect_mmap_fails(_metadata, self->fd, PROT_READ | PROT_WRITE,
			  MAP_SHARED, 0, 2 * PAGE_BYTES, EINVAL, "two pages");
	expect_mmap_fails(_metadata, self->fd, PROT_READ | PROT_WRITE,
			  MAP_SHARED, (off_t)PAGE_BYTES, PAGE_BYTES, EINVAL,
			  "offset 4096");
	expect_mmap_fails(_metadata, self->fd, PROT_READ | PROT_WRITE,
			  MAP_SHARED, 16 * (off_t)PAGE_BYTES, PAGE_BYTES, EINVAL,
			  "offset 65536");
	expect_mmap_fails(_metadata, self->fd, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE, 0, PAGE_BYTES, EINVAL,
			  "MAP_PRIVATE read-write");
	expect_mmap_fails(_metadata, self->fd, PROT_READ, MAP_PRIVATE, 0,
			  PAGE_BYTES, EINVAL, "MAP_PRIVATE read-only");
	EXPECT_EQ(6ULL, pg_count(self->fast.page));
	EXPECT_EQ(8, read_u64(self->fd, &v));
	EXPECT_EQ(6ULL, v);
}

TEST_F(fast, mmap_with_prot_exec_is_eperm)
{
	struct evq_page *p;

	expect_mmap_fails(_metadata, self->fd, PROT_READ | PROT_EXEC,
			  MAP_SHARED, 0, PAGE_BYTES, EPERM, "PROT_EXEC");
	expect_mmap_fails(_metadata, self->fd,
			  PROT_READ | PROT_WRITE | PROT_EXEC, MAP_SHARED, 0,
			  PAGE_BYTES, EPERM, "PROT_READ|WRITE|EXEC");
	/* Nor may mprotect(2) add PROT_EXEC later. */
	p = map_page(self->fd, PROT_READ, MAP_SHARED, 0, PAGE_BYTES);
	ASSERT_NE(MAP_FAILED, p) TH_LOG("%s", strerror(errno));
	EXPECT_EQ(-1, mprotect(p, PAGE_BYTES, PROT_READ | PROT_EXEC))
		TH_LOG("mprotect(PROT_EXEC) of the page succeeded");
	munmap(p, PAGE_BYTES);
}

TEST_F(fast, read_only_mapping_sees_the_count)
{
	struct evq_page *p = map_page(self->fd, PROT_READ, MAP_SHARED, 0,
				      PAGE_BYTES);

	ASSERT_NE(MAP_FAILED, p) TH_LOG("%s", strerror(errno));
	EXPECT_EQ(0ULL, pg_count(p));
	EXPECT_EQ(8, write_u64(self->fd, 11));
	EXPECT_EQ(11ULL, pg_count(p));
	EXPECT_EQ(0, evq_fast_signal(&self->fast, 1));
	EXPECT_EQ(12ULL, pg_count(p));
	EXPECT_EQ(sizeof(struct evq_page), p->size);
	munmap(p, PAGE_BYTES);
}

TEST_F(fast, mremap_cannot_grow_but_can_move)
{
	struct evq_page *p = self->fast.page, *q;
	void *target;
	uint64_t v;

	ASSERT_EQ(0, evq_fast_signal(&self->fast, 2));
	q = mremap(p, PAGE_BYTES, 2 * PAGE_BYTES, MREMAP_MAYMOVE);
	EXPECT_EQ(MAP_FAILED, q) TH_LOG("mremap grew the page to two");
	if (q != MAP_FAILED) {
		self->fast.page = q;
		return;
	}
	EXPECT_EQ(2ULL, pg_count(p)) TH_LOG("the page after a failed mremap");
	target = mmap(NULL, PAGE_BYTES, PROT_NONE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, target);
	q = mremap(p, PAGE_BYTES, PAGE_BYTES, MREMAP_MAYMOVE | MREMAP_FIXED,
		   target);
	ASSERT_EQ(target, q) TH_LOG("mremap move: %s", strerror(errno));
	self->fast.page = q;
	EXPECT_EQ(2ULL, pg_count(q));
	EXPECT_EQ(0, evq_fast_signal(&self->fast, 3));
	EXPECT_EQ(8, read_u64(self->fd, &v));
	EXPECT_EQ(5ULL, v);
	EXPECT_EQ(0ULL, pg_count(q));
}

TEST_F(fast, madvise_dontneed_refaults_the_live_page)
{
	struct evq_page *p = self->fast.page;
	uint64_t v;

	ASSERT_EQ(0, evq_fast_signal(&self->fast, 4));
	ASSERT_EQ(0, madvise(p, PAGE_BYTES, MADV_DONTNEED))
		TH_LOG("%s", strerror(errno));
	EXPECT_EQ(4ULL, pg_count(p)) TH_LOG("count after MADV_DONTNEED");
	EXPECT_EQ(sizeof(struct evq_page), p->size);
	ASSERT_EQ(0, madvise(p, PAGE_BYTES, MADV_DONTNEED));
	EXPECT_EQ(8, write_u64(self->fd, 5));
	EXPECT_EQ(9ULL, pg_count(p)) TH_LOG("a write after MADV_DONTNEED");
	ASSERT_EQ(0, madvise(p, PAGE_BYTES, MADV_DONTNEED));
	EXPECT_EQ(0, evq_fast_signal(&self->fast, 1));
	EXPECT_EQ(8, read_u64(self->fd, &v));
	EXPECT_EQ(10ULL, v) TH_LOG("read after a signal through the refault");
}

TEST_F(fast, page_outlives_its_file_and_file_outlives_its_page)
{
	struct evq_fast a, b;
	int fd = NEW_FAST(7, EVQ_COUNT_MAX, 0, false, &a);
	uint64_t v;

	/* Two mappings of one counter are one page. */
	ASSERT_EQ(0, evq_fast_map(fd, &b));
	EXPECT_NE(a.page, b.page);
	EXPECT_EQ(0, evq_fast_signal(&a, 1));
	EXPECT_EQ(8ULL, pg_count(b.page));
	/* munmap first: the file goes on, a new mapping sees its count. */
	ASSERT_EQ(0, evq_fast_unmap(&b));
	EXPECT_EQ(8, write_u64(fd, 2));
	EXPECT_EQ(10ULL, pg_count(a.page));
	ASSERT_EQ(0, evq_fast_unmap(&a));
	EXPECT_EQ(10ULL, info_of(fd).count);
	EXPECT_EQ(8, read_u64(fd, &v));
	EXPECT_EQ(10ULL, v);
	ASSERT_EQ(0, evq_fast_map(fd, &a));
	EXPECT_EQ(0ULL, pg_count(a.page));
	/* close first: the mapping stays usable memory (KASAN watches). */
	ASSERT_EQ(0, evq_fast_signal(&a, 3));
	ASSERT_EQ(fd, self->fds[self->nfds - 1]);
	self->nfds--;
	EXPECT_EQ(0, close(fd));
	EXPECT_EQ(3ULL, pg_count(a.page));
	pg_set_count(a.page, 77);
	pg_set_armed(a.page, EVQ_ARMED_IN | EVQ_ARMED_OUT);
	EXPECT_EQ(77ULL, pg_count(a.page));
	EXPECT_EQ(0, evq_fast_unmap(&a));
}

TEST_F(fast, fork_shares_the_page)
{
	pid_t pid;
	int status;
	uint64_t v;

	ASSERT_EQ(0, evq_fast_signal(&self->fast, 1));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct evq_fast f;

		if (pg_count(self->fast.page) != 1)
			_exit(10);
		if (evq_fast_signal(&self->fast, 3) != 0)
			_exit(11);
		if (evq_fast_map(self->fd, &f) || pg_count(f.page) != 4)
			_exit(12);
		if (evq_fast_signal(&f, 4) != 0)
			_exit(13);
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status))
		TH_LOG("child: 10 did not see the count, 11 inherited mapping signal, 12 new mapping, 13 its signal");
	EXPECT_EQ(8ULL, pg_count(self->fast.page));
	EXPECT_EQ(8, read_u64(self->fd, &v));
	EXPECT_EQ(8ULL, v);
}

TEST_F(fast, scm_rights_receiver_maps_the_same_page)
{
	int sv[2], status;
	pid_t pid;
	uint64_t v;

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
	ASSERT_EQ(0, evq_fast_signal(&self->fast, 2));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct evq_fast f;
		int fd;

		/* Forget the inherited page and file: only what comes. */
		munmap(self->fast.page, PAGE_BYTES);
		close(self->fd);
		fd = recv_fd(sv[1]);
		if (fd < 0)
			_exit(10);
		if (evq_fast_map(fd, &f))
			_exit(11);
		if (pg_count(f.page) != 2)
			_exit(12);
		if (evq_fast_signal(&f, 5) != 0)
			_exit(13);
		_exit(0);
	}
	ASSERT_EQ(0, send_fd(sv[0], self->fd));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status))
		TH_LOG("child: 10 recvmsg, 11 evq_fast_map, 12 did not see count 2, 13 signal");
	EXPECT_EQ(7ULL, pg_count(self->fast.page));
	EXPECT_EQ(8, read_u64(self->fd, &v));
	EXPECT_EQ(7ULL, v);
	close(sv[0]);
	close(sv[1]);
}

TEST_F(fast, wake_rejects_no_bit_unknown_bits_and_counter_without_fast)
{
	static const unsigned long bad[] = {
		0, 4, 8, 0x80000000UL, EVQ_ARMED_IN | 4, ~0UL,
		(unsigned long)EVQ_ARMED_IN << 32,
	};
	struct evq_page *p = self->fast.page;
	int plain = NEW_PLAIN(1, 0);
	int fresh = open("/dev/evq", O_RDWR | O_CLOEXEC);
	size_t i;

	ASSERT_EQ(0, evq_fast_signal(&self->fast, 9));
	pg_set_armed(p, EVQ_ARMED_IN | EVQ_ARMED_OUT);
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		EXPECT_EQ(-EINVAL, wake(self->fd, bad[i]))
			TH_LOG("EVQ_IOC_WAKE(%#lx): expected EINVAL", bad[i]);
		EXPECT_EQ(EVQ_ARMED_IN | EVQ_ARMED_OUT, pg_armed(p))
			TH_LOG("EVQ_IOC_WAKE(%#lx) changed the armed bits", bad[i]);
	}
	EXPECT_EQ(-EINVAL, wake(plain, EVQ_ARMED_IN)) TH_LOG("counter without EVQ_FAST");
	ASSERT_LE(0, fresh);
	EXPECT_EQ(-EINVAL, wake(fresh, EVQ_ARMED_IN)) TH_LOG("counter not set up");
	close(fresh);
	EXPECT_EQ(1ULL, info_of(plain).count);
	/* Good bits: cleared, nobody woken, no count changed. */
	EXPECT_EQ(0, wake(self->fd, EVQ_ARMED_IN));
	EXPECT_EQ(EVQ_ARMED_OUT, pg_armed(p));
	EXPECT_EQ(0, wake(self->fd, EVQ_ARMED_IN | EVQ_ARMED_OUT));
	EXPECT_EQ(0U, pg_armed(p));
	EXPECT_EQ(0, wake(self->fd, EVQ_ARMED_OUT)) TH_LOG("a bit not set");
	EXPECT_EQ(9ULL, pg_count(p));
	EXPECT_EQ(0, evq_fast_wake(self->fd, EVQ_ARMED_IN));
	EXPECT_EQ(-1, evq_fast_wake(plain, EVQ_ARMED_IN));
	EXPECT_EQ(EINVAL, errno);
}

TEST_F(fast, set_maximum_updates_the_page)
{
	EXPECT_EQ(0, set_maximum(self->fd, 50));
	EXPECT_EQ(50ULL, self->fast.page->maximum);
	EXPECT_EQ(0, set_maximum(self->fd, 1));
	EXPECT_EQ(1ULL, self->fast.page->maximum);
	EXPECT_EQ(-EINVAL, set_maximum(self->fd, 0));
	EXPECT_EQ(1ULL, self->fast.page->maximum) TH_LOG("after a refused value");
	EXPECT_EQ(0, set_maximum(self->fd, EVQ_COUNT_MAX));
	EXPECT_EQ(EVQ_COUNT_MAX, self->fast.page->maximum);
}

/* ---- mixed use: the fast path and system calls on one counter ------------- */

TEST_F(fast, fast_signal_and_write_add_up_for_read)
{
	uint64_t v;

	EXPECT_EQ(0, evq_fast_signal(&self->fast, 3));
	EXPECT_EQ(8, write_u64(self->fd, 4));
	EXPECT_EQ(7ULL, pg_count(self->fast.page));
	EXPECT_EQ(8, read_u64(self->fd, &v));
	EXPECT_EQ(7ULL, v) TH_LOG("fast signal 3 + write 4");
	EXPECT_EQ(0ULL, pg_count(self->fast.page));
	EXPECT_EQ(POLLOUT, poll_now(self->fd));
}

TEST_F(fast, write_then_fast_take_takes_it_all)
{
	uint64_t v = POISON;

	EXPECT_EQ(8, write_u64(self->fd, 5));
	EXPECT_EQ(0, evq_fast_take(&self->fast, &v));
	EXPECT_EQ(5ULL, v);
	EXPECT_EQ(0ULL, info_of(self->fd).count);
	EXPECT_EQ(-1, evq_fast_take(&self->fast, &v));
	EXPECT_EQ(EAGAIN, errno);
	EXPECT_EQ(POLLOUT, poll_now(self->fd));
}

TEST_F(fast, readv_and_writev_use_the_page_count)
{
	uint64_t a = 6, b = POISON;
	struct iovec wv = { .iov_base = &a, .iov_len = sizeof(a) };
	struct iovec rv = { .iov_base = &b, .iov_len = sizeof(b) };

	EXPECT_EQ(8, ret_or_errno(writev(self->fd, &wv, 1)));
	EXPECT_EQ(6ULL, pg_count(self->fast.page));
	EXPECT_EQ(0, evq_fast_signal(&self->fast, 1));
	EXPECT_EQ(8, ret_or_errno(readv(self->fd, &rv, 1)));
	EXPECT_EQ(7ULL, b);
	EXPECT_EQ(0ULL, pg_count(self->fast.page));
}

TEST_F(fast, semaphore_takes_one_at_a_time_either_way)
{
	struct evq_fast f;
	int fd = NEW_FAST(3, EVQ_COUNT_MAX, EVQ_SEMAPHORE, false, &f);
	uint64_t v;
	int i;

	for (i = 0; i < 2; i++) {
		v = POISON;
		EXPECT_EQ(0, evq_fast_take(&f, &v));
		EXPECT_EQ(1ULL, v) TH_LOG("take %d", i);
	}
	EXPECT_EQ(1ULL, pg_count(f.page));
	EXPECT_EQ(0, evq_fast_signal(&f, 2));
	EXPECT_EQ(8, read_u64(fd, &v));
	EXPECT_EQ(1ULL, v) TH_LOG("semaphore read(2)");
	EXPECT_EQ(2ULL, pg_count(f.page));
	EXPECT_EQ(0, evq_fast_take(&f, &v));
	EXPECT_EQ(0, evq_fast_take(&f, &v));
	EXPECT_EQ(-1, evq_fast_take(&f, &v));
	EXPECT_EQ(EAGAIN, errno);
	EXPECT_EQ(POLLOUT, poll_now(fd));
}

TEST_F(fast, signal_past_maximum_falls_back_to_write)
{
	struct evq_fast nb, bl;
	uint64_t v = POISON;

	NEW_FAST(0, 10, 0, true, &nb);
	EXPECT_EQ(0, evq_fast_signal(&nb, 8));
	EXPECT_EQ(-1, evq_fast_signal(&nb, 5));
	EXPECT_EQ(EAGAIN, errno) TH_LOG("non-blocking signal past the maximum");
	EXPECT_EQ(8ULL, pg_count(nb.page));
	EXPECT_EQ(0, evq_fast_signal(&nb, 2)) TH_LOG("up to the maximum");
	EXPECT_EQ(10ULL, pg_count(nb.page));

	NEW_FAST(0, 10, 0, false, &bl);
	ASSERT_EQ(0, evq_fast_signal(&bl, 8));
	self->bg_fast = bl;
	self->bg.fn = bg_fast_signal;
	self->bg.arg = &self->bg_fast;
	ASSERT_EQ(0, bg_start(&self->bg, BG_FN, bl.fd, 5));
	ASSERT_TRUE(evq_wait_blocked(bl.fd, 0, 1))
		TH_LOG("the signal past the maximum did not block in write(2)");
	EXPECT_EQ(EVQ_ARMED_OUT, pg_armed(bl.page) & EVQ_ARMED_OUT)
		TH_LOG("blocked writer did not arm OUT: armed %#x", pg_armed(bl.page));
	EXPECT_EQ(8ULL, pg_count(bl.page));
	EXPECT_EQ(1, evq_fast_take(&bl, &v)) TH_LOG("take must wake the writer");
	EXPECT_EQ(8ULL, v);
	ASSERT_TRUE(bg_wait(&self->bg, WAIT_MS)) TH_LOG("writer not woken by the take");
	EXPECT_EQ(1, self->bg.ret);
	EXPECT_EQ(5ULL, pg_count(bl.page));
}

TEST_F(fast, poll_select_and_epoll_follow_the_page_count)
{
	int ep = epoll_on(self->fd, EPOLLIN | EPOLLOUT);
	uint64_t v;

	ASSERT_LE(0, ep);
	EXPECT_EQ(POLLOUT, poll_now(self->fd));
	EXPECT_EQ(2, select_now(self->fd));
	EXPECT_EQ(EPOLLOUT, epoll_within(ep, 0));
	EXPECT_EQ(0, evq_fast_signal(&self->fast, 1) < 0);
	EXPECT_EQ(POLLIN | POLLOUT, poll_now(self->fd));
	EXPECT_EQ(3, select_now(self->fd));
	EXPECT_EQ(EPOLLIN | EPOLLOUT, epoll_within(ep, 0));
	EXPECT_LE(0, evq_fast_take(&self->fast, &v));
	EXPECT_EQ(POLLOUT, poll_now(self->fd));
	EXPECT_EQ(2, select_now(self->fd));
	EXPECT_EQ(EPOLLOUT, epoll_within(ep, 0));
	close(ep);
}

TEST_F(fast, fdinfo_and_get_info_show_the_page_count)
{
	struct evq_info info;

	EXPECT_EQ(0, evq_fast_signal(&self->fast, 0x1234));
	EXPECT_EQ(0x1234ULL, fdinfo_count(self->fd));
	EXPECT_TRUE(fdinfo_has(self->fd, "evq-fast: 1"));
	EXPECT_FALSE(fdinfo_has(NEW_PLAIN(0, 0), "evq-fast: 1"));
	info = info_of(self->fd);
	EXPECT_EQ(0x1234ULL, info.count);
	EXPECT_EQ(EVQ_FAST, info.flags);
	pg_set_count(self->fast.page, 0xabcdef);
	EXPECT_EQ(0xabcdefULL, fdinfo_count(self->fd));
	EXPECT_EQ(0xabcdefULL, info_of(self->fd).count);
}

/* Submit what is queued and wait up to @ms for one completion. */
static int uring_one(struct io_uring *ring, int ms, int *res)
{
	struct __kernel_timespec ts = { .tv_sec = ms / 1000,
					.tv_nsec = (ms % 1000) * 1000000LL };
	struct io_uring_cqe *cqe;
	int ret;

	ret = io_uring_submit(ring);
	if (ret < 0)
		return ret;
	ret = io_uring_wait_cqe_timeout(ring, &cqe, &ts);
	if (ret)
		return ret;
	*res = cqe->res;
	io_uring_cqe_seen(ring, cqe);
	return 0;
}

TEST_F(fast, io_uring_read_and_write_use_the_page_count)
{
	struct io_uring ring;
	struct io_uring_sqe *sqe;
	uint64_t buf = POISON, val = 9;
	int ret, res = 0;

	ret = io_uring_queue_init(8, &ring, 0);
	ASSERT_EQ(0, ret) TH_LOG("io_uring_queue_init: %s", errstr(ret));

	EXPECT_EQ(0, evq_fast_signal(&self->fast, 6));
	sqe = io_uring_get_sqe(&ring);
	io_uring_prep_read(sqe, self->fd, &buf, sizeof(buf), 0);
	ASSERT_EQ(0, uring_one(&ring, WAIT_MS, &res));
	EXPECT_EQ(8, res) TH_LOG("io_uring read: %s", errstr(res));
	EXPECT_EQ(6ULL, buf);
	EXPECT_EQ(0ULL, pg_count(self->fast.page));

	sqe = io_uring_get_sqe(&ring);
	io_uring_prep_write(sqe, self->fd, &val, sizeof(val), 0);
	ASSERT_EQ(0, uring_one(&ring, WAIT_MS, &res));
	EXPECT_EQ(8, res) TH_LOG("io_uring write: %s", errstr(res));
	EXPECT_EQ(9ULL, pg_count(self->fast.page));
	EXPECT_EQ(0, evq_fast_take(&self->fast, &buf));
	EXPECT_EQ(9ULL, buf);

	/* A read queued at 0 arms IN; the fast signal completes it. */
	buf = POISON;
	sqe = io_uring_get_sqe(&ring);
	io_uring_prep_read(sqe, self->fd, &buf, sizeof(buf), 0);
	EXPECT_EQ(-ETIME, uring_one(&ring, SETTLE_MS, &res))
		TH_LOG("io_uring read at count 0 completed: %d", res);
	EXPECT_EQ(EVQ_ARMED_IN, pg_armed(self->fast.page) & EVQ_ARMED_IN)
		TH_LOG("a pending io_uring read did not arm IN: armed %#x",
		       pg_armed(self->fast.page));
	EXPECT_EQ(1, evq_fast_signal(&self->fast, 4));
	ASSERT_EQ(0, uring_one(&ring, WAIT_MS, &res))
		TH_LOG("io_uring read not completed by the fast signal");
	EXPECT_EQ(8, res);
	EXPECT_EQ(4ULL, buf);
	EXPECT_EQ(0ULL, pg_count(self->fast.page));
	io_uring_queue_exit(&ring);
}

/* ---- syscall-free fast path, and who arms what ------------------------------ */

TEST_F(fast, no_sleeper_means_no_system_call)
{
	uint64_t v = POISON;
	int i, calls = 0;

	for (i = 0; i < 1000; i++)
		calls += evq_fast_signal(&self->fast, 1) != 0;
	EXPECT_EQ(0, calls) TH_LOG("signals that entered the kernel");
	EXPECT_EQ(1000ULL, pg_count(self->fast.page));
	EXPECT_EQ(0U, pg_armed(self->fast.page));
	EXPECT_EQ(0, evq_fast_take(&self->fast, &v));
	EXPECT_EQ(1000ULL, v);
	for (i = 0, calls = 0; i < 1000; i++)
		calls += evq_fast_signal(&self->fast, 1) != 0 ||
			 evq_fast_take(&self->fast, &v) != 0 || v != 1;
	EXPECT_EQ(0, calls) TH_LOG("signal/take pairs that entered the kernel");
	/* GET_INFO and fdinfo look without arming anything. */
	info_of(self->fd);
	fdinfo_count(self->fd);
	EXPECT_EQ(0U, pg_armed(self->fast.page));
	EXPECT_EQ(0, evq_fast_signal(&self->fast, 1));
}

TEST_F(fast, blocked_reader_arms_in_and_first_signal_wakes_it)
{
	ASSERT_EQ(0, bg_start(&self->bg, BG_READ, self->fd, 0));
	ASSERT_TRUE(evq_wait_blocked(self->fd, 1, 0));
	EXPECT_EQ(EVQ_ARMED_IN, pg_armed(self->fast.page))
		TH_LOG("blocked reader: armed %#x", pg_armed(self->fast.page));
	EXPECT_EQ(1, evq_fast_signal(&self->fast, 3))
		TH_LOG("first signal with a reader asleep must wake it");
	ASSERT_TRUE(bg_wait(&self->bg, WAIT_MS)) TH_LOG("reader not woken");
	EXPECT_EQ(8, self->bg.ret);
	EXPECT_EQ(3ULL, self->bg.val);
	EXPECT_EQ(0U, pg_armed(self->fast.page) & EVQ_ARMED_IN);
	EXPECT_EQ(0, evq_fast_signal(&self->fast, 1)) TH_LOG("second signal");
}

TEST_F(fast, kernel_write_clears_in_and_wakes_reader)
{
	ASSERT_EQ(0, bg_start(&self->bg, BG_READ, self->fd, 0));
	ASSERT_TRUE(evq_wait_blocked(self->fd, 1, 0));
	ASSERT_TRUE(armed_within(self->fast.page, EVQ_ARMED_IN));
	EXPECT_EQ(8, write_u64(self->fd, 2));
	ASSERT_TRUE(bg_wait(&self->bg, WAIT_MS)) TH_LOG("reader not woken by write(2)");
	EXPECT_EQ(2ULL, self->bg.val);
	EXPECT_EQ(0U, pg_armed(self->fast.page))
		TH_LOG("write(2) left armed %#x", pg_armed(self->fast.page));
}

TEST_F(fast, blocked_writer_arms_out_and_first_take_wakes_it)
{
	struct evq_fast f;
	uint64_t v = POISON;
	int fd = NEW_FAST(1, 1, 0, false, &f);

	ASSERT_EQ(0, bg_start(&self->bg, BG_WRITE, fd, 1));
	ASSERT_TRUE(evq_wait_blocked(fd, 0, 1));
	EXPECT_EQ(EVQ_ARMED_OUT, pg_armed(f.page))
		TH_LOG("blocked writer: armed %#x", pg_armed(f.page));
	EXPECT_EQ(1, evq_fast_take(&f, &v)) TH_LOG("take with a writer asleep");
	EXPECT_EQ(1ULL, v);
	ASSERT_TRUE(bg_wait(&self->bg, WAIT_MS)) TH_LOG("writer not woken");
	EXPECT_EQ(8, self->bg.ret);
	EXPECT_EQ(1ULL, pg_count(f.page));
	EXPECT_EQ(0U, pg_armed(f.page) & EVQ_ARMED_OUT);
}

/*
 * EVQ_IOC_WAKE by hand: with the count still 0 the reader wakes, finds
 * nothing and arms again before it sleeps; with the count set first (the
 * protocol's order) it takes it.
 */
TEST_F(fast, wake_ioctl_wakes_a_reader_that_arms_again_or_takes)
{
	ASSERT_EQ(0, bg_start(&self->bg, BG_READ, self->fd, 0));
	ASSERT_TRUE(evq_wait_blocked(self->fd, 1, 0));
	ASSERT_TRUE(armed_within(self->fast.page, EVQ_ARMED_IN));
	EXPECT_EQ(0, wake(self->fd, EVQ_ARMED_IN));
	EXPECT_TRUE(armed_within(self->fast.page, EVQ_ARMED_IN))
		TH_LOG("a reader woken at count 0 did not arm IN again: armed %#x",
		       pg_armed(self->fast.page));
	EXPECT_FALSE(bg_wait(&self->bg, SETTLE_MS))
		TH_LOG("the reader returned at count 0: %s", errstr(self->bg.ret));
	EXPECT_TRUE(evq_wait_blocked(self->fd, 1, 0));
	pg_set_count(self->fast.page, 12);
	EXPECT_EQ(0, wake(self->fd, EVQ_ARMED_IN));
	ASSERT_TRUE(bg_wait(&self->bg, WAIT_MS)) TH_LOG("EVQ_IOC_WAKE(IN) did not wake the reader");
	EXPECT_EQ(8, self->bg.ret);
	EXPECT_EQ(12ULL, self->bg.val);
	EXPECT_EQ(0ULL, pg_count(self->fast.page));
}

TEST_F(fast, pollers_arm_the_bits_they_ask_for)
{
	struct evq_fast f;
	struct pollfd p = { .fd = self->fd, .events = POLLIN };
	uint64_t v;
	int fd = NEW_FAST(1, 1, 0, false, &f);

	EXPECT_EQ(0, poll(&p, 1, 20));
	EXPECT_EQ(EVQ_ARMED_IN, pg_armed(self->fast.page))
		TH_LOG("poll(POLLIN): armed %#x", pg_armed(self->fast.page));
	EXPECT_EQ(1, evq_fast_signal(&self->fast, 1));
	EXPECT_EQ(0U, pg_armed(self->fast.page));
	EXPECT_EQ(0, evq_fast_take(&self->fast, &v));

	p.fd = fd;
	p.events = POLLOUT;
	EXPECT_EQ(0, poll(&p, 1, 20)) TH_LOG("count at the maximum is not writable");
	EXPECT_EQ(EVQ_ARMED_OUT, pg_armed(f.page))
		TH_LOG("poll(POLLOUT): armed %#x", pg_armed(f.page));
	EXPECT_EQ(1, evq_fast_take(&f, &v));
	EXPECT_EQ(0U, pg_armed(f.page));
}

TEST_F(fast, blocked_read_is_interrupted_by_a_signal)
{
	ASSERT_EQ(0, bg_start(&self->bg, BG_READ, self->fd, 0));
	ASSERT_TRUE(evq_wait_blocked(self->fd, 1, 0));
	pthread_kill(self->bg.th, SIGUSR1);
	ASSERT_TRUE(bg_wait(&self->bg, WAIT_MS)) TH_LOG("read not interrupted");
	EXPECT_EQ(-EINTR, self->bg.ret);
	EXPECT_EQ(0, evq_fast_signal(&self->fast, 1) < 0);
	EXPECT_EQ(1ULL, info_of(self->fd).count);
}

/* ---- hostile page values: taken as they come -------------------------------- */

TEST_F(fast, count_of_ullong_max_reads_as_epollerr)
{
	uint64_t v;

	pg_set_count(self->fast.page, ~0ULL);
	EXPECT_EQ(POLLIN | POLLERR, poll_now(self->fd) & (POLLIN | POLLERR | POLLOUT))
		TH_LOG("poll at ULLONG_MAX: %#x", poll_now(self->fd));
	EXPECT_EQ(~0ULL, info_of(self->fd).count);
	EXPECT_EQ(8, read_u64(self->fd, &v));
	EXPECT_EQ(~0ULL, v);
	EXPECT_EQ(0ULL, pg_count(self->fast.page));
	EXPECT_EQ(POLLOUT, poll_now(self->fd));
}

TEST_F(fast, count_above_maximum_blocks_writes_until_read)
{
	struct evq_fast f;
	uint64_t v;
	int fd = NEW_FAST(0, 10, 0, true, &f);

	pg_set_count(f.page, 50);
	EXPECT_EQ(-EAGAIN, write_u64(fd, 1));
	EXPECT_EQ(-EAGAIN, write_u64(fd, 0)) TH_LOG("a write of 0 above the maximum");
	EXPECT_EQ(POLLIN, poll_now(fd));
	EXPECT_EQ(-1, evq_fast_signal(&f, 1));
	EXPECT_EQ(EAGAIN, errno);
	EXPECT_EQ(8, read_u64(fd, &v));
	EXPECT_EQ(50ULL, v);
	EXPECT_EQ(8, write_u64(fd, 10));
	EXPECT_EQ(10ULL, pg_count(f.page));
}

TEST_F(fast, foreign_armed_bits_are_left_alone)
{
	struct evq_page *p = self->fast.page;

	pg_set_armed(p, 0xfffffff0U);
	ASSERT_EQ(0, bg_start(&self->bg, BG_READ, self->fd, 0));
	ASSERT_TRUE(evq_wait_blocked(self->fd, 1, 0));
	EXPECT_EQ(0xfffffff0U | EVQ_ARMED_IN, pg_armed(p));
	EXPECT_EQ(8, write_u64(self->fd, 1));
	ASSERT_TRUE(bg_wait(&self->bg, WAIT_MS));
	EXPECT_EQ(1ULL, self->bg.val);
	EXPECT_EQ(0xfffffff0U, pg_armed(p)) TH_LOG("armed after write(2)");
	pg_set_armed(p, 0xfffffff0U | EVQ_ARMED_IN | EVQ_ARMED_OUT);
	EXPECT_EQ(0, wake(self->fd, EVQ_ARMED_IN | EVQ_ARMED_OUT));
	EXPECT_EQ(0xfffffff0U, pg_armed(p)) TH_LOG("armed after EVQ_IOC_WAKE");
}

TEST_F(fast, fields_the_kernel_never_reads_change_nothing)
{
	struct evq_page *p = self->fast.page;
	struct evq_info info;
	uint64_t v;

	p->flags = EVQ_BITS | EVQ_WAKE_ONE | 0xff00;
	p->maximum = 1;
	p->size = 0;
	p->pad = 0xdead;
	memset(p->reserved, 0xff, sizeof(p->reserved));
	EXPECT_EQ(8, write_u64(self->fd, 5)) TH_LOG("the kernel read page->maximum");
	EXPECT_EQ(8, write_u64(self->fd, 3));
	EXPECT_EQ(8, read_u64(self->fd, &v));
	EXPECT_EQ(8ULL, v) TH_LOG("not a plain count: the kernel read page->flags");
	info = info_of(self->fd);
	EXPECT_EQ(EVQ_FAST, info.flags);
	EXPECT_EQ(EVQ_COUNT_MAX, info.maximum);
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

/* ---- memory accounting ---------------------------------------------------- */

#define CG_MNT		"/tmp/evq-fast-cgroup"
#define CG_CHILD	CG_MNT "/evq-fast-test"
#define CG_COUNTERS	1024

/* Write @text to the cgroup file @path: 0 or -errno. */
static int cg_write(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), ret = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, text, strlen(text)) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

/* The cgroup's memory.current, or -1. */
static long long cg_memory_current(void)
{
	long long v = -1;
	FILE *f = fopen(CG_CHILD "/memory.current", "re");

	if (!f)
		return -1;
	if (fscanf(f, "%lld", &v) != 1)
		v = -1;
	fclose(f);
	return v;
}

/* CG_COUNTERS factory counters with mode @flags into @fds: 0 or -errno. */
static int cg_counters(int *fds, uint32_t flags)
{
	int i;

	for (i = 0; i < CG_COUNTERS; i++) {
		fds[i] = evq_mode_counter(true, 0, EVQ_COUNT_MAX, flags, false);
		if (fds[i] < 0)
			return fds[i];
	}
	return 0;
}

/*
 * The page of a fast counter is charged to its creator's memory cgroup
 * (GFP_KERNEL_ACCOUNT), as the counter itself is: /dev/evq is 0666, and
 * pages nobody is charged for would let any user pin memory past their
 * limit. In a cgroup of its own, this process creates CG_COUNTERS plain
 * counters, then as many fast ones: the fast ones must raise
 * memory.current by at least 3/4 of a page each more than the plain ones
 * (the slack is for the per-CPU charge batches).
 */
TEST(page_is_charged_to_the_creators_memory_cgroup)
{
	static int plain[CG_COUNTERS], fast[CG_COUNTERS];
	struct rlimit rl = { (rlim_t)4 * CG_COUNTERS, (rlim_t)4 * CG_COUNTERS };
	long long base, after_plain, after_fast, d_plain, d_fast;
	char ctl[256] = "";
	int i, ret;
	FILE *f;

	if (geteuid())
		SKIP(return, "needs root to mount cgroup2 and make a cgroup");
	ASSERT_EQ(0, setrlimit(RLIMIT_NOFILE, &rl)) TH_LOG("RLIMIT_NOFILE: %s", strerror(errno));
	ASSERT_TRUE(!mkdir(CG_MNT, 0700) || errno == EEXIST);
	ret = mount("none", CG_MNT, "cgroup2", 0, NULL);
	if (ret && errno == ENODEV) {
		rmdir(CG_MNT);
		SKIP(return, "this kernel has no cgroup2 filesystem (CONFIG_CGROUPS=n)");
	}
	ASSERT_EQ(0, ret) TH_LOG("mount cgroup2: %s", strerror(errno));
	f = fopen(CG_MNT "/cgroup.controllers", "re");
	ASSERT_NE(NULL, f);
	if (!fgets(ctl, sizeof(ctl), f))
		ctl[0] = 0;
	fclose(f);
	if (!strstr(ctl, "memory")) {
		umount(CG_MNT);
		SKIP(return, "this kernel has no memory cgroup controller (%s)", ctl);
	}
	ASSERT_EQ(0, cg_write(CG_MNT "/cgroup.subtree_control", "+memory"));
	ASSERT_TRUE(!mkdir(CG_CHILD, 0700) || errno == EEXIST);
	ASSERT_EQ(0, cg_write(CG_CHILD "/cgroup.procs", "0"));

	base = cg_memory_current();
	ASSERT_LE(0, base);
	ret = cg_counters(plain, 0);
	ASSERT_EQ(0, ret) TH_LOG("plain counter: %s", strerror(-ret));
	after_plain = cg_memory_current();
	ret = cg_counters(fast, EVQ_FAST);
	ASSERT_EQ(0, ret) TH_LOG("fast counter: %s", strerror(-ret));
	after_fast = cg_memory_current();
	d_plain = after_plain - base;
	d_fast = after_fast - after_plain;
	EXPECT_LE(d_plain + (long long)CG_COUNTERS * PAGE_BYTES * 3 / 4, d_fast)
		TH_LOG("%d fast counters charged %lld bytes, as many plain ones %lld: the pages were not charged",
		       CG_COUNTERS, d_fast, d_plain);
	ksft_print_msg("%d plain counters: %lld bytes; %d fast counters: %lld bytes\n",
		       CG_COUNTERS, d_plain, CG_COUNTERS, d_fast);

	for (i = 0; i < CG_COUNTERS; i++) {
		close(plain[i]);
		close(fast[i]);
	}
	EXPECT_EQ(0, cg_write(CG_MNT "/cgroup.procs", "0"));
	rmdir(CG_CHILD);
	umount(CG_MNT);
	rmdir(CG_MNT);
}

TEST_HARNESS_MAIN
