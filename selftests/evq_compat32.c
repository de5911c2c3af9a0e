// SPDX-License-Identifier: GPL-2.0
/*
 * evq_compat32 - evq's ioctls from a 32-bit process (built with the i686
 * cross compiler, run by evq_compat_test on an x86_64 kernel with IA32
 * emulation), so that they go through evq's compat_ioctl: every request,
 * each structure's layout, and EVQ_IOC_WAKE, whose argument is a value
 * that compat_ptr() must not touch. Not a kselftest program itself: it
 * prints what went wrong on stderr and exits 1, or exits 0.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <linux/evq.h>

_Static_assert(sizeof(void *) == 4, "evq_compat32 must be a 32-bit program");
_Static_assert(sizeof(struct evq_setup) == 16, "struct evq_setup");
_Static_assert(sizeof(struct evq_create) == 56, "struct evq_create");
_Static_assert(sizeof(struct evq_info) == 64, "struct evq_info");

static int failures;

#define CHECK(cond, ...) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "evq_compat32: %s:%d: ", __func__, __LINE__); \
		fprintf(stderr, __VA_ARGS__);				\
		fputc('\n', stderr);					\
		failures++;						\
	}								\
} while (0)

static long ret_or_errno(long ret)
{
	return ret < 0 ? -errno : ret;
}

struct reader {
	int fd;
	uint64_t value;
	long ret;
};

static void *reader_fn(void *arg)
{
	struct reader *r = arg;

	r->ret = ret_or_errno(read(r->fd, &r->value, sizeof(r->value)));
	return NULL;
}

static int info_of(int fd, struct evq_info *info)
{
	memset(info, 0xa5, sizeof(*info));
	return (int)ret_or_errno(ioctl(fd, EVQ_IOC_GET_INFO, info));
}

/* Open, SET_MAXIMUM, SETUP (fast), GET_INFO, WAKE, from 32 bits. */
static void fast_counter(void)
{
	struct evq_setup s = { .initval = 0, .flags = EVQ_FAST };
	struct timespec ms = { .tv_nsec = 1000000 };
	struct reader r = { .value = 0 };
	uint64_t max = 100;
	struct evq_info info;
	struct evq_page *page;
	pthread_t th;
	long ret;
	int fd, i;

	fd = open("/dev/evq", O_RDWR | O_CLOEXEC);
	CHECK(fd >= 0, "open /dev/evq: %s", strerror(errno));
	if (fd < 0)
		return;
	ret = ret_or_errno(ioctl(fd, EVQ_IOC_SET_MAXIMUM, &max));
	CHECK(ret == 0, "EVQ_IOC_SET_MAXIMUM: %s", strerror((int)-ret));
	ret = ret_or_errno(ioctl(fd, EVQ_IOC_SETUP, &s));
	CHECK(ret == 0, "EVQ_IOC_SETUP: %s", strerror((int)-ret));
	ret = info_of(fd, &info);
	CHECK(ret == 0, "EVQ_IOC_GET_INFO: %s", strerror((int)-ret));
	CHECK(info.flags == EVQ_FAST && info.maximum == 100 && info.count == 0,
	      "GET_INFO: flags %#x maximum %llu count %llu", info.flags,
	      (unsigned long long)info.maximum,
	      (unsigned long long)info.count);
	for (i = 0; i < 4; i++)
		CHECK(info.reserved[i] == 0, "GET_INFO: reserved[%d]", i);

	/* A value, not a pointer: bit 31 is an unknown bit, not an address bit. */
	ret = ret_or_errno(ioctl(fd, EVQ_IOC_WAKE, 0x80000000UL | EVQ_ARMED_IN));
	CHECK(ret == -EINVAL, "EVQ_IOC_WAKE(0x80000001): expected EINVAL, got %s",
	      ret ? strerror((int)-ret) : "success");
	ret = ret_or_errno(ioctl(fd, EVQ_IOC_WAKE, 0UL));
	CHECK(ret == -EINVAL, "EVQ_IOC_WAKE(0): expected EINVAL, got %s",
	      ret ? strerror((int)-ret) : "success");

	page = mmap(NULL, EVQ_PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
		    fd, 0);
	CHECK(page != MAP_FAILED, "mmap: %s", strerror(errno));
	if (page == MAP_FAILED) {
		close(fd);
		return;
	}
	/* A reader asleep at 0, a count put in the page, EVQ_IOC_WAKE. */
	r.fd = fd;
	CHECK(!pthread_create(&th, NULL, reader_fn, &r), "pthread_create");
	for (i = 0; i < 10000; i++) {
		if (!info_of(fd, &info) && info.readers == 1)
			break;
		nanosleep(&ms, NULL);
	}
	CHECK(info.readers == 1, "the reader did not block");
	__atomic_store_n(&page->count, 3, __ATOMIC_SEQ_CST);
	ret = ret_or_errno(ioctl(fd, EVQ_IOC_WAKE, (unsigned long)EVQ_ARMED_IN));
	CHECK(ret == 0, "EVQ_IOC_WAKE(EVQ_ARMED_IN): %s", strerror((int)-ret));
	pthread_join(th, NULL);
	CHECK(r.ret == 8 && r.value == 3, "woken read: %ld, value %llu",
	      r.ret, (unsigned long long)r.value);
	munmap(page, EVQ_PAGE_SIZE);
	close(fd);
}

/* EVQ_IOC_CREATE's structure from 32 bits, and the counter it makes. */
static void created_counter(void)
{
	struct evq_create c = {
		.initval = 2, .maximum = 5,
		.flags = EVQ_SEMAPHORE | EVQ_MAXIMUM | EVQ_CLOEXEC,
	};
	struct evq_info info;
	uint64_t v = 0;
	int factory, fd;
	long ret;

	factory = open("/dev/evq", O_RDWR | O_CLOEXEC);
	CHECK(factory >= 0, "open /dev/evq: %s", strerror(errno));
	if (factory < 0)
		return;
	fd = (int)ret_or_errno(ioctl(factory, EVQ_IOC_CREATE, &c));
	CHECK(fd >= 0, "EVQ_IOC_CREATE: %s", strerror(-fd));
	close(factory);
	if (fd < 0)
		return;
	ret = info_of(fd, &info);
	CHECK(ret == 0 && info.count == 2 && info.maximum == 5 &&
	      info.flags == EVQ_SEMAPHORE,
	      "GET_INFO of the new counter: %ld, count %llu maximum %llu flags %#x",
	      ret, (unsigned long long)info.count,
	      (unsigned long long)info.maximum, info.flags);
	CHECK(read(fd, &v, sizeof(v)) == 8 && v == 1, "semaphore read: %llu",
	      (unsigned long long)v);
	close(fd);
}

int main(void)
{
	fast_counter();
	created_counter();
	if (failures)
		return 1;
	printf("evq_compat32: every ioctl worked from a 32-bit process\n");
	return 0;
}
