// SPDX-License-Identifier: GPL-2.0
/*
 * evq_stress - many threads on /dev/evq at once, for the debug kernel.
 *
 * Usage: evq_stress [SECONDS]   (default 10; the churn phase lasts that long)
 *
 * Meant to run under lockdep, KASAN and kmemleak (scripts/guest/debug):
 * the kernel's checkers find the locking and memory bugs, this program finds
 * lost or duplicated values. All at the same time, until SECONDS are up:
 *
 *   channel "sem"  semaphore-mode counter; writers add 1-3, readers take 1
 *                  at a time, blocking when it is empty
 *   channel "big"  normal counter; writers add 2^62, so at most three fit
 *                  and writers block until a reader drains the count
 *   channel "one"  made by the factory (EVQ_IOC_CREATE): semaphore,
 *                  EVQ_WAKE_ONE and a maximum of 4; writers add 1-3 and
 *                  block at the maximum, readers wait exclusively, and the
 *                  signaller aims at both: a lost wake-up strands units
 *   factory churn  EVQ_IOC_CREATE with random modes, write, read, close
 *   signaller      SIGUSR1 (no SA_RESTART) at random channel threads, so
 *                  blocked reads and writes return EINTR mid-stream
 *   epoll churn    open, EPOLL_CTL_ADD, write, epoll_wait, read, DEL or
 *                  close while still registered
 *   open churn     open with every flag combination, setup, dup, write
 *                  through one descriptor and read through the other, close
 *   close/block    a reader blocks on an empty counter, another thread
 *                  closes its descriptor, then a signal ends the read
 *
 * Then the writers stop, the readers drain, and each channel must have
 * delivered exactly what was written: every unit once, none twice, nothing
 * left behind. Output: one "ok NAME" or "not ok NAME" line per check, with
 * "# " lines saying expected and got; exit status 1 if any check failed.
 * No check depends on timing: the deadlines below only turn a hang into a
 * failure instead of a stuck run.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "evq.h"

/* How long a thread may take to finish once told to, before it is a hang. */
#define HANG_MS		30000
#define BIG_UNIT	(1ULL << 62)

#define SEM_WRITERS	4
#define SEM_READERS	4
#define BIG_WRITERS	3
#define BIG_READERS	2
#define ONE_WRITERS	3
#define ONE_READERS	4
#define ONE_MAXIMUM	4
/* Writers or readers of one channel, at most. */
#define MAX_WORKERS	4
#define EPOLL_THREADS	2
#define OPEN_THREADS	2

static atomic_bool stop_churn;
static atomic_int nr_failed;

/* ---- reporting ------------------------------------------------------------ */

static void __attribute__((format(printf, 1, 2))) diag(const char *fmt, ...)
{
	va_list ap;

	flockfile(stdout);
	fputs("# ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
	funlockfile(stdout);
	fflush(stdout);
}

static void verdict(const char *name, bool ok)
{
	printf("%s stress.%s\n", ok ? "ok" : "not ok", name);
	fflush(stdout);
	if (!ok)
		atomic_fetch_add(&nr_failed, 1);
}

/* Per-check error counter: the first few errors are printed. */
struct errs {
	const char *name;
	atomic_int n;
};

static void __attribute__((format(printf, 2, 3)))
err(struct errs *e, const char *fmt, ...)
{
	char buf[256];
	va_list ap;

	if (atomic_fetch_add(&e->n, 1) >= 5)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	diag("%s: %s", e->name, buf);
}

/* ---- helpers -------------------------------------------------------------- */

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void sleep_ms(unsigned int ms)
{
	struct timespec ts = { .tv_sec = ms / 1000,
			       .tv_nsec = (long)(ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static void on_sigusr1(int sig)
{
	(void)sig;
}

/*
 * wait_done() - signal @tid until *@done is set
 *
 * Returns false if the thread did not finish within HANG_MS. The signal
 * interrupts a blocking call the thread is in, or arrives before it starts
 * one, in which case the next signal does.
 */
static bool wait_done(pthread_t tid, atomic_bool *done)
{
	uint64_t deadline = now_ms() + HANG_MS;

	while (!atomic_load(done)) {
		if (now_ms() > deadline)
			return false;
		pthread_kill(tid, SIGUSR1);
		sleep_ms(5);
	}
	return true;
}

/* ---- channels: no lost, no duplicated values ------------------------------ */

struct channel;

struct worker {
	struct channel *ch;
	pthread_t tid;
	atomic_bool done;
	unsigned int seed;
};

struct channel {
	const char *name;
	int fd;
	bool semaphore;
	uint32_t create_flags;	/* non-zero: made by EVQ_IOC_CREATE */
	uint64_t maximum;
	uint64_t unit;		/* every value written is a multiple of it */
	unsigned int max_units;	/* per write */
	atomic_bool stop_writers, stop_readers;
	atomic_ullong written, read;	/* in units */
	atomic_ullong eintr_reads, eintr_writes;
	struct errs errs;
	struct worker writers[MAX_WORKERS];
	struct worker readers[MAX_WORKERS];
	int nr_writers, nr_readers;
};

static void *writer_main(void *arg)
{
	struct worker *w = arg;
	struct channel *ch = w->ch;

	while (!atomic_load(&ch->stop_writers)) {
		uint64_t units = 1 + rand_r(&w->seed) % ch->max_units;
		uint64_t v = units * ch->unit;
		ssize_t n = write(ch->fd, &v, sizeof(v));

		if (n == sizeof(v))
			atomic_fetch_add(&ch->written, units);
		else if (n < 0 && errno == EINTR)
			atomic_fetch_add(&ch->eintr_writes, 1);
		else
			err(&ch->errs, "write(%llu): expected 8, got %zd (%s)",
			    (unsigned long long)v, n, strerror(errno));
	}
	atomic_store(&w->done, true);
	return NULL;
}

static void *reader_main(void *arg)
{
	struct worker *w = arg;
	struct channel *ch = w->ch;

	while (!atomic_load(&ch->stop_readers)) {
		uint64_t v = 0;
		ssize_t n = read(ch->fd, &v, sizeof(v));

		if (n < 0 && errno == EINTR) {
			atomic_fetch_add(&ch->eintr_reads, 1);
			continue;
		}
		if (n != sizeof(v)) {
			err(&ch->errs, "read: expected 8, got %zd (%s)", n,
			    strerror(errno));
			continue;
		}
		if (!v || v % ch->unit || (ch->semaphore && v != 1) ||
		    v / ch->unit > 3ULL * ch->max_units) {
			err(&ch->errs, "read a value that was never written: %#llx",
			    (unsigned long long)v);
			continue;
		}
		atomic_fetch_add(&ch->read, v / ch->unit);
	}
	atomic_store(&w->done, true);
	return NULL;
}

static int factory = -1;

/* A counter from the factory, or -1 with errno set. */
static int create(uint64_t initval, uint64_t maximum, uint32_t flags)
{
	struct evq_create cfg = {
		.initval = initval, .maximum = maximum, .flags = flags,
	};

	return ioctl(factory, EVQ_IOC_CREATE, &cfg);
}

static int channel_start(struct channel *ch)
{
	int i;

	if (ch->create_flags)
		ch->fd = create(0, ch->maximum, ch->create_flags);
	else
		ch->fd = evq_eventfd(0, ch->semaphore ? EFD_SEMAPHORE : 0);
	if (ch->fd < 0) {
		diag("%s: open /dev/evq: %s", ch->name, strerror(errno));
		return -1;
	}
	for (i = 0; i < ch->nr_writers; i++) {
		ch->writers[i].ch = ch;
		ch->writers[i].seed = (unsigned int)i * 7919U + 1;
		if (pthread_create(&ch->writers[i].tid, NULL, writer_main,
				   &ch->writers[i]))
			return -1;
	}
	for (i = 0; i < ch->nr_readers; i++) {
		ch->readers[i].ch = ch;
		if (pthread_create(&ch->readers[i].tid, NULL, reader_main,
				   &ch->readers[i]))
			return -1;
	}
	return 0;
}

/* Stop the writers, let the readers drain, stop them, check the totals. */
static void channel_finish(struct channel *ch)
{
	unsigned long long written, got;
	uint64_t deadline;
	struct pollfd pfd;
	bool hung = false;
	int i, left;

	atomic_store(&ch->stop_writers, true);
	for (i = 0; i < ch->nr_writers; i++)
		hung |= !wait_done(ch->writers[i].tid, &ch->writers[i].done);
	written = atomic_load(&ch->written);

	/* Readers still run: wait for them to take everything. */
	deadline = now_ms() + HANG_MS;
	while (atomic_load(&ch->read) < written && now_ms() < deadline)
		sleep_ms(5);

	atomic_store(&ch->stop_readers, true);
	for (i = 0; i < ch->nr_readers; i++)
		hung |= !wait_done(ch->readers[i].tid, &ch->readers[i].done);
	got = atomic_load(&ch->read);

	diag("%s: %llu units written, %llu read; EINTR: %llu reads, %llu writes",
	     ch->name, written, got, atomic_load(&ch->eintr_reads),
	     atomic_load(&ch->eintr_writes));
	if (hung)
		diag("%s: a thread did not finish within %d ms", ch->name, HANG_MS);
	if (got != written)
		diag("%s: expected %llu units read, got %llu (%s)", ch->name,
		     written, got, got < written ? "lost" : "duplicated");

	/* Nothing may be left in the counter. */
	pfd.fd = ch->fd;
	pfd.events = POLLIN;
	pfd.revents = 0;
	left = poll(&pfd, 1, 0);
	if (left != 0)
		diag("%s: expected an empty counter at the end, poll says %d, revents %#x",
		     ch->name, left, pfd.revents);

	if (!hung) {
		for (i = 0; i < ch->nr_writers; i++)
			pthread_join(ch->writers[i].tid, NULL);
		for (i = 0; i < ch->nr_readers; i++)
			pthread_join(ch->readers[i].tid, NULL);
	}
	close(ch->fd);

	{
		char name[64];

		snprintf(name, sizeof(name), "%s_channel_every_value_once",
			 ch->name);
		verdict(name, !hung && got == written && written > 0 &&
			left == 0 && atomic_load(&ch->errs.n) == 0);
	}
}

/* ---- the signaller ---------------------------------------------------------- */

static struct channel *channels[3];

static void *signaller_main(void *arg)
{
	unsigned int seed = 12345;

	(void)arg;
	while (!atomic_load(&stop_churn)) {
		struct channel *ch = channels[rand_r(&seed) % 3];
		int i = (int)(rand_r(&seed) % (unsigned int)(ch->nr_writers +
							    ch->nr_readers));
		struct worker *w = i < ch->nr_writers ? &ch->writers[i] :
				   &ch->readers[i - ch->nr_writers];

		if (!atomic_load(&w->done))
			pthread_kill(w->tid, SIGUSR1);
		sleep_ms(1);
	}
	return NULL;
}

/* ---- epoll add/del churn -------------------------------------------------- */

static struct errs epoll_errs = { .name = "epoll" };
static atomic_ullong epoll_rounds;

static void *epoll_main(void *arg)
{
	unsigned long round;
	int epfd;

	(void)arg;
	epfd = epoll_create1(EPOLL_CLOEXEC);
	if (epfd < 0) {
		err(&epoll_errs, "epoll_create1: %s", strerror(errno));
		return NULL;
	}
	for (round = 0; !atomic_load(&stop_churn); round++) {
		struct epoll_event ev = { .events = EPOLLIN };
		struct epoll_event out[2];
		uint64_t v = 5;
		int fd, n;

		fd = evq_eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (fd < 0) {
			err(&epoll_errs, "open: %s", strerror(errno));
			continue;
		}
		ev.data.u64 = round;
		if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev)) {
			err(&epoll_errs, "EPOLL_CTL_ADD: %s", strerror(errno));
			close(fd);
			continue;
		}
		n = epoll_wait(epfd, out, 2, 0);
		if (n != 0)
			err(&epoll_errs, "empty counter: expected 0 events, got %d",
			    n);
		if (write(fd, &v, sizeof(v)) != sizeof(v))
			err(&epoll_errs, "write: %s", strerror(errno));
		do {
			n = epoll_wait(epfd, out, 2, HANG_MS);
		} while (n < 0 && errno == EINTR);
		if (n != 1 || out[0].data.u64 != round ||
		    !(out[0].events & EPOLLIN))
			err(&epoll_errs, "after write: expected 1 EPOLLIN event for round %lu, got %d (events %#x, round %llu)",
			    round, n, n > 0 ? out[0].events : 0,
			    n > 0 ? (unsigned long long)out[0].data.u64 : 0ULL);
		v = 0;
		if (read(fd, &v, sizeof(v)) != sizeof(v) || v != 5)
			err(&epoll_errs, "read: expected 5, got %llu (%s)",
			    (unsigned long long)v, strerror(errno));
		if (round % 2 == 0 && epoll_ctl(epfd, EPOLL_CTL_DEL, fd, NULL))
			err(&epoll_errs, "EPOLL_CTL_DEL: %s", strerror(errno));
		/* Odd rounds: close while registered; epoll must drop it. */
		v = 1;
		if (round % 2 && write(fd, &v, sizeof(v)) != sizeof(v))
			err(&epoll_errs, "write: %s", strerror(errno));
		close(fd);
		n = epoll_wait(epfd, out, 2, 0);
		if (n != 0)
			err(&epoll_errs, "after close: expected 0 events, got %d",
			    n);
		atomic_fetch_add(&epoll_rounds, 1);
	}
	close(epfd);
	return NULL;
}

/* ---- open/close churn ----------------------------------------------------- */

static struct errs open_errs = { .name = "open" };
static atomic_ullong open_rounds;

static void *open_main(void *arg)
{
	unsigned int seed = (unsigned int)(uintptr_t)arg;

	while (!atomic_load(&stop_churn)) {
		int flags = (int)(rand_r(&seed) % 8);
		unsigned int init = rand_r(&seed) % 3;
		int efd = ((flags & 1) ? EFD_SEMAPHORE : 0) |
			  ((flags & 2) ? EFD_NONBLOCK : 0) |
			  ((flags & 4) ? EFD_CLOEXEC : 0);
		uint64_t v = 3, want;
		int fd, fd2;

		fd = evq_eventfd(init, efd);
		if (fd < 0) {
			err(&open_errs, "open(init %u, flags %#x): %s", init, efd,
			    strerror(errno));
			continue;
		}
		fd2 = dup(fd);
		if (fd2 < 0) {
			err(&open_errs, "dup: %s", strerror(errno));
			close(fd);
			continue;
		}
		if (write(fd, &v, sizeof(v)) != sizeof(v))
			err(&open_errs, "write: %s", strerror(errno));
		close(fd);
		want = (efd & EFD_SEMAPHORE) ? 1 : init + 3;
		v = 0;
		if (read(fd2, &v, sizeof(v)) != sizeof(v) || v != want)
			err(&open_errs, "read through dup: expected %llu, got %llu (%s)",
			    (unsigned long long)want, (unsigned long long)v,
			    strerror(errno));
		close(fd2);
		atomic_fetch_add(&open_rounds, 1);
	}
	return NULL;
}

/* ---- factory churn -------------------------------------------------------- */

static struct errs create_errs = { .name = "create" };
static atomic_ullong create_rounds;

/*
 * Counters in every mode from EVQ_IOC_CREATE, used once and closed, while
 * other threads create, signal and close around them.
 */
static void *create_main(void *arg)
{
	static const uint32_t modes[] = {
		0, EVQ_SEMAPHORE, EVQ_WAKE_ONE, EVQ_SEMAPHORE | EVQ_WAKE_ONE,
		EVQ_BITS, EVQ_BITS | EVQ_WAKE_ONE, EVQ_MAXIMUM,
		EVQ_MAXIMUM | EVQ_SEMAPHORE | EVQ_WAKE_ONE,
	};
	unsigned int seed = (unsigned int)(uintptr_t)arg;

	while (!atomic_load(&stop_churn)) {
		uint32_t mode = modes[rand_r(&seed) % 8];
		uint64_t init = rand_r(&seed) % 3, v = 5, want;
		int fd;

		fd = create(init, mode & EVQ_MAXIMUM ? 8 : 0,
			    mode | EVQ_CLOEXEC | EVQ_NONBLOCK);
		if (fd < 0) {
			err(&create_errs, "EVQ_IOC_CREATE(init %llu, flags %#x): %s",
			    (unsigned long long)init, mode, strerror(errno));
			continue;
		}
		if (write(fd, &v, sizeof(v)) != sizeof(v))
			err(&create_errs, "write: %s", strerror(errno));
		if (mode & EVQ_SEMAPHORE)
			want = 1;
		else if (mode & EVQ_BITS)
			want = init | 5;
		else
			want = init + 5;
		v = 0;
		if (read(fd, &v, sizeof(v)) != sizeof(v) || v != want)
			err(&create_errs, "read (flags %#x): expected %llu, got %llu (%s)",
			    mode, (unsigned long long)want,
			    (unsigned long long)v, strerror(errno));
		close(fd);
		atomic_fetch_add(&create_rounds, 1);
	}
	return NULL;
}

/* ---- close while a reader is blocked -------------------------------------- */

struct blocked {
	int fd;
	atomic_int tid;
	ssize_t ret;
	int err;
	uint64_t value;
	atomic_bool done;
};

static void *blocked_reader_main(void *arg)
{
	struct blocked *b = arg;

	atomic_store(&b->tid, (int)gettid());
	b->ret = read(b->fd, &b->value, sizeof(b->value));
	b->err = errno;
	atomic_store(&b->done, true);
	return NULL;
}

static struct errs close_errs = { .name = "close_while_blocked" };
static atomic_ullong close_rounds;

/*
 * Wait until the thread b->tid sleeps in read(2): /proc/.../syscall shows
 * the system call number of a sleeping task, and "running" otherwise. Once
 * it sleeps in read it holds its own reference to the file, so a close of
 * the descriptor cannot make the read fail with EBADF. False after HANG_MS.
 */
static bool wait_blocked_in_read(struct blocked *b)
{
	uint64_t deadline = now_ms() + HANG_MS;
	char path[64], buf[32];

	while (!atomic_load(&b->tid))
		sleep_ms(1);
	snprintf(path, sizeof(path), "/proc/self/task/%d/syscall",
		 atomic_load(&b->tid));
	while (now_ms() < deadline) {
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);

		if (fd >= 0)
			close(fd);
		if (n > 0) {
			buf[n] = '\0';
			if (!strncmp(buf, "0 ", 2))	/* __NR_read */
				return true;
		}
		sleep_ms(1);
	}
	return false;
}

/*
 * Even rounds: close the reader's only descriptor, then signal it: the read
 * must end with EINTR (no value was ever written), and the counter is
 * released when the read drops the file. Odd rounds: close one of two
 * descriptors, then write through the other: the reader gets the value.
 */
static void *close_main(void *arg)
{
	unsigned long round;

	(void)arg;
	for (round = 0; !atomic_load(&stop_churn); round++) {
		struct blocked *b;
		pthread_t tid;
		uint64_t v = 7;
		int fd2 = -1;

		/* Freed only once the reader is done with it. */
		b = calloc(1, sizeof(*b));
		if (!b)
			break;
		b->ret = -2;
		b->fd = evq_eventfd(0, 0);
		if (b->fd < 0) {
			err(&close_errs, "open: %s", strerror(errno));
			free(b);
			continue;
		}
		if (round % 2)
			fd2 = dup(b->fd);
		if (pthread_create(&tid, NULL, blocked_reader_main, b)) {
			err(&close_errs, "pthread_create failed");
			close(b->fd);
			free(b);
			break;
		}
		if (!wait_blocked_in_read(b)) {
			err(&close_errs, "reader not asleep in read after %d ms",
			    HANG_MS);
			break;
		}
		close(b->fd);
		if (fd2 >= 0) {
			if (write(fd2, &v, sizeof(v)) != sizeof(v))
				err(&close_errs, "write: %s", strerror(errno));
			close(fd2);
		}
		if (!wait_done(tid, &b->done)) {
			err(&close_errs, "reader did not return within %d ms",
			    HANG_MS);
			break;
		}
		pthread_join(tid, NULL);
		if (fd2 >= 0 && (b->ret != sizeof(v) || b->value != 7))
			err(&close_errs, "read after close of a dup and a write: expected 7, got ret %zd value %llu (%s)",
			    b->ret, (unsigned long long)b->value,
			    strerror(b->err));
		if (fd2 < 0 && b->ret != -1)
			err(&close_errs, "read with nothing written: expected EINTR, got ret %zd value %llu",
			    b->ret, (unsigned long long)b->value);
		else if (fd2 < 0 && b->err != EINTR)
			err(&close_errs, "read with nothing written: expected EINTR, got %s",
			    strerror(b->err));
		free(b);
		atomic_fetch_add(&close_rounds, 1);
	}
	return NULL;
}

/* ---- main ----------------------------------------------------------------- */

_Static_assert(SEM_WRITERS <= MAX_WORKERS && SEM_READERS <= MAX_WORKERS &&
	       BIG_WRITERS <= MAX_WORKERS && BIG_READERS <= MAX_WORKERS &&
	       ONE_WRITERS <= MAX_WORKERS && ONE_READERS <= MAX_WORKERS,
	       "a channel has more threads than struct channel holds");

static struct channel sem_ch = {
	.name = "sem", .semaphore = true, .unit = 1, .max_units = 3,
	.nr_writers = SEM_WRITERS, .nr_readers = SEM_READERS,
	.errs = { .name = "sem" },
};

static struct channel big_ch = {
	.name = "big", .unit = BIG_UNIT, .max_units = 1,
	.nr_writers = BIG_WRITERS, .nr_readers = BIG_READERS,
	.errs = { .name = "big" },
};

static struct channel one_ch = {
	.name = "one", .semaphore = true, .unit = 1, .max_units = 3,
	.create_flags = EVQ_SEMAPHORE | EVQ_WAKE_ONE | EVQ_MAXIMUM,
	.maximum = ONE_MAXIMUM,
	.nr_writers = ONE_WRITERS, .nr_readers = ONE_READERS,
	.errs = { .name = "one" },
};

static void churn_verdict(const char *name, struct errs *e,
			  atomic_ullong *rounds)
{
	unsigned long long n = atomic_load(rounds);

	diag("%s: %llu rounds, %d errors", e->name, n, atomic_load(&e->n));
	verdict(name, n > 0 && atomic_load(&e->n) == 0);
}

int main(int argc, char **argv)
{
	pthread_t epoll_tids[EPOLL_THREADS], open_tids[OPEN_THREADS];
	pthread_t signaller, closer, creator;
	struct sigaction sa;
	int seconds = 10;
	int i;

	if (argc > 1)
		seconds = atoi(argv[1]);
	if (seconds <= 0) {
		fprintf(stderr, "usage: %s [SECONDS]\n", argv[0]);
		return 2;
	}

	/* No SA_RESTART: blocked reads and writes return EINTR. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sigusr1;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGUSR1, &sa, NULL)) {
		perror("sigaction");
		return 1;
	}

	factory = open("/dev/evq", O_RDWR | O_CLOEXEC);
	if (factory < 0) {
		perror("open /dev/evq");
		return 1;
	}

	diag("%d s of churn: %d+%d sem, %d+%d big, %d+%d one, %d epoll, %d open, 1 create, 1 close, 1 signal threads",
	     seconds, SEM_WRITERS, SEM_READERS, BIG_WRITERS, BIG_READERS,
	     ONE_WRITERS, ONE_READERS, EPOLL_THREADS, OPEN_THREADS);
	channels[0] = &sem_ch;
	channels[1] = &big_ch;
	channels[2] = &one_ch;
	if (channel_start(&sem_ch) || channel_start(&big_ch) ||
	    channel_start(&one_ch)) {
		verdict("threads_started", false);
		return 1;
	}
	for (i = 0; i < EPOLL_THREADS; i++)
		if (pthread_create(&epoll_tids[i], NULL, epoll_main, NULL))
			return 1;
	for (i = 0; i < OPEN_THREADS; i++)
		if (pthread_create(&open_tids[i], NULL, open_main,
				   (void *)(uintptr_t)(i + 1)))
			return 1;
	if (pthread_create(&closer, NULL, close_main, NULL) ||
	    pthread_create(&creator, NULL, create_main, (void *)(uintptr_t)7) ||
	    pthread_create(&signaller, NULL, signaller_main, NULL))
		return 1;

	sleep_ms((unsigned int)seconds * 1000);

	atomic_store(&stop_churn, true);
	pthread_join(signaller, NULL);
	for (i = 0; i < EPOLL_THREADS; i++)
		pthread_join(epoll_tids[i], NULL);
	for (i = 0; i < OPEN_THREADS; i++)
		pthread_join(open_tids[i], NULL);
	pthread_join(closer, NULL);
	pthread_join(creator, NULL);

	channel_finish(&sem_ch);
	channel_finish(&big_ch);
	channel_finish(&one_ch);
	churn_verdict("epoll_add_del_close_churn", &epoll_errs, &epoll_rounds);
	churn_verdict("open_dup_close_churn", &open_errs, &open_rounds);
	churn_verdict("factory_create_close_churn", &create_errs,
		      &create_rounds);
	churn_verdict("close_while_blocked_reader", &close_errs, &close_rounds);

	close(factory);
	return atomic_load(&nr_failed) ? 1 : 0;
}
