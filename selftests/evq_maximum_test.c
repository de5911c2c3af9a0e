// SPDX-License-Identifier: GPL-2.0
/*
 * evq_maximum_test - the maximum (EVQ_MAXIMUM, EVQ_IOC_SET_MAXIMUM): flow
 * control.
 *
 * Fixture "maximum", a counter with maximum MAX made both ways (variants
 * "setup" and "factory", see evq_modes.h):
 *
 *   maximum.*     EAGAIN and blocking writes, EPOLLOUT iff the count is
 *                 below the maximum, raising and lowering it, GET_INFO,
 *                 semaphore mode, and EVQ_IOC_SET_MAXIMUM's bad input
 *
 * evq_modes.h holds the helpers, how a counter is made both ways, and the
 * timing rules.
 */
#include "evq_modes.h"

/* ---- maximum.*: flow control --------------------------------------------- */

#define MAX	3

FIXTURE(maximum) {
	int dev;
	int fd;
};

FIXTURE_VARIANT(maximum) {
	bool factory;
};

FIXTURE_VARIANT_ADD(maximum, setup) {
	.factory = false,
};

FIXTURE_VARIANT_ADD(maximum, factory) {
	.factory = true,
};

FIXTURE_SETUP(maximum)
{
	open_mode(_metadata, &self->dev, &self->fd, variant->factory, 0, MAX);
}

FIXTURE_TEARDOWN(maximum)
{
	close_mode(self->dev, self->fd);
}

TEST_F(maximum, nonblocking_write_past_maximum_fails_eagain)
{
	ASSERT_EQ(0, set_nonblock(self->fd));
	EXPECT_EQ(8, write_u64(self->fd, MAX - 1));
	EXPECT_EQ(-EAGAIN, write_u64(self->fd, 2));
	EXPECT_EQ(8, write_u64(self->fd, 1)) TH_LOG("up to the maximum fits");
	EXPECT_EQ(-EAGAIN, write_u64(self->fd, 1));
	EXPECT_EQ((uint64_t)MAX, count_of(self->fd));
}

TEST_F(maximum, blocking_write_past_maximum_waits_for_read)
{
	struct bg_call op = { 0 };
	uint64_t v;

	ASSERT_EQ(8, write_u64(self->fd, 2));
	ASSERT_EQ(0, bg_start(&op, BG_WRITE, self->fd, 2));
	EXPECT_EQ(1, wait_waiters(self->fd, true, 1));
	sleep_ms(SETTLE_MS);
	EXPECT_FALSE(atomic_load(&op.done)) TH_LOG("write of 2 at 2 of %d: %ld",
						   MAX, op.ret);
	ASSERT_EQ(8, read_u64(self->fd, &v));
	EXPECT_EQ(2ULL, v);
	EXPECT_TRUE(bg_wait(&op, WAIT_MS)) TH_LOG("read did not wake writer");
	ASSERT_TRUE(bg_finish(&op));
	EXPECT_EQ(8, op.ret) TH_LOG("write: %s", errstr(op.ret));
	EXPECT_EQ(2ULL, count_of(self->fd));
}

TEST_F(maximum, epollout_iff_count_below_maximum)
{
	int ep = epoll_on(self->fd, EPOLLOUT);
	uint64_t c;

	ASSERT_LE(0, ep);
	for (c = 0;; c++) {
		bool out = c < MAX;

		EXPECT_EQ(c, count_of(self->fd));
		EXPECT_EQ(out, !!(poll_now(self->fd) & POLLOUT))
			TH_LOG("poll POLLOUT at count %llu of %d",
			       (unsigned long long)c, MAX);
		EXPECT_EQ(out ? EPOLLOUT : 0, epoll_now(ep))
			TH_LOG("epoll at count %llu of %d",
			       (unsigned long long)c, MAX);
		EXPECT_EQ(out, !!(select_now(self->fd) & 2))
			TH_LOG("select writable at count %llu of %d",
			       (unsigned long long)c, MAX);
		if (c == MAX)
			break;
		ASSERT_EQ(8, write_u64(self->fd, 1));
	}
	close(ep);
}

TEST_F(maximum, raising_maximum_wakes_writer_and_epollout_waiter)
{
	struct bg_call w = { 0 }, e = { 0 };
	int ep = epoll_on(self->fd, EPOLLOUT);

	ASSERT_LE(0, ep);
	ASSERT_EQ(8, write_u64(self->fd, MAX));
	ASSERT_EQ(0, bg_start(&w, BG_WRITE, self->fd, 1));
	ASSERT_EQ(0, bg_start(&e, BG_EPOLL, ep, 0));
	EXPECT_EQ(1, wait_waiters(self->fd, true, 1));
	sleep_ms(SETTLE_MS);
	EXPECT_FALSE(atomic_load(&w.done)) TH_LOG("writer at the maximum");
	EXPECT_FALSE(atomic_load(&e.done)) TH_LOG("EPOLLOUT at the maximum");
	EXPECT_EQ(0, set_maximum(self->fd, MAX + 2));
	EXPECT_TRUE(bg_wait(&w, WAIT_MS)) TH_LOG("writer not woken");
	EXPECT_TRUE(bg_wait(&e, WAIT_MS)) TH_LOG("epoll waiter not woken");
	ASSERT_TRUE(bg_finish(&w));
	ASSERT_TRUE(bg_finish(&e));
	EXPECT_EQ(8, w.ret) TH_LOG("write: %s", errstr(w.ret));
	EXPECT_EQ(1, e.ret) TH_LOG("epoll_wait: %s", errstr(e.ret));
	EXPECT_EQ(EPOLLOUT, e.events);
	EXPECT_EQ((uint64_t)MAX + 1, count_of(self->fd));
	close(ep);
}

TEST_F(maximum, lowering_below_count_keeps_reads_and_stops_writes)
{
	struct bg_call w = { 0 };
	uint64_t v;
	int sem;

	ASSERT_EQ(8, write_u64(self->fd, MAX));
	ASSERT_EQ(0, set_maximum(self->fd, 1));
	ASSERT_EQ(0, set_nonblock(self->fd));
	EXPECT_EQ(-EAGAIN, write_u64(self->fd, 0)) TH_LOG("0 above maximum");
	EXPECT_EQ(-EAGAIN, write_u64(self->fd, 1));
	EXPECT_EQ(0, poll_now(self->fd) & POLLOUT);
	EXPECT_EQ((uint64_t)MAX, count_of(self->fd)) TH_LOG("nothing lost");
	ASSERT_EQ(8, read_u64(self->fd, &v));
	EXPECT_EQ((uint64_t)MAX, v);
	EXPECT_EQ(8, write_u64(self->fd, 1));
	EXPECT_EQ(-EAGAIN, write_u64(self->fd, 1));

	/* Semaphore reads take 1 each: writes wait until count <= max. */
	sem = make_counter(self->dev, variant->factory, EVQ_SEMAPHORE, 0, MAX);
	ASSERT_LE(0, sem) TH_LOG("semaphore counter: %s", errstr(sem));
	ASSERT_EQ(0, set_maximum(sem, 1));
	ASSERT_EQ(0, bg_start(&w, BG_WRITE, sem, 0));
	EXPECT_EQ(1, wait_waiters(sem, true, 1));
	ASSERT_EQ(8, read_u64(sem, &v));
	sleep_ms(SETTLE_MS);
	EXPECT_FALSE(atomic_load(&w.done)) TH_LOG("write of 0 at 2, max 1");
	ASSERT_EQ(8, read_u64(sem, &v));
	EXPECT_TRUE(bg_wait(&w, WAIT_MS)) TH_LOG("write of 0 at 1, max 1");
	ASSERT_TRUE(bg_finish(&w));
	EXPECT_EQ(8, w.ret) TH_LOG("write: %s", errstr(w.ret));
	EXPECT_EQ(1ULL, count_of(sem));
	close(sem);
}

TEST_F(maximum, info_maximum_follows_set_maximum)
{
	struct evq_info info;
	char buf[512];

	ASSERT_EQ(0, get_info(self->fd, &info));
	EXPECT_EQ((uint64_t)MAX, info.maximum);
	ASSERT_EQ(0, set_maximum(self->fd, 7));
	ASSERT_EQ(0, get_info(self->fd, &info));
	EXPECT_EQ(7ULL, info.maximum);
	ASSERT_LT(0, read_fdinfo(self->fd, buf, sizeof(buf)));
	EXPECT_NE(NULL, strstr(buf, "evq-maximum: 7\n")) TH_LOG("%s", buf);
	ASSERT_EQ(0, set_maximum(self->fd, EVQ_COUNT_MAX));
	ASSERT_EQ(0, get_info(self->fd, &info));
	EXPECT_EQ(EVQ_COUNT_MAX, info.maximum);
	ASSERT_LT(0, read_fdinfo(self->fd, buf, sizeof(buf)));
	EXPECT_EQ(NULL, strstr(buf, "evq-maximum")) TH_LOG("%s", buf);
}

TEST_F(maximum, semaphore_counter_with_maximum)
{
	uint64_t v;
	int sem;

	sem = make_counter(self->dev, variant->factory, EVQ_SEMAPHORE, 2, 0);
	ASSERT_LE(0, sem) TH_LOG("semaphore counter: %s", errstr(sem));
	ASSERT_EQ(0, set_nonblock(sem));
	EXPECT_EQ(8, write_u64(sem, 2));
	EXPECT_EQ(-EAGAIN, write_u64(sem, 1));
	EXPECT_EQ(8, read_u64(sem, &v));
	EXPECT_EQ(1ULL, v);
	EXPECT_EQ(8, write_u64(sem, 1)) TH_LOG("one read made room for 1");
	EXPECT_EQ(-EAGAIN, write_u64(sem, 1));
	EXPECT_EQ(2ULL, count_of(sem));
	close(sem);
}

TEST_F(maximum, set_maximum_rejects_zero_too_big_and_bad_pointer)
{
	struct evq_info info;

	EXPECT_EQ(-EINVAL, set_maximum(self->fd, 0));
	EXPECT_EQ(-EINVAL, set_maximum(self->fd, EVQ_COUNT_MAX + 1));
	EXPECT_EQ(-EFAULT, ret_or_errno(ioctl(self->fd, EVQ_IOC_SET_MAXIMUM,
					      NULL)));
	EXPECT_EQ(-EFAULT, ret_or_errno(ioctl(self->fd, EVQ_IOC_SET_MAXIMUM,
					      unmapped_page())));
	ASSERT_EQ(0, get_info(self->fd, &info));
	EXPECT_EQ((uint64_t)MAX, info.maximum) TH_LOG("maximum changed");
}

TEST_HARNESS_MAIN
