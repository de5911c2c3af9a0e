// SPDX-License-Identifier: GPL-2.0
/*
 * evq_demo - /dev/evq counters under epoll, beside native eventfd(2).
 *
 * For each kind of counter (native eventfd, evq, then evq's fast path) a
 * producer thread writes 1 to the counter N times, pausing briefly now and
 * then, while the main thread waits in epoll_wait() and reads the counter
 * every time it wakes. A read returns the whole count and resets it to
 * zero, so writes that happen while the consumer is busy coalesce into one
 * read. The fast path (EVQ_FAST) does the same through the counter's shared
 * page: the producer adds with evq_fast_signal(), the consumer takes with
 * evq_fast_take(), and either enters the kernel only when the other side
 * may be asleep. At the end a table compares the three kinds, with the
 * producer's system calls; the sum of the values read must equal the number
 * of writes.
 *
 * The producer tells the consumer it has finished by closing the write end
 * of a pipe that is in the same epoll set (EPOLLHUP), so the consumer never
 * needs to know N: a lost or extra count shows up as a wrong sum.
 *
 * Usage: evq_demo [-n WRITES] [-e] [--native-only]
 * EVQ_DEVICE overrides the device path (libevq reads it).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
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

#include "evq.h"
#include "evq_hint.h"

#define DEFAULT_WRITES	20000UL
#define MAX_WRITES	1000000000UL
/* No event at all for this long means something is stuck (slow TCG too). */
#define STALL_MS	60000
/* How long to wait for a producer thread after a stall. */
#define JOIN_GRACE_S	5

/**
 * struct kind - one kind of counter, and what happened when it ran
 * @title: column heading
 * @create: eventfd(), evq_eventfd() or fast_eventfd()
 * @fast: signal and take through the shared page (EVQ_FAST)
 * @measured: the producer and consumer ran: there are numbers to show
 * @written: successful writes of 1
 * @sum: sum of the values read
 * @wakeups: epoll_wait() returns that reported the counter
 * @reads: reads (or fast-path takes) that returned a count
 * @empty_reads: wake-ups whose read found 0 (EAGAIN)
 * @leftover: count still there after the producer hung up
 * @producer_calls: the producer's system calls: its write(2)s, or the
 *	fast-path signals that entered the kernel
 * @consumer_calls: the consumer's system calls: epoll_wait(2)s and read(2)s
 *	(fast path: the takes that entered the kernel)
 * @ms: elapsed wall-clock time
 */
struct kind {
	const char *title;
	int (*create)(unsigned int initval, int flags);
	bool fast;
	bool measured;
	unsigned long written;
	uint64_t sum;
	unsigned long wakeups;
	unsigned long reads;
	unsigned long empty_reads;
	uint64_t leftover;
	unsigned long producer_calls;
	unsigned long consumer_calls;
	double ms;
};

/**
 * struct producer - what the producer thread needs and reports back
 * @fd: the counter
 * @fast: its mapped page, for a kind with @fast; else @fast.page is NULL
 * @done_fd: write end of the pipe; the producer closes it when it is done
 * @n: writes to do
 * @seed: start of the pause pattern, the same for both kinds
 * @stop: set by the consumer to make the producer give up early
 * @written: successful writes
 * @calls: system calls made to write
 * @err: errno of a failed write, or 0
 */
struct producer {
	int fd;
	struct evq_fast fast;
	int done_fd;
	unsigned long n;
	unsigned int seed;
	atomic_bool stop;
	unsigned long written;
	unsigned long calls;
	int err;
};

/* Every failure, for the final line. */
#define MAX_FAILURES	8
static char *failures[MAX_FAILURES];
static int nfailures;

/* Print a failure now and remember it for the final line. */
static void __attribute__((format(printf, 1, 2))) fail(const char *fmt, ...)
{
	char *msg;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);

	fprintf(stderr, "demo: error: %s\n", msg ? msg : "(out of memory)");
	if (nfailures < MAX_FAILURES)
		failures[nfailures++] = msg;
	else
		free(msg);
}

static void print_verdict(void)
{
	int i;

	if (!nfailures) {
		printf("demo: OK\n");
		return;
	}
	printf("demo: FAILED (");
	for (i = 0; i < nfailures; i++)
		printf("%s%s", i ? "; " : "",
		       failures[i] ? failures[i] : "out of memory");
	printf(")\n");
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* xorshift32: cheap, deterministic "random-ish" numbers for the pauses. */
static unsigned int next_rand(unsigned int *state)
{
	unsigned int x = *state;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	*state = x;
	return x;
}

static void pause_us(unsigned int us)
{
	struct timespec ts = { .tv_sec = 0, .tv_nsec = (long)us * 1000 };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/*
 * Add 1 to the counter: write(2), or the fast path. Returns the system
 * calls made (0 or 1), or -1 with errno set.
 */
static int signal_one(struct producer *p)
{
	const uint64_t one = 1;
	ssize_t ret;
	int calls = 0;

	if (p->fast.page)
		return evq_fast_signal(&p->fast, 1);
	do {
		calls++;
		ret = write(p->fd, &one, sizeof(one));
	} while (ret < 0 && errno == EINTR);
	if (ret == (ssize_t)sizeof(one))
		return calls;
	if (ret >= 0)
		errno = EIO;
	return -1;
}

static void *producer_main(void *arg)
{
	struct producer *p = arg;
	unsigned int rnd = p->seed;
	unsigned long i;

	for (i = 0; i < p->n; i++) {
		unsigned int r = next_rand(&rnd);
		int calls;

		if (atomic_load(&p->stop))
			break;
		calls = signal_one(p);
		if (calls < 0) {
			p->err = errno;
			break;
		}
		p->calls += (unsigned long)calls;
		p->written++;
		/*
		 * About one write in 64 is followed by a short pause, one in
		 * 2048 by a longer one, so that the consumer catches up and
		 * sometimes goes to sleep in epoll_wait().
		 */
		if ((r & 2047) == 0)
			pause_us(500 + (r >> 16) % 1000);
		else if ((r & 63) == 0)
			pause_us(1 + (r >> 16) % 200);
	}
	/* EPOLLHUP for the consumer: no more writes will come. */
	close(p->done_fd);
	p->done_fd = -1;
	return NULL;
}

/*
 * One read of the counter, or one take through @fast if @fast->page is set.
 * Returns 1 if it returned a count, 0 if the count was zero (EAGAIN), -1 on
 * error.
 */
static int read_counter(struct kind *k, int fd, const struct evq_fast *fast)
{
	uint64_t val;
	ssize_t ret;
	int calls;

	if (fast->page) {
		calls = evq_fast_take(fast, &val);
		if (calls >= 0) {
			k->consumer_calls += (unsigned long)calls;
			k->reads++;
			k->sum += val;
			return 1;
		}
		if (errno == EAGAIN)
			return 0;
		fail("%s: take: %s", k->title, strerror(errno));
		return -1;
	}
	do {
		k->consumer_calls++;
		ret = read(fd, &val, sizeof(val));
	} while (ret < 0 && errno == EINTR);
	if (ret == (ssize_t)sizeof(val)) {
		k->reads++;
		k->sum += val;
		return 1;
	}
	if (ret < 0 && errno == EAGAIN)
		return 0;
	if (ret < 0)
		fail("%s: read: %s", k->title, strerror(errno));
	else
		fail("%s: read returned %zd bytes instead of 8", k->title, ret);
	return -1;
}

/* The device libevq opens: $EVQ_DEVICE, or /dev/evq. */
static const char *device_path(void)
{
	const char *path = getenv("EVQ_DEVICE");

	return path && *path ? path : EVQ_DEVICE_PATH;
}

static int epoll_add(struct kind *k, int epfd, int fd, uint32_t events,
		     const char *what)
{
	struct epoll_event ev = { .events = events, .data.fd = fd };

	if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) == 0)
		return 0;
	/* EPERM: the file has no poll method, e.g. a regular file. */
	if (errno == EPERM)
		fail("%s: epoll_ctl(ADD) of the %s: %s (is %s an evq device?)",
		     k->title, what, strerror(errno), device_path());
	else
		fail("%s: epoll_ctl(ADD) of the %s: %s", k->title, what,
		     strerror(errno));
	return -1;
}

/* Give the producer a few seconds to notice the stop flag and finish. */
static int join_producer(pthread_t thread, bool stalled)
{
	struct timespec deadline;

	if (!stalled)
		return pthread_join(thread, NULL);
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += JOIN_GRACE_S;
	return pthread_timedjoin_np(thread, NULL, &deadline);
}

/*
 * The consumer: wait in epoll_wait() and read the counter on every wake-up
 * until the producer hangs up. Returns true if the loop ended normally.
 */
static bool consume(struct kind *k, int epfd, int fd,
		    const struct evq_fast *fast, int done_rd)
{
	struct epoll_event evs[2];
	bool hangup = false;
	int i, ret;

	while (!hangup) {
		bool ready = false;
		int n;

		n = epoll_wait(epfd, evs, 2, STALL_MS);
		k->consumer_calls++;
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			fail("%s: epoll_wait: %s", k->title, strerror(errno));
			return false;
		}
		if (n == 0) {
			fail("%s: no event for %d s; stopping", k->title,
			     STALL_MS / 1000);
			return false;
		}
		for (i = 0; i < n; i++) {
			if (evs[i].data.fd == done_rd) {
				hangup = true;
				continue;
			}
			if (evs[i].events & EPOLLERR) {
				fail("%s: EPOLLERR on the counter", k->title);
				return false;
			}
			ready = true;
		}
		if (!ready)
			continue;
		k->wakeups++;
		ret = read_counter(k, fd, fast);
		if (ret < 0)
			return false;
		if (ret == 0)
			k->empty_reads++;
	}
	/*
	 * The producer's last write came before its hang-up, and its wake-up
	 * before the hang-up's, so the counter should already be empty here.
	 * Anything left means a wake-up went missing.
	 */
	for (;;) {
		uint64_t before = k->sum;

		ret = read_counter(k, fd, fast);
		if (ret < 0)
			return false;
		if (ret == 0)
			break;
		k->leftover += k->sum - before;
	}
	return true;
}

/*
 * An EVQ_FAST counter, with the signature of eventfd(2): made by
 * evq_create() on a factory that is closed again. @flags: EFD_NONBLOCK,
 * EFD_CLOEXEC.
 */
static int fast_eventfd(unsigned int initval, int flags)
{
	unsigned int evq_flags = EVQ_FAST;
	int factory, fd, err;

	if (flags & EFD_NONBLOCK)
		evq_flags |= EVQ_NONBLOCK;
	if (flags & EFD_CLOEXEC)
		evq_flags |= EVQ_CLOEXEC;
	factory = evq_factory_open(EVQ_CLOEXEC);
	if (factory < 0)
		return -1;
	fd = evq_create(factory, initval, 0, evq_flags);
	err = errno;
	close(factory);
	errno = err;
	return fd;
}

/* Run the producer and the consumer on one counter of kind K. */
static void run_kind(struct kind *k, unsigned long n, bool edge)
{
	struct producer p = { .n = n, .seed = 2463534242U, .done_fd = -1 };
	int pipefd[2] = { -1, -1 };
	bool ok, stalled;
	pthread_t thread;
	int epfd = -1;
	double start;
	const char *hint;
	int fd, err;

	printf("%s: running, %lu writes ...\n", k->title, n);

	fd = k->create(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (fd < 0) {
		err = errno;
		hint = evq_open_hint(err);
		if (k->create == eventfd)
			fail("eventfd: %s", strerror(err));
		else
			fail("cannot %s %s: %s%s%s", k->fast ?
			     "make an EVQ_FAST counter on" : "open",
			     device_path(), strerror(err), hint ? " - " : "",
			     hint ? hint : "");
		return;
	}
	if (k->fast && evq_fast_map(fd, &p.fast) < 0) {
		fail("%s: cannot map the counter's page: %s", k->title,
		     strerror(errno));
		p.fast.page = NULL;
		goto out;
	}

	epfd = epoll_create1(EPOLL_CLOEXEC);
	if (epfd < 0) {
		fail("epoll_create1: %s", strerror(errno));
		goto out;
	}
	if (pipe2(pipefd, O_CLOEXEC) < 0) {
		fail("pipe2: %s", strerror(errno));
		goto out;
	}
	if (epoll_add(k, epfd, fd, EPOLLIN | (edge ? EPOLLET : 0),
		      "counter") < 0 ||
	    epoll_add(k, epfd, pipefd[0], EPOLLIN, "pipe") < 0)
		goto out;

	p.fd = fd;
	p.done_fd = pipefd[1];
	pipefd[1] = -1;		/* the producer closes it */
	atomic_init(&p.stop, false);

	start = now_ms();
	err = pthread_create(&thread, NULL, producer_main, &p);
	if (err) {
		fail("pthread_create: %s", strerror(err));
		close(p.done_fd);
		goto out;
	}
	ok = consume(k, epfd, fd, &p.fast, pipefd[0]);
	k->ms = now_ms() - start;
	k->measured = true;

	stalled = !ok;
	atomic_store(&p.stop, true);
	err = join_producer(thread, stalled);
	if (err) {
		/* Stuck, probably in write(): leave everything to exit(). */
		fail("%s: the producer thread has not finished %d s later",
		     k->title, JOIN_GRACE_S);
		print_verdict();
		exit(EXIT_FAILURE);
	}
	k->written = p.written;
	k->producer_calls = p.calls;

	if (p.err)
		fail("%s: write: %s", k->title, strerror(p.err));
	else if (ok && k->written != n)
		fail("%s: %lu of %lu writes done", k->title, k->written, n);
	else if (ok && k->sum != k->written)
		fail("%s: sum of values read %" PRIu64 " != events written %lu",
		     k->title, k->sum, k->written);
	else if (ok)
		printf("%s: done in %.1f ms\n", k->title, k->ms);
	if (k->leftover)
		printf("%s: note: %" PRIu64
		       " left in the counter after the last wake-up\n",
		       k->title, k->leftover);
out:
	if (pipefd[0] >= 0)
		close(pipefd[0]);
	if (pipefd[1] >= 0)
		close(pipefd[1]);
	if (epfd >= 0)
		close(epfd);
	if (p.fast.page)
		evq_fast_unmap(&p.fast);
	close(fd);
}

/* The counted rows of the table, in order. */
enum count_row {
	ROW_WRITTEN, ROW_SUM, ROW_WAKEUPS, ROW_READS, ROW_EMPTY,
	ROW_PRODUCER_CALLS, ROW_CONSUMER_CALLS, NR_COUNT_ROWS
};

static const char *const count_label[NR_COUNT_ROWS] = {
	[ROW_WRITTEN] = "events written",
	[ROW_SUM] = "sum of values read",
	[ROW_WAKEUPS] = "epoll_wait wake-ups",
	[ROW_READS] = "reads (fast path: takes)",
	[ROW_EMPTY] = "wake-ups that found 0",
	[ROW_PRODUCER_CALLS] = "producer system calls",
	[ROW_CONSUMER_CALLS] = "consumer system calls",
};

static uint64_t count_of(const struct kind *k, enum count_row row)
{
	switch (row) {
	case ROW_WRITTEN:
		return k->written;
	case ROW_SUM:
		return k->sum;
	case ROW_WAKEUPS:
		return k->wakeups;
	case ROW_READS:
		return k->reads;
	case ROW_EMPTY:
		return k->empty_reads;
	case ROW_PRODUCER_CALLS:
		return k->producer_calls;
	case ROW_CONSUMER_CALLS:
		return k->consumer_calls;
	default:
		return 0;
	}
}

static void print_table(const struct kind *kinds, int nkinds)
{
	int i, row;

	printf("\n  %-26s", "");
	for (i = 0; i < nkinds; i++)
		printf("%17s", kinds[i].title);
	printf("\n");

	for (row = 0; row < NR_COUNT_ROWS; row++) {
		printf("  %-26s", count_label[row]);
		for (i = 0; i < nkinds; i++) {
			if (kinds[i].measured)
				printf("%17" PRIu64,
				       count_of(&kinds[i], (enum count_row)row));
			else
				printf("%17s", "-");
		}
		printf("\n");
	}

	printf("  %-26s", "average value per read");
	for (i = 0; i < nkinds; i++) {
		if (kinds[i].measured && kinds[i].reads)
			printf("%17.2f", (double)kinds[i].sum /
			       (double)kinds[i].reads);
		else
			printf("%17s", "-");
	}
	printf("\n  %-26s", "elapsed ms");
	for (i = 0; i < nkinds; i++) {
		if (kinds[i].measured)
			printf("%17.1f", kinds[i].ms);
		else
			printf("%17s", "-");
	}
	printf("\n\n");
}

static void usage(FILE *f, const char *prog)
{
	fprintf(f,
		"usage: %s [-n WRITES] [-e] [--native-only]\n"
		"\n"
		"A producer and an epoll consumer on a /dev/evq counter,\n"
		"beside native eventfd(2). Needs evq.ko loaded.\n"
		"\n"
		"  -n, --writes WRITES  writes of 1 per counter\n"
		"                       (default %lu, at most %lu)\n"
		"  -e, --edge           EPOLLIN | EPOLLET (default: level)\n"
		"      --native-only    only the native eventfd column\n"
		"                       (no module needed)\n"
		"  -h, --help           this text\n"
		"\n"
		"EVQ_DEVICE=PATH opens PATH instead of " EVQ_DEVICE_PATH ".\n"
		"Exit status: 0 if every sum matched, 1 on a mismatch or\n"
		"an error, 2 for bad usage.\n",
		prog, DEFAULT_WRITES, MAX_WRITES);
}

static bool parse_writes(const char *s, unsigned long *n)
{
	unsigned long v;
	char *end;

	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v == 0 || v > MAX_WRITES)
		return false;
	*n = v;
	return true;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "writes", required_argument, NULL, 'n' },
		{ "edge", no_argument, NULL, 'e' },
		{ "native-only", no_argument, NULL, 'N' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct kind kinds[] = {
		{ .title = "native eventfd", .create = eventfd },
		{ .title = "evq (" EVQ_DEVICE_PATH ")", .create = evq_eventfd },
		{ .title = "evq fast path", .create = fast_eventfd,
		  .fast = true },
	};
	unsigned long n = DEFAULT_WRITES;
	bool edge = false, native_only = false;
	int nkinds, i, opt;

	while ((opt = getopt_long(argc, argv, "n:eh", longopts, NULL)) != -1) {
		switch (opt) {
		case 'n':
			if (!parse_writes(optarg, &n)) {
				fprintf(stderr, "%s: bad -n '%s' (1 to %lu)\n",
					argv[0], optarg, MAX_WRITES);
				return 2;
			}
			break;
		case 'e':
			edge = true;
			break;
		case 'N':
			native_only = true;
			break;
		case 'h':
			usage(stdout, argv[0]);
			return 0;
		default:
			usage(stderr, argv[0]);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "%s: unexpected argument '%s'\n", argv[0],
			argv[optind]);
		usage(stderr, argv[0]);
		return 2;
	}
	nkinds = native_only ? 1 : 3;

	/* Keep stdout and stderr in order on a serial console or a pipe. */
	setvbuf(stdout, NULL, _IOLBF, 0);

	printf("evq demo: /dev/evq counters under epoll, beside eventfd(2)\n"
	       "\n"
	       "Every open of /dev/evq is a new counter that behaves like\n"
	       "an eventfd. For each kind of counter, a producer thread\n"
	       "writes 1 to it %lu times, pausing briefly now and then.\n"
	       "A consumer waits in epoll_wait() and reads the counter\n"
	       "each time it wakes. A read returns the whole count and\n"
	       "resets it to 0, so writes made while the consumer is busy\n"
	       "coalesce into one read: there are fewer reads than writes,\n"
	       "but the values read must add up to exactly the writes.\n"
	       "\n"
	       "The third column is evq's fast path (EVQ_FAST): the count\n"
	       "lives in a page shared with the kernel, the producer adds\n"
	       "1 with an atomic instruction (evq_fast_signal()) and the\n"
	       "consumer takes the count the same way (evq_fast_take()).\n"
	       "Either enters the kernel only when the other side may be\n"
	       "asleep, so most writes cost no system call at all.\n"
	       "\n"
	       "epoll mode: %s\n"
	       "\n",
	       n, edge ? "EPOLLIN | EPOLLET, edge-triggered" :
	       "EPOLLIN, level-triggered");
	if (native_only)
		printf("--native-only: the evq columns are skipped.\n\n");

	for (i = 0; i < nkinds; i++)
		run_kind(&kinds[i], n, edge);

	print_table(kinds, nkinds);

	if (!nfailures)
		printf("%s An average above 1 per read\n"
		       "means writes were coalesced; wake-ups, reads, system\n"
		       "calls and times vary from run to run. Producer system\n"
		       "calls: one write(2) per event, or the fast-path\n"
		       "signals that found the consumer asleep and woke it.\n"
		       "\n",
		       native_only ? "The sum matches the writes." :
		       "Every sum matches the writes.");
	print_verdict();
	return nfailures ? EXIT_FAILURE : EXIT_SUCCESS;
}
