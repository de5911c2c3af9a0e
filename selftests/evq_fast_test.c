// SPDX-License-Identifier: GPL-2.0
/*
 * evq_fast_test - EVQ_FAST: the count in a page shared with userspace
 * (struct evq_page), signalled and taken with atomics, entering the kernel
 * only to wake a sleeper (EVQ_IOC_WAKE) or to block. This program covers
 * the page itself and how each use of the counter goes with it; the races
 * and stress are evq_fast_race_test's, the page's memory accounting
 * evq_fast_memcg_test's, and the helpers they share are in evq_fast.h.
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
 *
 * Timing: see evq_ksft_common.h. Every thread that may block is released
 * with SIGUSR1 (no SA_RESTART) before it is joined, so no case can hang.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <liburing.h>

#include "evq.h"
#include "evq_ksft_common.h"
#include "evq_fast.h"
#include "kselftest_harness.h"

/* ---- small helpers ------------------------------------------------------- */

static long set_maximum(int fd, uint64_t maximum)
{
	return ret_or_errno(ioctl(fd, EVQ_IOC_SET_MAXIMUM, &maximum));
}

static void *map_page(int fd, int prot, int flags, off_t off, size_t len)
{
	return mmap(NULL, len, prot, flags, fd, off);
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

TEST_HARNESS_MAIN
