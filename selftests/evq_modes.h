/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the tests of evq's modes share: the setup ioctls, a counter in a
 * given mode made either way (open_mode()), and small helpers.
 *
 * The tests are split by area, one program each: evq_modes_test.c
 * (fixture "mode": every mode is still an eventfd), evq_maximum_test.c
 * ("maximum": flow control), evq_wakeone_mode_test.c ("wake_one": a write
 * wakes as many readers as it can serve), evq_bits_test.c ("bits": a
 * 64-bit event mask) and evq_factory_test.c (plain TESTs: the factory's
 * files, and bad input that must change nothing). Each includes this
 * header and nothing else of the others.
 *
 * Every mode is made both ways: variant "setup" (mode's "setup_*") opens
 * /dev/evq and calls EVQ_IOC_SET_MAXIMUM and EVQ_IOC_SETUP, variant
 * "factory" ("factory_*") calls EVQ_IOC_CREATE on an open /dev/evq; the
 * test bodies are the same. Setup fails, never skips, when /dev/evq
 * cannot be opened.
 *
 * Timing: nothing passes or fails on how long something took. Waiter
 * counts (EVQ_IOC_GET_INFO) are polled until they reach the expected value
 * or WAIT_MS pass; "still blocked" is looked at after SETTLE_MS. Every
 * thread that may block is released with SIGUSR1 (no SA_RESTART) before it
 * is joined, so no case can hang.
 *
 * Every helper here is static inline, so that a test file that does not use
 * one compiles without -Wunused-function.
 */
#ifndef EVQ_MODES_H
#define EVQ_MODES_H

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

/* ---- small helpers ------------------------------------------------------- */

static inline long get_info(int fd, struct evq_info *info)
{
	memset(info, 0xa5, sizeof(*info));
	return ret_or_errno(ioctl(fd, EVQ_IOC_GET_INFO, info));
}

static inline long set_maximum(int fd, uint64_t maximum)
{
	return ret_or_errno(ioctl(fd, EVQ_IOC_SET_MAXIMUM, &maximum));
}

static inline long setup(int fd, uint64_t initval, uint32_t flags)
{
	struct evq_setup s = { .initval = initval, .flags = flags };

	return ret_or_errno(ioctl(fd, EVQ_IOC_SETUP, &s));
}

static inline long set_nonblock(int fd)
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
static inline void *unmapped_page(void)
{
	char *p = mmap(NULL, 3 * (size_t)4096, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	munmap(p + 4096, 4096);
	return p + 4096;
}

static inline void sleep_ms(int ms)
{
	sleep_us((long)ms * 1000);
}

/* /proc/self/fdinfo/@fd into @buf (NUL-terminated); length or -errno. */
static inline long read_fdinfo(int fd, char *buf, size_t size)
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

/*
 * A counter with mode @flags, maximum @maximum (0: the default) and
 * initial count @initval: from open(2) and the setup ioctls, or from
 * EVQ_IOC_CREATE on @dev. Returns the descriptor or -errno.
 */
static inline int make_counter(int dev, bool factory, uint32_t flags,
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
static inline long wait_waiters(int fd, bool writers, uint32_t want)
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

static inline uint64_t count_of(int fd)
{
	struct evq_info info;

	if (get_info(fd, &info))
		return POISON;
	return info.count;
}

/* ---- threads that block -------------------------------------------------- */

/*
 * SIGUSR1 interrupts a blocked call: open_mode() installs on_sigusr1()
 * without SA_RESTART. A program whose threads must also be told that it
 * came sets sigusr1_hook, which the handler then calls (the racers of
 * evq_wakeone_mode_test.c count their signals that way).
 */
static void (*sigusr1_hook)(void);

static inline void on_sigusr1(int sig)
{
	(void)sig;
	if (sigusr1_hook)
		sigusr1_hook();
}

/* What epoll_wait() reports now: the events, 0 for none, or -errno. */
static inline long epoll_now(int ep)
{
	struct epoll_event ev = { 0 };
	int n = epoll_wait(ep, &ev, 1, 0);

	if (n < 0)
		return -errno;
	return n ? (long)ev.events : 0;
}

/*
 * The fixtures' common setup: /dev/evq as the factory, and a counter in
 * the variant's mode, made the variant's way.
 */
static inline void open_mode(struct __test_metadata *_metadata, int *dev,
			     int *fd, bool factory, uint32_t flags,
			     uint64_t maximum)
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

static inline void close_mode(int dev, int fd)
{
	if (fd >= 0)
		close(fd);
	if (dev >= 0)
		close(dev);
}

#endif /* EVQ_MODES_H */
