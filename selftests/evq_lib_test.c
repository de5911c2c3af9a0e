// SPDX-License-Identifier: GPL-2.0
/*
 * evq_lib_test - libevq's factory API and the hidden factory behind
 * evq_eventfd().
 *
 * "factory": evq_factory_open() and evq_create(): the flags become the
 * right descriptor and file flags, the modes and the maximum reach the
 * counter, every documented error comes back.
 *
 * "hidden": evq_eventfd() keeps a /dev/evq descriptor of its own. A
 * program may close every descriptor it did not open and give the number
 * to a file of its own; the next evq_eventfd() must then make a working
 * counter without issuing an evq ioctl on that file, and leave the file as
 * it was. A seccomp filter traps any EVQ_IOC_CREATE or EVQ_IOC_SETUP on
 * the reused number, so the test sees the ioctl itself, not only its
 * consequences. Variant "closed" leaves the number free (no tripwire: the
 * library's new factory may take it): the next counter must still work.
 *
 * With EVQ_LIB_TEST_PRELOAD=1 (the dynamic build, evq_lib_test_dyn, run
 * under LD_PRELOAD=libevq-preload.so) the "hidden" cases make their
 * counters with eventfd(), which the interposer must turn into evq ones.
 * Without the module every case fails; none skips.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/evq.h>

#include "evq.h"
#include "evq_ksft_common.h"
#include "kselftest_harness.h"

#define ANON_EVQ	"anon_inode:[evq]"
#define MAX_FD		1024

/* ---- helpers ------------------------------------------------------------- */

static const char *device(void)
{
	const char *env = getenv("EVQ_DEVICE");

	return env && *env ? env : EVQ_DEVICE_PATH;
}

static bool preload_run(void)
{
	const char *env = getenv("EVQ_LIB_TEST_PRELOAD");

	return env && !strcmp(env, "1");
}

/* The /proc/self/fd link of @fd into @buf, "" if there is none. */
static const char *fd_link(int fd, char *buf, size_t size)
{
	char path[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, buf, size - 1);
	buf[n < 0 ? 0 : n] = '\0';
	return buf;
}

/*
 * The one descriptor linked to the device node: the hidden factory, when
 * the test opened none itself. -1 if there is none, -2 if several.
 */
static int find_device_fd(void)
{
	char link[256];
	int found = -1;

	for (int fd = 0; fd < MAX_FD; fd++) {
		if (strcmp(fd_link(fd, link, sizeof(link)), device()) != 0)
			continue;
		if (found >= 0)
			return -2;
		found = fd;
	}
	return found;
}

/* A counter the way the variant makes them: evq_eventfd() or eventfd(). */
static int make_counter(unsigned int initval, int flags)
{
	return preload_run() ? eventfd(initval, flags) :
			       evq_eventfd(initval, flags);
}

/* read(2) of 8 bytes: the value, or POISON with the error in *err. */
static uint64_t read_value(int fd, long *err)
{
	uint64_t v = POISON;

	*err = ret_or_errno(read(fd, &v, sizeof(v)));
	return v;
}

static int close_from_3(void)
{
	return (int)syscall(SYS_close_range, 3U, ~0U, 0U);
}

/* ---- the seccomp tripwire ------------------------------------------------ */

static volatile sig_atomic_t tripped_cmd;

static void on_sigsys(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	tripped_cmd = si->si_syscall == __NR_ioctl ? 1 : 2;
}

/*
 * From now on, an ioctl on @fd with an evq creation or setup number does
 * not run: it raises SIGSYS, which the handler records in tripped_cmd.
 */
static int trap_evq_ioctls_on(int fd)
{
	struct sock_filter code[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
			 offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_ioctl, 0, 5),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
			 offsetof(struct seccomp_data, args[0])),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned int)fd, 0, 3),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
			 offsetof(struct seccomp_data, args[1])),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, EVQ_IOC_CREATE, 2, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, EVQ_IOC_SETUP, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRAP),
	};
	struct sock_fprog prog = {
		.len = sizeof(code) / sizeof(code[0]),
		.filter = code,
	};
	struct sigaction sa = {
		.sa_sigaction = on_sigsys,
		.sa_flags = SA_SIGINFO,
	};

	tripped_cmd = 0;
	if (sigaction(SIGSYS, &sa, NULL) ||
	    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		return -1;
	return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog);
}

/* ---- hidden: the factory behind evq_eventfd() ---------------------------- */

enum foreign { FOREIGN_PIPE, FOREIGN_FILE, FOREIGN_NONE };

FIXTURE(hidden) {
	int factory;	/* the hidden factory's number, as first seen */
	int foreign;	/* the program's file now under that number */
	int pipe_w;	/* the pipe's write end (FOREIGN_PIPE) */
};

FIXTURE_VARIANT(hidden) {
	enum foreign foreign;
};

/* The number is reused for the read end of a pipe. */
FIXTURE_VARIANT_ADD(hidden, pipe) {
	.foreign = FOREIGN_PIPE,
};

/* The number is reused for a regular file (a memfd) with data in it. */
FIXTURE_VARIANT_ADD(hidden, file) {
	.foreign = FOREIGN_FILE,
};

/* The number is closed and stays free. */
FIXTURE_VARIANT_ADD(hidden, closed) {
	.foreign = FOREIGN_NONE,
};

#define FILE_DATA	"the program's own data"
#define FILE_POS	4

/*
 * Make one counter (the hidden factory opens), note the factory's number,
 * close every descriptor from 3 up as a daemon would, and put the
 * variant's file under the factory's old number.
 */
FIXTURE_SETUP(hidden)
{
	char link[256];
	int fd, fds[2];

	self->foreign = -1;
	self->pipe_w = -1;
	ASSERT_EQ(-1, find_device_fd())
		TH_LOG("a %s descriptor is open before the first counter",
		       device());
	fd = make_counter(0, EFD_CLOEXEC);
	ASSERT_LE(0, fd) TH_LOG("first counter: %s", strerror(errno));
	EXPECT_STREQ(ANON_EVQ, fd_link(fd, link, sizeof(link)))
		TH_LOG("the first counter is not made by EVQ_IOC_CREATE");
	self->factory = find_device_fd();
	ASSERT_LE(0, self->factory)
		TH_LOG("no single hidden %s descriptor after the first counter (%d)",
		       device(), self->factory);
	EXPECT_NE(0, fcntl(self->factory, F_GETFD) & FD_CLOEXEC)
		TH_LOG("the hidden factory is not close-on-exec");
	ASSERT_EQ(0, close_from_3()) TH_LOG("close_range: %s", strerror(errno));

	switch (variant->foreign) {
	case FOREIGN_PIPE:
		ASSERT_EQ(0, pipe2(fds, O_CLOEXEC));
		self->pipe_w = fds[1];
		fd = fds[0];
		break;
	case FOREIGN_FILE:
		fd = memfd_create("evq_lib_test", MFD_CLOEXEC);
		ASSERT_LE(0, fd) TH_LOG("memfd_create: %s", strerror(errno));
		ASSERT_EQ((ssize_t)strlen(FILE_DATA),
			  write(fd, FILE_DATA, strlen(FILE_DATA)));
		ASSERT_EQ(FILE_POS, lseek(fd, FILE_POS, SEEK_SET));
		break;
	default:
		fd = -1;
		break;
	}
	if (fd >= 0 && fd != self->factory) {
		ASSERT_EQ(self->factory, dup3(fd, self->factory, O_CLOEXEC));
		close(fd);
	}
	if (fd < 0)
		return;
	/*
	 * Only a reused number gets the tripwire: a free one is where the
	 * library's next factory may rightly land.
	 */
	self->foreign = self->factory;
	ASSERT_EQ(0, trap_evq_ioctls_on(self->factory))
		TH_LOG("seccomp: %s", strerror(errno));
}

FIXTURE_TEARDOWN(hidden)
{
}

/* The foreign file is as the program left it, and still usable. */
static void check_foreign(struct __test_metadata *_metadata,
			  FIXTURE_DATA(hidden) *self,
			  const FIXTURE_VARIANT(hidden) *variant)
{
	char buf[64] = "";
	struct stat st;
	int avail = -1;

	switch (variant->foreign) {
	case FOREIGN_PIPE:
		ASSERT_EQ(0, fstat(self->foreign, &st));
		EXPECT_TRUE(S_ISFIFO(st.st_mode)) TH_LOG("mode %o", st.st_mode);
		EXPECT_EQ(0, ioctl(self->foreign, FIONREAD, &avail));
		EXPECT_EQ(0, avail) TH_LOG("the pipe holds %d bytes", avail);
		ASSERT_EQ(3, write(self->pipe_w, "abc", 3));
		EXPECT_EQ(3, read(self->foreign, buf, sizeof(buf)));
		EXPECT_STREQ("abc", buf);
		break;
	case FOREIGN_FILE:
		ASSERT_EQ(0, fstat(self->foreign, &st));
		EXPECT_TRUE(S_ISREG(st.st_mode)) TH_LOG("mode %o", st.st_mode);
		EXPECT_EQ((off_t)strlen(FILE_DATA), st.st_size);
		EXPECT_EQ(FILE_POS, lseek(self->foreign, 0, SEEK_CUR))
			TH_LOG("the file offset moved");
		EXPECT_EQ((ssize_t)strlen(FILE_DATA),
			  pread(self->foreign, buf, sizeof(buf) - 1, 0));
		EXPECT_STREQ(FILE_DATA, buf);
		break;
	default:
		/* Nothing to spoil: the library may take the number again. */
		break;
	}
}

/*
 * After the program took the hidden factory's number, the next counter
 * still works, nothing touched the program's file, and the library has
 * a new factory of its own.
 */
TEST_F(hidden, reused_number_gets_no_evq_ioctl)
{
	char link[256];
	long err;
	int fd, factory;

	fd = make_counter(5, EFD_CLOEXEC | EFD_NONBLOCK);
	EXPECT_EQ(0, tripped_cmd)
		TH_LOG("an evq ioctl was issued on fd %d, the program's file",
		       self->factory);
	ASSERT_LE(0, fd) TH_LOG("counter after reuse: %s", strerror(errno));
	if (self->foreign >= 0)
		EXPECT_NE(self->factory, fd);
	EXPECT_STREQ(ANON_EVQ, fd_link(fd, link, sizeof(link)));
	EXPECT_EQ(O_RDWR | O_NONBLOCK, fcntl(fd, F_GETFL));
	EXPECT_EQ(5ULL, read_value(fd, &err)) TH_LOG("read: %s", errstr(err));
	EXPECT_EQ(-EAGAIN, (read_value(fd, &err), err));
	EXPECT_EQ(8, write_u64(fd, 2));
	EXPECT_EQ(2ULL, read_value(fd, &err)) TH_LOG("read: %s", errstr(err));
	check_foreign(_metadata, self, variant);

	/* A new hidden factory; not under the number if it was reused. */
	factory = find_device_fd();
	EXPECT_LE(0, factory) TH_LOG("no single new hidden factory (%d)",
				     factory);
	if (self->foreign >= 0)
		EXPECT_NE(self->factory, factory);
	close(fd);

	/* And it serves the next counter too. */
	fd = make_counter(0, EFD_SEMAPHORE);
	EXPECT_EQ(0, tripped_cmd);
	ASSERT_LE(0, fd) TH_LOG("third counter: %s", strerror(errno));
	EXPECT_EQ(factory, find_device_fd()) TH_LOG("the factory changed");
	EXPECT_EQ(8, write_u64(fd, 2));
	EXPECT_EQ(1ULL, read_value(fd, &err));
	EXPECT_EQ(1ULL, read_value(fd, &err));
	close(fd);
	check_foreign(_metadata, self, variant);
}

/* ---- the hidden factory across fork and with another device -------------- */

/* A child after fork shares the hidden factory and makes its own counters. */
TEST(hidden_factory_shared_after_fork)
{
	int fd, factory, status;
	pid_t pid;

	fd = make_counter(0, EFD_CLOEXEC);
	ASSERT_LE(0, fd) TH_LOG("counter: %s", strerror(errno));
	factory = find_device_fd();
	ASSERT_LE(0, factory);
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		uint64_t v = 0;
		int c = make_counter(7, 0);

		if (c < 0 || find_device_fd() != factory ||
		    read(c, &v, sizeof(v)) != sizeof(v) || v != 7)
			_exit(1);
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && !WEXITSTATUS(status))
		TH_LOG("the child could not use the shared factory: status %#x",
		       status);
	close(fd);
}

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

/* ---- factory: evq_factory_open() and evq_create() ------------------------ */

FIXTURE(factory) {
	int factory;
};

FIXTURE_SETUP(factory)
{
	self->factory = evq_factory_open(EVQ_CLOEXEC);
	ASSERT_LE(0, self->factory)
		TH_LOG("evq_factory_open: %s; is the evq module loaded?",
		       strerror(errno));
}

FIXTURE_TEARDOWN(factory)
{
	close(self->factory);
}

/* EVQ_CLOEXEC gives the factory FD_CLOEXEC, 0 does not; nothing else. */
TEST_F(factory, open_flags)
{
	char link[256];
	int fd;

	EXPECT_EQ(FD_CLOEXEC, fcntl(self->factory, F_GETFD));
	EXPECT_EQ(O_RDWR, fcntl(self->factory, F_GETFL) & O_ACCMODE);
	EXPECT_STREQ(device(), fd_link(self->factory, link, sizeof(link)));
	fd = evq_factory_open(0);
	ASSERT_LE(0, fd) TH_LOG("evq_factory_open(0): %s", strerror(errno));
	EXPECT_EQ(0, fcntl(fd, F_GETFD));
	close(fd);
	EXPECT_EQ(-EINVAL, ret_or_errno(evq_factory_open(EVQ_NONBLOCK)));
	EXPECT_EQ(-EINVAL, ret_or_errno(evq_factory_open(0x80000000U)));
	EXPECT_EQ(-EINVAL, ret_or_errno(evq_factory_open(O_CLOEXEC)));
}

/* EVQ_CLOEXEC and EVQ_NONBLOCK become FD_CLOEXEC and O_NONBLOCK. */
TEST_F(factory, create_flags_become_file_flags)
{
	static const unsigned int combos[] = {
		0, EVQ_CLOEXEC, EVQ_NONBLOCK, EVQ_CLOEXEC | EVQ_NONBLOCK,
	};
	char link[256];

	for (size_t i = 0; i < sizeof(combos) / sizeof(combos[0]); i++) {
		unsigned int f = combos[i];
		int fd = evq_create(self->factory, 0, 0, f);

		ASSERT_LE(0, fd) TH_LOG("flags %#x: %s", f, strerror(errno));
		EXPECT_EQ((f & EVQ_CLOEXEC) ? FD_CLOEXEC : 0,
			  fcntl(fd, F_GETFD)) TH_LOG("flags %#x", f);
		EXPECT_EQ(O_RDWR | ((f & EVQ_NONBLOCK) ? O_NONBLOCK : 0),
			  fcntl(fd, F_GETFL)) TH_LOG("flags %#x", f);
		EXPECT_STREQ(ANON_EVQ, fd_link(fd, link, sizeof(link)));
		close(fd);
	}
}

/* Modes, initial value and maximum reach the counter; the factory stays. */
TEST_F(factory, create_configures_counter)
{
	struct evq_info info, before;
	long err;
	int fd;

	ASSERT_EQ(0, evq_get_info(self->factory, &before));
	fd = evq_create(self->factory, 3, 5,
			EVQ_SEMAPHORE | EVQ_WAKE_ONE | EVQ_NONBLOCK);
	ASSERT_LE(0, fd) TH_LOG("evq_create: %s", strerror(errno));
	ASSERT_EQ(0, evq_get_info(fd, &info));
	EXPECT_EQ(3ULL, info.count);
	EXPECT_EQ(5ULL, info.maximum);
	EXPECT_EQ(EVQ_SEMAPHORE | EVQ_WAKE_ONE, info.flags);
	EXPECT_NE(before.id, info.id);
	EXPECT_EQ(1ULL, read_value(fd, &err)) TH_LOG("read: %s", errstr(err));
	EXPECT_EQ(-EAGAIN, write_u64(fd, 4)) TH_LOG("write above the maximum");
	EXPECT_EQ(8, write_u64(fd, 3));
	close(fd);

	fd = evq_create(self->factory, 0, 0, 0);
	ASSERT_LE(0, fd) TH_LOG("evq_create: %s", strerror(errno));
	ASSERT_EQ(0, evq_get_info(fd, &info));
	EXPECT_EQ(COUNT_MAX, info.maximum);
	EXPECT_EQ(0U, info.flags);
	close(fd);

	fd = evq_create(self->factory, 0x8000000000000001ULL, 0, EVQ_BITS);
	ASSERT_LE(0, fd) TH_LOG("evq_create EVQ_BITS: %s", strerror(errno));
	EXPECT_EQ(8, write_u64(fd, 2));
	EXPECT_EQ(0x8000000000000003ULL, read_value(fd, &err));
	close(fd);

	/* The factory is as it was, and a counter outlives it. */
	fd = evq_create(self->factory, 9, 0, 0);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, evq_get_info(self->factory, &info));
	EXPECT_EQ(before.count, info.count);
	EXPECT_EQ(before.flags, info.flags);
	EXPECT_EQ(before.id, info.id);
	close(self->factory);
	self->factory = evq_factory_open(EVQ_CLOEXEC);
	EXPECT_EQ(9ULL, read_value(fd, &err)) TH_LOG("read: %s", errstr(err));
	close(fd);
}

/* Every documented error of evq_create(). */
TEST_F(factory, create_errors)
{
	static const struct {
		uint64_t initval, maximum;
		unsigned int flags;
		const char *what;
	} bad[] = {
		{ 0, 0, 0x1000, "unknown flag 0x1000" },
		{ 0, 0, 0x80000000U, "unknown flag 0x80000000" },
		{ 0, 0, EVQ_BITS | EVQ_SEMAPHORE, "EVQ_BITS with EVQ_SEMAPHORE" },
		{ 0, 5, EVQ_BITS, "EVQ_BITS with a maximum" },
		{ 6, 5, 0, "initval above the maximum" },
		{ COUNT_MAX + 1, 0, 0, "initval above EVQ_COUNT_MAX" },
		{ 0, COUNT_MAX + 1, 0, "maximum above EVQ_COUNT_MAX" },
		{ 0, 0, EVQ_MAXIMUM, "EVQ_MAXIMUM with a maximum of 0" },
	};
	int fds[2], native;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int fd = evq_create(self->factory, bad[i].initval,
				    bad[i].maximum, bad[i].flags);

		EXPECT_EQ(-EINVAL, ret_or_errno(fd)) TH_LOG("%s", bad[i].what);
		if (fd >= 0)
			close(fd);
	}
	EXPECT_EQ(-EBADF, ret_or_errno(evq_create(-1, 0, 0, 0)));
	ASSERT_EQ(0, pipe2(fds, O_CLOEXEC));
	EXPECT_EQ(-ENOTTY, ret_or_errno(evq_create(fds[0], 0, 0, 0)))
		TH_LOG("a pipe as factory");
	close(fds[1]);
	EXPECT_EQ(-EBADF, ret_or_errno(evq_create(fds[1], 0, 0, 0)))
		TH_LOG("a closed descriptor as factory");
	close(fds[0]);
	native = eventfd(0, EFD_CLOEXEC);
	ASSERT_LE(0, native);
	if (!preload_run())
		EXPECT_EQ(-ENOTTY, ret_or_errno(evq_create(native, 0, 0, 0)))
			TH_LOG("a native eventfd as factory");
	close(native);
}

/* Any evq counter serves as a factory, one made by evq_create() too. */
TEST_F(factory, counter_is_a_factory)
{
	int a, b;
	long err;

	a = evq_create(self->factory, 1, 0, EVQ_CLOEXEC);
	ASSERT_LE(0, a);
	b = evq_create(a, 2, 0, EVQ_CLOEXEC);
	ASSERT_LE(0, b) TH_LOG("evq_create on a counter: %s", strerror(errno));
	EXPECT_EQ(2ULL, read_value(b, &err));
	EXPECT_EQ(1ULL, read_value(a, &err));
	close(a);
	close(b);
}

TEST_HARNESS_MAIN
