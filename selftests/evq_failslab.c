// SPDX-License-Identifier: GPL-2.0
/*
 * evq_failslab - open(/dev/evq) with its memory allocations made to fail.
 *
 * For the debug kernel (scripts/guest/debug): needs root, debugfs on
 * /sys/kernel/debug, CONFIG_FAILSLAB, CONFIG_FAIL_PAGE_ALLOC,
 * CONFIG_FAULT_INJECTION_DEBUG_FS and CONFIG_FAULT_INJECTION_STACKTRACE_FILTER,
 * and evq loaded with no counter open anywhere.
 *
 * Only allocations made with evq's code on the stack are failed: the
 * failslab and fail_page_alloc stack filters (require-start/require-end)
 * are set to the module's address range from /proc/modules, and only this
 * process is targeted (its own fail-nth, or make-it-fail with task-filter).
 * So the failures land in evq's open path and nowhere else, and the rest of
 * the system keeps running normally.
 *
 * Checks, one "ok NAME" / "not ok NAME" line each, "# " lines for details:
 *   each_allocation_in_open_fails_cleanly
 *       fail-nth = 1, 2, ... until the n-th allocation is never reached:
 *       every injected failure makes open() fail with ENOMEM, or, where the
 *       kernel absorbs the failure (kmemleak's and KASAN's own bookkeeping
 *       fall back to reserves), the open succeeds with a working counter;
 *       at least one open failed with ENOMEM; the last open, with nothing
 *       injected, succeeds
 *   failed_opens_leave_no_id_behind
 *       the next counter gets the same eventfd-id as one opened before the
 *       failures (the id allocator takes the lowest free id, so an id lost
 *       in an error path would show)
 *   only_the_targeted_process_fails
 *       with probability 100 and task-filter, a child marked make-it-fail
 *       gets ENOMEM on every open while this unmarked process opens fine
 *   module_refcount_zero_after
 *       /sys/module/evq/refcnt is back to 0 once everything is closed
 * Whether anything leaked is kmemleak's to say (the payload scans after
 * this), and whether the module unloads is the payload's next step.
 * Exit status 1 if any check failed, 2 if the setup is missing.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#define DEBUGFS		"/sys/kernel/debug"
#define MAX_NTH		64
#define TARGETED_OPENS	20

static const char *const attrs[] = { "failslab", "fail_page_alloc" };
#define NR_ATTRS	(sizeof(attrs) / sizeof(attrs[0]))

static int nr_failed;

static void verdict(const char *name, bool ok)
{
	printf("%s failslab.%s\n", ok ? "ok" : "not ok", name);
	fflush(stdout);
	if (!ok)
		nr_failed++;
}

/* ---- small file helpers --------------------------------------------------- */

static int write_file(const char *path, const char *val)
{
	size_t len = strlen(val);
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0) {
		printf("# open %s: %s\n", path, strerror(errno));
		return -1;
	}
	n = write(fd, val, len);
	if (n != (ssize_t)len)
		printf("# write '%s' to %s: %s\n", val, path,
		       n < 0 ? strerror(errno) : "short write");
	close(fd);
	return n == (ssize_t)len ? 0 : -1;
}

static int read_file(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

/* ---- fault-injection knobs, saved and restored ----------------------------- */

static const char *const knobs[] = {
	"require-start", "require-end", "stacktrace-depth", "ignore-gfp-wait",
	"probability", "interval", "times", "task-filter", "verbose",
};
#define NR_KNOBS	(sizeof(knobs) / sizeof(knobs[0]))

static char saved[NR_ATTRS][NR_KNOBS][32];

static int set_knob(const char *attr, const char *knob, const char *val)
{
	char path[128];

	snprintf(path, sizeof(path), DEBUGFS "/%s/%s", attr, knob);
	return write_file(path, val);
}

static int save_knobs(void)
{
	char path[128];
	size_t a, k;

	for (a = 0; a < NR_ATTRS; a++)
		for (k = 0; k < NR_KNOBS; k++) {
			snprintf(path, sizeof(path), DEBUGFS "/%s/%s", attrs[a],
				 knobs[k]);
			if (read_file(path, saved[a][k], sizeof(saved[a][k]))) {
				printf("# cannot read %s: %s\n", path,
				       strerror(errno));
				return -1;
			}
		}
	return 0;
}

static void restore_knobs(void)
{
	size_t a, k;

	for (a = 0; a < NR_ATTRS; a++)
		for (k = 0; k < NR_KNOBS; k++)
			set_knob(attrs[a], knobs[k], saved[a][k]);
}

/*
 * Fail only allocations with evq's code on the stack: [@start, @end). No
 * random failures (probability 0) until a check asks for them; verbose 1
 * logs one line per injected failure and no stack dump (a dump would read
 * as a kernel splat in the console log).
 */
static int arm_filters(unsigned long start, unsigned long end)
{
	char s[32], e[32];
	size_t a;
	int ret = 0;

	snprintf(s, sizeof(s), "%lu", start);
	snprintf(e, sizeof(e), "%lu", end);
	for (a = 0; a < NR_ATTRS; a++) {
		ret |= set_knob(attrs[a], "require-start", s);
		ret |= set_knob(attrs[a], "require-end", e);
		ret |= set_knob(attrs[a], "stacktrace-depth", "32");
		ret |= set_knob(attrs[a], "probability", "0");
		ret |= set_knob(attrs[a], "interval", "1");
		ret |= set_knob(attrs[a], "times", "-1");
		ret |= set_knob(attrs[a], "task-filter", "N");
		ret |= set_knob(attrs[a], "verbose", "1");
	}
	/* GFP_KERNEL allocations are what evq makes: fail those too. */
	ret |= set_knob("failslab", "ignore-gfp-wait", "N");
	return ret;
}

/* evq's address range from /proc/modules ("evq SIZE REFS DEPS STATE ADDR"). */
static int module_range(unsigned long *start, unsigned long *end)
{
	char line[256], name[64], deps[128], state[32];
	unsigned long size, addr;
	int refs;
	FILE *f = fopen("/proc/modules", "re");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%63s %lu %d %127s %31s %lx", name, &size,
			   &refs, deps, state, &addr) != 6 ||
		    strcmp(name, "evq") != 0)
			continue;
		fclose(f);
		if (!addr) {
			printf("# /proc/modules hides evq's address\n");
			return -1;
		}
		*start = addr;
		*end = addr + size;
		return 0;
	}
	fclose(f);
	printf("# evq is not in /proc/modules\n");
	return -1;
}

/* ---- counters ---------------------------------------------------------------- */

/* eventfd-id of @fd from fdinfo, or -1. */
static int counter_id(int fd)
{
	char path[64], line[128];
	int id = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "eventfd-id: %d", &id) == 1)
			break;
	fclose(f);
	return id;
}

/* Write 2, read it back: the counter works. */
static bool counter_works(int fd)
{
	uint64_t v = 2;

	if (write(fd, &v, sizeof(v)) != sizeof(v))
		return false;
	v = 0;
	return read(fd, &v, sizeof(v)) == sizeof(v) && v == 2;
}

/* ---- checks ------------------------------------------------------------------ */

static void check_fail_nth(int baseline_id)
{
	char path[64], buf[32];
	int n, fd, err, id, enomem = 0, absorbed = 0;
	bool ok = true, reached_end = false;
	int nth;

	snprintf(path, sizeof(path), "/proc/self/task/%d/fail-nth",
		 (int)gettid());
	nth = open(path, O_RDWR | O_CLOEXEC);
	if (nth < 0) {
		printf("# open %s: %s\n", path, strerror(errno));
		verdict("each_allocation_in_open_fails_cleanly", false);
		verdict("failed_opens_leave_no_id_behind", false);
		return;
	}
	for (n = 1; n <= MAX_NTH; n++) {
		bool injected;

		snprintf(buf, sizeof(buf), "%d", n);
		if (pwrite(nth, buf, strlen(buf), 0) < 0) {
			printf("# write fail-nth %d: %s\n", n, strerror(errno));
			ok = false;
			break;
		}
		fd = open("/dev/evq", O_RDWR | O_CLOEXEC);
		err = errno;
		memset(buf, 0, sizeof(buf));
		if (pread(nth, buf, sizeof(buf) - 1, 0) < 0) {
			printf("# read fail-nth: %s\n", strerror(errno));
			ok = false;
		}
		injected = atoi(buf) == 0;
		/* Disarm before anything else runs in this task. */
		if (pwrite(nth, "0", 1, 0) < 0)
			ok = false;

		if (!injected) {
			/* Past the last allocation: this open must work. */
			printf("# fail-nth %d: not reached, open %s\n", n,
			       fd >= 0 ? "succeeded" : strerror(err));
			if (fd < 0 || !counter_works(fd))
				ok = false;
			if (fd >= 0)
				close(fd);
			reached_end = true;
			break;
		}
		if (fd < 0) {
			printf("# fail-nth %d: open failed: %s\n", n,
			       strerror(err));
			if (err == ENOMEM) {
				enomem++;
			} else {
				printf("# fail-nth %d: expected ENOMEM, got %s\n",
				       n, strerror(err));
				ok = false;
			}
			continue;
		}
		/* Injected, and still opened: the failure was absorbed. */
		absorbed++;
		printf("# fail-nth %d: injected failure absorbed, open succeeded\n",
		       n);
		if (!counter_works(fd)) {
			printf("# fail-nth %d: expected a working counter after the open, got a broken one\n",
			       n);
			ok = false;
		}
		close(fd);
	}
	close(nth);
	printf("# %d opens failed with ENOMEM, %d absorbed a failure\n",
	       enomem, absorbed);
	if (!reached_end)
		printf("# expected the open to need fewer than %d allocations\n",
		       MAX_NTH);
	if (!enomem)
		printf("# expected at least one open to fail with ENOMEM, got none: is the stack filter on evq?\n");
	verdict("each_allocation_in_open_fails_cleanly",
		ok && reached_end && enomem > 0);

	fd = open("/dev/evq", O_RDWR | O_CLOEXEC);
	id = fd >= 0 ? counter_id(fd) : -1;
	if (id != baseline_id)
		printf("# expected eventfd-id %d after the failed opens, got %d\n",
		       baseline_id, id);
	verdict("failed_opens_leave_no_id_behind", id == baseline_id);
	if (fd >= 0)
		close(fd);
}

/* The child: marked make-it-fail, every open must give ENOMEM. */
static int targeted_child(void)
{
	int i, fd, bad = 0;

	if (write_file("/proc/self/make-it-fail", "1"))
		return 2;
	for (i = 0; i < TARGETED_OPENS; i++) {
		fd = open("/dev/evq", O_RDWR | O_CLOEXEC);
		if (fd >= 0) {
			printf("# targeted child: open %d: expected ENOMEM, it succeeded\n",
			       i);
			close(fd);
			bad = 1;
		} else if (errno != ENOMEM) {
			printf("# targeted child: open %d: expected ENOMEM, got %s\n",
			       i, strerror(errno));
			bad = 1;
		}
	}
	fflush(stdout);
	return bad;
}

static void check_targeted(void)
{
	int i, fd, status = -1, parent_bad = 0;
	size_t a;
	pid_t pid;

	for (a = 0; a < NR_ATTRS; a++) {
		set_knob(attrs[a], "task-filter", "Y");
		set_knob(attrs[a], "probability", "100");
	}
	fflush(stdout);
	pid = fork();
	if (pid == 0)
		_exit(targeted_child());
	if (pid > 0)
		waitpid(pid, &status, 0);
	/* Armed still: this process is not marked, so it must not fail. */
	for (i = 0; i < TARGETED_OPENS; i++) {
		fd = open("/dev/evq", O_RDWR | O_CLOEXEC);
		if (fd < 0 || !counter_works(fd)) {
			printf("# unmarked parent: open %d: expected a working counter, got %s\n",
			       i, fd < 0 ? strerror(errno) : "a broken one");
			parent_bad = 1;
		}
		if (fd >= 0)
			close(fd);
	}
	for (a = 0; a < NR_ATTRS; a++)
		set_knob(attrs[a], "probability", "0");
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		printf("# targeted child: expected exit 0, got status %#x\n",
		       status);
	verdict("only_the_targeted_process_fails",
		pid > 0 && WIFEXITED(status) && !WEXITSTATUS(status) &&
		!parent_bad);
}

static void check_refcount(void)
{
	char buf[32] = "";

	if (read_file("/sys/module/evq/refcnt", buf, sizeof(buf)))
		printf("# cannot read /sys/module/evq/refcnt\n");
	else if (strcmp(buf, "0") != 0)
		printf("# expected /sys/module/evq/refcnt 0, got %s\n", buf);
	verdict("module_refcount_zero_after", !strcmp(buf, "0"));
}

int main(void)
{
	unsigned long start, end;
	int fd, baseline_id;

	if (module_range(&start, &end) || save_knobs()) {
		printf("# setup missing: evq loaded, debugfs, failslab, fail_page_alloc, stack filter?\n");
		verdict("setup", false);
		return 2;
	}
	printf("# evq at [%#lx, %#lx)\n", start, end);

	fd = open("/dev/evq", O_RDWR | O_CLOEXEC);
	baseline_id = fd >= 0 ? counter_id(fd) : -1;
	if (fd >= 0)
		close(fd);
	if (baseline_id < 0) {
		printf("# cannot open /dev/evq or read its eventfd-id\n");
		verdict("setup", false);
		return 2;
	}

	if (arm_filters(start, end)) {
		restore_knobs();
		verdict("setup", false);
		return 2;
	}
	check_fail_nth(baseline_id);
	check_targeted();
	restore_knobs();
	check_refcount();
	return nr_failed ? 1 : 0;
}
