// SPDX-License-Identifier: GPL-2.0
/*
 * evq_bench's herd and pool, W9. A herd of 4 threads asleep on one
 * counter (in read(2), in read(2) on a semaphore counter, in epoll_wait(2)
 * and with EPOLLEXCLUSIVE), woken by one event at a time: the wake-ups and
 * context switches per event, from /proc, and the median time per event.
 * A pool of 8 readers in read(2) on one semaphore counter, plain and (for
 * evq) EVQ_WAKE_ONE: jobs per second and wake-ups per job.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

/* W9: threads waiting on one counter; at most this many events per run. */
#define W9_WAITERS	4
#define W9_MAX_EVENTS	20000
/* W9 job pool: reader threads blocked in read(2) on one semaphore counter. */
#define W9_POOL_READERS	8
/* How long a thread may take to reach its wait before it counts as an error. */
#define SETTLE_NS	(2 * NSEC_PER_SEC)

/* ---- W9: thundering herd ------------------------------------------------- */

enum w9_mode { W9_READ, W9_READ_SEMA, W9_EPOLL, W9_EPOLL_EXCL };

struct w9 {
	int fd;
	atomic_uint consumed, stop, exited;
};

struct w9_waiter {
	struct w9 *w;
	int ep;
	atomic_int tid;
	int err;
};

static void *w9_waiter(void *p)
{
	struct w9_waiter *me = p;
	struct w9 *w = me->w;
	struct epoll_event ev;
	uint64_t v;
	int r;

	atomic_store(&me->tid, (int)gettid());
	for (;;) {
		if (me->ep >= 0 && epoll_wait(me->ep, &ev, 1, -1) < 0 &&
		    errno != EINTR) {
			me->err = errno;
			break;
		}
		r = read_u64(w->fd, &v);
		if (r < 0) {
			me->err = errno;
			break;
		}
		if (atomic_load(&w->stop))
			break;
		if (r) {
			atomic_fetch_add(&w->consumed, (unsigned int)v);
			futex_op(&w->consumed, FUTEX_WAKE_PRIVATE, 1);
		}
	}
	atomic_fetch_add(&w->exited, 1);
	return NULL;
}

/*
 * Thread @tid's voluntary and involuntary context switches, from
 * /proc/self/task/TID/status; 0 on success.
 */
static int task_ctxsw(int tid, uint64_t *vol, uint64_t *invol)
{
	char path[64], line[128];
	unsigned long long n;
	FILE *f;
	int found = 0;

	snprintf(path, sizeof(path), "/proc/self/task/%d/status", tid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "voluntary_ctxt_switches: %llu", &n) == 1) {
			*vol = n;
			found |= 1;
		} else if (sscanf(line, "nonvoluntary_ctxt_switches: %llu",
				  &n) == 1) {
			*invol = n;
			found |= 2;
		}
	}
	fclose(f);
	return found == 3 ? 0 : -1;
}

/* Thread @tid's scheduler state letter from /proc/self/task/TID/stat. */
static char task_state(int tid)
{
	char path[64], buf[256], *p;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", tid);
	f = fopen(path, "re");
	if (!f)
		return '?';
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')');
	if (!p || p[1] != ' ')
		return '?';
	return p[2];
}

/* Wait until all @n waiters sleep; 0, or -1 after SETTLE_NS. */
static int w9_settle(struct w9_waiter *wt, int n)
{
	uint64_t deadline = now_ns() + SETTLE_NS;
	struct timespec ms = { 0, 1000000 };

	for (;;) {
		int asleep = 0;

		for (int i = 0; i < n; i++) {
			int tid = atomic_load(&wt[i].tid);

			asleep += tid && task_state(tid) == 'S';
		}
		if (asleep == n)
			return 0;
		if (now_ns() > deadline)
			return -1;
		nanosleep(&ms, NULL);
	}
}

/* The context switches of @n waiters, summed: voluntary, and all. */
static int w9_sum(struct w9_waiter *wt, int n, uint64_t *vol, uint64_t *all)
{
	*vol = 0;
	*all = 0;
	for (int i = 0; i < n; i++) {
		uint64_t v, iv;

		if (task_ctxsw(atomic_load(&wt[i].tid), &v, &iv))
			return -1;
		*vol += v;
		*all += v + iv;
	}
	return 0;
}

static int w9_run(enum kind kind, enum w9_mode mode, const char *name)
{
	struct w9 w = { .fd = -1 };
	struct w9_waiter wt[W9_WAITERS];
	pthread_t tids[W9_WAITERS];
	bool epoll = mode == W9_EPOLL || mode == W9_EPOLL_EXCL;
	struct epoll_event ev = {
		.events = EPOLLIN | (mode == W9_EPOLL_EXCL ? EPOLLEXCLUSIVE : 0),
	};
	uint64_t vol0, all0, vol1, all1, start, deadline, end, events = 0;
	uint64_t *times = calloc(W9_MAX_EVENTS, sizeof(*times));
	unsigned int c;
	char row[64];
	int ret = -1, started = 0;
	struct timespec ms = { 0, 1000000 };

	memset(wt, 0, sizeof(wt));
	if (!times)
		return bench_err(name, kind, "calloc");
	atomic_init(&w.consumed, 0);
	atomic_init(&w.stop, 0);
	atomic_init(&w.exited, 0);
	w.fd = counter(kind, 0, EFD_CLOEXEC |
		       (epoll ? EFD_NONBLOCK : 0) |
		       (mode == W9_READ_SEMA ? EFD_SEMAPHORE : 0));
	if (w.fd < 0) {
		bench_err(name, kind, "create counter");
		goto out;
	}
	for (int i = 0; i < W9_WAITERS; i++) {
		wt[i].w = &w;
		wt[i].ep = -1;
		atomic_init(&wt[i].tid, 0);
		if (!epoll)
			continue;
		wt[i].ep = epoll_create1(EPOLL_CLOEXEC);
		if (wt[i].ep < 0 ||
		    epoll_ctl(wt[i].ep, EPOLL_CTL_ADD, w.fd, &ev)) {
			bench_err(name, kind, "epoll setup");
			goto out;
		}
	}
	for (; started < W9_WAITERS; started++) {
		int err = pthread_create(&tids[started], NULL, w9_waiter,
					 &wt[started]);

		if (err) {
			errno = err;
			bench_err(name, kind, "pthread_create");
			goto stop;
		}
	}
	if (w9_settle(wt, W9_WAITERS) || w9_sum(wt, W9_WAITERS, &vol0, &all0)) {
		errno = 0;
		bench_err(name, kind, "waiters did not go to sleep");
		goto stop;
	}
	/*
	 * One event at a time, each from the same state: every waiter
	 * asleep. Only write-to-consumed is timed; the settling is not. The
	 * median event, not the mean: one vCPU preempted by the host for
	 * milliseconds would otherwise decide the figure.
	 */
	deadline = now_ns() + run_ns();
	do {
		if (events && w9_settle(wt, W9_WAITERS)) {
			errno = 0;
			bench_err(name, kind, "waiters did not go back to sleep");
			goto stop;
		}
		start = now_ns();
		if (write_u64(w.fd, 1)) {
			bench_err(name, kind, "write");
			goto stop;
		}
		events++;
		while ((c = atomic_load(&w.consumed)) < events)
			futex_op(&w.consumed, FUTEX_WAIT_PRIVATE, c);
		end = now_ns();
		times[events - 1] = end - start;
		if (c != events) {
			errno = 0;
			bench_err(name, kind, "consumed more than was written");
			goto stop;
		}
	} while (end < deadline && events < W9_MAX_EVENTS);
	if (w9_settle(wt, W9_WAITERS) || w9_sum(wt, W9_WAITERS, &vol1, &all1)) {
		errno = 0;
		bench_err(name, kind, "waiters did not go back to sleep");
		goto stop;
	}
	snprintf(row, sizeof(row), "%s.wakeups", name);
	emit(row, kind, (double)(vol1 - vol0) / (double)events,
	     "wakeups/event", true);
	snprintf(row, sizeof(row), "%s.ctxsw", name);
	emit(row, kind, (double)(all1 - all0) / (double)events,
	     "ctxsw/event", true);
	snprintf(row, sizeof(row), "%s.time", name);
	qsort(times, events, sizeof(*times), cmp_u64);
	emit(row, kind, percentile_us(times, (unsigned int)events, 500),
	     "us/event", true);
	ret = 0;
stop:
	/* Every waiter returns from its wait once stop is set and it runs. */
	atomic_store(&w.stop, 1);
	while (atomic_load(&w.exited) < (unsigned int)started) {
		if (write_u64(w.fd, 1)) {
			bench_err(name, kind, "write to stop the waiters");
			exit(1);
		}
		nanosleep(&ms, NULL);
	}
	join_threads(tids, started);
	for (int i = 0; i < started; i++) {
		if (wt[i].err) {
			errno = wt[i].err;
			bench_err(name, kind, "waiter");
			ret = -1;
		}
	}
out:
	for (int i = 0; i < W9_WAITERS; i++)
		if (wt[i].ep >= 0)
			close(wt[i].ep);
	if (w.fd >= 0)
		close(w.fd);
	free(times);
	return ret;
}

/*
 * W9 job pool: W9_POOL_READERS threads block in read(2) on one semaphore
 * counter (each job is one unit); the feeder writes 1 and waits until some
 * reader took it, then writes the next, for run_ns(). No settling between
 * jobs: this is a steady pool, not the one-event-from-rest of w9_run().
 * The readers are w9_waiter()s without epoll; w9.consumed counts jobs.
 */

/*
 * The pool's counter: a semaphore counter for native and plain evq, with
 * EVQ_WAKE_ONE for evq if @wake_one (made by evq_create() on a factory).
 */
static int w9_pool_counter(enum kind kind, bool wake_one)
{
	if (kind != KIND_EVQ || evq_is_native || !wake_one)
		return counter(kind, 0, EFD_SEMAPHORE | EFD_CLOEXEC);
	return factory_counter(EVQ_SEMAPHORE | EVQ_WAKE_ONE | EVQ_CLOEXEC);
}

static int w9_pool_run(enum kind kind, bool wake_one, const char *name)
{
	struct w9 p = { .fd = -1 };
	struct w9_waiter rd[W9_POOL_READERS];
	pthread_t tids[W9_POOL_READERS];
	struct timespec ms = { 0, 1000000 };
	uint64_t vol0, vol1, all, start, deadline, end, jobs = 0;
	unsigned int c;
	int ret = -1, started = 0;
	char row[64];

	memset(rd, 0, sizeof(rd));
	atomic_init(&p.consumed, 0);
	atomic_init(&p.stop, 0);
	atomic_init(&p.exited, 0);
	p.fd = w9_pool_counter(kind, wake_one);
	if (p.fd < 0)
		return bench_err(name, kind, "create counter");
	for (; started < W9_POOL_READERS; started++) {
		int err;

		rd[started].w = &p;
		rd[started].ep = -1;
		atomic_init(&rd[started].tid, 0);
		err = pthread_create(&tids[started], NULL, w9_waiter,
				     &rd[started]);
		if (err) {
			errno = err;
			bench_err(name, kind, "pthread_create");
			goto stop;
		}
	}
	if (w9_settle(rd, W9_POOL_READERS) ||
	    w9_sum(rd, W9_POOL_READERS, &vol0, &all)) {
		errno = 0;
		bench_err(name, kind, "readers did not go to sleep");
		goto stop;
	}
	start = now_ns();
	deadline = start + run_ns();
	do {
		if (write_u64(p.fd, 1)) {
			bench_err(name, kind, "write");
			goto stop;
		}
		jobs++;
		while ((c = atomic_load(&p.consumed)) < jobs)
			futex_op(&p.consumed, FUTEX_WAIT_PRIVATE, c);
		if (c != jobs) {
			errno = 0;
			bench_err(name, kind, "took more jobs than were written");
			goto stop;
		}
		end = now_ns();
	} while (end < deadline);
	/* The losers of the last job may still be on their way to sleep. */
	if (w9_settle(rd, W9_POOL_READERS) ||
	    w9_sum(rd, W9_POOL_READERS, &vol1, &all)) {
		errno = 0;
		bench_err(name, kind, "readers did not go back to sleep");
		goto stop;
	}
	snprintf(row, sizeof(row), "%s.jobs", name);
	emit(row, kind, (double)jobs * (double)NSEC_PER_SEC /
	     (double)(end - start), "jobs/s", false);
	snprintf(row, sizeof(row), "%s.wakeups", name);
	emit(row, kind, (double)(vol1 - vol0) / (double)jobs, "wakeups/job",
	     true);
	ret = 0;
stop:
	/* Every reader returns from read(2) once stop is set and it runs. */
	atomic_store(&p.stop, 1);
	while (atomic_load(&p.exited) < (unsigned int)started) {
		if (write_u64(p.fd, W9_POOL_READERS)) {
			bench_err(name, kind, "write to stop the readers");
			exit(1);
		}
		nanosleep(&ms, NULL);
	}
	join_threads(tids, started);
	for (int i = 0; i < started; i++) {
		if (rd[i].err) {
			errno = rd[i].err;
			bench_err(name, kind, "reader");
			ret = -1;
		}
	}
	close(p.fd);
	return ret;
}

int w9_herd(enum kind kind)
{
	if (w9_run(kind, W9_READ, "W9.read") ||
	    w9_run(kind, W9_READ_SEMA, "W9.read_sema") ||
	    w9_run(kind, W9_EPOLL, "W9.epoll") ||
	    w9_run(kind, W9_EPOLL_EXCL, "W9.epoll_excl") ||
	    w9_pool_run(kind, false, "W9.pool"))
		return -1;
	return w9_pool_run(kind, true, "W9.pool_wake_one");
}
