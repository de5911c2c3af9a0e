// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libevq: /dev/evq counters with the signature of eventfd(2), and the
 * factory API (evq_factory_open(), evq_create()) that makes them in one
 * ioctl, without open(2)'s path walk.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/evq.h>

#include "evq.h"

/* The modes and descriptor flags evq_create() passes to the kernel. */
#define EVQ_LIB_CREATE_FLAGS	(EVQ_MODE_FLAGS | EVQ_MAXIMUM | EVQ_CLOEXEC | \
				 EVQ_NONBLOCK)

static const char *device_path(void)
{
	const char *path = getenv("EVQ_DEVICE");

	return path && *path ? path : EVQ_DEVICE_PATH;
}

int evq_factory_open(unsigned int flags)
{
	if (flags & ~EVQ_CLOEXEC) {
		errno = EINVAL;
		return -1;
	}
	return open(device_path(),
		    O_RDWR | ((flags & EVQ_CLOEXEC) ? O_CLOEXEC : 0));
}

int evq_create(int factory, uint64_t initval, uint64_t maximum,
	       unsigned int flags)
{
	struct evq_create cfg = {
		.initval = initval,
		.maximum = maximum,
		.flags = flags | (maximum ? EVQ_MAXIMUM : 0),
	};

	if (flags & ~EVQ_LIB_CREATE_FLAGS) {
		errno = EINVAL;
		return -1;
	}
	return ioctl(factory, EVQ_IOC_CREATE, &cfg);
}

/*
 * The hidden factory of evq_eventfd(): a /dev/evq descriptor the library
 * opened (O_CLOEXEC) and what fstat(2) said about it then. A record never
 * changes once published; a new one replaces it. A replaced record is
 * never freed (another thread may still be reading it) and its descriptor
 * never closed: it is replaced because the number no longer refers to the
 * file the library opened, so it belongs to someone else now. One small
 * record leaks each time that happens.
 */
struct evq_factory {
	int fd;
	dev_t dev, rdev;
	ino_t ino;
	char path[];		/* the device it was opened from */
};

/* The current record, a struct evq_factory *; 0 until first use. */
static atomic_uintptr_t hidden_factory;

/*
 * Is @f->fd still the device the library opened? The program may have
 * closed it (close_range(), a loop over every descriptor after fork) and
 * opened something else under the same number; then it must not see an
 * evq ioctl.
 */
static int factory_is_ours(const struct evq_factory *f)
{
	struct stat st;

	return !fstat(f->fd, &st) && S_ISCHR(st.st_mode) &&
	       st.st_rdev == f->rdev && st.st_dev == f->dev &&
	       st.st_ino == f->ino;
}

/* Open @path and describe it in a new record; NULL with errno on error. */
static struct evq_factory *factory_new(const char *path)
{
	size_t len = strlen(path) + 1;
	struct evq_factory *f = malloc(sizeof(*f) + len);
	struct stat st;
	int err;

	if (!f) {
		errno = ENOMEM;
		return NULL;
	}
	memcpy(f->path, path, len);
	f->fd = open(path, O_RDWR | O_CLOEXEC);
	if (f->fd < 0)
		goto free_record;
	if (fstat(f->fd, &st))
		goto close_fd;
	if (!S_ISCHR(st.st_mode)) {
		/* EVQ_DEVICE names no device: never a factory. */
		errno = ENOTTY;
		goto close_fd;
	}
	f->dev = st.st_dev;
	f->rdev = st.st_rdev;
	f->ino = st.st_ino;
	return f;
close_fd:
	err = errno;
	close(f->fd);
	errno = err;
free_record:
	err = errno;
	free(f);
	errno = err;
	return NULL;
}

/*
 * A new counter from the hidden factory for @path (opened on first use,
 * reopened when the program took its number); ENOTTY if the device does
 * not know EVQ_IOC_CREATE (a module before it).
 */
static int hidden_create(const char *path, const struct evq_create *cfg)
{
	struct evq_factory *f, *fresh;
	uintptr_t cur;

	cur = atomic_load_explicit(&hidden_factory, memory_order_acquire);
	for (;;) {
		f = (struct evq_factory *)cur;
		if (f && !strcmp(f->path, path) && factory_is_ours(f))
			return ioctl(f->fd, EVQ_IOC_CREATE, cfg);
		fresh = factory_new(path);
		if (!fresh)
			return -1;
		/* Forget @f (never close it), unless another thread did. */
		if (atomic_compare_exchange_strong_explicit(&hidden_factory,
							    &cur,
							    (uintptr_t)fresh,
							    memory_order_acq_rel,
							    memory_order_acquire)) {
			cur = (uintptr_t)fresh;
		} else {
			close(fresh->fd);
			free(fresh);
		}
	}
}

/* The old way, for a module without EVQ_IOC_CREATE: open + EVQ_IOC_SETUP. */
static int open_and_setup(const char *path, const struct evq_create *cfg)
{
	struct evq_setup setup = {
		.initval = cfg->initval,
		.flags = cfg->flags & EVQ_SEMAPHORE,
	};
	int oflags = O_RDWR;
	int fd, err;

	if (cfg->flags & EVQ_CLOEXEC)
		oflags |= O_CLOEXEC;
	if (cfg->flags & EVQ_NONBLOCK)
		oflags |= O_NONBLOCK;
	fd = open(path, oflags);
	if (fd < 0)
		return -1;
	/* A fresh counter already is {0, not semaphore}: skip the ioctl. */
	if (!setup.initval && !setup.flags)
		return fd;
	if (ioctl(fd, EVQ_IOC_SETUP, &setup) < 0) {
		err = errno;
		close(fd);
		errno = err;
		return -1;
	}
	return fd;
}

int evq_eventfd(unsigned int initval, int flags)
{
	struct evq_create cfg = {
		.initval = initval,
		.flags = ((flags & EFD_SEMAPHORE) ? EVQ_SEMAPHORE : 0) |
			 ((flags & EFD_CLOEXEC) ? EVQ_CLOEXEC : 0) |
			 ((flags & EFD_NONBLOCK) ? EVQ_NONBLOCK : 0),
	};
	const char *path = device_path();
	int fd;

	if (flags & ~(EFD_SEMAPHORE | EFD_CLOEXEC | EFD_NONBLOCK)) {
		errno = EINVAL;
		return -1;
	}
	fd = hidden_create(path, &cfg);
	if (fd < 0 && errno == ENOTTY)
		return open_and_setup(path, &cfg);
	return fd;
}

int evq_get_info(int fd, struct evq_info *info)
{
	return ioctl(fd, EVQ_IOC_GET_INFO, info) < 0 ? -1 : 0;
}

int evq_fast_map(int fd, struct evq_fast *fast)
{
	struct evq_info info;
	void *page;

	if (ioctl(fd, EVQ_IOC_GET_INFO, &info))
		return -1;
	if (!(info.flags & EVQ_FAST)) {
		errno = ENODEV;
		return -1;
	}
	page = mmap(NULL, EVQ_PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
		    fd, 0);
	if (page == MAP_FAILED)
		return -1;
	fast->page = page;
	fast->fd = fd;
	fast->flags = info.flags;
	return 0;
}

int evq_fast_unmap(struct evq_fast *fast)
{
	return munmap(fast->page, EVQ_PAGE_SIZE);
}

int evq_fast_wake(int fd, unsigned int armed)
{
	return ioctl(fd, EVQ_IOC_WAKE, (unsigned long)armed);
}
