// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libevq: open a /dev/evq counter with the signature of eventfd(2).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/evq.h>

#include "evq.h"

int evq_eventfd(unsigned int initval, int flags)
{
	struct evq_setup setup = {
		.initval = initval,
		.flags = (flags & EFD_SEMAPHORE) ? EVQ_SEMAPHORE : 0,
	};
	const char *path = getenv("EVQ_DEVICE");
	int oflags = O_RDWR;
	int fd, err;

	if (flags & ~(EFD_SEMAPHORE | EFD_CLOEXEC | EFD_NONBLOCK)) {
		errno = EINVAL;
		return -1;
	}
	if (flags & EFD_CLOEXEC)
		oflags |= O_CLOEXEC;
	if (flags & EFD_NONBLOCK)
		oflags |= O_NONBLOCK;

	fd = open(path && *path ? path : EVQ_DEVICE_PATH, oflags);
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

int evq_get_info(int fd, struct evq_info *info)
{
	return ioctl(fd, EVQ_IOC_GET_INFO, info) < 0 ? -1 : 0;
}
