/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libevq: /dev/evq counters with the signature of eventfd(2)
 * (evq_eventfd()), or made in one call from a factory descriptor with every
 * evq mode (evq_factory_open(), evq_create()), and the fast path of an
 * EVQ_FAST counter (evq_fast_map(), evq_fast_signal(), evq_fast_take()).
 *
 * Installed as <evq.h>, beside the ABI header <linux/evq.h>; build flags
 * from pkg-config: cc $(pkg-config --cflags evq) prog.c $(pkg-config --libs evq)
 */
#ifndef EVQ_LIB_H
#define EVQ_LIB_H

#include <stdint.h>

#include <linux/evq.h>

#ifndef __cplusplus
#include <errno.h>
#include <stdatomic.h>
#include <unistd.h>
#endif

#ifdef __cplusplus
extern "C" {
#endif

/*
 * The device node; the environment variable EVQ_DEVICE overrides it,
 * except in secure execution (set-user-ID and the like: secure_getenv()).
 */
#define EVQ_DEVICE_PATH "/dev/evq"

/**
 * evq_eventfd() - create a counter on /dev/evq, like eventfd(2)
 * @initval: initial count
 * @flags: EFD_SEMAPHORE, EFD_CLOEXEC, EFD_NONBLOCK or 0
 *
 * The counter comes from a hidden factory: a /dev/evq descriptor the
 * library opens (O_CLOEXEC) on first use, moves to number 512 or above
 * and keeps for the life of the process, so that later calls skip
 * open(2)'s path walk. Before each use the library checks with fstat(2)
 * that the number still is the device it opened, then with
 * EVQ_IOC_GET_INFO that it is the same counter (its id, and a random
 * maximum it was given); if the program closed it (close_range(), a loop
 * closing every descriptor) and reused the number, even for its own
 * /dev/evq descriptor, the library forgets it, without closing it, and
 * opens another. Consequences: the process holds one more descriptor,
 * which keeps the module loaded (rmmod fails with EAGAIN while the
 * process lives); a child after fork(2) shares it, and exec drops it. A
 * thread that closes this number and dup2()s another file onto it while
 * another thread is between the check and EVQ_IOC_CREATE can have that
 * one ioctl reach its file (evq_eventfd(3) says what that can do). With a
 * module older than EVQ_IOC_CREATE, the counter is made by open(2) and
 * EVQ_IOC_SETUP instead.
 *
 * The device (/dev/evq, or $EVQ_DEVICE) is proven before any descriptor
 * of it is returned: only a character device is opened (O_NOCTTY,
 * O_NONBLOCK), and it must answer EVQ_IOC_GET_INFO.
 *
 * The result is an "anon_inode:[evq]" file, as from evq_create().
 *
 * Returns a file descriptor, or -1 with errno set: EINVAL for unknown
 * flags, ENOENT if the module is not loaded, ENODEV if the device is not
 * an evq device, or what open(2) and the EVQ_IOC_CREATE ioctl return
 * (EMFILE, ENFILE, ENOMEM).
 */
int evq_eventfd(unsigned int initval, int flags);

/**
 * evq_factory_open() - open a factory of counters
 * @flags: EVQ_CLOEXEC (recommended: the descriptor gets FD_CLOEXEC) or 0
 *
 * Opens the evq device (EVQ_DEVICE_PATH, or $EVQ_DEVICE) read-write,
 * proven as for evq_eventfd(). The
 * descriptor is itself a counter, but its use is to be passed to
 * evq_create(), as often as wanted, from any thread. Close it with
 * close(2) when done; counters already made stay valid. While it is open
 * the module cannot be unloaded.
 *
 * Returns a file descriptor, or -1 with errno set: EINVAL for flags other
 * than EVQ_CLOEXEC, ENOENT if the module is not loaded (no device node),
 * ENODEV if the node is not an evq device, or what open(2) returns.
 */
int evq_factory_open(unsigned int flags);

/**
 * evq_create() - make a new counter from a factory
 * @factory: a descriptor from evq_factory_open() (any evq file will do)
 * @initval: initial count, at most the maximum; any mask with EVQ_BITS
 * @maximum: the largest count a write may reach, 1 to EVQ_COUNT_MAX; 0
 *	for none below EVQ_COUNT_MAX (as eventfd)
 * @flags: EVQ_SEMAPHORE, EVQ_WAKE_ONE, EVQ_BITS, EVQ_FAST (modes, see
 *	<linux/evq.h>), EVQ_CLOEXEC, EVQ_NONBLOCK (the new descriptor's
 *	FD_CLOEXEC and O_NONBLOCK), or 0. EVQ_MAXIMUM is implied by a
 *	non-zero @maximum.
 *
 * One EVQ_IOC_CREATE ioctl: the counter is configured at birth and its
 * descriptor is O_RDWR, an "anon_inode:[evq]" file. The factory does not
 * change.
 *
 * Returns a file descriptor, or -1 with errno set: EINVAL for unknown
 * flags, EVQ_SEMAPHORE or a maximum with EVQ_BITS, EVQ_FAST with
 * EVQ_WAKE_ONE or EVQ_BITS, @initval above the
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

/**
 * struct evq_fast - a mapped EVQ_FAST counter, from evq_fast_map()
 * @page: the shared page
 * @fd: the counter's descriptor (not owned: evq_fast_unmap() leaves it
 *	open). If it is closed while the page is mapped, the wake-ups owed
 *	fail and the armed bit is set again for the next signaller.
 * @flags: the counter's mode flags, from EVQ_IOC_GET_INFO when mapped
 */
struct evq_fast {
	struct evq_page *page;
	int fd;
	unsigned int flags;
};

/**
 * evq_fast_map() - map the shared page of an EVQ_FAST counter
 * @fd: a counter created or set up with EVQ_FAST
 * @fast: filled in on success
 *
 * Returns 0, or -1 with errno set: ENODEV if @fd is an evq counter without
 * EVQ_FAST, ENOTTY if it is not an evq counter, or what mmap(2) returns.
 */
int evq_fast_map(int fd, struct evq_fast *fast);

/**
 * evq_fast_unmap() - unmap the page; the descriptor stays open
 * @fast: from evq_fast_map()
 *
 * Returns 0, or -1 with errno set by munmap(2).
 */
int evq_fast_unmap(struct evq_fast *fast);

/**
 * evq_fast_wake() - wake the sleepers that the armed bits announce
 * @fd: an EVQ_FAST counter
 * @armed: EVQ_ARMED_IN, EVQ_ARMED_OUT or both
 *
 * The EVQ_IOC_WAKE ioctl: the one system call of the fast path.
 * Returns 0, or -1 with errno set (EINVAL: bad @armed or not EVQ_FAST).
 */
int evq_fast_wake(int fd, unsigned int armed);

#ifndef __cplusplus
/*
 * The fast path, inline (C11 atomics, sequentially consistent): see
 * struct evq_page in <linux/evq.h> for the protocol. Each returns 0 when
 * it did not enter the kernel, 1 when it made a system call (a wake-up,
 * or the write(2) or read(2) it fell back to), -1 with errno set.
 */

/*
 * Clear @bit in the page's armed bits if set; if this call cleared it,
 * wake. Whoever clears the bit owns the wake-up, so when EVQ_IOC_WAKE
 * fails (the descriptor was closed while the mapping stays, or its number
 * now names another file) the bit is set again before returning -1: the
 * sleepers it announced stay announced, and the next signaller, one with
 * a working descriptor, wakes them. Without that, every later signal
 * would see the bit clear and skip the system call, and a reader asleep
 * in another process would never wake with a non-zero count. Setting the
 * bit when nobody sleeps any more costs one spurious EVQ_IOC_WAKE.
 */
static inline int evq_fast_disarm_(const struct evq_fast *fast,
				   unsigned int bit)
{
	_Atomic uint32_t *armed = (_Atomic uint32_t *)&fast->page->armed;
	int wake_errno;

	if (!(atomic_load(armed) & bit))
		return 0;
	if (!(atomic_fetch_and(armed, ~bit) & bit))
		return 0;
	if (!evq_fast_wake(fast->fd, bit))
		return 1;
	wake_errno = errno;
	atomic_fetch_or(armed, bit);
	errno = wake_errno;
	return -1;
}

/**
 * evq_fast_signal() - add @n to the count, as write(2) of @n would
 * @fast: a mapped counter
 * @n: the value to add
 *
 * When @n does not fit under the maximum, falls back to write(2), which
 * blocks, or fails with EAGAIN if the descriptor is O_NONBLOCK (and with
 * EINVAL for ULLONG_MAX, as write(2) does). @n is added even if the
 * wake-up that follows fails.
 */
static inline int evq_fast_signal(const struct evq_fast *fast, uint64_t n)
{
	_Atomic uint64_t *count = (_Atomic uint64_t *)&fast->page->count;
	_Atomic uint64_t *maxp = (_Atomic uint64_t *)&fast->page->maximum;
	uint64_t max = atomic_load_explicit(maxp, memory_order_relaxed);
	uint64_t c = atomic_load_explicit(count, memory_order_relaxed);

	do {
		if (c > max || max - c < n)
			return write(fast->fd, &n, sizeof(n)) == sizeof(n) ?
			       1 : -1;
	} while (!atomic_compare_exchange_weak(count, &c, c + n));
	return evq_fast_disarm_(fast, EVQ_ARMED_IN);
}

/**
 * evq_fast_take() - take what read(2) would, without blocking
 * @fast: a mapped counter
 * @value: the count taken (1 in semaphore mode)
 *
 * Fails with EAGAIN, taking nothing, when the count is 0. A value taken
 * is stored in @value even if the wake-up that follows fails.
 */
static inline int evq_fast_take(const struct evq_fast *fast,
				uint64_t *value)
{
	_Atomic uint64_t *count = (_Atomic uint64_t *)&fast->page->count;
	int sem = !!(fast->flags & EVQ_SEMAPHORE);
	uint64_t c = atomic_load_explicit(count, memory_order_relaxed);

	do {
		if (!c) {
			errno = EAGAIN;
			return -1;
		}
	} while (!atomic_compare_exchange_weak(count, &c, sem ? c - 1 : 0));
	*value = sem ? 1 : c;
	return evq_fast_disarm_(fast, EVQ_ARMED_OUT);
}

/**
 * evq_fast_read() - take, or block in read(2) if the count is 0
 * @fast: a mapped counter
 * @value: the count taken (1 in semaphore mode)
 *
 * read(2) blocks unless the descriptor is O_NONBLOCK (then EAGAIN).
 */
static inline int evq_fast_read(const struct evq_fast *fast, uint64_t *value)
{
	int ret = evq_fast_take(fast, value);

	if (ret >= 0 || errno != EAGAIN)
		return ret;
	return read(fast->fd, value, sizeof(*value)) == sizeof(*value) ?
	       1 : -1;
}
#endif /* __cplusplus */

#ifdef __cplusplus
}
#endif

#endif /* EVQ_LIB_H */
