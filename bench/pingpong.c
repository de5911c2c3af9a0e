// SPDX-License-Identifier: GPL-2.0
/*
 * evq_bench's ping-pong and wake-up latency. W3: two threads bounce a
 * message through two counters, on one CPU and across two, in
 * microseconds per round trip; futex and pipe controls as kind "ref"; and
 * the same through EVQ_FAST counters for evq, with the system calls per
 * round trip. W4: the time from a write to the woken reader, with a CPU
 * hog on the reader's CPU, as p50/p99/p99.9; and the same through an
 * EVQ_FAST counter.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "bench.h"

/* W4: at most this many samples; gap between two samples. */
#define W4_MAX_SAMPLES	20000
#define W4_GAP_NS	50000ULL

/* ---- W3: ping-pong ------------------------------------------------------- */

struct pp {
	struct chan ping, pong;
	int cpu_a, cpu_b;
	pthread_barrier_t start;
	uint64_t trips, ns;
	uint64_t calls_a, calls_b;	/* system calls, for CHAN_FAST rows */
	int err_a, err_b;
};

#define PP_GO	1
#define PP_STOP	2

static void *pp_a(void *p)
{
	struct pp *pp = p;
	uint64_t start, deadline, end, v, n = 0;
	int s, r;

	pin_cpu(pp->cpu_a);
	pthread_barrier_wait(&pp->start);
	start = now_ns();
	deadline = start + run_ns();
	do {
		for (int i = 0; i < CLOCK_EVERY; i++) {
			s = chan_send(&pp->ping, PP_GO);
			r = s < 0 ? -1 : chan_recv(&pp->pong, &v);
			if (r < 0 || v != PP_GO) {
				pp->err_a = errno ? errno : EPROTO;
				chan_send(&pp->ping, PP_STOP);
				return NULL;
			}
			pp->calls_a += (uint64_t)(s + r);
		}
		n += CLOCK_EVERY;
		end = now_ns();
	} while (end < deadline);
	pp->trips = n;
	pp->ns = end - start;
	if (chan_send(&pp->ping, PP_STOP) < 0)
		pp->err_a = errno;
	return NULL;
}

static void *pp_b(void *p)
{
	struct pp *pp = p;
	uint64_t v;
	int r, s;

	pin_cpu(pp->cpu_b);
	pthread_barrier_wait(&pp->start);
	for (;;) {
		r = chan_recv(&pp->ping, &v);
		if (r < 0) {
			pp->err_b = errno;
			return NULL;
		}
		if (v == PP_STOP)
			return NULL;
		s = v == PP_GO ? chan_send(&pp->pong, PP_GO) : -1;
		if (s < 0) {
			pp->err_b = errno ? errno : EPROTO;
			return NULL;
		}
		pp->calls_b += (uint64_t)(r + s);
	}
}

static int pingpong(enum kind kind, enum chan_type type, bool cross,
		    const char *row)
{
	struct pp pp = {
		.ping = { .rfd = -1, .wfd = -1 },
		.pong = { .rfd = -1, .wfd = -1 },
		.cpu_a = 0, .cpu_b = cross ? 1 : 0,
	};
	pthread_t a, b;
	char calls_row[64];
	int ret = -1, err;

	pthread_barrier_init(&pp.start, NULL, 2);
	if (chan_open(&pp.ping, type, kind, false) ||
	    chan_open(&pp.pong, type, kind, false)) {
		bench_err(row, kind, "create channel");
		goto out;
	}
	err = pthread_create(&b, NULL, pp_b, &pp);
	if (!err) {
		err = pthread_create(&a, NULL, pp_a, &pp);
		if (err) {
			errno = err;
			bench_err(row, kind, "pthread_create");
			exit(1);	/* b waits at the barrier forever */
		}
	}
	if (err) {
		errno = err;
		bench_err(row, kind, "pthread_create");
		goto out;
	}
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	if (pp.err_a || pp.err_b) {
		errno = pp.err_a ? pp.err_a : pp.err_b;
		if (errno == EPROTO)
			errno = 0;
		bench_err(row, kind, "ping-pong lost or garbled a message");
		goto out;
	}
	emit(row, kind, (double)pp.ns / (double)pp.trips / 1000.0,
	     "us/roundtrip", true);
	/* The fast path's point is the system calls it saves: show them. */
	if (type == CHAN_FAST) {
		snprintf(calls_row, sizeof(calls_row), "%s.syscalls", row);
		emit(calls_row, kind,
		     (double)(pp.calls_a + pp.calls_b) / (double)pp.trips,
		     "syscalls/roundtrip", true);
	}
	ret = 0;
out:
	chan_close(&pp.ping);
	chan_close(&pp.pong);
	pthread_barrier_destroy(&pp.start);
	return ret;
}

int w3_pingpong(enum kind kind)
{
	if (pingpong(kind, CHAN_COUNTER, false, "W3.same_cpu"))
		return -1;
	return pingpong(kind, CHAN_COUNTER, true, "W3.cross_cpu");
}

/*
 * The same ping-pong through EVQ_FAST counters for evq: every signal finds
 * the other side asleep (or about to sleep), so it must enter the kernel
 * to wake it; native runs again beside it with write(2) and read(2).
 */
int w3_fast(enum kind kind)
{
	if (pingpong(kind, CHAN_FAST, false, "W3.fast.same_cpu"))
		return -1;
	return pingpong(kind, CHAN_FAST, true, "W3.fast.cross_cpu");
}

int w3_controls(enum kind kind)
{
	if (pingpong(kind, CHAN_FUTEX, false, "W3.futex_same_cpu") ||
	    pingpong(kind, CHAN_FUTEX, true, "W3.futex_cross_cpu") ||
	    pingpong(kind, CHAN_PIPE, false, "W3.pipe_same_cpu"))
		return -1;
	return pingpong(kind, CHAN_PIPE, true, "W3.pipe_cross_cpu");
}

/* ---- W4: wake-up latency through the counter, with a CPU hog ------------- */

struct w4 {
	struct chan c;
	uint64_t base;
	uint64_t *lat;
	atomic_uint acked, stop;
	int err;
};

/* Reader, on CPU 0: every value read is the writer's clock - base + 1. */
static void *w4_reader(void *p)
{
	struct w4 *w = p;
	uint64_t v;

	pin_cpu(0);
	for (unsigned int i = 0;; i++) {
		if (chan_recv(&w->c, &v) < 0) {
			w->err = errno;
			return NULL;
		}
		if (atomic_load(&w->stop))
			return NULL;
		if (i < W4_MAX_SAMPLES)
			w->lat[i] = now_ns() - w->base + 1 - v;
		atomic_store(&w->acked, i + 1);
	}
}

/*
 * Interference: a busy thread on the reader's CPU. SCHED_IDLE, so that the
 * woken reader preempts it at once: the figure is the wake-up path with a
 * CPU that is busy (caches, preemption), not the length of a time slice.
 */
static void *w4_hog(void *p)
{
	struct w4 *w = p;
	struct sched_param sp = { .sched_priority = 0 };

	pin_cpu(0);
	pthread_setschedparam(pthread_self(), SCHED_IDLE, &sp);
	while (!atomic_load(&w->stop))
		;
	return NULL;
}

/* One W4 run through a channel of @type; rows PREFIX.p50, .p99, .p999. */
static int w4_run(enum kind kind, enum chan_type type, const char *prefix)
{
	struct w4 w = { .c.rfd = -1, .c.wfd = -1 };
	pthread_t reader, hog;
	uint64_t deadline, t, gap_end;
	unsigned int n = 0;
	int ret = -1, err;
	bool hog_started = false;
	char row[64];

	w.lat = calloc(W4_MAX_SAMPLES, sizeof(*w.lat));
	if (!w.lat || chan_open(&w.c, type, kind, false)) {
		bench_err(prefix, kind, "allocate or create counter");
		goto out;
	}
	atomic_init(&w.acked, 0);
	atomic_init(&w.stop, 0);
	w.base = now_ns();
	err = pthread_create(&reader, NULL, w4_reader, &w);
	if (err) {
		errno = err;
		bench_err(prefix, kind, "pthread_create");
		goto out;
	}
	hog_started = !pthread_create(&hog, NULL, w4_hog, &w);
	pin_cpu(1);
	deadline = now_ns() + 2 * run_ns();
	while (n < W4_MAX_SAMPLES && now_ns() < deadline && !w.err) {
		t = now_ns() - w.base + 1;
		if (chan_send(&w.c, t) < 0) {
			w.err = errno;
			break;
		}
		n++;
		/* Wait for the reader, then leave a gap before the next. */
		while (atomic_load(&w.acked) < n && !w.err)
			;
		gap_end = now_ns() + W4_GAP_NS;
		while (now_ns() < gap_end)
			;
	}
	atomic_store(&w.stop, 1);
	err = w.err;
	if (chan_send(&w.c, 1) < 0 && !err)
		err = errno;
	pthread_join(reader, NULL);
	if (hog_started)
		pthread_join(hog, NULL);
	unpin();
	if (err || w.err || !hog_started) {
		errno = err ? err : w.err;
		bench_err(prefix, kind, "latency run");
		goto out;
	}
	qsort(w.lat, n, sizeof(*w.lat), cmp_u64);
	snprintf(row, sizeof(row), "%s.p50", prefix);
	emit(row, kind, percentile_us(w.lat, n, 500), "us", true);
	snprintf(row, sizeof(row), "%s.p99", prefix);
	emit(row, kind, percentile_us(w.lat, n, 990), "us", true);
	snprintf(row, sizeof(row), "%s.p999", prefix);
	emit(row, kind, percentile_us(w.lat, n, 999), "us", true);
	ret = 0;
out:
	chan_close(&w.c);
	free(w.lat);
	return ret;
}

int w4_latency(enum kind kind)
{
	return w4_run(kind, CHAN_COUNTER, "W4");
}

/* evq: evq_fast_signal() to a reader asleep in evq_fast_read()'s read(2). */
int w4_fast(enum kind kind)
{
	return w4_run(kind, CHAN_FAST, "W4.fast");
}
