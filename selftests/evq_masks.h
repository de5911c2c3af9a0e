/* SPDX-License-Identifier: GPL-2.0 */
/*
 * evq_masks.h - what poll(), epoll and select() report for one descriptor,
 * without waiting. Shared by evq_counter.h and evq_fuzz.h, which include
 * it after <errno.h>, <poll.h>, <sys/epoll.h>, <sys/select.h> and
 * <unistd.h>.
 */
#ifndef EVQ_MASKS_H
#define EVQ_MASKS_H

/* Every poll bit a file could report, so that stray ones show up. */
#define POLL_ALL	(POLLIN | POLLPRI | POLLOUT | POLLRDNORM | POLLRDBAND | \
			 POLLWRNORM | POLLWRBAND | POLLMSG | POLLRDHUP)
#define EPOLL_ALL	(EPOLLIN | EPOLLPRI | EPOLLOUT | EPOLLRDNORM | \
			 EPOLLRDBAND | EPOLLWRNORM | EPOLLWRBAND | EPOLLMSG | \
			 EPOLLRDHUP)

/* poll() with every event bit requested, no wait: revents or -errno. */
static inline int poll_mask(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLL_ALL };
	int n = poll(&p, 1, 0);

	if (n < 0)
		return -errno;
	return n ? p.revents : 0;
}

/*
 * A level-triggered epoll set with only @fd, every event bit requested:
 * the events epoll_wait() reports without waiting, 0 for none, or -errno.
 */
static inline int epoll_mask(int fd)
{
	struct epoll_event ev = { .events = EPOLL_ALL, .data.fd = fd };
	struct epoll_event out[2] = { 0 };
	int ep, n, err;

	ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0)
		return -errno;
	n = epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
	if (!n)
		n = epoll_wait(ep, out, 2, 0);
	err = errno;
	close(ep);
	if (n < 0)
		return -err;
	if (n != 1 || out[0].data.fd != fd)
		return n ? -EPROTO : 0;
	return (int)out[0].events;
}

enum { SEL_READ = 1, SEL_WRITE = 2, SEL_EXCEPT = 4 };

/* select() on @fd in all three sets, no wait: SEL_* bits or -errno. */
static inline int select_mask(int fd)
{
	struct timeval tv = { 0, 0 };
	fd_set r, w, x;
	int n, mask = 0;

	if (fd >= FD_SETSIZE)
		return -EBADF;
	FD_ZERO(&r);
	FD_ZERO(&w);
	FD_ZERO(&x);
	FD_SET(fd, &r);
	FD_SET(fd, &w);
	FD_SET(fd, &x);
	n = select(fd + 1, &r, &w, &x, &tv);
	if (n < 0)
		return -errno;
	if (FD_ISSET(fd, &r))
		mask |= SEL_READ;
	if (FD_ISSET(fd, &w))
		mask |= SEL_WRITE;
	if (FD_ISSET(fd, &x))
		mask |= SEL_EXCEPT;
	return mask;
}

#endif /* EVQ_MASKS_H */
