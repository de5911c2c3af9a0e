/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the EVQ_FAST test programs share: the page's size, its fields read
 * and written with the atomics the protocol asks for, EVQ_IOC_WAKE, and
 * the checks more than one of them makes on a page, a counter's count and
 * its armed bits.
 *
 * The tests are split by area into evq_fast_test.c (fixture "fast": the
 * page ABI, bad input, mixed use, the syscall-free path and hostile page
 * values), evq_fast_race_test.c (fixtures "race" and "stress": lost
 * wake-ups, many producers and consumers, the scribbler) and
 * evq_fast_memcg_test.c (the page's memory accounting). Each includes this
 * header and nothing else of the others. evq_peer_test.c (what a peer
 * sharing the page can do) uses it too.
 *
 * Timing: see evq_ksft_common.h.
 *
 * Every helper here is static inline, so that a test file that does not use
 * one compiles without -Wunused-function.
 */
#ifndef EVQ_FAST_H
#define EVQ_FAST_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "evq.h"
#include "evq_ksft_common.h"
#include "kselftest_harness.h"

#define PAGE_BYTES	((size_t)EVQ_PAGE_SIZE)

/* EVQ_IOC_WAKE of @bits: 0 or -errno. */
static inline long wake(int fd, unsigned long bits)
{
	return ret_or_errno(ioctl(fd, EVQ_IOC_WAKE, bits));
}

static inline struct evq_info info_of(int fd)
{
	struct evq_info info;

	memset(&info, 0xa5, sizeof(info));
	if (ioctl(fd, EVQ_IOC_GET_INFO, &info))
		info.count = POISON;
	return info;
}

/* The page's fields, with the atomics the protocol asks for. */
static inline uint64_t pg_count(const struct evq_page *p)
{
	return atomic_load((_Atomic uint64_t *)&p->count);
}

static inline void pg_set_count(struct evq_page *p, uint64_t v)
{
	atomic_store((_Atomic uint64_t *)&p->count, v);
}

static inline uint32_t pg_armed(const struct evq_page *p)
{
	return atomic_load((_Atomic uint32_t *)&p->armed);
}

static inline void pg_set_armed(struct evq_page *p, uint32_t v)
{
	atomic_store((_Atomic uint32_t *)&p->armed, v);
}

/* /proc/self/fdinfo's eventfd-count of @fd, or POISON. */
static inline uint64_t fdinfo_count(int fd)
{
	char path[64], line[256];
	unsigned long long v = POISON;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "re");
	if (!f)
		return POISON;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "eventfd-count: %llx", &v) == 1)
			break;
	fclose(f);
	return v;
}

/* What epoll_wait() reports within @ms: the events, 0, or -errno. */
static inline long epoll_within(int ep, int ms)
{
	struct epoll_event ev = { 0 };
	int n = epoll_wait(ep, &ev, 1, ms);

	if (n < 0)
		return -errno;
	return n ? (long)ev.events : 0;
}

/* Wait up to WAIT_MS for the page's armed bits to include @bits. */
static inline bool armed_within(const struct evq_page *p, uint32_t bits)
{
	int64_t end = now_ms() + WAIT_MS;

	while ((pg_armed(p) & bits) != bits) {
		if (now_ms() > end)
			return false;
		sleep_us(200);
	}
	return true;
}

/* The page must hold exactly these values, and zeros after it. */
static inline void expect_page(struct __test_metadata *_metadata,
			struct evq_page *p, uint64_t count, uint32_t armed,
			uint32_t flags, uint64_t maximum)
{
	const unsigned char *tail = (const unsigned char *)p + sizeof(*p);
	size_t i, nonzero = 0;

	EXPECT_EQ(count, pg_count(p));
	EXPECT_EQ(armed, pg_armed(p));
	EXPECT_EQ(flags, p->flags);
	EXPECT_EQ(maximum, p->maximum);
	EXPECT_EQ(sizeof(struct evq_page), p->size);
	EXPECT_EQ(0U, p->pad);
	for (i = 0; i < 4; i++)
		EXPECT_EQ(0ULL, p->reserved[i]) TH_LOG("reserved[%zu]", i);
	for (i = 0; i < PAGE_BYTES - sizeof(*p); i++)
		nonzero += tail[i] != 0;
	EXPECT_EQ(0U, nonzero) TH_LOG("bytes after struct evq_page not zero");
}

#endif /* EVQ_FAST_H */
