// SPDX-License-Identifier: GPL-2.0
/*
 * evqstat_test - the evqstat tool (../evqstat) against counters whose state
 * is known.
 *
 * A "holder" child process makes counters every way there is, in every
 * mode (see enum ctr): open(2) of the device (+ EVQ_IOC_SETUP and
 * EVQ_IOC_SET_MAXIMUM), EVQ_IOC_CREATE on a device open (evq_create()),
 * and evq_eventfd() with libevq's hidden factory behind it; a dup of one;
 * threads blocked in read (a device and a wake-one anon counter) and in
 * write (at the maximum); and a native eventfd that must not be listed. A
 * second kind of holder is this program again under
 * LD_PRELOAD=libevq-preload.so (next to it, or $EVQ_PRELOAD), making its
 * counters with eventfd() and syscall(SYS_eventfd2). Once the blocked
 * threads sleep (EVQ_IOC_GET_INFO), a holder tells the test its
 * descriptors and ids. The test runs evqstat (next to this binary, or
 * $EVQSTAT) for one PID, with --json, and system-wide with three holders,
 * and checks every column of every row and every key of every object:
 * kind ("device" for an open of the node, the hidden factory included;
 * "anon" for EVQ_IOC_CREATE's), id, count, mode (every mode flag and the
 * maximum), readers and writers.
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
#include <dirent.h>
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

/*
 * The holder's counters, made every way there is, in every mode. D_*:
 * open(2) of the device (+ EVQ_IOC_SETUP, EVQ_IOC_SET_MAXIMUM), kind
 * "device"; D_FACTORY is one used only as the factory of the A_* ones.
 * A_*: EVQ_IOC_CREATE on it (evq_create()), kind "anon". L_EVENTFD:
 * evq_eventfd(), anon, and L_HIDDEN, libevq's hidden factory behind it,
 * a device open; the library may give it a maximum of its own choosing
 * (maximum 0 below: whatever EVQ_IOC_GET_INFO says, shown as ",max=N"
 * unless it is the default). A native eventfd is held too and must not be
 * listed.
 */
enum ctr {
	D_PLAIN5, D_PLAIN5_DUP, D_SEM3, D_READER, D_WRITER, D_MODES,
	D_FACTORY, A_WAKE_ONE, A_BITS, A_FAST, A_FAST_SEM_MAX, A_SEM_WAKE_MAX,
	A_READER, L_EVENTFD, L_HIDDEN, N_CTR
};

struct want {
	const char *kind;
	uint64_t count;
	uint64_t maximum;
	uint32_t flags;		/* EVQ_MODE_FLAGS, for the JSON keys */
	const char *mode;	/* the mode column, as it must read */
	unsigned int readers, writers;
};

#define DEV(c, mx, f, m, r, w)	{ "device", c, mx, f, m, r, w }
#define ANON(c, mx, f, m, r, w)	{ "anon", c, mx, f, m, r, w }

static const struct want want[N_CTR] = {
	[D_PLAIN5]	= DEV(5, COUNT_MAX, 0, "plain", 0, 0),
	[D_PLAIN5_DUP]	= DEV(5, COUNT_MAX, 0, "plain", 0, 0),
	[D_SEM3]	= DEV(3, COUNT_MAX, EVQ_SEMAPHORE, "semaphore", 0, 0),
	[D_READER]	= DEV(0, COUNT_MAX, 0, "plain", 1, 0),
	[D_WRITER]	= DEV(COUNT_MAX, COUNT_MAX, 0, "plain", 0, 1),
	[D_MODES]	= DEV(7, 100, EVQ_SEMAPHORE | EVQ_WAKE_ONE,
			      "semaphore,wake-one,max=100", 0, 0),
	[D_FACTORY]	= DEV(0, COUNT_MAX, 0, "plain", 0, 0),
	[A_WAKE_ONE]	= ANON(2, COUNT_MAX, EVQ_WAKE_ONE, "plain,wake-one",
			       0, 0),
	[A_BITS]	= ANON(5, COUNT_MAX, EVQ_BITS, "bits", 0, 0),
	[A_FAST]	= ANON(9, COUNT_MAX, EVQ_FAST, "plain,fast", 0, 0),
	[A_FAST_SEM_MAX] = ANON(4, 50, EVQ_FAST | EVQ_SEMAPHORE,
				"semaphore,fast,max=50", 0, 0),
	[A_SEM_WAKE_MAX] = ANON(1, 10, EVQ_SEMAPHORE | EVQ_WAKE_ONE,
				"semaphore,wake-one,max=10", 0, 0),
	[A_READER]	= ANON(0, COUNT_MAX, EVQ_WAKE_ONE, "plain,wake-one",
			       1, 0),
	[L_EVENTFD]	= ANON(6, COUNT_MAX, EVQ_SEMAPHORE, "semaphore", 0, 0),
	[L_HIDDEN]	= DEV(0, 0, 0, "plain", 0, 0),
};

/*
 * The counters of the interposer's holder (a process running this program
 * under LD_PRELOAD=libevq-preload.so): eventfd() and syscall(SYS_eventfd2)
 * give anon counters, and the interposer keeps no descriptor of its own.
 */
enum pctr { P_EVENTFD, P_SYSCALL, N_PCTR };

static const struct want pwant[N_PCTR] = {
	[P_EVENTFD]	= ANON(4, COUNT_MAX, 0, "plain", 0, 0),
	[P_SYSCALL]	= ANON(2, COUNT_MAX, EVQ_SEMAPHORE, "semaphore", 0, 0),
};

/* What a holder sends once it is ready, or why it is not. */
struct report {
	int n;			/* counters: N_CTR, or N_PCTR */
	int fd[N_CTR];
	unsigned int id[N_CTR];
	uint64_t maximum[N_CTR];	/* as EVQ_IOC_GET_INFO said */
	int eventfd;		/* the native eventfd, -1 if none */
	char err[160];
};

struct holder {
	pid_t pid;
	int hold;		/* close it and the holder exits */
	const struct want *want;
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

/* open(2) of the device, set up; then @maximum if not the default. */
static int open_counter(uint64_t initval, uint32_t flags, uint64_t maximum)
{
	struct evq_setup s = { .initval = initval, .flags = flags };
	int fd = open(evq_device(), O_RDWR | O_CLOEXEC);

	if (fd >= 0 && (ioctl(fd, EVQ_IOC_SETUP, &s) < 0 ||
			(maximum != COUNT_MAX &&
			 ioctl(fd, EVQ_IOC_SET_MAXIMUM, &maximum) < 0))) {
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

/*
 * The one device descriptor of ours that is none of @rep's (libevq may keep
 * its hidden factory at a high number): -1 if none, -2 if several.
 */
static int find_hidden(const struct report *rep)
{
	char link[256];
	int fd, i, found = -1;
	struct dirent *de;
	DIR *d = opendir("/proc/self/fd");

	if (!d)
		return -1;
	while ((de = readdir(d))) {
		fd = atoi(de->d_name);
		if (de->d_name[0] == '.' || fd == dirfd(d))
			continue;
		if (strcmp(fd_link(fd, link, sizeof(link)), evq_device()) != 0)
			continue;
		for (i = 0; i < N_CTR && rep->fd[i] != fd; i++)
			;
		if (i == N_CTR)
			found = found == -1 ? fd : -2;
	}
	closedir(d);
	return found;
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

/* Every counter of @rep (n of them): its id, or an error in @rep. */
static bool note_ids(struct report *rep)
{
	struct evq_info info;
	int i;

	for (i = 0; i < rep->n; i++) {
		if (rep->fd[i] < 0 ||
		    ioctl(rep->fd[i], EVQ_IOC_GET_INFO, &info) < 0) {
			snprintf(rep->err, sizeof(rep->err),
				 "counter %d (fd %d): %s", i, rep->fd[i],
				 strerror(errno));
			return false;
		}
		rep->id[i] = info.id;
		rep->maximum[i] = info.maximum;
	}
	return true;
}

/* Send @rep, then hold everything open until @hold_fd is closed. */
static void __attribute__((noreturn))
send_and_hold(const struct report *rep, int report_fd, int hold_fd)
{
	char c;

	if (write(report_fd, rep, sizeof(*rep)) != sizeof(*rep))
		_exit(1);
	while (read(hold_fd, &c, 1) > 0)
		;
	_exit(0);
}

static void holder_main(int report_fd, int hold_fd, bool as_nobody)
{
	static struct blocker blockers[3];
	struct report rep;
	pthread_t t;
	int f, i;

	memset(&rep, 0, sizeof(rep));
	rep.n = N_CTR;
	for (i = 0; i < N_CTR; i++)
		rep.fd[i] = -1;
	if (as_nobody && become(NOBODY, NOBODY)) {
		snprintf(rep.err, sizeof(rep.err), "become nobody: %s",
			 strerror(errno));
		goto send;
	}
	rep.fd[D_PLAIN5] = open_counter(5, 0, COUNT_MAX);
	rep.fd[D_SEM3] = open_counter(3, EVQ_SEMAPHORE, COUNT_MAX);
	rep.fd[D_READER] = open_counter(0, 0, COUNT_MAX);
	rep.fd[D_WRITER] = open_counter(EVQ_COUNT_MAX, 0, COUNT_MAX);
	rep.fd[D_MODES] = open_counter(7, EVQ_SEMAPHORE | EVQ_WAKE_ONE, 100);
	rep.eventfd = eventfd(7, EFD_CLOEXEC);
	rep.fd[D_PLAIN5_DUP] = dup(rep.fd[D_PLAIN5]);
	f = open(evq_device(), O_RDWR | O_CLOEXEC);
	rep.fd[D_FACTORY] = f;
	rep.fd[A_WAKE_ONE] = evq_create(f, 2, 0, EVQ_WAKE_ONE | EVQ_CLOEXEC);
	rep.fd[A_BITS] = evq_create(f, 5, 0, EVQ_BITS | EVQ_CLOEXEC);
	rep.fd[A_FAST] = evq_create(f, 9, 0, EVQ_FAST | EVQ_CLOEXEC);
	rep.fd[A_FAST_SEM_MAX] = evq_create(f, 4, 50, EVQ_FAST | EVQ_SEMAPHORE |
					    EVQ_CLOEXEC);
	rep.fd[A_SEM_WAKE_MAX] = evq_create(f, 1, 10, EVQ_SEMAPHORE |
					    EVQ_WAKE_ONE | EVQ_CLOEXEC);
	rep.fd[A_READER] = evq_create(f, 0, 0, EVQ_WAKE_ONE | EVQ_CLOEXEC);
	rep.fd[L_EVENTFD] = evq_eventfd(6, EFD_SEMAPHORE | EFD_CLOEXEC);
	rep.fd[L_HIDDEN] = find_hidden(&rep);
	if (!note_ids(&rep))
		goto send;
	blockers[0] = (struct blocker){ .fd = rep.fd[D_READER] };
	blockers[1] = (struct blocker){ .fd = rep.fd[D_WRITER], .write = true };
	blockers[2] = (struct blocker){ .fd = rep.fd[A_READER] };
	for (i = 0; i < 3; i++) {
		if (pthread_create(&t, NULL, block_fn, &blockers[i])) {
			snprintf(rep.err, sizeof(rep.err),
				 "pthread_create failed");
			goto send;
		}
	}
	if (!wait_asleep(rep.fd[D_READER], 1, 0) ||
	    !wait_asleep(rep.fd[D_WRITER], 0, 1) ||
	    !wait_asleep(rep.fd[A_READER], 1, 0))
		snprintf(rep.err, sizeof(rep.err),
			 "the readers and writer did not block in %d ms",
			 WAIT_MS);
send:
	send_and_hold(&rep, report_fd, hold_fd);
}

/*
 * The interposer's holder: this program again, run under LD_PRELOAD (see
 * start_holder()), with the report and hold pipes as descriptors 3 and 4.
 */
static int preload_holder_main(void)
{
	struct report rep;
	int i;

	memset(&rep, 0, sizeof(rep));
	rep.n = N_PCTR;
	rep.eventfd = -1;
	for (i = 0; i < N_CTR; i++)
		rep.fd[i] = -1;
	rep.fd[P_EVENTFD] = eventfd(4, EFD_CLOEXEC);
	rep.fd[P_SYSCALL] = (int)syscall(SYS_eventfd2, 2,
					 EFD_SEMAPHORE | EFD_CLOEXEC);
	note_ids(&rep);
	send_and_hold(&rep, 3, 4);
}

#define PRELOAD_HOLDER	"--preload-holder"

/* Run this program as the interposer's holder; pipes on fds 3 and 4. */
static void __attribute__((noreturn)) exec_preload_holder(int rep, int hold)
{
	char self[4096], preload[4096 + 32], ld[4096 + 64];
	char *const argv[] = { self, PRELOAD_HOLDER, NULL };
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (n < 0)
		_exit(127);
	self[n] = '\0';
	sibling_path("EVQ_PRELOAD", "libevq-preload.so", preload,
		     sizeof(preload));
	snprintf(ld, sizeof(ld), "LD_PRELOAD=%s", preload);
	/* Through numbers above 4, so that neither dup2 clobbers the other. */
	rep = fcntl(rep, F_DUPFD_CLOEXEC, 10);
	hold = fcntl(hold, F_DUPFD_CLOEXEC, 10);
	if (rep < 0 || hold < 0 || dup2(rep, 3) != 3 || dup2(hold, 4) != 4)
		_exit(127);
	putenv(ld);
	execv(self, argv);
	_exit(127);
}

enum holder_kind { HOLD_EVQ, HOLD_EVQ_NOBODY, HOLD_PRELOAD };

static void start_holder(struct __test_metadata *_metadata, struct holder *h,
			 enum holder_kind kind)
{
	int rep[2], hold[2];

	ASSERT_EQ(0, pipe2(rep, O_CLOEXEC));
	ASSERT_EQ(0, pipe2(hold, O_CLOEXEC));
	h->want = kind == HOLD_PRELOAD ? pwant : want;
	h->pid = fork();
	ASSERT_LE(0, h->pid);
	if (h->pid == 0) {
		close(rep[0]);
		close(hold[1]);
		if (kind == HOLD_PRELOAD)
			exec_preload_holder(rep[1], hold[0]);
		holder_main(rep[1], hold[0], kind == HOLD_EVQ_NOBODY);
	}
	close(rep[1]);
	close(hold[0]);
	h->hold = hold[1];
	ASSERT_EQ(sizeof(h->rep), read(rep[0], &h->rep, sizeof(h->rep)))
		TH_LOG("no report from the holder%s",
		       kind == HOLD_PRELOAD ? " under LD_PRELOAD" : "");
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

	return sibling_path("EVQSTAT", "evqstat", path, sizeof(path));
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
	char kind[16];
	long id;
	unsigned long long count;
	char readers[16], writers[16], mode[64];
};

/* The table's rows of process @pid; returns how many (at most @max). */
static int rows_of(const char *out, int pid, struct row *rows, int max)
{
	const char *line = out;
	struct row r;
	int n = 0;

	while (line && *line) {
		if (sscanf(line, "%d %d %15s %ld %llu %15s %15s %63s", &r.pid,
			   &r.fd, r.kind, &r.id, &r.count, r.readers,
			   r.writers, r.mode) == 8 &&
		    r.pid == pid && n < max)
			rows[n++] = r;
		line = strchr(line, '\n');
		if (line)
			line++;
	}
	return n;
}

/*
 * Counter @i of holder @h as evqstat must show it: @e, its want with the
 * maximum filled in where the library chooses it, and the mode in @mode.
 */
static void expect_of(const struct holder *h, int i, struct want *e,
		      char *mode, size_t size)
{
	*e = h->want[i];
	if (e->maximum)
		return;
	e->maximum = h->rep.maximum[i];
	if (e->maximum == COUNT_MAX)
		snprintf(mode, size, "%s", e->mode);
	else
		snprintf(mode, size, "%s,max=%llu", e->mode,
			 (unsigned long long)e->maximum);
	e->mode = mode;
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
	EXPECT_EQ(h->rep.n, n) TH_LOG("rows of pid %d, output:\n%s", h->pid,
				      out);
	for (i = 0; i < n; i++)
		EXPECT_NE(h->rep.eventfd, rows[i].fd)
			TH_LOG("native eventfd listed:\n%s", out);
	for (i = 0; i < h->rep.n; i++) {
		char mode[64];
		struct want e;
		const struct want *w = &e;

		expect_of(h, i, &e, mode, sizeof(mode));
		for (j = 0; j < n && rows[j].fd != h->rep.fd[i]; j++)
			;
		if (j == n) {
			EXPECT_LT(j, n) TH_LOG("fd %d (counter %d, %s %s) missing:\n%s",
					       h->rep.fd[i], i, w->kind,
					       w->mode, out);
			continue;
		}
		EXPECT_STREQ(w->kind, rows[j].kind)
			TH_LOG("fd %d: kind", rows[j].fd);
		EXPECT_EQ((long)h->rep.id[i], rows[j].id) TH_LOG("fd %d: id",
								 rows[j].fd);
		EXPECT_EQ(w->count, rows[j].count) TH_LOG("fd %d: count",
							  rows[j].fd);
		EXPECT_STREQ(w->mode, rows[j].mode)
			TH_LOG("fd %d: mode", rows[j].fd);
		snprintf(num, sizeof(num), "%u", w->readers);
		EXPECT_STREQ(waiters ? num : "-", rows[j].readers)
			TH_LOG("fd %d: readers", rows[j].fd);
		snprintf(num, sizeof(num), "%u", w->writers);
		EXPECT_STREQ(waiters ? num : "-", rows[j].writers)
			TH_LOG("fd %d: writers", rows[j].fd);
	}
}

static const char *jbool(uint32_t flags, uint32_t flag)
{
	return flags & flag ? "true" : "false";
}

/* Every object of holder @h in the JSON @out, and only those. */
static void check_json(struct __test_metadata *_metadata,
		       const struct holder *h, const char *out, bool waiters)
{
	char obj[512], tag[64], ev[64];
	const char *p;
	int i, n = 0;

	EXPECT_EQ('[', out[0]) TH_LOG("not a JSON array:\n%s", out);
	p = strrchr(out, ']');
	EXPECT_TRUE(p && !strcmp(p, "]\n")) TH_LOG("not a JSON array:\n%s",
						   out);
	snprintf(tag, sizeof(tag), "{\"pid\": %d, ", h->pid);
	for (p = strstr(out, tag); p; p = strstr(p + 1, tag))
		n++;
	EXPECT_EQ(h->rep.n, n) TH_LOG("objects of pid %d:\n%s", h->pid, out);
	snprintf(ev, sizeof(ev), "{\"pid\": %d, \"fd\": %d,", h->pid,
		 h->rep.eventfd);
	EXPECT_EQ(NULL, strstr(out, ev)) TH_LOG("native eventfd listed:\n%s",
						out);
	for (i = 0; i < h->rep.n; i++) {
		char mode[64];
		struct want e;
		const struct want *w = &e;

		expect_of(h, i, &e, mode, sizeof(mode));
		if (waiters)
			snprintf(tag, sizeof(tag), "\"readers\": %u, \"writers\": %u}",
				 w->readers, w->writers);
		else
			snprintf(tag, sizeof(tag), "\"readers\": null, \"writers\": null}");
		snprintf(obj, sizeof(obj),
			 "{\"pid\": %d, \"fd\": %d, \"kind\": \"%s\", \"id\": %u, \"count\": %llu, \"mode\": \"%s\", \"maximum\": %llu, \"semaphore\": %s, \"wake_one\": %s, \"bits\": %s, \"fast\": %s, %s",
			 h->pid, h->rep.fd[i], w->kind, h->rep.id[i],
			 (unsigned long long)w->count, w->mode,
			 (unsigned long long)w->maximum,
			 jbool(w->flags, EVQ_SEMAPHORE),
			 jbool(w->flags, EVQ_WAKE_ONE),
			 jbool(w->flags, EVQ_BITS), jbool(w->flags, EVQ_FAST),
			 tag);
		EXPECT_NE(NULL, strstr(out, obj))
			TH_LOG("expected the object\n%s\nin:\n%s", obj, out);
	}
}

/* ---- tests --------------------------------------------------------------- */

FIXTURE(evqstat) {
	struct holder a, b, p;
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
	self->p.pid = 0;
}

FIXTURE_TEARDOWN(evqstat)
{
	stop_holder(&self->a);
	stop_holder(&self->b);
	stop_holder(&self->p);
}

TEST_F(evqstat, table_for_one_pid)
{
	const char *args[] = { self->pid, NULL };
	static char again[65536];
	int st;

	start_holder(_metadata, &self->a, HOLD_EVQ);
	snprintf(self->pid, sizeof(self->pid), "%d", self->a.pid);
	st = run_evqstat(args, false, self->out, sizeof(self->out));
	ASSERT_EQ(0, st) TH_LOG("evqstat %s:\n%s", self->pid, self->out);
	EXPECT_EQ(0, strncmp(self->out, "    PID    FD KIND", 18))
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

	start_holder(_metadata, &self->a, HOLD_EVQ);
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

	start_holder(_metadata, &self->a, HOLD_EVQ);
	start_holder(_metadata, &self->b, HOLD_EVQ);
	start_holder(_metadata, &self->p, HOLD_PRELOAD);
	st = run_evqstat(table, false, self->out, sizeof(self->out));
	ASSERT_EQ(0, st) TH_LOG("evqstat:\n%s", self->out);
	check_table(_metadata, &self->a, self->out, true);
	check_table(_metadata, &self->b, self->out, true);
	check_table(_metadata, &self->p, self->out, true);
	st = run_evqstat(json, false, self->out, sizeof(self->out));
	ASSERT_EQ(0, st) TH_LOG("evqstat --json:\n%s", self->out);
	check_json(_metadata, &self->a, self->out, true);
	check_json(_metadata, &self->b, self->out, true);
	check_json(_metadata, &self->p, self->out, true);
}

/*
 * A program under the LD_PRELOAD interposer: its eventfd() and
 * syscall(SYS_eventfd2) counters are listed as anon, and nothing else (the
 * interposer holds no descriptor of its own).
 */
TEST_F(evqstat, interposer_counters_listed_as_anon)
{
	const char *table[] = { self->pid, NULL };
	const char *json[] = { "--json", self->pid, NULL };
	int st;

	start_holder(_metadata, &self->p, HOLD_PRELOAD);
	snprintf(self->pid, sizeof(self->pid), "%d", self->p.pid);
	st = run_evqstat(table, false, self->out, sizeof(self->out));
	ASSERT_EQ(0, st) TH_LOG("evqstat %s:\n%s", self->pid, self->out);
	check_table(_metadata, &self->p, self->out, true);
	st = run_evqstat(json, false, self->out, sizeof(self->out));
	ASSERT_EQ(0, st) TH_LOG("evqstat --json %s:\n%s", self->pid,
				self->out);
	check_json(_metadata, &self->p, self->out, true);
}

TEST_F(evqstat, without_ptrace_permission_waiters_unknown)
{
	const char *table[] = { self->pid, NULL };
	const char *json[] = { "--json", self->pid, NULL };
	int st;

	start_holder(_metadata, &self->a, HOLD_EVQ_NOBODY);
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

int main(int argc, char **argv)
{
	if (argc == 2 && !strcmp(argv[1], PRELOAD_HOLDER))
		return preload_holder_main();
	return test_harness_run(argc, argv);
}
