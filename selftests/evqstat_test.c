// SPDX-License-Identifier: GPL-2.0
/*
 * evqstat_test - the evqstat tool (../evqstat) against counters whose state
 * is known.
 *
 * A "holder" child process opens five descriptors of four counters: plain
 * at 5 (and a dup of it), semaphore at 3, plain at 0 with a thread blocked
 * in read, and one at the maximum with a thread blocked in write, plus a
 * native eventfd that must not be listed. It waits until EVQ_IOC_GET_INFO
 * shows both threads asleep, then tells the test its descriptors and ids.
 * The test runs evqstat (next to this binary, or $EVQSTAT) for that PID,
 * with --json, and system-wide with two holders, and checks every column
 * of every row.
 *
 * Without ptrace attach permission evqstat must fall back to fdinfo and
 * print "-" (JSON null) for the waiters. The test gets that case without
 * Yama: the holder runs as uid 65534, evqstat with effective (so fs) uid
 * 65534 but real uid 1. Reading /proc/PID/fd and fdinfo is checked
 * against the fs uid and succeeds; pidfd_getfd(2) is checked against the
 * real uid and fails. This needs root, as in the VM.
 *
 * Fixture "evqstat" has one variant, "evq": `evqstat_test -v evq` runs all.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/evq.h>

#include "evq.h"
#include "evq_ksft_common.h"
#include "kselftest_harness.h"

#define NOBODY		65534
#define OTHER_RUID	1

/* The holder's descriptors, in the order it opens them. */
enum ctr { PLAIN5, PLAIN5_DUP, SEM3, READER, WRITER, N_CTR };

static const struct {
	uint64_t count;
	const char *mode;
	unsigned int readers, writers;
} want[N_CTR] = {
	[PLAIN5]	= { 5, "plain", 0, 0 },
	[PLAIN5_DUP]	= { 5, "plain", 0, 0 },
	[SEM3]		= { 3, "semaphore", 0, 0 },
	[READER]	= { 0, "plain", 1, 0 },
	[WRITER]	= { EVQ_COUNT_MAX, "plain", 0, 1 },
};

/* What the holder sends once it is ready, or why it is not. */
struct report {
	int fd[N_CTR];
	unsigned int id[N_CTR];
	int eventfd;
	char err[160];
};

struct holder {
	pid_t pid;
	int hold;		/* close it and the holder exits */
	struct report rep;
};

/* ---- the holder process -------------------------------------------------- */

/* A thread that blocks in one read or write of 1. */
struct blocker {
	int fd;
	bool write;
};

static void *block_fn(void *arg)
{
	const struct blocker *b = arg;
	uint64_t v = 1;
	ssize_t n;

	n = b->write ? write(b->fd, &v, sizeof(v)) : read(b->fd, &v, sizeof(v));
	(void)n;
	return NULL;
}

static int open_counter(uint64_t initval, uint32_t flags)
{
	const char *env = getenv("EVQ_DEVICE");
	struct evq_setup s = { .initval = initval, .flags = flags };
	int fd = open(env && *env ? env : EVQ_DEVICE_PATH, O_RDWR | O_CLOEXEC);

	if (fd >= 0 && ioctl(fd, EVQ_IOC_SETUP, &s) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Until @fd shows @readers and @writers asleep, for up to WAIT_MS. */
static bool wait_asleep(int fd, unsigned int readers, unsigned int writers)
{
	struct evq_info info;
	int ms;

	for (ms = 0; ms < WAIT_MS; ms += 5) {
		if (ioctl(fd, EVQ_IOC_GET_INFO, &info) == 0 &&
		    info.readers == readers && info.writers == writers)
			return true;
		usleep(5000);
	}
	return false;
}

/* Become uid/gid @uid in every slot but the real uid, which is @ruid. */
static int become(uid_t ruid, uid_t uid)
{
	if (setgroups(0, NULL) || setresgid(uid, uid, uid) ||
	    setresuid(ruid, uid, uid))
		return -1;
	/* A change of credentials clears it; /proc/PID/fd would be root's. */
	return prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
}

static void holder_main(int report_fd, int hold_fd, bool as_nobody)
{
	static struct blocker blockers[2];
	struct report rep;
	struct evq_info info;
	pthread_t t;
	char c;
	int i;

	memset(&rep, 0, sizeof(rep));
	if (as_nobody && become(NOBODY, NOBODY)) {
		snprintf(rep.err, sizeof(rep.err), "become nobody: %s",
			 strerror(errno));
		goto send;
	}
	rep.fd[PLAIN5] = open_counter(5, 0);
	rep.fd[SEM3] = open_counter(3, EVQ_SEMAPHORE);
	rep.fd[READER] = open_counter(0, 0);
	rep.fd[WRITER] = open_counter(EVQ_COUNT_MAX, 0);
	rep.eventfd = eventfd(7, EFD_CLOEXEC);
	rep.fd[PLAIN5_DUP] = dup(rep.fd[PLAIN5]);
	for (i = 0; i < N_CTR; i++) {
		if (rep.fd[i] < 0 ||
		    ioctl(rep.fd[i], EVQ_IOC_GET_INFO, &info) < 0) {
			snprintf(rep.err, sizeof(rep.err),
				 "counter %d: %s", i, strerror(errno));
			goto send;
		}
		rep.id[i] = info.id;
	}
	blockers[0] = (struct blocker){ .fd = rep.fd[READER] };
	blockers[1] = (struct blocker){ .fd = rep.fd[WRITER], .write = true };
	if (pthread_create(&t, NULL, block_fn, &blockers[0]) ||
	    pthread_create(&t, NULL, block_fn, &blockers[1])) {
		snprintf(rep.err, sizeof(rep.err), "pthread_create failed");
		goto send;
	}
	if (!wait_asleep(rep.fd[READER], 1, 0) ||
	    !wait_asleep(rep.fd[WRITER], 0, 1))
		snprintf(rep.err, sizeof(rep.err),
			 "the reader and writer did not block in %d ms",
			 WAIT_MS);
send:
	if (write(report_fd, &rep, sizeof(rep)) != sizeof(rep))
		_exit(1);
	/* Hold everything open until the test closes its end. */
	while (read(hold_fd, &c, 1) > 0)
		;
	_exit(0);
}

static void start_holder(struct __test_metadata *_metadata, struct holder *h,
			 bool as_nobody)
{
	int rep[2], hold[2];

	ASSERT_EQ(0, pipe2(rep, O_CLOEXEC));
	ASSERT_EQ(0, pipe2(hold, O_CLOEXEC));
	h->pid = fork();
	ASSERT_LE(0, h->pid);
	if (h->pid == 0) {
		close(rep[0]);
		close(hold[1]);
		holder_main(rep[1], hold[0], as_nobody);
	}
	close(rep[1]);
	close(hold[0]);
	h->hold = hold[1];
	ASSERT_EQ(sizeof(h->rep), read(rep[0], &h->rep, sizeof(h->rep)))
		TH_LOG("no report from the holder");
	close(rep[0]);
	ASSERT_STREQ("", h->rep.err) TH_LOG("holder setup failed");
}

static void stop_holder(struct holder *h)
{
	if (h->pid <= 0)
		return;
	close(h->hold);
	kill(h->pid, SIGKILL);
	waitpid(h->pid, NULL, 0);
	h->pid = 0;
}

/* ---- running evqstat ----------------------------------------------------- */

static const char *evqstat_path(void)
{
	static char path[4096 + 16];
	const char *env = getenv("EVQSTAT");
	char exe[4096], *slash;
	ssize_t n;

	if (env && *env)
		return env;
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n < 0)
		return "evqstat";
	exe[n] = '\0';
	slash = strrchr(exe, '/');
	if (slash)
		*slash = '\0';
	snprintf(path, sizeof(path), "%s/evqstat", slash ? exe : ".");
	return path;
}

/*
 * Run evqstat with @args (NULL-terminated, after argv[0]), its standard
 * output into @out. With @unprivileged, as real uid OTHER_RUID, effective
 * uid NOBODY. Returns the exit status, or -1 if it did not exit normally.
 */
static int run_evqstat(const char *const *args, bool unprivileged, char *out,
		       size_t size)
{
	const char *argv[8] = { evqstat_path() };
	size_t len = 0;
	int p[2], status, i;
	ssize_t n;
	pid_t pid;

	for (i = 0; i < 6 && args[i]; i++)
		argv[i + 1] = args[i];
	if (pipe2(p, O_CLOEXEC))
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		dup2(p[1], STDOUT_FILENO);
		if (unprivileged && become(OTHER_RUID, NOBODY))
			_exit(126);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(p[1]);
	while (len < size - 1 && (n = read(p[0], out + len, size - 1 - len)) > 0)
		len += n;
	out[len] = '\0';
	close(p[0]);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

/* One row of the table. */
struct row {
	int pid, fd;
	long id;
	unsigned long long count;
	char mode[16], readers[16], writers[16];
};

/* The table's rows of process @pid; returns how many (at most @max). */
static int rows_of(const char *out, int pid, struct row *rows, int max)
{
	const char *line = out;
	struct row r;
	int n = 0;

	while (line && *line) {
		if (sscanf(line, "%d %d %ld %llu %15s %15s %15s", &r.pid, &r.fd,
			   &r.id, &r.count, r.mode, r.readers, r.writers) == 7 &&
		    r.pid == pid && n < max)
			rows[n++] = r;
		line = strchr(line, '\n');
		if (line)
			line++;
	}
	return n;
}

/*
 * Every row of holder @h in the table @out: one per descriptor, the
 * eventfd not among them, each column right. @waiters: whether readers
 * and writers should be known (else "-").
 */
static void check_table(struct __test_metadata *_metadata,
			const struct holder *h, const char *out, bool waiters)
{
	struct row rows[N_CTR + 4];
	char num[16];
	int n, i, j;

	n = rows_of(out, h->pid, rows, ARRAY_SIZE(rows));
	EXPECT_EQ(N_CTR, n) TH_LOG("rows of pid %d, output:\n%s", h->pid, out);
	for (i = 0; i < n; i++)
		EXPECT_NE(h->rep.eventfd, rows[i].fd)
			TH_LOG("native eventfd listed:\n%s", out);
	for (i = 0; i < N_CTR; i++) {
		for (j = 0; j < n && rows[j].fd != h->rep.fd[i]; j++)
			;
		if (j == n) {
			EXPECT_LT(j, n) TH_LOG("fd %d (counter %d) missing:\n%s",
					       h->rep.fd[i], i, out);
			continue;
		}
		EXPECT_EQ((long)h->rep.id[i], rows[j].id) TH_LOG("fd %d: id",
								 rows[j].fd);
		EXPECT_EQ(want[i].count, rows[j].count) TH_LOG("fd %d: count",
							       rows[j].fd);
		EXPECT_STREQ(want[i].mode, rows[j].mode)
			TH_LOG("fd %d: mode", rows[j].fd);
		snprintf(num, sizeof(num), "%u", want[i].readers);
		EXPECT_STREQ(waiters ? num : "-", rows[j].readers)
			TH_LOG("fd %d: readers", rows[j].fd);
		snprintf(num, sizeof(num), "%u", want[i].writers);
		EXPECT_STREQ(waiters ? num : "-", rows[j].writers)
			TH_LOG("fd %d: writers", rows[j].fd);
	}
}

/* Every object of holder @h in the JSON @out, and only those. */
static void check_json(struct __test_metadata *_metadata,
		       const struct holder *h, const char *out, bool waiters)
{
	char obj[256], tag[64], ev[64];
	const char *p;
	int i, n = 0;

	EXPECT_EQ('[', out[0]) TH_LOG("not a JSON array:\n%s", out);
	p = strrchr(out, ']');
	EXPECT_TRUE(p && !strcmp(p, "]\n")) TH_LOG("not a JSON array:\n%s",
						   out);
	snprintf(tag, sizeof(tag), "{\"pid\": %d, ", h->pid);
	for (p = strstr(out, tag); p; p = strstr(p + 1, tag))
		n++;
	EXPECT_EQ(N_CTR, n) TH_LOG("objects of pid %d:\n%s", h->pid, out);
	snprintf(ev, sizeof(ev), "{\"pid\": %d, \"fd\": %d,", h->pid,
		 h->rep.eventfd);
	EXPECT_EQ(NULL, strstr(out, ev)) TH_LOG("native eventfd listed:\n%s",
						out);
	for (i = 0; i < N_CTR; i++) {
		if (waiters)
			snprintf(tag, sizeof(tag), "\"readers\": %u, \"writers\": %u}",
				 want[i].readers, want[i].writers);
		else
			snprintf(tag, sizeof(tag), "\"readers\": null, \"writers\": null}");
		snprintf(obj, sizeof(obj),
			 "{\"pid\": %d, \"fd\": %d, \"id\": %u, \"count\": %llu, \"mode\": \"%s\", %s",
			 h->pid, h->rep.fd[i], h->rep.id[i],
			 (unsigned long long)want[i].count, want[i].mode, tag);
		EXPECT_NE(NULL, strstr(out, obj))
			TH_LOG("expected the object\n%s\nin:\n%s", obj, out);
	}
}

/* ---- tests --------------------------------------------------------------- */

FIXTURE(evqstat) {
	struct holder a, b;
	char out[65536];
	char pid[16];
};

FIXTURE_VARIANT(evqstat) {
	int unused;
};

FIXTURE_VARIANT_ADD(evqstat, evq) {
	.unused = 0,
};

FIXTURE_SETUP(evqstat)
{
	(void)variant;
	self->a.pid = 0;
	self->b.pid = 0;
}

FIXTURE_TEARDOWN(evqstat)
{
	stop_holder(&self->a);
	stop_holder(&self->b);
}

TEST_F(evqstat, table_for_one_pid)
{
	const char *args[] = { self->pid, NULL };
	static char again[65536];
	int st;

	start_holder(_metadata, &self->a, false);
	snprintf(self->pid, sizeof(self->pid), "%d", self->a.pid);
	st = run_evqstat(args, false, self->out, sizeof(self->out));
	ASSERT_EQ(0, st) TH_LOG("evqstat %s:\n%s", self->pid, self->out);
	EXPECT_EQ(0, strncmp(self->out, "    PID    FD", 13))
		TH_LOG("no header:\n%s", self->out);
	check_table(_metadata, &self->a, self->out, true);
	/* Looking changed nothing: the same table again. */
	st = run_evqstat(args, false, again, sizeof(again));
	EXPECT_EQ(0, st);
	EXPECT_STREQ(self->out, again);
}

TEST_F(evqstat, json_for_one_pid)
{
	const char *args[] = { "--json", self->pid, NULL };
	int st;

	start_holder(_metadata, &self->a, false);
	snprintf(self->pid, sizeof(self->pid), "%d", self->a.pid);
	st = run_evqstat(args, false, self->out, sizeof(self->out));
	ASSERT_EQ(0, st) TH_LOG("evqstat --json %s:\n%s", self->pid,
				self->out);
	check_json(_metadata, &self->a, self->out, true);
}

TEST_F(evqstat, system_wide_lists_every_process)
{
	const char *table[] = { NULL };
	const char *json[] = { "--json", NULL };
	int st;

	start_holder(_metadata, &self->a, false);
	start_holder(_metadata, &self->b, false);
	st = run_evqstat(table, false, self->out, sizeof(self->out));
	ASSERT_EQ(0, st) TH_LOG("evqstat:\n%s", self->out);
	check_table(_metadata, &self->a, self->out, true);
	check_table(_metadata, &self->b, self->out, true);
	st = run_evqstat(json, false, self->out, sizeof(self->out));
	ASSERT_EQ(0, st) TH_LOG("evqstat --json:\n%s", self->out);
	check_json(_metadata, &self->a, self->out, true);
	check_json(_metadata, &self->b, self->out, true);
}

TEST_F(evqstat, without_ptrace_permission_waiters_unknown)
{
	const char *table[] = { self->pid, NULL };
	const char *json[] = { "--json", self->pid, NULL };
	int st;

	start_holder(_metadata, &self->a, true);
	snprintf(self->pid, sizeof(self->pid), "%d", self->a.pid);
	st = run_evqstat(table, true, self->out, sizeof(self->out));
	ASSERT_EQ(0, st) TH_LOG("evqstat %s as uid %d/%d:\n%s", self->pid,
				OTHER_RUID, NOBODY, self->out);
	check_table(_metadata, &self->a, self->out, false);
	st = run_evqstat(json, true, self->out, sizeof(self->out));
	ASSERT_EQ(0, st) TH_LOG("evqstat --json %s as uid %d/%d:\n%s",
				self->pid, OTHER_RUID, NOBODY, self->out);
	check_json(_metadata, &self->a, self->out, false);
	/* Root still sees the waiters of the same process. */
	st = run_evqstat(table, false, self->out, sizeof(self->out));
	ASSERT_EQ(0, st);
	check_table(_metadata, &self->a, self->out, true);
}

TEST_F(evqstat, bad_arguments_and_missing_pid)
{
	const char *bad[][3] = {
		{ "x", NULL }, { "--nope", NULL }, { "0", NULL },
		{ "1", "2", NULL },
	};
	const char *gone[] = { self->pid, NULL };
	size_t i;
	pid_t pid;
	int st;

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		st = run_evqstat(bad[i], false, self->out, sizeof(self->out));
		EXPECT_EQ(2, st) TH_LOG("evqstat %s%s%s", bad[i][0],
					bad[i][1] ? " " : "",
					bad[i][1] ? bad[i][1] : "");
	}
	/* A pid that just exited. */
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0)
		_exit(0);
	ASSERT_EQ(pid, waitpid(pid, NULL, 0));
	snprintf(self->pid, sizeof(self->pid), "%d", pid);
	st = run_evqstat(gone, false, self->out, sizeof(self->out));
	EXPECT_EQ(1, st) TH_LOG("evqstat of exited pid %d:\n%s", pid,
				self->out);
}

TEST_HARNESS_MAIN
