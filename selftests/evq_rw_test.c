// SPDX-License-Identifier: GPL-2.0
/*
 * evq_rw_test - read(2) and write(2) of /dev/evq counters and native
 * eventfd(2), side by side: sizes, values, the count's limits, semaphore
 * mode, non-blocking and RWF_NOWAIT calls, bad buffers, and glibc's
 * eventfd_read()/eventfd_write().
 *
 * The fixture "counter", its variants "native" and "evq", and the helpers
 * are in evq_counter.h.
 */
#include "evq_counter.h"

static long write_bytes(int fd, const void *buf, size_t len)
{
	return ret_or_errno(write(fd, buf, len));
}

static long read_bytes(int fd, void *buf, size_t len)
{
	return ret_or_errno(read(fd, buf, len));
}

/* ---- read and write ------------------------------------------------------ */

TEST_F(counter, write_then_read_returns_value)
{
	uint64_t v;
	long ret;

	ASSERT_EQ(8, write_u64(self->fd, 5));
	ret = read_u64(self->fd, &v);
	ASSERT_EQ(8, ret) TH_LOG("read: %s", errstr(ret));
	EXPECT_EQ(5ULL, v);
}

TEST_F(counter, writes_accumulate)
{
	uint64_t v;

	ASSERT_EQ(8, write_u64(self->fd, 1));
	ASSERT_EQ(8, write_u64(self->fd, 2));
	ASSERT_EQ(8, write_u64(self->fd, 0x100000000ULL));
	ASSERT_EQ(8, read_u64(self->fd, &v));
	EXPECT_EQ(0x100000003ULL, v);
}

TEST_F(counter, read_resets_to_zero)
{
	int fd = NEW_COUNTER(0, EFD_NONBLOCK);
	uint64_t v;
	long ret;

	ASSERT_EQ(8, write_u64(fd, 7));
	ASSERT_EQ(8, read_u64(fd, &v));
	EXPECT_EQ(7ULL, v);
	ret = read_u64(fd, &v);
	EXPECT_EQ(-EAGAIN, ret) TH_LOG("second read: %s, value %#llx",
				       errstr(ret), (unsigned long long)v);
	EXPECT_EQ(POLLOUT, poll_mask(fd));
}

TEST_F(counter, read_0_and_7_bytes_einval)
{
	char buf[8];
	long ret;

	ASSERT_EQ(8, write_u64(self->fd, 42));
	ret = read_bytes(self->fd, buf, 0);
	EXPECT_EQ(-EINVAL, ret) TH_LOG("read(0): %s", errstr(ret));
	ret = read_bytes(self->fd, buf, 7);
	EXPECT_EQ(-EINVAL, ret) TH_LOG("read(7): %s", errstr(ret));
	EXPECT_EQ(42ULL, take_count(_metadata, self->fd))
		TH_LOG("a failed read must leave the count alone");
}

TEST_F(counter, read_8_9_4096_bytes_returns_8)
{
	static const size_t lens[] = { 8, 9, 4096 };
	unsigned char buf[4096];
	uint64_t v;
	size_t i, j;
	long ret;

	for (i = 0; i < ARRAY_SIZE(lens); i++) {
		uint64_t want = 0x0102030405060708ULL + i;

		ASSERT_EQ(8, write_u64(self->fd, want));
		memset(buf, 0xa5, sizeof(buf));
		ret = read_bytes(self->fd, buf, lens[i]);
		EXPECT_EQ(8, ret) TH_LOG("read(%zu): %s", lens[i],
					 errstr(ret));
		memcpy(&v, buf, sizeof(v));
		EXPECT_EQ(want, v) TH_LOG("read(%zu)", lens[i]);
		for (j = 8; j < lens[i]; j++) {
			EXPECT_EQ(0xa5, buf[j])
				TH_LOG("read(%zu) wrote byte %zu", lens[i], j);
			if (buf[j] != 0xa5)
				break;
		}
		EXPECT_EQ(0ULL, take_count(_metadata, self->fd));
	}
}

TEST_F(counter, readv_4_4_splits_value)
{
	const uint64_t want = 0x1122334455667788ULL;
	unsigned char lo[4], hi[4];
	struct iovec iov[2] = {
		{ .iov_base = lo, .iov_len = sizeof(lo) },
		{ .iov_base = hi, .iov_len = sizeof(hi) },
	};
	uint64_t v;
	long ret;

	ASSERT_EQ(8, write_u64(self->fd, want));
	memset(lo, 0xa5, sizeof(lo));
	memset(hi, 0xa5, sizeof(hi));
	ret = ret_or_errno(readv(self->fd, iov, 2));
	ASSERT_EQ(8, ret) TH_LOG("readv(4 + 4): %s", errstr(ret));
	memcpy(&v, lo, 4);
	memcpy((unsigned char *)&v + 4, hi, 4);
	EXPECT_EQ(want, v);
}

TEST_F(counter, write_0_and_7_bytes_einval)
{
	const uint64_t one = 1;
	long ret;

	ret = write_bytes(self->fd, &one, 0);
	EXPECT_EQ(-EINVAL, ret) TH_LOG("write(0): %s", errstr(ret));
	ret = write_bytes(self->fd, &one, 7);
	EXPECT_EQ(-EINVAL, ret) TH_LOG("write(7): %s", errstr(ret));
	EXPECT_EQ(0ULL, take_count(_metadata, self->fd));
}

/*
 * Mainline (and evq): exactly 8 bytes or EINVAL. Native eventfd before 6.9
 * adds the first 8 bytes of a longer write and returns 8.
 */
TEST_F(counter, write_9_and_16_bytes_einval)
{
	static const size_t lens[] = { 9, 16 };
	enum legacy old = variant_legacy(self, DIFF_WRITE_OVER_8_ACCEPTED);
	unsigned char buf[16];
	const uint64_t three = 3;
	size_t i;
	long ret;

	memset(buf, 0xff, sizeof(buf));
	memcpy(buf, &three, sizeof(three));
	for (i = 0; i < ARRAY_SIZE(lens); i++) {
		ret = write_bytes(self->fd, buf, lens[i]);
		if (old == LEGACY_YES) {
			EXPECT_EQ(8, ret)
				TH_LOG("native eventfd before 6.9: write(%zu) takes 8 bytes: %s",
				       lens[i], errstr(ret));
		} else {
			EXPECT_EQ(-EINVAL, ret)
				TH_LOG("write(%zu): %s", lens[i], errstr(ret));
		}
	}
	EXPECT_EQ(old == LEGACY_YES ? 6ULL : 0ULL,
		  take_count(_metadata, self->fd));
}

TEST_F(counter, writev_4_4_einval)
{
	const uint64_t one = 1;
	struct iovec iov[2] = {
		{ .iov_base = (void *)&one, .iov_len = 4 },
		{ .iov_base = (unsigned char *)&one + 4, .iov_len = 4 },
	};
	long ret;

	ret = ret_or_errno(writev(self->fd, iov, 2));
	EXPECT_EQ(-EINVAL, ret) TH_LOG("writev(4 + 4): %s", errstr(ret));
	EXPECT_EQ(0ULL, take_count(_metadata, self->fd));
}

/*
 * eventfd's ->write sees a writev() one segment at a time: every 8-byte
 * segment is one write, and the first bad segment ends the call.
 */
TEST_F(counter, writev_8_byte_segments_each_count)
{
	uint64_t v[2] = { 1, 2 };
	struct iovec iov[2] = {
		{ .iov_base = &v[0], .iov_len = 8 },
		{ .iov_base = &v[1], .iov_len = 8 },
	};
	long ret;

	ret = ret_or_errno(writev(self->fd, iov, 2));
	EXPECT_EQ(16, ret) TH_LOG("writev(8 + 8): %s", errstr(ret));
	EXPECT_EQ(3ULL, take_count(_metadata, self->fd));

	iov[1].iov_len = 4;
	ret = ret_or_errno(writev(self->fd, iov, 2));
	EXPECT_EQ(8, ret) TH_LOG("writev(8 + 4): %s", errstr(ret));
	EXPECT_EQ(1ULL, take_count(_metadata, self->fd));
}

TEST_F(counter, write_ullong_max_einval)
{
	long ret;

	ASSERT_EQ(8, write_u64(self->fd, 7));
	ret = write_u64(self->fd, UINT64_MAX);
	EXPECT_EQ(-EINVAL, ret) TH_LOG("write(0xffffffffffffffff): %s",
				       errstr(ret));
	EXPECT_EQ(7ULL, take_count(_metadata, self->fd));
}

TEST_F(counter, write_zero_keeps_count)
{
	int fd = NEW_COUNTER(5, EFD_NONBLOCK);
	uint64_t v;

	EXPECT_EQ(8, write_u64(fd, 0));
	ASSERT_EQ(8, read_u64(fd, &v));
	EXPECT_EQ(5ULL, v);
	EXPECT_EQ(8, write_u64(fd, 0)) TH_LOG("write of 0 at count 0");
	EXPECT_EQ(-EAGAIN, read_u64(fd, &v))
		TH_LOG("count after writing 0 to 0: %#llx",
		       (unsigned long long)v);
}

TEST_F(counter, max_count_nonblocking_write_eagain)
{
	int fd = NEW_COUNTER(5, EFD_NONBLOCK);
	uint64_t v;
	long ret;

	/* 5 + (COUNT_MAX - 4) = ULLONG_MAX: one too many. */
	ret = write_u64(fd, COUNT_MAX - 4);
	EXPECT_EQ(-EAGAIN, ret) TH_LOG("write to ULLONG_MAX: %s",
				       errstr(ret));
	/* 5 + (COUNT_MAX - 5) = COUNT_MAX: fits exactly. */
	ret = write_u64(fd, COUNT_MAX - 5);
	ASSERT_EQ(8, ret) TH_LOG("write to COUNT_MAX: %s", errstr(ret));
	ret = write_u64(fd, 1);
	EXPECT_EQ(-EAGAIN, ret) TH_LOG("write 1 at COUNT_MAX: %s",
				       errstr(ret));
	ret = write_u64(fd, COUNT_MAX);
	EXPECT_EQ(-EAGAIN, ret) TH_LOG("write COUNT_MAX at COUNT_MAX: %s",
				       errstr(ret));
	ret = write_u64(fd, 0);
	EXPECT_EQ(8, ret) TH_LOG("write 0 at COUNT_MAX: %s", errstr(ret));
	ASSERT_EQ(8, read_u64(fd, &v));
	EXPECT_EQ(COUNT_MAX, v);
	EXPECT_EQ(-EAGAIN, read_u64(fd, &v));
}

TEST_F(counter, nonblocking_read_at_zero_eagain)
{
	int fd = NEW_COUNTER(0, EFD_NONBLOCK);
	uint64_t v;
	long ret;

	ret = read_u64(fd, &v);
	EXPECT_EQ(-EAGAIN, ret) TH_LOG("read: %s, value %#llx", errstr(ret),
				       (unsigned long long)v);
	EXPECT_EQ(POISON, v) TH_LOG("a failed read wrote the buffer");
}

/*
 * preadv2()/pwritev2() with RWF_NOWAIT reach read_iter/write_iter with
 * IOCB_NOWAIT, which the VFS allows only on a file with FMODE_NOWAIT
 * (EOPNOTSUPP otherwise, kiocb_set_rw_flags()). Native eventfd and evq
 * both set it, so on a blocking counter a read at 0 gives EAGAIN instead
 * of blocking, and a read of a non-zero count works as usual.
 */
static long preadv2_nowait(int fd, uint64_t *v)
{
	struct iovec iov = { .iov_base = v, .iov_len = sizeof(*v) };

	*v = POISON;
	return ret_or_errno(preadv2(fd, &iov, 1, -1, RWF_NOWAIT));
}

static long pwritev2_nowait(int fd, uint64_t v)
{
	struct iovec iov = { .iov_base = &v, .iov_len = sizeof(v) };

	return ret_or_errno(pwritev2(fd, &iov, 1, -1, RWF_NOWAIT));
}

/*
 * Native eventfd has a plain ->write, no write_iter, on 6.1 and 6.12, so
 * pwritev2() with any flag but RWF_HIPRI gives EOPNOTSUPP there
 * (do_loop_readv_writev()) and io_uring can run its write only blocking.
 * evq's write_iter honours IOCB_NOWAIT. Not a kernel-age difference (both
 * kernels are alike), hence not in native_legacy(); what counts is what
 * the counter really is, as in variant_legacy().
 */
static bool variant_write_honours_nowait(const FIXTURE_DATA(counter) *self)
{
	return self->evq_backed;
}

TEST_F(counter, preadv2_nowait_at_zero_eagain)
{
	int sem = NEW_COUNTER(0, EFD_SEMAPHORE);
	uint64_t v;
	long ret;

	ret = preadv2_nowait(self->fd, &v);
	EXPECT_EQ(-EAGAIN, ret)
		TH_LOG("preadv2(RWF_NOWAIT) on a blocking counter at 0: %s (EOPNOTSUPP: no FMODE_NOWAIT)",
		       errstr(ret));
	EXPECT_EQ(POISON, v) TH_LOG("a failed read wrote the buffer");
	ret = preadv2_nowait(sem, &v);
	EXPECT_EQ(-EAGAIN, ret)
		TH_LOG("preadv2(RWF_NOWAIT), semaphore counter at 0: %s",
		       errstr(ret));
}

TEST_F(counter, preadv2_nowait_reads_count)
{
	int sem = NEW_COUNTER(2, EFD_SEMAPHORE);
	uint64_t v;
	long ret;

	ASSERT_EQ(8, write_u64(self->fd, 9));
	ret = preadv2_nowait(self->fd, &v);
	EXPECT_EQ(8, ret) TH_LOG("preadv2(RWF_NOWAIT) at 9: %s", errstr(ret));
	EXPECT_EQ(9ULL, v);
	EXPECT_EQ(POLLOUT, poll_mask(self->fd)) TH_LOG("the read must reset the count");
	ret = preadv2_nowait(sem, &v);
	EXPECT_EQ(8, ret) TH_LOG("preadv2(RWF_NOWAIT), semaphore at 2: %s",
				 errstr(ret));
	EXPECT_EQ(1ULL, v);
	ret = preadv2_nowait(self->fd, &v);
	EXPECT_EQ(-EAGAIN, ret) TH_LOG("then at 0: %s", errstr(ret));
}

/*
 * evq: pwritev2(RWF_NOWAIT) adds what fits and gives EAGAIN, without
 * blocking, for what does not, on a blocking counter. Native eventfd:
 * EOPNOTSUPP, count unchanged (see variant_write_honours_nowait()).
 */
TEST_F(counter, pwritev2_nowait)
{
	bool nowait = variant_write_honours_nowait(self);
	long ret;

	ret = pwritev2_nowait(self->fd, 5);
	if (!nowait) {
		EXPECT_EQ(-EOPNOTSUPP, ret)
			TH_LOG("native eventfd's plain ->write takes no RWF_NOWAIT: %s",
			       errstr(ret));
		EXPECT_EQ(0ULL, take_count(_metadata, self->fd));
		return;
	}
	EXPECT_EQ(8, ret) TH_LOG("pwritev2(5, RWF_NOWAIT): %s (EOPNOTSUPP: no FMODE_NOWAIT)",
				 errstr(ret));
	ret = pwritev2_nowait(self->fd, COUNT_MAX - 5);
	EXPECT_EQ(8, ret) TH_LOG("pwritev2(RWF_NOWAIT) up to the maximum: %s",
				 errstr(ret));
	ret = pwritev2_nowait(self->fd, 1);
	EXPECT_EQ(-EAGAIN, ret)
		TH_LOG("pwritev2(RWF_NOWAIT) at the maximum, blocking counter: %s",
		       errstr(ret));
	ret = pwritev2_nowait(self->fd, UINT64_MAX);
	EXPECT_EQ(-EINVAL, ret) TH_LOG("pwritev2(RWF_NOWAIT) of ULLONG_MAX: %s",
				       errstr(ret));
	EXPECT_EQ(COUNT_MAX, take_count(_metadata, self->fd));
}

TEST_F(counter, semaphore_reads_one_until_zero)
{
	int fd = NEW_COUNTER(3, EFD_SEMAPHORE | EFD_NONBLOCK);
	uint64_t v;
	long ret;
	int i;

	for (i = 0; i < 3; i++) {
		ret = read_u64(fd, &v);
		ASSERT_EQ(8, ret) TH_LOG("read %d: %s", i, errstr(ret));
		EXPECT_EQ(1ULL, v) TH_LOG("read %d", i);
	}
	ret = read_u64(fd, &v);
	EXPECT_EQ(-EAGAIN, ret) TH_LOG("read at 0: %s", errstr(ret));

	ASSERT_EQ(8, write_u64(fd, 2));
	for (i = 0; i < 2; i++) {
		ASSERT_EQ(8, read_u64(fd, &v));
		EXPECT_EQ(1ULL, v);
	}
	EXPECT_EQ(-EAGAIN, read_u64(fd, &v));
}

TEST_F(counter, initval_reads_back)
{
	static const unsigned int vals[] = { 0, 1, 0xfffffffe, 0xffffffff };
	uint64_t v;
	size_t i;
	long ret;

	for (i = 0; i < ARRAY_SIZE(vals); i++) {
		int fd = NEW_COUNTER(vals[i], EFD_NONBLOCK);

		ret = read_u64(fd, &v);
		if (!vals[i]) {
			EXPECT_EQ(-EAGAIN, ret) TH_LOG("initval 0: %s",
						       errstr(ret));
			continue;
		}
		EXPECT_EQ(8, ret) TH_LOG("initval %#x: %s", vals[i],
					 errstr(ret));
		EXPECT_EQ((uint64_t)vals[i], v);
	}
}
/* ---- bad buffers --------------------------------------------------------- */

enum bad_buf { BAD_NULL, BAD_UNMAPPED, BAD_STRADDLE, BAD_READONLY, BAD_COUNT };

static const char *const bad_buf_name[BAD_COUNT] = {
	"NULL", "unmapped page", "4 bytes before an unmapped page",
	"read-only page",
};

/*
 * Three pages: read-only, read-write, unmapped. @which picks an address in
 * them; *@map and 3 * page are what to munmap afterwards.
 */
static void *bad_buffer(struct __test_metadata *_metadata, enum bad_buf which,
			unsigned char **map)
{
	long page = sysconf(_SC_PAGESIZE);
	unsigned char *m;

	m = mmap(NULL, 3 * page, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	*map = m;
	if (m == MAP_FAILED) {
		ASSERT_NE(MAP_FAILED, m);
		return NULL;
	}
	memset(m, 0, 2 * page);
	mprotect(m, page, PROT_READ);
	munmap(m + 2 * page, page);
	switch (which) {
	case BAD_NULL:
		return NULL;
	case BAD_UNMAPPED:
		return m + 2 * page;
	case BAD_STRADDLE:
		return m + 2 * page - 4;
	case BAD_READONLY:
	case BAD_COUNT:
		break;
	}
	return m;
}

/*
 * read() into a buffer the kernel cannot write is EFAULT. evq copies out
 * before it consumes, so the count is still there afterwards. Native
 * eventfd (6.1, 6.12 and mainline alike) takes the count first and copies
 * after dropping the lock, so the value is lost: that difference is evq's
 * on purpose and does not depend on the kernel.
 */
TEST_F(counter, read_bad_buffer_efault)
{
	bool consumes = !self->evq_backed;
	long page = sysconf(_SC_PAGESIZE);
	unsigned char *map;
	int which;
	long ret;

	for (which = 0; which < BAD_COUNT; which++) {
		void *buf = bad_buffer(_metadata, which, &map);

		ASSERT_EQ(8, write_u64(self->fd, 42));
		ret = read_bytes(self->fd, buf, 8);
		EXPECT_EQ(-EFAULT, ret) TH_LOG("read into %s: %s",
					       bad_buf_name[which],
					       errstr(ret));
		EXPECT_EQ(consumes ? 0ULL : 42ULL,
			  take_count(_metadata, self->fd))
			TH_LOG("read into %s: %s", bad_buf_name[which],
			       consumes ?
			       "native eventfd consumes the count before copying" :
			       "evq leaves the count alone on EFAULT");
		munmap(map, 3 * page);
	}
}

/* write() from a buffer the kernel cannot read: EFAULT, nothing added. */
TEST_F(counter, write_bad_buffer_efault)
{
	long page = sysconf(_SC_PAGESIZE);
	unsigned char *map;
	int which;
	long ret;

	ASSERT_EQ(8, write_u64(self->fd, 5));
	for (which = 0; which < BAD_COUNT; which++) {
		void *buf;

		if (which == BAD_READONLY)
			continue;	/* readable: a valid write of 0 */
		buf = bad_buffer(_metadata, which, &map);
		ret = write_bytes(self->fd, buf, 8);
		EXPECT_EQ(-EFAULT, ret) TH_LOG("write from %s: %s",
					       bad_buf_name[which],
					       errstr(ret));
		munmap(map, 3 * page);
	}
	EXPECT_EQ(5ULL, take_count(_metadata, self->fd));
}

/* ---- glibc's helpers ----------------------------------------------------- */

TEST_F(counter, eventfd_read_write_helpers)
{
	eventfd_t v = 0;

	EXPECT_EQ(0, eventfd_write(self->fd, 3));
	EXPECT_EQ(0, eventfd_write(self->fd, 4));
	EXPECT_EQ(0, eventfd_read(self->fd, &v));
	EXPECT_EQ(7ULL, v);
	EXPECT_EQ(-1, eventfd_write(self->fd, UINT64_MAX));
	EXPECT_EQ(EINVAL, errno);
}

TEST_HARNESS_MAIN
