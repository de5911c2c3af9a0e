/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * evq - eventfd-style counters on a misc character device, /dev/evq.
 *
 * Every open() of /dev/evq is a new counter with count 0, not in semaphore
 * mode. Right after open, before first use, EVQ_IOC_SETUP may set the
 * initial count and the mode; after that the file behaves like an eventfd:
 * read(2) and write(2) move 8-byte native-endian unsigned integers, poll(2),
 * select(2) and epoll(7) report EPOLLIN/EPOLLOUT/EPOLLERR exactly as eventfd
 * does. O_NONBLOCK and O_CLOEXEC come from open(2) and fcntl(2).
 *
 * EVQ_IOC_CREATE on any evq file (a factory) makes a new, independent
 * counter in one call and returns its file descriptor, without open(2)'s
 * path walk: configured at birth, with its own O_CLOEXEC and O_NONBLOCK.
 *
 * Beyond eventfd, all opt-in, chosen when a counter is set up or created:
 * a maximum below EVQ_COUNT_MAX (flow control), wake-one readers
 * (EVQ_WAKE_ONE), a 64-bit event mask instead of a count (EVQ_BITS) and
 * a count kept in a page shared with userspace, so that a signal or a
 * take enters the kernel only when somebody may be asleep (EVQ_FAST).
 * A counter that asks for none of them is an eventfd.
 *
 * ABI rules: every field has a fixed size; padding and reserved fields must
 * be zero and unknown flag bits are rejected with EINVAL, so that later
 * versions can give them a meaning. A struct grows only into its reserved
 * space, and a new flag bit says that the new field is in use (as
 * EVQ_MAXIMUM does for struct evq_create.maximum), so an old program's
 * zeros keep meaning what they meant.
 */
#ifndef _UAPI_LINUX_EVQ_H
#define _UAPI_LINUX_EVQ_H

#include <linux/ioctl.h>
#include <linux/types.h>

/* Largest value the counter can hold, as for eventfd. */
#define EVQ_COUNT_MAX		0xfffffffffffffffeULL

/*
 * Mode flags, for struct evq_setup.flags and struct evq_create.flags.
 *
 * EVQ_SEMAPHORE (the value of EFD_SEMAPHORE): a read takes 1, not the
 *	whole count.
 * EVQ_WAKE_ONE: readers blocked in read(2) wait exclusively, and a write
 *	(or evq_signal()) of n wakes only as many of them as it can serve: one
 *	for a plain counter or a bit mask, up to n in semaphore mode. Readers
 *	that last ran on the writer's CPU go first, then the others; among
 *	each, the one that blocked last first (LIFO, warm for a thread
 *	pool). The order is a preference, not a promise. A woken
 *	reader that finds the count non-zero always takes it, a pending signal
 *	notwithstanding; one that leaves without taking anything while the
 *	count is non-zero (EFAULT) passes its wake-up on to the next reader.
 *	Pollers, select(2), epoll(7) and io_uring are woken as without the
 *	flag (epoll has EPOLLEXCLUSIVE for its own waiters).
 * EVQ_BITS: the counter is a 64-bit event mask. A write ORs its value in
 *	(any value, ~0 included) and never blocks; a read returns every set
 *	bit and clears them, and blocks at 0 unless non-blocking; EPOLLIN iff
 *	a bit is set, EPOLLOUT always, never EPOLLERR. evq_signal() ORs too.
 *	Not with EVQ_SEMAPHORE, nor with a maximum (EINVAL).
 * EVQ_FAST: the count lives in a struct evq_page that userspace maps with
 *	mmap(NULL, EVQ_PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)
 *	and updates with atomic instructions, entering the kernel only to
 *	wake a sleeper (EVQ_IOC_WAKE) or to block; see struct evq_page for
 *	the protocol. read(2), write(2), poll, epoll, io_uring, fdinfo,
 *	EVQ_IOC_GET_INFO and evq_signal() all use the page's count, so the
 *	fast path and system calls mix freely on one counter. Works with
 *	EVQ_SEMAPHORE and with a maximum; not with EVQ_WAKE_ONE or EVQ_BITS
 *	(EINVAL). Refused with EOPNOTSUPP where the kernel's 64-bit atomics
 *	are not the hardware's, so userspace's atomic instructions would not
 *	be atomic against the kernel's (CONFIG_GENERIC_ATOMIC64: 32-bit ARM
 *	before ARMv6K, 32-bit MIPS and PowerPC; also PA-RISC and 32-bit
 *	SPARC); every other mode works there.
 */
#define EVQ_SEMAPHORE		0x001U
#define EVQ_WAKE_ONE		0x002U
#define EVQ_BITS		0x004U
#define EVQ_FAST		0x008U
#define EVQ_MODE_FLAGS		(EVQ_SEMAPHORE | EVQ_WAKE_ONE | EVQ_BITS | \
				 EVQ_FAST)

/*
 * Flags for struct evq_create.flags only.
 *
 * EVQ_MAXIMUM: struct evq_create.maximum holds the counter's maximum;
 *	without it that field must be 0 and the maximum is EVQ_COUNT_MAX.
 * EVQ_CLOEXEC, EVQ_NONBLOCK: the new descriptor gets FD_CLOEXEC, the new
 *	file O_NONBLOCK (as EFD_CLOEXEC and EFD_NONBLOCK do for eventfd(2)).
 */
#define EVQ_MAXIMUM		0x100U
#define EVQ_CLOEXEC		0x200U
#define EVQ_NONBLOCK		0x400U

/**
 * struct evq_setup - argument of EVQ_IOC_SETUP
 * @initval: initial count, at most the maximum (EVQ_COUNT_MAX); any 64-bit
 *	mask with EVQ_BITS
 * @flags: mode flags (EVQ_SEMAPHORE, EVQ_WAKE_ONE, EVQ_BITS, EVQ_FAST) or
 *	0; other bits are reserved and must be zero
 * @pad: must be zero
 */
struct evq_setup {
	__u64 initval;
	__u32 flags;
	__u32 pad;
};

/**
 * struct evq_create - argument of EVQ_IOC_CREATE
 * @initval: initial count, at most the maximum; any 64-bit mask with
 *	EVQ_BITS
 * @maximum: with EVQ_MAXIMUM, the largest count a write may reach, from 1
 *	to EVQ_COUNT_MAX; without it, 0
 * @flags: mode flags, EVQ_MAXIMUM, EVQ_CLOEXEC, EVQ_NONBLOCK; other bits
 *	are reserved and must be zero
 * @pad: must be zero
 * @reserved: must be zero; room for later fields, each announced by a flag
 */
struct evq_create {
	__u64 initval;
	__u64 maximum;
	__u32 flags;
	__u32 pad;
	__u64 reserved[4];
};

/**
 * struct evq_info - result of EVQ_IOC_GET_INFO, a snapshot of one counter
 * @count: the count, as a read(2) would see it (not consumed)
 * @maximum: the largest count a write can reach (EVQ_COUNT_MAX unless
 *	set lower; also EVQ_COUNT_MAX in bit mode, where it does not apply)
 * @flags: the mode flags (EVQ_SEMAPHORE, EVQ_WAKE_ONE, EVQ_BITS, EVQ_FAST)
 * @id: the counter's eventfd-id, as in /proc/PID/fdinfo
 * @readers: tasks blocked in read(2)/read_iter on this counter
 * @writers: tasks blocked in write(2)/write_iter on this counter
 * @reserved: written as zeros by the kernel
 *
 * Every field is taken at the same instant, under the counter's lock.
 * Pollers (poll(2), select(2), epoll(7)) are not counted in @readers or
 * @writers: they are not blocked on the counter itself.
 */
struct evq_info {
	__u64 count;
	__u64 maximum;
	__u32 flags;
	__u32 id;
	__u32 readers;
	__u32 writers;
	__u64 reserved[4];
};

/*
 * The shared page of an EVQ_FAST counter: EVQ_PAGE_SIZE bytes at offset 0
 * of its file, mapped MAP_SHARED (mmap fails with ENODEV on a counter
 * without EVQ_FAST, EINVAL for a length above one page once mmap(2) has
 * rounded it up, an offset other than 0 or without MAP_SHARED, EPERM
 * with PROT_EXEC). EVQ_PAGE_SIZE is 4096 whatever the kernel's page
 * size: on a kernel with larger pages (16K, 64K) the mapping is one
 * kernel page, which mmap(NULL, EVQ_PAGE_SIZE, ...) gets by rounding up
 * as usual, and struct evq_page is at its start. It stays valid until the last mapping
 * and the last file reference are gone, in whatever order; fork(2) and
 * SCM_RIGHTS share it with the file; mremap(2) cannot grow it.
 *
 * The armed bits say who may be asleep: EVQ_ARMED_IN, a reader or a
 * poller waiting for the count to become non-zero (or, for epoll, for the
 * next edge); EVQ_ARMED_OUT, a writer or a poller waiting for room. The
 * kernel sets them, with a full barrier, before it looks at the count and
 * decides to wait; a waiter is on the wait queue before it sets them.
 * Only a task that may wait sets them: not a read or write that fails
 * with EAGAIN instead; a poll (poll(2), select(2), each epoll_wait(2)
 * harvest, io_uring) sets the bits of the events it asks for while
 * something is queued on the counter to be woken, so not a zero-timeout
 * poll with nobody waiting.
 *
 * Protocol, C11 atomics with sequential consistency on @count and @armed:
 *   signal n: compare-and-swap @count to @count + n, unless that would
 *	pass @maximum (then write(2) n instead, which blocks or fails with
 *	EAGAIN); then, if @armed has EVQ_ARMED_IN, clear that bit and call
 *	ioctl(fd, EVQ_IOC_WAKE, EVQ_ARMED_IN).
 *   take: swap @count with 0 (semaphore mode: compare-and-swap it to
 *	@count - 1) unless it is 0 (then read(2) to block, or give up);
 *	then, if @armed has EVQ_ARMED_OUT, clear it and call
 *	ioctl(fd, EVQ_IOC_WAKE, EVQ_ARMED_OUT).
 * Either the waiter sees the new count or the signaller sees the armed
 * bit (each stores, then loads, with a full barrier in between), so no
 * wake-up is lost; whoever clears a bit must wake. libevq's <evq.h> has
 * these as inline functions (evq_fast_signal(), evq_fast_take()).
 *
 * The page is the caller's to scribble on: the kernel takes every value
 * of @count as the count (a count above the maximum blocks writers until
 * reads bring it down; ULLONG_MAX reads as EPOLLERR, as after an
 * evq_signal() overflow), never reads @flags, @maximum, @size or
 * @reserved, and sets or clears only the armed bits it owns. Garbage can
 * lose or invent counts, wake-ups and events of this counter, and make a
 * semaphore read or a write, which compare-and-swap, fail with EAGAIN
 * after 16 lost races; no system call is kept in the kernel by it (see
 * evq(4)).
 *
 * @count: the counter value
 * @armed: EVQ_ARMED_IN, EVQ_ARMED_OUT; other bits are reserved, and
 *	ignored by the kernel
 * @flags: the counter's mode flags, written by the kernel at creation
 * @maximum: the counter's maximum, kept up to date by the kernel
 *	(EVQ_IOC_SET_MAXIMUM), for the fast path's test
 * @size: sizeof(struct evq_page) of the kernel that made the page; later
 *	fields go after @reserved and make it larger
 * @pad: zero
 * @reserved: zero
 */
#define EVQ_PAGE_SIZE		4096
#define EVQ_ARMED_IN		0x1U
#define EVQ_ARMED_OUT		0x2U

struct evq_page {
	__u64 count;
	__u32 armed;
	__u32 flags;
	__u64 maximum;
	__u32 size;
	__u32 pad;
	__u64 reserved[4];
};

/*
 * ioctl type 0xE7 is unassigned in
 * Documentation/userspace-api/ioctl/ioctl-number.rst. Numbers 0x00-0x3f are
 * evq's; those not defined below are reserved and return ENOTTY, as does
 * a known number with another size or direction. On a native eventfd
 * every evq ioctl fails with ENOTTY, so callers can probe for /dev/evq
 * with EVQ_IOC_GET_INFO.
 *
 * EVQ_IOC_SETUP: configure a counter made by open(2), before first use.
 *	"Used" means: any read or write call on it (read(2), readv(2),
 *	write(2), writev(2), io_uring, ...), whatever it returned; any poll
 *	(poll(2), select(2), an epoll(7) registration, io_uring's); an
 *	in-kernel reference (a kernel user's evq_ctx_fdget()). Not uses:
 *	EVQ_IOC_GET_INFO, fdinfo, fcntl(2), EVQ_IOC_SET_MAXIMUM (which may
 *	come before the setup), EVQ_IOC_CREATE on it, a refused setup, and
 *	what fails before setup (mmap, EVQ_IOC_WAKE). So nobody has seen the
 *	counter's count or waits on it when its mode and count change.
 *	EBUSY: set up before (by EVQ_IOC_SETUP or EVQ_IOC_CREATE), or used.
 *	EINVAL: unknown flags, non-zero @pad, EVQ_SEMAPHORE with EVQ_BITS,
 *	EVQ_FAST with EVQ_WAKE_ONE or EVQ_BITS, EVQ_BITS on a counter given a
 *	maximum, or (without EVQ_BITS) @initval above the maximum
 *	(EVQ_COUNT_MAX unless set by EVQ_IOC_SET_MAXIMUM).
 *	EOPNOTSUPP: EVQ_FAST on an architecture without it (see EVQ_FAST).
 *	ENOMEM: no memory for EVQ_FAST's page. EFAULT: bad pointer.
 *
 * EVQ_IOC_GET_INFO: fill a struct evq_info. Consumes nothing and wakes
 *	nobody, so an event loop can look at a counter without racing its
 *	consumer; works at any time. EFAULT: bad pointer. ENOMEM: the
 *	counter's id, allocated the first time it is asked for (here or by
 *	fdinfo), could not be.
 *
 * EVQ_IOC_CREATE: on any evq file (it stays as it was), make a new counter
 *	configured by struct evq_create and return a new file descriptor for
 *	it, O_RDWR, with its own count, id and flags. It behaves like a
 *	counter opened from /dev/evq and set up with the same values (read,
 *	write, poll, fdinfo, F_GETFL, lseek, pread, io_uring); /proc/PID/fd
 *	shows it as "anon_inode:[evq]". It keeps the module loaded while it
 *	exists.
 *	EINVAL: unknown flags, non-zero @pad or @reserved, EVQ_SEMAPHORE or
 *	EVQ_MAXIMUM with EVQ_BITS, EVQ_FAST with EVQ_WAKE_ONE or EVQ_BITS,
 *	a maximum of 0 or above EVQ_COUNT_MAX, a non-zero @maximum without
 *	EVQ_MAXIMUM, @initval above the maximum.
 *	EOPNOTSUPP: EVQ_FAST on an architecture without it (see EVQ_FAST).
 *	EMFILE, ENFILE, ENOMEM: as for eventfd(2). EFAULT: bad pointer.
 *
 * EVQ_IOC_SET_MAXIMUM: set the maximum, from 1 to EVQ_COUNT_MAX, at any
 *	time (EVQ_COUNT_MAX restores eventfd's ceiling). A write that would
 *	take the count above it blocks, or fails with EAGAIN when
 *	non-blocking; EPOLLOUT means that a write of 1 fits. Raising it wakes
 *	blocked writers and pollers. Lowering it below the current count is
 *	allowed: nothing is lost, reads go on as before, and writes (even of
 *	0) wait until reads bring the count down to the new maximum.
 *	evq_signal() from the kernel never blocks: below EVQ_COUNT_MAX it
 *	stops at the maximum and drops what does not fit.
 *	EINVAL: a value of 0 or above EVQ_COUNT_MAX, or a counter in bit mode.
 *	EFAULT: bad pointer.
 *
 * EVQ_IOC_WAKE: the fast path's way into the kernel (EVQ_FAST). The
 *	argument is a value, not a pointer: EVQ_ARMED_IN, EVQ_ARMED_OUT or
 *	both. Clears those armed bits in the page and wakes whoever waits
 *	for them: with EVQ_ARMED_IN blocked readers and EPOLLIN pollers, with
 *	EVQ_ARMED_OUT blocked writers and EPOLLOUT pollers. Changes no count.
 *	EINVAL: no bit, an unknown bit, or a counter without EVQ_FAST.
 */
#define EVQ_IOC_MAGIC		0xE7
#define EVQ_IOC_SETUP		_IOW(EVQ_IOC_MAGIC, 0x00, struct evq_setup)
#define EVQ_IOC_GET_INFO	_IOR(EVQ_IOC_MAGIC, 0x01, struct evq_info)
#define EVQ_IOC_CREATE		_IOW(EVQ_IOC_MAGIC, 0x02, struct evq_create)
#define EVQ_IOC_SET_MAXIMUM	_IOW(EVQ_IOC_MAGIC, 0x03, __u64)
#define EVQ_IOC_WAKE		_IO(EVQ_IOC_MAGIC, 0x04)

#endif /* _UAPI_LINUX_EVQ_H */
