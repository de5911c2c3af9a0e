/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libevq: open a /dev/evq counter with the signature of eventfd(2).
 *
 * Installed as <evq.h>, beside the ABI header <linux/evq.h>; build flags
 * from pkg-config: cc $(pkg-config --cflags evq) prog.c $(pkg-config --libs evq)
 */
#ifndef EVQ_LIB_H
#define EVQ_LIB_H

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
 * Returns a file descriptor, or -1 with errno set: EINVAL for unknown
 * flags, ENOENT if the module is not loaded, or what open(2) and the
 * EVQ_IOC_SETUP ioctl return.
 */
int evq_eventfd(unsigned int initval, int flags);

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
