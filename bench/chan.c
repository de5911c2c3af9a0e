// SPDX-License-Identifier: GPL-2.0
/*
 * evq_bench's channels: one direction of a message between two threads,
 * through a counter (write(2) and read(2)), an EVQ_FAST counter (libevq's
 * evq_fast_signal(), evq_fast_read(), evq_fast_take()), a pipe or a futex
 * word. The ping-pong and latency rows (pingpong.c) and the redundant
 * signals (fast.c) send through them; struct chan is in bench.h.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "bench.h"

/*
 * The channel functions return the number of system calls they made (0 or
 * more), or -1 with errno set.
 */
int chan_send(struct chan *c, uint64_t v)
{
	switch (c->type) {
	case CHAN_FUTEX:
		atomic_store(&c->word, (unsigned int)v);
		return futex_op(&c->word, FUTEX_WAKE_PRIVATE, 1) < 0 ? -1 : 1;
	case CHAN_FAST:
		return evq_fast_signal(&c->fast, v);
	default:
		return write_u64(c->wfd, v) ? -1 : 1;
	}
}

/* Wait for a value (never 0) and take it. */
int chan_recv(struct chan *c, uint64_t *v)
{
	unsigned int w;
	int calls = 0;

	switch (c->type) {
	case CHAN_FUTEX:
		while (!(w = atomic_exchange(&c->word, 0))) {
			calls++;
			if (futex_op(&c->word, FUTEX_WAIT_PRIVATE, 0) < 0 &&
			    errno != EAGAIN && errno != EINTR)
				return -1;
		}
		*v = w;
		return calls;
	case CHAN_FAST:
		return evq_fast_read(&c->fast, v);
	default:
		return read_u64(c->rfd, v) == 1 ? 1 : -1;
	}
}

/* Take a value without waiting, on a non-blocking counter; *@v = 0: none. */
int chan_take(struct chan *c, uint64_t *v)
{
	int r;

	*v = 0;
	if (c->type != CHAN_FAST)
		return read_u64(c->rfd, v) < 0 ? -1 : 1;
	r = evq_fast_take(&c->fast, v);
	if (r < 0 && errno == EAGAIN)
		return 0;
	return r;
}

/*
 * Open @c, a channel of @type for counters of @kind; a counter is
 * non-blocking if @nonblock.
 */
int chan_open(struct chan *c, enum chan_type type, enum kind kind,
	      bool nonblock)
{
	int fds[2];

	if (type == CHAN_FAST && (kind != KIND_EVQ || evq_is_native))
		type = CHAN_COUNTER;
	c->type = type;
	c->rfd = -1;
	c->wfd = -1;
	c->fast.page = NULL;
	atomic_init(&c->word, 0);
	switch (type) {
	case CHAN_COUNTER:
		c->rfd = counter(kind, 0,
				 EFD_CLOEXEC | (nonblock ? EFD_NONBLOCK : 0));
		c->wfd = c->rfd;
		return c->rfd < 0 ? -1 : 0;
	case CHAN_FAST:
		c->rfd = factory_counter(EVQ_FAST | EVQ_CLOEXEC |
					 (nonblock ? EVQ_NONBLOCK : 0));
		c->wfd = c->rfd;
		if (c->rfd < 0)
			return -1;
		if (evq_fast_map(c->rfd, &c->fast)) {
			c->fast.page = NULL;
			return -1;
		}
		return 0;
	case CHAN_PIPE:
		if (pipe2(fds, O_CLOEXEC))
			return -1;
		c->rfd = fds[0];
		c->wfd = fds[1];
		return 0;
	case CHAN_FUTEX:
		return 0;
	}
	return -1;
}

void chan_close(struct chan *c)
{
	if (c->fast.page)
		evq_fast_unmap(&c->fast);
	c->fast.page = NULL;
	if (c->rfd >= 0)
		close(c->rfd);
	if (c->wfd >= 0 && c->wfd != c->rfd)
		close(c->wfd);
	c->rfd = -1;
	c->wfd = -1;
}
