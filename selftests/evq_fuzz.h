/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the source files of the one program evq_fuzz_test share: the
 * counters of a seed and their models, the random numbers, and the
 * functions one file calls in another.
 *
 * The program is split by area:
 *   evq_fuzz_test.c   main(), its command line and environment, the
 *                     sequential differential seeds (native eventfd vs
 *                     evq, "random_ops.seed_N"), the op log and its
 *                     report, progress, and the run of one seed
 *   evq_fuzz_modes.c  the modes seeds: evq's own modes against a model of
 *                     the counter ("modes_ops.seed_N")
 *   evq_fuzz_conc.c   the concurrent mode: threads on shared counters
 *                     ("concurrent_ops.seed_N")
 *
 * kselftest.h keeps the plan and the pass and fail counts in static
 * variables, so each file that includes it has its own. Only
 * evq_fuzz_test.c reports results and bails out with kselftest's own
 * functions; the other files go through conc_result_fail() and
 * fuzz_exit_fail_msg(), so that the numbers of the TAP lines and the
 * totals count every case. ksft_print_msg() keeps no count: any file may
 * call it.
 */
#ifndef EVQ_FUZZ_H
#define EVQ_FUZZ_H

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/select.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "evq.h"
#include "evq_ksft_common.h"
#include "evq_masks.h"
#include "kselftest.h"

#define N_SLOTS		4
#define LOG_LINE	112
/* The last LOG_RING ops are kept for the report of a difference. */
#define LOG_RING	65536
/* Progress: the clock is looked at every PROGRESS_EVERY ops. */
#define PROGRESS_EVERY	4096

/*
 * The concurrent mode (evq_fuzz_conc.c): CONC_COUNTERS counters of each
 * kind; what runs when EVQ_FUZZ_THREADS is unset.
 */
#define CONC_COUNTERS		4
#define CONC_DEFAULT_THREADS	4
#define CONC_DEFAULT_OPS	100000

enum side { NAT, EVQ, N_SIDES };

extern const char *const side_name[N_SIDES];

/* One counter pair: the same operations go to both sides. */
struct slot {
	bool open;
	int fd[N_SIDES];
	int dup[N_SIDES];	/* a dup() of fd, or -1 */
	int ep[N_SIDES];	/* edge-triggered epoll set holding fd */
	bool sem;
	bool nonblock;		/* model of O_NONBLOCK */
	uint64_t count;		/* model of the count */
	long first_op;		/* the op that created it */
};

/*
 * One counter in evq's own modes and its model (the modes seeds): what
 * read, write, poll, EVQ_IOC_GET_INFO and EVQ_IOC_SET_MAXIMUM must give.
 */
struct mslot {
	bool open;
	int fd;			/* always O_NONBLOCK */
	uint64_t count;
	uint64_t maximum;	/* EVQ_COUNT_MAX in bit mode */
	uint32_t flags;		/* EVQ_SEMAPHORE, WAKE_ONE, BITS, FAST */
	uint32_t id;		/* from GET_INFO at creation */
	long first_op;
	struct evq_fast fast;	/* EVQ_FAST: the page, mapped */
};

struct fuzz {
	uint64_t rng;
	long op;		/* index of the current op */
	struct slot slot[N_SLOTS];
	struct mslot m[N_SLOTS];	/* the modes seeds' counters */
	bool modes;		/* a modes seed: m[], not slot[] */
	int factory;		/* a /dev/evq file for EVQ_IOC_CREATE, or -1 */
	char (*log)[LOG_LINE];	/* one line per op, ring of LOG_RING */
	int *log_slot;		/* which slot the op touched, -1 for none */
	bool legacy_write;	/* native accepts write(2) of > 8 bytes */
	bool evq_is_native;
	bool failed;
	long skipped;		/* ops left out because they would block */
};

/*
 * Progress of the whole run, for long runs (make fuzz): a line every
 * progress_secs seconds with the ops done so far and the rate, so that
 * someone watching the console, or a watchdog, sees the run is alive.
 */
struct progress {
	double start;		/* of the run */
	double last;		/* last line printed */
	double every;		/* seconds between lines, 0 for none */
	long done;		/* ops finished before the current seed */
	long total;		/* ops the whole run will make */
};

extern struct progress prog;

/* ---- helpers ------------------------------------------------------------- */

/* splitmix64 */
static inline uint64_t splitmix(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static inline uint64_t rnd(struct fuzz *f)
{
	return splitmix(&f->rng);
}

static inline unsigned int below(struct fuzz *f, unsigned int n)
{
	return (unsigned int)(rnd(f) % n);
}

static inline long sys_ret(long ret)
{
	return ret < 0 ? -errno : ret;
}

static inline double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- in evq_fuzz_test.c -------------------------------------------------- */

void __printf(3, 4) note(struct fuzz *f, int slot, const char *fmt, ...);
bool expect(struct fuzz *f, enum side s, const char *what, long want,
	    long got);
int make_counter(struct fuzz *f, enum side s, unsigned int initval,
		 int flags, bool factory);
/* a value to write, for the plain and the modes seeds */
uint64_t pick_value(struct fuzz *f, uint64_t count, uint64_t maximum,
		    bool any_bit);
void progress_tick(uint64_t seed, long done_in_seed);
/* "not ok N concurrent_ops.seed_@seed", for a stuck thread */
void conc_result_fail(uint64_t seed);
void __noreturn __printf(1, 2) fuzz_exit_fail_msg(const char *fmt, ...);

/* ---- in evq_fuzz_modes.c ------------------------------------------------- */

void mclose(struct fuzz *f, struct mslot *m);
void mstep(struct fuzz *f);

/* ---- in evq_fuzz_conc.c -------------------------------------------------- */

bool run_concurrent(uint64_t seed, long nops, int nthreads, bool is_native);

#endif /* EVQ_FUZZ_H */
