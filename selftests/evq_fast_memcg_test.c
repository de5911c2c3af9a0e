// SPDX-License-Identifier: GPL-2.0
/*
 * evq_fast_memcg_test - EVQ_FAST's memory accounting: the shared page of a
 * fast counter counts against its creator's memory cgroup. The page's ABI
 * and use are evq_fast_test's, the races evq_fast_race_test's; the
 * helpers they share are in evq_fast.h.
 *
 * No fixture: page_is_charged_to_the_creators_memory_cgroup mounts cgroup2
 * and makes a cgroup of its own (root only; skipped, and reported as such,
 * on a kernel without cgroups or the memory controller).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "evq.h"
#include "evq_ksft_common.h"
#include "evq_fast.h"
#include "kselftest_harness.h"

/* ---- memory accounting ---------------------------------------------------- */

#define CG_MNT		"/tmp/evq-fast-cgroup"
#define CG_CHILD	CG_MNT "/evq-fast-test"
#define CG_COUNTERS	1024

/* Write @text to the cgroup file @path: 0 or -errno. */
static int cg_write(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), ret = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, text, strlen(text)) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

/* The cgroup's memory.current, or -1. */
static long long cg_memory_current(void)
{
	long long v = -1;
	FILE *f = fopen(CG_CHILD "/memory.current", "re");

	if (!f)
		return -1;
	if (fscanf(f, "%lld", &v) != 1)
		v = -1;
	fclose(f);
	return v;
}

/* CG_COUNTERS factory counters with mode @flags into @fds: 0 or -errno. */
static int cg_counters(int *fds, uint32_t flags)
{
	int i;

	for (i = 0; i < CG_COUNTERS; i++) {
		fds[i] = evq_mode_counter(true, 0, EVQ_COUNT_MAX, flags, false);
		if (fds[i] < 0)
			return fds[i];
	}
	return 0;
}

/*
 * The page of a fast counter is charged to its creator's memory cgroup
 * (GFP_KERNEL_ACCOUNT), as the counter itself is: /dev/evq is 0666, and
 * pages nobody is charged for would let any user pin memory past their
 * limit. In a cgroup of its own, this process creates CG_COUNTERS plain
 * counters, then as many fast ones: the fast ones must raise
 * memory.current by at least 3/4 of a page each more than the plain ones
 * (the slack is for the per-CPU charge batches).
 */
TEST(page_is_charged_to_the_creators_memory_cgroup)
{
	static int plain[CG_COUNTERS], fast[CG_COUNTERS];
	struct rlimit rl = { (rlim_t)4 * CG_COUNTERS, (rlim_t)4 * CG_COUNTERS };
	long long base, after_plain, after_fast, d_plain, d_fast;
	char ctl[256] = "";
	int i, ret;
	FILE *f;

	if (geteuid())
		SKIP(return, "needs root to mount cgroup2 and make a cgroup");
	ASSERT_EQ(0, setrlimit(RLIMIT_NOFILE, &rl)) TH_LOG("RLIMIT_NOFILE: %s", strerror(errno));
	ASSERT_TRUE(!mkdir(CG_MNT, 0700) || errno == EEXIST);
	ret = mount("none", CG_MNT, "cgroup2", 0, NULL);
	if (ret && errno == ENODEV) {
		rmdir(CG_MNT);
		SKIP(return, "this kernel has no cgroup2 filesystem (CONFIG_CGROUPS=n)");
	}
	ASSERT_EQ(0, ret) TH_LOG("mount cgroup2: %s", strerror(errno));
	f = fopen(CG_MNT "/cgroup.controllers", "re");
	ASSERT_NE(NULL, f);
	if (!fgets(ctl, sizeof(ctl), f))
		ctl[0] = 0;
	fclose(f);
	if (!strstr(ctl, "memory")) {
		umount(CG_MNT);
		SKIP(return, "this kernel has no memory cgroup controller (%s)", ctl);
	}
	ASSERT_EQ(0, cg_write(CG_MNT "/cgroup.subtree_control", "+memory"));
	ASSERT_TRUE(!mkdir(CG_CHILD, 0700) || errno == EEXIST);
	ASSERT_EQ(0, cg_write(CG_CHILD "/cgroup.procs", "0"));

	base = cg_memory_current();
	ASSERT_LE(0, base);
	ret = cg_counters(plain, 0);
	ASSERT_EQ(0, ret) TH_LOG("plain counter: %s", strerror(-ret));
	after_plain = cg_memory_current();
	ret = cg_counters(fast, EVQ_FAST);
	ASSERT_EQ(0, ret) TH_LOG("fast counter: %s", strerror(-ret));
	after_fast = cg_memory_current();
	d_plain = after_plain - base;
	d_fast = after_fast - after_plain;
	EXPECT_LE(d_plain + (long long)CG_COUNTERS * PAGE_BYTES * 3 / 4, d_fast)
		TH_LOG("%d fast counters charged %lld bytes, as many plain ones %lld: the pages were not charged",
		       CG_COUNTERS, d_fast, d_plain);
	ksft_print_msg("%d plain counters: %lld bytes; %d fast counters: %lld bytes\n",
		       CG_COUNTERS, d_plain, CG_COUNTERS, d_fast);

	for (i = 0; i < CG_COUNTERS; i++) {
		close(plain[i]);
		close(fast[i]);
	}
	EXPECT_EQ(0, cg_write(CG_MNT "/cgroup.procs", "0"));
	rmdir(CG_CHILD);
	umount(CG_MNT);
	rmdir(CG_MNT);
}

TEST_HARNESS_MAIN
