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
 *
 * This file is the harness: the counter kinds, the A/B pairing, the timing,
 * the BENCH lines, the thread helpers, main() and the table of workloads.
 * The workloads live one family to a file, as tools/perf/bench/ does:
 * floors.c (W1, W2), pingpong.c (W3, W4), epoll.c (W5, W6, W7), herd.c
 * (W9), create.c (W11) and fast.c (W12); chan.c is the channel that
 * pingpong.c and fast.c send their messages through.
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
#include <string.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

const char *const kind_name[] = { "native", "evq", "ref" };

static double run_secs = 0.2;
/* The CPUs the program started on: threads that do not pin get these. */
static cpu_set_t start_cpus;
static int cur_rep;
bool evq_is_native;

uint64_t run_ns(void)
{
	return (uint64_t)(run_secs * (double)NSEC_PER_SEC);
}

void emit(const char *row, enum kind kind, double value, const char *unit,
	  bool lower_is_better)
{
	printf("BENCH %d %s %s %.6g %s %s\n", cur_rep, row, kind_name[kind],
	       value, unit, lower_is_better ? "lower" : "higher");
	fflush(stdout);
}

/* Report an error of one workload; returns -1 for `return bench_err(...)`. */
int bench_err(const char *row, enum kind kind, const char *what)
{
	printf("BENCH-ERROR %s %s: %s%s%s\n", row, kind_name[kind], what,
	       errno ? ": " : "", errno ? strerror(errno) : "");
	fflush(stdout);
	return -1;
}

int counter(enum kind kind, unsigned int initval, int flags)
{
	if (kind == KIND_EVQ && !evq_is_native)
		return evq_eventfd(initval, flags);
	return eventfd(initval, flags);
}

/*
 * An evq counter made by evq_create() with evq's own @flags (EVQ_*), on a
 * factory opened for the purpose and closed again; -1 with errno set.
 */
int factory_counter(unsigned int flags)
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

int pin_cpu(int cpu)
{
	cpu_set_t set;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

	CPU_ZERO(&set);
	CPU_SET(ncpu > 1 ? cpu % ncpu : 0, &set);
	return pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

/* Undo pin_cpu() on the calling thread. */
void unpin(void)
{
	pthread_setaffinity_np(pthread_self(), sizeof(start_cpus), &start_cpus);
}

long futex_op(atomic_uint *uaddr, int op, unsigned int val)
{
	return syscall(SYS_futex, uaddr, op, val, NULL, NULL, 0);
}

/* Close every fd in @fds that is open. */
void close_all(int *fds, int n)
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
void start_threads(pthread_t *tids, int n, void *(*fn)(void *), void *args,
		   size_t size, const char *row, enum kind kind)
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

void join_threads(pthread_t *tids, int n)
{
	for (int i = 0; i < n; i++)
		pthread_join(tids[i], NULL);
}

/*
 * Run @op(@arg) on this thread until run_ns() has passed and emit row @row
 * in ns per call; or, if a call fails, report @what and return -1. The one
 * timing loop of every single-thread ns/op row (W1, W11).
 */
int timed_row(const char *row, enum kind kind, int (*op)(void *), void *arg,
	      const char *what)
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

int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

/* The @per_mille'th value of the sorted @ns[@n], in microseconds. */
double percentile_us(const uint64_t *ns, unsigned int n,
		     unsigned int per_mille)
{
	uint64_t i = (uint64_t)n * per_mille / 1000;

	return (double)ns[i] / 1000.0;
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
