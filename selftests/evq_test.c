// SPDX-License-Identifier: GPL-2.0
/*
 * evq_test - /dev/evq counters and native eventfd(2), one test body for both.
 *
 * Fixture "counter" runs every test under two variants: "native" makes its
 * counters with eventfd(2), "evq" with evq_eventfd() from libevq, that is
 * open("/dev/evq") plus EVQ_IOC_SETUP. evq's target is current mainline
 * eventfd (6.9+) on every kernel, so the "evq" variant always expects the
 * mainline behaviour, while "native" expects what the running kernel's own
 * eventfd does. native_legacy() is the only place that knows where an older
 * kernel differs from mainline.
 *
 * Fixture "evq_ioctl" covers what only evq has, the EVQ_IOC_SETUP ioctl. Its
 * single variant is also called "evq", so that `evq_test -v evq` runs every
 * evq case and nothing else.
 *
 * Neither fixture skips when /dev/evq cannot be opened: setup fails, so a
 * missing module can never be counted as a pass.
 *
 * EVQ_TEST_EVQ_IS_NATIVE=1 is for validating the tests on a host that cannot
 * load the module: the "evq" variant of "counter" then makes its counters
 * with eventfd(2), so that every evq expectation (mainline behaviour) can be
 * checked against a mainline kernel's own eventfd; setup fails if the host
 * kernel is older than mainline in a way this file knows about. The
 * "evq_ioctl" tests are skipped in that mode, since a native eventfd has no
 * EVQ_IOC_SETUP. The VM test run never sets this variable.
 *
 * Timing: no test passes or fails on how long something took. A thread that
 * should block gets SETTLE_MS to reach its wait; checking that it is still
 * blocked afterwards can only miss a bug on a slow machine, never report a
 * false one. Anything that should happen gets WAIT_MS before it counts as a
 * hang, which is a failure, not a stuck run.
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
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/evq.h>

#include "evq.h"
#include "evq_masks.h"
#include "kselftest_harness.h"

/* The largest count a write can reach: ULLONG_MAX - 1, as for eventfd. */
#define COUNT_MAX	0xfffffffffffffffeULL

/* Time for a thread to reach its blocking call before we look at it. */
#define SETTLE_MS	200
/* How long something that should happen may take before it is a hang. */
#define WAIT_MS		10000

/* Output buffers are filled with this first, so stale data shows. */
#define POISON		0xa5a5a5a5a5a5a5a5ULL

/*
 * O_LARGEFILE as the kernel defines it. glibc defines O_LARGEFILE as 0 on
 * 64-bit targets, so it cannot be used to look for the bit in F_GETFL. On
 * other architectures only the exact F_GETFL comparison is made.
 */
#if defined(__x86_64__) || defined(__i386__)
#define KERNEL_O_LARGEFILE	0100000
#endif

/* ---- the running kernel ------------------------------------------------ */

#define KV(major, minor)	((major) * 1000 + (minor))

/* The running kernel as KV(major, minor), or -1 if uname is unreadable. */
static int running_kernel(void)
{
	struct utsname u;
	int major, minor;

	if (uname(&u) || sscanf(u.release, "%d.%d", &major, &minor) != 2)
		return -1;
	return KV(major, minor);
}

/* Where native eventfd on older kernels differs from current mainline. */
enum native_diff {
	/* write(2) of more than 8 bytes adds the first 8 and returns 8 */
	DIFF_WRITE_OVER_8_ACCEPTED,
	/* /proc/self/fdinfo has no "eventfd-semaphore:" line */
	DIFF_FDINFO_NO_SEMAPHORE,
	DIFF_COUNT
};

enum legacy {
	LEGACY_NO,	/* mainline behaviour */
	LEGACY_YES,	/* the older behaviour */
	LEGACY_EITHER,	/* depends on the stable release; accept both */
};

/**
 * native_legacy() - does native eventfd on the running kernel still differ?
 * @diff: the difference
 *
 * This is the one place where an expectation depends on the kernel version.
 * evq never calls for it: evq always behaves like mainline.
 */
static enum legacy native_legacy(enum native_diff diff)
{
	int kv = running_kernel();

	switch (diff) {
	case DIFF_WRITE_OVER_8_ACCEPTED:
		/*
		 * eventfd_write() used to reject only count < 8 and read the
		 * first 8 bytes of a longer buffer. "eventfd: strictly check
		 * the count parameter of eventfd_write to avoid inputting
		 * illegal strings" (Wen Yang), merged for 6.9 with the
		 * vfs-6.9.misc pull, requires count == 8.
		 */
		return kv < KV(6, 9) ? LEGACY_YES : LEGACY_NO;
	case DIFF_FDINFO_NO_SEMAPHORE:
		/*
		 * Commit 33d8b5d7824c ("eventfd: show the EFD_SEMAPHORE flag
		 * in fdinfo") was merged for 6.5 with v6.5/vfs.misc. The
		 * stable AUTOSEL bot also proposed it for 6.4.y (on top of
		 * 6.4.1), so 6.4 may have it or not. 6.1 (Debian bookworm)
		 * does not.
		 */
		if (kv < KV(6, 4))
			return LEGACY_YES;
		return kv < KV(6, 5) ? LEGACY_EITHER : LEGACY_NO;
	case DIFF_COUNT:
		break;
	}
	return LEGACY_NO;
}

/* ---- creating counters --------------------------------------------------- */

/* See the top of the file: host-side validation only. */
static bool evq_is_native(void)
{
	const char *v = getenv("EVQ_TEST_EVQ_IS_NATIVE");

	return v && !strcmp(v, "1");
}

/* The device node, as libevq finds it. */
static const char *evq_device(void)
{
	const char *path = getenv("EVQ_DEVICE");

	return path && *path ? path : EVQ_DEVICE_PATH;
}

static int create_counter(bool is_evq, unsigned int initval, int flags)
{
	if (is_evq && !evq_is_native())
		return evq_eventfd(initval, flags);
	return eventfd(initval, flags);
}

/* ---- system calls that return a value or -errno ------------------------- */

static long ret_or_errno(long ret)
{
	return ret < 0 ? -errno : ret;
}

static const char *errstr(long ret)
{
	return ret < 0 ? strerror((int)-ret) : "no error";
}

static long write_u64(int fd, uint64_t value)
{
	return ret_or_errno(write(fd, &value, sizeof(value)));
}

static long read_u64(int fd, uint64_t *value)
{
	*value = POISON;
	return ret_or_errno(read(fd, value, sizeof(*value)));
}

static long write_bytes(int fd, const void *buf, size_t len)
{
	return ret_or_errno(write(fd, buf, len));
}

static long read_bytes(int fd, void *buf, size_t len)
{
	return ret_or_errno(read(fd, buf, len));
}

static long evq_setup(int fd, uint64_t initval, uint32_t flags, uint32_t pad)
{
	struct evq_setup setup = {
		.initval = initval,
		.flags = flags,
		.pad = pad,
	};

	return ret_or_errno(ioctl(fd, EVQ_IOC_SETUP, &setup));
}

/* ---- time ---------------------------------------------------------------- */

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) ==
	       EINTR)
		;
}

/* ---- a thread that blocks in one call ----------------------------------- */

enum blocked_op { OP_READ, OP_WRITE, OP_POLL };

/*
 * Heap-allocated and never freed while the thread may still run: if a test
 * gives up on a hung thread, the thread must not write into a dead stack.
 */
struct blocked {
	pthread_t thread;
	int fd;
	enum blocked_op op;
	uint64_t value;		/* OP_WRITE: to write; OP_READ: what was read */
	long ret;		/* bytes or -errno; OP_POLL: revents or -errno */
	atomic_bool done;
};

static void *blocked_fn(void *arg)
{
	struct blocked *b = arg;
	struct pollfd p;

	switch (b->op) {
	case OP_READ:
		b->ret = read_u64(b->fd, &b->value);
		break;
	case OP_WRITE:
		b->ret = write_u64(b->fd, b->value);
		break;
	case OP_POLL:
		p = (struct pollfd){ .fd = b->fd, .events = POLLIN };
		b->ret = poll(&p, 1, -1) < 0 ? -errno : p.revents;
		break;
	}
	atomic_store(&b->done, true);
	return NULL;
}

static struct blocked *start_blocked(struct __test_metadata *_metadata,
				     int fd, enum blocked_op op,
				     uint64_t value)
{
	struct blocked *b = calloc(1, sizeof(*b));
	int err;

	ASSERT_NE(NULL, b);
	b->fd = fd;
	b->op = op;
	b->value = value;
	atomic_init(&b->done, false);
	err = pthread_create(&b->thread, NULL, blocked_fn, b);
	ASSERT_EQ(0, err) TH_LOG("pthread_create: %s", strerror(err));
	return b;
}

/* Give the thread SETTLE_MS; true if it has not returned by then. */
static bool still_blocked(struct blocked *b)
{
	sleep_ms(SETTLE_MS);
	return !atomic_load(&b->done);
}

/* Wait up to WAIT_MS for @done; join @thread if it came. */
static bool join_when_done(pthread_t thread, atomic_bool *done)
{
	int64_t deadline = now_ms() + WAIT_MS;

	while (!atomic_load(done) && now_ms() < deadline)
		sleep_ms(5);
	if (!atomic_load(done))
		return false;
	pthread_join(thread, NULL);
	return true;
}

/* Wait up to WAIT_MS for the thread to return; join it if it did. */
static bool finish_blocked(struct blocked *b)
{
	return join_when_done(b->thread, &b->done);
}

static atomic_int signals_seen;

static void count_signal(int sig)
{
	(void)sig;
	atomic_fetch_add(&signals_seen, 1);
}

/* ---- /proc/self/fdinfo --------------------------------------------------- */

/* Read /proc/self/fdinfo/@fd into @buf, NUL-terminated. Length or -errno. */
static long read_fdinfo(int fd, char *buf, size_t size)
{
	char path[64];
	size_t len = 0;
	long n;
	int info;

	buf[0] = '\0';
	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	info = open(path, O_RDONLY | O_CLOEXEC);
	if (info < 0)
		return -errno;
	do {
		n = read(info, buf + len, size - 1 - len);
		if (n > 0)
			len += (size_t)n;
	} while (n > 0 && len < size - 1);
	if (n < 0)
		n = -errno;
	close(info);
	buf[len] = '\0';
	return n < 0 ? n : (long)len;
}

/*
 * Find the line of @info that starts with @key and copy it, without its
 * newline, to @line. Returns the line's offset in @info, or -1 (and an
 * empty @line) if there is none.
 */
static long fdinfo_line(const char *info, const char *key, char *line,
			size_t size)
{
	size_t klen = strlen(key);
	const char *p = info;

	while (*p) {
		const char *eol = strchr(p, '\n');
		size_t n = eol ? (size_t)(eol - p) : strlen(p);

		if (!strncmp(p, key, klen)) {
			if (n >= size)
				n = size - 1;
			memcpy(line, p, n);
			line[n] = '\0';
			return p - info;
		}
		p += n + (eol ? 1 : 0);
	}
	line[0] = '\0';
	return -1;
}

/* @info with every line after the first prefixed by "# ", for TH_LOG. */
static const char *tap_lines(const char *info, char *out, size_t size)
{
	size_t o = 0;

	for (; *info && o + 4 < size; info++) {
		if (*info == '\n' && !info[1])
			break;
		out[o++] = *info;
		if (*info == '\n') {
			out[o++] = '#';
			out[o++] = ' ';
		}
	}
	out[o] = '\0';
	return out;
}

/* ---- what a descriptor really is ---------------------------------------- */

/* The /proc/self/fd link of @fd, or "" if it cannot be read. */
static const char *fd_link(int fd, char *buf, size_t size)
{
	char path[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, buf, size - 1);
	buf[n < 0 ? 0 : n] = '\0';
	return buf;
}

/*
 * Is @fd an evq counter, not a native eventfd: a /dev/evq file, or one
 * made by EVQ_IOC_CREATE (evq_eventfd() uses it when the module has it)?
 */
static bool fd_is_evq(int fd)
{
	char link[256];

	fd_link(fd, link, sizeof(link));
	return !strcmp(link, evq_device()) || !strcmp(link, "anon_inode:[evq]");
}

/* ---- the fixture shared by native eventfd and evq ------------------------ */

#define MAX_FDS 16

FIXTURE(counter) {
	int fd;			/* made by setup: count 0, blocking */
	int fds[MAX_FDS];	/* every counter made, closed by teardown */
	int nfds;
	bool evq_backed;	/* self->fd is a /dev/evq file (see setup) */
};

FIXTURE_VARIANT(counter) {
	bool is_evq;		/* counters from evq_eventfd(), not eventfd(2) */
};

FIXTURE_VARIANT_ADD(counter, native) {
	.is_evq = false,
};

FIXTURE_VARIANT_ADD(counter, evq) {
	.is_evq = true,
};

/*
 * Does this variant on this kernel still have the pre-mainline @diff?
 * What counts is what the counters really are, not what the variant asked
 * for: under the LD_PRELOAD interposer (preload/) the "native" variant's
 * eventfd() gives /dev/evq files, which behave like mainline.
 */
static enum legacy variant_legacy(const FIXTURE_DATA(counter) *self,
				  enum native_diff diff)
{
	return self->evq_backed ? LEGACY_NO : native_legacy(diff);
}

/* Make a counter for the variant; ASSERTs that it worked. */
static int new_counter(struct __test_metadata *_metadata,
		       FIXTURE_DATA(counter) *self,
		       const FIXTURE_VARIANT(counter) *variant,
		       unsigned int initval, int flags)
{
	bool lib = variant->is_evq && !evq_is_native();
	int fd = create_counter(variant->is_evq, initval, flags);
	int err = errno;

	ASSERT_LE(0, fd)
		TH_LOG("%s(%u, %#x): %s%s%s", lib ? "evq_eventfd" : "eventfd",
		       initval, (unsigned int)flags, strerror(err),
		       lib ? "; is the evq module loaded? device: " : "",
		       lib ? evq_device() : "");
	ASSERT_GT(MAX_FDS, self->nfds);
	self->fds[self->nfds++] = fd;
	return fd;
}

/* Close a counter made by new_counter() before the test ends. */
static void drop_counter(FIXTURE_DATA(counter) *self, int fd)
{
	int i;

	for (i = 0; i < self->nfds; i++) {
		if (self->fds[i] == fd) {
			self->fds[i] = self->fds[--self->nfds];
			close(fd);
			return;
		}
	}
}

#define NEW_COUNTER(initval, flags) \
	new_counter(_metadata, self, variant, (initval), (flags))

/*
 * Read and return the count of a non-semaphore counter without blocking,
 * 0 if there is nothing to read: the read is made with O_NONBLOCK set for
 * the moment, whatever the counter's own mode.
 */
static uint64_t take_count(struct __test_metadata *_metadata, int fd)
{
	int fl = fcntl(fd, F_GETFL);
	uint64_t value;
	long ret;

	ASSERT_LE(0, fl) TH_LOG("F_GETFL: %s", strerror(errno));
	ASSERT_EQ(0, fcntl(fd, F_SETFL, fl | O_NONBLOCK));
	ret = read_u64(fd, &value);
	ASSERT_EQ(0, fcntl(fd, F_SETFL, fl));
	if (ret == -EAGAIN)
		return 0;
	ASSERT_EQ(8, ret) TH_LOG("read: %s", errstr(ret));
	return value;
}

FIXTURE_SETUP(counter)
{
	int d;

	self->nfds = 0;
	self->fd = -1;
	ASSERT_LT(0, running_kernel()) TH_LOG("cannot parse uname -r");
	if (variant->is_evq && evq_is_native()) {
		for (d = 0; d < DIFF_COUNT; d++) {
			ASSERT_EQ(LEGACY_NO, native_legacy(d))
				TH_LOG("EVQ_TEST_EVQ_IS_NATIVE=1 needs a host whose eventfd behaves like mainline (6.9+)");
		}
	}
	self->fd = NEW_COUNTER(0, EFD_CLOEXEC);
	self->evq_backed = fd_is_evq(self->fd);
}

FIXTURE_TEARDOWN(counter)
{
	int i;

	for (i = 0; i < self->nfds; i++)
		close(self->fds[i]);
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

TEST_F(counter, create_unknown_flags_einval)
{
	static const int bad[] = { 2, O_APPEND, 0x40000000 };
	size_t i;
	int fd;

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		fd = create_counter(variant->is_evq, 0, bad[i]);
		EXPECT_EQ(-EINVAL, ret_or_errno(fd))
			TH_LOG("flags %#x", (unsigned int)bad[i]);
		if (fd >= 0)
			close(fd);
	}
}

TEST_F(counter, dup_and_fork_share_counter)
{
	int fd = NEW_COUNTER(0, EFD_NONBLOCK);
	int status = 0;
	pid_t pid;
	int d;

	d = dup(fd);
	ASSERT_LE(0, d);
	ASSERT_EQ(8, write_u64(d, 2));
	close(d);
	EXPECT_EQ(2ULL, take_count(_metadata, fd));

	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid)
		_exit(write_u64(fd, 3) == 8 ? 0 : 1);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && !WEXITSTATUS(status))
		TH_LOG("child's write failed: status %#x", status);
	EXPECT_EQ(3ULL, take_count(_metadata, fd));
}

/* ---- blocking ------------------------------------------------------------ */

TEST_F(counter, blocking_read_woken_by_write)
{
	struct blocked *b = start_blocked(_metadata, self->fd, OP_READ, 0);

	EXPECT_TRUE(still_blocked(b))
		TH_LOG("read at 0 returned %ld (%s) with no writer", b->ret,
		       errstr(b->ret));
	ASSERT_EQ(8, write_u64(self->fd, 5));
	ASSERT_TRUE(finish_blocked(b))
		TH_LOG("read still blocked %d ms after a write", WAIT_MS);
	EXPECT_EQ(8, b->ret) TH_LOG("read: %s", errstr(b->ret));
	EXPECT_EQ(5ULL, b->value);
	EXPECT_EQ(0ULL, take_count(_metadata, self->fd));
}

TEST_F(counter, blocking_write_at_max_woken_by_read)
{
	struct blocked *b;
	uint64_t v;

	ASSERT_EQ(8, write_u64(self->fd, COUNT_MAX));
	b = start_blocked(_metadata, self->fd, OP_WRITE, 1);
	EXPECT_TRUE(still_blocked(b))
		TH_LOG("write of 1 at COUNT_MAX returned %ld (%s)", b->ret,
		       errstr(b->ret));
	ASSERT_EQ(8, read_u64(self->fd, &v));
	EXPECT_EQ(COUNT_MAX, v);
	ASSERT_TRUE(finish_blocked(b))
		TH_LOG("write still blocked %d ms after a read", WAIT_MS);
	EXPECT_EQ(8, b->ret) TH_LOG("write: %s", errstr(b->ret));
	EXPECT_EQ(1ULL, take_count(_metadata, self->fd));
}

/* Blocked readers wait non-exclusively: one write can wake them all. */
TEST_F(counter, semaphore_write_wakes_every_blocked_reader)
{
	int fd = NEW_COUNTER(0, EFD_SEMAPHORE);
	struct blocked *b[2];
	int i;

	for (i = 0; i < 2; i++)
		b[i] = start_blocked(_metadata, fd, OP_READ, 0);
	for (i = 0; i < 2; i++) {
		EXPECT_TRUE(still_blocked(b[i]))
			TH_LOG("reader %d returned %ld (%s) with no writer",
			       i, b[i]->ret, errstr(b[i]->ret));
	}
	ASSERT_EQ(8, write_u64(fd, 2));
	for (i = 0; i < 2; i++) {
		ASSERT_TRUE(finish_blocked(b[i]))
			TH_LOG("reader %d still blocked %d ms after writing 2",
			       i, WAIT_MS);
		EXPECT_EQ(8, b[i]->ret) TH_LOG("reader %d: %s", i,
					       errstr(b[i]->ret));
		EXPECT_EQ(1ULL, b[i]->value) TH_LOG("reader %d", i);
	}
	EXPECT_EQ(POLLOUT, poll_mask(fd));
}

/*
 * Keep sending SIGUSR1 to the thread until its call returns: a signal that
 * arrives before the thread is in the call is handled and changes nothing.
 */
static void signal_until_done(struct blocked *b)
{
	int64_t deadline = now_ms() + WAIT_MS;

	while (!atomic_load(&b->done) && now_ms() < deadline) {
		pthread_kill(b->thread, SIGUSR1);
		sleep_ms(50);
	}
}

static void install_handler(struct __test_metadata *_metadata, int flags)
{
	struct sigaction sa = { .sa_handler = count_signal, .sa_flags = flags };

	sigemptyset(&sa.sa_mask);
	ASSERT_EQ(0, sigaction(SIGUSR1, &sa, NULL));
}

TEST_F(counter, signal_interrupts_blocked_read_eintr)
{
	struct blocked *b;

	install_handler(_metadata, 0);	/* no SA_RESTART */
	b = start_blocked(_metadata, self->fd, OP_READ, 0);
	EXPECT_TRUE(still_blocked(b))
		TH_LOG("read at 0 returned %ld (%s) with no writer", b->ret,
		       errstr(b->ret));
	signal_until_done(b);
	ASSERT_TRUE(finish_blocked(b))
		TH_LOG("read not interrupted by SIGUSR1 within %d ms",
		       WAIT_MS);
	EXPECT_EQ(-EINTR, b->ret) TH_LOG("read: %s", errstr(b->ret));
	EXPECT_LT(0, atomic_load(&signals_seen));
	EXPECT_EQ(0ULL, take_count(_metadata, self->fd));
}

TEST_F(counter, signal_interrupts_blocked_write_eintr)
{
	struct blocked *b;

	install_handler(_metadata, 0);
	ASSERT_EQ(8, write_u64(self->fd, COUNT_MAX));
	b = start_blocked(_metadata, self->fd, OP_WRITE, 1);
	EXPECT_TRUE(still_blocked(b))
		TH_LOG("write at COUNT_MAX returned %ld (%s)", b->ret,
		       errstr(b->ret));
	signal_until_done(b);
	ASSERT_TRUE(finish_blocked(b))
		TH_LOG("write not interrupted by SIGUSR1 within %d ms",
		       WAIT_MS);
	EXPECT_EQ(-EINTR, b->ret) TH_LOG("write: %s", errstr(b->ret));
	EXPECT_EQ(COUNT_MAX, take_count(_metadata, self->fd));
}

TEST_F(counter, signal_with_sa_restart_restarts_blocked_read)
{
	int64_t deadline = now_ms() + WAIT_MS;
	struct blocked *b;

	install_handler(_metadata, SA_RESTART);
	b = start_blocked(_metadata, self->fd, OP_READ, 0);
	EXPECT_TRUE(still_blocked(b))
		TH_LOG("read at 0 returned %ld (%s) with no writer", b->ret,
		       errstr(b->ret));
	ASSERT_EQ(0, pthread_kill(b->thread, SIGUSR1));
	while (!atomic_load(&signals_seen) && now_ms() < deadline)
		sleep_ms(5);
	ASSERT_LT(0, atomic_load(&signals_seen))
		TH_LOG("SIGUSR1 not handled within %d ms", WAIT_MS);
	EXPECT_TRUE(still_blocked(b))
		TH_LOG("read returned %ld (%s) after an SA_RESTART signal",
		       b->ret, errstr(b->ret));
	ASSERT_EQ(8, write_u64(self->fd, 4));
	ASSERT_TRUE(finish_blocked(b))
		TH_LOG("read still blocked %d ms after a write", WAIT_MS);
	EXPECT_EQ(8, b->ret) TH_LOG("read: %s", errstr(b->ret));
	EXPECT_EQ(4ULL, b->value);
}

/* ---- poll, epoll, select ------------------------------------------------- */

/*
 * The count can only reach COUNT_MAX from userspace; EPOLLERR (count ==
 * ULLONG_MAX) needs an in-kernel producer and is not tested here.
 */
static const struct {
	uint64_t count;
	int poll;
	int sel;
} mask_cases[] = {
	{ 0, POLLOUT, SEL_WRITE },
	{ 1, POLLIN | POLLOUT, SEL_READ | SEL_WRITE },
	{ COUNT_MAX - 1, POLLIN | POLLOUT, SEL_READ | SEL_WRITE },
	{ COUNT_MAX, POLLIN, SEL_READ },
};

#define N_MASK_CASES ARRAY_SIZE(mask_cases)

/* A fresh non-blocking counter holding @count. */
static int counter_at(struct __test_metadata *_metadata,
		      FIXTURE_DATA(counter) *self,
		      const FIXTURE_VARIANT(counter) *variant, uint64_t count)
{
	int fd = NEW_COUNTER(0, EFD_NONBLOCK);

	if (count) {
		ASSERT_EQ(8, write_u64(fd, count));
	}
	return fd;
}

TEST_F(counter, poll_masks)
{
	size_t i;

	for (i = 0; i < N_MASK_CASES; i++) {
		int fd = counter_at(_metadata, self, variant,
				    mask_cases[i].count);
		int got = poll_mask(fd);

		EXPECT_EQ(mask_cases[i].poll, got)
			TH_LOG("count %#llx: revents %#x, want %#x (POLLIN 0x1, POLLOUT 0x4)",
			       (unsigned long long)mask_cases[i].count,
			       (unsigned int)got,
			       (unsigned int)mask_cases[i].poll);
		drop_counter(self, fd);
	}
}

TEST_F(counter, epoll_masks)
{
	size_t i;

	for (i = 0; i < N_MASK_CASES; i++) {
		int fd = counter_at(_metadata, self, variant,
				    mask_cases[i].count);
		int got = epoll_mask(fd);

		/* EPOLLIN == POLLIN and EPOLLOUT == POLLOUT */
		EXPECT_EQ(mask_cases[i].poll, got)
			TH_LOG("count %#llx: events %#x, want %#x (EPOLLIN 0x1, EPOLLOUT 0x4)",
			       (unsigned long long)mask_cases[i].count,
			       (unsigned int)got,
			       (unsigned int)mask_cases[i].poll);
		drop_counter(self, fd);
	}
}

TEST_F(counter, select_masks)
{
	size_t i;

	for (i = 0; i < N_MASK_CASES; i++) {
		int fd = counter_at(_metadata, self, variant,
				    mask_cases[i].count);
		int got = select_mask(fd);

		EXPECT_EQ(mask_cases[i].sel, got)
			TH_LOG("count %#llx: select %#x, want %#x (read 1, write 2, except 4)",
			       (unsigned long long)mask_cases[i].count,
			       (unsigned int)got,
			       (unsigned int)mask_cases[i].sel);
		drop_counter(self, fd);
	}
}

TEST_F(counter, blocked_poll_woken_by_write)
{
	struct blocked *b = start_blocked(_metadata, self->fd, OP_POLL, 0);

	EXPECT_TRUE(still_blocked(b))
		TH_LOG("poll(POLLIN) at 0 returned %#lx", b->ret);
	ASSERT_EQ(8, write_u64(self->fd, 1));
	ASSERT_TRUE(finish_blocked(b))
		TH_LOG("poll still blocked %d ms after a write", WAIT_MS);
	EXPECT_EQ(POLLIN, b->ret);
}

/*
 * Every write wakes the wait queue, even when the count was already
 * non-zero or the value is 0. With EPOLLET that is one event per write;
 * event loops (libuv, libevent) rely on it.
 */
TEST_F(counter, epollet_event_on_every_write)
{
	int fd = NEW_COUNTER(0, EFD_NONBLOCK);
	struct epoll_event ev = {
		.events = EPOLLIN | EPOLLOUT | EPOLLET,
		.data.fd = fd,
	};
	static const uint64_t writes[] = { 1, 1, 0 };
	struct epoll_event out;
	size_t i;
	int ep, n;

	ep = epoll_create1(EPOLL_CLOEXEC);
	ASSERT_LE(0, ep);
	ASSERT_EQ(0, epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev));
	n = epoll_wait(ep, &out, 1, 0);
	ASSERT_EQ(1, n) TH_LOG("initial edge");
	EXPECT_EQ((uint32_t)EPOLLOUT, out.events);
	EXPECT_EQ(0, epoll_wait(ep, &out, 1, 0)) TH_LOG("edge reported twice");

	for (i = 0; i < ARRAY_SIZE(writes); i++) {
		ASSERT_EQ(8, write_u64(fd, writes[i]));
		n = epoll_wait(ep, &out, 1, 0);
		EXPECT_EQ(1, n) TH_LOG("write %zu (of %llu): no event", i,
				       (unsigned long long)writes[i]);
		if (n == 1) {
			EXPECT_EQ((uint32_t)(EPOLLIN | EPOLLOUT), out.events)
				TH_LOG("write %zu", i);
		}
		EXPECT_EQ(0, epoll_wait(ep, &out, 1, 0))
			TH_LOG("write %zu: edge reported twice", i);
	}
	close(ep);
}

/* ---- fdinfo -------------------------------------------------------------- */

TEST_F(counter, fdinfo_count_id_flags_lines)
{
	static const uint64_t counts[] = { 0, 0x1234, COUNT_MAX };
	int fd = NEW_COUNTER(0, EFD_NONBLOCK | EFD_CLOEXEC);
	int other = NEW_COUNTER(0, 0);
	char info[4096], tap[8192], line[256], want[256];
	long count_at, id_at;
	int id, other_id, end;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(counts); i++) {
		if (counts[i]) {
			ASSERT_EQ(8, write_u64(fd, counts[i]));
		}
		ASSERT_LT(0, read_fdinfo(fd, info, sizeof(info)));

		count_at = fdinfo_line(info, "eventfd-count:", line,
				       sizeof(line));
		snprintf(want, sizeof(want), "eventfd-count: %16llx",
			 (unsigned long long)counts[i]);
		EXPECT_STREQ(want, line)
			TH_LOG("fdinfo:\n# %s",
			       tap_lines(info, tap, sizeof(tap)));

		EXPECT_LE(0, fdinfo_line(info, "pos:", line, sizeof(line)));
		EXPECT_STREQ("pos:\t0", line);
		EXPECT_LE(0, fdinfo_line(info, "flags:", line, sizeof(line)));
		snprintf(want, sizeof(want), "flags:\t0%o",
			 (unsigned int)(O_RDWR | O_NONBLOCK | O_CLOEXEC));
		EXPECT_STREQ(want, line);

		id_at = fdinfo_line(info, "eventfd-id:", line, sizeof(line));
		EXPECT_LT(count_at, id_at)
			TH_LOG("eventfd-id must follow eventfd-count:\n# %s",
			       tap_lines(info, tap, sizeof(tap)));
		end = 0;
		id = -1;
		EXPECT_EQ(1, sscanf(line, "eventfd-id: %d%n", &id, &end))
			TH_LOG("'%s'", line);
		EXPECT_EQ(strlen(line), (size_t)end) TH_LOG("'%s'", line);
		EXPECT_LE(0, id);
		snprintf(want, sizeof(want), "eventfd-id: %d", id);
		EXPECT_STREQ(want, line);

		if (counts[i]) {
			EXPECT_EQ(counts[i], take_count(_metadata, fd));
		}
	}

	ASSERT_LT(0, read_fdinfo(other, info, sizeof(info)));
	fdinfo_line(info, "eventfd-id:", line, sizeof(line));
	other_id = -1;
	EXPECT_EQ(1, sscanf(line, "eventfd-id: %d", &other_id));
	EXPECT_NE(id, other_id) TH_LOG("two counters share eventfd-id %d", id);
}

/* Mainline and evq show it; native before 6.5 does not. */
TEST_F(counter, fdinfo_semaphore_line)
{
	enum legacy old = variant_legacy(self, DIFF_FDINFO_NO_SEMAPHORE);
	int fds[2] = {
		NEW_COUNTER(0, 0),
		NEW_COUNTER(0, EFD_SEMAPHORE),
	};
	char info[4096], tap[8192], line[256], want[64];
	long id_at, sem_at;
	int i;

	for (i = 0; i < 2; i++) {
		ASSERT_LT(0, read_fdinfo(fds[i], info, sizeof(info)));
		id_at = fdinfo_line(info, "eventfd-id:", line, sizeof(line));
		sem_at = fdinfo_line(info, "eventfd-semaphore:", line,
				     sizeof(line));
		if (old == LEGACY_YES) {
			EXPECT_EQ(-1, sem_at)
				TH_LOG("native eventfd before 6.5 has no eventfd-semaphore line:\n# %s",
				       tap_lines(info, tap, sizeof(tap)));
			continue;
		}
		if (old == LEGACY_EITHER && sem_at < 0)
			continue;
		snprintf(want, sizeof(want), "eventfd-semaphore: %d", i);
		EXPECT_STREQ(want, line)
			TH_LOG("fdinfo:\n# %s",
			       tap_lines(info, tap, sizeof(tap)));
		EXPECT_LT(id_at, sem_at)
			TH_LOG("eventfd-semaphore must follow eventfd-id:\n# %s",
			       tap_lines(info, tap, sizeof(tap)));
	}
}

/* ---- fcntl, lseek, pread/pwrite, ioctl ----------------------------------- */

static const int flag_sets[] = {
	0, EFD_NONBLOCK, EFD_CLOEXEC, EFD_NONBLOCK | EFD_CLOEXEC,
	EFD_SEMAPHORE | EFD_NONBLOCK | EFD_CLOEXEC,
};

#define N_FLAG_SETS ARRAY_SIZE(flag_sets)

TEST_F(counter, getfl_is_rdwr_plus_nonblock)
{
	size_t i;

	for (i = 0; i < N_FLAG_SETS; i++) {
		int fd = NEW_COUNTER(0, flag_sets[i]);
		int want = O_RDWR |
			   ((flag_sets[i] & EFD_NONBLOCK) ? O_NONBLOCK : 0);
		int got = fcntl(fd, F_GETFL);

		EXPECT_EQ(want, got)
			TH_LOG("created with %#x: F_GETFL 0%o, want 0%o",
			       (unsigned int)flag_sets[i], (unsigned int)got,
			       (unsigned int)want);
#ifdef KERNEL_O_LARGEFILE
		EXPECT_EQ(0, got & KERNEL_O_LARGEFILE)
			TH_LOG("O_LARGEFILE (0%o) in F_GETFL 0%o",
			       KERNEL_O_LARGEFILE, (unsigned int)got);
#endif
		drop_counter(self, fd);
	}
}

TEST_F(counter, getfd_cloexec_per_flag)
{
	size_t i;

	for (i = 0; i < N_FLAG_SETS; i++) {
		int fd = NEW_COUNTER(0, flag_sets[i]);
		int want = (flag_sets[i] & EFD_CLOEXEC) ? FD_CLOEXEC : 0;

		EXPECT_EQ(want, fcntl(fd, F_GETFD))
			TH_LOG("created with %#x", (unsigned int)flag_sets[i]);
		drop_counter(self, fd);
	}
}

TEST_F(counter, setfl_nonblock_toggles_read)
{
	int fd = NEW_COUNTER(0, EFD_NONBLOCK);
	struct blocked *b;
	uint64_t v;
	long ret;

	/* blocking -> non-blocking */
	ASSERT_EQ(0, fcntl(self->fd, F_SETFL, O_NONBLOCK));
	EXPECT_EQ(O_RDWR | O_NONBLOCK, fcntl(self->fd, F_GETFL));
	ret = read_u64(self->fd, &v);
	EXPECT_EQ(-EAGAIN, ret) TH_LOG("read: %s", errstr(ret));

	/* and back */
	ASSERT_EQ(0, fcntl(self->fd, F_SETFL, 0));
	EXPECT_EQ(O_RDWR, fcntl(self->fd, F_GETFL));
	b = start_blocked(_metadata, self->fd, OP_READ, 0);
	EXPECT_TRUE(still_blocked(b))
		TH_LOG("read after clearing O_NONBLOCK returned %ld (%s)",
		       b->ret, errstr(b->ret));
	ASSERT_EQ(8, write_u64(self->fd, 9));
	ASSERT_TRUE(finish_blocked(b));
	EXPECT_EQ(9ULL, b->value);

	/* created non-blocking -> blocking */
	ASSERT_EQ(0, fcntl(fd, F_SETFL, 0));
	EXPECT_EQ(O_RDWR, fcntl(fd, F_GETFL));
	b = start_blocked(_metadata, fd, OP_READ, 0);
	EXPECT_TRUE(still_blocked(b))
		TH_LOG("read after clearing O_NONBLOCK returned %ld (%s)",
		       b->ret, errstr(b->ret));
	ASSERT_EQ(8, write_u64(fd, 11));
	ASSERT_TRUE(finish_blocked(b));
	EXPECT_EQ(11ULL, b->value);
}

TEST_F(counter, lseek_returns_zero)
{
	uint64_t v;

	EXPECT_EQ(0, ret_or_errno(lseek(self->fd, 0, SEEK_SET)));
	EXPECT_EQ(0, ret_or_errno(lseek(self->fd, 123, SEEK_CUR)));
	EXPECT_EQ(0, ret_or_errno(lseek(self->fd, 5, SEEK_END)));
	ASSERT_EQ(8, write_u64(self->fd, 1));
	ASSERT_EQ(8, read_u64(self->fd, &v));
	EXPECT_EQ(0, ret_or_errno(lseek(self->fd, 0, SEEK_CUR)))
		TH_LOG("a read or write moved the file position");
}

TEST_F(counter, pread_pwrite_espipe)
{
	uint64_t v = 1;
	long ret;

	ret = ret_or_errno(pwrite(self->fd, &v, sizeof(v), 0));
	EXPECT_EQ(-ESPIPE, ret) TH_LOG("pwrite: %s", errstr(ret));
	ASSERT_EQ(8, write_u64(self->fd, 2));
	ret = ret_or_errno(pread(self->fd, &v, sizeof(v), 0));
	EXPECT_EQ(-ESPIPE, ret) TH_LOG("pread: %s", errstr(ret));
	EXPECT_EQ(2ULL, take_count(_metadata, self->fd));
}

TEST_F(counter, unknown_ioctl_enotty)
{
	int n = -1;
	long ret;

	ASSERT_EQ(8, write_u64(self->fd, 3));
	ret = ret_or_errno(ioctl(self->fd, FIONREAD, &n));
	EXPECT_EQ(-ENOTTY, ret) TH_LOG("FIONREAD: %s, n = %d", errstr(ret),
				       n);
	ret = ret_or_errno(ioctl(self->fd, _IO(EVQ_IOC_MAGIC, 0x3f)));
	EXPECT_EQ(-ENOTTY, ret) TH_LOG("_IO(0xE7, 0x3f): %s", errstr(ret));
	EXPECT_EQ(3ULL, take_count(_metadata, self->fd));
}

/* ---- creation, every flag ------------------------------------------------ */

/*
 * All eight combinations of EFD_SEMAPHORE, EFD_CLOEXEC and EFD_NONBLOCK:
 * F_GETFL, F_GETFD and what reads return from an initial count of 2.
 */
TEST_F(counter, create_every_flag_combination)
{
	static const int bits[] = { EFD_SEMAPHORE, EFD_CLOEXEC, EFD_NONBLOCK };
	uint64_t v;
	int combo;
	long ret;

	for (combo = 0; combo < 8; combo++) {
		int flags = 0, fd, i;
		bool sem, nb;

		for (i = 0; i < 3; i++)
			if (combo & (1 << i))
				flags |= bits[i];
		sem = flags & EFD_SEMAPHORE;
		nb = flags & EFD_NONBLOCK;
		fd = NEW_COUNTER(2, flags);
		EXPECT_EQ(O_RDWR | (nb ? O_NONBLOCK : 0), fcntl(fd, F_GETFL))
			TH_LOG("flags %#x", (unsigned int)flags);
		EXPECT_EQ((flags & EFD_CLOEXEC) ? FD_CLOEXEC : 0,
			  fcntl(fd, F_GETFD))
			TH_LOG("flags %#x", (unsigned int)flags);
		ret = read_u64(fd, &v);
		EXPECT_EQ(8, ret) TH_LOG("flags %#x: %s", (unsigned int)flags,
					 errstr(ret));
		EXPECT_EQ(sem ? 1ULL : 2ULL, v)
			TH_LOG("flags %#x", (unsigned int)flags);
		EXPECT_EQ(sem ? POLLIN | POLLOUT : POLLOUT, poll_mask(fd))
			TH_LOG("flags %#x: after one read", (unsigned int)flags);
		if (nb) {
			if (sem) {
				ASSERT_EQ(8, read_u64(fd, &v));
				EXPECT_EQ(1ULL, v);
			}
			ret = read_u64(fd, &v);
			EXPECT_EQ(-EAGAIN, ret)
				TH_LOG("flags %#x: read at 0: %s",
				       (unsigned int)flags, errstr(ret));
		}
		drop_counter(self, fd);
	}
}

/* Every bit other than the three flags is EINVAL, alone or with them. */
TEST_F(counter, create_every_unknown_bit_einval)
{
	const int known = EFD_SEMAPHORE | EFD_CLOEXEC | EFD_NONBLOCK;
	unsigned int bit;
	long ret;
	int fd;

	for (bit = 0; bit < 32; bit++) {
		int flag = (int)(1U << bit);

		if (flag & known)
			continue;
		fd = create_counter(variant->is_evq, 1, flag);
		ret = ret_or_errno(fd);
		EXPECT_EQ(-EINVAL, ret) TH_LOG("flags %#x: %s",
					       (unsigned int)flag, errstr(ret));
		if (fd >= 0)
			close(fd);
		fd = create_counter(variant->is_evq, 1, flag | known);
		ret = ret_or_errno(fd);
		EXPECT_EQ(-EINVAL, ret) TH_LOG("flags %#x: %s",
					       (unsigned int)(flag | known),
					       errstr(ret));
		if (fd >= 0)
			close(fd);
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

/*
 * What the counters of each variant really are. evq: /dev/evq files (or
 * native ones with EVQ_TEST_EVQ_IS_NATIVE=1). native: the kernel's eventfd,
 * unless EVQ_TEST_EXPECT_PRELOAD=1 says the interposer in preload/ is
 * loaded, which must then turn eventfd(), syscall(SYS_eventfd2) and
 * syscall(SYS_eventfd) into /dev/evq files. A static binary cannot be
 * interposed, so this case fails if the variable is set for one.
 */
TEST_F(counter, backing_file_matches_variant)
{
	const char *env = getenv("EVQ_TEST_EXPECT_PRELOAD");
	bool preload = env && !strcmp(env, "1");
	bool want = variant->is_evq ? !evq_is_native() : preload;
	char link[256];
	int fd;

	EXPECT_EQ(want, self->evq_backed)
		TH_LOG("counter is %s", fd_link(self->fd, link, sizeof(link)));
	if (variant->is_evq)
		return;
	fd = (int)syscall(SYS_eventfd2, 3, EFD_NONBLOCK);
	ASSERT_LE(0, fd) TH_LOG("SYS_eventfd2: %s", strerror(errno));
	EXPECT_EQ(want, fd_is_evq(fd))
		TH_LOG("SYS_eventfd2 gave %s", fd_link(fd, link, sizeof(link)));
	EXPECT_EQ(O_RDWR | O_NONBLOCK, fcntl(fd, F_GETFL));
	EXPECT_EQ(3ULL, take_count(_metadata, fd));
	close(fd);
#ifdef SYS_eventfd
	fd = (int)syscall(SYS_eventfd, 4);
	ASSERT_LE(0, fd) TH_LOG("SYS_eventfd: %s", strerror(errno));
	EXPECT_EQ(want, fd_is_evq(fd))
		TH_LOG("SYS_eventfd gave %s", fd_link(fd, link, sizeof(link)));
	EXPECT_EQ(O_RDWR, fcntl(fd, F_GETFL));
	EXPECT_EQ(4ULL, take_count(_metadata, fd));
	close(fd);
#endif
	fd = (int)syscall(SYS_eventfd2, 0, 2);
	EXPECT_EQ(-EINVAL, ret_or_errno(fd)) TH_LOG("SYS_eventfd2 flags 2");
	if (fd >= 0)
		close(fd);
}

/* ---- wake-ups ------------------------------------------------------------ */

struct epoll_waiter {
	pthread_t thread;
	int ep;
	int timeout_ms;
	int n;			/* epoll_wait's return, or -errno */
	uint32_t events;
	atomic_bool done;
};

static void *epoll_waiter_fn(void *arg)
{
	struct epoll_waiter *w = arg;
	struct epoll_event ev = { 0 };
	int n;

	n = epoll_wait(w->ep, &ev, 1, w->timeout_ms);
	w->n = n < 0 ? -errno : n;
	w->events = ev.events;
	atomic_store(&w->done, true);
	return NULL;
}

/* Heap-allocated for the same reason as struct blocked. */
static struct epoll_waiter *start_epoll_waiter(struct __test_metadata *_metadata,
					       int ep)
{
	struct epoll_waiter *w = calloc(1, sizeof(*w));
	int err;

	ASSERT_NE(NULL, w);
	w->ep = ep;
	w->timeout_ms = -1;
	atomic_init(&w->done, false);
	err = pthread_create(&w->thread, NULL, epoll_waiter_fn, w);
	ASSERT_EQ(0, err) TH_LOG("pthread_create: %s", strerror(err));
	return w;
}

static bool epoll_waiter_finished(struct epoll_waiter *w)
{
	return join_when_done(w->thread, &w->done);
}

/*
 * A write of 0 at count 0 changes nothing but still wakes a waiter. The
 * wake-up carries EPOLLIN, so only entries that asked for EPOLLIN see it
 * (epoll filters on the key); the event then reports the state, EPOLLOUT.
 */
TEST_F(counter, write_zero_wakes_epoll_waiter)
{
	int fd = NEW_COUNTER(0, EFD_NONBLOCK);
	struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT | EPOLLET };
	struct epoll_waiter *w;
	int ep;

	ep = epoll_create1(EPOLL_CLOEXEC);
	ASSERT_LE(0, ep);
	ASSERT_EQ(0, epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev));
	ASSERT_EQ(1, epoll_wait(ep, &ev, 1, 0)) TH_LOG("initial edge");
	w = start_epoll_waiter(_metadata, ep);
	sleep_ms(SETTLE_MS);
	EXPECT_FALSE(atomic_load(&w->done))
		TH_LOG("epoll_wait returned %d with nothing written", w->n);
	ASSERT_EQ(8, write_u64(fd, 0));
	ASSERT_TRUE(epoll_waiter_finished(w))
		TH_LOG("epoll_wait still blocked %d ms after a write of 0",
		       WAIT_MS);
	EXPECT_EQ(1, w->n);
	EXPECT_EQ((uint32_t)EPOLLOUT, w->events);
	close(ep);
}

/*
 * close() of the descriptor a read is blocked on, from another thread: the
 * read holds its own reference to the file, so it stays blocked and a
 * write through a dup() still reaches it. With no other descriptor left,
 * a signal ends the read and the file is released afterwards.
 */
TEST_F(counter, close_while_read_blocked)
{
	int fd = NEW_COUNTER(0, 0);
	struct blocked *b;
	int d;

	d = dup(fd);
	ASSERT_LE(0, d);
	b = start_blocked(_metadata, fd, OP_READ, 0);
	EXPECT_TRUE(still_blocked(b))
		TH_LOG("read at 0 returned %ld", b->ret);
	drop_counter(self, fd);
	EXPECT_TRUE(still_blocked(b))
		TH_LOG("read returned %ld (%s) on close()", b->ret,
		       errstr(b->ret));
	ASSERT_EQ(8, write_u64(d, 6));
	ASSERT_TRUE(finish_blocked(b))
		TH_LOG("read still blocked %d ms after a write", WAIT_MS);
	EXPECT_EQ(8, b->ret) TH_LOG("read: %s", errstr(b->ret));
	EXPECT_EQ(6ULL, b->value);

	install_handler(_metadata, 0);
	b = start_blocked(_metadata, d, OP_READ, 0);
	EXPECT_TRUE(still_blocked(b))
		TH_LOG("read at 0 returned %ld", b->ret);
	close(d);
	EXPECT_TRUE(still_blocked(b))
		TH_LOG("read returned %ld (%s) on close() of the last fd",
		       b->ret, errstr(b->ret));
	signal_until_done(b);
	ASSERT_TRUE(finish_blocked(b))
		TH_LOG("read on a closed fd not interrupted within %d ms",
		       WAIT_MS);
	EXPECT_EQ(-EINTR, b->ret) TH_LOG("read: %s", errstr(b->ret));
}

/* ---- epoll --------------------------------------------------------------- */

static int epoll_with(struct __test_metadata *_metadata, int fd,
		      uint32_t events, uint64_t data)
{
	struct epoll_event ev = { .events = events, .data.u64 = data };
	int ep = epoll_create1(EPOLL_CLOEXEC);

	ASSERT_LE(0, ep) TH_LOG("epoll_create1: %s", strerror(errno));
	ASSERT_EQ(0, epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev))
		TH_LOG("EPOLL_CTL_ADD: %s", strerror(errno));
	return ep;
}

/* epoll_wait without waiting: events of the one entry, 0, or -errno. */
static int epoll_now(int ep, uint64_t *data)
{
	struct epoll_event ev = { 0 };
	int n = epoll_wait(ep, &ev, 1, 0);

	if (n < 0)
		return -errno;
	if (data)
		*data = ev.data.u64;
	return n ? (int)ev.events : 0;
}

TEST_F(counter, epoll_level_triggered_repeats_until_read)
{
	int fd = NEW_COUNTER(0, EFD_NONBLOCK);
	int ep = epoll_with(_metadata, fd, EPOLLIN, 0);
	int i;

	EXPECT_EQ(0, epoll_now(ep, NULL));
	ASSERT_EQ(8, write_u64(fd, 1));
	for (i = 0; i < 3; i++)
		EXPECT_EQ(EPOLLIN, epoll_now(ep, NULL)) TH_LOG("wait %d", i);
	EXPECT_EQ(1ULL, take_count(_metadata, fd));
	EXPECT_EQ(0, epoll_now(ep, NULL)) TH_LOG("after the read");
	close(ep);
}

TEST_F(counter, epoll_oneshot_rearm)
{
	int fd = NEW_COUNTER(0, EFD_NONBLOCK);
	int ep = epoll_with(_metadata, fd, EPOLLIN | EPOLLONESHOT, 1);
	struct epoll_event ev = {
		.events = EPOLLIN | EPOLLONESHOT,
		.data.u64 = 2,
	};
	uint64_t data = 0;

	ASSERT_EQ(8, write_u64(fd, 1));
	EXPECT_EQ(EPOLLIN, epoll_now(ep, &data));
	EXPECT_EQ(1ULL, data);
	EXPECT_EQ(0, epoll_now(ep, NULL)) TH_LOG("one-shot fired twice");
	ASSERT_EQ(8, write_u64(fd, 1));
	EXPECT_EQ(0, epoll_now(ep, NULL)) TH_LOG("disarmed entry fired");
	ASSERT_EQ(0, epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev));
	EXPECT_EQ(EPOLLIN, epoll_now(ep, &data)) TH_LOG("after re-arm");
	EXPECT_EQ(2ULL, data);
	EXPECT_EQ(0, epoll_now(ep, NULL));
	EXPECT_EQ(2ULL, take_count(_metadata, fd));
	close(ep);
}

TEST_F(counter, one_counter_in_several_epoll_sets)
{
	int fd = NEW_COUNTER(0, EFD_NONBLOCK);
	int ep[3], i;

	for (i = 0; i < 3; i++)
		ep[i] = epoll_with(_metadata, fd, EPOLLIN | EPOLLOUT, i);
	ASSERT_EQ(8, write_u64(fd, 1));
	for (i = 0; i < 3; i++) {
		uint64_t data = 99;

		EXPECT_EQ(EPOLLIN | EPOLLOUT, epoll_now(ep[i], &data))
			TH_LOG("set %d", i);
		EXPECT_EQ((uint64_t)i, data);
	}
	EXPECT_EQ(1ULL, take_count(_metadata, fd));
	for (i = 0; i < 3; i++) {
		EXPECT_EQ(EPOLLOUT, epoll_now(ep[i], NULL)) TH_LOG("set %d", i);
		close(ep[i]);
	}
}

/*
 * epoll watches the open file, not the descriptor: closing one of two
 * descriptors keeps the entry; closing the last removes it.
 */
TEST_F(counter, close_removes_counter_from_epoll_set)
{
	int fd = NEW_COUNTER(0, EFD_NONBLOCK);
	int ep = epoll_with(_metadata, fd, EPOLLIN, 7);
	struct epoll_event ev = { .events = EPOLLIN };
	uint64_t data = 0;
	int d;

	d = dup(fd);
	ASSERT_LE(0, d);
	drop_counter(self, fd);
	ASSERT_EQ(8, write_u64(d, 1));
	EXPECT_EQ(EPOLLIN, epoll_now(ep, &data))
		TH_LOG("entry gone while a dup() is open");
	EXPECT_EQ(7ULL, data);
	close(d);
	EXPECT_EQ(0, epoll_now(ep, NULL)) TH_LOG("entry of a closed counter");
	fd = NEW_COUNTER(1, EFD_NONBLOCK);
	EXPECT_EQ(0, epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev))
		TH_LOG("epoll set unusable after the close: %s",
		       strerror(errno));
	EXPECT_EQ(EPOLLIN, epoll_now(ep, NULL));
	close(ep);
}

/*
 * EPOLLEXCLUSIVE on the same counter in several epoll instances, one
 * thread blocked in each: every write wakes at least one of them, so as
 * many writes as threads wake them all. (How many one write wakes is not
 * checked: a thread that is not asleep yet when the write comes gets the
 * event queued, which is correct too.)
 */
#define N_EXCL 4

TEST_F(counter, epollexclusive_every_write_wakes_a_waiter)
{
	int fd = NEW_COUNTER(0, EFD_NONBLOCK);
	struct epoll_waiter *w[N_EXCL];
	int ep[N_EXCL], i, woken = 0, writes = 0;

	for (i = 0; i < N_EXCL; i++) {
		ep[i] = epoll_with(_metadata, fd, EPOLLIN | EPOLLEXCLUSIVE, i);
		w[i] = start_epoll_waiter(_metadata, ep[i]);
	}
	sleep_ms(SETTLE_MS);
	for (i = 0; i < N_EXCL; i++) {
		EXPECT_FALSE(atomic_load(&w[i]->done))
			TH_LOG("waiter %d returned %d at count 0", i, w[i]->n);
	}
	while (woken < N_EXCL && writes < N_EXCL) {
		int64_t deadline = now_ms() + WAIT_MS;
		int before = woken;

		ASSERT_EQ(8, write_u64(fd, 1));
		writes++;
		while (woken == before && now_ms() < deadline) {
			sleep_ms(5);
			for (woken = 0, i = 0; i < N_EXCL; i++)
				woken += atomic_load(&w[i]->done);
		}
		ASSERT_LT(before, woken)
			TH_LOG("write %d woke none of %d blocked waiters",
			       writes, N_EXCL - before);
	}
	for (i = 0; i < N_EXCL; i++) {
		ASSERT_TRUE(epoll_waiter_finished(w[i]));
		EXPECT_EQ(1, w[i]->n) TH_LOG("waiter %d", i);
		EXPECT_EQ((uint32_t)EPOLLIN, w[i]->events) TH_LOG("waiter %d",
								 i);
		close(ep[i]);
	}
	TH_LOG("%d writes woke %d exclusive waiters", writes, N_EXCL);
}

/*
 * Many threads, each with its own edge-triggered epoll set on one counter,
 * read whatever they are woken for while the main thread writes 1 many
 * times. A lost wake-up leaves a count that nobody is told about: the sum
 * read stays short of the sum written.
 */
#define N_ET_THREADS	8
#define N_ET_WRITES	2000

struct et_shared {
	int fd;
	atomic_ullong sum;
	atomic_bool stop;
	atomic_int errors;
};

struct et_thread {
	pthread_t thread;
	struct et_shared *sh;
	int ep;
};

static void *et_reader_fn(void *arg)
{
	struct et_thread *t = arg;
	struct epoll_event ev;
	uint64_t v;

	while (!atomic_load(&t->sh->stop)) {
		int n = epoll_wait(t->ep, &ev, 1, 50);
		long ret;

		if (n < 0 && errno != EINTR)
			atomic_fetch_add(&t->sh->errors, 1);
		if (n <= 0)
			continue;
		ret = read_u64(t->sh->fd, &v);
		if (ret == 8)
			atomic_fetch_add(&t->sh->sum, v);
		else if (ret != -EAGAIN)
			atomic_fetch_add(&t->sh->errors, 1);
	}
	return NULL;
}

TEST_F_TIMEOUT(counter, epollet_many_waiters_no_lost_wakeup, 120)
{
	static struct et_thread t[N_ET_THREADS];
	struct et_shared sh = { .fd = NEW_COUNTER(0, EFD_NONBLOCK) };
	int64_t deadline;
	int i;

	atomic_init(&sh.sum, 0);
	atomic_init(&sh.stop, false);
	atomic_init(&sh.errors, 0);
	for (i = 0; i < N_ET_THREADS; i++) {
		t[i].sh = &sh;
		t[i].ep = epoll_with(_metadata, sh.fd, EPOLLIN | EPOLLET, i);
		ASSERT_EQ(0, pthread_create(&t[i].thread, NULL, et_reader_fn,
					    &t[i]));
	}
	for (i = 0; i < N_ET_WRITES; i++)
		ASSERT_EQ(8, write_u64(sh.fd, 1));
	deadline = now_ms() + WAIT_MS;
	while (atomic_load(&sh.sum) < N_ET_WRITES && now_ms() < deadline)
		sleep_ms(5);
	atomic_store(&sh.stop, true);
	for (i = 0; i < N_ET_THREADS; i++) {
		pthread_join(t[i].thread, NULL);
		close(t[i].ep);
	}
	EXPECT_EQ(0, atomic_load(&sh.errors));
	EXPECT_EQ((unsigned long long)N_ET_WRITES, atomic_load(&sh.sum))
		TH_LOG("count left unread: %llu",
		       (unsigned long long)take_count(_metadata, sh.fd));
}

/* ---- sharing ------------------------------------------------------------- */

static int send_fd(int sock, int fd)
{
	char cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
	char byte = 'x';
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);

	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	return sendmsg(sock, &msg, MSG_NOSIGNAL) == 1 ? 0 : -errno;
}

static int recv_fd(int sock)
{
	char cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
	char byte;
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *c;
	int fd;

	if (recvmsg(sock, &msg, MSG_CMSG_CLOEXEC) != 1)
		return -errno;
	c = CMSG_FIRSTHDR(&msg);
	if (!c || c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
		return -EPROTO;
	memcpy(&fd, CMSG_DATA(c), sizeof(int));
	return fd;
}

/* A child process gets the counter over a Unix socket and writes to it. */
TEST_F(counter, scm_rights_shares_counter)
{
	int fd = NEW_COUNTER(0, EFD_NONBLOCK);
	int sv[2], status = 0, got;
	pid_t pid;

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		int r;

		close(sv[0]);
		for (r = 3; r < 1024; r++)	/* only the received fd */
			if (r != sv[1])
				close(r);
		r = recv_fd(sv[1]);
		_exit(r >= 0 && write_u64(r, 9) == 8 ? 0 : 1);
	}
	close(sv[1]);
	ASSERT_EQ(0, send_fd(sv[0], fd));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && !WEXITSTATUS(status))
		TH_LOG("child failed: status %#x", status);
	EXPECT_EQ(9ULL, take_count(_metadata, fd));

	close(sv[0]);

	/* And within one process: the received fd is the same counter. */
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
	ASSERT_EQ(0, send_fd(sv[1], fd));
	got = recv_fd(sv[0]);
	close(sv[0]);
	close(sv[1]);
	ASSERT_LE(0, got) TH_LOG("recv_fd: %s", strerror(-got));
	EXPECT_EQ(fd_is_evq(fd), fd_is_evq(got));
	ASSERT_EQ(8, write_u64(got, 2));
	EXPECT_EQ(2ULL, take_count(_metadata, fd));
	close(got);
}

/* ---- fdinfo ids ---------------------------------------------------------- */

#define N_ID_COUNTERS 128

static int fdinfo_id(int fd)
{
	char info[4096], line[256];
	int id = -1;

	if (read_fdinfo(fd, info, sizeof(info)) <= 0)
		return -1;
	fdinfo_line(info, "eventfd-id:", line, sizeof(line));
	if (sscanf(line, "eventfd-id: %d", &id) != 1)
		return -1;
	return id;
}

TEST_F(counter, fdinfo_ids_unique_among_open_counters)
{
	int fds[N_ID_COUNTERS], ids[N_ID_COUNTERS];
	int i, j, n = 0;

	for (i = 0; i < N_ID_COUNTERS; i++) {
		fds[i] = create_counter(variant->is_evq, 0, EFD_CLOEXEC);
		if (fds[i] < 0)
			break;
		n++;
		ids[i] = fdinfo_id(fds[i]);
		EXPECT_LE(0, ids[i]) TH_LOG("counter %d: no eventfd-id", i);
	}
	EXPECT_EQ(N_ID_COUNTERS, n) TH_LOG("create: %s", strerror(errno));
	for (i = 0; i < n; i++)
		for (j = i + 1; j < n; j++)
			EXPECT_NE(ids[i], ids[j])
				TH_LOG("counters %d and %d share id %d", i, j,
				       ids[i]);
	/* An id is reused only once its counter is gone. */
	close(fds[0]);
	fds[0] = create_counter(variant->is_evq, 0, EFD_CLOEXEC);
	ASSERT_LE(0, fds[0]);
	ids[0] = fdinfo_id(fds[0]);
	for (j = 1; j < n; j++)
		EXPECT_NE(ids[0], ids[j]) TH_LOG("new counter has id %d of an open one",
						 ids[0]);
	for (i = 0; i < n; i++)
		close(fds[i]);
}

/* ---- lifetime ------------------------------------------------------------ */

/* A /proc/meminfo field in kB, or -1. */
static long meminfo_kb(const char *key)
{
	char line[256];
	size_t klen = strlen(key);
	long kb = -1;
	FILE *f = fopen("/proc/meminfo", "re");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, key, klen) && line[klen] == ':') {
			kb = strtol(line + klen + 1, NULL, 10);
			break;
		}
	}
	fclose(f);
	return kb;
}

static int open_close_counters(bool is_evq, int n)
{
	int i, fd;

	for (i = 0; i < n; i++) {
		fd = create_counter(is_evq, (unsigned int)i, EFD_CLOEXEC);
		if (fd < 0)
			return -errno;
		close(fd);
	}
	return 0;
}

#define N_LIFETIME	100000
/*
 * Leaking one counter per open would grow the slab by N_LIFETIME objects of
 * at least 32 bytes (kmalloc-64 in practice): over 3 MB. Other activity in
 * the test VM is a few hundred kB at most.
 */
#define SLAB_TOLERANCE_KB	2048

/*
 * Open and close 100k counters after a warm-up round: unreclaimable slab
 * use (/proc/meminfo SUnreclaim, every cache) must come back to where it
 * was. Files and counters may be freed after an RCU grace period, so the
 * end value gets WAIT_MS to settle before it counts.
 */
TEST_F_TIMEOUT(counter, open_close_100k_no_slab_growth, 600)
{
	int64_t deadline;
	long before, after;

	ASSERT_EQ(0, open_close_counters(variant->is_evq, N_LIFETIME / 10));
	sleep_ms(SETTLE_MS);
	before = meminfo_kb("SUnreclaim");
	ASSERT_LT(0, before) TH_LOG("no SUnreclaim in /proc/meminfo");
	ASSERT_EQ(0, open_close_counters(variant->is_evq, N_LIFETIME));
	deadline = now_ms() + WAIT_MS;
	do {
		after = meminfo_kb("SUnreclaim");
		if (after - before <= SLAB_TOLERANCE_KB)
			break;
		sleep_ms(100);
	} while (now_ms() < deadline);
	EXPECT_GE(SLAB_TOLERANCE_KB, after - before)
		TH_LOG("SUnreclaim %ld kB before, %ld kB after %d counters",
		       before, after, N_LIFETIME);
	TH_LOG("SUnreclaim %ld kB before, %ld kB after %d counters", before,
	       after, N_LIFETIME);
}

/* ---- concurrency --------------------------------------------------------- */

#define N_WRITERS	4
#define N_READERS	4
#define N_EACH		3000

struct sum_shared {
	int fd;
	bool semaphore;
	atomic_ullong written;
	atomic_ullong read;
	atomic_ullong reads;	/* successful reads */
	atomic_bool writers_done;
	atomic_int errors;
};

static void *sum_writer_fn(void *arg)
{
	struct sum_shared *sh = arg;
	uint64_t i;

	for (i = 0; i < N_EACH; i++) {
		uint64_t v = i % 5;	/* 0 too: a write of 0 counts */

		if (write_u64(sh->fd, v) == 8)
			atomic_fetch_add(&sh->written, v);
		else
			atomic_fetch_add(&sh->errors, 1);
	}
	return NULL;
}

static void *sum_reader_fn(void *arg)
{
	struct sum_shared *sh = arg;
	struct pollfd p = { .fd = sh->fd, .events = POLLIN };
	uint64_t v;

	for (;;) {
		bool done;
		long ret;

		if (poll(&p, 1, 20) < 0 && errno != EINTR)
			atomic_fetch_add(&sh->errors, 1);
		/* Before the read: EAGAIN then means nothing can come. */
		done = atomic_load(&sh->writers_done);
		ret = read_u64(sh->fd, &v);
		if (ret == 8) {
			if (sh->semaphore && v != 1)
				atomic_fetch_add(&sh->errors, 1);
			atomic_fetch_add(&sh->read, v);
			atomic_fetch_add(&sh->reads, 1);
		} else if (ret != -EAGAIN) {
			atomic_fetch_add(&sh->errors, 1);
		} else if (done) {
			/* EAGAIN after the last write: all is read. */
			break;
		}
	}
	return NULL;
}

/*
 * N writers and M readers on one non-blocking counter: the sum of what the
 * readers got equals the sum of what the writers wrote, and the counter is
 * empty at the end.
 */
static void writers_readers(struct __test_metadata *_metadata, int fd,
			    bool semaphore)
{
	pthread_t w[N_WRITERS], r[N_READERS];
	struct sum_shared sh = { .fd = fd, .semaphore = semaphore };
	int i;

	atomic_init(&sh.written, 0);
	atomic_init(&sh.read, 0);
	atomic_init(&sh.reads, 0);
	atomic_init(&sh.writers_done, false);
	atomic_init(&sh.errors, 0);
	for (i = 0; i < N_READERS; i++)
		ASSERT_EQ(0, pthread_create(&r[i], NULL, sum_reader_fn, &sh));
	for (i = 0; i < N_WRITERS; i++)
		ASSERT_EQ(0, pthread_create(&w[i], NULL, sum_writer_fn, &sh));
	for (i = 0; i < N_WRITERS; i++)
		pthread_join(w[i], NULL);
	atomic_store(&sh.writers_done, true);
	for (i = 0; i < N_READERS; i++)
		pthread_join(r[i], NULL);
	EXPECT_EQ(0, atomic_load(&sh.errors));
	EXPECT_EQ(atomic_load(&sh.written), atomic_load(&sh.read))
		TH_LOG("%llu reads", (unsigned long long)atomic_load(&sh.reads));
	if (semaphore) {
		EXPECT_EQ(atomic_load(&sh.read), atomic_load(&sh.reads));
	}
	EXPECT_EQ(POLLOUT, poll_mask(fd)) TH_LOG("count left over");
}

TEST_F_TIMEOUT(counter, writers_readers_sum_plain, 300)
{
	writers_readers(_metadata, NEW_COUNTER(0, EFD_NONBLOCK), false);
}

TEST_F_TIMEOUT(counter, writers_readers_sum_semaphore, 300)
{
	writers_readers(_metadata,
			NEW_COUNTER(0, EFD_NONBLOCK | EFD_SEMAPHORE), true);
}

/* ---- EVQ_IOC_SETUP: evq only --------------------------------------------- */

FIXTURE(evq_ioctl) {
	int fd;		/* fresh /dev/evq counter, O_NONBLOCK, not set up */
};

FIXTURE_VARIANT(evq_ioctl) {
	const char *device;	/* EVQ_DEVICE overrides it, as in libevq */
};

FIXTURE_VARIANT_ADD(evq_ioctl, evq) {
	.device = EVQ_DEVICE_PATH,
};

/* Open a fresh, non-blocking counter; ASSERTs that it worked. */
static int open_evq(struct __test_metadata *_metadata,
		    const FIXTURE_VARIANT(evq_ioctl) *variant)
{
	const char *env = getenv("EVQ_DEVICE");
	const char *path = env && *env ? env : variant->device;
	int fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	int err = errno;

	ASSERT_LE(0, fd) TH_LOG("open(%s): %s; is the evq module loaded?",
				path, strerror(err));
	return fd;
}

FIXTURE_SETUP(evq_ioctl)
{
	self->fd = -1;
	if (evq_is_native())
		SKIP(return,
		     "EVQ_TEST_EVQ_IS_NATIVE=1: EVQ_IOC_SETUP exists only on /dev/evq");
	self->fd = open_evq(_metadata, variant);
}

FIXTURE_TEARDOWN(evq_ioctl)
{
	if (self->fd >= 0)
		close(self->fd);
}

/* The counter was not consumed: a valid setup still works and sticks. */
static void expect_fresh(struct __test_metadata *_metadata, int fd)
{
	uint64_t v;
	long ret;

	ret = evq_setup(fd, 5, 0, 0);
	EXPECT_EQ(0, ret) TH_LOG("valid setup after a failed one: %s",
				 errstr(ret));
	ret = read_u64(fd, &v);
	EXPECT_EQ(8, ret) TH_LOG("read: %s", errstr(ret));
	EXPECT_EQ(5ULL, v);
}

TEST_F(evq_ioctl, setup_unknown_flags_einval)
{
	static const uint32_t bad[] = { 2, 0x80000000, EVQ_SEMAPHORE | 4 };
	size_t i;
	long ret;

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		ret = evq_setup(self->fd, 1, bad[i], 0);
		EXPECT_EQ(-EINVAL, ret) TH_LOG("flags %#x: %s", bad[i],
					       errstr(ret));
	}
	expect_fresh(_metadata, self->fd);
}

TEST_F(evq_ioctl, setup_nonzero_pad_einval)
{
	static const uint32_t bad[] = { 1, 0x80000000 };
	size_t i;
	long ret;

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		ret = evq_setup(self->fd, 1, 0, bad[i]);
		EXPECT_EQ(-EINVAL, ret) TH_LOG("pad %#x: %s", bad[i],
					       errstr(ret));
	}
	expect_fresh(_metadata, self->fd);
}

TEST_F(evq_ioctl, setup_initval_over_max_einval)
{
	long ret;

	ret = evq_setup(self->fd, EVQ_COUNT_MAX + 1, 0, 0);
	EXPECT_EQ(-EINVAL, ret) TH_LOG("initval ULLONG_MAX: %s", errstr(ret));
	expect_fresh(_metadata, self->fd);
}

TEST_F(evq_ioctl, setup_bad_pointer_efault)
{
	long page = sysconf(_SC_PAGESIZE);
	unsigned char *map;
	long ret;

	ret = ret_or_errno(ioctl(self->fd, EVQ_IOC_SETUP, NULL));
	EXPECT_EQ(-EFAULT, ret) TH_LOG("NULL: %s", errstr(ret));

	/* Two pages, the second unmapped: the struct straddles the hole. */
	map = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, map);
	ASSERT_EQ(0, munmap(map + page, page));
	memset(map, 0, page);
	ret = ret_or_errno(ioctl(self->fd, EVQ_IOC_SETUP, map + page - 8));
	EXPECT_EQ(-EFAULT, ret) TH_LOG("half-mapped struct: %s", errstr(ret));
	ret = ret_or_errno(ioctl(self->fd, EVQ_IOC_SETUP, map + page));
	EXPECT_EQ(-EFAULT, ret) TH_LOG("unmapped struct: %s", errstr(ret));
	munmap(map, page);

	expect_fresh(_metadata, self->fd);
}

TEST_F(evq_ioctl, setup_twice_ebusy)
{
	uint64_t v;
	long ret;

	ret = evq_setup(self->fd, 0, 0, 0);
	ASSERT_EQ(0, ret) TH_LOG("first setup: %s", errstr(ret));
	ret = evq_setup(self->fd, 1, EVQ_SEMAPHORE, 0);
	EXPECT_EQ(-EBUSY, ret) TH_LOG("second setup: %s", errstr(ret));
	/* The second setup changed nothing: count 0, not a semaphore. */
	EXPECT_EQ(-EAGAIN, read_u64(self->fd, &v));
	ASSERT_EQ(8, write_u64(self->fd, 2));
	ASSERT_EQ(8, read_u64(self->fd, &v));
	EXPECT_EQ(2ULL, v);
}

TEST_F(evq_ioctl, setup_after_nonzero_write_ebusy)
{
	uint64_t v;
	long ret;

	ASSERT_EQ(8, write_u64(self->fd, 1));
	ret = evq_setup(self->fd, 5, EVQ_SEMAPHORE, 0);
	EXPECT_EQ(-EBUSY, ret) TH_LOG("setup at count 1: %s", errstr(ret));
	ASSERT_EQ(8, read_u64(self->fd, &v));
	EXPECT_EQ(1ULL, v);
}

TEST_F(evq_ioctl, setup_initval_reads_back)
{
	static const uint64_t vals[] = {
		1, 0xffffffffULL, 0x100000000ULL, EVQ_COUNT_MAX,
	};
	uint64_t v;
	size_t i;
	long ret;

	for (i = 0; i < ARRAY_SIZE(vals); i++) {
		int fd = open_evq(_metadata, variant);

		ret = evq_setup(fd, vals[i], 0, 0);
		EXPECT_EQ(0, ret) TH_LOG("initval %#llx: %s",
					 (unsigned long long)vals[i],
					 errstr(ret));
		ret = read_u64(fd, &v);
		EXPECT_EQ(8, ret) TH_LOG("read: %s", errstr(ret));
		EXPECT_EQ(vals[i], v);
		EXPECT_EQ(-EAGAIN, read_u64(fd, &v));
		close(fd);
	}
}

TEST_F(evq_ioctl, setup_semaphore)
{
	char info[4096], tap[8192], line[256];
	uint64_t v;
	long ret;
	int i;

	ret = evq_setup(self->fd, 3, EVQ_SEMAPHORE, 0);
	ASSERT_EQ(0, ret) TH_LOG("setup: %s", errstr(ret));
	ASSERT_LT(0, read_fdinfo(self->fd, info, sizeof(info)));
	fdinfo_line(info, "eventfd-semaphore:", line, sizeof(line));
	EXPECT_STREQ("eventfd-semaphore: 1", line)
		TH_LOG("fdinfo:\n# %s", tap_lines(info, tap, sizeof(tap)));
	for (i = 0; i < 3; i++) {
		ret = read_u64(self->fd, &v);
		ASSERT_EQ(8, ret) TH_LOG("read %d: %s", i, errstr(ret));
		EXPECT_EQ(1ULL, v);
	}
	EXPECT_EQ(-EAGAIN, read_u64(self->fd, &v));
}

TEST_F(evq_ioctl, setup_wrong_encoding_enotty)
{
	const unsigned long cmds[] = {
		_IO(EVQ_IOC_MAGIC, 0x00),
		_IOR(EVQ_IOC_MAGIC, 0x00, struct evq_setup),
		_IOWR(EVQ_IOC_MAGIC, 0x00, struct evq_setup),
		_IOW(EVQ_IOC_MAGIC, 0x00, __u64),
	};
	struct evq_setup setup = { .initval = 1 };
	size_t i;
	long ret;

	for (i = 0; i < ARRAY_SIZE(cmds); i++) {
		ret = ret_or_errno(ioctl(self->fd, cmds[i], &setup));
		EXPECT_EQ(-ENOTTY, ret) TH_LOG("cmd %#lx: %s", cmds[i],
					       errstr(ret));
	}
	expect_fresh(_metadata, self->fd);
}

TEST_HARNESS_MAIN
