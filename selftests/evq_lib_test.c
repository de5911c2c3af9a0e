// SPDX-License-Identifier: GPL-2.0
/*
 * evq_lib_test - libevq's factory API: evq_factory_open(), evq_create(),
 * and the fast path's wake-up on a descriptor that no longer works. The
 * hidden factory behind evq_eventfd() is in evq_lib_hidden_test.c,
 * EVQ_DEVICE and the fallback for an old module in evq_lib_device_test.c;
 * the helpers the three share in evq_lib_common.h.
 *
 * "factory": evq_factory_open() and evq_create(): the flags become the
 * right descriptor and file flags, the modes and the maximum reach the
 * counter, every documented error comes back.
 *
 * fast_wake_failed_*: a fast-path wake-up that fails (closed or reused
 * descriptor) must leave the sleeper for the next signaller to wake.
 *
 * Without the module every case fails; none skips.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/evq.h>

#include "evq.h"
#include "evq_ksft_common.h"
#include "evq_lib_common.h"
#include "kselftest_harness.h"

/* ---- factory: evq_factory_open() and evq_create() ------------------------ */

FIXTURE(factory) {
	int factory;
};

FIXTURE_SETUP(factory)
{
	self->factory = evq_factory_open(EVQ_CLOEXEC);
	ASSERT_LE(0, self->factory)
		TH_LOG("evq_factory_open: %s; is the evq module loaded?",
		       strerror(errno));
}

FIXTURE_TEARDOWN(factory)
{
	close(self->factory);
}

/* EVQ_CLOEXEC gives the factory FD_CLOEXEC, 0 does not; nothing else. */
TEST_F(factory, open_flags)
{
	char link[256];
	int fd;

	EXPECT_EQ(FD_CLOEXEC, fcntl(self->factory, F_GETFD));
	EXPECT_EQ(O_RDWR, fcntl(self->factory, F_GETFL) & O_ACCMODE);
	EXPECT_STREQ(evq_device(), fd_link(self->factory, link, sizeof(link)));
	fd = evq_factory_open(0);
	ASSERT_LE(0, fd) TH_LOG("evq_factory_open(0): %s", strerror(errno));
	EXPECT_EQ(0, fcntl(fd, F_GETFD));
	close(fd);
	EXPECT_EQ(-EINVAL, ret_or_errno(evq_factory_open(EVQ_NONBLOCK)));
	EXPECT_EQ(-EINVAL, ret_or_errno(evq_factory_open(0x80000000U)));
	EXPECT_EQ(-EINVAL, ret_or_errno(evq_factory_open(O_CLOEXEC)));
}

/* EVQ_CLOEXEC and EVQ_NONBLOCK become FD_CLOEXEC and O_NONBLOCK. */
TEST_F(factory, create_flags_become_file_flags)
{
	static const unsigned int combos[] = {
		0, EVQ_CLOEXEC, EVQ_NONBLOCK, EVQ_CLOEXEC | EVQ_NONBLOCK,
	};
	char link[256];

	for (size_t i = 0; i < sizeof(combos) / sizeof(combos[0]); i++) {
		unsigned int f = combos[i];
		int fd = evq_create(self->factory, 0, 0, f);

		ASSERT_LE(0, fd) TH_LOG("flags %#x: %s", f, strerror(errno));
		EXPECT_EQ((f & EVQ_CLOEXEC) ? FD_CLOEXEC : 0,
			  fcntl(fd, F_GETFD)) TH_LOG("flags %#x", f);
		EXPECT_EQ(O_RDWR | ((f & EVQ_NONBLOCK) ? O_NONBLOCK : 0),
			  fcntl(fd, F_GETFL)) TH_LOG("flags %#x", f);
		EXPECT_STREQ(ANON_EVQ, fd_link(fd, link, sizeof(link)));
		close(fd);
	}
}

/* Modes, initial value and maximum reach the counter; the factory stays. */
TEST_F(factory, create_configures_counter)
{
	struct evq_info info, before;
	long err;
	int fd;

	ASSERT_EQ(0, evq_get_info(self->factory, &before));
	fd = evq_create(self->factory, 3, 5,
			EVQ_SEMAPHORE | EVQ_WAKE_ONE | EVQ_NONBLOCK);
	ASSERT_LE(0, fd) TH_LOG("evq_create: %s", strerror(errno));
	ASSERT_EQ(0, evq_get_info(fd, &info));
	EXPECT_EQ(3ULL, info.count);
	EXPECT_EQ(5ULL, info.maximum);
	EXPECT_EQ(EVQ_SEMAPHORE | EVQ_WAKE_ONE, info.flags);
	EXPECT_NE(before.id, info.id);
	EXPECT_EQ(1ULL, read_value(fd, &err)) TH_LOG("read: %s", errstr(err));
	EXPECT_EQ(-EAGAIN, write_u64(fd, 4)) TH_LOG("write above the maximum");
	EXPECT_EQ(8, write_u64(fd, 3));
	close(fd);

	fd = evq_create(self->factory, 0, 0, 0);
	ASSERT_LE(0, fd) TH_LOG("evq_create: %s", strerror(errno));
	ASSERT_EQ(0, evq_get_info(fd, &info));
	EXPECT_EQ(COUNT_MAX, info.maximum);
	EXPECT_EQ(0U, info.flags);
	close(fd);

	fd = evq_create(self->factory, 0x8000000000000001ULL, 0, EVQ_BITS);
	ASSERT_LE(0, fd) TH_LOG("evq_create EVQ_BITS: %s", strerror(errno));
	EXPECT_EQ(8, write_u64(fd, 2));
	EXPECT_EQ(0x8000000000000003ULL, read_value(fd, &err));
	close(fd);

	/* The factory is as it was, and a counter outlives it. */
	fd = evq_create(self->factory, 9, 0, 0);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, evq_get_info(self->factory, &info));
	EXPECT_EQ(before.count, info.count);
	EXPECT_EQ(before.flags, info.flags);
	EXPECT_EQ(before.id, info.id);
	close(self->factory);
	self->factory = evq_factory_open(EVQ_CLOEXEC);
	EXPECT_EQ(9ULL, read_value(fd, &err)) TH_LOG("read: %s", errstr(err));
	close(fd);
}

/* Every documented error of evq_create(). */
TEST_F(factory, create_errors)
{
	static const struct {
		uint64_t initval, maximum;
		unsigned int flags;
		const char *what;
	} bad[] = {
		{ 0, 0, 0x1000, "unknown flag 0x1000" },
		{ 0, 0, 0x80000000U, "unknown flag 0x80000000" },
		{ 0, 0, EVQ_BITS | EVQ_SEMAPHORE, "EVQ_BITS with EVQ_SEMAPHORE" },
		{ 0, 5, EVQ_BITS, "EVQ_BITS with a maximum" },
		{ 6, 5, 0, "initval above the maximum" },
		{ COUNT_MAX + 1, 0, 0, "initval above EVQ_COUNT_MAX" },
		{ 0, COUNT_MAX + 1, 0, "maximum above EVQ_COUNT_MAX" },
		{ 0, 0, EVQ_MAXIMUM, "EVQ_MAXIMUM with a maximum of 0" },
	};
	int fds[2], native;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int fd = evq_create(self->factory, bad[i].initval,
				    bad[i].maximum, bad[i].flags);

		EXPECT_EQ(-EINVAL, ret_or_errno(fd)) TH_LOG("%s", bad[i].what);
		if (fd >= 0)
			close(fd);
	}
	EXPECT_EQ(-EBADF, ret_or_errno(evq_create(-1, 0, 0, 0)));
	ASSERT_EQ(0, pipe2(fds, O_CLOEXEC));
	EXPECT_EQ(-ENOTTY, ret_or_errno(evq_create(fds[0], 0, 0, 0)))
		TH_LOG("a pipe as factory");
	close(fds[1]);
	EXPECT_EQ(-EBADF, ret_or_errno(evq_create(fds[1], 0, 0, 0)))
		TH_LOG("a closed descriptor as factory");
	close(fds[0]);
	native = eventfd(0, EFD_CLOEXEC);
	ASSERT_LE(0, native);
	EXPECT_EQ(-ENOTTY, ret_or_errno(evq_create(native, 0, 0, 0)))
		TH_LOG("a native eventfd as factory");
	close(native);
}

/* Any evq counter serves as a factory, one made by evq_create() too. */
TEST_F(factory, counter_is_a_factory)
{
	int a, b;
	long err;

	a = evq_create(self->factory, 1, 0, EVQ_CLOEXEC);
	ASSERT_LE(0, a);
	b = evq_create(a, 2, 0, EVQ_CLOEXEC);
	ASSERT_LE(0, b) TH_LOG("evq_create on a counter: %s", strerror(errno));
	EXPECT_EQ(2ULL, read_value(b, &err));
	EXPECT_EQ(1ULL, read_value(a, &err));
	close(a);
	close(b);
}

/* ---- the fast path: a wake-up that fails ---------------------------------- */

/*
 * A fast counter with a reader blocked in read(2) in another process; a
 * signaller whose descriptor no longer works (@reuse: its number now
 * names a pipe; else closed) signals 1, and its wake-up fails. Then a
 * signaller with a working descriptor signals 1: the reader must wake
 * and read 2.
 */
static void failed_wake_then_good_signal(struct __test_metadata *_metadata,
					 bool reuse)
{
	struct evq_fast bad, good;
	struct evq_info info;
	int factory, fd, dfd, status, ret, err, fds[2] = { -1, -1 };
	int64_t deadline;
	pid_t pid, done = 0;

	factory = evq_factory_open(EVQ_CLOEXEC);
	ASSERT_LE(0, factory) TH_LOG("evq_factory_open: %s", strerror(errno));
	fd = evq_create(factory, 0, 0, EVQ_FAST | EVQ_CLOEXEC);
	ASSERT_LE(0, fd) TH_LOG("EVQ_FAST counter: %s", strerror(errno));
	close(factory);
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		uint64_t v = 0;

		_exit(read(fd, &v, 8) == 8 ? (int)(v & 0x7f) : 100);
	}
	ASSERT_TRUE(evq_wait_blocked(fd, 1, 0))
		TH_LOG("the reader did not block in read(2)");

	dfd = dup(fd);
	ASSERT_LE(0, dfd);
	ASSERT_EQ(0, evq_fast_map(dfd, &bad));
	ASSERT_EQ(0, close(dfd));
	if (reuse) {
		ASSERT_EQ(0, pipe2(fds, O_CLOEXEC));
		if (fds[0] != dfd) {
			ASSERT_EQ(dfd, dup3(fds[0], dfd, O_CLOEXEC));
			close(fds[0]);
			fds[0] = dfd;
		}
	}
	errno = 0;
	ret = evq_fast_signal(&bad, 1);
	err = errno;
	EXPECT_EQ(-1, ret) TH_LOG("a signal with a %s descriptor: %d, %s",
				  reuse ? "reused" : "closed", ret,
				  strerror(err));
	EXPECT_EQ(reuse ? ENOTTY : EBADF, err) TH_LOG("%s", strerror(err));
	ASSERT_EQ(0, evq_info_of(fd, &info));
	EXPECT_EQ(1ULL, info.count) TH_LOG("the signal was not added");
	EXPECT_NE(0U, bad.page->armed & EVQ_ARMED_IN)
		TH_LOG("the failed wake-up left the sleeper unannounced");

	good = bad;
	good.fd = fd;
	EXPECT_EQ(1, evq_fast_signal(&good, 1))
		TH_LOG("a signal with a working descriptor made no wake-up");
	for (deadline = now_ms() + WAIT_MS; !done && now_ms() < deadline;)
		if (!(done = waitpid(pid, &status, WNOHANG)))
			usleep(1000);
	if (!done) {
		ASSERT_EQ(0, evq_info_of(fd, &info));
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		EXPECT_TRUE(false) TH_LOG("the reader still sleeps after %d ms with count %llu",
					  WAIT_MS,
					  (unsigned long long)info.count);
	} else {
		EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 2)
			TH_LOG("the reader: status %#x (read 2 expected)",
			       status);
	}
	evq_fast_unmap(&bad);
	if (fds[0] >= 0)
		close(fds[0]);
	if (fds[1] >= 0)
		close(fds[1]);
	close(fd);
}

/* The signaller closed its descriptor, which the mapping outlives. */
TEST(fast_wake_failed_on_closed_fd_next_signal_wakes)
{
	failed_wake_then_good_signal(_metadata, false);
}

/* The signaller's descriptor number now names a pipe. */
TEST(fast_wake_failed_on_reused_fd_next_signal_wakes)
{
	failed_wake_then_good_signal(_metadata, true);
}

TEST_HARNESS_MAIN
