// SPDX-License-Identifier: GPL-2.0
/*
 * evq_modes_test - the factory (EVQ_IOC_CREATE), the maximum
 * (EVQ_MAXIMUM, EVQ_IOC_SET_MAXIMUM), wake-one readers (EVQ_WAKE_ONE) and
 * bit mode (EVQ_BITS).
 *
 * Every mode is made both ways: variant "setup" opens /dev/evq and calls
 * EVQ_IOC_SET_MAXIMUM and EVQ_IOC_SETUP, variant "factory" calls
 * EVQ_IOC_CREATE on an open /dev/evq; the test bodies are the same.
 *
 *   mode.*        what every mode must still do as an eventfd: read/write,
 *                 blocking read woken by a write, EINTR, epoll LT and ET,
 *                 poll, select, dup/fork/SCM_RIGHTS, GET_INFO and fdinfo
 *   maximum.*     flow control: EAGAIN and blocking writes, EPOLLOUT iff
 *                 the count is below the maximum, raising and lowering it
 *   wake_one.*    a write wakes only as many readers as it can serve;
 *                 pollers are still woken by every write; a signal that
 *                 hits the chosen reader, or a bad buffer, loses nothing
 *   bits.*        writes OR, reads take and clear every bit, never EPOLLERR
 *   factory_*, create_*, setup_*, set_maximum_*, unknown_ioctls_*:
 *                 the new file's properties, and bad input that must
 *                 change nothing (no descriptor, no state)
 *
 * Setup fails, never skips, when /dev/evq cannot be opened.
 *
 * Timing: nothing passes or fails on how long something took. Waiter
 * counts (EVQ_IOC_GET_INFO) are polled until they reach the expected value
 * or WAIT_MS pass; "still blocked" is looked at after SETTLE_MS. Every
 * thread that may block is released with SIGUSR1 (no SA_RESTART) before it
 * is joined, so no case can hang.
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
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/evq.h>

#include "evq_ksft_common.h"
#include "kselftest_harness.h"

#define EVQ_DEV		"/dev/evq"

/* Wake-one: readers blocked at once. */
#define NR_READERS	6

/* The lost-wake-up race: readers, rounds, and the time caps. */
#define RACE_READERS	4
#define RACE_ROUNDS	2000
#define RACE_CAP_MS	20000
#define RACE_LOST_MS	2000

/* ---- small helpers ------------------------------------------------------- */

static long get_info(int fd, struct evq_info *info)
{
	memset(info, 0xa5, sizeof(*info));
	return ret_or_errno(ioctl(fd, EVQ_IOC_GET_INFO, info));
}

static long set_maximum(int fd, uint64_t maximum)
{
	return ret_or_errno(ioctl(fd, EVQ_IOC_SET_MAXIMUM, &maximum));
}

static long setup(int fd, uint64_t initval, uint32_t flags)
{
	struct evq_setup s = { .initval = initval, .flags = flags };

	return ret_or_errno(ioctl(fd, EVQ_IOC_SETUP, &s));
}

static long set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0)
		return -errno;
	return ret_or_errno(fcntl(fd, F_SETFL, fl | O_NONBLOCK));
}

/*
 * An address with no page behind it: the middle of three pages mapped,
 * then unmapped. The two others stay, so that no later mapping (a thread's
 * stack, say) can fill the hole.
 */
static void *unmapped_page(void)
{
	char *p = mmap(NULL, 3 * (size_t)4096, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	munmap(p + 4096, 4096);
	return p + 4096;
}

static void sleep_ms(int ms)
{
	sleep_us((long)ms * 1000);
}

/*
 * The first two CPUs this thread may run on, into @cpus: how many there
 * are (at most 2), or -errno.
 */
static int two_cpus(int cpus[2])
{
	cpu_set_t set;
	int cpu, n = 0;

	cpus[0] = 0;
	cpus[1] = 0;
	if (sched_getaffinity(0, sizeof(set), &set))
		return -errno;
	for (cpu = 0; cpu < CPU_SETSIZE && n < 2; cpu++)
		if (CPU_ISSET(cpu, &set))
			cpus[n++] = cpu;
	return n;
}

/*
 * Run the calling thread on @cpu only; threads it starts later inherit
 * that. Each test runs in a process of its own, so it ends with the test.
 */
static int pin_to(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set) ? -errno : 0;
}

/* /proc/self/fdinfo/@fd into @buf (NUL-terminated); length or -errno. */
static long read_fdinfo(int fd, char *buf, size_t size)
{
	char path[64];
	long n;
	int f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = open(path, O_RDONLY | O_CLOEXEC);
	if (f < 0)
		return -errno;
	n = ret_or_errno(read(f, buf, size - 1));
	close(f);
	buf[n > 0 ? n : 0] = '\0';
	return n;
}

static long module_refcnt(void)
{
	return proc_long("/sys/module/evq/refcnt", "%ld");
}

/*
 * A counter with mode @flags, maximum @maximum (0: the default) and
 * initial count @initval: from open(2) and the setup ioctls, or from
 * EVQ_IOC_CREATE on @dev. Returns the descriptor or -errno.
 */
static int make_counter(int dev, bool factory, uint32_t flags,
			uint64_t maximum, uint64_t initval)
{
	struct evq_create c = {
		.initval = initval,
		.maximum = maximum,
		.flags = flags | EVQ_CLOEXEC | (maximum ? EVQ_MAXIMUM : 0),
	};
	long ret;
	int fd;

	if (factory)
		return (int)ret_or_errno(ioctl(dev, EVQ_IOC_CREATE, &c));
	fd = open(EVQ_DEV, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ret = maximum ? set_maximum(fd, maximum) : 0;
	if (!ret)
		ret = setup(fd, initval, flags);
	if (ret) {
		close(fd);
		return (int)ret;
	}
	return fd;
}

/*
 * GET_INFO until @field (readers or writers) is @want or WAIT_MS pass;
 * the last value seen, or -errno.
 */
static long wait_waiters(int fd, bool writers, uint32_t want)
{
	int64_t end = now_ms() + WAIT_MS;
	struct evq_info info;
	long ret;

	for (;;) {
		ret = get_info(fd, &info);
		if (ret)
			return ret;
		ret = writers ? info.writers : info.readers;
		if (ret == want || now_ms() > end)
			return ret;
		sleep_us(1000);
	}
}

static uint64_t count_of(int fd)
{
	struct evq_info info;

	if (get_info(fd, &info))
		return POISON;
	return info.count;
}

/* ---- threads that block -------------------------------------------------- */

/* SIGUSR1 interrupts a blocked call and tells a racer it came. */
struct racer;
static _Thread_local struct racer *racer_self;
static void racer_signalled(struct racer *r);

static void on_sigusr1(int sig)
{
	(void)sig;
	if (racer_self)
		racer_signalled(racer_self);
}

/* How many of the @n calls in @ops returned. */
static int ops_done(struct bg_call *ops, int n)
{
	int i, done = 0;

	for (i = 0; i < n; i++)
		done += atomic_load(&ops[i].done);
	return done;
}

/* What epoll_wait() reports now: the events, 0 for none, or -errno. */
static long epoll_now(int ep)
{
	struct epoll_event ev = { 0 };
	int n = epoll_wait(ep, &ev, 1, 0);

	if (n < 0)
		return -errno;
	return n ? (long)ev.events : 0;
}

/* ---- mode.*: every mode, both ways, still an eventfd ---------------------- */

FIXTURE(mode) {
	int dev;
	int fd;
};

FIXTURE_VARIANT(mode) {
	bool factory;
	uint32_t flags;
	uint64_t maximum;	/* 0: the default, EVQ_COUNT_MAX */
};

FIXTURE_VARIANT_ADD(mode, setup_maximum) {
	.factory = false, .maximum = 3,
};

FIXTURE_VARIANT_ADD(mode, factory_maximum) {
	.factory = true, .maximum = 3,
};

FIXTURE_VARIANT_ADD(mode, setup_semaphore_maximum) {
	.factory = false, .flags = EVQ_SEMAPHORE, .maximum = 3,
};

FIXTURE_VARIANT_ADD(mode, factory_semaphore_maximum) {
	.factory = true, .flags = EVQ_SEMAPHORE, .maximum = 3,
};

FIXTURE_VARIANT_ADD(mode, setup_wake_one) {
	.factory = false, .flags = EVQ_WAKE_ONE,
};

FIXTURE_VARIANT_ADD(mode, factory_wake_one) {
	.factory = true, .flags = EVQ_WAKE_ONE,
};

FIXTURE_VARIANT_ADD(mode, setup_semaphore_wake_one) {
	.factory = false, .flags = EVQ_SEMAPHORE | EVQ_WAKE_ONE,
};

FIXTURE_VARIANT_ADD(mode, factory_semaphore_wake_one) {
	.factory = true, .flags = EVQ_SEMAPHORE | EVQ_WAKE_ONE,
};

FIXTURE_VARIANT_ADD(mode, setup_bits) {
	.factory = false, .flags = EVQ_BITS,
};

FIXTURE_VARIANT_ADD(mode, factory_bits) {
	.factory = true, .flags = EVQ_BITS,
};

/*
 * The fixtures' common setup: /dev/evq as the factory, and a counter in
 * the variant's mode, made the variant's way.
 */
static void open_mode(struct __test_metadata *_metadata, int *dev, int *fd,
		      bool factory, uint32_t flags, uint64_t maximum)
{
	*fd = -1;
	*dev = open(EVQ_DEV, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, *dev) TH_LOG("open %s: %s (is evq loaded?)", EVQ_DEV,
				  strerror(errno));
	*fd = make_counter(*dev, factory, flags, maximum, 0);
	ASSERT_LE(0, *fd) TH_LOG("%s counter, flags %#x, maximum %llu: %s",
				 factory ? "EVQ_IOC_CREATE" : "SETUP",
				 flags, (unsigned long long)maximum,
				 errstr(*fd));
	ASSERT_EQ(0, sigusr1_interrupts(on_sigusr1));
}

static void close_mode(int dev, int fd)
{
	if (fd >= 0)
		close(fd);
	if (dev >= 0)
		close(dev);
}

FIXTURE_SETUP(mode)
{
	open_mode(_metadata, &self->dev, &self->fd, variant->factory,
		  variant->flags, variant->maximum);
}

FIXTURE_TEARDOWN(mode)
{
	close_mode(self->dev, self->fd);
}

TEST_F(mode, info_and_fdinfo_report_mode_and_maximum)
{
	uint64_t max = variant->maximum ? variant->maximum : EVQ_COUNT_MAX;
	struct evq_info info;
	char buf[512], line[64];
	long ret;

	ASSERT_EQ(0, get_info(self->fd, &info));
	EXPECT_EQ(variant->flags, info.flags);
	EXPECT_EQ(max, info.maximum);
	EXPECT_EQ(0ULL, info.count);

	ret = read_fdinfo(self->fd, buf, sizeof(buf));
	ASSERT_LT(0, ret) TH_LOG("fdinfo: %s", errstr(ret));
	snprintf(line, sizeof(line), "eventfd-semaphore: %d\n",
		 !!(variant->flags & EVQ_SEMAPHORE));
	EXPECT_NE(NULL, strstr(buf, line)) TH_LOG("no '%s' in:\n%s", line, buf);
	snprintf(line, sizeof(line), "evq-maximum: %llu\n",
		 (unsigned long long)variant->maximum);
	EXPECT_EQ(!!variant->maximum, !!strstr(buf, "evq-maximum:"))
		TH_LOG("evq-maximum line expected iff a maximum is set:\n%s",
		       buf);
	EXPECT_EQ(!!variant->maximum, !!strstr(buf, line))
		TH_LOG("'%s' expected iff a maximum is set:\n%s", line, buf);
	EXPECT_EQ(!!(variant->flags & EVQ_WAKE_ONE),
		  !!strstr(buf, "evq-wake-one: 1\n")) TH_LOG("fdinfo:\n%s", buf);
	EXPECT_EQ(!!(variant->flags & EVQ_BITS),
		  !!strstr(buf, "evq-bits: 1\n")) TH_LOG("fdinfo:\n%s", buf);
	EXPECT_NE(NULL, strstr(buf, "eventfd-count:                0\n"))
		TH_LOG("count line of a fresh counter:\n%s", buf);
}

TEST_F(mode, write_then_read_returns_value)
{
	uint64_t v;

	ASSERT_EQ(8, write_u64(self->fd, 1));
	ASSERT_EQ(8, read_u64(self->fd, &v));
	EXPECT_EQ(1ULL, v);
	EXPECT_EQ(0ULL, count_of(self->fd));
}

TEST_F(mode, blocking_read_woken_by_write)
{
	struct bg_call op = { 0 };

	ASSERT_EQ(0, bg_start(&op, BG_READ, self->fd, 0));
	EXPECT_EQ(1, wait_waiters(self->fd, false, 1));
	sleep_ms(SETTLE_MS);
	EXPECT_FALSE(atomic_load(&op.done)) TH_LOG("read returned %ld at 0",
						   op.ret);
	EXPECT_EQ(8, write_u64(self->fd, 1));
	EXPECT_TRUE(bg_wait(&op, WAIT_MS)) TH_LOG("write did not wake reader");
	ASSERT_TRUE(bg_finish(&op));
	EXPECT_EQ(8, op.ret) TH_LOG("read: %s", errstr(op.ret));
	EXPECT_EQ(1ULL, op.val);
}

TEST_F(mode, signal_interrupts_blocked_read_with_eintr)
{
	struct bg_call op = { 0 };

	ASSERT_EQ(0, bg_start(&op, BG_READ, self->fd, 0));
	EXPECT_EQ(1, wait_waiters(self->fd, false, 1));
	pthread_kill(op.th, SIGUSR1);
	EXPECT_TRUE(bg_wait(&op, WAIT_MS)) TH_LOG("signal did not interrupt");
	ASSERT_TRUE(bg_finish(&op));
	EXPECT_EQ(-EINTR, op.ret) TH_LOG("read: %s", errstr(op.ret));
	EXPECT_EQ(0, wait_waiters(self->fd, false, 0));
	EXPECT_EQ(0ULL, count_of(self->fd));
}

TEST_F(mode, epoll_level_triggered_reports_in_until_read)
{
	int ep = epoll_on(self->fd, EPOLLIN);
	uint64_t v;

	ASSERT_LE(0, ep);
	EXPECT_EQ(0, epoll_now(ep));
	ASSERT_EQ(8, write_u64(self->fd, 1));
	EXPECT_EQ(EPOLLIN, epoll_now(ep));
	EXPECT_EQ(EPOLLIN, epoll_now(ep)) TH_LOG("level-triggered: again");
	ASSERT_EQ(8, read_u64(self->fd, &v));
	EXPECT_EQ(0, epoll_now(ep));
	close(ep);
}

TEST_F(mode, epoll_edge_triggered_reports_each_write)
{
	int ep = epoll_on(self->fd, EPOLLIN | EPOLLET);

	ASSERT_LE(0, ep);
	EXPECT_EQ(0, epoll_now(ep));
	ASSERT_EQ(8, write_u64(self->fd, 1));
	EXPECT_EQ(EPOLLIN, epoll_now(ep));
	EXPECT_EQ(0, epoll_now(ep)) TH_LOG("edge-triggered: no second event");
	ASSERT_EQ(8, write_u64(self->fd, 1));
	EXPECT_EQ(EPOLLIN, epoll_now(ep)) TH_LOG("second write, no event");
	close(ep);
}

TEST_F(mode, poll_reports_in_after_write_and_wakes_poller)
{
	struct bg_call op = { 0 };

	EXPECT_EQ(POLLOUT, poll_now(self->fd));
	ASSERT_EQ(0, bg_start(&op, BG_POLL, self->fd, 0));
	sleep_ms(SETTLE_MS);
	EXPECT_FALSE(atomic_load(&op.done));
	ASSERT_EQ(8, write_u64(self->fd, 1));
	EXPECT_TRUE(bg_wait(&op, WAIT_MS)) TH_LOG("poller not woken");
	ASSERT_TRUE(bg_finish(&op));
	EXPECT_EQ(1, op.ret);
	EXPECT_EQ(POLLIN, op.events);
	EXPECT_EQ(POLLIN | POLLOUT, poll_now(self->fd));
}

TEST_F(mode, select_reports_readable_after_write)
{
	EXPECT_EQ(2, select_now(self->fd)) TH_LOG("1 readable, 2 writable");
	ASSERT_EQ(8, write_u64(self->fd, 1));
	EXPECT_EQ(3, select_now(self->fd)) TH_LOG("1 readable, 2 writable");
}

TEST_F(mode, dup_fork_and_scm_rights_share_the_counter)
{
	char cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
	struct iovec iov = { .iov_base = cbuf, .iov_len = 1 };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *cm;
	int sv[2], d, got = -1, status;
	uint64_t v;
	pid_t pid;

	d = dup(self->fd);
	ASSERT_LE(0, d);
	ASSERT_EQ(8, write_u64(d, 1));
	ASSERT_EQ(8, read_u64(self->fd, &v));
	EXPECT_EQ(1ULL, v) TH_LOG("through dup()");
	close(d);

	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid)
		_exit(write_u64(self->fd, 1) == 8 ? 0 : 1);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_EQ(0, status) TH_LOG("child's write failed");
	ASSERT_EQ(8, read_u64(self->fd, &v));
	EXPECT_EQ(1ULL, v) TH_LOG("written by a forked child");

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
	cm = CMSG_FIRSTHDR(&msg);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &self->fd, sizeof(int));
	iov.iov_base = "x";
	ASSERT_EQ(1, sendmsg(sv[0], &msg, 0));
	memset(cbuf, 0, sizeof(cbuf));
	iov.iov_base = &v;
	msg.msg_controllen = sizeof(cbuf);
	ASSERT_EQ(1, recvmsg(sv[1], &msg, MSG_CMSG_CLOEXEC));
	cm = CMSG_FIRSTHDR(&msg);
	ASSERT_NE(NULL, cm);
	memcpy(&got, CMSG_DATA(cm), sizeof(int));
	ASSERT_LE(0, got);
	ASSERT_EQ(8, write_u64(got, 1));
	ASSERT_EQ(8, read_u64(self->fd, &v));
	EXPECT_EQ(1ULL, v) TH_LOG("through SCM_RIGHTS");
	close(got);
	close(sv[0]);
	close(sv[1]);
}

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

/* ---- wake_one.*: a write wakes as many readers as it can serve ----------- */

FIXTURE(wake_one) {
	int dev;
	int fd;
};

FIXTURE_VARIANT(wake_one) {
	bool factory;
};

FIXTURE_VARIANT_ADD(wake_one, setup) {
	.factory = false,
};

FIXTURE_VARIANT_ADD(wake_one, factory) {
	.factory = true,
};

FIXTURE_SETUP(wake_one)
{
	open_mode(_metadata, &self->dev, &self->fd, variant->factory,
		  EVQ_WAKE_ONE, 0);
}

FIXTURE_TEARDOWN(wake_one)
{
	close_mode(self->dev, self->fd);
}

/*
 * NR_READERS readers blocked on @fd; a write of @n must complete exactly
 * @served reads, the others stay blocked (GET_INFO readers agrees).
 */
static void write_completes_exactly(struct __test_metadata *_metadata,
				    int fd, uint64_t n, int served)
{
	struct bg_call ops[NR_READERS] = { 0 };
	int i, done, bad;

	for (i = 0; i < NR_READERS; i++)
		ASSERT_EQ(0, bg_start(&ops[i], BG_READ, fd, 0));
	EXPECT_EQ(NR_READERS, wait_waiters(fd, false, NR_READERS));
	ASSERT_EQ(8, write_u64(fd, n));
	for (i = 0; i < WAIT_MS && ops_done(ops, NR_READERS) < served; i++)
		sleep_us(1000);
	sleep_ms(SETTLE_MS);
	done = ops_done(ops, NR_READERS);
	EXPECT_EQ(served, done) TH_LOG("reads completed by a write of %llu",
				       (unsigned long long)n);
	EXPECT_EQ(NR_READERS - served,
		  wait_waiters(fd, false, NR_READERS - served))
		TH_LOG("GET_INFO readers still blocked");
	EXPECT_EQ(0ULL, count_of(fd));
	for (i = 0, bad = -1; i < NR_READERS; i++)
		if (atomic_load(&ops[i].done) && ops[i].ret != 8)
			bad = i;
	EXPECT_EQ(-1, bad) TH_LOG("reader %d: %s", bad,
				  errstr(bad < 0 ? 0 : ops[bad].ret));
	/* Release the rest (each write of 1 serves one) and join. */
	for (i = 0; i < NR_READERS - done; i++)
		EXPECT_EQ(8, write_u64(fd, 1));
	for (i = 0; i < NR_READERS; i++)
		EXPECT_TRUE(bg_finish(&ops[i]));
}

TEST_F(wake_one, write_of_one_completes_exactly_one_read)
{
	write_completes_exactly(_metadata, self->fd, 1, 1);
}

TEST_F(wake_one, write_of_five_completes_exactly_one_read)
{
	write_completes_exactly(_metadata, self->fd, 5, 1);
}

TEST_F(wake_one, semaphore_write_of_k_completes_exactly_k_reads)
{
	int sem = make_counter(self->dev, variant->factory,
			       EVQ_SEMAPHORE | EVQ_WAKE_ONE, 0, 0);

	ASSERT_LE(0, sem) TH_LOG("semaphore wake-one counter: %s",
				 errstr(sem));
	write_completes_exactly(_metadata, sem, 3, 3);
	close(sem);
}

TEST_F(wake_one, every_poller_woken_by_every_write)
{
	struct bg_call ops[4] = { 0 };
	int ep[2], i;
	uint64_t v;

	for (i = 0; i < 2; i++) {
		ep[i] = epoll_on(self->fd, EPOLLIN);
		ASSERT_LE(0, ep[i]);
	}
	for (int round = 0; round < 2; round++) {
		for (i = 0; i < 2; i++) {
			ASSERT_EQ(0, bg_start(&ops[i], BG_EPOLL, ep[i], 0));
			ASSERT_EQ(0, bg_start(&ops[2 + i], BG_POLL, self->fd, 0));
		}
		sleep_ms(SETTLE_MS);
		EXPECT_EQ(0, ops_done(ops, 4)) TH_LOG("a poller woke at 0");
		ASSERT_EQ(8, write_u64(self->fd, 1));
		for (i = 0; i < 4; i++) {
			EXPECT_TRUE(bg_wait(&ops[i], WAIT_MS))
				TH_LOG("round %d: %s waiter %d not woken",
				       round, i < 2 ? "epoll" : "poll", i % 2);
			ASSERT_TRUE(bg_finish(&ops[i]));
			EXPECT_EQ(1, ops[i].ret);
			EXPECT_EQ(POLLIN, ops[i].events & POLLIN);
		}
		ASSERT_EQ(8, read_u64(self->fd, &v));
	}
	close(ep[0]);
	close(ep[1]);
}

/*
 * Which reader a write of 1 wakes: @first blocks on CPU @cpu_first, then
 * @last on CPU @cpu_last, and the write comes from CPU @cpu_write. The
 * reader woken must be @want (the other stays blocked until a second
 * write); @why says why it is the one.
 */
static void expect_woken(struct __test_metadata *_metadata, int fd,
			 int cpu_first, int cpu_last, int cpu_write,
			 bool want_first, const char *why)
{
	struct bg_call r[2] = { 0 };
	struct bg_call *want = &r[!want_first], *other = &r[want_first];
	int i, cpus[2] = { cpu_first, cpu_last };

	for (i = 0; i < 2; i++) {
		ASSERT_EQ(0, pin_to(cpus[i]));
		ASSERT_EQ(0, bg_start(&r[i], BG_READ, fd, 0));
		ASSERT_EQ(i + 1, wait_waiters(fd, false, i + 1));
	}
	ASSERT_EQ(0, pin_to(cpu_write));
	ASSERT_EQ(8, write_u64(fd, 1));
	EXPECT_TRUE(bg_wait(want, WAIT_MS))
		TH_LOG("expected the reader that blocked %s (%s) to be woken; it is still blocked",
		       want_first ? "first" : "last", why);
	sleep_ms(SETTLE_MS);
	EXPECT_FALSE(atomic_load(&other->done))
		TH_LOG("expected the reader that blocked %s to stay blocked, the other one chosen (%s); it returned %s",
		       want_first ? "last" : "first", why, errstr(other->ret));
	ASSERT_EQ(8, write_u64(fd, 1));
	EXPECT_TRUE(bg_wait(other, WAIT_MS)) TH_LOG("the second write woke nobody");
	for (i = 0; i < 2; i++) {
		ASSERT_TRUE(bg_finish(&r[i]));
		EXPECT_EQ(8, r[i].ret) TH_LOG("reader %d: %s", i, errstr(r[i].ret));
		EXPECT_EQ(1ULL, r[i].val);
	}
}

/*
 * A reader that last ran on the writer's CPU is woken before the most
 * recent sleeper elsewhere: it will most likely run right there, where the
 * writer's data is warm, instead of being woken on another CPU.
 */
TEST_F(wake_one, reader_last_on_writers_cpu_is_woken_first)
{
	int cpus[2];

	if (two_cpus(cpus) < 2)
		SKIP(return, "one CPU only: every reader last ran on the writer's");
	expect_woken(_metadata, self->fd, cpus[0], cpus[1], cpus[0], true,
		     "it last ran on the writer's CPU");
}

/* With no reader on the writer's CPU, the most recent sleeper goes first. */
TEST_F(wake_one, readers_elsewhere_most_recent_sleeper_is_woken_first)
{
	int cpus[2];

	if (two_cpus(cpus) < 2)
		SKIP(return, "one CPU only: every reader last ran on the writer's");
	expect_woken(_metadata, self->fd, cpus[1], cpus[1], cpus[0], false,
		     "LIFO, none on the writer's CPU");
}

/* Every reader on the writer's CPU: the most recent sleeper goes first. */
TEST_F(wake_one, readers_on_writers_cpu_most_recent_sleeper_is_woken_first)
{
	int cpus[2];

	ASSERT_LE(1, two_cpus(cpus));
	expect_woken(_metadata, self->fd, cpus[0], cpus[0], cpus[0], false,
		     "LIFO, all on the writer's CPU");
}

/*
 * The EFAULT pass-on: reader B blocks first with a good buffer; reader A
 * blocks second, its buffer in an unmapped page. Everything runs on one
 * CPU, so a write of 1 picks A (the most recent sleeper), which cannot
 * store it: A fails with EFAULT and must pass the wake-up on, so that B
 * reads the 1.
 */
TEST_F(wake_one, efault_reader_passes_wakeup_to_next_reader)
{
	struct bg_call a = { 0 }, b = { 0 };
	int cpus[2];

	ASSERT_LE(1, two_cpus(cpus));
	ASSERT_EQ(0, pin_to(cpus[0]));
	a.buf = unmapped_page();
	ASSERT_NE(NULL, a.buf);
	ASSERT_EQ(0, bg_start(&b, BG_READ, self->fd, 0));
	ASSERT_EQ(1, wait_waiters(self->fd, false, 1));
	ASSERT_EQ(0, bg_start(&a, BG_READ, self->fd, 0));
	ASSERT_EQ(2, wait_waiters(self->fd, false, 2));
	ASSERT_EQ(8, write_u64(self->fd, 1));
	EXPECT_TRUE(bg_wait(&a, WAIT_MS)) TH_LOG("the first reader not woken");
	EXPECT_TRUE(bg_wait(&b, RACE_LOST_MS))
		TH_LOG("lost wake-up: the second reader still blocked, count %llu",
		       (unsigned long long)count_of(self->fd));
	ASSERT_TRUE(bg_finish(&a));
	ASSERT_TRUE(bg_finish(&b));
	EXPECT_EQ(-EFAULT, a.ret) TH_LOG("bad buffer: %s", errstr(a.ret));
	EXPECT_EQ(8, b.ret) TH_LOG("good buffer: %s", errstr(b.ret));
	EXPECT_EQ(1ULL, b.val);
	EXPECT_EQ(0ULL, count_of(self->fd));
}

/*
 * The lost-wake-up race. RACE_READERS threads loop on read(2); a SIGUSR1
 * (no SA_RESTART) makes a read fail with EINTR, and a reader that gets
 * EINTR parks until the main thread lets it read again. Each round the
 * main thread waits until every reader is blocked, writes 1 and at once
 * signals the reader it expects the write to pick (odd rounds: see
 * race_head(); the readers alternate between two CPUs, the main thread
 * stays on the first) or every reader (even rounds). A chosen reader
 * that finds the count must take it, the signal notwithstanding: if it
 * left with EINTR instead, the 1 would stay with the other readers
 * asleep. Fails when a written value is not read within RACE_LOST_MS.
 */
struct racer {
	pthread_t th;
	int fd;
	int cpu;			/* the one it runs on */
	atomic_bool parked;
	atomic_bool release;
	atomic_bool exited;
	atomic_uint sigs;		/* SIGUSR1s handled */
	atomic_uint eintr;
	atomic_uint hits;		/* reads that got a value and a signal */
	atomic_ullong consumed;		/* sum of the values read */
	long err;			/* an unexpected read result */
};

static atomic_bool race_stop;

static void racer_signalled(struct racer *r)
{
	atomic_fetch_add(&r->sigs, 1);
}

static void *racer_main(void *arg)
{
	struct racer *r = arg;
	uint64_t v;
	ssize_t n;

	racer_self = r;
	if (pin_to(r->cpu)) {
		r->err = -errno;
		atomic_store(&r->exited, true);
		return NULL;
	}
	while (!atomic_load(&race_stop)) {
		unsigned int s0 = atomic_load(&r->sigs);

		n = read(r->fd, &v, sizeof(v));
		if (n == sizeof(v)) {
			atomic_fetch_add(&r->consumed, v);
			if (atomic_load(&r->sigs) != s0)
				atomic_fetch_add(&r->hits, 1);
			continue;
		}
		if (n < 0 && errno == EINTR) {
			atomic_fetch_add(&r->eintr, 1);
			atomic_store(&r->parked, true);
			while (!atomic_load(&r->release) &&
			       !atomic_load(&race_stop))
				sleep_us(100);
			atomic_store(&r->release, false);
			atomic_store(&r->parked, false);
			continue;
		}
		r->err = n < 0 ? -errno : n;
		break;
	}
	atomic_store(&r->exited, true);
	return NULL;
}

static uint64_t racers_consumed(struct racer *r)
{
	uint64_t sum = 0;
	int i;

	for (i = 0; i < RACE_READERS; i++)
		sum += atomic_load(&r[i].consumed);
	return sum;
}

static long race_readers(int fd)
{
	struct evq_info info;

	return get_info(fd, &info) ? -1 : (long)info.readers;
}

/*
 * Wait until every signal sent was handled and every racer is either
 * blocked in read(2) or parked; then let the parked ones read again, one
 * at a time, so that @order (the expected queue) stays right. False after
 * WAIT_MS.
 */
static bool race_settle(int fd, struct racer *r, const unsigned int *sent,
			int *order, int consumer)
{
	int64_t end = now_ms() + WAIT_MS;
	int i, j, n = 0, parked, next[RACE_READERS];

	for (;;) {
		bool handled = true;

		parked = 0;
		for (i = 0; i < RACE_READERS; i++) {
			handled &= atomic_load(&r[i].sigs) == sent[i];
			parked += atomic_load(&r[i].parked);
		}
		if (handled && race_readers(fd) + parked == RACE_READERS)
			break;
		if (now_ms() > end)
			return false;
		sleep_us(100);
	}
	/* Those still asleep keep their places, the reader served follows. */
	for (j = 0; j < RACE_READERS; j++) {
		i = order[j];
		if (i != consumer && !atomic_load(&r[i].parked))
			next[n++] = i;
	}
	if (consumer >= 0 && !atomic_load(&r[consumer].parked))
		next[n++] = consumer;
	for (i = 0; i < RACE_READERS; i++) {
		if (!atomic_load(&r[i].parked))
			continue;
		atomic_store(&r[i].release, true);
		while (race_readers(fd) < n + 1) {
			if (now_ms() > end)
				return false;
			sleep_us(100);
		}
		next[n++] = i;
	}
	memcpy(order, next, sizeof(next));
	return true;
}

/*
 * The reader a write from @cpu wakes, @order being the blocking order: the
 * one that blocked last of those on @cpu, else the one that blocked last.
 */
static int race_head(const struct racer *r, const int *order, int cpu)
{
	int j;

	for (j = RACE_READERS - 1; j >= 0; j--)
		if (r[order[j]].cpu == cpu)
			return order[j];
	return order[RACE_READERS - 1];
}

TEST_F_TIMEOUT(wake_one, signal_right_after_write_loses_no_wakeup, 90)
{
	struct racer r[RACE_READERS] = { 0 };
	unsigned int sent[RACE_READERS] = { 0 };
	uint64_t prev[RACE_READERS] = { 0 };
	int order[RACE_READERS];
	unsigned int eintr = 0, hits = 0;
	int64_t cap = now_ms() + RACE_CAP_MS, end;
	int i, round, consumer = -1, cpus[2], ncpus = two_cpus(cpus);
	bool lost = false;

	/* Readers alternate between two CPUs; the writer is on the first. */
	ASSERT_LE(1, ncpus);
	ASSERT_EQ(0, pin_to(cpus[0]));
	for (i = 0; i < RACE_READERS; i++) {
		r[i].fd = self->fd;
		r[i].cpu = cpus[i % ncpus];
		ASSERT_EQ(0, pthread_create(&r[i].th, NULL, racer_main, &r[i]));
		ASSERT_EQ(i + 1, wait_waiters(self->fd, false, i + 1));
		order[i] = i;
	}
	for (round = 0; round < RACE_ROUNDS && now_ms() < cap; round++) {
		int head;

		if (!race_settle(self->fd, r, sent, order, consumer)) {
			EXPECT_TRUE(false) TH_LOG("round %d: readers never all blocked again (readers %ld)",
						  round, race_readers(self->fd));
			break;
		}
		head = race_head(r, order, cpus[0]);
		ASSERT_EQ(8, write_u64(self->fd, 1));
		for (i = 0; i < RACE_READERS; i++) {
			if (round % 2 && i != head)
				continue;
			pthread_kill(r[i].th, SIGUSR1);
			sent[i]++;
		}
		end = now_ms() + RACE_LOST_MS;
		while (racers_consumed(r) != (uint64_t)round + 1 &&
		       now_ms() <= end)
			sleep_us(100);
		if (racers_consumed(r) != (uint64_t)round + 1) {
			int parked = 0;

			for (i = 0; i < RACE_READERS; i++)
				parked += atomic_load(&r[i].parked);
			EXPECT_EQ((uint64_t)round + 1, racers_consumed(r))
				TH_LOG("round %d: lost wake-up: count %llu left for %d ms with %ld readers asleep in read(2), %d parked after EINTR",
				       round,
				       (unsigned long long)count_of(self->fd),
				       RACE_LOST_MS, race_readers(self->fd),
				       parked);
			lost = true;
			break;
		}
		for (i = 0; i < RACE_READERS; i++) {
			if (atomic_load(&r[i].consumed) != prev[i])
				consumer = i;
			prev[i] = atomic_load(&r[i].consumed);
		}
	}

	atomic_store(&race_stop, true);
	end = now_ms() + WAIT_MS;
	for (i = 0; i < RACE_READERS; i++) {
		while (!atomic_load(&r[i].exited) && now_ms() <= end) {
			pthread_kill(r[i].th, SIGUSR1);
			sleep_us(10000);
		}
		ASSERT_TRUE(atomic_load(&r[i].exited))
			TH_LOG("reader %d never returned", i);
		pthread_join(r[i].th, NULL);
		EXPECT_EQ(0, r[i].err) TH_LOG("reader %d: read returned %s",
					      i, errstr(r[i].err));
		eintr += atomic_load(&r[i].eintr);
		hits += atomic_load(&r[i].hits);
	}
	ksft_print_msg("%d rounds, %u reads interrupted (EINTR), %u reads that took the value with a signal arriving%s\n",
		       round, eintr, hits, lost ? ", then a lost wake-up" : "");
	EXPECT_LE(100, round) TH_LOG("too few rounds to mean anything");
}

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

/* ---- the factory's files ------------------------------------------------- */

static int open_dev(struct __test_metadata *_metadata)
{
	int dev = open(EVQ_DEV, O_RDWR | O_CLOEXEC);

	EXPECT_LE(0, dev) TH_LOG("open %s: %s (is evq loaded?)", EVQ_DEV,
				 strerror(errno));
	return dev;
}

static int create(int dev, uint64_t initval, uint64_t maximum, uint32_t flags)
{
	struct evq_create c = {
		.initval = initval, .maximum = maximum, .flags = flags,
	};

	return (int)ret_or_errno(ioctl(dev, EVQ_IOC_CREATE, &c));
}

TEST(factory_file_flags_follow_create_flags)
{
	int dev = open_dev(_metadata), i, fd;

	ASSERT_LE(0, dev);
	for (i = 0; i < 4; i++) {
		uint32_t flags = (i & 1 ? EVQ_CLOEXEC : 0) |
				 (i & 2 ? EVQ_NONBLOCK : 0);

		fd = create(dev, 0, 0, flags);
		ASSERT_LE(0, fd) TH_LOG("flags %#x: %s", flags, errstr(fd));
		EXPECT_EQ(O_RDWR | (i & 2 ? O_NONBLOCK : 0), fcntl(fd, F_GETFL))
			TH_LOG("F_GETFL, create flags %#x", flags);
		EXPECT_EQ(i & 1 ? FD_CLOEXEC : 0, fcntl(fd, F_GETFD))
			TH_LOG("F_GETFD, create flags %#x", flags);
		close(fd);
	}
	close(dev);
}

TEST(factory_file_fdinfo_lseek_pread_and_link)
{
	int dev = open_dev(_metadata), fd;
	char buf[512], link[64], path[64];
	struct evq_info info;
	uint64_t v = 0;
	long n;

	ASSERT_LE(0, dev);
	fd = create(dev, 5, 9, EVQ_SEMAPHORE | EVQ_WAKE_ONE | EVQ_MAXIMUM);
	ASSERT_LE(0, fd) TH_LOG("create: %s", errstr(fd));
	ASSERT_EQ(0, get_info(fd, &info));
	ASSERT_LT(0, read_fdinfo(fd, buf, sizeof(buf)));
	EXPECT_NE(NULL, strstr(buf, "eventfd-count:                5\n"))
		TH_LOG("%s", buf);
	snprintf(path, sizeof(path), "eventfd-id: %u\n", info.id);
	EXPECT_NE(NULL, strstr(buf, path)) TH_LOG("%s", buf);
	EXPECT_NE(NULL, strstr(buf, "eventfd-semaphore: 1\n")) TH_LOG("%s", buf);
	EXPECT_NE(NULL, strstr(buf, "evq-maximum: 9\n")) TH_LOG("%s", buf);
	EXPECT_NE(NULL, strstr(buf, "evq-wake-one: 1\n")) TH_LOG("%s", buf);
	EXPECT_EQ(NULL, strstr(buf, "evq-bits")) TH_LOG("%s", buf);

	EXPECT_EQ(0, lseek(fd, 0, SEEK_SET));
	EXPECT_EQ(0, lseek(fd, 100, SEEK_CUR));
	EXPECT_EQ(-ESPIPE, ret_or_errno(pread(fd, &v, sizeof(v), 0)));
	EXPECT_EQ(-ESPIPE, ret_or_errno(pwrite(fd, &v, sizeof(v), 0)));
	EXPECT_EQ(5ULL, count_of(fd)) TH_LOG("pread/pwrite changed the count");

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = ret_or_errno(readlink(path, link, sizeof(link) - 1));
	ASSERT_LT(0, n) TH_LOG("readlink: %s", errstr(n));
	link[n] = '\0';
	EXPECT_STREQ("anon_inode:[evq]", link);
	close(fd);
	close(dev);
}

TEST(factory_counter_unchanged_and_created_counter_is_a_factory)
{
	int dev = open_dev(_metadata), a, b;
	struct evq_info before, after, ia, ib;
	uint64_t v;

	ASSERT_LE(0, dev);
	ASSERT_EQ(0, setup(dev, 5, EVQ_SEMAPHORE));
	ASSERT_EQ(0, get_info(dev, &before));
	a = create(dev, 2, 0, 0);
	ASSERT_LE(0, a) TH_LOG("create: %s", errstr(a));
	b = create(a, 7, 0, EVQ_BITS);
	ASSERT_LE(0, b) TH_LOG("create on a created counter: %s", errstr(b));
	ASSERT_EQ(0, get_info(dev, &after));
	EXPECT_EQ(0, memcmp(&before, &after, sizeof(before)))
		TH_LOG("the factory's snapshot changed: count %llu -> %llu, flags %#x -> %#x",
		       (unsigned long long)before.count,
		       (unsigned long long)after.count, before.flags,
		       after.flags);
	ASSERT_EQ(0, get_info(a, &ia));
	ASSERT_EQ(0, get_info(b, &ib));
	EXPECT_EQ(2ULL, ia.count);
	EXPECT_EQ(0U, ia.flags);
	EXPECT_EQ(7ULL, ib.count);
	EXPECT_EQ(EVQ_BITS, ib.flags);
	EXPECT_NE(before.id, ia.id);
	EXPECT_NE(before.id, ib.id);
	EXPECT_NE(ia.id, ib.id);
	ASSERT_EQ(8, read_u64(dev, &v));
	EXPECT_EQ(1ULL, v) TH_LOG("the factory is still a semaphore");
	ASSERT_EQ(8, read_u64(a, &v));
	EXPECT_EQ(2ULL, v);
	close(b);
	close(a);
	close(dev);
}

TEST(factory_ids_unique)
{
	int dev = open_dev(_metadata), fd[16], i, j;
	struct evq_info info[16];

	ASSERT_LE(0, dev);
	for (i = 0; i < 16; i++) {
		fd[i] = create(dev, 0, 0, EVQ_CLOEXEC);
		ASSERT_LE(0, fd[i]) TH_LOG("create %d: %s", i, errstr(fd[i]));
		ASSERT_EQ(0, get_info(fd[i], &info[i]));
		for (j = 0; j < i; j++)
			EXPECT_NE(info[j].id, info[i].id)
				TH_LOG("counters %d and %d", j, i);
	}
	for (i = 0; i < 16; i++)
		close(fd[i]);
	close(dev);
}

TEST(factory_counters_pin_the_module)
{
	int dev = open_dev(_metadata), fd[3], i;
	long base;

	ASSERT_LE(0, dev);
	base = module_refcnt();
	/* Built in (CONFIG_EVQ=y): there is no module to pin. */
	if (base < 0 && access("/sys/module/evq/initstate", F_OK)) {
		close(dev);
		SKIP(return, "evq is built into the kernel, not a module");
	}
	ASSERT_LE(1, base) TH_LOG("/sys/module/evq/refcnt with %s open",
				  EVQ_DEV);
	for (i = 0; i < 3; i++) {
		fd[i] = create(dev, 0, 0, EVQ_CLOEXEC);
		ASSERT_LE(0, fd[i]);
		EXPECT_EQ(base + i + 1, module_refcnt())
			TH_LOG("refcnt with %d created counters", i + 1);
	}
	for (i = 0; i < 3; i++) {
		close(fd[i]);
		EXPECT_EQ(base + 2 - i, module_refcnt())
			TH_LOG("refcnt after closing %d of 3", i + 1);
	}
	close(dev);
}

TEST(factory_initval_read_back_and_semaphore_works)
{
	int dev = open_dev(_metadata), fd;
	uint64_t v;

	ASSERT_LE(0, dev);
	fd = create(dev, 0x123456789ULL, 0, EVQ_NONBLOCK);
	ASSERT_LE(0, fd);
	ASSERT_EQ(8, read_u64(fd, &v));
	EXPECT_EQ(0x123456789ULL, v);
	EXPECT_EQ(-EAGAIN, read_u64(fd, &v));
	close(fd);

	fd = create(dev, 3, 0, EVQ_SEMAPHORE | EVQ_NONBLOCK);
	ASSERT_LE(0, fd);
	for (int i = 0; i < 3; i++) {
		ASSERT_EQ(8, read_u64(fd, &v));
		EXPECT_EQ(1ULL, v) TH_LOG("semaphore read %d", i);
	}
	EXPECT_EQ(-EAGAIN, read_u64(fd, &v));
	close(fd);

	fd = create(dev, ~0ULL, 0, EVQ_BITS | EVQ_NONBLOCK);
	ASSERT_LE(0, fd) TH_LOG("bit mode, all bits: %s", errstr(fd));
	ASSERT_EQ(8, read_u64(fd, &v));
	EXPECT_EQ(~0ULL, v);
	close(fd);

	fd = create(dev, EVQ_COUNT_MAX, 0, EVQ_NONBLOCK);
	ASSERT_LE(0, fd) TH_LOG("initval EVQ_COUNT_MAX: %s", errstr(fd));
	EXPECT_EQ(EVQ_COUNT_MAX, count_of(fd));
	close(fd);
	close(dev);
}

/* ---- bad input changes nothing ------------------------------------------- */

/*
 * EVQ_IOC_CREATE with @arg must fail with @want, allocate no descriptor
 * and leave the factory @dev as it was.
 */
static void expect_create_fails(struct __test_metadata *_metadata, int dev,
				const void *arg, long want, const char *what)
{
	struct evq_info before, after;
	int next = next_fd();
	long ret;

	ASSERT_EQ(0, get_info(dev, &before));
	ret = ret_or_errno(ioctl(dev, EVQ_IOC_CREATE, arg));
	EXPECT_EQ(want, ret) TH_LOG("%s: expected %s, got %ld (%s)", what,
				    strerror((int)-want), ret, errstr(ret));
	if (ret >= 0)
		close((int)ret);
	EXPECT_EQ(next, next_fd()) TH_LOG("%s: a descriptor was allocated",
					  what);
	ASSERT_EQ(0, get_info(dev, &after));
	EXPECT_EQ(0, memcmp(&before, &after, sizeof(before)))
		TH_LOG("%s: the factory changed", what);
}

/* A factory with something to lose: count 5, semaphore. */
static int bad_input_factory(struct __test_metadata *_metadata)
{
	int dev = open_dev(_metadata);

	EXPECT_EQ(0, dev < 0 ? 0 : setup(dev, 5, EVQ_SEMAPHORE));
	return dev;
}

TEST(create_rejects_every_unknown_flag_bit)
{
	int dev = bad_input_factory(_metadata), bit;
	const uint32_t known = EVQ_MODE_FLAGS | EVQ_MAXIMUM | EVQ_CLOEXEC |
			       EVQ_NONBLOCK;
	char what[64];

	ASSERT_LE(0, dev);
	for (bit = 0; bit < 32; bit++) {
		struct evq_create c = { .flags = 1U << bit };

		if (c.flags & known)
			continue;
		snprintf(what, sizeof(what), "flag bit %d", bit);
		expect_create_fails(_metadata, dev, &c, -EINVAL, what);
	}
	close(dev);
}

TEST(create_rejects_nonzero_pad_and_reserved)
{
	int dev = bad_input_factory(_metadata);
	struct evq_create c = { .pad = 1 };
	char what[64];
	size_t i;

	ASSERT_LE(0, dev);
	expect_create_fails(_metadata, dev, &c, -EINVAL, "pad 1");
	for (i = 0; i < ARRAY_SIZE(c.reserved); i++) {
		memset(&c, 0, sizeof(c));
		c.reserved[i] = 1ULL << 63;
		snprintf(what, sizeof(what), "reserved[%zu]", i);
		expect_create_fails(_metadata, dev, &c, -EINVAL, what);
	}
	close(dev);
}

TEST(create_rejects_bad_maximum_and_modes)
{
	int dev = bad_input_factory(_metadata);
	const struct {
		struct evq_create c;
		const char *what;
	} bad[] = {
		{ { .flags = EVQ_MAXIMUM }, "maximum 0" },
		{ { .flags = EVQ_MAXIMUM, .maximum = EVQ_COUNT_MAX + 1 },
		  "maximum above EVQ_COUNT_MAX" },
		{ { .maximum = 5 }, "maximum without EVQ_MAXIMUM" },
		{ { .flags = EVQ_BITS | EVQ_SEMAPHORE }, "bits|semaphore" },
		{ { .flags = EVQ_BITS | EVQ_MAXIMUM, .maximum = 5 },
		  "bits|maximum" },
		{ { .flags = EVQ_MAXIMUM, .maximum = 5, .initval = 6 },
		  "initval above the maximum" },
		{ { .initval = ~0ULL }, "initval above EVQ_COUNT_MAX" },
	};
	size_t i;

	ASSERT_LE(0, dev);
	for (i = 0; i < ARRAY_SIZE(bad); i++)
		expect_create_fails(_metadata, dev, &bad[i].c, -EINVAL,
				    bad[i].what);
	close(dev);
}

TEST(create_bad_pointer_fails_efault)
{
	int dev = bad_input_factory(_metadata);
	void *hole = unmapped_page();

	ASSERT_LE(0, dev);
	ASSERT_NE(NULL, hole);
	expect_create_fails(_metadata, dev, NULL, -EFAULT, "NULL");
	expect_create_fails(_metadata, dev, hole, -EFAULT, "unmapped page");
	close(dev);
}

TEST(setup_rejects_bits_with_semaphore)
{
	int fd = open_dev(_metadata);
	struct evq_info info;

	ASSERT_LE(0, fd);
	EXPECT_EQ(-EINVAL, setup(fd, 0, EVQ_BITS | EVQ_SEMAPHORE));
	ASSERT_EQ(0, get_info(fd, &info));
	EXPECT_EQ(0U, info.flags);
	EXPECT_EQ(0, setup(fd, 0, EVQ_BITS)) TH_LOG("still unconfigured");
	close(fd);
}

TEST(setup_with_new_flags_after_use_fails_ebusy)
{
	int fd = open_dev(_metadata);
	struct evq_info info;

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, setup(fd, 0, 0));
	EXPECT_EQ(-EBUSY, setup(fd, 0, EVQ_WAKE_ONE));
	EXPECT_EQ(-EBUSY, setup(fd, 0, EVQ_BITS));
	ASSERT_EQ(0, get_info(fd, &info));
	EXPECT_EQ(0U, info.flags);
	close(fd);

	fd = open_dev(_metadata);
	ASSERT_LE(0, fd);
	ASSERT_EQ(8, write_u64(fd, 1));
	EXPECT_EQ(-EBUSY, setup(fd, 0, EVQ_WAKE_ONE)) TH_LOG("count 1");
	ASSERT_EQ(0, get_info(fd, &info));
	EXPECT_EQ(0U, info.flags);
	EXPECT_EQ(1ULL, info.count);
	close(fd);
}

TEST(setup_bits_after_set_maximum_fails_einval)
{
	int fd = open_dev(_metadata);
	struct evq_info info;

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, set_maximum(fd, 5));
	EXPECT_EQ(-EINVAL, setup(fd, 0, EVQ_BITS));
	EXPECT_EQ(-EINVAL, setup(fd, 6, 0)) TH_LOG("initval above maximum 5");
	ASSERT_EQ(0, get_info(fd, &info));
	EXPECT_EQ(0U, info.flags);
	EXPECT_EQ(0ULL, info.count);
	EXPECT_EQ(5ULL, info.maximum);
	EXPECT_EQ(0, setup(fd, 5, EVQ_WAKE_ONE)) TH_LOG("still unconfigured");
	close(fd);
}

TEST(unknown_ioctl_numbers_fail_enotty)
{
	int dev = open_dev(_metadata), fd, nr, i;
	uint64_t buf[8] = { 0 };
	long ret;

	ASSERT_LE(0, dev);
	fd = create(dev, 1, 0, EVQ_CLOEXEC);
	ASSERT_LE(0, fd);
	for (nr = 0x04; nr <= 0x3f; nr++) {
		const unsigned long cmds[] = {
			_IO(EVQ_IOC_MAGIC, nr),
			_IOR(EVQ_IOC_MAGIC, nr, uint64_t),
			_IOW(EVQ_IOC_MAGIC, nr, uint64_t),
			_IOWR(EVQ_IOC_MAGIC, nr, uint64_t),
		};

		for (i = 0; i < (int)ARRAY_SIZE(cmds); i++) {
			/* Known, tested in evq_fast_test; other sizes are not. */
			if (cmds[i] == EVQ_IOC_WAKE)
				continue;
			ret = ret_or_errno(ioctl(dev, cmds[i], buf));
			EXPECT_EQ(-ENOTTY, ret)
				TH_LOG("/dev/evq, ioctl %#lx: %s", cmds[i],
				       errstr(ret));
			ret = ret_or_errno(ioctl(fd, cmds[i], buf));
			EXPECT_EQ(-ENOTTY, ret)
				TH_LOG("created counter, ioctl %#lx: %s",
				       cmds[i], errstr(ret));
		}
	}
	EXPECT_EQ(1ULL, count_of(fd));
	close(fd);
	close(dev);
}

TEST_HARNESS_MAIN
