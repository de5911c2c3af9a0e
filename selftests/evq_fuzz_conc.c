// SPDX-License-Identifier: GPL-2.0
/*
 * evq_fuzz_conc.c - the concurrent mode of evq_fuzz_test
 * ("concurrent_ops.seed_N"): threads on shared counters, native eventfd
 * and evq alike.
 *
 * Threads share CONC_COUNTERS counters of each kind, all O_NONBLOCK;
 * counters 0 and 1 are plain, 2 and 3 semaphore. Each step of a thread
 * picks a counter and an operation with its parameters and applies it to
 * the native counter and then to the evq counter of that index, so both
 * kinds see operations of the same shape at the same rate. Counts cannot
 * be compared op by op under concurrency; what is checked instead:
 *  - each result is one the operation may give in some interleaving:
 *    EINVAL exactly for a bad size or ULLONG_MAX, EAGAIN only where the
 *    count may be 0 or full, a read never returns 0, a semaphore read
 *    always 1, a poll mask always EPOLLIN and/or EPOLLOUT and nothing else;
 *  - per counter and kind, once every thread has finished: the sum of
 *    all values read plus what is left equals the sum of all values
 *    written (mod 2^64), and poll, epoll and select report exactly what
 *    the count left says;
 *  - no thread is stuck: a watchdog fails the run if one makes no
 *    progress for CONC_STALL_S seconds (every operation is non-blocking,
 *    waits are bounded by a 1 ms timeout).
 * Semaphore counters get writes of 0 to 2 and more reads than writes, so
 * they stay near 0 and can be drained one read at a time at the end; plain
 * counters also get writes close to the maximum, so that full counters
 * and EAGAIN on write happen.
 *
 * CONC_COUNTERS and the defaults are in evq_fuzz.h; main() in
 * evq_fuzz_test.c runs the seeds, one run_concurrent() each.
 */
#include "evq_fuzz.h"

#define CONC_SEM(i)		((i) >= 2)
#define CONC_STALL_S		60

enum conc_op {
	C_WRITE, C_WRITEV, C_READ, C_POLL, C_WAIT, C_SELECT, C_GETFL, C_NOPS,
};

static const char *const conc_op_name[C_NOPS] = {
	"write", "writev", "read", "poll", "epoll_wait(1 ms)", "select",
	"F_GETFL",
};

/* One thread's account of one counter of one kind. */
struct conc_tally {
	uint64_t written;	/* sum of values written, mod 2^64 */
	uint64_t read;		/* sum of values read, mod 2^64 */
	uint64_t reads;		/* successful reads */
	uint64_t eagain;	/* EAGAIN results, reads and writes */
};

struct conc_run {
	int fd[N_SIDES][CONC_COUNTERS];
	long ops_per_thread;
	atomic_bool stop;	/* a thread failed: everyone ends */
};

struct conc_thread {
	pthread_t tid;
	struct conc_run *run;
	uint64_t rng;
	int ep[N_SIDES][CONC_COUNTERS];	/* own edge-triggered epoll sets */
	struct conc_tally t[N_SIDES][CONC_COUNTERS];
	atomic_long done;		/* ops finished */
	atomic_int now;			/* op * 16 + counter, for a stuck report */
	atomic_bool finished;
	long last;			/* the watchdog's: done when last seen */
	double since;			/* and since when */
	char why[200];			/* the first failure */
};

static bool __printf(2, 3)
conc_fail(struct conc_thread *th, const char *fmt, ...)
{
	va_list ap;

	if (!th->why[0]) {
		va_start(ap, fmt);
		vsnprintf(th->why, sizeof(th->why), fmt, ap);
		va_end(ap);
	}
	atomic_store(&th->run->stop, true);
	return false;
}

static uint64_t conc_value(struct conc_thread *th, int i)
{
	unsigned int r = (unsigned int)(splitmix(&th->rng) % 20);

	if (CONC_SEM(i))
		return r % 3;
	if (r == 0)
		return UINT64_MAX;			/* EINVAL */
	if (r == 1)
		return COUNT_MAX - splitmix(&th->rng) % (1 << 20); /* near max */
	if (r < 4)
		return 0;
	return splitmix(&th->rng) % (r < 12 ? 6 : 100000);
}

/* Check a mask from poll() (@is_select: select bits) for any count. */
static bool conc_mask_ok(struct conc_thread *th, enum side s, int i,
			 const char *what, int m, bool is_select)
{
	int any = is_select ? SEL_READ | SEL_WRITE : POLLIN | POLLOUT;

	if (m > 0 && !(m & ~any))
		return true;
	return conc_fail(th, "%s counter %d: %s mask %#x, want POLLIN and/or POLLOUT and nothing else",
			 side_name[s], i, what, (unsigned int)m);
}

/* A write result: 8, or EAGAIN where a full counter is possible. */
static bool conc_write_ok(struct conc_thread *th, enum side s, int i,
			  uint64_t v, size_t len, long ret)
{
	struct conc_tally *t = &th->t[s][i];
	long want_err = len != 8 || v == UINT64_MAX ? -EINVAL : 0;

	if (want_err) {
		if (ret == want_err)
			return true;
		return conc_fail(th, "%s counter %d: write(%#llx, %zu bytes) returned %ld, want EINVAL",
				 side_name[s], i, (unsigned long long)v, len,
				 ret);
	}
	if (ret == 8) {
		t->written += v;
		return true;
	}
	if (ret == -EAGAIN && !CONC_SEM(i)) {
		t->eagain++;
		return true;
	}
	return conc_fail(th, "%s counter %d: write(%#llx) returned %ld (%s), want 8%s",
			 side_name[s], i, (unsigned long long)v, ret,
			 ret < 0 ? strerror((int)-ret) : "-",
			 CONC_SEM(i) ? " (a semaphore counter is never near full)" :
				       " or EAGAIN");
}

/* A read result: 8 with a non-zero value (1 in semaphore mode), or EAGAIN. */
static bool conc_read_ok(struct conc_thread *th, enum side s, int i,
			 size_t len, long ret, uint64_t v)
{
	struct conc_tally *t = &th->t[s][i];

	if (len < 8) {
		if (ret == -EINVAL)
			return true;
		return conc_fail(th, "%s counter %d: read of %zu bytes returned %ld, want EINVAL",
				 side_name[s], i, len, ret);
	}
	if (ret == -EAGAIN) {
		t->eagain++;
		return true;
	}
	if (ret != 8)
		return conc_fail(th, "%s counter %d: read returned %ld (%s), want 8 or EAGAIN",
				 side_name[s], i, ret,
				 ret < 0 ? strerror((int)-ret) : "-");
	if (CONC_SEM(i) ? v != 1 : v == 0)
		return conc_fail(th, "%s counter %d: read %#llx, want %s",
				 side_name[s], i, (unsigned long long)v,
				 CONC_SEM(i) ? "1 (semaphore)" : "non-zero");
	t->read += v;
	t->reads++;
	return true;
}

/* One step: one op with its parameters, on both kinds of counter @i. */
static bool conc_step(struct conc_thread *th)
{
	static const size_t rsizes[] = { 4, 8, 8, 8, 8, 16 };
	static const size_t wsizes[] = { 4, 8, 8, 8, 8, 8, 8 };
	int i = (int)(splitmix(&th->rng) % CONC_COUNTERS);
	unsigned int r = (unsigned int)(splitmix(&th->rng) % 100);
	uint64_t v[2] = { conc_value(th, i), conc_value(th, i) };
	size_t len = 8;
	enum conc_op op;
	int s;

	/* Semaphore counters: more reads than (small) writes, see above. */
	if (r < (CONC_SEM(i) ? 15 : 35))
		op = C_WRITE;
	else if (r < (CONC_SEM(i) ? 20 : 40))
		op = C_WRITEV;
	else if (r < 75)
		op = C_READ;
	else if (r < 85)
		op = C_POLL;
	else if (r < 93)
		op = C_WAIT;
	else if (r < 98)
		op = C_SELECT;
	else
		op = C_GETFL;
	if (op == C_WRITE)
		len = wsizes[splitmix(&th->rng) % ARRAY_SIZE(wsizes)];
	else if (op == C_READ)
		len = rsizes[splitmix(&th->rng) % ARRAY_SIZE(rsizes)];
	atomic_store(&th->now, (int)op * 16 + i);

	for (s = 0; s < N_SIDES; s++) {
		int fd = th->run->fd[s][i];
		unsigned char buf[16];
		struct epoll_event ev;
		struct iovec iov[2];
		uint64_t got = 0;
		long ret;
		int k;

		switch (op) {
		case C_WRITE:
			memset(buf, 0, sizeof(buf));
			memcpy(buf, &v[0], sizeof(v[0]));
			ret = sys_ret(write(fd, buf, len));
			if (!conc_write_ok(th, s, i, v[0], len, ret))
				return false;
			break;
		case C_WRITEV:
			iov[0] = (struct iovec){ &v[0], 8 };
			iov[1] = (struct iovec){ &v[1], 8 };
			ret = sys_ret(writev(fd, iov, 2));
			/* Segment by segment, up to the first that fails. */
			if (ret == 16) {
				th->t[s][i].written += v[0] + v[1];
			} else if (ret == 8) {
				th->t[s][i].written += v[0];
				if (v[1] != UINT64_MAX && CONC_SEM(i))
					return conc_fail(th, "%s counter %d: writev stopped after one segment",
							 side_name[s], i);
			} else if (!conc_write_ok(th, s, i, v[0], 8, ret)) {
				return false;
			}
			break;
		case C_READ:
			memset(buf, 0xa5, sizeof(buf));
			ret = sys_ret(read(fd, buf, len));
			memcpy(&got, buf, sizeof(got));
			if (!conc_read_ok(th, s, i, len, ret, got))
				return false;
			break;
		case C_POLL:
			if (!conc_mask_ok(th, s, i, "poll", poll_mask(fd),
					  false))
				return false;
			break;
		case C_WAIT:
			k = epoll_wait(th->ep[s][i], &ev, 1, 1);
			if (k < 0)
				return conc_fail(th, "%s counter %d: epoll_wait: %s",
						 side_name[s], i,
						 strerror(errno));
			if (k && !conc_mask_ok(th, s, i, "epoll edge",
					       (int)ev.events, false))
				return false;
			break;
		case C_SELECT:
			if (!conc_mask_ok(th, s, i, "select", select_mask(fd),
					  true))
				return false;
			break;
		default:
			ret = sys_ret(fcntl(fd, F_GETFL));
			if (ret != (O_RDWR | O_NONBLOCK))
				return conc_fail(th, "%s counter %d: F_GETFL %#lx, want O_RDWR|O_NONBLOCK",
						 side_name[s], i, ret);
			break;
		}
	}
	return true;
}

static void *conc_thread_fn(void *arg)
{
	struct conc_thread *th = arg;
	long n;

	for (n = 0; n < th->run->ops_per_thread; n++) {
		if (atomic_load_explicit(&th->run->stop, memory_order_relaxed) ||
		    !conc_step(th))
			break;
		atomic_store_explicit(&th->done, n + 1, memory_order_relaxed);
	}
	atomic_store(&th->finished, true);
	return NULL;
}

/*
 * Wait for every thread; print progress. False if one made no progress
 * for CONC_STALL_S seconds (it is then left running: the caller exits).
 */
static bool conc_watch(struct conc_thread *th, int n, uint64_t seed)
{
	int k, running;

	for (k = 0; k < n; k++) {
		th[k].last = -1;
		th[k].since = now_s();
	}
	do {
		long done = 0;
		double t;

		usleep(100 * 1000);
		t = now_s();
		running = 0;
		for (k = 0; k < n; k++) {
			long d = atomic_load(&th[k].done);

			done += d;
			if (atomic_load(&th[k].finished))
				continue;
			running++;
			if (d != th[k].last) {
				th[k].last = d;
				th[k].since = t;
			} else if (t - th[k].since > CONC_STALL_S) {
				int now = atomic_load(&th[k].now);

				ksft_print_msg("seed %llu: thread %d STUCK for %d s in %s on counter %d after %ld ops\n",
					       (unsigned long long)seed, k,
					       CONC_STALL_S, conc_op_name[now / 16],
					       now % 16, d);
				return false;
			}
		}
		progress_tick(seed, done);
	} while (running);
	for (k = 0; k < n; k++)
		pthread_join(th[k].tid, NULL);
	return true;
}

/*
 * Counter @i of kind @s at quiescence: the masks say what the count is,
 * and what was read plus what is left is what was written.
 */
static bool conc_settle(int fd, enum side s, int i, struct conc_thread *th,
			int n, uint64_t seed)
{
	struct conc_tally sum = { 0 };
	uint64_t left = 0, v;
	int k, want, m[3];
	bool ok = true;
	long ret;

	for (k = 0; k < n; k++) {
		sum.written += th[k].t[s][i].written;
		sum.read += th[k].t[s][i].read;
		sum.reads += th[k].t[s][i].reads;
		sum.eagain += th[k].t[s][i].eagain;
	}
	/* The masks before draining, against the count the drain finds. */
	m[0] = poll_mask(fd);
	m[1] = epoll_mask(fd);
	m[2] = select_mask(fd);
	while ((ret = sys_ret(read(fd, &v, sizeof(v)))) == 8) {
		left += v;
		if (!CONC_SEM(i))
			break;
	}
	if (ret != 8 && ret != -EAGAIN) {
		ksft_print_msg("%s counter %d: draining read returned %ld (%s)\n",
			       side_name[s], i, ret, strerror((int)-ret));
		ok = false;
	}
	want = (left ? POLLIN : 0) | (left < COUNT_MAX ? POLLOUT : 0);
	if (m[0] != want || m[1] != want ||
	    m[2] != ((left ? SEL_READ : 0) | (left < COUNT_MAX ? SEL_WRITE : 0))) {
		ksft_print_msg("%s counter %d at rest with %#llx left: poll %#x, epoll %#x, select %#x; want poll/epoll %#x\n",
			       side_name[s], i, (unsigned long long)left, m[0],
			       m[1], m[2], want);
		ok = false;
	}
	if (poll_mask(fd) != POLLOUT) {
		ksft_print_msg("%s counter %d: poll %#x after draining, want POLLOUT\n",
			       side_name[s], i, poll_mask(fd));
		ok = false;
	}
	if (sum.read + left != sum.written) {
		uint64_t got = sum.read + left;

		ksft_print_msg("%s counter %d: LOST OR INVENTED VALUES: written %#llx, read %#llx + left %#llx = %#llx\n",
			       side_name[s], i, (unsigned long long)sum.written,
			       (unsigned long long)sum.read,
			       (unsigned long long)left, (unsigned long long)got);
		ok = false;
	}
	ksft_print_msg("seed %llu: %s counter %d (%s): written %#llx, read %#llx in %llu reads, left %#llx, %llu EAGAIN\n",
		       (unsigned long long)seed, side_name[s], i,
		       CONC_SEM(i) ? "semaphore" : "plain",
		       (unsigned long long)sum.written,
		       (unsigned long long)sum.read,
		       (unsigned long long)sum.reads, (unsigned long long)left,
		       (unsigned long long)sum.eagain);
	return ok;
}

/* One seed of the concurrent mode; true if every check held. */
bool run_concurrent(uint64_t seed, long nops, int nthreads, bool is_native)
{
	struct conc_run run = { .ops_per_thread = (nops + nthreads - 1) / nthreads };
	struct conc_thread *th = calloc((size_t)nthreads, sizeof(*th));
	bool ok = true;
	int i, k, s;

	if (!th)
		fuzz_exit_fail_msg("out of memory for %d threads\n", nthreads);
	atomic_init(&run.stop, false);
	for (s = 0; s < N_SIDES; s++) {
		for (i = 0; i < CONC_COUNTERS; i++) {
			int flags = EFD_NONBLOCK | EFD_CLOEXEC |
				    (CONC_SEM(i) ? EFD_SEMAPHORE : 0);
			struct fuzz f = { .evq_is_native = is_native };

			run.fd[s][i] = make_counter(&f, s, 0, flags, false);
			if (run.fd[s][i] < 0)
				fuzz_exit_fail_msg("%s counter: %s\n",
						   side_name[s], strerror(errno));
		}
	}
	for (k = 0; k < nthreads; k++) {
		th[k].run = &run;
		th[k].rng = seed * 1000003 + (uint64_t)k;
		atomic_init(&th[k].done, 0);
		atomic_init(&th[k].now, 0);
		atomic_init(&th[k].finished, false);
		for (s = 0; s < N_SIDES; s++) {
			for (i = 0; i < CONC_COUNTERS; i++) {
				struct epoll_event ev = {
					.events = EPOLLIN | EPOLLOUT | EPOLLET,
				};

				th[k].ep[s][i] = epoll_create1(EPOLL_CLOEXEC);
				if (th[k].ep[s][i] < 0 ||
				    epoll_ctl(th[k].ep[s][i], EPOLL_CTL_ADD,
					      run.fd[s][i], &ev))
					fuzz_exit_fail_msg("epoll setup: %s\n",
							   strerror(errno));
			}
		}
	}
	for (k = 0; k < nthreads; k++)
		if (pthread_create(&th[k].tid, NULL, conc_thread_fn, &th[k]))
			fuzz_exit_fail_msg("pthread_create failed\n");
	if (!conc_watch(th, nthreads, seed)) {
		conc_result_fail(seed);
		fuzz_exit_fail_msg("a thread is stuck; not waiting for it\n");
	}
	for (k = 0; k < nthreads; k++) {
		if (th[k].why[0]) {
			ksft_print_msg("seed %llu: thread %d after %ld ops: %s\n",
				       (unsigned long long)seed, k,
				       atomic_load(&th[k].done), th[k].why);
			ok = false;
		}
		prog.done += atomic_load(&th[k].done);
	}
	for (s = 0; s < N_SIDES; s++)
		for (i = 0; i < CONC_COUNTERS; i++)
			ok &= conc_settle(run.fd[s][i], s, i, th, nthreads,
					  seed);
	if (!ok)
		ksft_print_msg("replay: EVQ_FUZZ_SEED=%llu EVQ_FUZZ_SEEDS=1 EVQ_FUZZ_OPS=%ld EVQ_FUZZ_THREADS=%d (the interleaving differs from run to run)\n",
			       (unsigned long long)seed, nops, nthreads);
	for (k = 0; k < nthreads; k++)
		for (s = 0; s < N_SIDES; s++)
			for (i = 0; i < CONC_COUNTERS; i++)
				close(th[k].ep[s][i]);
	for (s = 0; s < N_SIDES; s++)
		for (i = 0; i < CONC_COUNTERS; i++)
			close(run.fd[s][i]);
	free(th);
	return ok;
}
