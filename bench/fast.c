// SPDX-License-Identifier: GPL-2.0
/*
 * evq_bench's fast path rows, W12: a producer signalling a busy epoll
 * consumer as fast as it can, where most signals find nobody to wake.
 * Signals per second and system calls per signal on both sides, for
 * write(2) on both kinds, for evq's EVQ_FAST fast path against native
 * write(2), and for a consumer that drains with read(2) until EAGAIN.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "bench.h"

/* ---- W12: redundant signals to a busy epoll consumer --------------------- */

/*
 * A producer on vCPU 1 signals 1 as fast as it can; a consumer on vCPU 0
 * loops on epoll_wait(2) (level-triggered), takes the count and then does
 * W12_WORK_NS of busy work per wake-up, so that most signals arrive while
 * it is busy and have nobody to wake. write(2) enters the kernel for each
 * of them anyway; the fast path only when the consumer's last epoll_wait()
 * armed the counter. W12.fast_drain is the event loop that drains with
 * non-blocking read(2) until EAGAIN after each wake-up: its last read,
 * at 0, must not arm the counter for nobody.
 */
#define W12_WORK_NS	5000ULL

/* Iterations of w12_spin() that take about W12_WORK_NS; set once. */
static unsigned long w12_work_iters;

static void w12_spin(unsigned long n)
{
	for (volatile unsigned long i = 0; i < n; i = i + 1)
		;
}

/* Measure w12_spin() once (at least 20 ms of it) and set w12_work_iters. */
static void w12_calibrate(void)
{
	unsigned long n = 1000;
	uint64_t t0, dt;

	if (w12_work_iters)
		return;
	for (;;) {
		t0 = now_ns();
		w12_spin(n);
		dt = now_ns() - t0;
		if (dt >= 20000000ULL || n > ULONG_MAX / 4)
			break;
		n *= 2;
	}
	w12_work_iters = (unsigned long)((double)n * (double)W12_WORK_NS /
					 (double)(dt ? dt : 1));
	if (!w12_work_iters)
		w12_work_iters = 1;
	printf("# W12: %lu iterations of busy work per wake-up, about %llu ns\n",
	       w12_work_iters, (unsigned long long)W12_WORK_NS);
}

struct w12 {
	struct chan c;
	atomic_uint stop;
	pthread_barrier_t start;
	uint64_t sent, calls;	/* the producer's signals and system calls */
	int err;
};

static void *w12_producer(void *p)
{
	struct w12 *w = p;
	int r;

	pin_cpu(1);
	pthread_barrier_wait(&w->start);
	while (!atomic_load(&w->stop)) {
		r = chan_send(&w->c, 1);
		if (r < 0) {
			w->err = errno;
			return NULL;
		}
		w->calls += (uint64_t)r;
		w->sent++;
	}
	return NULL;
}

/*
 * Take what the counter holds, adding it to *@got: one chan_take(), or
 * with @drain non-blocking read(2) until EAGAIN. The system calls made,
 * or -1.
 */
static int w12_take(struct chan *c, bool drain, uint64_t *got)
{
	uint64_t v;
	int r, calls = 0;

	if (!drain) {
		r = chan_take(c, &v);
		*got += v;
		return r;
	}
	do {
		v = 0;
		r = read_u64(c->rfd, &v);
		calls++;
		*got += v;
	} while (r == 1);
	return r < 0 ? -1 : calls;
}

/*
 * One W12 run through a channel of @type, the consumer taking with
 * w12_take(@drain); rows PREFIX.signals etc.
 */
static int w12_run(enum kind kind, enum chan_type type, bool drain,
		   const char *prefix)
{
	struct w12 w = { .c = { .rfd = -1, .wfd = -1 } };
	struct epoll_event ev = { .events = EPOLLIN };
	uint64_t start, deadline, end, got = 0, calls = 0, v;
	pthread_t tid;
	int ep, n, r, ret = -1;
	bool broke = false;
	char row[64];

	w12_calibrate();
	atomic_init(&w.stop, 0);
	pthread_barrier_init(&w.start, NULL, 2);
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0 || chan_open(&w.c, type, kind, true) ||
	    epoll_ctl(ep, EPOLL_CTL_ADD, w.c.rfd, &ev)) {
		bench_err(prefix, kind, "setup");
		goto out;
	}
	start_threads(&tid, 1, w12_producer, &w, 0, prefix, kind);
	pin_cpu(0);
	pthread_barrier_wait(&w.start);
	start = now_ns();
	deadline = start + run_ns();
	do {
		n = epoll_wait(ep, &ev, 1, 20);
		calls++;
		if (n < 0 && errno != EINTR) {
			bench_err(prefix, kind, "epoll_wait");
			broke = true;
			break;
		}
		if (n <= 0)
			continue;
		r = w12_take(&w.c, drain, &got);
		if (r < 0) {
			bench_err(prefix, kind, "take");
			broke = true;
			break;
		}
		calls += (uint64_t)r;
		w12_spin(w12_work_iters);
	} while (now_ns() < deadline);
	atomic_store(&w.stop, 1);
	join_threads(&tid, 1);
	end = now_ns();
	unpin();
	if (broke)
		goto out;
	if (w.err) {
		errno = w.err;
		bench_err(prefix, kind, "producer signal");
		goto out;
	}
	/* What the consumer did not take is still in the counter. */
	do {
		r = chan_take(&w.c, &v);
		if (r < 0) {
			bench_err(prefix, kind, "drain");
			goto out;
		}
		got += v;
	} while (v);
	if (got != w.sent || !w.sent) {
		errno = 0;
		printf("# %s %s: signalled %llu, took %llu\n", prefix,
		       kind_name[kind], (unsigned long long)w.sent,
		       (unsigned long long)got);
		bench_err(prefix, kind, "lost events");
		goto out;
	}
	snprintf(row, sizeof(row), "%s.signals", prefix);
	emit(row, kind, (double)w.sent * 1e9 / (double)(end - start),
	     "signals/s", false);
	snprintf(row, sizeof(row), "%s.producer_syscalls", prefix);
	emit(row, kind, (double)w.calls / (double)w.sent, "syscalls/signal",
	     true);
	snprintf(row, sizeof(row), "%s.consumer_syscalls", prefix);
	emit(row, kind, (double)calls / (double)w.sent, "syscalls/signal",
	     true);
	ret = 0;
out:
	chan_close(&w.c);
	if (ep >= 0)
		close(ep);
	pthread_barrier_destroy(&w.start);
	return ret;
}

/* write(2) on both sides: native eventfd against a default evq counter. */
int w12_write(enum kind kind)
{
	return w12_run(kind, CHAN_COUNTER, false, "W12.write");
}

/* Native write(2) again, against evq_fast_signal() on an EVQ_FAST counter. */
int w12_fast(enum kind kind)
{
	return w12_run(kind, CHAN_FAST, false, "W12.fast");
}

/*
 * The same, the consumer draining with non-blocking read(2) until EAGAIN
 * (native and evq alike): the system calls per signal show whether a read
 * at 0 arms the counter, which would make the next fast signal wake.
 */
int w12_fast_drain(enum kind kind)
{
	return w12_run(kind, CHAN_FAST, true, "W12.fast_drain");
}
