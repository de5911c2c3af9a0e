// SPDX-License-Identifier: GPL-2.0
/*
 * evq_bench's floors and private counters. W1: what any system call costs
 * on this machine (getppid, read /dev/zero, write /dev/null), once per
 * repetition as kind "ref", so that the counters' figures can be read
 * against it. W2: write + read on a counter of one's own, one thread and
 * two side by side (each on its own counter): the cost of the counter
 * itself, with no wake-up and no sharing.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "bench.h"

/* ---- W1: floors ---------------------------------------------------------- */

static int op_getppid(void *arg)
{
	(void)arg;
	return syscall(SYS_getppid) < 0 ? -1 : 0;
}

static int op_read8(void *arg)
{
	uint64_t v;

	return read(*(int *)arg, &v, sizeof(v)) == (ssize_t)sizeof(v) ? 0 : -1;
}

static int op_write8(void *arg)
{
	uint64_t v = 1;

	return write(*(int *)arg, &v, sizeof(v)) == (ssize_t)sizeof(v) ? 0 : -1;
}

int w1_floors(enum kind kind)
{
	int zero = open("/dev/zero", O_RDONLY | O_CLOEXEC);
	int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
	int ret = -1;

	if (zero < 0 || null < 0) {
		bench_err("W1", kind, "open /dev/zero or /dev/null");
		goto out;
	}
	if (timed_row("W1.getppid", kind, op_getppid, NULL, "getppid") ||
	    timed_row("W1.read_devzero", kind, op_read8, &zero, "read") ||
	    timed_row("W1.write_devnull", kind, op_write8, &null, "write"))
		goto out;
	ret = 0;
out:
	if (zero >= 0)
		close(zero);
	if (null >= 0)
		close(null);
	return ret;
}

/* ---- W2: write + read on a private counter, 1 and 2 threads -------------- */

struct w2_arg {
	int fd;
	pthread_barrier_t *start;
	uint64_t pairs, ns;
	int err;		/* 0, or an errno; EPROTO: wrong value read */
};

static void *w2_thread(void *p)
{
	struct w2_arg *a = p;
	uint64_t start, deadline, end, v, n = 0;

	pthread_barrier_wait(a->start);
	start = now_ns();
	deadline = start + run_ns();
	do {
		for (int i = 0; i < CLOCK_EVERY; i++) {
			if (write_u64(a->fd, 1) < 0 || read_u64(a->fd, &v) != 1) {
				a->err = errno ? errno : EIO;
				return NULL;
			}
			if (v != 1) {
				a->err = EPROTO;
				return NULL;
			}
		}
		n += CLOCK_EVERY;
		end = now_ns();
	} while (end < deadline);
	a->pairs = n;
	a->ns = end - start;
	return NULL;
}

static int w2_run(enum kind kind, int nthreads, const char *row)
{
	struct w2_arg args[2] = { { .fd = -1 }, { .fd = -1 } };
	pthread_t tids[2];
	pthread_barrier_t start;
	double sum = 0;
	int ret = -1;

	pthread_barrier_init(&start, NULL, (unsigned int)nthreads);
	for (int i = 0; i < nthreads; i++) {
		args[i].fd = counter(kind, 0, EFD_CLOEXEC);
		args[i].start = &start;
		if (args[i].fd < 0) {
			bench_err(row, kind, "create counter");
			goto out;
		}
	}
	start_threads(tids, nthreads, w2_thread, args, sizeof(args[0]), row,
		      kind);
	join_threads(tids, nthreads);
	for (int i = 0; i < nthreads; i++) {
		if (args[i].err) {
			errno = args[i].err == EPROTO ? 0 : args[i].err;
			bench_err(row, kind, args[i].err == EPROTO ?
				  "read a value other than the 1 written" :
				  "write/read");
			goto out;
		}
		sum += (double)args[i].ns / (double)args[i].pairs;
	}
	emit(row, kind, sum / nthreads, "ns/pair", true);
	ret = 0;
out:
	for (int i = 0; i < nthreads; i++)
		if (args[i].fd >= 0)
			close(args[i].fd);
	pthread_barrier_destroy(&start);
	return ret;
}

int w2_private(enum kind kind)
{
	if (w2_run(kind, 1, "W2.threads1"))
		return -1;
	return w2_run(kind, 2, "W2.threads2");
}
