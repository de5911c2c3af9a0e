/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libevq: open a /dev/evq counter with the signature of eventfd(2).
 */
#ifndef EVQ_LIB_H
#define EVQ_LIB_H

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

#ifdef __cplusplus
}
#endif

#endif /* EVQ_LIB_H */
