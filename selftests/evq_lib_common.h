/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the libevq tests share: evq_lib_test.c (the factory API and a
 * fast-path wake-up that fails), evq_lib_hidden_test.c (the hidden
 * factory behind evq_eventfd() and the races on its number) and
 * evq_lib_device_test.c (EVQ_DEVICE, AT_SECURE and the fallback for a
 * module without EVQ_IOC_CREATE). Each includes this header and nothing
 * else of the others; the fixtures stay in their own files.
 *
 * EVQ_DEVICE, when set, is the device node libevq opens; evq_device()
 * (evq_ksft_common.h) is where the tests expect it.
 */
#ifndef EVQ_LIB_COMMON_H
#define EVQ_LIB_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "evq.h"
#include "evq_ksft_common.h"

/* A counter made through the hidden factory. */
static inline int make_counter(unsigned int initval, int flags)
{
	return evq_eventfd(initval, flags);
}

/* read(2) of 8 bytes: the value, or POISON with the error in *err. */
static inline uint64_t read_value(int fd, long *err)
{
	uint64_t v = POISON;

	*err = ret_or_errno(read(fd, &v, sizeof(v)));
	return v;
}

#endif /* EVQ_LIB_COMMON_H */
