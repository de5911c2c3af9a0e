// SPDX-License-Identifier: GPL-2.0
/*
 * evqstat - list the evq counters of one process or of the system.
 *
 *   evqstat [--json] [PID]
 *
 * One row per open file descriptor of a counter: pid, fd, kind, id
 * (eventfd-id of fdinfo), count, readers and writers (tasks blocked in
 * read or write on it), mode. --json prints a JSON array of objects with
 * the same keys, and the mode's parts as keys of their own (maximum,
 * semaphore, wake_one, bits, fast); readers and writers are null where
 * unknown.
 *
 * Kind: "anon" for a counter made by EVQ_IOC_CREATE (evq_create(),
 * evq_eventfd(), the LD_PRELOAD interposer), whose /proc/PID/fd/N link is
 * "anon_inode:[evq]"; "device" for an open(2) of the device node, whose
 * link is /dev/evq ($EVQ_DEVICE if set), or which is a character device
 * with /dev/evq's st_rdev (the node may be elsewhere or unlinked). The
 * kernel makes no difference between a device open used as a counter and
 * one used only as a factory (EVQ_IOC_CREATE works on every evq file, and
 * fdinfo shows the same for both), so neither does evqstat: every device
 * open is listed, as "device". libevq's hidden factory (evq_eventfd(3)) is
 * one: a close-on-exec "device" row, count 0, mode plain, that the program
 * never made itself.
 *
 * Mode: "plain", "semaphore" or "bits", then ",wake-one" and ",fast" where
 * set, and ",max=N" where the maximum is not eventfd's (EVQ_COUNT_MAX).
 *
 * How: /proc/PID/fdinfo/N gives the count, id and mode (eventfd's keys and
 * evq's evq-maximum, evq-wake-one, evq-bits, evq-fast). For the waiters,
 * evqstat borrows the descriptor with pidfd_open(2) and pidfd_getfd(2),
 * which needs ptrace attach permission (root, or the same user with Yama
 * allowing it), and asks the counter with EVQ_IOC_GET_INFO (only if the
 * borrowed file is of the same kind and id); that snapshot then also gives
 * count, id and mode. Without permission readers and writers are shown as
 * "-". evqstat never opens /proc/PID/fd/N: an open of /dev/evq would make
 * a new counter.
 *
 * Exit status: 0 when the listing is complete, 1 if PID's descriptors
 * cannot be read, 2 for a usage error.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

#include <linux/evq.h>

/* x86-64 numbers, for C libraries that do not name them yet. */
#ifndef SYS_pidfd_open
#define SYS_pidfd_open		434
#endif
#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd		438
#endif

#define DEFAULT_DEVICE		"/dev/evq"
/* The /proc/PID/fd link of a counter made by EVQ_IOC_CREATE. */
#define ANON_LINK		"anon_inode:[evq]"

enum kind { KIND_NONE, KIND_DEVICE, KIND_ANON };

struct row {
	int pid;
	int fd;
	enum kind kind;
	long id;
	uint64_t count;
	uint64_t maximum;
	uint32_t flags;		/* EVQ_MODE_FLAGS */
	bool have_waiters;	/* readers/writers came from GET_INFO */
	uint32_t readers;
	uint32_t writers;
};

struct rows {
	struct row *v;
	size_t n, cap;
};

/* How a descriptor is recognised as a counter. */
struct device {
	const char *path;	/* what /proc/PID/fd/N links to */
	bool have_rdev;
	dev_t rdev;
};

static void die_oom(void)
{
	fputs("evqstat: out of memory\n", stderr);
	exit(1);
}

static struct row *add_row(struct rows *rows)
{
	if (rows->n == rows->cap) {
		size_t cap = rows->cap ? 2 * rows->cap : 16;
		struct row *v = realloc(rows->v, cap * sizeof(*v));

		if (!v)
			die_oom();
		rows->v = v;
		rows->cap = cap;
	}
	memset(&rows->v[rows->n], 0, sizeof(rows->v[0]));
	return &rows->v[rows->n++];
}

/* A decimal number that fits in an int and is > 0 (or >= 0 with @zero_ok). */
static int parse_int(const char *s, bool zero_ok)
{
	char *end;
	long v;

	if (!isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v > INT32_MAX || (v == 0 && !zero_ok))
		return -1;
	return (int)v;
}

/* What /proc/@pid/fd/@fd is: an evq counter of which kind, or none. */
static enum kind counter_kind(const struct device *dev, int pid, int fd)
{
	char path[64], link[4096];
	struct stat st;
	ssize_t len;

	snprintf(path, sizeof(path), "/proc/%d/fd/%d", pid, fd);
	len = readlink(path, link, sizeof(link) - 1);
	if (len < 0)
		return KIND_NONE;
	link[len] = '\0';
	if (!strcmp(link, ANON_LINK))
		return KIND_ANON;
	if (!strcmp(link, dev->path))
		return KIND_DEVICE;
	/* stat() follows the link without opening the file. */
	if (dev->have_rdev && stat(path, &st) == 0 && S_ISCHR(st.st_mode) &&
	    st.st_rdev == dev->rdev)
		return KIND_DEVICE;
	return KIND_NONE;
}

/*
 * The eventfd lines of /proc/PID/fdinfo/FD into @r. False if unreadable or
 * not a counter's (the descriptor may have been closed and reused).
 */
static bool read_fdinfo(int pid, int fd, struct row *r)
{
	bool have_count = false, have_id = false;
	char path[64], line[256];
	unsigned long long count, maximum;
	long id;
	int on;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/fdinfo/%d", pid, fd);
	f = fopen(path, "re");
	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "eventfd-count: %llx", &count) == 1) {
			r->count = count;
			have_count = true;
		} else if (sscanf(line, "eventfd-id: %ld", &id) == 1) {
			r->id = id;
			have_id = true;
		} else if (sscanf(line, "eventfd-semaphore: %d", &on) == 1) {
			r->flags |= on ? EVQ_SEMAPHORE : 0;
		} else if (sscanf(line, "evq-maximum: %llu", &maximum) == 1) {
			r->maximum = maximum;
		} else if (sscanf(line, "evq-wake-one: %d", &on) == 1) {
			r->flags |= on ? EVQ_WAKE_ONE : 0;
		} else if (sscanf(line, "evq-bits: %d", &on) == 1) {
			r->flags |= on ? EVQ_BITS : 0;
		} else if (sscanf(line, "evq-fast: %d", &on) == 1) {
			r->flags |= on ? EVQ_FAST : 0;
		}
	}
	fclose(f);
	return have_count && have_id;
}

/*
 * Borrow the descriptor through @pidfd and take a GET_INFO snapshot. Asked
 * only if the borrowed file is a counter of the kind fdinfo's was (the
 * number may have been reused since), used only if it has the same id.
 */
static void read_waiters(const struct device *dev, int pidfd, int fd,
			 struct row *r)
{
	struct evq_info info;
	int dup;

	if (pidfd < 0)
		return;
	/* The copy is close-on-exec; the flags must be 0. */
	dup = (int)syscall(SYS_pidfd_getfd, pidfd, fd, 0);
	if (dup < 0)
		return;
	if (counter_kind(dev, getpid(), dup) == r->kind &&
	    ioctl(dup, EVQ_IOC_GET_INFO, &info) == 0 && info.id == r->id) {
		r->count = info.count;
		r->maximum = info.maximum;
		r->flags = info.flags & EVQ_MODE_FLAGS;
		r->readers = info.readers;
		r->writers = info.writers;
		r->have_waiters = true;
	}
	close(dup);
}

/*
 * Add the counters of @pid to @rows. Returns 0, or -errno if its
 * descriptors cannot be listed.
 */
static int scan_pid(const struct device *dev, int pid, struct rows *rows)
{
	char path[64];
	struct dirent *de;
	int pidfd, fd;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	d = opendir(path);
	if (!d)
		return -errno;
	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	while ((de = readdir(d))) {
		enum kind kind = KIND_NONE;
		struct row *r;

		fd = parse_int(de->d_name, true);
		if (fd >= 0)
			kind = counter_kind(dev, pid, fd);
		if (kind == KIND_NONE)
			continue;
		r = add_row(rows);
		r->pid = pid;
		r->fd = fd;
		r->kind = kind;
		r->maximum = EVQ_COUNT_MAX;
		if (!read_fdinfo(pid, fd, r)) {
			rows->n--;
			continue;
		}
		read_waiters(dev, pidfd, fd, r);
	}
	if (pidfd >= 0)
		close(pidfd);
	closedir(d);
	return 0;
}

/* Every process but evqstat itself; ones we may not look at are left out. */
static int scan_all(const struct device *dev, struct rows *rows)
{
	struct dirent *de;
	int pid, self = getpid();
	DIR *d = opendir("/proc");

	if (!d) {
		perror("evqstat: /proc");
		return -1;
	}
	while ((de = readdir(d))) {
		pid = parse_int(de->d_name, false);
		if (pid > 0 && pid != self)
			scan_pid(dev, pid, rows);
	}
	closedir(d);
	return 0;
}

static int cmp_row(const void *a, const void *b)
{
	const struct row *x = a, *y = b;

	if (x->pid != y->pid)
		return x->pid < y->pid ? -1 : 1;
	return (x->fd > y->fd) - (x->fd < y->fd);
}

static const char *kind_name(const struct row *r)
{
	return r->kind == KIND_ANON ? "anon" : "device";
}

/*
 * The mode column into @buf: "plain", "semaphore" or "bits", then
 * ",wake-one", ",fast" and ",max=N" (N not the default EVQ_COUNT_MAX).
 */
static const char *mode_name(const struct row *r, char *buf, size_t size)
{
	int n;

	n = snprintf(buf, size, "%s%s%s",
		     r->flags & EVQ_BITS ? "bits" :
		     r->flags & EVQ_SEMAPHORE ? "semaphore" : "plain",
		     r->flags & EVQ_WAKE_ONE ? ",wake-one" : "",
		     r->flags & EVQ_FAST ? ",fast" : "");
	if (r->maximum != EVQ_COUNT_MAX && n > 0 && (size_t)n < size)
		snprintf(buf + n, size - n, ",max=%llu",
			 (unsigned long long)r->maximum);
	return buf;
}

static const char *json_bool(bool b)
{
	return b ? "true" : "false";
}

static void print_table(const struct rows *rows)
{
	char rd[16], wr[16], mode[64];
	size_t i;

	printf("%7s %5s %-6s %6s %20s %7s %7s %s\n", "PID", "FD", "KIND", "ID",
	       "COUNT", "READERS", "WRITERS", "MODE");
	for (i = 0; i < rows->n; i++) {
		const struct row *r = &rows->v[i];

		if (r->have_waiters) {
			snprintf(rd, sizeof(rd), "%u", r->readers);
			snprintf(wr, sizeof(wr), "%u", r->writers);
		} else {
			snprintf(rd, sizeof(rd), "-");
			snprintf(wr, sizeof(wr), "-");
		}
		printf("%7d %5d %-6s %6ld %20llu %7s %7s %s\n", r->pid, r->fd,
		       kind_name(r), r->id, (unsigned long long)r->count, rd,
		       wr, mode_name(r, mode, sizeof(mode)));
	}
}

static void print_json(const struct rows *rows)
{
	char mode[64];
	size_t i;

	fputs("[", stdout);
	for (i = 0; i < rows->n; i++) {
		const struct row *r = &rows->v[i];

		printf("%s\n  {\"pid\": %d, \"fd\": %d, \"kind\": \"%s\", "
		       "\"id\": %ld, \"count\": %llu, \"mode\": \"%s\", "
		       "\"maximum\": %llu, \"semaphore\": %s, "
		       "\"wake_one\": %s, \"bits\": %s, \"fast\": %s, ",
		       i ? "," : "", r->pid, r->fd, kind_name(r), r->id,
		       (unsigned long long)r->count,
		       mode_name(r, mode, sizeof(mode)),
		       (unsigned long long)r->maximum,
		       json_bool(r->flags & EVQ_SEMAPHORE),
		       json_bool(r->flags & EVQ_WAKE_ONE),
		       json_bool(r->flags & EVQ_BITS),
		       json_bool(r->flags & EVQ_FAST));
		if (r->have_waiters)
			printf("\"readers\": %u, \"writers\": %u}", r->readers,
			       r->writers);
		else
			fputs("\"readers\": null, \"writers\": null}", stdout);
	}
	fputs(rows->n ? "\n]\n" : "]\n", stdout);
}

static void usage(FILE *f)
{
	fputs("usage: evqstat [--json] [PID]\n"
	      "List the evq counters of PID, or of every process: pid, fd,\n"
	      "kind (anon: made by EVQ_IOC_CREATE; device: an open of the\n"
	      "device node, which may be a factory), id, count, the tasks\n"
	      "blocked in read and write (\"-\" without permission to\n"
	      "borrow the descriptor), and the mode.\n",
	      f);
}

int main(int argc, char **argv)
{
	struct device dev = { .path = DEFAULT_DEVICE };
	struct rows rows = { 0 };
	const char *env = secure_getenv("EVQ_DEVICE");
	bool json = false;
	struct stat st;
	int pid = 0, i, ret;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json")) {
			json = true;
		} else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout);
			return 0;
		} else if (!pid && (pid = parse_int(argv[i], false)) > 0) {
			continue;
		} else {
			usage(stderr);
			return 2;
		}
	}

	if (env && *env)
		dev.path = env;
	if (stat(dev.path, &st) == 0 && S_ISCHR(st.st_mode)) {
		dev.have_rdev = true;
		dev.rdev = st.st_rdev;
	}

	if (pid) {
		ret = scan_pid(&dev, pid, &rows);
		if (ret) {
			fprintf(stderr, "evqstat: /proc/%d/fd: %s\n", pid,
				strerror(-ret));
			return 1;
		}
	} else if (scan_all(&dev, &rows)) {
		return 1;
	}

	if (rows.n)
		qsort(rows.v, rows.n, sizeof(rows.v[0]), cmp_row);
	if (json)
		print_json(&rows);
	else
		print_table(&rows);
	free(rows.v);
	return fflush(stdout) ? 1 : 0;
}
