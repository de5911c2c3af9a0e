// SPDX-License-Identifier: GPL-2.0
/*
 * evq_bench - the workloads of benchmarks.md, native eventfd(2) against
 * /dev/evq counters (libevq's evq_eventfd()), in one process.
 *
 *   evq_bench [-c native|evq|both] [-r REPS] [-t SECONDS] [WORKLOAD...]
 *
 * Workloads: W1 W2 W3 W4 W5 W6 W7 W9 W11 W12 (default: all). For each
 * workload the repetitions run back to back, and inside each repetition the
 * two counter types alternate, native then evq (A B A B ...), so that both
 * see the same machine state. Floors (W1) and the futex/pipe controls of W3
 * do not use a counter; they run once per repetition as kind "ref".
 *
 * Rows with "fast" in their name put evq's EVQ_FAST fast path (libevq's
 * evq_fast_signal(), evq_fast_take(), evq_fast_read()) against native
 * eventfd with write(2) and read(2), which runs again for them, so that
 * every pair still comes from one repetition.
 *
 * Output, one line per measured figure:
 *   BENCH REP ROW KIND VALUE UNIT lower|higher
 * ("lower": lower is better, e.g. ns/op; "higher": e.g. ops/s), read by
 * scripts/bench-report.sh. Anything else on stdout is for people.
 *
 * This is not a test: nothing here fails because something is slow. The
 * exit status is 1 if a workload hit an error (a system call failed, a
 * thread did not start) or lost an event (the values read do not add up
 * to the values written), with a "BENCH-ERROR" line saying which.
 *
 * EVQ_BENCH_EVQ_IS_NATIVE=1 makes the "evq" kind use eventfd(2) too, to
 * check the program itself on a machine without the module.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "evq.h"

#define NSEC_PER_SEC	1000000000ULL
/* Look at the clock every this many operations. */
#define CLOCK_EVERY	16
/* W2: threads; W5/W6: workers and counters per worker; W7: producers. */
#define W5_WORKERS	2
#define W5_NFDS		64
#define W7_PRODUCERS	2
/* W9: threads waiting on one counter; at most this many events per run. */
#define W9_WAITERS	4
#define W9_MAX_EVENTS	20000
/* W9 job pool: reader threads blocked in read(2) on one semaphore counter. */
#define W9_POOL_READERS	8
/* W4: at most this many samples; gap between two samples. */
#define W4_MAX_SAMPLES	20000
#define W4_GAP_NS	50000ULL
/* How long a thread may take to reach its wait before it counts as an error. */
#define SETTLE_NS	(2 * NSEC_PER_SEC)

enum kind { KIND_NATIVE, KIND_EVQ, KIND_REF };

static const char *const kind_name[] = { "native", "evq", "ref" };

static double run_secs = 0.2;
/* The CPUs the program started on: threads that do not pin get these. */
static cpu_set_t start_cpus;
static int cur_rep;
static bool evq_is_native;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

static uint64_t run_ns(void)
{
	return (uint64_t)(run_secs * (double)NSEC_PER_SEC);
}

static void emit(const char *row, enum kind kind, double value,
		 const char *unit, bool lower_is_better)
{
	printf("BENCH %d %s %s %.6g %s %s\n", cur_rep, row, kind_name[kind],
	       value, unit, lower_is_better ? "lower" : "higher");
	fflush(stdout);
}

/* Report an error of one workload; returns -1 for `return bench_err(...)`. */
static int bench_err(const char *row, enum kind kind, const char *what)
{
	printf("BENCH-ERROR %s %s: %s%s%s\n", row, kind_name[kind], what,
	       errno ? ": " : "", errno ? strerror(errno) : "");
	fflush(stdout);
	return -1;
}

static int counter(enum kind kind, unsigned int initval, int flags)
{
	if (kind == KIND_EVQ && !evq_is_native)
		return evq_eventfd(initval, flags);
	return eventfd(initval, flags);
}

/*
 * An evq counter made by evq_create() with evq's own @flags (EVQ_*), on a
 * factory opened for the purpose and closed again; -1 with errno set.
 */
static int factory_counter(unsigned int flags)
{
	int factory, fd, err;

	factory = evq_factory_open(EVQ_CLOEXEC);
	if (factory < 0)
		return -1;
	fd = evq_create(factory, 0, 0, flags);
	err = errno;
	close(factory);
	errno = err;
	return fd;
}

static int write_u64(int fd, uint64_t v)
{
	ssize_t n = write(fd, &v, sizeof(v));

	if (n == (ssize_t)sizeof(v))
		return 0;
	if (n >= 0)
		errno = EIO;
	return -1;
}

/* 1 and the value, 0 on EAGAIN, -1 on any other error. */
static int read_u64(int fd, uint64_t *v)
{
	ssize_t n = read(fd, v, sizeof(*v));

	if (n == (ssize_t)sizeof(*v))
		return 1;
	if (n < 0 && errno == EAGAIN)
		return 0;
	if (n >= 0)
		errno = EIO;
	return -1;
}

static int pin_cpu(int cpu)
{
	cpu_set_t set;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

	CPU_ZERO(&set);
	CPU_SET(ncpu > 1 ? cpu % ncpu : 0, &set);
	return pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

/* Undo pin_cpu() on the calling thread. */
static void unpin(void)
{
	pthread_setaffinity_np(pthread_self(), sizeof(start_cpus), &start_cpus);
}

static long futex_op(atomic_uint *uaddr, int op, unsigned int val)
{
	return syscall(SYS_futex, uaddr, op, val, NULL, NULL, 0);
}

/* Close every fd in @fds that is open. */
static void close_all(int *fds, int n)
{
	for (int i = 0; i < n; i++) {
		if (fds[i] >= 0)
			close(fds[i]);
		fds[i] = -1;
	}
}

/*
 * Start @n threads running @fn(@args + i * @size). One that cannot be
 * created ends the program, reported against @row: those already started
 * wait at a barrier that will never open, so they can be neither joined
 * nor stopped.
 */
static void start_threads(pthread_t *tids, int n, void *(*fn)(void *),
			  void *args, size_t size, const char *row,
			  enum kind kind)
{
	for (int i = 0; i < n; i++) {
		int err = pthread_create(&tids[i], NULL, fn,
					 (char *)args + (size_t)i * size);

		if (err) {
			errno = err;
			bench_err(row, kind, "pthread_create");
			exit(1);
		}
	}
}

static void join_threads(pthread_t *tids, int n)
{
	for (int i = 0; i < n; i++)
		pthread_join(tids[i], NULL);
}

/* ---- W1: floors ---------------------------------------------------------- */

/*
 * Run @op(@arg) on this thread until run_ns() has passed and emit row @row
 * in ns per call; or, if a call fails, report @what and return -1. The one
 * timing loop of every single-thread ns/op row (W1, W11).
 */
static int timed_row(const char *row, enum kind kind, int (*op)(void *),
		     void *arg, const char *what)
{
	uint64_t start = now_ns(), deadline = start + run_ns(), end, n = 0;

	do {
		for (int i = 0; i < CLOCK_EVERY; i++)
			if (op(arg) < 0)
				return bench_err(row, kind, what);
		n += CLOCK_EVERY;
		end = now_ns();
	} while (end < deadline);
	emit(row, kind, (double)(end - start) / (double)n, "ns/op", true);
	return 0;
}

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

static int w1_floors(enum kind kind)
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

static int w2_private(enum kind kind)
{
	if (w2_run(kind, 1, "W2.threads1"))
		return -1;
	return w2_run(kind, 2, "W2.threads2");
}

/* ---- W3: ping-pong ------------------------------------------------------- */

/*
 * CHAN_FAST: an EVQ_FAST counter, signalled with evq_fast_signal() and
 * waited on with evq_fast_read() (or taken with evq_fast_take()); for the
 * native kind, and for evq when it is native (self-check), a plain counter
 * with write(2) and read(2).
 */
enum chan_type { CHAN_COUNTER, CHAN_PIPE, CHAN_FUTEX, CHAN_FAST };

/* One direction of a ping-pong: a counter, a pipe or a futex word. */
struct chan {
	enum chan_type type;
	int rfd, wfd;
	atomic_uint word;
	struct evq_fast fast;	/* CHAN_FAST: the mapped counter */
};

/*
 * The channel functions return the number of system calls they made (0 or
 * more), or -1 with errno set.
 */
static int chan_send(struct chan *c, uint64_t v)
{
	switch (c->type) {
	case CHAN_FUTEX:
		atomic_store(&c->word, (unsigned int)v);
		return futex_op(&c->word, FUTEX_WAKE_PRIVATE, 1) < 0 ? -1 : 1;
	case CHAN_FAST:
		return evq_fast_signal(&c->fast, v);
	default:
		return write_u64(c->wfd, v) ? -1 : 1;
	}
}

/* Wait for a value (never 0) and take it. */
static int chan_recv(struct chan *c, uint64_t *v)
{
	unsigned int w;
	int calls = 0;

	switch (c->type) {
	case CHAN_FUTEX:
		while (!(w = atomic_exchange(&c->word, 0))) {
			calls++;
			if (futex_op(&c->word, FUTEX_WAIT_PRIVATE, 0) < 0 &&
			    errno != EAGAIN && errno != EINTR)
				return -1;
		}
		*v = w;
		return calls;
	case CHAN_FAST:
		return evq_fast_read(&c->fast, v);
	default:
		return read_u64(c->rfd, v) == 1 ? 1 : -1;
	}
}

/* Take a value without waiting, on a non-blocking counter; *@v = 0: none. */
static int chan_take(struct chan *c, uint64_t *v)
{
	int r;

	*v = 0;
	if (c->type != CHAN_FAST)
		return read_u64(c->rfd, v) < 0 ? -1 : 1;
	r = evq_fast_take(&c->fast, v);
	if (r < 0 && errno == EAGAIN)
		return 0;
	return r;
}

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

/*
 * Open @c, a channel of @type for counters of @kind; a counter is
 * non-blocking if @nonblock.
 */
static int chan_open(struct chan *c, enum chan_type type, enum kind kind,
		     bool nonblock)
{
	int fds[2];

	if (type == CHAN_FAST && (kind != KIND_EVQ || evq_is_native))
		type = CHAN_COUNTER;
	c->type = type;
	c->rfd = -1;
	c->wfd = -1;
	c->fast.page = NULL;
	atomic_init(&c->word, 0);
	switch (type) {
	case CHAN_COUNTER:
		c->rfd = counter(kind, 0,
				 EFD_CLOEXEC | (nonblock ? EFD_NONBLOCK : 0));
		c->wfd = c->rfd;
		return c->rfd < 0 ? -1 : 0;
	case CHAN_FAST:
		c->rfd = factory_counter(EVQ_FAST | EVQ_CLOEXEC |
					 (nonblock ? EVQ_NONBLOCK : 0));
		c->wfd = c->rfd;
		if (c->rfd < 0)
			return -1;
		if (evq_fast_map(c->rfd, &c->fast)) {
			c->fast.page = NULL;
			return -1;
		}
		return 0;
	case CHAN_PIPE:
		if (pipe2(fds, O_CLOEXEC))
			return -1;
		c->rfd = fds[0];
		c->wfd = fds[1];
		return 0;
	case CHAN_FUTEX:
		return 0;
	}
	return -1;
}

static void chan_close(struct chan *c)
{
	if (c->fast.page)
		evq_fast_unmap(&c->fast);
	c->fast.page = NULL;
	if (c->rfd >= 0)
		close(c->rfd);
	if (c->wfd >= 0 && c->wfd != c->rfd)
		close(c->wfd);
	c->rfd = -1;
	c->wfd = -1;
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

static int w3_pingpong(enum kind kind)
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
static int w3_fast(enum kind kind)
{
	if (pingpong(kind, CHAN_FAST, false, "W3.fast.same_cpu"))
		return -1;
	return pingpong(kind, CHAN_FAST, true, "W3.fast.cross_cpu");
}

static int w3_controls(enum kind kind)
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

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

/* The @per_mille'th value of the sorted @ns[@n], in microseconds. */
static double percentile_us(const uint64_t *ns, unsigned int n,
			    unsigned int per_mille)
{
	uint64_t i = (uint64_t)n * per_mille / 1000;

	return (double)ns[i] / 1000.0;
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

static int w4_latency(enum kind kind)
{
	return w4_run(kind, CHAN_COUNTER, "W4");
}

/* evq: evq_fast_signal() to a reader asleep in evq_fast_read()'s read(2). */
static int w4_fast(enum kind kind)
{
	return w4_run(kind, CHAN_FAST, "W4.fast");
}

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

static int w5_epoll_wait(enum kind kind)
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

static int w6_epoll_ctl(enum kind kind)
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

static int w7_contention(enum kind kind)
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

static int w9_herd(enum kind kind)
{
	if (w9_run(kind, W9_READ, "W9.read") ||
	    w9_run(kind, W9_READ_SEMA, "W9.read_sema") ||
	    w9_run(kind, W9_EPOLL, "W9.epoll") ||
	    w9_run(kind, W9_EPOLL_EXCL, "W9.epoll_excl") ||
	    w9_pool_run(kind, false, "W9.pool"))
		return -1;
	return w9_pool_run(kind, true, "W9.pool_wake_one");
}

/* ---- W11: create + close ------------------------------------------------- */

struct w11_arg {
	enum kind kind;
	unsigned int initval;
	int flags;
};

static int op_create_close(void *arg)
{
	const struct w11_arg *a = arg;
	int fd = counter(a->kind, a->initval, a->flags);

	if (fd < 0)
		return -1;
	close(fd);
	return 0;
}

/*
 * W11.open and W11.factory: native makes eventfd(0, EFD_CLOEXEC) as in
 * W11.plain; evq opens /dev/evq (the path evq_eventfd() took before the
 * factory), or asks a factory it owns (evq_create(), no fstat check).
 */
struct w11_path {
	enum kind kind;
	int factory;
};

static int op_open_close(void *arg)
{
	const struct w11_path *a = arg;
	int fd;

	if (a->kind != KIND_EVQ || evq_is_native)
		fd = eventfd(0, EFD_CLOEXEC);
	else
		fd = open(EVQ_DEVICE_PATH, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -1;
	close(fd);
	return 0;
}

static int op_factory_close(void *arg)
{
	const struct w11_path *a = arg;
	int fd;

	if (a->kind != KIND_EVQ || evq_is_native)
		fd = eventfd(0, EFD_CLOEXEC);
	else
		fd = evq_create(a->factory, 0, 0, EVQ_CLOEXEC);
	if (fd < 0)
		return -1;
	close(fd);
	return 0;
}

static int w11_lifecycle(enum kind kind)
{
	struct w11_arg plain = { kind, 0, EFD_CLOEXEC };
	struct w11_arg setup = { kind, 1, EFD_CLOEXEC | EFD_SEMAPHORE };
	struct w11_path path = { kind, -1 };
	int ret;

	if (timed_row("W11.plain", kind, op_create_close, &plain,
		      "create counter") ||
	    timed_row("W11.setup", kind, op_create_close, &setup,
		      "create counter") ||
	    timed_row("W11.open", kind, op_open_close, &path,
		      "open the device"))
		return -1;
	if (kind == KIND_EVQ && !evq_is_native) {
		path.factory = evq_factory_open(EVQ_CLOEXEC);
		if (path.factory < 0)
			return bench_err("W11.factory", kind, "open a factory");
	}
	ret = timed_row("W11.factory", kind, op_factory_close, &path,
			"create counter");
	if (path.factory >= 0)
		close(path.factory);
	return ret;
}

static int op_open_close_devnull(void *arg)
{
	int fd = open("/dev/null", O_RDWR | O_CLOEXEC);

	(void)arg;
	if (fd < 0)
		return -1;
	close(fd);
	return 0;
}

/* The floor of W11 for a device: open("/dev/null") + close. */
static int w11_floor(enum kind kind)
{
	return timed_row("W11.open_devnull", kind, op_open_close_devnull, NULL,
			 "open /dev/null");
}

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
static int w12_write(enum kind kind)
{
	return w12_run(kind, CHAN_COUNTER, false, "W12.write");
}

/* Native write(2) again, against evq_fast_signal() on an EVQ_FAST counter. */
static int w12_fast(enum kind kind)
{
	return w12_run(kind, CHAN_FAST, false, "W12.fast");
}

/*
 * The same, the consumer draining with non-blocking read(2) until EAGAIN
 * (native and evq alike): the system calls per signal show whether a read
 * at 0 arms the counter, which would make the next fast signal wake.
 */
static int w12_fast_drain(enum kind kind)
{
	return w12_run(kind, CHAN_FAST, true, "W12.fast_drain");
}

/* ---- main ---------------------------------------------------------------- */

struct workload {
	const char *id;
	int (*fn)(enum kind kind);
	bool uses_counter;	/* false: runs once per repetition, as "ref" */
	const char *what;
};

static const struct workload workloads[] = {
	{ "W1", w1_floors, false, "floors: getppid, read /dev/zero, write /dev/null" },
	{ "W2", w2_private, true, "write+read on a private counter, 1 and 2 threads" },
	{ "W3", w3_pingpong, true, "ping-pong through two counters, same and cross CPU" },
	{ "W3", w3_controls, false, "ping-pong controls: futex and pipe" },
	{ "W3", w3_fast, true, "ping-pong, evq through EVQ_FAST counters (evq_fast_signal/read)" },
	{ "W4", w4_latency, true, "wake-up latency with a CPU hog: p50/p99/p99.9" },
	{ "W4", w4_fast, true, "wake-up latency, evq through an EVQ_FAST counter" },
	{ "W5", w5_epoll_wait, true, "epoll_wait+read, 2 workers x 64 counters, LT/ET/ONESHOT" },
	{ "W6", w6_epoll_ctl, true, "epoll_ctl ADD/MOD/DEL, 2 workers x 64 counters" },
	{ "W7", w7_contention, true, "2 producers, one counter, one epoll consumer" },
	{ "W9", w9_herd, true, "herd of 4: read, semaphore, epoll, EPOLLEXCLUSIVE; pool of 8: plain, wake-one" },
	{ "W11", w11_lifecycle, true, "create + close: evq_eventfd, open, factory" },
	{ "W11", w11_floor, false, "floor: open /dev/null + close" },
	{ "W12", w12_write, true, "redundant signals to a busy epoll consumer: write(2)" },
	{ "W12", w12_fast, true, "redundant signals: native write(2), evq EVQ_FAST fast path" },
	{ "W12", w12_fast_drain, true, "redundant signals, consumer reads until EAGAIN: native write(2), evq EVQ_FAST" },
};

#define NWORKLOADS	(sizeof(workloads) / sizeof(workloads[0]))

static void usage(void)
{
	fprintf(stderr,
		"usage: evq_bench [-c native|evq|both] [-r REPS] [-t SECONDS] [WORKLOAD...]\n"
		"workloads:\n");
	for (size_t i = 0; i < NWORKLOADS; i++)
		fprintf(stderr, "  %-4s %s\n", workloads[i].id, workloads[i].what);
	exit(2);
}

int main(int argc, char **argv)
{
	const char *v = getenv("EVQ_BENCH_EVQ_IS_NATIVE");
	bool want[NWORKLOADS] = { false }, any = false;
	bool do_native = true, do_evq = true;
	int reps = 10, opt, failed = 0;

	evq_is_native = v && !strcmp(v, "1");
	if (sched_getaffinity(0, sizeof(start_cpus), &start_cpus)) {
		perror("sched_getaffinity");
		return 1;
	}
	while ((opt = getopt(argc, argv, "c:r:t:h")) != -1) {
		switch (opt) {
		case 'c':
			do_native = !strcmp(optarg, "native") ||
				    !strcmp(optarg, "both");
			do_evq = !strcmp(optarg, "evq") || !strcmp(optarg, "both");
			if (!do_native && !do_evq)
				usage();
			break;
		case 'r':
			reps = atoi(optarg);
			if (reps < 1)
				usage();
			break;
		case 't':
			run_secs = strtod(optarg, NULL);
			if (!(run_secs > 0 && run_secs < 60))
				usage();
			break;
		default:
			usage();
		}
	}
	for (int a = optind; a < argc; a++) {
		bool known = false;

		for (size_t i = 0; i < NWORKLOADS; i++) {
			if (!strcasecmp(argv[a], workloads[i].id)) {
				want[i] = true;
				known = true;
			}
		}
		if (!known)
			usage();
		any = true;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("# evq_bench: %d repetitions, %.3g s per run%s\n", reps, run_secs,
	       evq_is_native ? " (evq kind is native eventfd: self-check)" : "");
	for (size_t i = 0; i < NWORKLOADS; i++) {
		const struct workload *wl = &workloads[i];
		uint64_t t0 = now_ns();

		if (any && !want[i])
			continue;
		printf("# %s: %s\n", wl->id, wl->what);
		for (cur_rep = 0; cur_rep < reps; cur_rep++) {
			if (!wl->uses_counter) {
				failed |= wl->fn(KIND_REF) != 0;
				continue;
			}
			if (do_native)
				failed |= wl->fn(KIND_NATIVE) != 0;
			if (do_evq)
				failed |= wl->fn(KIND_EVQ) != 0;
		}
		printf("# %s: %.1f s\n", wl->id, (double)(now_ns() - t0) / 1e9);
	}
	printf("# evq_bench: %s\n", failed ? "FAILED" : "done");
	return failed ? 1 : 0;
}
