/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What evq_bench's files share: the counter kinds, the harness of bench.c
 * (timing, BENCH lines, counters, thread helpers), the channels of chan.c,
 * and the workloads, one function each, called once per kind, that
 * bench.c's table runs.
 */
#ifndef EVQ_BENCH_H
#define EVQ_BENCH_H

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#include "evq.h"

#define NSEC_PER_SEC	1000000000ULL
/* Look at the clock every this many operations. */
#define CLOCK_EVERY	16

enum kind { KIND_NATIVE, KIND_EVQ, KIND_REF };

extern const char *const kind_name[];
/* EVQ_BENCH_EVQ_IS_NATIVE=1: the "evq" kind uses eventfd(2) too. */
extern bool evq_is_native;

/* ---- bench.c: the harness ------------------------------------------------ */

/*
 * The three helpers of the timed loops are here, inline, so that the loops
 * compile as they did when evq_bench was one file.
 */
static inline uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

static inline int write_u64(int fd, uint64_t v)
{
	ssize_t n = write(fd, &v, sizeof(v));

	if (n == (ssize_t)sizeof(v))
		return 0;
	if (n >= 0)
		errno = EIO;
	return -1;
}

/* 1 and the value, 0 on EAGAIN, -1 on any other error. */
static inline int read_u64(int fd, uint64_t *v)
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

/* How long one run of a workload lasts (-t), in nanoseconds. */
uint64_t run_ns(void);
void emit(const char *row, enum kind kind, double value, const char *unit,
	  bool lower_is_better);
int bench_err(const char *row, enum kind kind, const char *what);
int timed_row(const char *row, enum kind kind, int (*op)(void *), void *arg,
	      const char *what);
int counter(enum kind kind, unsigned int initval, int flags);
int factory_counter(unsigned int flags);
int pin_cpu(int cpu);
void unpin(void);
long futex_op(atomic_uint *uaddr, int op, unsigned int val);
void close_all(int *fds, int n);
void start_threads(pthread_t *tids, int n, void *(*fn)(void *), void *args,
		   size_t size, const char *row, enum kind kind);
void join_threads(pthread_t *tids, int n);
int cmp_u64(const void *a, const void *b);
double percentile_us(const uint64_t *ns, unsigned int n,
		     unsigned int per_mille);

/* ---- chan.c: one direction of a message ---------------------------------- */

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

int chan_open(struct chan *c, enum chan_type type, enum kind kind,
	      bool nonblock);
void chan_close(struct chan *c);
int chan_send(struct chan *c, uint64_t v);
int chan_recv(struct chan *c, uint64_t *v);
int chan_take(struct chan *c, uint64_t *v);

/* ---- the workloads, by family -------------------------------------------- */

/* floors.c */
int w1_floors(enum kind kind);
int w2_private(enum kind kind);
/* pingpong.c */
int w3_pingpong(enum kind kind);
int w3_controls(enum kind kind);
int w3_fast(enum kind kind);
int w4_latency(enum kind kind);
int w4_fast(enum kind kind);
/* epoll.c */
int w5_epoll_wait(enum kind kind);
int w6_epoll_ctl(enum kind kind);
int w7_contention(enum kind kind);
/* herd.c */
int w9_herd(enum kind kind);
/* create.c */
int w11_lifecycle(enum kind kind);
int w11_floor(enum kind kind);
/* fast.c */
int w12_write(enum kind kind);
int w12_fast(enum kind kind);
int w12_fast_drain(enum kind kind);

#endif /* EVQ_BENCH_H */
