// SPDX-License-Identifier: GPL-2.0
/*
 * evq_kapi_ctl - the unload tests' hands (scripts/guest/tests runs
 * evq_kapi_unload.sh, which uses it):
 *
 *   evq_kapi_ctl hold FD    make evq_testmod hold the counter on FD until
 *                           it is unloaded (EVQ_TESTMOD_IOC_HOLD)
 *   evq_kapi_ctl count FD   print the count of the counter on FD and take
 *                           it, without blocking (0 if there is none)
 *
 * Exit status 0 on success, 1 with a message on stderr otherwise.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "kmod/evq_testmod.h"

static int hold(int fd)
{
	int tm = open(EVQ_TESTMOD_DEVICE, O_RDWR | O_CLOEXEC);

	if (tm < 0) {
		fprintf(stderr, "open %s: %s\n", EVQ_TESTMOD_DEVICE,
			strerror(errno));
		return 1;
	}
	if (ioctl(tm, EVQ_TESTMOD_IOC_HOLD, &fd) < 0) {
		fprintf(stderr, "EVQ_TESTMOD_IOC_HOLD(%d): %s\n", fd,
			strerror(errno));
		close(tm);
		return 1;
	}
	close(tm);
	return 0;
}

static int count(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	uint64_t v = 0;
	ssize_t n;
	int err;

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
		fprintf(stderr, "fcntl(%d): %s\n", fd, strerror(errno));
		return 1;
	}
	n = read(fd, &v, sizeof(v));
	err = errno;
	/* The file description is shared with the caller: restore it. */
	fcntl(fd, F_SETFL, fl);
	if (n < 0 && err != EAGAIN) {
		fprintf(stderr, "read(%d): %s\n", fd, strerror(err));
		return 1;
	}
	printf("%" PRIu64 "\n", n < 0 ? (uint64_t)0 : v);
	return 0;
}

int main(int argc, char **argv)
{
	char *end;
	long fd;

	if (argc != 3)
		goto usage;
	errno = 0;
	fd = strtol(argv[2], &end, 10);
	if (errno || *end || fd < 0 || fd > 1024)
		goto usage;
	if (!strcmp(argv[1], "hold"))
		return hold((int)fd);
	if (!strcmp(argv[1], "count"))
		return count((int)fd);
usage:
	fprintf(stderr, "usage: evq_kapi_ctl hold|count FD\n");
	return 1;
}
