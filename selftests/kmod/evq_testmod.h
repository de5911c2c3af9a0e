/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * evq_testmod: the interface of the test module that drives evq's
 * in-kernel producer API for the selftests. Never needed by users.
 *
 * Each open() of /dev/evq_testmod is a session that can attach one evq
 * counter and signal it in the ways a driver would: in a burst from process
 * context, from an hrtimer (hard IRQ; softirq on PREEMPT_RT), from a workqueue. The
 * module exists only for the tests; its ioctls use evq's type byte with
 * numbers from 0x40, which evq itself leaves alone.
 */
#ifndef _EVQ_TESTMOD_H
#define _EVQ_TESTMOD_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define EVQ_TESTMOD_DEVICE	"/dev/evq_testmod"

/* struct evq_testmod_signal.how */
#define EVQ_TESTMOD_BURST	0	/* in the ioctl, @times in a row */
#define EVQ_TESTMOD_HRTIMER	1	/* one per hrtimer expiry (IRQ) */
#define EVQ_TESTMOD_WORK	2	/* @times in a row from a work item */

/* At most this many signals per EVQ_TESTMOD_IOC_SIGNAL. */
#define EVQ_TESTMOD_MAX_TIMES	1000000

/**
 * struct evq_testmod_signal - argument of EVQ_TESTMOD_IOC_SIGNAL
 * @value: what each signal adds
 * @times: how many signals, 1 to EVQ_TESTMOD_MAX_TIMES
 * @how: EVQ_TESTMOD_BURST, EVQ_TESTMOD_HRTIMER or EVQ_TESTMOD_WORK
 * @pad: must be zero
 */
struct evq_testmod_signal {
	__u64 value;
	__u32 times;
	__u32 how;
	__u32 pad[2];
};

/* At most this long a hook's callback stays inside each wake-up. */
#define EVQ_TESTMOD_MAX_HOLD_US	100000

/**
 * struct evq_testmod_hook - argument of EVQ_TESTMOD_IOC_HOOK
 * @watch_fd: a /dev/evq counter or a native eventfd; a wait-queue callback
 *	is added to it
 * @target_fd: a /dev/evq counter the callback signals with 1 on each
 *	EPOLLIN wake-up: directly if evq_signal_allowed() says so, else from
 *	a work item
 * @hold_us: 0, or how many microseconds the callback then busy-waits,
 *	still inside the wake-up (at most EVQ_TESTMOD_MAX_HOLD_US), so that
 *	other tasks can act while one task is held inside an evq wake-up
 * @pad: must be zero
 */
struct evq_testmod_hook {
	__s32 watch_fd;
	__s32 target_fd;
	__u32 hold_us;
	__u32 pad;
};

/**
 * struct evq_testmod_stats - what the session did so far
 * @signalled: evq_signal() calls that signalled
 * @refused: evq_signal() calls that were refused
 * @hardirq: of @signalled, those made in hard-IRQ context
 * @softirq: of @signalled, those made in softirq context (HRTIMER's on
 *	PREEMPT_RT)
 * @preempt_rt: 1 if the kernel is PREEMPT_RT, else 0
 * @pad: zero
 * @cb_calls: EPOLLIN wake-ups seen by the hook's callback
 * @cb_direct: wake-ups (EPOLLIN or EPOLLHUP) where evq_signal_allowed() was
 *	true in the callback
 * @cb_deferred: EPOLLIN wake-ups whose signal was deferred to a work item
 * @cb_hup: EPOLLHUP wake-ups (the watched counter's file was closed)
 * @during_hold: of the session's evq_signal() calls, signalled or refused,
 *	those made while some hook's callback was busy-waiting inside a
 *	wake-up (see struct evq_testmod_hook's @hold_us)
 */
struct evq_testmod_stats {
	__u64 signalled;
	__u64 refused;
	__u64 hardirq;
	__u64 cb_calls;
	__u64 cb_direct;
	__u64 cb_deferred;
	__u64 cb_hup;
	__u64 softirq;
	__u32 preempt_rt;
	__u32 pad;
	__u64 during_hold;
};

/**
 * struct evq_testmod_native - argument of EVQ_TESTMOD_IOC_NATIVE_SIGNAL
 * @fd: a native eventfd
 * @times: how many times to call eventfd_signal(), which adds 1 each time
 */
struct evq_testmod_native {
	__s32 fd;
	__u32 times;
};

/*
 * ATTACH: take a reference on the counter behind the fd (evq_ctx_fdget());
 *	EBADF, EINVAL as that returns, EBUSY if the session has one already.
 * SIGNAL: signal the attached counter; ENOTCONN without one, EBUSY while
 *	an hrtimer or work run of this session is still going, EINVAL for a
 *	bad argument. BURST returns when done, the others at once.
 * HOOK: see struct evq_testmod_hook; EBUSY if the session has a hook.
 * STATS: struct evq_testmod_stats.
 * HOLD: take a reference on the counter behind the fd that lasts until the
 *	module is unloaded, signal it once now and then every millisecond from
 *	an hrtimer; for the unload tests.
 * NATIVE_SIGNAL: eventfd_signal() on a native eventfd, for comparison;
 *	EBADF, EINVAL as eventfd_ctx_fdget() returns.
 */
#define EVQ_TESTMOD_IOC_ATTACH	_IOW(0xE7, 0x40, __s32)
#define EVQ_TESTMOD_IOC_SIGNAL	_IOW(0xE7, 0x41, struct evq_testmod_signal)
#define EVQ_TESTMOD_IOC_HOOK	_IOW(0xE7, 0x42, struct evq_testmod_hook)
#define EVQ_TESTMOD_IOC_STATS	_IOR(0xE7, 0x43, struct evq_testmod_stats)
#define EVQ_TESTMOD_IOC_HOLD	_IOW(0xE7, 0x44, __s32)
#define EVQ_TESTMOD_IOC_NATIVE_SIGNAL \
	_IOW(0xE7, 0x45, struct evq_testmod_native)

#endif /* _EVQ_TESTMOD_H */
