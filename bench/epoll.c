// SPDX-License-Identifier: GPL-2.0
/*
 * evq_bench's epoll workloads. W5: epoll_wait + read by 2 workers on 64
 * counters each, level-triggered, edge-triggered and one-shot, in the
 * shape of `perf bench epoll wait`. W6: epoll_ctl ADD/MOD/DEL loops by 2
 * workers, in the shape of `perf bench epoll ctl`. W7: 2 producers writing
 * to one counter that one epoll consumer drains, in events per ms.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "bench.h"

/* W5/W6: workers and counters per worker; W7: producers. */
#define W5_WORKERS	2
#define W5_NFDS		64
#define W7_PRODUCERS	2

/* ---- W5: epoll wait, the shape of `perf bench epoll wait` ---------------- */

struct w5 {
	int ep, mode;		/* mode: 0, EPOLLET or EPOLLONESHOT */
	int fds[W5_WORKERS * W5_NFDS];
	atomic_uint stop;
	pthread_barrier_t start;
};

struct w5_worker {
	struct w5 *w;
	int cpu;
	uint64_t ops, values;
	int err;
};

static void *w5_worker(void *p)
{
	struct w5_worker *me = p;
	struct w5 *w = me->w;
	struct epoll_event ev;
	uint64_t v;
	int n, r;

	pin_cpu(me->cpu);
	pthread_barrier_wait(&w->start);
	while (!atomic_load(&w->stop)) {
		n = epoll_wait(w->ep, &ev, 1, 20);
		if (n < 0 && errno != EINTR) {
			me->err = errno;
			return NULL;
		}
		if (n <= 0)
			continue;
		r = read_u64(w->fds[ev.data.u32], &v);
		if (r < 0) {
			me->err = errno;
			return NULL;
		}
		if (r) {
			me->ops++;
			me->values += v;
		}
		if (w->mode == EPOLLONESHOT) {
			ev.events = EPOLLIN | EPOLLONESHOT;
			if (epoll_ctl(w->ep, EPOLL_CTL_MOD,
				      w->fds[ev.data.u32], &ev)) {
				me->err = errno;
				return NULL;
			}
		}
	}
	return NULL;
}

static int w5_run(enum kind kind, int mode, const char *row)
{
	struct w5 w;
	struct w5_worker wk[W5_WORKERS];
	pthread_t tids[W5_WORKERS];
	struct epoll_event ev;
	uint64_t start, deadline, end, written = 0, got = 0, v, ops = 0;
	const int nfds = W5_WORKERS * W5_NFDS;
	int ret = -1;

	memset(&w, 0, sizeof(w));
	memset(wk, 0, sizeof(wk));
	for (int i = 0; i < nfds; i++)
		w.fds[i] = -1;
	w.mode = mode;
	atomic_init(&w.stop, 0);
	pthread_barrier_init(&w.start, NULL, W5_WORKERS + 1);
	w.ep = epoll_create1(EPOLL_CLOEXEC);
	if (w.ep < 0) {
		bench_err(row, kind, "epoll_create1");
		goto out;
	}
	for (int i = 0; i < nfds; i++) {
		w.fds[i] = counter(kind, 0, EFD_NONBLOCK | EFD_CLOEXEC);
		ev.events = EPOLLIN | (uint32_t)mode;
		ev.data.u32 = (uint32_t)i;
		if (w.fds[i] < 0 ||
		    epoll_ctl(w.ep, EPOLL_CTL_ADD, w.fds[i], &ev)) {
			bench_err(row, kind, "create counter or EPOLL_CTL_ADD");
			goto out;
		}
	}
	for (int i = 0; i < W5_WORKERS; i++) {
		wk[i].w = &w;
		wk[i].cpu = i;
	}
	start_threads(tids, W5_WORKERS, w5_worker, wk, sizeof(wk[0]), row, kind);
	pthread_barrier_wait(&w.start);
	/* The writer: 1 to every counter in turn, as perf's does. */
	start = now_ns();
	deadline = start + run_ns();
	do {
		for (int i = 0; i < nfds; i++) {
			if (write_u64(w.fds[i], 1)) {
				bench_err(row, kind, "write");
				atomic_store(&w.stop, 1);
				join_threads(tids, W5_WORKERS);
				goto out;
			}
		}
		written += (uint64_t)nfds;
		end = now_ns();
	} while (end < deadline);
	atomic_store(&w.stop, 1);
	join_threads(tids, W5_WORKERS);
	end = now_ns();
	for (int i = 0; i < W5_WORKERS; i++) {
		if (wk[i].err) {
			errno = wk[i].err;
			bench_err(row, kind, "worker");
			goto out;
		}
		ops += wk[i].ops;
		got += wk[i].values;
	}
	/* What the workers did not get is still in the counters. */
	for (int i = 0; i < nfds; i++) {
		int r = read_u64(w.fds[i], &v);

		if (r < 0) {
			bench_err(row, kind, "drain");
			goto out;
		}
		got += r ? v : 0;
	}
	if (got != written) {
		errno = 0;
		printf("# %s %s: wrote %llu, read %llu\n", row, kind_name[kind],
		       (unsigned long long)written, (unsigned long long)got);
		bench_err(row, kind, "lost events");
		goto out;
	}
	emit(row, kind, (double)ops * 1e9 / (double)(end - start), "ops/s",
	     false);
	ret = 0;
out:
	close_all(w.fds, nfds);
	if (w.ep >= 0)
		close(w.ep);
	pthread_barrier_destroy(&w.start);
	return ret;
}

int w5_epoll_wait(enum kind kind)
{
	if (w5_run(kind, 0, "W5.lt") || w5_run(kind, EPOLLET, "W5.et"))
		return -1;
	return w5_run(kind, EPOLLONESHOT, "W5.oneshot");
}

/* ---- W6: epoll_ctl ADD/MOD/DEL loops, the shape of `perf bench epoll ctl` */

struct w6_worker {
	int ep;
	int fds[W5_NFDS];
	pthread_barrier_t *start;
	uint64_t ops, ns[3];	/* ns per phase: ADD, MOD, DEL */
	int err;
};

static void *w6_worker(void *p)
{
	static const int ops[3] = {
		EPOLL_CTL_ADD, EPOLL_CTL_MOD, EPOLL_CTL_DEL
	};
	struct w6_worker *me = p;
	struct epoll_event ev;
	uint64_t deadline, t0, t1;

	pthread_barrier_wait(me->start);
	deadline = now_ns() + run_ns();
	do {
		for (int op = 0; op < 3; op++) {
			ev.events = op == 1 ? EPOLLIN | EPOLLOUT : EPOLLIN;
			t0 = now_ns();
			for (int i = 0; i < W5_NFDS; i++) {
				ev.data.u32 = (uint32_t)i;
				if (epoll_ctl(me->ep, ops[op], me->fds[i], &ev)) {
					me->err = errno;
					return NULL;
				}
			}
			t1 = now_ns();
			me->ns[op] += t1 - t0;
		}
		me->ops += W5_NFDS;
	} while (t1 < deadline);
	return NULL;
}

int w6_epoll_ctl(enum kind kind)
{
	static const char *const rows[3] = { "W6.add", "W6.mod", "W6.del" };
	struct w6_worker wk[W5_WORKERS];
	pthread_t tids[W5_WORKERS];
	pthread_barrier_t start;
	int ep, ret = -1;

	memset(wk, 0, sizeof(wk));
	for (int t = 0; t < W5_WORKERS; t++)
		for (int i = 0; i < W5_NFDS; i++)
			wk[t].fds[i] = -1;
	pthread_barrier_init(&start, NULL, W5_WORKERS);
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0) {
		bench_err("W6", kind, "epoll_create1");
		goto out;
	}
	for (int t = 0; t < W5_WORKERS; t++) {
		wk[t].ep = ep;
		wk[t].start = &start;
		for (int i = 0; i < W5_NFDS; i++) {
			wk[t].fds[i] = counter(kind, 0, EFD_NONBLOCK | EFD_CLOEXEC);
			if (wk[t].fds[i] < 0) {
				bench_err("W6", kind, "create counter");
				goto out;
			}
		}
	}
	start_threads(tids, W5_WORKERS, w6_worker, wk, sizeof(wk[0]), "W6", kind);
	join_threads(tids, W5_WORKERS);
	for (int t = 0; t < W5_WORKERS; t++) {
		if (wk[t].err) {
			errno = wk[t].err;
			bench_err("W6", kind, "epoll_ctl");
			goto out;
		}
	}
	for (int op = 0; op < 3; op++) {
		double rate = 0;

		/* The workers run side by side: their rates add up. */
		for (int t = 0; t < W5_WORKERS; t++)
			rate += (double)wk[t].ops * 1e9 / (double)wk[t].ns[op];
		emit(rows[op], kind, rate, "ops/s", false);
	}
	ret = 0;
out:
	for (int t = 0; t < W5_WORKERS; t++)
		close_all(wk[t].fds, W5_NFDS);
	if (ep >= 0)
		close(ep);
	pthread_barrier_destroy(&start);
	return ret;
}

/* ---- W7: N producers, one counter, one epoll consumer -------------------- */

struct w7 {
	int fd;
	atomic_uint stop;
	pthread_barrier_t start;
};

struct w7_producer {
	struct w7 *w;
	uint64_t written;
	int err;
};

static void *w7_producer(void *p)
{
	struct w7_producer *me = p;
	struct w7 *w = me->w;

	pthread_barrier_wait(&w->start);
	while (!atomic_load(&w->stop)) {
		if (write_u64(w->fd, 1)) {
			me->err = errno;
			return NULL;
		}
		me->written++;
	}
	return NULL;
}

int w7_contention(enum kind kind)
{
	struct w7 w = { .fd = -1 };
	struct w7_producer pr[W7_PRODUCERS];
	pthread_t tids[W7_PRODUCERS];
	struct epoll_event ev = { .events = EPOLLIN };
	uint64_t start, deadline, end, got = 0, written = 0, v;
	int ep, n, r, ret = -1;
	bool broke = false;

	memset(pr, 0, sizeof(pr));
	atomic_init(&w.stop, 0);
	pthread_barrier_init(&w.start, NULL, W7_PRODUCERS + 1);
	ep = epoll_create1(EPOLL_CLOEXEC);
	w.fd = counter(kind, 0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (ep < 0 || w.fd < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, w.fd, &ev)) {
		bench_err("W7", kind, "setup");
		goto out;
	}
	for (int i = 0; i < W7_PRODUCERS; i++)
		pr[i].w = &w;
	start_threads(tids, W7_PRODUCERS, w7_producer, pr, sizeof(pr[0]), "W7",
		      kind);
	pthread_barrier_wait(&w.start);
	start = now_ns();
	deadline = start + run_ns();
	do {
		n = epoll_wait(ep, &ev, 1, 20);
		if (n < 0 && errno != EINTR) {
			bench_err("W7", kind, "epoll_wait");
			broke = true;
			break;
		}
		r = n > 0 ? read_u64(w.fd, &v) : 0;
		if (r < 0) {
			bench_err("W7", kind, "read");
			broke = true;
			break;
		}
		got += r ? v : 0;
	} while (now_ns() < deadline);
	atomic_store(&w.stop, 1);
	join_threads(tids, W7_PRODUCERS);
	if (broke)
		goto out;
	end = now_ns();
	for (int i = 0; i < W7_PRODUCERS; i++) {
		if (pr[i].err) {
			errno = pr[i].err;
			bench_err("W7", kind, "producer write");
			goto out;
		}
		written += pr[i].written;
	}
	r = read_u64(w.fd, &v);
	if (r < 0) {
		bench_err("W7", kind, "drain");
		goto out;
	}
	got += r ? v : 0;
	if (got != written) {
		errno = 0;
		printf("# W7 %s: wrote %llu, read %llu\n", kind_name[kind],
		       (unsigned long long)written, (unsigned long long)got);
		bench_err("W7", kind, "lost events");
		goto out;
	}
	emit("W7.events", kind, (double)written * 1e6 / (double)(end - start),
	     "events/ms", false);
	ret = 0;
out:
	if (w.fd >= 0)
		close(w.fd);
	if (ep >= 0)
		close(ep);
	pthread_barrier_destroy(&w.start);
	return ret;
}
