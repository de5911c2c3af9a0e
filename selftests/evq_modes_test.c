// SPDX-License-Identifier: GPL-2.0
/*
 * evq_modes_test - every mode of evq, made both ways, is still an eventfd.
 *
 * Fixture "mode" runs each test on a counter with a maximum, a semaphore
 * with a maximum, wake-one, semaphore wake-one and bit mode, each made by
 * EVQ_IOC_SETUP (variants "setup_*") and by EVQ_IOC_CREATE ("factory_*"):
 *
 *   mode.*        read/write, blocking read woken by a write, EINTR, epoll
 *                 LT and ET, poll, select, dup/fork/SCM_RIGHTS, GET_INFO
 *                 and fdinfo
 *
 * What a mode does beyond an eventfd is tested in evq_maximum_test.c,
 * evq_wakeone_mode_test.c and evq_bits_test.c. evq_modes.h holds the
 * helpers they share, how a counter is made both ways, and the timing
 * rules.
 */
#include "evq_modes.h"

/* ---- mode.*: every mode, both ways, still an eventfd ---------------------- */

FIXTURE(mode) {
	int dev;
	int fd;
};

FIXTURE_VARIANT(mode) {
	bool factory;
	uint32_t flags;
	uint64_t maximum;	/* 0: the default, EVQ_COUNT_MAX */
};

FIXTURE_VARIANT_ADD(mode, setup_maximum) {
	.factory = false, .maximum = 3,
};

FIXTURE_VARIANT_ADD(mode, factory_maximum) {
	.factory = true, .maximum = 3,
};

FIXTURE_VARIANT_ADD(mode, setup_semaphore_maximum) {
	.factory = false, .flags = EVQ_SEMAPHORE, .maximum = 3,
};

FIXTURE_VARIANT_ADD(mode, factory_semaphore_maximum) {
	.factory = true, .flags = EVQ_SEMAPHORE, .maximum = 3,
};

FIXTURE_VARIANT_ADD(mode, setup_wake_one) {
	.factory = false, .flags = EVQ_WAKE_ONE,
};

FIXTURE_VARIANT_ADD(mode, factory_wake_one) {
	.factory = true, .flags = EVQ_WAKE_ONE,
};

FIXTURE_VARIANT_ADD(mode, setup_semaphore_wake_one) {
	.factory = false, .flags = EVQ_SEMAPHORE | EVQ_WAKE_ONE,
};

FIXTURE_VARIANT_ADD(mode, factory_semaphore_wake_one) {
	.factory = true, .flags = EVQ_SEMAPHORE | EVQ_WAKE_ONE,
};

FIXTURE_VARIANT_ADD(mode, setup_bits) {
	.factory = false, .flags = EVQ_BITS,
};

FIXTURE_VARIANT_ADD(mode, factory_bits) {
	.factory = true, .flags = EVQ_BITS,
};

FIXTURE_SETUP(mode)
{
	open_mode(_metadata, &self->dev, &self->fd, variant->factory,
		  variant->flags, variant->maximum);
}

FIXTURE_TEARDOWN(mode)
{
	close_mode(self->dev, self->fd);
}

TEST_F(mode, info_and_fdinfo_report_mode_and_maximum)
{
	uint64_t max = variant->maximum ? variant->maximum : EVQ_COUNT_MAX;
	struct evq_info info;
	char buf[512], line[64];
	long ret;

	ASSERT_EQ(0, get_info(self->fd, &info));
	EXPECT_EQ(variant->flags, info.flags);
	EXPECT_EQ(max, info.maximum);
	EXPECT_EQ(0ULL, info.count);

	ret = read_fdinfo(self->fd, buf, sizeof(buf));
	ASSERT_LT(0, ret) TH_LOG("fdinfo: %s", errstr(ret));
	snprintf(line, sizeof(line), "eventfd-semaphore: %d\n",
		 !!(variant->flags & EVQ_SEMAPHORE));
	EXPECT_NE(NULL, strstr(buf, line)) TH_LOG("no '%s' in:\n%s", line, buf);
	snprintf(line, sizeof(line), "evq-maximum: %llu\n",
		 (unsigned long long)variant->maximum);
	EXPECT_EQ(!!variant->maximum, !!strstr(buf, "evq-maximum:"))
		TH_LOG("evq-maximum line expected iff a maximum is set:\n%s",
		       buf);
	EXPECT_EQ(!!variant->maximum, !!strstr(buf, line))
		TH_LOG("'%s' expected iff a maximum is set:\n%s", line, buf);
	EXPECT_EQ(!!(variant->flags & EVQ_WAKE_ONE),
		  !!strstr(buf, "evq-wake-one: 1\n")) TH_LOG("fdinfo:\n%s", buf);
	EXPECT_EQ(!!(variant->flags & EVQ_BITS),
		  !!strstr(buf, "evq-bits: 1\n")) TH_LOG("fdinfo:\n%s", buf);
	EXPECT_NE(NULL, strstr(buf, "eventfd-count:                0\n"))
		TH_LOG("count line of a fresh counter:\n%s", buf);
}

TEST_F(mode, write_then_read_returns_value)
{
	uint64_t v;

	ASSERT_EQ(8, write_u64(self->fd, 1));
	ASSERT_EQ(8, read_u64(self->fd, &v));
	EXPECT_EQ(1ULL, v);
	EXPECT_EQ(0ULL, count_of(self->fd));
}

TEST_F(mode, blocking_read_woken_by_write)
{
	struct bg_call op = { 0 };

	ASSERT_EQ(0, bg_start(&op, BG_READ, self->fd, 0));
	EXPECT_EQ(1, wait_waiters(self->fd, false, 1));
	sleep_ms(SETTLE_MS);
	EXPECT_FALSE(atomic_load(&op.done)) TH_LOG("read returned %ld at 0",
						   op.ret);
	EXPECT_EQ(8, write_u64(self->fd, 1));
	EXPECT_TRUE(bg_wait(&op, WAIT_MS)) TH_LOG("write did not wake reader");
	ASSERT_TRUE(bg_finish(&op));
	EXPECT_EQ(8, op.ret) TH_LOG("read: %s", errstr(op.ret));
	EXPECT_EQ(1ULL, op.val);
}

TEST_F(mode, signal_interrupts_blocked_read_with_eintr)
{
	struct bg_call op = { 0 };

	ASSERT_EQ(0, bg_start(&op, BG_READ, self->fd, 0));
	EXPECT_EQ(1, wait_waiters(self->fd, false, 1));
	pthread_kill(op.th, SIGUSR1);
	EXPECT_TRUE(bg_wait(&op, WAIT_MS)) TH_LOG("signal did not interrupt");
	ASSERT_TRUE(bg_finish(&op));
	EXPECT_EQ(-EINTR, op.ret) TH_LOG("read: %s", errstr(op.ret));
	EXPECT_EQ(0, wait_waiters(self->fd, false, 0));
	EXPECT_EQ(0ULL, count_of(self->fd));
}

TEST_F(mode, epoll_level_triggered_reports_in_until_read)
{
	int ep = epoll_on(self->fd, EPOLLIN);
	uint64_t v;

	ASSERT_LE(0, ep);
	EXPECT_EQ(0, epoll_now(ep));
	ASSERT_EQ(8, write_u64(self->fd, 1));
	EXPECT_EQ(EPOLLIN, epoll_now(ep));
	EXPECT_EQ(EPOLLIN, epoll_now(ep)) TH_LOG("level-triggered: again");
	ASSERT_EQ(8, read_u64(self->fd, &v));
	EXPECT_EQ(0, epoll_now(ep));
	close(ep);
}

TEST_F(mode, epoll_edge_triggered_reports_each_write)
{
	int ep = epoll_on(self->fd, EPOLLIN | EPOLLET);

	ASSERT_LE(0, ep);
	EXPECT_EQ(0, epoll_now(ep));
	ASSERT_EQ(8, write_u64(self->fd, 1));
	EXPECT_EQ(EPOLLIN, epoll_now(ep));
	EXPECT_EQ(0, epoll_now(ep)) TH_LOG("edge-triggered: no second event");
	ASSERT_EQ(8, write_u64(self->fd, 1));
	EXPECT_EQ(EPOLLIN, epoll_now(ep)) TH_LOG("second write, no event");
	close(ep);
}

TEST_F(mode, poll_reports_in_after_write_and_wakes_poller)
{
	struct bg_call op = { 0 };

	EXPECT_EQ(POLLOUT, poll_now(self->fd));
	ASSERT_EQ(0, bg_start(&op, BG_POLL, self->fd, 0));
	sleep_ms(SETTLE_MS);
	EXPECT_FALSE(atomic_load(&op.done));
	ASSERT_EQ(8, write_u64(self->fd, 1));
	EXPECT_TRUE(bg_wait(&op, WAIT_MS)) TH_LOG("poller not woken");
	ASSERT_TRUE(bg_finish(&op));
	EXPECT_EQ(1, op.ret);
	EXPECT_EQ(POLLIN, op.events);
	EXPECT_EQ(POLLIN | POLLOUT, poll_now(self->fd));
}

TEST_F(mode, select_reports_readable_after_write)
{
	EXPECT_EQ(2, select_now(self->fd)) TH_LOG("1 readable, 2 writable");
	ASSERT_EQ(8, write_u64(self->fd, 1));
	EXPECT_EQ(3, select_now(self->fd)) TH_LOG("1 readable, 2 writable");
}

TEST_F(mode, dup_fork_and_scm_rights_share_the_counter)
{
	char cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
	struct iovec iov = { .iov_base = cbuf, .iov_len = 1 };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *cm;
	int sv[2], d, got = -1, status;
	uint64_t v;
	pid_t pid;

	d = dup(self->fd);
	ASSERT_LE(0, d);
	ASSERT_EQ(8, write_u64(d, 1));
	ASSERT_EQ(8, read_u64(self->fd, &v));
	EXPECT_EQ(1ULL, v) TH_LOG("through dup()");
	close(d);

	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid)
		_exit(write_u64(self->fd, 1) == 8 ? 0 : 1);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_EQ(0, status) TH_LOG("child's write failed");
	ASSERT_EQ(8, read_u64(self->fd, &v));
	EXPECT_EQ(1ULL, v) TH_LOG("written by a forked child");

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
	cm = CMSG_FIRSTHDR(&msg);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &self->fd, sizeof(int));
	iov.iov_base = "x";
	ASSERT_EQ(1, sendmsg(sv[0], &msg, 0));
	memset(cbuf, 0, sizeof(cbuf));
	iov.iov_base = &v;
	msg.msg_controllen = sizeof(cbuf);
	ASSERT_EQ(1, recvmsg(sv[1], &msg, MSG_CMSG_CLOEXEC));
	cm = CMSG_FIRSTHDR(&msg);
	ASSERT_NE(NULL, cm);
	memcpy(&got, CMSG_DATA(cm), sizeof(int));
	ASSERT_LE(0, got);
	ASSERT_EQ(8, write_u64(got, 1));
	ASSERT_EQ(8, read_u64(self->fd, &v));
	EXPECT_EQ(1ULL, v) TH_LOG("through SCM_RIGHTS");
	close(got);
	close(sv[0]);
	close(sv[1]);
}

TEST_HARNESS_MAIN
