// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libevq-preload.so - run unmodified programs on /dev/evq counters.
 *
 *   LD_PRELOAD=/path/to/libevq-preload.so program ...
 *
 * Interposes glibc's eventfd(), eventfd_read(), eventfd_write() and
 * syscall() for SYS_eventfd2 and SYS_eventfd, so that every counter the
 * program makes is a /dev/evq file (via evq_eventfd() from libevq) instead
 * of the kernel's own eventfd. Every other syscall() number is passed to
 * glibc's. read, write, poll, epoll, select and fcntl need nothing: they
 * work on /dev/evq as they do on an eventfd.
 *
 * If /dev/evq cannot be opened (module not loaded), creation fails with
 * open(2)'s errno, so a program never silently falls back to the native
 * eventfd; EVQ_PRELOAD_FALLBACK=1 makes it fall back instead. EVQ_DEVICE
 * names another device node, as for libevq. EVQ_PRELOAD_VERBOSE=1 prints
 * why a creation failed, and what to do, on stderr.
 *
 * Statically linked programs, and programs that issue the system call
 * without glibc's syscall() (inline assembly, io_uring), are not affected.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "evq.h"
#include "evq_hint.h"

#define EVQ_PRELOAD_EXPORT __attribute__((visibility("default")))

typedef long (*syscall_fn)(long, ...);
typedef int (*eventfd_fn)(unsigned int, int);

static bool env_is_1(const char *name)
{
	const char *v = getenv(name);

	return v && !strcmp(v, "1");
}

/* With EVQ_PRELOAD_VERBOSE=1: why evq_eventfd() failed with @err. */
static void report_failure(int err, bool falling_back)
{
	const char *dev = getenv("EVQ_DEVICE");
	const char *hint = evq_open_hint(err);

	if (!env_is_1("EVQ_PRELOAD_VERBOSE"))
		return;
	fprintf(stderr, "libevq-preload: cannot create a counter on %s: %s%s%s%s\n",
		dev && *dev ? dev : EVQ_DEVICE_PATH, strerror(err),
		hint ? " - " : "", hint ? hint : "",
		falling_back ? " (EVQ_PRELOAD_FALLBACK=1: using the kernel's eventfd)" : "");
	errno = err;
}

/* evq_eventfd(), or glibc's eventfd() if /dev/evq is missing and allowed. */
static int evq_preload_create(unsigned int initval, int flags)
{
	int fd = evq_eventfd(initval, flags);
	int err = errno;
	bool fallback;
	eventfd_fn next;

	if (fd >= 0)
		return fd;
	fallback = (err == ENOENT || err == ENODEV || err == ENXIO) &&
		   env_is_1("EVQ_PRELOAD_FALLBACK");
	report_failure(err, fallback);
	if (!fallback)
		return fd;
	next = (eventfd_fn)dlsym(RTLD_NEXT, "eventfd");
	if (!next) {
		errno = ENOSYS;
		return -1;
	}
	return next(initval, flags);
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
	static syscall_fn next;
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
	if (!next)
		next = (syscall_fn)dlsym(RTLD_NEXT, "syscall");
	if (!next) {
		errno = ENOSYS;
		return -1;
	}
	return next(number, a[0], a[1], a[2], a[3], a[4], a[5]);
}
