// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libevq-preload.so - run unmodified programs on /dev/evq counters.
 *
 *   LD_PRELOAD=/path/to/libevq-preload.so program ...
 *
 * Interposes glibc's eventfd(), eventfd_read(), eventfd_write() and
 * syscall() for SYS_eventfd2 and SYS_eventfd, so that every counter the
 * program makes is an evq counter instead of the kernel's own eventfd.
 * Every other syscall() number is passed to glibc's. read, write, poll,
 * epoll, select and fcntl need nothing: they work on evq counters as they
 * do on an eventfd.
 *
 * If /dev/evq cannot be opened (module not loaded), creation fails with
 * open(2)'s errno, so a program never silently falls back to the native
 * eventfd; EVQ_PRELOAD_FALLBACK=1 makes it fall back instead. EVQ_DEVICE
 * names another device node, as for libevq (ignored, like libevq's, in a
 * setuid program: secure_getenv()). EVQ_PRELOAD_VERBOSE=1 prints why a
 * creation failed, and what to do, on stderr.
 *
 * Async-signal-safe: eventfd() may be called where the native one may, in
 * a signal handler and in the child of a multi-threaded program's fork()
 * (where another thread may have held the allocator's or the dynamic
 * linker's lock at the fork). So everything that allocates or locks is
 * done once, at load time, by a constructor: the environment is read, the
 * device path copied into a static buffer, glibc's eventfd() and syscall()
 * looked up with dlsym(). After that the creation path only makes system
 * calls: open(2) of the device (O_CLOEXEC, O_NOCTTY), fstat(2) (it must be
 * a character device), EVQ_IOC_CREATE on it, close(2) of the device file
 * (open + EVQ_IOC_SETUP on a module without EVQ_IOC_CREATE). It keeps no
 * descriptor between calls (unlike libevq's hidden factory, which needs an
 * allocation to set up, and which the program could close or replace), so
 * there is nothing for the program to close or replace either: the price
 * is one open(2) and close(2) more per counter. The failure report is
 * formatted with write(2) alone. If another library's constructor calls
 * one of these functions before ours ran, that call does the set-up
 * itself (no signal handler or fork child can run that early).
 *
 * Statically linked programs, and programs that issue the system call
 * without glibc's syscall() (inline assembly, io_uring), are not affected.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/evq.h>

#include "evq.h"
#include "evq_hint.h"

#define EVQ_PRELOAD_EXPORT __attribute__((visibility("default")))

typedef long (*syscall_fn)(long, ...);
typedef int (*eventfd_fn)(unsigned int, int);

/* Written once by preload_init(), read-only afterwards. */
static struct {
	char device[PATH_MAX];	/* "" if EVQ_DEVICE is too long */
	bool fallback;		/* EVQ_PRELOAD_FALLBACK=1 */
	bool verbose;		/* EVQ_PRELOAD_VERBOSE=1 */
	eventfd_fn next_eventfd;
	syscall_fn next_syscall;
} cfg;

/* Set (release) once cfg is complete. */
static atomic_bool ready;

static bool env_is_1(const char *name)
{
	const char *v = secure_getenv(name);

	return v && !strcmp(v, "1");
}

/* Everything that may allocate or take a lock, once, at load time. */
__attribute__((constructor)) static void preload_init(void)
{
	const char *dev = secure_getenv("EVQ_DEVICE");

	if (atomic_load_explicit(&ready, memory_order_acquire))
		return;
	if (!dev || !*dev)
		dev = EVQ_DEVICE_PATH;
	if (strlen(dev) < sizeof(cfg.device))
		memcpy(cfg.device, dev, strlen(dev) + 1);
	cfg.fallback = env_is_1("EVQ_PRELOAD_FALLBACK");
	cfg.verbose = env_is_1("EVQ_PRELOAD_VERBOSE");
	cfg.next_eventfd = (eventfd_fn)dlsym(RTLD_NEXT, "eventfd");
	cfg.next_syscall = (syscall_fn)dlsym(RTLD_NEXT, "syscall");
	atomic_store_explicit(&ready, true, memory_order_release);
}

/* Only before our constructor ran (another library's constructor). */
static void preload_ready(void)
{
	if (!atomic_load_explicit(&ready, memory_order_acquire))
		preload_init();
}

/* Append @s to the buffer @buf of @size at *@len, truncating. */
static void put(char *buf, size_t size, size_t *len, const char *s)
{
	while (*s && *len < size - 1)
		buf[(*len)++] = *s++;
}

/*
 * With EVQ_PRELOAD_VERBOSE=1: why a creation failed with @err, in one
 * write(2). strerrordesc_np() is a table lookup (strerror() may translate,
 * which allocates). Keeps errno.
 */
static void report_failure(int err, bool falling_back)
{
	const char *hint = evq_open_hint(err);
	const char *desc = strerrordesc_np(err);
	char msg[1024];
	size_t len = 0;
	ssize_t n;

	if (!cfg.verbose)
		return;
	put(msg, sizeof(msg), &len, "libevq-preload: cannot create a counter on ");
	put(msg, sizeof(msg), &len, *cfg.device ? cfg.device : "EVQ_DEVICE");
	put(msg, sizeof(msg), &len, ": ");
	put(msg, sizeof(msg), &len, desc ? desc : "unknown error");
	if (hint) {
		put(msg, sizeof(msg), &len, " - ");
		put(msg, sizeof(msg), &len, hint);
	}
	if (falling_back)
		put(msg, sizeof(msg), &len,
		    " (EVQ_PRELOAD_FALLBACK=1: using the kernel's eventfd)");
	put(msg, sizeof(msg), &len, "\n");
	n = write(STDERR_FILENO, msg, len);
	(void)n;
	errno = err;
}

/* close(2) that keeps errno. */
static void close_keep_errno(int fd)
{
	int err = errno;

	close(fd);
	errno = err;
}

/*
 * A module without EVQ_IOC_CREATE: @fd, just opened from the device, is a
 * counter itself; give it @c's mode, initval and descriptor flags.
 */
static int setup_in_place(int fd, const struct evq_create *c)
{
	struct evq_setup s = {
		.initval = c->initval,
		.flags = c->flags & EVQ_SEMAPHORE,
	};

	if (ioctl(fd, EVQ_IOC_SETUP, &s) < 0 ||
	    ((c->flags & EVQ_NONBLOCK) &&
	     fcntl(fd, F_SETFL, O_RDWR | O_NONBLOCK) < 0) ||
	    (!(c->flags & EVQ_CLOEXEC) && fcntl(fd, F_SETFD, 0) < 0)) {
		/* Not an evq device at all, if SETUP says ENOTTY too. */
		if (errno == ENOTTY)
			errno = ENODEV;
		close_keep_errno(fd);
		return -1;
	}
	return fd;
}

/*
 * A new counter from a device file opened for this call alone: system
 * calls only, no allocation, no lock. ENODEV if EVQ_DEVICE names
 * something that is not an evq device.
 */
static int preload_new_counter(unsigned int initval, int flags)
{
	struct evq_create c = {
		.initval = initval,
		.flags = ((flags & EFD_SEMAPHORE) ? EVQ_SEMAPHORE : 0) |
			 ((flags & EFD_CLOEXEC) ? EVQ_CLOEXEC : 0) |
			 ((flags & EFD_NONBLOCK) ? EVQ_NONBLOCK : 0),
	};
	struct stat st;
	int dev, fd;

	if (flags & ~(EFD_SEMAPHORE | EFD_CLOEXEC | EFD_NONBLOCK)) {
		errno = EINVAL;
		return -1;
	}
	if (!*cfg.device) {
		errno = ENAMETOOLONG;
		return -1;
	}
	dev = open(cfg.device, O_RDWR | O_CLOEXEC | O_NOCTTY);
	if (dev < 0)
		return -1;
	if (fstat(dev, &st) < 0) {
		close_keep_errno(dev);
		return -1;
	}
	if (!S_ISCHR(st.st_mode)) {
		close(dev);
		errno = ENODEV;
		return -1;
	}
	fd = ioctl(dev, EVQ_IOC_CREATE, &c);
	if (fd < 0 && errno == ENOTTY)
		return setup_in_place(dev, &c);
	close_keep_errno(dev);
	return fd;
}

/* A counter, or glibc's eventfd() if /dev/evq is missing and allowed. */
static int evq_preload_create(unsigned int initval, int flags)
{
	bool fallback;
	int fd, err;

	preload_ready();
	fd = preload_new_counter(initval, flags);
	if (fd >= 0)
		return fd;
	err = errno;
	fallback = (err == ENOENT || err == ENODEV || err == ENXIO) &&
		   cfg.fallback;
	report_failure(err, fallback);
	if (!fallback)
		return fd;
	if (!cfg.next_eventfd) {
		errno = ENOSYS;
		return -1;
	}
	return cfg.next_eventfd(initval, flags);
}

EVQ_PRELOAD_EXPORT int eventfd(unsigned int initval, int flags)
{
	return evq_preload_create(initval, flags);
}

/* As glibc's: 0 after a full 8-byte transfer, else -1 with errno. */
EVQ_PRELOAD_EXPORT int eventfd_read(int fd, eventfd_t *value)
{
	return read(fd, value, sizeof(*value)) == sizeof(*value) ? 0 : -1;
}

EVQ_PRELOAD_EXPORT int eventfd_write(int fd, eventfd_t value)
{
	return write(fd, &value, sizeof(value)) == sizeof(value) ? 0 : -1;
}

/*
 * syscall() takes up to six register-sized arguments after the number;
 * like glibc's own implementation, read all six (on x86-64 and the other
 * Linux ABIs, reading unpassed variadic integer arguments yields garbage
 * values, not a fault) and pass them on unchanged.
 */
EVQ_PRELOAD_EXPORT long syscall(long number, ...)
{
	long a[6];
	va_list ap;
	int i;

	va_start(ap, number);
	for (i = 0; i < 6; i++)
		a[i] = va_arg(ap, long);
	va_end(ap);

	switch (number) {
	case SYS_eventfd2:
		return evq_preload_create((unsigned int)a[0], (int)a[1]);
#ifdef SYS_eventfd
	case SYS_eventfd:
		return evq_preload_create((unsigned int)a[0], 0);
#endif
	default:
		break;
	}
	preload_ready();
	if (!cfg.next_syscall) {
		errno = ENOSYS;
		return -1;
	}
	return cfg.next_syscall(number, a[0], a[1], a[2], a[3], a[4], a[5]);
}
