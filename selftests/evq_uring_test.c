// SPDX-License-Identifier: GPL-2.0
/*
 * evq_uring_test - io_uring on /dev/evq counters and on native eventfd(2).
 *
 * Fixture "uring" runs every test under two variants with the same body:
 * "native" makes its counters with eventfd(2), "evq" with evq_eventfd()
 * from libevq. Every test makes its own ring; io_uring_queue_init() failing
 * is a failure, not a skip, and the log says what the io_uring_disabled
 * sysctl was set to.
 *
 * How io_uring reaches the two files, and the one difference the tests
 * state:
 *  - read: both have ->read_iter honouring IOCB_NOWAIT and FMODE_NOWAIT, so
 *    io_uring tries the read inline; on a zero count it gets EAGAIN, arms
 *    a poll for POLLIN and retries when a write wakes it. Same on both.
 *  - write: evq has ->write_iter honouring IOCB_NOWAIT, so a write that
 *    fits completes inline and one that does not waits on a poll for
 *    POLLOUT, in the submitting task. Native eventfd has a plain ->write,
 *    which io_uring can only call blocking, from an io-wq worker thread
 *    ("iou-wrk-PID", a thread of the submitting process). The test
 *    write_completes_inline checks for the evq variant that no worker
 *    thread appears; for native it only logs how many there are, because
 *    an idle worker exits after a few seconds, so its presence is a
 *    matter of timing. Reads, which both handle without a worker, are
 *    checked for both (EXPECT_NO_IO_WQ_WORKER).
 *  - RWF_NOWAIT in the SQE needs FMODE_NOWAIT (EOPNOTSUPP without): a read
 *    at 0 gives EAGAIN on both; a write gives EAGAIN on native (io_uring
 *    never calls a plain ->write non-blocking) and works on evq.
 *
 * Fixture "modes" (variants "factory" and "setup", evq only) does the
 * same for evq's own modes, which eventfd lacks: bit mode, a maximum (a
 * write at it waits for room like one at EVQ_COUNT_MAX, and raising the
 * maximum completes it) and wake-one readers.
 *
 * Timing: see evq_ksft_common.h; nothing passes or fails on how long
 * something took.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <liburing.h>

#include "evq.h"
#include "evq_ksft_common.h"
#include "kselftest_harness.h"




/* Queued semaphore reads in semaphore_reads_each_get_one. */
#define NREADS		8

#define RING_ENTRIES	32

/* ---- helpers ------------------------------------------------------------- */

/* The io_uring_disabled sysctl (6.6 and later), or "absent". */
static const char *uring_disabled_sysctl(char *buf, size_t size)
{
	FILE *f = fopen("/proc/sys/kernel/io_uring_disabled", "re");

	snprintf(buf, size, "absent");
	if (f) {
		if (!fgets(buf, (int)size, f))
			snprintf(buf, size, "unreadable");
		buf[strcspn(buf, "\n")] = '\0';
		fclose(f);
	}
	return buf;
}

/* Threads of this process whose name starts with "iou-wrk", or -errno. */
static int io_wq_workers(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	int n = 0;

	if (!d)
		return -errno;
	while ((e = readdir(d))) {
		char path[300], comm[32] = "";
		FILE *f;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/comm",
			 e->d_name);
		f = fopen(path, "re");
		if (!f)
			continue;
		if (fgets(comm, sizeof(comm), f) && !strncmp(comm, "iou-wrk", 7))
			n++;
		fclose(f);
	}
	closedir(d);
	return n;
}

/*
 * No io-wq worker in this process: what io_uring did for the counter ran
 * in the submitting task (inline, or retried from a poll wake-up). A file
 * without FMODE_NOWAIT has its reads and writes punted to a worker, which
 * then stays for seconds after its last job.
 */
#define EXPECT_NO_IO_WQ_WORKER(what) do {				\
	int n_ = io_wq_workers();					\
	ASSERT_LE(0, n_) TH_LOG("/proc/self/task: %s", errstr(n_));	\
	EXPECT_EQ(0, n_)						\
		TH_LOG("%s: %d io-wq worker(s), expected none: %s", (what), \
		       n_, "FMODE_NOWAIT keeps it in the submitting task"); \
} while (0)

struct writer {
	pthread_t thread;
	int fd;
	uint64_t value;
	long ret;
};

static void *writer_fn(void *arg)
{
	struct writer *w = arg;

	w->ret = write(w->fd, &w->value, sizeof(w->value)) < 0 ?
		 -errno : (long)sizeof(w->value);
	return NULL;
}

/* Write @value to @fd from another thread and wait for that write. */
static long write_from_thread(int fd, uint64_t value)
{
	struct writer w = { .fd = fd, .value = value };
	int err;

	err = pthread_create(&w.thread, NULL, writer_fn, &w);
	if (err)
		return -err;
	pthread_join(w.thread, NULL);
	return w.ret;
}

/* ---- the fixture ---------------------------------------------------------- */

#define MAX_FDS 4

FIXTURE(uring) {
	struct io_uring ring;
	bool ring_ok;
	int fds[MAX_FDS];
	int nfds;
};

FIXTURE_VARIANT(uring) {
	bool is_evq;
};

FIXTURE_VARIANT_ADD(uring, native) {
	.is_evq = false,
};

FIXTURE_VARIANT_ADD(uring, evq) {
	.is_evq = true,
};

FIXTURE_SETUP(uring)
{
	char sysctl[32];
	int ret;

	self->nfds = 0;
	self->ring_ok = false;
	ret = io_uring_queue_init(RING_ENTRIES, &self->ring, 0);
	ASSERT_EQ(0, ret)
		TH_LOG("io_uring_queue_init: %s; kernel.io_uring_disabled: %s",
		       errstr(ret), uring_disabled_sysctl(sysctl,
							  sizeof(sysctl)));
	self->ring_ok = true;
}

FIXTURE_TEARDOWN(uring)
{
	int i;

	if (self->ring_ok)
		io_uring_queue_exit(&self->ring);
	for (i = 0; i < self->nfds; i++)
		close(self->fds[i]);
}

/* A counter of the variant's kind, closed by teardown; ASSERTs it worked. */
static int new_counter(struct __test_metadata *_metadata,
		       FIXTURE_DATA(uring) *self,
		       const FIXTURE_VARIANT(uring) *variant,
		       unsigned int initval, int flags)
{
	int fd = variant->is_evq ? evq_eventfd(initval, flags) :
				   eventfd(initval, flags);

	ASSERT_LE(0, fd) TH_LOG("%s(%u, %#x): %s",
				variant->is_evq ? "evq_eventfd" : "eventfd",
				initval, (unsigned int)flags, strerror(errno));
	ASSERT_GT(MAX_FDS, self->nfds);
	self->fds[self->nfds++] = fd;
	return fd;
}

#define NEW_COUNTER(initval, flags) \
	new_counter(_metadata, self, variant, (initval), (flags))

/* The next free SQE; ASSERTs there is one. */
static struct io_uring_sqe *get_sqe(struct __test_metadata *_metadata,
				    struct io_uring *ring)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);

	ASSERT_NE(NULL, sqe) TH_LOG("submission queue full");
	return sqe;
}

static void submit(struct __test_metadata *_metadata, struct io_uring *ring,
		   int n)
{
	int ret = io_uring_submit(ring);

	ASSERT_EQ(n, ret) TH_LOG("io_uring_submit: %s", errstr(ret));
}

/*
 * Wait up to @ms for a completion. Returns true and fills @user_data and
 * @res if there was one, false on timeout; any other error fails the test.
 */
static bool reap(struct __test_metadata *_metadata, struct io_uring *ring,
		 int ms, uint64_t *user_data, int *res)
{
	struct __kernel_timespec ts = {
		.tv_sec = ms / 1000,
		.tv_nsec = (long long)(ms % 1000) * 1000000,
	};
	struct io_uring_cqe *cqe;
	int ret;

	do {
		ret = io_uring_wait_cqe_timeout(ring, &cqe, &ts);
	} while (ret == -EINTR);
	if (ret == -ETIME)
		return false;
	/* Not ASSERT: the caller may have no way to report "false". */
	EXPECT_EQ(0, ret) TH_LOG("io_uring_wait_cqe_timeout: %s",
				 errstr(ret));
	if (ret)
		return false;
	*user_data = cqe->user_data;
	*res = cqe->res;
	io_uring_cqe_seen(ring, cqe);
	return true;
}

/* Nothing completes within SETTLE_MS. */
#define EXPECT_PENDING(what) do {					\
	uint64_t ud_ = 0;						\
	int res_ = 0;							\
	bool done_ = reap(_metadata, &self->ring, SETTLE_MS, &ud_, &res_); \
	EXPECT_FALSE(done_) TH_LOG("%s completed (user_data %llu, res %d) " \
				   "but should still be pending", (what), \
				   (unsigned long long)ud_, res_);	\
} while (0)

/* The next completion arrives within WAIT_MS; its res is returned. */
static int reap_one(struct __test_metadata *_metadata, struct io_uring *ring,
		    uint64_t want_user_data)
{
	uint64_t ud = 0;
	int res = 0;

	ASSERT_TRUE(reap(_metadata, ring, WAIT_MS, &ud, &res))
		TH_LOG("no completion within %d ms (hung?)", WAIT_MS);
	EXPECT_EQ(want_user_data, ud);
	return res;
}

/*
 * The next @n completions, within WAIT_MS each, whatever their order:
 * res[user_data] for each, user_data below @size, each seen once.
 */
static void reap_n(struct __test_metadata *_metadata, struct io_uring *ring,
		   int n, int *res, unsigned int size)
{
	bool seen[RING_ENTRIES] = { false };
	uint64_t ud = 0;
	int i, r = 0;

	ASSERT_GE(RING_ENTRIES, size);
	for (i = 0; i < n; i++) {
		ASSERT_TRUE(reap(_metadata, ring, WAIT_MS, &ud, &r))
			TH_LOG("completion %d of %d missing (hung?)", i + 1, n);
		ASSERT_GT(size, ud) TH_LOG("unexpected user_data %llu",
					   (unsigned long long)ud);
		ASSERT_FALSE(seen[ud]) TH_LOG("user_data %llu completed twice",
					      (unsigned long long)ud);
		seen[ud] = true;
		res[ud] = r;
	}
}

static struct io_uring_sqe *prep_read(struct __test_metadata *_metadata,
				      struct io_uring *ring, int fd,
				      uint64_t *buf, uint64_t user_data)
{
	struct io_uring_sqe *sqe = get_sqe(_metadata, ring);

	*buf = POISON;
	io_uring_prep_read(sqe, fd, buf, sizeof(*buf), 0);
	sqe->user_data = user_data;
	return sqe;
}

static struct io_uring_sqe *prep_write(struct __test_metadata *_metadata,
				       struct io_uring *ring, int fd,
				       const uint64_t *buf, unsigned int len,
				       uint64_t user_data)
{
	struct io_uring_sqe *sqe = get_sqe(_metadata, ring);

	io_uring_prep_write(sqe, fd, buf, len, 0);
	sqe->user_data = user_data;
	return sqe;
}

static void prep_poll(struct __test_metadata *_metadata,
		      struct io_uring *ring, int fd, unsigned int mask,
		      uint64_t user_data)
{
	struct io_uring_sqe *sqe = get_sqe(_metadata, ring);

	io_uring_prep_poll_add(sqe, fd, mask);
	sqe->user_data = user_data;
}

/* Read the count with read(2), which must not block: it is non-zero. */
static uint64_t read_now(struct __test_metadata *_metadata, int fd)
{
	uint64_t v = POISON;

	ASSERT_NE(0, poll_now(fd) & POLLIN) TH_LOG("count is zero");
	ASSERT_EQ(8, read(fd, &v, sizeof(v)))
		TH_LOG("read: %s", strerror(errno));
	return v;
}

/*
 * io_uring is usable on this kernel: a ring can be set up. Logs the
 * io_uring_disabled sysctl (6.6 and later; 0 allows everyone, 1 only
 * CAP_SYS_ADMIN or the io_uring_group, 2 nobody).
 */
TEST(io_uring_is_enabled)
{
	struct io_uring ring;
	char sysctl[32];
	int ret;

	TH_LOG("kernel.io_uring_disabled: %s",
	       uring_disabled_sysctl(sysctl, sizeof(sysctl)));
	ret = io_uring_queue_init(4, &ring, 0);
	ASSERT_EQ(0, ret) TH_LOG("io_uring_queue_init: %s", errstr(ret));
	io_uring_queue_exit(&ring);
}

/* ---- IORING_OP_READ -------------------------------------------------------- */

TEST_F(uring, read_ready_count_completes)
{
	int fd = NEW_COUNTER(7, 0);
	uint64_t buf;
	int res;

	prep_read(_metadata, &self->ring, fd, &buf, 1);
	submit(_metadata, &self->ring, 1);
	res = reap_one(_metadata, &self->ring, 1);
	EXPECT_EQ(8, res) TH_LOG("read: %s", errstr(res));
	EXPECT_EQ(7ULL, buf);
	EXPECT_EQ(POLLOUT, poll_now(fd)) TH_LOG("the read must reset the count");
}

TEST_F(uring, read_on_zero_completes_after_write_from_thread)
{
	int fd = NEW_COUNTER(0, 0);
	uint64_t buf;
	long wret;
	int res;

	prep_read(_metadata, &self->ring, fd, &buf, 1);
	submit(_metadata, &self->ring, 1);
	EXPECT_PENDING("read on a zero count");

	wret = write_from_thread(fd, 5);
	ASSERT_EQ(8, wret) TH_LOG("write: %s", errstr(wret));
	res = reap_one(_metadata, &self->ring, 1);
	EXPECT_EQ(8, res) TH_LOG("read: %s", errstr(res));
	EXPECT_EQ(5ULL, buf);
	EXPECT_EQ(POLLOUT, poll_now(fd)) TH_LOG("the read must take the count");
	/* read_iter honours IOCB_NOWAIT on both (FMODE_NOWAIT). */
	EXPECT_NO_IO_WQ_WORKER("read on a zero count, completed by a write");
}

/*
 * RWF_NOWAIT in the SQE: io_uring makes the read IOCB_NOWAIT, which the
 * VFS allows only with FMODE_NOWAIT (EOPNOTSUPP otherwise); at count 0 it
 * completes at once with EAGAIN instead of waiting for a write.
 */
TEST_F(uring, read_rwf_nowait_at_zero_eagain)
{
	int fd = NEW_COUNTER(0, 0);
	uint64_t buf, six = 6;
	int res;

	prep_read(_metadata, &self->ring, fd, &buf, 1)->rw_flags = RWF_NOWAIT;
	submit(_metadata, &self->ring, 1);
	res = reap_one(_metadata, &self->ring, 1);
	EXPECT_EQ(-EAGAIN, res)
		TH_LOG("read with RWF_NOWAIT at 0: %s (EOPNOTSUPP: no FMODE_NOWAIT)",
		       errstr(res));
	EXPECT_EQ(POISON, buf);

	ASSERT_EQ(8, write(fd, &six, sizeof(six)));
	prep_read(_metadata, &self->ring, fd, &buf, 2)->rw_flags = RWF_NOWAIT;
	submit(_metadata, &self->ring, 1);
	res = reap_one(_metadata, &self->ring, 2);
	EXPECT_EQ(8, res) TH_LOG("read with RWF_NOWAIT at 6: %s", errstr(res));
	EXPECT_EQ(6ULL, buf);
	EXPECT_NO_IO_WQ_WORKER("reads with RWF_NOWAIT");
}

TEST_F(uring, read_short_buffer_einval)
{
	int fd = NEW_COUNTER(3, 0);
	struct io_uring_sqe *sqe;
	uint64_t buf = POISON;
	int res;

	sqe = get_sqe(_metadata, &self->ring);
	io_uring_prep_read(sqe, fd, &buf, 7, 0);
	sqe->user_data = 1;
	submit(_metadata, &self->ring, 1);
	res = reap_one(_metadata, &self->ring, 1);
	EXPECT_EQ(-EINVAL, res) TH_LOG("read of 7 bytes: %s", errstr(res));
	EXPECT_EQ(3ULL, read_now(_metadata, fd));
}

/* WRITE_FIXED (@write) or READ_FIXED of 8 bytes at @buf in buffer 0. */
static int fixed_rw(struct __test_metadata *_metadata, struct io_uring *ring,
		    bool write, int fd, void *buf)
{
	struct io_uring_sqe *sqe = get_sqe(_metadata, ring);

	if (write)
		io_uring_prep_write_fixed(sqe, fd, buf, 8, 0, 0);
	else
		io_uring_prep_read_fixed(sqe, fd, buf, 8, 0, 0);
	sqe->user_data = 1;
	submit(_metadata, ring, 1);
	return reap_one(_metadata, ring, 1);
}

/*
 * READ_FIXED and WRITE_FIXED of 8 bytes at offset page size - 4 of a
 * registered buffer: io_uring hands the file a bvec iterator with one
 * segment per page, so the value is split 4 + 4 across two segments.
 * eventfd takes it as one 8-byte buffer (a write goes through its plain
 * ->write with the user address, a read through copy_to_iter()); so must
 * evq, which keeps writev(2)'s rule of 8 bytes per segment only for
 * iovecs.
 */
TEST_F(uring, fixed_buffer_across_page_boundary)
{
	int fd = NEW_COUNTER(0, 0);
	long page = sysconf(_SC_PAGESIZE);
	const uint64_t value = 0x0102030405060708ULL;
	struct iovec iov;
	uint64_t v;
	char *map;
	int res;

	map = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, map);
	iov.iov_base = map;
	iov.iov_len = 2 * page;
	res = io_uring_register_buffers(&self->ring, &iov, 1);
	ASSERT_EQ(0, res) TH_LOG("io_uring_register_buffers: %s", errstr(res));

	memcpy(map + page - 4, &value, sizeof(value));
	res = fixed_rw(_metadata, &self->ring, true, fd, map + page - 4);
	EXPECT_EQ(8, res) TH_LOG("WRITE_FIXED across a page boundary: %s",
				 errstr(res));
	if (res == 8)
		EXPECT_EQ(value, read_now(_metadata, fd));

	ASSERT_EQ(8, write_u64(fd, 5));
	memset(map, 0xa5, 2 * page);
	res = fixed_rw(_metadata, &self->ring, false, fd, map + page - 4);
	EXPECT_EQ(8, res) TH_LOG("READ_FIXED across a page boundary: %s",
				 errstr(res));
	memcpy(&v, map + page - 4, sizeof(v));
	EXPECT_EQ(5ULL, v) TH_LOG("READ_FIXED stored %#llx",
				  (unsigned long long)v);
	EXPECT_EQ(0, io_uring_unregister_buffers(&self->ring));
	munmap(map, 2 * page);
}

/* ---- IORING_OP_WRITE ------------------------------------------------------- */

TEST_F(uring, write_completes_inline)
{
	int fd = NEW_COUNTER(0, 0);
	uint64_t val = 3;
	int res, workers;

	prep_write(_metadata, &self->ring, fd, &val, sizeof(val), 1);
	submit(_metadata, &self->ring, 1);
	res = reap_one(_metadata, &self->ring, 1);
	EXPECT_EQ(8, res) TH_LOG("write: %s", errstr(res));
	EXPECT_EQ(3ULL, read_now(_metadata, fd));

	workers = io_wq_workers();
	ASSERT_LE(0, workers) TH_LOG("/proc/self/task: %s", errstr(workers));
	if (variant->is_evq) {
		EXPECT_EQ(0, workers)
			TH_LOG("evq's write_iter honours IOCB_NOWAIT: io_uring should not need an io-wq worker, found %d",
			       workers);
	} else {
		TH_LOG("native eventfd: %d io-wq worker(s) after the write (a plain ->write runs in a worker; not checked)",
		       workers);
	}
}

TEST_F(uring, write_invalid_values_and_sizes_einval)
{
	int fd = NEW_COUNTER(0, 0);
	uint64_t all_ones = UINT64_MAX, eight = 8;
	uint64_t buf[2] = { 1, 1 };
	int res, r[3] = { 1, 1, 1 };

	prep_write(_metadata, &self->ring, fd, &all_ones, 8, 1);
	prep_write(_metadata, &self->ring, fd, &eight, 4, 2);
	submit(_metadata, &self->ring, 2);
	reap_n(_metadata, &self->ring, 2, r, 3);
	EXPECT_EQ(-EINVAL, r[1]) TH_LOG("write of ULLONG_MAX: %s", errstr(r[1]));
	EXPECT_EQ(-EINVAL, r[2]) TH_LOG("write of 4 bytes: %s", errstr(r[2]));
	/* 16 bytes: mainline (6.9+) eventfd and evq both refuse it. */
	if (variant->is_evq) {
		prep_write(_metadata, &self->ring, fd, buf, 16, 3);
		submit(_metadata, &self->ring, 1);
		res = reap_one(_metadata, &self->ring, 3);
		EXPECT_EQ(-EINVAL, res)
			TH_LOG("write of 16 bytes: %s", errstr(res));
	}
	EXPECT_EQ(POLLOUT, poll_now(fd)) TH_LOG("nothing may have been added");
}

TEST_F(uring, write_at_max_completes_after_read)
{
	int fd = NEW_COUNTER(0, 0);
	uint64_t max = COUNT_MAX, one = 1, v = POISON;
	int res;

	ASSERT_EQ(8, write(fd, &max, sizeof(max)));
	prep_write(_metadata, &self->ring, fd, &one, sizeof(one), 1);
	submit(_metadata, &self->ring, 1);
	EXPECT_PENDING("write of 1 at the maximum count");

	ASSERT_EQ(8, read(fd, &v, sizeof(v)));
	EXPECT_EQ(COUNT_MAX, v);
	res = reap_one(_metadata, &self->ring, 1);
	EXPECT_EQ(8, res) TH_LOG("write: %s", errstr(res));
	EXPECT_EQ(1ULL, read_now(_metadata, fd));
	/* Native's plain ->write runs in a worker: see the top of the file. */
	if (variant->is_evq)
		EXPECT_NO_IO_WQ_WORKER("write at the maximum, completed by a read");
	else
		TH_LOG("native eventfd: %d io-wq worker(s) (not checked)",
		       io_wq_workers());
}

/*
 * RWF_NOWAIT in a write SQE. evq: IOCB_NOWAIT on write_iter, so a write
 * that fits completes and one at the maximum gives EAGAIN at once, both in
 * the submitting task. Native eventfd has FMODE_NOWAIT but only a plain
 * ->write, which io_uring will not call with IOCB_NOWAIT on a blocking
 * file: every RWF_NOWAIT write gives EAGAIN and adds nothing.
 */
TEST_F(uring, write_rwf_nowait)
{
	int fd = NEW_COUNTER(0, 0);
	uint64_t three = 3, max = COUNT_MAX;
	int res;

	prep_write(_metadata, &self->ring, fd, &three, 8, 1)->rw_flags = RWF_NOWAIT;
	submit(_metadata, &self->ring, 1);
	res = reap_one(_metadata, &self->ring, 1);
	if (!variant->is_evq) {
		EXPECT_EQ(-EAGAIN, res)
			TH_LOG("native eventfd, write with RWF_NOWAIT: %s",
			       errstr(res));
		EXPECT_EQ(POLLOUT, poll_now(fd)) TH_LOG("nothing may have been added");
		return;
	}
	EXPECT_EQ(8, res) TH_LOG("write of 3 with RWF_NOWAIT: %s (EOPNOTSUPP: no FMODE_NOWAIT)",
				 errstr(res));
	prep_write(_metadata, &self->ring, fd, &max, 8, 2)->rw_flags = RWF_NOWAIT;
	submit(_metadata, &self->ring, 1);
	res = reap_one(_metadata, &self->ring, 2);
	EXPECT_EQ(-EAGAIN, res)
		TH_LOG("write with RWF_NOWAIT past the maximum: %s", errstr(res));
	EXPECT_EQ(3ULL, read_now(_metadata, fd));
	EXPECT_NO_IO_WQ_WORKER("writes with RWF_NOWAIT");
}

/* ---- IORING_OP_POLL_ADD ------------------------------------------------------ */

TEST_F(uring, poll_add_pollin_fires_on_write)
{
	int fd = NEW_COUNTER(0, 0);
	long wret;
	int res;

	prep_poll(_metadata, &self->ring, fd, POLLIN, 1);
	submit(_metadata, &self->ring, 1);
	EXPECT_PENDING("POLLIN on a zero count");

	wret = write_from_thread(fd, 2);
	ASSERT_EQ(8, wret) TH_LOG("write: %s", errstr(wret));
	res = reap_one(_metadata, &self->ring, 1);
	EXPECT_EQ(POLLIN, res) TH_LOG("poll result %#x", res);
	EXPECT_EQ(2ULL, read_now(_metadata, fd)) TH_LOG("poll must not consume");
}

TEST_F(uring, poll_add_pollout_ready_at_once)
{
	int fd = NEW_COUNTER(0, 0);
	int res;

	prep_poll(_metadata, &self->ring, fd, POLLOUT, 1);
	submit(_metadata, &self->ring, 1);
	res = reap_one(_metadata, &self->ring, 1);
	EXPECT_EQ(POLLOUT, res) TH_LOG("poll result %#x", res);
}

TEST_F(uring, poll_add_pollout_fires_when_read_makes_room)
{
	int fd = NEW_COUNTER(0, 0);
	uint64_t max = COUNT_MAX, v = POISON;
	int res;

	ASSERT_EQ(8, write(fd, &max, sizeof(max)));
	prep_poll(_metadata, &self->ring, fd, POLLOUT, 1);
	submit(_metadata, &self->ring, 1);
	EXPECT_PENDING("POLLOUT at the maximum count");

	ASSERT_EQ(8, read(fd, &v, sizeof(v)));
	EXPECT_EQ(COUNT_MAX, v);
	res = reap_one(_metadata, &self->ring, 1);
	EXPECT_EQ(POLLOUT, res) TH_LOG("poll result %#x", res);
}

/* ---- semaphore mode ------------------------------------------------------------ */

/*
 * NREADS reads queued on a zero semaphore counter: a write of 3 completes
 * exactly three of them, each with 1, and a write of the rest completes
 * the others. Nothing is lost and nothing is read twice.
 */
TEST_F(uring, semaphore_reads_each_get_one)
{
	int fd = NEW_COUNTER(0, EFD_SEMAPHORE);
	int first[NREADS], second[NREADS];
	uint64_t bufs[NREADS];
	int i, done = 0;
	long wret;

	for (i = 0; i < NREADS; i++) {
		first[i] = second[i] = 1;	/* no read result is 1 */
		prep_read(_metadata, &self->ring, fd, &bufs[i], i);
	}
	submit(_metadata, &self->ring, NREADS);
	EXPECT_PENDING("semaphore reads on a zero count");

	wret = write_from_thread(fd, 3);
	ASSERT_EQ(8, wret) TH_LOG("write: %s", errstr(wret));
	reap_n(_metadata, &self->ring, 3, first, NREADS);
	EXPECT_PENDING("a fourth read after a write of 3");

	wret = write_from_thread(fd, NREADS - 3);
	ASSERT_EQ(8, wret) TH_LOG("write: %s", errstr(wret));
	reap_n(_metadata, &self->ring, NREADS - 3, second, NREADS);

	for (i = 0; i < NREADS; i++) {
		int res = first[i] != 1 ? first[i] : second[i];

		EXPECT_FALSE(first[i] != 1 && second[i] != 1)
			TH_LOG("read %d completed twice", i);
		EXPECT_EQ(8, res) TH_LOG("read %d: %s", i, errstr(res));
		EXPECT_EQ(1ULL, bufs[i]) TH_LOG("read %d", i);
		done += first[i] != 1;
	}
	EXPECT_EQ(3, done) TH_LOG("reads completed by the write of 3");
	EXPECT_EQ(POLLOUT, poll_now(fd)) TH_LOG("the count must be 0 again");
	EXPECT_NO_IO_WQ_WORKER("queued semaphore reads");
}

/* ---- cancel ------------------------------------------------------------------- */

TEST_F(uring, cancel_pending_read)
{
	int fd = NEW_COUNTER(0, 0);
	struct io_uring_sqe *sqe;
	uint64_t buf;
	int r[3] = { 1, 1, 1 };
	long wret;

	prep_read(_metadata, &self->ring, fd, &buf, 1);
	submit(_metadata, &self->ring, 1);
	EXPECT_PENDING("read on a zero count");

	sqe = get_sqe(_metadata, &self->ring);
	io_uring_prep_cancel64(sqe, 1, 0);
	sqe->user_data = 2;
	submit(_metadata, &self->ring, 1);
	reap_n(_metadata, &self->ring, 2, r, 3);
	EXPECT_EQ(-ECANCELED, r[1]) TH_LOG("read: %s", errstr(r[1]));
	EXPECT_EQ(0, r[2]) TH_LOG("cancel: %s", errstr(r[2]));
	EXPECT_EQ(POISON, buf) TH_LOG("a cancelled read must not fill the buffer");

	wret = write_from_thread(fd, 9);
	ASSERT_EQ(8, wret) TH_LOG("write: %s", errstr(wret));
	EXPECT_PENDING("anything after the cancel");
	EXPECT_EQ(9ULL, read_now(_metadata, fd))
		TH_LOG("the cancelled read must not take the count");
}

/* ---- the modes: bit mask, maximum, wake-one ------------------------------------ */

/*
 * Fixture "modes": evq's own modes through io_uring, on counters made both
 * ways, variant "factory" (EVQ_IOC_CREATE) and variant "setup" (open(2),
 * EVQ_IOC_SET_MAXIMUM, EVQ_IOC_SETUP). Native eventfd has none of them.
 */
FIXTURE(modes) {
	struct io_uring ring;
	bool ring_ok;
	int fds[MAX_FDS];
	int nfds;
};

FIXTURE_VARIANT(modes) {
	bool factory;
};

FIXTURE_VARIANT_ADD(modes, factory) {
	.factory = true,
};

FIXTURE_VARIANT_ADD(modes, setup) {
	.factory = false,
};

FIXTURE_SETUP(modes)
{
	char sysctl[32];
	int ret;

	self->nfds = 0;
	self->ring_ok = false;
	ret = io_uring_queue_init(RING_ENTRIES, &self->ring, 0);
	ASSERT_EQ(0, ret)
		TH_LOG("io_uring_queue_init: %s; kernel.io_uring_disabled: %s",
		       errstr(ret), uring_disabled_sysctl(sysctl,
							  sizeof(sysctl)));
	self->ring_ok = true;
}

FIXTURE_TEARDOWN(modes)
{
	int i;

	if (self->ring_ok)
		io_uring_queue_exit(&self->ring);
	for (i = 0; i < self->nfds; i++)
		close(self->fds[i]);
}

/* A blocking counter in @flags mode, closed by teardown; ASSERTs it worked. */
static int mode_counter(struct __test_metadata *_metadata,
			FIXTURE_DATA(modes) *self,
			const FIXTURE_VARIANT(modes) *variant,
			uint64_t initval, uint64_t maximum, uint32_t flags)
{
	int fd = evq_mode_counter(variant->factory, initval, maximum, flags,
				  false);

	ASSERT_LE(0, fd) TH_LOG("%s counter (initval %llu, maximum %#llx, flags %#x): %s",
				variant->factory ? "factory" : "open+setup",
				(unsigned long long)initval,
				(unsigned long long)maximum, flags,
				errstr(fd));
	ASSERT_GT(MAX_FDS, self->nfds);
	self->fds[self->nfds++] = fd;
	return fd;
}

#define MODE_COUNTER(initval, maximum, flags) \
	mode_counter(_metadata, self, variant, (initval), (maximum), (flags))

/* The count, from EVQ_IOC_GET_INFO (which consumes nothing). */
static uint64_t info_count(struct __test_metadata *_metadata, int fd)
{
	struct evq_info info;
	int ret = evq_info_of(fd, &info);

	EXPECT_EQ(0, ret) TH_LOG("EVQ_IOC_GET_INFO: %s", errstr(ret));
	return ret ? POISON : info.count;
}

/* One io_uring write of @value to @fd, submitted, completion not reaped. */
static void submit_write(struct __test_metadata *_metadata,
			 struct io_uring *ring, int fd, const uint64_t *value,
			 uint64_t user_data)
{
	prep_write(_metadata, ring, fd, value, sizeof(*value), user_data);
	submit(_metadata, ring, 1);
}

/*
 * Bit mode: io_uring writes OR their value in (~0 included, never EINVAL,
 * never EPOLLERR), a POLLIN poll armed at 0 fires on the first write, and
 * an io_uring read takes every bit and clears the mask.
 */
TEST_F(modes, bits_write_ors_read_clears_poll_fires)
{
	int fd = MODE_COUNTER(0, EVQ_COUNT_MAX, EVQ_BITS);
	uint64_t five = 0x5, three = 0x3, ones = UINT64_MAX, buf;
	int res, r[3] = { 1, 1, 1 };

	prep_poll(_metadata, &self->ring, fd, POLLIN, 1);
	submit(_metadata, &self->ring, 1);
	EXPECT_PENDING("POLLIN on an empty mask");

	submit_write(_metadata, &self->ring, fd, &five, 2);
	reap_n(_metadata, &self->ring, 2, r, 3);
	EXPECT_EQ(POLLIN, r[1]) TH_LOG("poll result %#x", r[1]);
	EXPECT_EQ(8, r[2]) TH_LOG("write of 0x5: %s", errstr(r[2]));

	submit_write(_metadata, &self->ring, fd, &three, 1);
	res = reap_one(_metadata, &self->ring, 1);
	EXPECT_EQ(8, res) TH_LOG("write of 0x3: %s", errstr(res));
	EXPECT_EQ(0x7ULL, info_count(_metadata, fd))
		TH_LOG("0x5 | 0x3 (a sum would be 0x8)");

	prep_read(_metadata, &self->ring, fd, &buf, 1);
	submit(_metadata, &self->ring, 1);
	res = reap_one(_metadata, &self->ring, 1);
	EXPECT_EQ(8, res) TH_LOG("read: %s", errstr(res));
	EXPECT_EQ(0x7ULL, buf);
	EXPECT_EQ(POLLOUT, poll_now(fd)) TH_LOG("the read must clear every bit");

	submit_write(_metadata, &self->ring, fd, &ones, 1);
	res = reap_one(_metadata, &self->ring, 1);
	EXPECT_EQ(8, res) TH_LOG("write of ~0 in bit mode: %s", errstr(res));
	EXPECT_EQ(POLLIN | POLLOUT, poll_now(fd))
		TH_LOG("a full mask: no POLLERR, still writable");
	submit_write(_metadata, &self->ring, fd, &three, 1);
	res = reap_one(_metadata, &self->ring, 1);
	EXPECT_EQ(8, res) TH_LOG("write to a full mask: %s", errstr(res));
	EXPECT_EQ(UINT64_MAX, read_now(_metadata, fd));
	EXPECT_NO_IO_WQ_WORKER("reads and writes in bit mode");
}

/*
 * A maximum of 5, reached: an io_uring write of 1 gets EAGAIN inline,
 * io_uring arms a POLLOUT poll, and the write completes when a read makes
 * room, in the submitting task.
 */
TEST_F(modes, maximum_write_completes_after_read)
{
	int fd = MODE_COUNTER(5, 5, 0);
	uint64_t one = 1;
	struct evq_info info;
	int res;

	submit_write(_metadata, &self->ring, fd, &one, 1);
	EXPECT_PENDING("write of 1 at a maximum of 5");
	ASSERT_EQ(0, evq_info_of(fd, &info));
	EXPECT_EQ(5ULL, info.count) TH_LOG("the waiting write added something");
	EXPECT_EQ(5ULL, info.maximum);

	EXPECT_EQ(5ULL, read_now(_metadata, fd));
	res = reap_one(_metadata, &self->ring, 1);
	EXPECT_EQ(8, res) TH_LOG("write: %s", errstr(res));
	EXPECT_EQ(1ULL, read_now(_metadata, fd));
	EXPECT_NO_IO_WQ_WORKER("write at the maximum, completed by a read");
}

/*
 * At the maximum, a POLLOUT poll and a write of 1 wait; raising the
 * maximum by one with EVQ_IOC_SET_MAXIMUM completes both, and the count
 * is then at the new maximum. Lowering it again does not undo anything.
 */
TEST_F(modes, maximum_raised_completes_pollout_and_write)
{
	int fd = MODE_COUNTER(3, 3, 0);
	uint64_t one = 1, max = 4, low = 2;
	int r[3] = { 1, 1, 1 };

	prep_poll(_metadata, &self->ring, fd, POLLOUT, 1);
	submit(_metadata, &self->ring, 1);
	EXPECT_PENDING("POLLOUT at the maximum");
	submit_write(_metadata, &self->ring, fd, &one, 2);
	EXPECT_PENDING("write of 1 at the maximum");

	ASSERT_EQ(0, ioctl(fd, EVQ_IOC_SET_MAXIMUM, &max))
		TH_LOG("EVQ_IOC_SET_MAXIMUM(4): %s", strerror(errno));
	reap_n(_metadata, &self->ring, 2, r, 3);
	EXPECT_EQ(POLLOUT, r[1]) TH_LOG("poll result %#x", r[1]);
	EXPECT_EQ(8, r[2]) TH_LOG("write: %s", errstr(r[2]));
	EXPECT_EQ(4ULL, info_count(_metadata, fd));
	EXPECT_EQ(POLLIN, poll_now(fd)) TH_LOG("at the new maximum: no POLLOUT");

	ASSERT_EQ(0, ioctl(fd, EVQ_IOC_SET_MAXIMUM, &low));
	EXPECT_EQ(4ULL, read_now(_metadata, fd))
		TH_LOG("lowering the maximum takes nothing away");
}

/* Wake-one: an io_uring read waiting at 0 completes on a write. */
TEST_F(modes, wake_one_read_completes_on_write)
{
	int fd = MODE_COUNTER(0, EVQ_COUNT_MAX, EVQ_WAKE_ONE);
	uint64_t buf;
	long wret;
	int res;

	prep_read(_metadata, &self->ring, fd, &buf, 1);
	submit(_metadata, &self->ring, 1);
	EXPECT_PENDING("read on a zero wake-one counter");

	wret = write_from_thread(fd, 3);
	ASSERT_EQ(8, wret) TH_LOG("write: %s", errstr(wret));
	res = reap_one(_metadata, &self->ring, 1);
	EXPECT_EQ(8, res) TH_LOG("read: %s", errstr(res));
	EXPECT_EQ(3ULL, buf);
	EXPECT_EQ(POLLOUT, poll_now(fd)) TH_LOG("the read must take the count");
}

struct reader {
	pthread_t thread;
	int fd;
	uint64_t value;
	long ret;
};

static void *reader_fn(void *arg)
{
	struct reader *r = arg;

	r->value = POISON;
	r->ret = read(r->fd, &r->value, sizeof(r->value)) < 0 ?
		 -errno : (long)sizeof(r->value);
	return NULL;
}

/*
 * Semaphore and wake-one: a thread blocked in read(2) (counted in
 * GET_INFO.readers, an exclusive waiter) and an io_uring read (a poll
 * waiter, woken as without the flag) both wait at 0; one write of 2
 * serves both, with 1 each.
 */
TEST_F(modes, wake_one_semaphore_write_of_two_serves_thread_and_uring)
{
	int fd = MODE_COUNTER(0, EVQ_COUNT_MAX, EVQ_SEMAPHORE | EVQ_WAKE_ONE);
	struct reader rd = { .fd = fd };
	struct timespec ts;
	uint64_t two = 2, buf;
	int res, joined;

	prep_read(_metadata, &self->ring, fd, &buf, 1);
	submit(_metadata, &self->ring, 1);
	ASSERT_EQ(0, pthread_create(&rd.thread, NULL, reader_fn, &rd));
	ASSERT_TRUE(evq_wait_blocked(fd, 1, 0))
		TH_LOG("the read(2) thread never blocked");
	EXPECT_PENDING("io_uring read at 0");

	ASSERT_EQ(8, write(fd, &two, sizeof(two)));
	res = reap_one(_metadata, &self->ring, 1);
	EXPECT_EQ(8, res) TH_LOG("io_uring read: %s", errstr(res));
	EXPECT_EQ(1ULL, buf);
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += WAIT_MS / 1000;
	joined = pthread_timedjoin_np(rd.thread, NULL, &ts);
	if (joined) {
		uint64_t one = 1;

		/* Let it go, or the test would hang in teardown. */
		EXPECT_EQ(0, joined) TH_LOG("the read(2) thread was not woken");
		ASSERT_EQ(8, write(fd, &one, sizeof(one)));
		pthread_join(rd.thread, NULL);
	}
	EXPECT_EQ(8, rd.ret) TH_LOG("read(2): %s", errstr(rd.ret));
	EXPECT_EQ(1ULL, rd.value);
	EXPECT_EQ(POLLOUT, poll_now(fd)) TH_LOG("2 - 1 - 1 must leave 0");
}

TEST_HARNESS_MAIN
