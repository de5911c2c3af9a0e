// SPDX-License-Identifier: GPL-2.0
/*
 * evq_bench's creation rows, W11: a counter made and closed again, in ns
 * per pair: evq_eventfd() against eventfd(2) with and without setup
 * (initial value, semaphore), evq by a bare open of /dev/evq and by
 * evq_create() on a factory; and its floor as kind "ref", open and close
 * of /dev/null.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "bench.h"

/* ---- W11: create + close ------------------------------------------------- */

struct w11_arg {
	enum kind kind;
	unsigned int initval;
	int flags;
};

static int op_create_close(void *arg)
{
	const struct w11_arg *a = arg;
	int fd = counter(a->kind, a->initval, a->flags);

	if (fd < 0)
		return -1;
	close(fd);
	return 0;
}

/*
 * W11.open and W11.factory: native makes eventfd(0, EFD_CLOEXEC) as in
 * W11.plain; evq opens /dev/evq (the path evq_eventfd() took before the
 * factory), or asks a factory it owns (evq_create(), no fstat check).
 */
struct w11_path {
	enum kind kind;
	int factory;
};

static int op_open_close(void *arg)
{
	const struct w11_path *a = arg;
	int fd;

	if (a->kind != KIND_EVQ || evq_is_native)
		fd = eventfd(0, EFD_CLOEXEC);
	else
		fd = open(EVQ_DEVICE_PATH, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -1;
	close(fd);
	return 0;
}

static int op_factory_close(void *arg)
{
	const struct w11_path *a = arg;
	int fd;

	if (a->kind != KIND_EVQ || evq_is_native)
		fd = eventfd(0, EFD_CLOEXEC);
	else
		fd = evq_create(a->factory, 0, 0, EVQ_CLOEXEC);
	if (fd < 0)
		return -1;
	close(fd);
	return 0;
}

int w11_lifecycle(enum kind kind)
{
	struct w11_arg plain = { kind, 0, EFD_CLOEXEC };
	struct w11_arg setup = { kind, 1, EFD_CLOEXEC | EFD_SEMAPHORE };
	struct w11_path path = { kind, -1 };
	int ret;

	if (timed_row("W11.plain", kind, op_create_close, &plain,
		      "create counter") ||
	    timed_row("W11.setup", kind, op_create_close, &setup,
		      "create counter") ||
	    timed_row("W11.open", kind, op_open_close, &path,
		      "open the device"))
		return -1;
	if (kind == KIND_EVQ && !evq_is_native) {
		path.factory = evq_factory_open(EVQ_CLOEXEC);
		if (path.factory < 0)
			return bench_err("W11.factory", kind, "open a factory");
	}
	ret = timed_row("W11.factory", kind, op_factory_close, &path,
			"create counter");
	if (path.factory >= 0)
		close(path.factory);
	return ret;
}

static int op_open_close_devnull(void *arg)
{
	int fd = open("/dev/null", O_RDWR | O_CLOEXEC);

	(void)arg;
	if (fd < 0)
		return -1;
	close(fd);
	return 0;
}

/* The floor of W11 for a device: open("/dev/null") + close. */
int w11_floor(enum kind kind)
{
	return timed_row("W11.open_devnull", kind, op_open_close_devnull, NULL,
			 "open /dev/null");
}
