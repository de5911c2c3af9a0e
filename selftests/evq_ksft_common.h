/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What evq_uring_test.c, evq_kapi_test.c, evq_info_test.c and the other
 * test programs share: the constants of the counter and of the timing
 * rules, and small helpers. evq_counter.h, the differential suite's
 * fixture, builds on it too.
 *
 * Timing: nothing passes or fails on how long something took. "Still
 * pending" is looked at after SETTLE_MS and can only miss a bug on a slow
 * machine; what should happen gets WAIT_MS before it counts as a hang.
 */
#ifndef EVQ_KSFT_COMMON_H
#define EVQ_KSFT_COMMON_H

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
#include <sys/ioctl.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <linux/evq.h>

#include "evq.h"

/* The largest count a write can reach: ULLONG_MAX - 1, as for eventfd. */
#define COUNT_MAX	0xfffffffffffffffeULL

/* Output buffers are filled with this first, so stale data shows. */
#define POISON		0xa5a5a5a5a5a5a5a5ULL

#define SETTLE_MS	200
#define WAIT_MS		10000

static inline long ret_or_errno(long ret)
{
	return ret < 0 ? -errno : ret;
}

/* write(2) of @v: 8 or -errno. */
static inline long write_u64(int fd, uint64_t v)
{
	return ret_or_errno(write(fd, &v, sizeof(v)));
}

/* read(2) of 8 bytes into @v (POISON first): 8 or -errno. */
static inline long read_u64(int fd, uint64_t *v)
{
	*v = POISON;
	return ret_or_errno(read(fd, v, sizeof(*v)));
}

static inline int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Sleep @us microseconds, signals notwithstanding. */
static inline void sleep_us(long us)
{
	struct timespec ts = { .tv_sec = us / 1000000,
			       .tv_nsec = (us % 1000000) * 1000 };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* The number the next open() would get: no descriptor leaked. */
static inline int next_fd(void)
{
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

	if (fd >= 0)
		close(fd);
	return fd;
}

/* A new epoll set watching @fd for @events: its descriptor, or -errno. */
static inline int epoll_on(int fd, uint32_t events)
{
	struct epoll_event ev = { .events = events };
	int ep = epoll_create1(EPOLL_CLOEXEC);

	if (ep < 0)
		return -errno;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev)) {
		close(ep);
		return -errno;
	}
	return ep;
}

/* select() with no wait: bit 0 readable, bit 1 writable, or -errno. */
static inline int select_now(int fd)
{
	struct timeval tv = { 0 };
	fd_set r, w;
	int n;

	FD_ZERO(&r);
	FD_ZERO(&w);
	FD_SET(fd, &r);
	FD_SET(fd, &w);
	n = select(fd + 1, &r, &w, NULL, &tv);
	if (n < 0)
		return -errno;
	return (FD_ISSET(fd, &r) ? 1 : 0) | (FD_ISSET(fd, &w) ? 2 : 0);
}

/* Wait up to @ms for *@done; its value then. */
static inline bool done_within(atomic_bool *done, int ms)
{
	int64_t end = now_ms() + ms;

	while (!atomic_load(done) && now_ms() <= end)
		sleep_us(1000);
	return atomic_load(done);
}

/*
 * Join @th, whose last act is to set *@done, sending it SIGUSR1 (whose
 * handler must interrupt, not restart, what it blocks in) until then or
 * until now_ms() passes @end. False if it never finished: it is left
 * behind, and the test process exits with it.
 */
static inline bool kick_and_join(pthread_t th, atomic_bool *done,
				 int64_t end)
{
	while (!atomic_load(done) && now_ms() <= end) {
		pthread_kill(th, SIGUSR1);
		sleep_us(5000);
	}
	if (!atomic_load(done))
		return false;
	pthread_join(th, NULL);
	return true;
}

static inline const char *errstr(long ret)
{
	return ret < 0 ? strerror((int)-ret) : "no error";
}

/* poll() for POLLIN and POLLOUT, no wait: revents, 0, or -errno. */
static inline int poll_now(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN | POLLOUT };
	int n = poll(&p, 1, 0);

	if (n < 0)
		return -errno;
	return n ? p.revents : 0;
}

/*
 * A /dev/evq counter with mode flags @flags (EVQ_SEMAPHORE, EVQ_WAKE_ONE,
 * EVQ_BITS) and a maximum (EVQ_COUNT_MAX for none), made one of the two
 * ways: by the factory, EVQ_IOC_CREATE on a /dev/evq file opened for the
 * purpose and closed again, or by open(2), EVQ_IOC_SET_MAXIMUM (only for a
 * maximum below EVQ_COUNT_MAX) and EVQ_IOC_SETUP. O_CLOEXEC, and
 * O_NONBLOCK if @nonblock. Returns the descriptor or -errno.
 */
static inline int evq_mode_counter(bool factory, uint64_t initval,
				   uint64_t maximum, uint32_t flags,
				   bool nonblock)
{
	struct evq_create c = {
		.initval = initval, .flags = flags | EVQ_CLOEXEC |
		(nonblock ? EVQ_NONBLOCK : 0),
	};
	struct evq_setup s = { .initval = initval, .flags = flags };
	int fd, ret, err;

	fd = open("/dev/evq", O_RDWR | O_CLOEXEC |
		  (!factory && nonblock ? O_NONBLOCK : 0));
	if (fd < 0)
		return -errno;
	if (factory) {
		if (maximum != EVQ_COUNT_MAX) {
			c.flags |= EVQ_MAXIMUM;
			c.maximum = maximum;
		}
		ret = ioctl(fd, EVQ_IOC_CREATE, &c);
		err = errno;
		close(fd);
		return ret < 0 ? -err : ret;
	}
	if ((maximum == EVQ_COUNT_MAX ||
	     !ioctl(fd, EVQ_IOC_SET_MAXIMUM, &maximum)) &&
	    !ioctl(fd, EVQ_IOC_SETUP, &s))
		return fd;
	err = errno;
	close(fd);
	return -err;
}

/* EVQ_IOC_GET_INFO into @info: 0 or -errno. */
static inline int evq_info_of(int fd, struct evq_info *info)
{
	return ioctl(fd, EVQ_IOC_GET_INFO, info) < 0 ? -errno : 0;
}

/*
 * Wait up to WAIT_MS for @readers tasks blocked in read(2) and @writers in
 * write(2) on @fd (EVQ_IOC_GET_INFO). False on a timeout or an error.
 */
static inline bool evq_wait_blocked(int fd, uint32_t readers,
				    uint32_t writers)
{
	struct evq_info info;
	int ms;

	for (ms = 0; ms < WAIT_MS; ms++) {
		if (evq_info_of(fd, &info))
			return false;
		if (info.readers == readers && info.writers == writers)
			return true;
		usleep(1000);
	}
	return false;
}

/*
 * The value of the first line of the /proc file @path that @fmt (a
 * sscanf format with one %ld, e.g. "eventfd-id: %ld") matches, or -1.
 */
static inline long proc_long(const char *path, const char *fmt)
{
	char line[256];
	long val = -1;
	FILE *f = fopen(path, "re");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, fmt, &val) == 1)
			break;
	fclose(f);
	return val;
}

/* Send @fd over the Unix socket @sock (SCM_RIGHTS): 0 or -errno. */
static inline int send_fd(int sock, int fd)
{
	char cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
	char byte = 'x';
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);

	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	return sendmsg(sock, &msg, MSG_NOSIGNAL) == 1 ? 0 : -errno;
}

/* A descriptor received over @sock (SCM_RIGHTS, O_CLOEXEC), or -errno. */
static inline int recv_fd(int sock)
{
	char cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
	char byte;
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *c;
	int fd;

	if (recvmsg(sock, &msg, MSG_CMSG_CLOEXEC) != 1)
		return -errno;
	c = CMSG_FIRSTHDR(&msg);
	if (!c || c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
		return -EPROTO;
	memcpy(&fd, CMSG_DATA(c), sizeof(int));
	return fd;
}

/*
 * Make SIGUSR1 interrupt, not restart, a blocked call (no SA_RESTART), and
 * run @handler. 0 or -1 with errno.
 */
static inline int sigusr1_interrupts(void (*handler)(int))
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = handler;
	sigemptyset(&sa.sa_mask);
	return sigaction(SIGUSR1, &sa, NULL);
}

/* A SIGUSR1 handler for sigusr1_interrupts() that does nothing else. */
static inline void sigusr1_ignore(int sig)
{
	(void)sig;
}

/* ---- one blocking call on a thread of its own ---------------------------- */

enum bg_kind { BG_READ, BG_WRITE, BG_POLL, BG_EPOLL, BG_FN };

/*
 * Zeroed before bg_start(); SIGUSR1 must interrupt the call (see
 * sigusr1_interrupts()), for bg_finish() uses it.
 */
struct bg_call {
	pthread_t th;
	enum bg_kind kind;
	int fd;			/* the counter, or the epoll fd for BG_EPOLL */
	uint64_t val;		/* what BG_WRITE writes, what BG_READ read */
	uint64_t *buf;		/* BG_READ's buffer (&val unless set) */
	long (*fn)(struct bg_call *b);	/* BG_FN: the call */
	void *arg;		/* BG_FN: its argument */
	long ret;		/* the call's return, or -errno */
	uint32_t events;	/* BG_EPOLL/BG_POLL: what was reported */
	atomic_bool done;
	bool started;
};

static inline void *bg_main(void *arg)
{
	struct bg_call *b = arg;
	struct epoll_event ev = { 0 };
	struct pollfd p = { .fd = b->fd, .events = POLLIN };

	switch (b->kind) {
	case BG_READ:
		b->ret = ret_or_errno(read(b->fd, b->buf, sizeof(uint64_t)));
		break;
	case BG_WRITE:
		b->ret = write_u64(b->fd, b->val);
		break;
	case BG_POLL:
		b->ret = ret_or_errno(poll(&p, 1, WAIT_MS));
		b->events = (uint32_t)p.revents;
		break;
	case BG_EPOLL:
		b->ret = ret_or_errno(epoll_wait(b->fd, &ev, 1, WAIT_MS));
		b->events = ev.events;
		break;
	case BG_FN:
		b->ret = b->fn(b);
		break;
	}
	atomic_store(&b->done, true);
	return NULL;
}

/* Start @kind on @fd (@val for BG_WRITE and BG_FN) on a new thread. */
static inline int bg_start(struct bg_call *b, enum bg_kind kind, int fd,
			   uint64_t val)
{
	b->kind = kind;
	b->fd = fd;
	b->val = kind == BG_READ ? POISON : val;
	if (!b->buf)
		b->buf = &b->val;
	b->ret = -EINPROGRESS;
	atomic_store(&b->done, false);
	if (pthread_create(&b->th, NULL, bg_main, b))
		return -1;
	b->started = true;
	return 0;
}

static inline bool bg_wait(struct bg_call *b, int ms)
{
	return done_within(&b->done, ms);
}

/*
 * Join @b, interrupting it with SIGUSR1 until it returns (WAIT_MS at
 * most). False if it never did: it is left behind, the test process
 * exits with it.
 */
static inline bool bg_finish(struct bg_call *b)
{
	if (!b->started)
		return true;
	if (!kick_and_join(b->th, &b->done, now_ms() + WAIT_MS))
		return false;
	b->started = false;
	return true;
}

/**
 * fd_link() - the /proc/self/fd link of @fd
 * @fd: the descriptor
 * @buf: where the link goes
 * @size: the size of @buf
 *
 * Return: @buf; "" if the link cannot be read.
 */
static inline const char *fd_link(int fd, char *buf, size_t size)
{
	char path[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, buf, size - 1);
	buf[n < 0 ? 0 : n] = '\0';
	return buf;
}

/* /proc/self/fd's link for a counter made by EVQ_IOC_CREATE. */
#define ANON_EVQ	"anon_inode:[evq]"

/**
 * evq_device() - the device node, as libevq finds it
 *
 * Return: $EVQ_DEVICE if set and not empty, else EVQ_DEVICE_PATH.
 */
static inline const char *evq_device(void)
{
	const char *path = getenv("EVQ_DEVICE");

	return path && *path ? path : EVQ_DEVICE_PATH;
}

/**
 * fd_is_evq() - is @fd an evq counter, not a native eventfd?
 * @fd: the descriptor
 *
 * Return: true if @fd links to evq_device(), the node libevq opens, or is
 * an anonymous evq file made by EVQ_IOC_CREATE.
 */
static inline bool fd_is_evq(int fd)
{
	char link[256];

	fd_link(fd, link, sizeof(link));
	return !strcmp(link, evq_device()) || !strcmp(link, ANON_EVQ);
}

/*
 * The path of the payload file @name, which sits next to this program
 * (the VM's /payload, or the build's selftests directory), in @buf; $@env
 * instead if it is set. Returns @buf.
 */
static inline const char *sibling_path(const char *env, const char *name,
				       char *buf, size_t size)
{
	const char *set = getenv(env);
	char *slash;
	ssize_t n;

	if (set && *set) {
		snprintf(buf, size, "%s", set);
		return buf;
	}
	n = readlink("/proc/self/exe", buf, size - 1);
	buf[n > 0 ? n : 0] = '\0';
	slash = strrchr(buf, '/');
	if (!slash) {
		snprintf(buf, size, "./%s", name);
		return buf;
	}
	snprintf(slash + 1, size - (size_t)(slash + 1 - buf), "%s", name);
	return buf;
}

#endif /* EVQ_KSFT_COMMON_H */
