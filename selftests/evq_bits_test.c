// SPDX-License-Identifier: GPL-2.0
/*
 * evq_bits_test - bit mode (EVQ_BITS): a 64-bit event mask.
 *
 * Fixture "bits", a bit-mode counter made both ways (variants "setup" and
 * "factory", see evq_modes.h):
 *
 *   bits.*        writes OR, reads take and clear every bit, never
 *                 EPOLLERR, and no maximum
 *
 * evq_modes.h holds the helpers, how a counter is made both ways, and the
 * timing rules.
 */
#include "evq_modes.h"

/* ---- bits.*: a 64-bit event mask ----------------------------------------- */

FIXTURE(bits) {
	int dev;
	int fd;
};

FIXTURE_VARIANT(bits) {
	bool factory;
};

FIXTURE_VARIANT_ADD(bits, setup) {
	.factory = false,
};

FIXTURE_VARIANT_ADD(bits, factory) {
	.factory = true,
};

FIXTURE_SETUP(bits)
{
	open_mode(_metadata, &self->dev, &self->fd, variant->factory,
		  EVQ_BITS, 0);
}

FIXTURE_TEARDOWN(bits)
{
	close_mode(self->dev, self->fd);
}

TEST_F(bits, writes_or_together)
{
	uint64_t v;

	ASSERT_EQ(8, write_u64(self->fd, 0x1));
	ASSERT_EQ(8, write_u64(self->fd, 0x4));
	ASSERT_EQ(8, write_u64(self->fd, 0x4));
	ASSERT_EQ(8, read_u64(self->fd, &v));
	EXPECT_EQ(0x5ULL, v);
	ASSERT_EQ(8, write_u64(self->fd, 0x8000000000000000ULL));
	ASSERT_EQ(8, write_u64(self->fd, 0x3));
	ASSERT_EQ(8, read_u64(self->fd, &v));
	EXPECT_EQ(0x8000000000000003ULL, v);
}

TEST_F(bits, write_of_all_ones_accepted_and_never_blocks)
{
	struct bg_call op = { 0 };
	uint64_t v;
	int nb;

	nb = (int)ret_or_errno(fcntl(self->fd, F_DUPFD_CLOEXEC, 0));
	ASSERT_LE(0, nb);
	/* A dup shares the file: O_NONBLOCK is set here, cleared below. */
	ASSERT_EQ(0, set_nonblock(nb));
	EXPECT_EQ(8, write_u64(nb, ~0ULL));
	EXPECT_EQ(8, write_u64(nb, ~0ULL)) TH_LOG("second, all bits set");
	EXPECT_EQ(~0ULL, count_of(self->fd));
	EXPECT_EQ(POLLIN | POLLOUT, poll_now(self->fd)) TH_LOG("no POLLERR");
	ASSERT_EQ(0, ret_or_errno(fcntl(nb, F_SETFL, O_RDWR)));
	close(nb);

	ASSERT_EQ(0, bg_start(&op, BG_WRITE, self->fd, ~0ULL));
	EXPECT_TRUE(bg_wait(&op, WAIT_MS)) TH_LOG("blocking write blocked");
	ASSERT_TRUE(bg_finish(&op));
	EXPECT_EQ(8, op.ret) TH_LOG("blocking write: %s", errstr(op.ret));
	ASSERT_EQ(8, read_u64(self->fd, &v));
	EXPECT_EQ(~0ULL, v);
	EXPECT_EQ(0ULL, count_of(self->fd));
}

TEST_F(bits, read_takes_all_bits_and_clears)
{
	uint64_t v;

	ASSERT_EQ(8, write_u64(self->fd, 0x8000000000000001ULL));
	ASSERT_EQ(8, read_u64(self->fd, &v));
	EXPECT_EQ(0x8000000000000001ULL, v);
	EXPECT_EQ(0ULL, count_of(self->fd));
	ASSERT_EQ(0, set_nonblock(self->fd));
	EXPECT_EQ(-EAGAIN, read_u64(self->fd, &v)) TH_LOG("read at 0");
}

TEST_F(bits, nonblocking_read_at_zero_fails_eagain)
{
	uint64_t v;

	ASSERT_EQ(0, set_nonblock(self->fd));
	EXPECT_EQ(-EAGAIN, read_u64(self->fd, &v));
	EXPECT_EQ(POISON, v);
}

TEST_F(bits, epollin_iff_bit_set_epollout_always_never_epollerr)
{
	int ep = epoll_on(self->fd, EPOLLIN | EPOLLOUT | EPOLLERR);
	uint64_t vals[] = { 0, 1, 0x8000000000000000ULL, ~0ULL - 1, ~0ULL };
	size_t i;
	uint64_t v;

	ASSERT_LE(0, ep);
	for (i = 0; i < ARRAY_SIZE(vals); i++) {
		uint32_t in = vals[i] ? EPOLLIN : 0;

		ASSERT_EQ(8, vals[i] ? write_u64(self->fd, vals[i]) : 8);
		EXPECT_EQ(in | EPOLLOUT, epoll_now(ep))
			TH_LOG("epoll at mask %#llx",
			       (unsigned long long)vals[i]);
		EXPECT_EQ((int)(in | POLLOUT), poll_now(self->fd))
			TH_LOG("poll at mask %#llx",
			       (unsigned long long)vals[i]);
		EXPECT_EQ(in ? 3 : 2, select_now(self->fd))
			TH_LOG("select at mask %#llx",
			       (unsigned long long)vals[i]);
		ASSERT_EQ(8, vals[i] ? read_u64(self->fd, &v) : 8);
	}
	close(ep);
}

TEST_F(bits, epoll_edge_triggered_event_per_write_same_bit)
{
	int ep = epoll_on(self->fd, EPOLLIN | EPOLLET);
	int i;

	ASSERT_LE(0, ep);
	for (i = 0; i < 3; i++) {
		ASSERT_EQ(8, write_u64(self->fd, 1));
		EXPECT_EQ(EPOLLIN, epoll_now(ep)) TH_LOG("write %d of bit 0", i);
		EXPECT_EQ(0, epoll_now(ep));
	}
	close(ep);
}

TEST_F(bits, set_maximum_on_bit_mode_fails_einval)
{
	struct evq_info info;

	EXPECT_EQ(-EINVAL, set_maximum(self->fd, 5));
	ASSERT_EQ(0, get_info(self->fd, &info));
	EXPECT_EQ(EVQ_COUNT_MAX, info.maximum);
	EXPECT_EQ(EVQ_BITS, info.flags);
}

TEST_HARNESS_MAIN
