/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libevq: /dev/evq counters with the signature of eventfd(2)
 * (evq_eventfd()), or made in one call from a factory descriptor with every
 * evq mode (evq_factory_open(), evq_create()).
 *
 * Installed as <evq.h>, beside the ABI header <linux/evq.h>; build flags
 * from pkg-config: cc $(pkg-config --cflags evq) prog.c $(pkg-config --libs evq)
 */
#ifndef EVQ_LIB_H
#define EVQ_LIB_H

#include <stdint.h>

#include <linux/evq.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The device node; the environment variable EVQ_DEVICE overrides it. */
#define EVQ_DEVICE_PATH "/dev/evq"

/**
 * evq_eventfd() - create a counter on /dev/evq, like eventfd(2)
 * @initval: initial count
 * @flags: EFD_SEMAPHORE, EFD_CLOEXEC, EFD_NONBLOCK or 0
 *
 * The counter comes from a hidden factory: a /dev/evq descriptor the
 * library opens (O_CLOEXEC) on first use and keeps for the life of the
 * process, so that later calls skip open(2)'s path walk. Before each use
 * the library checks with fstat(2) that the descriptor still is the device
 * it opened; if the program closed it (close_range(), a loop closing every
 * descriptor) and reused the number, the library forgets it, without
 * closing it, and opens another. Consequences: the process holds one more
 * descriptor, which keeps the module loaded (rmmod fails with EAGAIN while
 * the process lives); a child after fork(2) shares it, and exec drops it.
 * A thread that closes this descriptor while another thread is inside
 * evq_eventfd() races with the check, as it would with any descriptor the
 * library owns. With a module older than EVQ_IOC_CREATE, the counter is
 * made by open(2) and EVQ_IOC_SETUP instead.
 *
 * The result is an "anon_inode:[evq]" file, as from evq_create().
 *
 * Returns a file descriptor, or -1 with errno set: EINVAL for unknown
 * flags, ENOENT if the module is not loaded, or what open(2) and the
 * EVQ_IOC_CREATE ioctl return (EMFILE, ENFILE, ENOMEM).
 */
int evq_eventfd(unsigned int initval, int flags);

/**
 * evq_factory_open() - open a factory of counters
 * @flags: EVQ_CLOEXEC (recommended: the descriptor gets FD_CLOEXEC) or 0
 *
 * Opens the evq device (EVQ_DEVICE_PATH, or $EVQ_DEVICE) read-write. The
 * descriptor is itself a counter, but its use is to be passed to
 * evq_create(), as often as wanted, from any thread. Close it with
 * close(2) when done; counters already made stay valid. While it is open
 * the module cannot be unloaded.
 *
 * Returns a file descriptor, or -1 with errno set: EINVAL for flags other
 * than EVQ_CLOEXEC, ENOENT if the module is not loaded (no device node),
 * or what open(2) returns.
 */
int evq_factory_open(unsigned int flags);

/**
 * evq_create() - make a new counter from a factory
 * @factory: a descriptor from evq_factory_open() (any evq file will do)
 * @initval: initial count, at most the maximum; any mask with EVQ_BITS
 * @maximum: the largest count a write may reach, 1 to EVQ_COUNT_MAX; 0
 *	for none below EVQ_COUNT_MAX (as eventfd)
 * @flags: EVQ_SEMAPHORE, EVQ_WAKE_ONE, EVQ_BITS (modes, see <linux/evq.h>),
 *	EVQ_CLOEXEC, EVQ_NONBLOCK (the new descriptor's FD_CLOEXEC and
 *	O_NONBLOCK), or 0. EVQ_MAXIMUM is implied by a non-zero @maximum.
 *
 * One EVQ_IOC_CREATE ioctl: the counter is configured at birth and its
 * descriptor is O_RDWR, an "anon_inode:[evq]" file. The factory does not
 * change.
 *
 * Returns a file descriptor, or -1 with errno set: EINVAL for unknown
 * flags, EVQ_SEMAPHORE or a maximum with EVQ_BITS, @initval above the
 * maximum, @maximum above EVQ_COUNT_MAX, or EVQ_MAXIMUM with a @maximum
 * of 0; EBADF if @factory is not open; ENOTTY if it is not an evq file or
 * the module predates EVQ_IOC_CREATE; EMFILE, ENFILE, ENOMEM as for
 * eventfd(2).
 */
int evq_create(int factory, uint64_t initval, uint64_t maximum,
	       unsigned int flags);

/**
 * evq_get_info() - read a counter's state without changing it
 * @fd: a /dev/evq file descriptor
 * @info: filled in from the EVQ_IOC_GET_INFO ioctl
 *
 * Returns 0, or -1 with errno set: ENOTTY if @fd is not a /dev/evq counter
 * or the loaded module predates EVQ_IOC_GET_INFO, EBADF, EFAULT.
 */
int evq_get_info(int fd, struct evq_info *info);

#ifdef __cplusplus
}
#endif

#endif /* EVQ_LIB_H */
