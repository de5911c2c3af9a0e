/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What evq_uring_test.c, evq_kapi_test.c, evq_info_test.c and the other
 * test programs share: the constants of the counter and of the timing
 * rules, and small helpers. (evq_counter.h keeps its own copies.)
 *
 * Timing: nothing passes or fails on how long something took. "Still
 * pending" is looked at after SETTLE_MS and can only miss a bug on a slow
 * machine; what should happen gets WAIT_MS before it counts as a hang.
 */
#ifndef EVQ_KSFT_COMMON_H
#define EVQ_KSFT_COMMON_H

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>

/* The largest count a write can reach: ULLONG_MAX - 1, as for eventfd. */
#define COUNT_MAX	0xfffffffffffffffeULL

/* Output buffers are filled with this first, so stale data shows. */
#define POISON		0xa5a5a5a5a5a5a5a5ULL

#define SETTLE_MS	200
#define WAIT_MS		10000

static inline const char *errstr(long ret)
{
	return ret < 0 ? strerror((int)-ret) : "no error";
}

/* poll() for POLLIN and POLLOUT, no wait: revents, 0, or -errno. */
static inline int poll_now(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN | POLLOUT };
	int n = poll(&p, 1, 0);

	if (n < 0)
		return -errno;
	return n ? p.revents : 0;
}

/*
 * The value of the first line of the /proc file @path that @fmt (a
 * sscanf format with one %ld, e.g. "eventfd-id: %ld") matches, or -1.
 */
static inline long proc_long(const char *path, const char *fmt)
{
	char line[256];
	long val = -1;
	FILE *f = fopen(path, "re");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, fmt, &val) == 1)
			break;
	fclose(f);
	return val;
}

#endif /* EVQ_KSFT_COMMON_H */
