// SPDX-License-Identifier: GPL-2.0
/*
 * system-holder: a program with evq counters open while the packages are
 * upgraded under it (the system lanes, scripts/guest/system). The plan
 * builds it inside the guest with the installed libevq-dev:
 *
 *	cc -std=c11 -Wall -Wextra -Werror system-holder.c \
 *		$(pkg-config --cflags --libs evq)
 *
 * system-holder READY GO: makes counters with evq_eventfd() and checks
 * that they are evq's, signals them, creates the file READY, waits (up to
 * ten minutes) until the file GO exists, then checks that every counter
 * still counts, reads and reports its state. Exit 0 only if all of it
 * worked; each failure is printed with what was expected and what came.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <evq.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#define NCOUNTERS	4
#define WAIT_SECONDS	600

static int failed;

static void fail(const char *what, int i, unsigned long long want,
		 unsigned long long got, int err)
{
	printf("system-holder: counter %d: %s: expected %llu, got %llu%s%s\n",
	       i, what, want, got, err ? ": " : "", err ? strerror(err) : "");
	failed = 1;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

int main(int argc, char **argv)
{
	int fd[NCOUNTERS];
	struct evq_info info;
	uint64_t v;
	int i, ready, waited;

	if (argc != 3) {
		fprintf(stderr, "usage: system-holder READY GO\n");
		return 2;
	}
	for (i = 0; i < NCOUNTERS; i++) {
		fd[i] = evq_eventfd(i, EFD_CLOEXEC);
		if (fd[i] < 0) {
			fail("evq_eventfd", i, 0, (unsigned long long)-1, errno);
			return 1;
		}
		/* An evq counter answers EVQ_IOC_GET_INFO; eventfd does not. */
		if (evq_get_info(fd[i], &info)) {
			fail("evq_get_info (is it evq's?)", i, 0, 1, errno);
			return 1;
		}
		v = 10;
		if (write(fd[i], &v, sizeof(v)) != sizeof(v))
			fail("write 10", i, sizeof(v), 0, errno);
	}
	ready = open(argv[1], O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (ready < 0) {
		perror(argv[1]);
		return 1;
	}
	close(ready);
	printf("system-holder: %d counters open, waiting for %s\n", NCOUNTERS, argv[2]);
	fflush(stdout);
	for (waited = 0; access(argv[2], F_OK); waited++) {
		if (waited >= WAIT_SECONDS * 10) {
			printf("system-holder: no %s after %d s\n", argv[2], WAIT_SECONDS);
			return 1;
		}
		sleep_ms(100);
	}
	for (i = 0; i < NCOUNTERS; i++) {
		if (evq_get_info(fd[i], &info))
			fail("evq_get_info after the upgrade", i, 0, 1, errno);
		else if (info.count != (uint64_t)i + 10)
			fail("count after the upgrade", i, i + 10, info.count, 0);
		v = 5;
		if (write(fd[i], &v, sizeof(v)) != sizeof(v))
			fail("write 5 after the upgrade", i, sizeof(v), 0, errno);
		v = 0;
		if (read(fd[i], &v, sizeof(v)) != sizeof(v))
			fail("read after the upgrade", i, sizeof(v), 0, errno);
		else if (v != (uint64_t)i + 15)
			fail("value read after the upgrade", i, i + 15, v, 0);
		close(fd[i]);
	}
	if (!failed)
		printf("system-holder: %d counters counted across the upgrade\n", NCOUNTERS);
	return failed;
}
