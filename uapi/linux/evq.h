/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * evq - eventfd-style counters on a misc character device, /dev/evq.
 *
 * Every open() of /dev/evq is a new counter with count 0, not in semaphore
 * mode. Right after open, before first use, EVQ_IOC_SETUP may set the
 * initial count and the flags; after that the file behaves like an eventfd:
 * read(2) and write(2) move 8-byte native-endian unsigned integers, poll(2),
 * select(2) and epoll(7) report EPOLLIN/EPOLLOUT/EPOLLERR exactly as eventfd
 * does. O_NONBLOCK and O_CLOEXEC come from open(2) and fcntl(2).
 *
 * ABI rules: every field has a fixed size; padding and reserved fields must
 * be zero and unknown flag bits are rejected with EINVAL, so that later
 * versions can give them a meaning.
 */
#ifndef _UAPI_LINUX_EVQ_H
#define _UAPI_LINUX_EVQ_H

#include <linux/ioctl.h>
#include <linux/types.h>

/* Largest value the counter can hold, as for eventfd. */
#define EVQ_COUNT_MAX		0xfffffffffffffffeULL

/* Flags for struct evq_setup.flags. The value matches EFD_SEMAPHORE. */
#define EVQ_SEMAPHORE		1U

/**
 * struct evq_setup - argument of EVQ_IOC_SETUP
 * @initval: initial count, at most EVQ_COUNT_MAX
 * @flags: EVQ_SEMAPHORE or 0; other bits are reserved and must be zero
 * @pad: must be zero
 */
struct evq_setup {
	__u64 initval;
	__u32 flags;
	__u32 pad;
};

/*
 * ioctl type 0xE7 is unassigned in
 * Documentation/userspace-api/ioctl/ioctl-number.rst. Numbers 0x00-0x3f are
 * evq's; 0x02-0x3f are reserved for the roadmap (peek without consuming, a
 * configurable maximum, wake-one mode, an mmap fast path) and return ENOTTY
 * until they are defined.
 *
 * EVQ_IOC_SETUP: configure a fresh counter. Fails with EBUSY if the counter
 * was set up before or already holds a non-zero count, EINVAL for unknown
 * flags, non-zero padding or initval > EVQ_COUNT_MAX, EFAULT for a bad
 * pointer.
 */
#define EVQ_IOC_MAGIC		0xE7
#define EVQ_IOC_SETUP		_IOW(EVQ_IOC_MAGIC, 0x00, struct evq_setup)

/**
 * struct evq_info - result of EVQ_IOC_GET_INFO
 * @count: the current count
 * @maximum: the largest count the counter accepts (EVQ_COUNT_MAX by default)
 * @flags: the counter's flags (EVQ_SEMAPHORE or 0)
 * @id: the counter's id, as in the eventfd-id line of its fdinfo
 * @readers: tasks blocked in read(2) on the counter
 * @writers: tasks blocked in write(2) on the counter
 * @reserved: zero; later versions may fill it in
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
 * EVQ_IOC_GET_INFO: read the counter's state without changing it. Fails
 * with EFAULT for a bad pointer; a kernel module without it gives ENOTTY.
 */
#define EVQ_IOC_GET_INFO	_IOR(EVQ_IOC_MAGIC, 0x01, struct evq_info)

#endif /* _UAPI_LINUX_EVQ_H */
