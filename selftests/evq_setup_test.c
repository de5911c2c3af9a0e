// SPDX-License-Identifier: GPL-2.0
/*
 * evq_setup_test - EVQ_IOC_SETUP only before first use.
 *
 * A counter made by open(2) may be configured by EVQ_IOC_SETUP until it is
 * used; after that the ioctl fails with EBUSY and changes nothing, so no
 * reader, writer, poller or kernel user ever sees a counter change its
 * mode or count under it. "Used" (uapi/linux/evq.h, evq(4)): any read or
 * write call, whatever it returned (read, readv, write, writev, io_uring
 * go through the same two entry points), any poll (poll(2), select(2), an
 * epoll registration) and an in-kernel reference (the test module's
 * ATTACH). Not uses: EVQ_IOC_GET_INFO, fdinfo, EVQ_IOC_SET_MAXIMUM, a
 * refused EVQ_IOC_SETUP, EVQ_IOC_CREATE on it, and what fails on a counter
 * not set up (mmap, EVQ_IOC_WAKE). Each way of using a counter has a case
 * of its own, and each checks that the refused setup changed nothing.
 *
 * Fixture "setup" has one variant, "evq", so that `evq_setup_test -v evq`
 * runs every case, as for the other suites. Setup fails, never skips,
 * when /dev/evq cannot be opened; the kernel-reference case skips without
 * the test module (/dev/evq_testmod).
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
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/select.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <linux/evq.h>

#include "evq_ksft_common.h"
#include "kmod/evq_testmod.h"
#include "kselftest_harness.h"

static long setup(int fd, uint64_t initval, uint32_t flags)
{
	struct evq_setup s = { .initval = initval, .flags = flags };

	return ret_or_errno(ioctl(fd, EVQ_IOC_SETUP, &s));
}

FIXTURE(setup) {
	int fd;		/* opened, not set up, blocking */
};

FIXTURE_VARIANT(setup) {
	int unused;
};

FIXTURE_VARIANT_ADD(setup, evq) {
	.unused = 0,
};

FIXTURE_SETUP(setup)
{
	ASSERT_EQ(0, sigusr1_interrupts(sigusr1_ignore));
	self->fd = open("/dev/evq", O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->fd) TH_LOG("open /dev/evq: %s", strerror(errno));
}

FIXTURE_TEARDOWN(setup)
{
	if (self->fd >= 0)
		close(self->fd);
}

/*
 * A used counter refuses EVQ_IOC_SETUP with EBUSY, and the refusal changes
 * nothing: still a plain counter with @count, eventfd's maximum. @use
 * names the use for the failure message.
 */
static void expect_refused(struct __test_metadata *_metadata, int fd,
			   uint64_t count, const char *use)
{
	struct evq_info info;
	long ret = setup(fd, 5, EVQ_SEMAPHORE);

	EXPECT_EQ(-EBUSY, ret)
		TH_LOG("EVQ_IOC_SETUP after %s: expected EBUSY, got %s", use,
		       errstr(ret));
	ASSERT_EQ(0, evq_info_of(fd, &info));
	EXPECT_EQ(0U, info.flags) TH_LOG("after %s: mode flags %#x", use,
					 info.flags);
	EXPECT_EQ(count, info.count) TH_LOG("after %s: count", use);
}

static int set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/*
 * Neither looking (GET_INFO, fdinfo), nor setting the maximum, nor calls
 * that fail on a counter not set up, nor using it as a factory, nor
 * fcntl, nor a refused setup count as use: the setup that follows them
 * all succeeds and takes effect.
 */
TEST_F(setup, non_uses_leave_setup_allowed)
{
	struct evq_create c = { .flags = EVQ_CLOEXEC };
	struct evq_setup bad = { .flags = 0x80000000U };
	struct evq_info info;
	uint64_t max = 10, v;
	char path[64], buf[256];
	void *p;
	int fd, other;
	ssize_t n;
	long ret;

	ASSERT_EQ(0, evq_info_of(self->fd, &info));
	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", self->fd);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, fd);
	n = read(fd, buf, sizeof(buf));
	EXPECT_LT(0, n);
	close(fd);
	EXPECT_EQ(0, ret_or_errno(ioctl(self->fd, EVQ_IOC_SET_MAXIMUM, &max)));
	p = mmap(NULL, EVQ_PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
		 self->fd, 0);
	EXPECT_EQ(MAP_FAILED, p) TH_LOG("mmap of a counter not set up");
	EXPECT_EQ(ENODEV, errno);
	EXPECT_EQ(-EINVAL, ret_or_errno(ioctl(self->fd, EVQ_IOC_WAKE,
					      EVQ_ARMED_IN)));
	other = (int)ret_or_errno(ioctl(self->fd, EVQ_IOC_CREATE, &c));
	ASSERT_LE(0, other) TH_LOG("EVQ_IOC_CREATE: %s", errstr(other));
	close(other);
	ASSERT_EQ(0, set_nonblock(self->fd));
	EXPECT_EQ(-EINVAL, ret_or_errno(ioctl(self->fd, EVQ_IOC_SETUP, &bad)));

	ret = setup(self->fd, 3, EVQ_SEMAPHORE);
	ASSERT_EQ(0, ret) TH_LOG("EVQ_IOC_SETUP after no use: %s",
				 errstr(ret));
	ASSERT_EQ(0, evq_info_of(self->fd, &info));
	EXPECT_EQ(EVQ_SEMAPHORE, info.flags);
	EXPECT_EQ(3ULL, info.count);
	EXPECT_EQ(10ULL, info.maximum);
	EXPECT_EQ(8, read_u64(self->fd, &v));
	EXPECT_EQ(1ULL, v) TH_LOG("a semaphore read takes 1");
	/* Set up: the next setup is refused whatever happened before. */
	EXPECT_EQ(-EBUSY, setup(self->fd, 0, 0));
}

/* A write and a read that leave the count at 0 again. */
TEST_F(setup, write_and_drain_refuses_setup)
{
	uint64_t v;

	ASSERT_EQ(8, write_u64(self->fd, 1));
	ASSERT_EQ(8, read_u64(self->fd, &v));
	expect_refused(_metadata, self->fd, 0, "a write and a read");
}

/* A write of 0, through writev (write_iter): the count never moved. */
TEST_F(setup, writev_of_zero_refuses_setup)
{
	uint64_t zero = 0;
	struct iovec iov = { .iov_base = &zero, .iov_len = sizeof(zero) };

	ASSERT_EQ(8, ret_or_errno(writev(self->fd, &iov, 1)));
	expect_refused(_metadata, self->fd, 0, "a writev of 0");
}

/* A write(2) refused for its size still used the counter. */
TEST_F(setup, failed_write_refuses_setup)
{
	uint32_t half = 1;

	ASSERT_EQ(-EINVAL, ret_or_errno(write(self->fd, &half, sizeof(half))));
	expect_refused(_metadata, self->fd, 0, "a 4-byte write");
}

/* A non-blocking read(2) at count 0 looked at the count. */
TEST_F(setup, nonblocking_read_refuses_setup)
{
	uint64_t v;

	ASSERT_EQ(0, set_nonblock(self->fd));
	ASSERT_EQ(-EAGAIN, read_u64(self->fd, &v));
	expect_refused(_metadata, self->fd, 0, "a read that found 0");
}

/* The same through readv (read_iter). */
TEST_F(setup, nonblocking_readv_refuses_setup)
{
	uint64_t v = POISON;
	struct iovec iov = { .iov_base = &v, .iov_len = sizeof(v) };

	ASSERT_EQ(0, set_nonblock(self->fd));
	ASSERT_EQ(-EAGAIN, ret_or_errno(readv(self->fd, &iov, 1)));
	expect_refused(_metadata, self->fd, 0, "a readv that found 0");
}

/*
 * A reader blocked at count 0: the setup must not give it an initial
 * count or a mode it did not open; a write then wakes it as a plain
 * counter's reader.
 */
TEST_F(setup, blocked_reader_refuses_setup)
{
	struct bg_call b;

	memset(&b, 0, sizeof(b));
	ASSERT_EQ(0, bg_start(&b, BG_READ, self->fd, 0));
	ASSERT_TRUE(evq_wait_blocked(self->fd, 1, 0))
		TH_LOG("the reader did not block");
	expect_refused(_metadata, self->fd, 0, "a blocked read");
	ASSERT_EQ(8, write_u64(self->fd, 2));
	EXPECT_TRUE(bg_wait(&b, WAIT_MS)) TH_LOG("the reader was not woken");
	EXPECT_EQ(8, b.ret);
	EXPECT_EQ(2ULL, b.val) TH_LOG("a plain read takes the whole count");
	EXPECT_TRUE(bg_finish(&b));
}

/*
 * A poller asleep in poll(2): refused, for a fast setup too (the poller
 * never armed in a page that did not exist); the next write wakes it.
 */
TEST_F(setup, blocked_poller_refuses_setup)
{
	struct evq_setup s = { .flags = EVQ_FAST };
	struct bg_call b;
	long ret;

	memset(&b, 0, sizeof(b));
	ASSERT_EQ(0, bg_start(&b, BG_POLL, self->fd, 0));
	sleep_us(SETTLE_MS * 1000L);
	ASSERT_FALSE(atomic_load(&b.done)) TH_LOG("poll returned at count 0");
	ret = ret_or_errno(ioctl(self->fd, EVQ_IOC_SETUP, &s));
	EXPECT_EQ(-EBUSY, ret) TH_LOG("EVQ_FAST setup under a poller: %s",
				      errstr(ret));
	expect_refused(_metadata, self->fd, 0, "a blocked poll");
	ASSERT_EQ(8, write_u64(self->fd, 1));
	EXPECT_TRUE(bg_wait(&b, WAIT_MS)) TH_LOG("the poller was not woken");
	EXPECT_EQ(1, b.ret);
	EXPECT_EQ((uint32_t)POLLIN, b.events);
	EXPECT_TRUE(bg_finish(&b));
}

/* A poll(2) with a zero timeout, which queued nothing, saw the count. */
TEST_F(setup, zero_timeout_poll_refuses_setup)
{
	EXPECT_EQ(POLLOUT, poll_now(self->fd));
	expect_refused(_metadata, self->fd, 0, "poll with a zero timeout");
}

TEST_F(setup, select_refuses_setup)
{
	EXPECT_EQ(2, select_now(self->fd));
	expect_refused(_metadata, self->fd, 0, "select");
}

/* Registering with epoll polls and queues the epoll entry. */
TEST_F(setup, epoll_registration_refuses_setup)
{
	int ep = epoll_on(self->fd, EPOLLIN | EPOLLET);

	ASSERT_LE(0, ep) TH_LOG("epoll_on: %s", strerror(errno));
	expect_refused(_metadata, self->fd, 0, "an epoll registration");
	close(ep);
}

/*
 * An in-kernel reference (evq_ctx_fdget() through the test module's
 * ATTACH): the kernel user may signal at any time. The refusal outlives
 * the reference.
 */
TEST_F(setup, kernel_reference_refuses_setup)
{
	int tm = open(EVQ_TESTMOD_DEVICE, O_RDWR | O_CLOEXEC);
	int32_t fd = self->fd;

	if (tm < 0)
		SKIP(return, "%s: %s (evq_testmod.ko not loaded)",
		     EVQ_TESTMOD_DEVICE, strerror(errno));
	ASSERT_EQ(0, ret_or_errno(ioctl(tm, EVQ_TESTMOD_IOC_ATTACH, &fd)));
	expect_refused(_metadata, self->fd, 0, "an in-kernel reference");
	close(tm);
	expect_refused(_metadata, self->fd, 0,
		       "an in-kernel reference, dropped");
}

TEST_HARNESS_MAIN
