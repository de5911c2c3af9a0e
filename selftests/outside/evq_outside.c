// SPDX-License-Identifier: GPL-2.0
/*
 * evq_outside - a program from outside the evq tree, built against the
 * installed libevq with nothing but pkg-config (scripts/libevq-check.sh):
 *
 *   cc $(pkg-config --cflags evq) evq_outside.c $(pkg-config --libs evq)
 *
 * It makes a counter with initial value 2, writes 5, reads it back and
 * prints "value 7"; evq_get_info() must then either report that count or
 * fail with ENOTTY (a module without EVQ_IOC_GET_INFO). Exit 0 only if all
 * of that holds.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <evq.h>

int main(void)
{
	struct evq_info info;
	uint64_t v = 5;
	int fd;

	fd = evq_eventfd(2, EFD_CLOEXEC);
	if (fd < 0) {
		printf("evq_eventfd(2, EFD_CLOEXEC): %s\n", strerror(errno));
		return 1;
	}
	if (write(fd, &v, sizeof(v)) != sizeof(v)) {
		printf("write 5: %s\n", strerror(errno));
		return 1;
	}
	if (evq_get_info(fd, &info) == 0) {
		printf("evq_get_info: count %" PRIu64 "\n", (uint64_t)info.count);
		if (info.count != 7) {
			printf("evq_get_info: expected count 7\n");
			return 1;
		}
	} else if (errno == ENOTTY) {
		printf("evq_get_info: ENOTTY (module without EVQ_IOC_GET_INFO)\n");
	} else {
		printf("evq_get_info: %s, expected success or ENOTTY\n",
		       strerror(errno));
		return 1;
	}
	if (read(fd, &v, sizeof(v)) != sizeof(v)) {
		printf("read: %s\n", strerror(errno));
		return 1;
	}
	printf("value %" PRIu64 "\n", v);
	close(fd);
	return v == 7 ? 0 : 1;
}
