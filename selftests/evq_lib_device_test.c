// SPDX-License-Identifier: GPL-2.0
/*
 * evq_lib_device_test - which device libevq opens, and how it makes a
 * counter on a module that cannot: EVQ_DEVICE naming a missing node or
 * something that is not an evq device, a set-user-ID run that must ignore
 * it, and the fallback for a module without EVQ_IOC_CREATE. The factory
 * API and the hidden factory are in evq_lib_test.c and
 * evq_lib_hidden_test.c; the helpers the three share in evq_lib_common.h.
 *
 * missing_device_is_enoent: EVQ_DEVICE naming a node that does not exist
 * gives ENOENT, even with a hidden factory open on the real one.
 *
 * "bad_device": EVQ_DEVICE naming a regular file, a directory, /dev/null,
 * /dev/tty, a pty slave or a FIFO, or a symlink to one: ENODEV from every
 * call, the target unchanged. at_secure_ignores_evq_device: a
 * set-user-ID-root copy of this program, run as nobody, ignores it.
 *
 * fallback_without_create_behaves_as_eventfd: with EVQ_IOC_CREATE refused
 * (seccomp, ENOTTY), evq_eventfd() opens and sets up, for every EFD_* flag.
 *
 * Without the module every case fails; none skips.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/auxv.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <grp.h>
#include <unistd.h>

#include <linux/evq.h>

#include "evq.h"
#include "evq_ksft_common.h"
#include "evq_lib_common.h"
#include "kselftest_harness.h"

/* ---- EVQ_DEVICE naming a missing node ------------------------------------ */

/*
 * EVQ_DEVICE naming a missing node: ENOENT from evq_eventfd(), even with
 * a hidden factory open for the real one, and from evq_factory_open().
 */
TEST(missing_device_is_enoent)
{
	int fd = make_counter(0, 0);

	ASSERT_LE(0, fd) TH_LOG("counter: %s", strerror(errno));
	close(fd);
	ASSERT_EQ(0, setenv("EVQ_DEVICE", "/dev/evq-not-there", 1));
	EXPECT_EQ(-ENOENT, ret_or_errno(make_counter(0, 0)));
	EXPECT_EQ(-ENOENT, ret_or_errno(evq_factory_open(EVQ_CLOEXEC)));
}

/* ---- EVQ_DEVICE naming something that is not an evq device -------------- */

enum bad_kind { BAD_FILE, BAD_DIR, BAD_NULL, BAD_TTY, BAD_PTY, BAD_FIFO };

#define BAD_DATA	"0123456789abcdef the file's own bytes"

FIXTURE(bad_device) {
	char dir[64];		/* the test's temporary directory */
	char target[128];	/* what EVQ_DEVICE names, or the link's target */
	char link[128];		/* the symbolic link, for the link variants */
	int keep;		/* FIFO: a read end; terminals: the master */
};

FIXTURE_VARIANT(bad_device) {
	enum bad_kind kind;
	bool symlink;		/* EVQ_DEVICE is a symbolic link to it */
};

FIXTURE_VARIANT_ADD(bad_device, regular_file) { .kind = BAD_FILE };
FIXTURE_VARIANT_ADD(bad_device, directory) { .kind = BAD_DIR };
FIXTURE_VARIANT_ADD(bad_device, dev_null) { .kind = BAD_NULL };
/* /dev/tty, the test's controlling terminal (a pty it sets up). */
FIXTURE_VARIANT_ADD(bad_device, dev_tty) { .kind = BAD_TTY };
/* A pty slave, while the test has no controlling terminal: O_NOCTTY. */
FIXTURE_VARIANT_ADD(bad_device, pty_slave) { .kind = BAD_PTY };
FIXTURE_VARIANT_ADD(bad_device, fifo) { .kind = BAD_FIFO };
FIXTURE_VARIANT_ADD(bad_device, link_to_regular_file) {
	.kind = BAD_FILE, .symlink = true };
FIXTURE_VARIANT_ADD(bad_device, link_to_directory) {
	.kind = BAD_DIR, .symlink = true };
FIXTURE_VARIANT_ADD(bad_device, link_to_dev_null) {
	.kind = BAD_NULL, .symlink = true };
FIXTURE_VARIANT_ADD(bad_device, link_to_dev_tty) {
	.kind = BAD_TTY, .symlink = true };
FIXTURE_VARIANT_ADD(bad_device, link_to_pty_slave) {
	.kind = BAD_PTY, .symlink = true };
FIXTURE_VARIANT_ADD(bad_device, link_to_fifo) {
	.kind = BAD_FIFO, .symlink = true };

/*
 * A new session without a controlling terminal and a pty master in
 * self->keep; its slave's path in self->target. Then, for /dev/tty, the
 * slave opened without O_NOCTTY, which makes it the controlling terminal.
 * false (the reason logged) if the VM cannot do it.
 */
static bool make_terminal(struct __test_metadata *_metadata,
			  FIXTURE_DATA(bad_device) *self, bool ctty,
			  char *why, size_t size)
{
	const char *slave;
	int fd;

	(void)_metadata;
	/* Closing the master at the end hangs the terminal up. */
	signal(SIGHUP, SIG_IGN);
	if (setsid() < 0) {
		snprintf(why, size, "setsid: %s", strerror(errno));
		return false;
	}
	self->keep = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (self->keep < 0 || grantpt(self->keep) || unlockpt(self->keep) ||
	    !(slave = ptsname(self->keep))) {
		snprintf(why, size, "no pty (/dev/ptmx, devpts): %s",
			 strerror(errno));
		return false;
	}
	snprintf(self->target, sizeof(self->target), "%s", slave);
	if (!ctty)
		return true;
	fd = open(slave, O_RDWR | O_CLOEXEC);	/* becomes the ctty */
	if (fd < 0 || open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC) < 0) {
		snprintf(why, size, "no controlling terminal from %s: %s",
			 slave, strerror(errno));
		return false;
	}
	snprintf(self->target, sizeof(self->target), "/dev/tty");
	return true;
}

FIXTURE_SETUP(bad_device)
{
	char why[160] = "";
	int fd;

	self->keep = -1;
	snprintf(self->dir, sizeof(self->dir), "/tmp/evq_lib_test.XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->dir)) TH_LOG("mkdtemp: %s",
						     strerror(errno));
	switch (variant->kind) {
	case BAD_FILE:
		snprintf(self->target, sizeof(self->target), "%s/file",
			 self->dir);
		fd = open(self->target, O_WRONLY | O_CREAT | O_CLOEXEC, 0666);
		ASSERT_LE(0, fd);
		ASSERT_EQ((ssize_t)strlen(BAD_DATA),
			  write(fd, BAD_DATA, strlen(BAD_DATA)));
		close(fd);
		break;
	case BAD_DIR:
		snprintf(self->target, sizeof(self->target), "%s/dir",
			 self->dir);
		ASSERT_EQ(0, mkdir(self->target, 0777));
		break;
	case BAD_NULL:
		snprintf(self->target, sizeof(self->target), "/dev/null");
		break;
	case BAD_TTY:
	case BAD_PTY:
		if (!make_terminal(_metadata, self, variant->kind == BAD_TTY,
				   why, sizeof(why)))
			SKIP(return, "%s", why);
		break;
	case BAD_FIFO:
		snprintf(self->target, sizeof(self->target), "%s/fifo",
			 self->dir);
		ASSERT_EQ(0, mkfifo(self->target, 0666));
		/* A reader, so that a write would not fail with EPIPE. */
		self->keep = open(self->target,
				  O_RDONLY | O_NONBLOCK | O_CLOEXEC);
		ASSERT_LE(0, self->keep);
		break;
	}
	if (variant->symlink) {
		snprintf(self->link, sizeof(self->link), "%s/link", self->dir);
		ASSERT_EQ(0, symlink(self->target, self->link));
	}
}

FIXTURE_TEARDOWN(bad_device)
{
	char path[192];

	if (self->keep >= 0)
		close(self->keep);
	snprintf(path, sizeof(path), "%s/link", self->dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/file", self->dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/fifo", self->dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/dir", self->dir);
	rmdir(path);
	rmdir(self->dir);
}

/*
 * Every library call that reads EVQ_DEVICE fails with ENODEV. One that
 * returns a descriptor anyway gets what a program would do with a
 * counter, a write of 8 bytes, so that the target's check shows it.
 */
static void calls_fail_enodev(struct __test_metadata *_metadata,
			      const char *when)
{
	/* evq_eventfd()'s flags, or -1 and -2 for evq_factory_open(). */
	static const struct {
		int arg;
		const char *what;
	} calls[] = {
		{ 0, "evq_eventfd(0, 0)" },
		{ EFD_NONBLOCK | EFD_CLOEXEC,
		  "evq_eventfd(5, EFD_NONBLOCK | EFD_CLOEXEC)" },
		{ EFD_SEMAPHORE, "evq_eventfd(5, EFD_SEMAPHORE)" },
		{ -1, "evq_factory_open(0)" },
		{ -2, "evq_factory_open(EVQ_CLOEXEC)" },
	};

	for (size_t i = 0; i < sizeof(calls) / sizeof(calls[0]); i++) {
		int arg = calls[i].arg;
		int fd;

		if (arg == -1)
			fd = evq_factory_open(0);
		else if (arg == -2)
			fd = evq_factory_open(EVQ_CLOEXEC);
		else
			fd = evq_eventfd(i ? 5 : 0, arg);
		EXPECT_EQ(-ENODEV, ret_or_errno(fd))
			TH_LOG("%s %s: %s", calls[i].what, when,
			       fd >= 0 ? "a descriptor" : strerror(errno));
		if (fd >= 0) {
			(void)!write(fd, &(uint64_t){ 1 }, 8);
			close(fd);
		}
	}
}

/* The target is as the fixture made it. */
static void target_unchanged(struct __test_metadata *_metadata,
			     FIXTURE_DATA(bad_device) *self,
			     const FIXTURE_VARIANT(bad_device) *variant)
{
	char buf[128] = "";
	struct stat st;
	int fd, n = -1;

	ASSERT_EQ(0, stat(self->target, &st))
		TH_LOG("%s: %s", self->target, strerror(errno));
	switch (variant->kind) {
	case BAD_FILE:
		EXPECT_EQ((off_t)strlen(BAD_DATA), st.st_size);
		fd = open(self->target, O_RDONLY | O_CLOEXEC);
		ASSERT_LE(0, fd);
		EXPECT_EQ((ssize_t)strlen(BAD_DATA),
			  read(fd, buf, sizeof(buf) - 1));
		close(fd);
		EXPECT_STREQ(BAD_DATA, buf) TH_LOG("the file was written");
		break;
	case BAD_DIR:
		EXPECT_TRUE(S_ISDIR(st.st_mode));
		EXPECT_EQ(2, (int)st.st_nlink);
		break;
	case BAD_NULL:
		EXPECT_TRUE(S_ISCHR(st.st_mode));
		break;
	case BAD_TTY:
	case BAD_PTY:
		/* Nothing was written to the terminal. */
		usleep(SETTLE_MS * 1000);
		EXPECT_EQ(0, ioctl(self->keep, FIONREAD, &n));
		EXPECT_EQ(0, n) TH_LOG("%d bytes reached the terminal", n);
		if (variant->kind == BAD_PTY) {
			fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
			EXPECT_EQ(-ENXIO, ret_or_errno(fd))
				TH_LOG("the pty became the controlling terminal");
			if (fd >= 0)
				close(fd);
		}
		break;
	case BAD_FIFO:
		EXPECT_TRUE(S_ISFIFO(st.st_mode));
		EXPECT_EQ(0, ioctl(self->keep, FIONREAD, &n));
		EXPECT_EQ(0, n) TH_LOG("%d bytes reached the FIFO", n);
		break;
	}
}

/*
 * EVQ_DEVICE naming a file that is not an evq device: every call fails
 * with ENODEV, before the library made a hidden factory and after, and
 * the file is as it was: nothing is written to it, no FIFO is waited on,
 * no terminal becomes the controlling one.
 */
TEST_F(bad_device, every_call_is_enodev_target_unchanged)
{
	const char *dev = variant->symlink ? self->link : self->target;
	int fd;

	ASSERT_EQ(0, setenv("EVQ_DEVICE", dev, 1));
	calls_fail_enodev(_metadata, "before any counter");
	target_unchanged(_metadata, self, variant);

	/* With a hidden factory open on the real device. */
	ASSERT_EQ(0, unsetenv("EVQ_DEVICE"));
	fd = evq_eventfd(0, EFD_CLOEXEC);
	ASSERT_LE(0, fd) TH_LOG("evq_eventfd on %s: %s", EVQ_DEVICE_PATH,
				strerror(errno));
	close(fd);
	ASSERT_EQ(0, setenv("EVQ_DEVICE", dev, 1));
	calls_fail_enodev(_metadata, "after a counter from /dev/evq");
	target_unchanged(_metadata, self, variant);
}

/* ---- a set-user-ID run ignores EVQ_DEVICE (AT_SECURE) -------------------- */

#define SECURE_CHILD_ENV	"EVQ_LIB_TEST_SECURE_CHILD"
#define SECURE_OK		0
#define SECURE_NOT_SECURE	40
#define SECURE_FAILED		41
#define SECURE_NOT_EVQ		42

/*
 * The set-user-ID copy of this program, started by
 * at_secure_ignores_evq_device with EVQ_DEVICE naming a regular file:
 * with AT_SECURE set, evq_eventfd() must make a counter on /dev/evq and
 * one write must land in that counter. Runs before the harness's main.
 */
__attribute__((constructor)) static void secure_child(void)
{
	char link[256];
	uint64_t v = 0;
	int fd;

	if (!getenv(SECURE_CHILD_ENV))
		return;
	if (getauxval(AT_SECURE) != 1)
		_exit(SECURE_NOT_SECURE);
	fd = evq_eventfd(0, 0);
	if (fd < 0) {
		fprintf(stderr, "secure child: evq_eventfd: %s\n",
			strerror(errno));
		_exit(SECURE_FAILED);
	}
	if (strcmp(fd_link(fd, link, sizeof(link)), ANON_EVQ) != 0 ||
	    write(fd, &(uint64_t){ 3 }, 8) != 8 ||
	    read(fd, &v, 8) != 8 || v != 3) {
		fprintf(stderr, "secure child: got %s, read %llu\n", link,
			(unsigned long long)v);
		_exit(SECURE_NOT_EVQ);
	}
	_exit(SECURE_OK);
}

/* Copy the file @from to @to with mode @mode; 0 or -1. */
static int copy_file(const char *from, const char *to, mode_t mode)
{
	char buf[65536];
	ssize_t n = 0;
	int in, out;

	in = open(from, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return -1;
	out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0700);
	if (out < 0) {
		close(in);
		return -1;
	}
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, n) != n) {
			n = -1;
			break;
		}
	close(in);
	if (close(out) || n < 0 || chmod(to, mode))
		return -1;
	return 0;
}

/*
 * A set-user-ID-root copy of this program, run by an unprivileged user
 * (AT_SECURE), ignores EVQ_DEVICE: with it naming a regular file, the
 * copy still gets a counter from /dev/evq, and the file is unchanged.
 */
TEST(at_secure_ignores_evq_device)
{
	char dir[] = "/tmp/evq_lib_test.XXXXXX", exe[64], file[64];
	char buf[128] = "";
	int fd, status;
	pid_t pid;

	if (geteuid() != 0)
		SKIP(return, "needs root to make a set-user-ID-root copy");
	ASSERT_NE(NULL, mkdtemp(dir));
	ASSERT_EQ(0, chmod(dir, 0755));
	snprintf(exe, sizeof(exe), "%s/suid", dir);
	snprintf(file, sizeof(file), "%s/file", dir);
	fd = open(file, O_WRONLY | O_CREAT | O_CLOEXEC, 0666);
	ASSERT_LE(0, fd);
	ASSERT_EQ((ssize_t)strlen(BAD_DATA),
		  write(fd, BAD_DATA, strlen(BAD_DATA)));
	close(fd);
	ASSERT_EQ(0, copy_file("/proc/self/exe", exe, 04755))
		TH_LOG("copying /proc/self/exe: %s", strerror(errno));

	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		char *argv[] = { exe, NULL };

		if (setgroups(0, NULL) || setgid(65534) || setuid(65534) ||
		    setenv("EVQ_DEVICE", file, 1) ||
		    setenv(SECURE_CHILD_ENV, "1", 1))
			_exit(50);
		execv(exe, argv);
		_exit(51);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	unlink(exe);
	fd = open(file, O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, fd);
	EXPECT_EQ((ssize_t)strlen(BAD_DATA), read(fd, buf, sizeof(buf) - 1));
	close(fd);
	unlink(file);
	rmdir(dir);
	EXPECT_STREQ(BAD_DATA, buf) TH_LOG("the file named by EVQ_DEVICE changed");
	ASSERT_TRUE(WIFEXITED(status)) TH_LOG("status %#x", status);
	if (WEXITSTATUS(status) == SECURE_NOT_SECURE)
		SKIP(return, "the set-user-ID copy ran without AT_SECURE (a nosuid /tmp?)");
	EXPECT_NE(50, WEXITSTATUS(status)) TH_LOG("could not drop to uid 65534");
	EXPECT_NE(51, WEXITSTATUS(status)) TH_LOG("could not exec %s", exe);
	EXPECT_EQ(SECURE_OK, WEXITSTATUS(status))
		TH_LOG("the AT_SECURE run followed EVQ_DEVICE (exit %d)",
		       WEXITSTATUS(status));
}


/* ---- the fallback for a module without EVQ_IOC_CREATE -------------------- */

/*
 * From now on EVQ_IOC_CREATE fails with ENOTTY, as on a module that
 * predates it: a seccomp filter, so the real module serves everything else.
 */
static int refuse_evq_create(void)
{
	struct sock_filter code[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
			 offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_ioctl, 0, 3),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
			 offsetof(struct seccomp_data, args[1])),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, EVQ_IOC_CREATE, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOTTY),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = {
		.len = sizeof(code) / sizeof(code[0]),
		.filter = code,
	};

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		return -1;
	return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog);
}

/* One step on both counters: the same result, or a logged difference. */
static void same_read(struct __test_metadata *_metadata, int evq, int native,
		      bool nonblock, const char *what)
{
	uint64_t ve, vn;
	long re, rn;

	/* A blocking read at 0 would wait: only when there is a count. */
	if (!nonblock && !(poll_now(native) & POLLIN))
		return;
	rn = read_u64(native, &vn);
	re = read_u64(evq, &ve);
	EXPECT_EQ(rn, re) TH_LOG("%s: read: eventfd %s, evq %s", what,
				 errstr(rn), errstr(re));
	EXPECT_EQ(vn, ve) TH_LOG("%s: read: eventfd %llu, evq %llu", what,
				 (unsigned long long)vn,
				 (unsigned long long)ve);
}

static void same_write(struct __test_metadata *_metadata, int evq,
		       int native, uint64_t v, const char *what)
{
	long rn = write_u64(native, v), re = write_u64(evq, v);

	EXPECT_EQ(rn, re) TH_LOG("%s: write %llu: eventfd %s, evq %s", what,
				 (unsigned long long)v, errstr(rn),
				 errstr(re));
}

/*
 * With a module that has no EVQ_IOC_CREATE, evq_eventfd() opens the device
 * and sets the counter up with EVQ_IOC_SETUP: every EFD_* flag, every
 * combination, initial values 0, 3 and 0xffffffff, each compared with
 * eventfd(2) made with the same arguments.
 */
TEST(fallback_without_create_behaves_as_eventfd)
{
	static const unsigned int initvals[] = { 0, 3, 0xffffffffU };
	char link[256], what[96];
	struct evq_info info;

	ASSERT_EQ(0, refuse_evq_create()) TH_LOG("seccomp: %s",
						 strerror(errno));
	for (int flags = 0; flags < 8; flags++) {
		int efd = ((flags & 1) ? EFD_SEMAPHORE : 0) |
			  ((flags & 2) ? EFD_CLOEXEC : 0) |
			  ((flags & 4) ? EFD_NONBLOCK : 0);
		bool nonblock = efd & EFD_NONBLOCK;

		for (size_t i = 0; i < 3; i++) {
			int evq, native;

			snprintf(what, sizeof(what), "initval %u, flags%s%s%s",
				 initvals[i],
				 (efd & EFD_SEMAPHORE) ? " EFD_SEMAPHORE" : "",
				 (efd & EFD_CLOEXEC) ? " EFD_CLOEXEC" : "",
				 (efd & EFD_NONBLOCK) ? " EFD_NONBLOCK" : "");
			evq = evq_eventfd(initvals[i], efd);
			ASSERT_LE(0, evq) TH_LOG("%s: %s", what,
						 strerror(errno));
			native = eventfd(initvals[i], efd);
			ASSERT_LE(0, native);
			EXPECT_STREQ(evq_device(), fd_link(evq, link, sizeof(link)))
				TH_LOG("%s: not made by open(2)", what);
			EXPECT_EQ(fcntl(native, F_GETFD), fcntl(evq, F_GETFD))
				TH_LOG("%s: F_GETFD", what);
			EXPECT_EQ(fcntl(native, F_GETFL), fcntl(evq, F_GETFL))
				TH_LOG("%s: F_GETFL", what);
			ASSERT_EQ(0, evq_info_of(evq, &info));
			EXPECT_EQ((uint64_t)initvals[i], info.count)
				TH_LOG("%s: count", what);
			EXPECT_EQ((efd & EFD_SEMAPHORE) ? EVQ_SEMAPHORE : 0U,
				  info.flags) TH_LOG("%s: mode", what);
			same_read(_metadata, evq, native, nonblock, what);
			same_read(_metadata, evq, native, nonblock, what);
			same_write(_metadata, evq, native, 2, what);
			same_read(_metadata, evq, native, nonblock, what);
			same_read(_metadata, evq, native, nonblock, what);
			same_read(_metadata, evq, native, nonblock, what);
			if (nonblock) {
				/* Full: a write that does not fit. */
				same_write(_metadata, evq, native, 1, what);
				same_write(_metadata, evq, native,
					   COUNT_MAX, what);
				same_read(_metadata, evq, native, true, what);
			}
			EXPECT_EQ(poll_now(native), poll_now(evq))
				TH_LOG("%s: poll", what);
			close(evq);
			close(native);
		}
	}
}


TEST_HARNESS_MAIN
