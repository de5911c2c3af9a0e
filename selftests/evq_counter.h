/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The fixture the differential selftests share: /dev/evq counters and
 * native eventfd(2), one test body for both.
 *
 * The tests are split by area into evq_rw_test.c (read/write),
 * evq_poll_test.c (poll, epoll, select), evq_fdinfo_test.c (fdinfo, fcntl,
 * ioctl, creation flags, and the evq-only EVQ_IOC_SETUP fixture),
 * evq_lifetime_test.c (sharing, closing, ids, open/close cycles) and
 * evq_concurrency_test.c (blocking, signals, many threads). Each includes
 * this header and nothing else of the others.
 *
 * Fixture "counter" runs every test under four variants, one for each way
 * to make a counter: "native" makes its counters with eventfd(2), "evq"
 * with evq_eventfd() from libevq (EVQ_IOC_CREATE on libevq's hidden
 * factory), "factory" with EVQ_IOC_CREATE on a /dev/evq file of its own,
 * and "open" with open("/dev/evq") plus EVQ_IOC_SETUP, the counters whose
 * file the VFS made rather than evq. evq's target is current mainline
 * eventfd (6.9+) on every kernel, so the evq variants always expect the
 * mainline behaviour, while "native" expects what the running kernel's own
 * eventfd does. native_legacy() is the only place that knows where an older
 * kernel differs from mainline. The variants and the one function that
 * makes a counter for them, create_counter(), are together under "the
 * fixture's variants" below.
 *
 * Fixture "evq_ioctl" (evq_fdinfo_test.c) covers what only evq has, the
 * EVQ_IOC_SETUP ioctl. Its single variant is also called "evq", so that
 * `-v evq` runs every evq case of every binary and nothing else.
 *
 * Neither fixture skips when /dev/evq cannot be opened: setup fails, so a
 * missing module can never be counted as a pass.
 *
 * EVQ_TEST_EVQ_IS_NATIVE=1 is for validating the tests on a host that cannot
 * load the module: the "evq" variant of "counter" then makes its counters
 * with eventfd(2), so that every evq expectation (mainline behaviour) can be
 * checked against a mainline kernel's own eventfd; setup fails if the host
 * kernel is older than mainline in a way this file knows about. The
 * "evq_ioctl" tests are skipped in that mode, since a native eventfd has no
 * EVQ_IOC_SETUP. The VM test run never sets this variable.
 *
 * Timing: no test passes or fails on how long something took. A thread that
 * should block gets SETTLE_MS to reach its wait; checking that it is still
 * blocked afterwards can only miss a bug on a slow machine, never report a
 * false one. Anything that should happen gets WAIT_MS before it counts as a
 * hang, which is a failure, not a stuck run.
 *
 * Every helper here is static inline, so that a test file that does not use
 * one compiles without -Wunused-function.
 */
#ifndef EVQ_COUNTER_H
#define EVQ_COUNTER_H

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
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
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/evq.h>

#include "evq.h"
#include "evq_ksft_common.h"
#include "evq_masks.h"
#include "kselftest_harness.h"

/*
 * From evq_ksft_common.h: COUNT_MAX, SETTLE_MS, WAIT_MS, POISON,
 * ret_or_errno(), errstr(), write_u64(), read_u64(), now_ms(), send_fd()
 * and recv_fd().
 */

/* ---- the running kernel ------------------------------------------------ */

#define KV(major, minor)	((major) * 1000 + (minor))

/**
 * running_kernel() - the running kernel's version
 *
 * Return: KV(major, minor) of uname -r, or -1 if it cannot be parsed.
 */
static inline int running_kernel(void)
{
	struct utsname u;
	int major, minor;

	if (uname(&u) || sscanf(u.release, "%d.%d", &major, &minor) != 2)
		return -1;
	return KV(major, minor);
}

/* Where native eventfd on older kernels differs from current mainline. */
enum native_diff {
	/* write(2) of more than 8 bytes adds the first 8 and returns 8 */
	DIFF_WRITE_OVER_8_ACCEPTED,
	/* /proc/self/fdinfo has no "eventfd-semaphore:" line */
	DIFF_FDINFO_NO_SEMAPHORE,
	DIFF_COUNT
};

enum legacy {
	LEGACY_NO,	/* mainline behaviour */
	LEGACY_YES,	/* the older behaviour */
	LEGACY_EITHER,	/* depends on the stable release; accept both */
};

/**
 * native_legacy() - does native eventfd on the running kernel still differ?
 * @diff: the difference
 *
 * This is the one place where an expectation depends on the kernel version.
 * evq never calls for it: evq always behaves like mainline.
 */
static inline enum legacy native_legacy(enum native_diff diff)
{
	int kv = running_kernel();

	switch (diff) {
	case DIFF_WRITE_OVER_8_ACCEPTED:
		/*
		 * eventfd_write() used to reject only count < 8 and read the
		 * first 8 bytes of a longer buffer. "eventfd: strictly check
		 * the count parameter of eventfd_write to avoid inputting
		 * illegal strings" (Wen Yang), merged for 6.9 with the
		 * vfs-6.9.misc pull, requires count == 8.
		 */
		return kv < KV(6, 9) ? LEGACY_YES : LEGACY_NO;
	case DIFF_FDINFO_NO_SEMAPHORE:
		/*
		 * Commit 33d8b5d7824c ("eventfd: show the EFD_SEMAPHORE flag
		 * in fdinfo") was merged for 6.5 with v6.5/vfs.misc. The
		 * stable AUTOSEL bot also proposed it for 6.4.y (on top of
		 * 6.4.1), so 6.4 may have it or not. 6.1 (Debian bookworm)
		 * does not.
		 */
		if (kv < KV(6, 4))
			return LEGACY_YES;
		return kv < KV(6, 5) ? LEGACY_EITHER : LEGACY_NO;
	case DIFF_COUNT:
		break;
	}
	return LEGACY_NO;
}

/* ---- the evq device ------------------------------------------------------ */

/**
 * evq_is_native() - is EVQ_TEST_EVQ_IS_NATIVE=1 set?
 *
 * Host-side validation only; see the top of this file.
 *
 * Return: true if the "evq" variant is to make native eventfds.
 */
static inline bool evq_is_native(void)
{
	const char *v = getenv("EVQ_TEST_EVQ_IS_NATIVE");

	return v && !strcmp(v, "1");
}

/* ---- time ---------------------------------------------------------------- */

/**
 * sleep_ms() - sleep, through signals, for @ms milliseconds
 * @ms: how long
 */
static inline void sleep_ms(int ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) ==
	       EINTR)
		;
}

/* ---- a thread that blocks in one call ----------------------------------- */

enum blocked_op { OP_READ, OP_WRITE, OP_POLL };

/*
 * Heap-allocated and never freed while the thread may still run: if a test
 * gives up on a hung thread, the thread must not write into a dead stack.
 */
struct blocked {
	pthread_t thread;
	int fd;
	enum blocked_op op;
	uint64_t value;		/* OP_WRITE: to write; OP_READ: what was read */
	long ret;		/* bytes or -errno; OP_POLL: revents or -errno */
	atomic_bool done;
};

/* The thread of start_blocked(): one call, then @done. */
static inline void *blocked_fn(void *arg)
{
	struct blocked *b = arg;
	struct pollfd p;

	switch (b->op) {
	case OP_READ:
		b->ret = read_u64(b->fd, &b->value);
		break;
	case OP_WRITE:
		b->ret = write_u64(b->fd, b->value);
		break;
	case OP_POLL:
		p = (struct pollfd){ .fd = b->fd, .events = POLLIN };
		b->ret = poll(&p, 1, -1) < 0 ? -errno : p.revents;
		break;
	}
	atomic_store(&b->done, true);
	return NULL;
}

/**
 * start_blocked() - start a thread that makes one call that may block
 * @_metadata: the test, for ASSERTs
 * @fd: the counter
 * @op: OP_READ, OP_WRITE or OP_POLL (POLLIN, no timeout)
 * @value: for OP_WRITE, the value to write
 *
 * The result is heap-allocated and never freed: see struct blocked.
 *
 * Return: the thread's state, to pass to still_blocked(), finish_blocked().
 */
static inline struct blocked *start_blocked(struct __test_metadata *_metadata,
					    int fd, enum blocked_op op,
					    uint64_t value)
{
	struct blocked *b = calloc(1, sizeof(*b));
	int err;

	ASSERT_NE(NULL, b);
	b->fd = fd;
	b->op = op;
	b->value = value;
	atomic_init(&b->done, false);
	err = pthread_create(&b->thread, NULL, blocked_fn, b);
	ASSERT_EQ(0, err) TH_LOG("pthread_create: %s", strerror(err));
	return b;
}

/**
 * still_blocked() - give the thread SETTLE_MS to reach its wait
 * @b: from start_blocked()
 *
 * Return: true if it has not returned by then.
 */
static inline bool still_blocked(struct blocked *b)
{
	sleep_ms(SETTLE_MS);
	return !atomic_load(&b->done);
}

/**
 * join_when_done() - wait up to WAIT_MS for @done; join @thread if it came
 * @thread: the thread
 * @done: set by the thread as its last act
 *
 * Return: true if @done came (and @thread was joined), false on a hang.
 */
static inline bool join_when_done(pthread_t thread, atomic_bool *done)
{
	int64_t deadline = now_ms() + WAIT_MS;

	while (!atomic_load(done) && now_ms() < deadline)
		sleep_ms(5);
	if (!atomic_load(done))
		return false;
	pthread_join(thread, NULL);
	return true;
}

/**
 * finish_blocked() - wait up to WAIT_MS for the thread's call to return
 * @b: from start_blocked()
 *
 * Return: true if it returned (and the thread was joined), false on a hang.
 */
static inline bool finish_blocked(struct blocked *b)
{
	return join_when_done(b->thread, &b->done);
}

static atomic_int signals_seen;

/* The SIGUSR1 handler of install_handler(): counts in signals_seen. */
static inline void count_signal(int sig)
{
	(void)sig;
	atomic_fetch_add(&signals_seen, 1);
}

/* ---- /proc/self/fdinfo --------------------------------------------------- */

/**
 * read_fdinfo() - read /proc/self/fdinfo/@fd
 * @fd: the descriptor
 * @buf: where the text goes, NUL-terminated
 * @size: the size of @buf
 *
 * Return: the length read, or -errno.
 */
static inline long read_fdinfo(int fd, char *buf, size_t size)
{
	char path[64];
	size_t len = 0;
	long n;
	int info;

	buf[0] = '\0';
	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	info = open(path, O_RDONLY | O_CLOEXEC);
	if (info < 0)
		return -errno;
	do {
		n = read(info, buf + len, size - 1 - len);
		if (n > 0)
			len += (size_t)n;
	} while (n > 0 && len < size - 1);
	if (n < 0)
		n = -errno;
	close(info);
	buf[len] = '\0';
	return n < 0 ? n : (long)len;
}

/**
 * fdinfo_line() - find the line of @info that starts with @key
 * @info: text from read_fdinfo()
 * @key: the start of the line, e.g. "eventfd-count:"
 * @line: where the line goes, without its newline; empty if none
 * @size: the size of @line
 *
 * Return: the line's offset in @info, or -1 if there is none.
 */
static inline long fdinfo_line(const char *info, const char *key, char *line,
			       size_t size)
{
	size_t klen = strlen(key);
	const char *p = info;

	while (*p) {
		const char *eol = strchr(p, '\n');
		size_t n = eol ? (size_t)(eol - p) : strlen(p);

		if (!strncmp(p, key, klen)) {
			if (n >= size)
				n = size - 1;
			memcpy(line, p, n);
			line[n] = '\0';
			return p - info;
		}
		p += n + (eol ? 1 : 0);
	}
	line[0] = '\0';
	return -1;
}

/**
 * tap_lines() - @info with every line after the first prefixed by "# "
 * @info: multi-line text, e.g. from read_fdinfo()
 * @out: where the result goes
 * @size: the size of @out
 *
 * For TH_LOG, whose first line the harness prefixes itself.
 *
 * Return: @out.
 */
static inline const char *tap_lines(const char *info, char *out, size_t size)
{
	size_t o = 0;

	for (; *info && o + 4 < size; info++) {
		if (*info == '\n' && !info[1])
			break;
		out[o++] = *info;
		if (*info == '\n') {
			out[o++] = '#';
			out[o++] = ' ';
		}
	}
	out[o] = '\0';
	return out;
}

/* ---- the fixture shared by native eventfd and evq ------------------------ */

/*
 * The variants, create_counter() that makes a counter for each, and
 * new_counter()/NEW_COUNTER() that the tests call are together here: a new
 * variant is one more FIXTURE_VARIANT_ADD() and one more case in
 * create_counter() (and in new_counter()'s message).
 */

#define MAX_FDS 16

FIXTURE(counter) {
	int fd;			/* made by setup: count 0, blocking */
	int fds[MAX_FDS];	/* every counter made, closed by teardown */
	int nfds;
	bool evq_backed;	/* self->fd is a /dev/evq file (see setup) */
};

/* How a variant makes its counters. */
enum counter_kind {
	KIND_NATIVE,		/* eventfd(2) */
	KIND_EVQ,		/* evq_eventfd() from libevq */
	KIND_FACTORY,		/* EVQ_IOC_CREATE on an open /dev/evq */
	KIND_OPEN,		/* open("/dev/evq") + EVQ_IOC_SETUP */
};

FIXTURE_VARIANT(counter) {
	bool is_evq;		/* an evq counter, not eventfd(2) */
	enum counter_kind kind;
};

FIXTURE_VARIANT_ADD(counter, native) {
	.is_evq = false,
	.kind = KIND_NATIVE,
};

FIXTURE_VARIANT_ADD(counter, evq) {
	.is_evq = true,
	.kind = KIND_EVQ,
};

/*
 * Default-mode counters from the factory must be indistinguishable from
 * eventfd too: the whole differential suite runs on them.
 */
FIXTURE_VARIANT_ADD(counter, factory) {
	.is_evq = true,
	.kind = KIND_FACTORY,
};

/*
 * And so must counters opened from the device node, whose file open(2)
 * made (O_LARGEFILE, FMODE_PREAD and the like come from the VFS there).
 */
FIXTURE_VARIANT_ADD(counter, open) {
	.is_evq = true,
	.kind = KIND_OPEN,
};

/**
 * factory_create() - a counter from EVQ_IOC_CREATE with eventfd's flags
 * @initval: the initial count
 * @flags: EFD_* flags; each maps to its EVQ_* flag, and any other bit to
 *	one the module does not know, so that it fails as eventfd(2) does
 *
 * The factory is opened once per process (each test runs in its own).
 *
 * Return: the descriptor, or -1 with errno set.
 */
static inline int factory_create(unsigned int initval, int flags)
{
	static int factory = -1;
	struct evq_create cfg = { .initval = initval };

	if (factory < 0) {
		factory = open(evq_device(), O_RDWR | O_CLOEXEC);
		if (factory < 0)
			return -1;
	}
	if (flags & EFD_SEMAPHORE)
		cfg.flags |= EVQ_SEMAPHORE;
	if (flags & EFD_NONBLOCK)
		cfg.flags |= EVQ_NONBLOCK;
	if (flags & EFD_CLOEXEC)
		cfg.flags |= EVQ_CLOEXEC;
	if (flags & ~(EFD_SEMAPHORE | EFD_NONBLOCK | EFD_CLOEXEC))
		cfg.flags |= 0x80000000U;
	return ioctl(factory, EVQ_IOC_CREATE, &cfg);
}

/**
 * open_create() - a counter from open(2) and EVQ_IOC_SETUP, eventfd's flags
 * @initval: the initial count
 * @flags: EFD_* flags: EFD_CLOEXEC and EFD_NONBLOCK go to open(2) (they
 *	are O_CLOEXEC and O_NONBLOCK), EFD_SEMAPHORE to the setup, and any
 *	other bit to a setup flag the module does not know, so that it fails
 *	as eventfd(2) does
 *
 * Return: the descriptor, or -1 with errno set.
 */
static inline int open_create(unsigned int initval, int flags)
{
	struct evq_setup s = { .initval = initval };
	int fd, err;

	fd = open(evq_device(), O_RDWR | (flags & (EFD_CLOEXEC | EFD_NONBLOCK)));
	if (fd < 0)
		return -1;
	if (flags & EFD_SEMAPHORE)
		s.flags |= EVQ_SEMAPHORE;
	if (flags & ~(EFD_SEMAPHORE | EFD_NONBLOCK | EFD_CLOEXEC))
		s.flags |= 0x80000000U;
	if (ioctl(fd, EVQ_IOC_SETUP, &s)) {
		err = errno;
		close(fd);
		errno = err;
		return -1;
	}
	return fd;
}

/**
 * create_counter() - make a counter the way a variant does
 * @kind: KIND_EVQ: evq_eventfd() from libevq; KIND_FACTORY: EVQ_IOC_CREATE;
 *	KIND_OPEN: open(2) and EVQ_IOC_SETUP (each a native eventfd with
 *	EVQ_TEST_EVQ_IS_NATIVE=1); KIND_NATIVE: eventfd(2)
 * @initval: the initial count
 * @flags: EFD_* flags
 *
 * The one place that knows how each variant makes its counters. Tests use
 * NEW_COUNTER(); this is for those that check failures or make many.
 *
 * Return: the descriptor, or -1 with errno set.
 */
static inline int create_counter(enum counter_kind kind, unsigned int initval,
				 int flags)
{
	if (kind == KIND_NATIVE || evq_is_native())
		return eventfd(initval, flags);
	if (kind == KIND_FACTORY)
		return factory_create(initval, flags);
	if (kind == KIND_OPEN)
		return open_create(initval, flags);
	return evq_eventfd(initval, flags);
}

/**
 * variant_legacy() - does this variant's counter have the pre-mainline @diff?
 * @self: the fixture
 * @diff: the difference
 *
 * What counts is what the counters really are, not what the variant asked
 * for: under the LD_PRELOAD interposer (preload/) the "native" variant's
 * eventfd() gives /dev/evq files, which behave like mainline.
 *
 * Return: LEGACY_NO for /dev/evq counters, else native_legacy(@diff).
 */
static inline enum legacy variant_legacy(const FIXTURE_DATA(counter) *self,
					 enum native_diff diff)
{
	return self->evq_backed ? LEGACY_NO : native_legacy(diff);
}

/**
 * new_counter() - make a counter for the variant; ASSERTs that it worked
 * @_metadata: the test, for ASSERTs
 * @self: the fixture, which closes the counter in teardown
 * @variant: the variant, which says how (create_counter())
 * @initval: the initial count
 * @flags: EFD_* flags
 *
 * Tests call it as NEW_COUNTER(initval, flags).
 *
 * Return: the counter's descriptor.
 */
static inline int new_counter(struct __test_metadata *_metadata,
			      FIXTURE_DATA(counter) *self,
			      const FIXTURE_VARIANT(counter) *variant,
			      unsigned int initval, int flags)
{
	static const char *const how[] = {
		[KIND_NATIVE] = "eventfd", [KIND_EVQ] = "evq_eventfd",
		[KIND_FACTORY] = "EVQ_IOC_CREATE",
		[KIND_OPEN] = "open+EVQ_IOC_SETUP",
	};
	bool lib = variant->is_evq && !evq_is_native();
	int fd = create_counter(variant->kind, initval, flags);
	int err = errno;

	ASSERT_LE(0, fd)
		TH_LOG("%s(%u, %#x): %s%s%s", lib ? how[variant->kind] : "eventfd",
		       initval, (unsigned int)flags, strerror(err),
		       lib ? "; is the evq module loaded? device: " : "",
		       lib ? evq_device() : "");
	ASSERT_GT(MAX_FDS, self->nfds);
	self->fds[self->nfds++] = fd;
	return fd;
}

/**
 * drop_counter() - close a counter of new_counter() before the test ends
 * @self: the fixture
 * @fd: the counter
 */
static inline void drop_counter(FIXTURE_DATA(counter) *self, int fd)
{
	int i;

	for (i = 0; i < self->nfds; i++) {
		if (self->fds[i] == fd) {
			self->fds[i] = self->fds[--self->nfds];
			close(fd);
			return;
		}
	}
}

#define NEW_COUNTER(initval, flags) \
	new_counter(_metadata, self, variant, (initval), (flags))

/**
 * take_count() - read the count of a non-semaphore counter without blocking
 * @_metadata: the test, for ASSERTs
 * @fd: the counter
 *
 * The read is made with O_NONBLOCK set for the moment, whatever the
 * counter's own mode.
 *
 * Return: the count, 0 if there was nothing to read.
 */
static inline uint64_t take_count(struct __test_metadata *_metadata, int fd)
{
	int fl = fcntl(fd, F_GETFL);
	uint64_t value;
	long ret;

	ASSERT_LE(0, fl) TH_LOG("F_GETFL: %s", strerror(errno));
	ASSERT_EQ(0, fcntl(fd, F_SETFL, fl | O_NONBLOCK));
	ret = read_u64(fd, &value);
	ASSERT_EQ(0, fcntl(fd, F_SETFL, fl));
	if (ret == -EAGAIN)
		return 0;
	ASSERT_EQ(8, ret) TH_LOG("read: %s", errstr(ret));
	return value;
}

FIXTURE_SETUP(counter)
{
	int d;

	self->nfds = 0;
	self->fd = -1;
	ASSERT_LT(0, running_kernel()) TH_LOG("cannot parse uname -r");
	if (variant->is_evq && evq_is_native()) {
		for (d = 0; d < DIFF_COUNT; d++) {
			ASSERT_EQ(LEGACY_NO, native_legacy(d))
				TH_LOG("EVQ_TEST_EVQ_IS_NATIVE=1 needs a host whose eventfd behaves like mainline (6.9+)");
		}
	}
	self->fd = NEW_COUNTER(0, EFD_CLOEXEC);
	self->evq_backed = fd_is_evq(self->fd);
}

FIXTURE_TEARDOWN(counter)
{
	int i;

	for (i = 0; i < self->nfds; i++)
		close(self->fds[i]);
}

/**
 * signal_until_done() - send SIGUSR1 to the thread until its call returns
 * @b: from start_blocked()
 *
 * A signal that arrives before the thread is in the call is handled and
 * changes nothing; gives up after WAIT_MS.
 */
static inline void signal_until_done(struct blocked *b)
{
	int64_t deadline = now_ms() + WAIT_MS;

	while (!atomic_load(&b->done) && now_ms() < deadline) {
		pthread_kill(b->thread, SIGUSR1);
		sleep_ms(50);
	}
}

/**
 * install_handler() - count SIGUSR1 in signals_seen
 * @_metadata: the test, for ASSERTs
 * @flags: sa_flags, e.g. SA_RESTART
 */
static inline void install_handler(struct __test_metadata *_metadata, int flags)
{
	struct sigaction sa = { .sa_handler = count_signal, .sa_flags = flags };

	sigemptyset(&sa.sa_mask);
	ASSERT_EQ(0, sigaction(SIGUSR1, &sa, NULL));
}

#endif /* EVQ_COUNTER_H */
