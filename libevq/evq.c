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
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <linux/evq.h>

#include "evq.h"

/* The modes and descriptor flags evq_create() passes to the kernel. */
#define EVQ_LIB_CREATE_FLAGS	(EVQ_MODE_FLAGS | EVQ_MAXIMUM | EVQ_CLOEXEC | \
				 EVQ_NONBLOCK)

/*
 * The device node: $EVQ_DEVICE, if set and not empty, else /dev/evq.
 * secure_getenv(): a set-user-ID or set-group-ID program, or one that
 * gained capabilities on exec (AT_SECURE), ignores the variable, so that
 * whoever runs it cannot point it at a file of their choice.
 */
static const char *device_path(void)
{
	const char *path = secure_getenv("EVQ_DEVICE");

	return path && *path ? path : EVQ_DEVICE_PATH;
}

/* close(2) @fd, keeping errno; returns -1 for the caller's error path. */
static int close_keep_errno(int fd)
{
	int err = errno;

	close(fd);
	errno = err;
	return -1;
}

/*
 * Open @path read-write and prove that it is an evq counter before anyone
 * writes to it; fill @st and @info from the open file. The descriptor is
 * O_CLOEXEC, O_NONBLOCK and O_NOCTTY whatever the caller wants: the
 * caller clears the first two if it has to.
 *
 * The proof, in order, so that nothing that is not a character device is
 * opened for I/O or sees an ioctl:
 *  1. an O_PATH descriptor, which opens nothing: a regular file, a
 *     directory, a FIFO or a socket is refused here (no open(2) of a FIFO,
 *     which could block; no change to any file);
 *  2. the real open, O_NONBLOCK (a device that would wait for a carrier
 *     does not) and O_NOCTTY (a terminal does not become the controlling
 *     one), then fstat(2): still the same character device (the path may
 *     have been changed in between);
 *  3. one EVQ_IOC_GET_INFO, a read-only ioctl, which only evq answers.
 * ENODEV when @path is not an evq device; ENOENT and the other errors of
 * open(2) as they are; ENOMEM if evq could not allocate the counter's id.
 */
static int open_proven(const char *path, struct stat *st,
		       struct evq_info *info)
{
	struct stat pre;
	int fd;

	fd = open(path, O_PATH | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (fstat(fd, &pre)) {
		close_keep_errno(fd);
		return -1;
	}
	close(fd);
	if (!S_ISCHR(pre.st_mode))
		goto not_evq;
	fd = open(path, O_RDWR | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0)
		return -1;
	if (fstat(fd, st))
		return close_keep_errno(fd);
	if (!S_ISCHR(st->st_mode) || st->st_rdev != pre.st_rdev ||
	    st->st_dev != pre.st_dev || st->st_ino != pre.st_ino)
		goto close_not_evq;
	if (ioctl(fd, EVQ_IOC_GET_INFO, info)) {
		if (errno == ENOMEM)
			return close_keep_errno(fd);
		goto close_not_evq;
	}
	return fd;
close_not_evq:
	close(fd);
not_evq:
	errno = ENODEV;
	return -1;
}

/*
 * Open a proven evq device file (open_proven()) with file status flags
 * @oflags (O_NONBLOCK or 0) and descriptor flags @fdflags (FD_CLOEXEC or
 * 0); @st and @info as for open_proven().
 */
static int open_device(const char *path, int oflags, int fdflags,
		       struct stat *st, struct evq_info *info)
{
	int fd = open_proven(path, st, info);

	if (fd < 0)
		return -1;
	if (!(oflags & O_NONBLOCK) &&
	    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK))
		return close_keep_errno(fd);
	if (!(fdflags & FD_CLOEXEC) && fcntl(fd, F_SETFD, 0))
		return close_keep_errno(fd);
	return fd;
}

int evq_factory_open(unsigned int flags)
{
	struct evq_info info;
	struct stat st;

	if (flags & ~EVQ_CLOEXEC) {
		errno = EINVAL;
		return -1;
	}
	return open_device(device_path(), 0,
			   (flags & EVQ_CLOEXEC) ? FD_CLOEXEC : 0, &st, &info);
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
 * opened (O_CLOEXEC), moved to a high number, and what fstat(2) and
 * EVQ_IOC_GET_INFO said about it then. A record never changes once
 * published; a new one replaces it. A replaced record is never freed
 * (another thread may still be reading it) and its descriptor never
 * closed: it is replaced because the number no longer refers to the file
 * the library opened, so it belongs to someone else now. One small record
 * leaks each time that happens.
 */
struct evq_factory {
	int fd;
	dev_t dev, rdev;
	ino_t ino;
	uint32_t id;		/* the factory's own counter id */
	uint64_t mark;		/* the maximum it was given, or 0 */
	char path[];		/* the device it was opened from */
};

/* The current record, a struct evq_factory *; 0 until first use. */
static atomic_uintptr_t hidden_factory;

/*
 * The lowest number the hidden factory moves to (F_DUPFD_CLOEXEC), below
 * the soft RLIMIT_NOFILE: open(2), socket(2), pipe(2) and dup(2) take the
 * lowest free number, so a program that closed the factory's number (a
 * loop closing every descriptor, close_range()) does not get it back for
 * a file of its own unless it has this many open.
 */
#define EVQ_HIDDEN_FD_MIN	512

/*
 * Is @f->fd still the descriptor the library opened? The program may have
 * closed it (close_range(), a loop over every descriptor after fork) and
 * opened something else under the same number; then it must not see an
 * evq ioctl. fstat(2) first: only a file of the same device node (same
 * st_dev, st_ino, st_rdev) gets the EVQ_IOC_GET_INFO that tells our
 * factory from another open of /dev/evq, which the program may have put
 * there with dup2(2): by its counter id and by its mark, a random maximum
 * (ids are reused once a counter is gone, so a program that closed our
 * factory and opened /dev/evq again can get the same id). Keeps errno.
 */
static int factory_is_ours(const struct evq_factory *f)
{
	struct evq_info info;
	struct stat st;
	int err = errno, ours;

	ours = !fstat(f->fd, &st) && S_ISCHR(st.st_mode) &&
	       st.st_rdev == f->rdev && st.st_dev == f->dev &&
	       st.st_ino == f->ino &&
	       !ioctl(f->fd, EVQ_IOC_GET_INFO, &info) && info.id == f->id &&
	       (!f->mark || info.maximum == f->mark);
	errno = err;
	return ours;
}

/*
 * Give the factory @fd a maximum nobody else's counter has: a random one
 * between 1 and EVQ_COUNT_MAX (the factory's own count is never used, and
 * the counters it makes do not inherit it). 0 if the module cannot.
 */
static uint64_t mark_factory(int fd)
{
	uint64_t mark = 0;

	if (getrandom(&mark, sizeof(mark), GRND_NONBLOCK) != sizeof(mark))
		mark = (uint64_t)(uintptr_t)&mark ^
		       ((uint64_t)getpid() << 32) ^ (uint64_t)time(NULL);
	mark = mark % EVQ_COUNT_MAX + 1;
	if (ioctl(fd, EVQ_IOC_SET_MAXIMUM, &mark))
		return 0;
	return mark;
}

/* Move @fd, FD_CLOEXEC, to EVQ_HIDDEN_FD_MIN or above, if there is room. */
static int move_high(int fd)
{
	struct rlimit rl;
	rlim_t min = EVQ_HIDDEN_FD_MIN;
	int high;

	if (getrlimit(RLIMIT_NOFILE, &rl))
		return fd;
	if (rl.rlim_cur <= min)
		min = rl.rlim_cur / 2;
	if (min <= (rlim_t)fd)
		return fd;
	high = fcntl(fd, F_DUPFD_CLOEXEC, (int)min);
	if (high < 0)
		return fd;
	close(fd);
	return high;
}

/* Open @path and describe it in a new record; NULL with errno on error. */
static struct evq_factory *factory_new(const char *path)
{
	size_t len = strlen(path) + 1;
	struct evq_factory *f = malloc(sizeof(*f) + len);
	struct evq_info info;
	struct stat st;

	if (!f) {
		errno = ENOMEM;
		return NULL;
	}
	memcpy(f->path, path, len);
	f->fd = open_proven(path, &st, &info);
	if (f->fd < 0) {
		int err = errno;

		free(f);
		errno = err;
		return NULL;
	}
	/*
	 * Mark it while it sits at the lowest free number, where the program
	 * put nothing; at its high number the program may close or replace it
	 * at any moment, and a factory left unmarked would be told from
	 * another open of /dev/evq by its id alone.
	 */
	f->mark = mark_factory(f->fd);
	f->fd = move_high(f->fd);
	f->dev = st.st_dev;
	f->rdev = st.st_rdev;
	f->ino = st.st_ino;
	f->id = info.id;
	return f;
}

/*
 * A new counter from the hidden factory for @path (opened on first use,
 * reopened when the program took its number); ENODEV if @path is not an
 * evq device, ENOTTY if it is one that does not know EVQ_IOC_CREATE (a
 * module before it).
 *
 * Between factory_is_ours() and EVQ_IOC_CREATE another thread can still
 * close the number and reuse it; that is the window no userspace check
 * can close. An EVQ_IOC_CREATE that lands on another open of /dev/evq
 * makes the same counter (a factory does not change); one that fails
 * (EBADF on a closed number, ENOTTY from any other file) is never taken
 * for an old module or passed on: the factory is checked again, and
 * replaced if it is not ours any more. EBADF always replaces it: the file
 * the library checked was closed, and what the number holds by the time
 * it looks again is somebody else's, however much it looks like ours.
 */
static int hidden_create(const char *path, const struct evq_create *cfg)
{
	struct evq_factory *f, *fresh;
	uintptr_t cur;
	int fd;

	cur = atomic_load_explicit(&hidden_factory, memory_order_acquire);
	for (;;) {
		f = (struct evq_factory *)cur;
		if (f && !strcmp(f->path, path) && factory_is_ours(f)) {
			fd = ioctl(f->fd, EVQ_IOC_CREATE, cfg);
			if (fd >= 0 || (errno != EBADF && factory_is_ours(f)))
				return fd;
		}
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

/*
 * The old way, for a module without EVQ_IOC_CREATE: open + EVQ_IOC_SETUP,
 * on a file open_device() proved to be an evq counter.
 */
static int open_and_setup(const char *path, const struct evq_create *cfg)
{
	struct evq_setup setup = {
		.initval = cfg->initval,
		.flags = cfg->flags & EVQ_SEMAPHORE,
	};
	struct evq_info info;
	struct stat st;
	int fd;

	fd = open_device(path, (cfg->flags & EVQ_NONBLOCK) ? O_NONBLOCK : 0,
			 (cfg->flags & EVQ_CLOEXEC) ? FD_CLOEXEC : 0,
			 &st, &info);
	if (fd < 0)
		return -1;
	/* A fresh counter already is {0, not semaphore}: skip the ioctl. */
	if (!setup.initval && !setup.flags)
		return fd;
	if (ioctl(fd, EVQ_IOC_SETUP, &setup) < 0)
		return close_keep_errno(fd);
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
