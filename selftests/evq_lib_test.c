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
 * consequences. Variant "device" puts the program's own /dev/evq
 * descriptor there (same device node, another counter): it must not be
 * adopted. Variant "closed" leaves the number free (no tripwire: the
 * library's new factory may take it): the next counter must still work.
 * hidden_factory_races_get_no_foreign_ioctl does the same from threads
 * while others make counters; this program's own ioctl() (which the
 * library, compiled in, calls) counts evq ioctls that reach other files.
 *
 * "bad_device": EVQ_DEVICE naming a regular file, a directory, /dev/null,
 * /dev/tty, a pty slave or a FIFO, or a symlink to one: ENODEV from every
 * call, the target unchanged. at_secure_ignores_evq_device: a
 * set-user-ID-root copy of this program, run as nobody, ignores it.
 *
 * fast_wake_failed_*: a fast-path wake-up that fails (closed or reused
 * descriptor) must leave the sleeper for the next signaller to wake.
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
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/auxv.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <grp.h>
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
 * The one descriptor linked to the device node, but @except: the hidden
 * factory, when the test opened none itself (or only @except). -1 if there
 * is none, -2 if several.
 */
static int find_device_fd_but(int except)
{
	char link[256];
	int found = -1;

	for (int fd = 0; fd < MAX_FD; fd++) {
		if (fd == except ||
		    strcmp(fd_link(fd, link, sizeof(link)), device()) != 0)
			continue;
		if (found >= 0)
			return -2;
		found = fd;
	}
	return found;
}

static int find_device_fd(void)
{
	return find_device_fd_but(-1);
}

/* A counter made through the hidden factory. */
static int make_counter(unsigned int initval, int flags)
{
	return evq_eventfd(initval, flags);
}

/* read(2) of 8 bytes: the value, or POISON with the error in *err. */
static uint64_t read_value(int fd, long *err)
{
	uint64_t v = POISON;

	*err = ret_or_errno(read(fd, &v, sizeof(v)));
	return v;
}

/* The counter id of the evq file @fd (EVQ_IOC_GET_INFO), 0 on error. */
static uint32_t info_id(int fd)
{
	struct evq_info info = { 0 };

	return ioctl(fd, EVQ_IOC_GET_INFO, &info) ? 0 : info.id;
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

enum foreign { FOREIGN_PIPE, FOREIGN_FILE, FOREIGN_EVQ, FOREIGN_NONE };

FIXTURE(hidden) {
	int factory;	/* the hidden factory's number, as first seen */
	int foreign;	/* the program's file now under that number */
	int pipe_w;	/* the pipe's write end (FOREIGN_PIPE) */
	uint32_t id;	/* the program's counter's id (FOREIGN_EVQ) */
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

/*
 * The number is reused for the program's own /dev/evq descriptor (dup2):
 * the same device node as the hidden factory, another counter. Adopting
 * it would hand the program's file to the library.
 */
FIXTURE_VARIANT_ADD(hidden, device) {
	.foreign = FOREIGN_EVQ,
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
	case FOREIGN_EVQ:
		fd = open(device(), O_RDWR | O_CLOEXEC);
		ASSERT_LE(0, fd) TH_LOG("open %s: %s", device(),
					strerror(errno));
		self->id = info_id(fd);
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
	case FOREIGN_EVQ:
		ASSERT_EQ(0, fstat(self->foreign, &st));
		EXPECT_TRUE(S_ISCHR(st.st_mode)) TH_LOG("mode %o", st.st_mode);
		EXPECT_EQ(self->id, info_id(self->foreign))
			TH_LOG("the program's counter is not under its number");
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
	factory = find_device_fd_but(self->foreign);
	EXPECT_LE(0, factory) TH_LOG("no single new hidden factory (%d)",
				     factory);
	if (self->foreign >= 0)
		EXPECT_NE(self->factory, factory);
	close(fd);

	/* And it serves the next counter too. */
	fd = make_counter(0, EFD_SEMAPHORE);
	EXPECT_EQ(0, tripped_cmd);
	ASSERT_LE(0, fd) TH_LOG("third counter: %s", strerror(errno));
	EXPECT_EQ(factory, find_device_fd_but(self->foreign))
		TH_LOG("the factory changed");
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

/* ---- the fast path: a wake-up that fails ---------------------------------- */

/*
 * A fast counter with a reader blocked in read(2) in another process; a
 * signaller whose descriptor no longer works (@reuse: its number now
 * names a pipe; else closed) signals 1, and its wake-up fails. Then a
 * signaller with a working descriptor signals 1: the reader must wake
 * and read 2.
 */
static void failed_wake_then_good_signal(struct __test_metadata *_metadata,
					 bool reuse)
{
	struct evq_fast bad, good;
	struct evq_info info;
	int factory, fd, dfd, status, ret, err, fds[2] = { -1, -1 };
	int64_t deadline;
	pid_t pid, done = 0;

	factory = evq_factory_open(EVQ_CLOEXEC);
	ASSERT_LE(0, factory) TH_LOG("evq_factory_open: %s", strerror(errno));
	fd = evq_create(factory, 0, 0, EVQ_FAST | EVQ_CLOEXEC);
	ASSERT_LE(0, fd) TH_LOG("EVQ_FAST counter: %s", strerror(errno));
	close(factory);
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		uint64_t v = 0;

		_exit(read(fd, &v, 8) == 8 ? (int)(v & 0x7f) : 100);
	}
	ASSERT_TRUE(evq_wait_blocked(fd, 1, 0))
		TH_LOG("the reader did not block in read(2)");

	dfd = dup(fd);
	ASSERT_LE(0, dfd);
	ASSERT_EQ(0, evq_fast_map(dfd, &bad));
	ASSERT_EQ(0, close(dfd));
	if (reuse) {
		ASSERT_EQ(0, pipe2(fds, O_CLOEXEC));
		if (fds[0] != dfd) {
			ASSERT_EQ(dfd, dup3(fds[0], dfd, O_CLOEXEC));
			close(fds[0]);
			fds[0] = dfd;
		}
	}
	errno = 0;
	ret = evq_fast_signal(&bad, 1);
	err = errno;
	EXPECT_EQ(-1, ret) TH_LOG("a signal with a %s descriptor: %d, %s",
				  reuse ? "reused" : "closed", ret,
				  strerror(err));
	EXPECT_EQ(reuse ? ENOTTY : EBADF, err) TH_LOG("%s", strerror(err));
	ASSERT_EQ(0, evq_info_of(fd, &info));
	EXPECT_EQ(1ULL, info.count) TH_LOG("the signal was not added");
	EXPECT_NE(0U, bad.page->armed & EVQ_ARMED_IN)
		TH_LOG("the failed wake-up left the sleeper unannounced");

	good = bad;
	good.fd = fd;
	EXPECT_EQ(1, evq_fast_signal(&good, 1))
		TH_LOG("a signal with a working descriptor made no wake-up");
	for (deadline = now_ms() + WAIT_MS; !done && now_ms() < deadline;)
		if (!(done = waitpid(pid, &status, WNOHANG)))
			usleep(1000);
	if (!done) {
		ASSERT_EQ(0, evq_info_of(fd, &info));
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		EXPECT_TRUE(false) TH_LOG("the reader still sleeps after %d ms with count %llu",
					  WAIT_MS,
					  (unsigned long long)info.count);
	} else {
		EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 2)
			TH_LOG("the reader: status %#x (read 2 expected)",
			       status);
	}
	evq_fast_unmap(&bad);
	if (fds[0] >= 0)
		close(fds[0]);
	if (fds[1] >= 0)
		close(fds[1]);
	close(fd);
}

/* The signaller closed its descriptor, which the mapping outlives. */
TEST(fast_wake_failed_on_closed_fd_next_signal_wakes)
{
	failed_wake_then_good_signal(_metadata, false);
}

/* The signaller's descriptor number now names a pipe. */
TEST(fast_wake_failed_on_reused_fd_next_signal_wakes)
{
	failed_wake_then_good_signal(_metadata, true);
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
			EXPECT_STREQ(device(), fd_link(evq, link, sizeof(link)))
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

/* ---- the hidden factory: where it sits, and races on its number ---------- */

/* The hidden factory sits high, out of reach of open(2)'s lowest number. */
TEST(hidden_factory_sits_at_a_high_number)
{
	struct rlimit rl;
	rlim_t min = 512;
	int fd, factory;

	ASSERT_EQ(0, getrlimit(RLIMIT_NOFILE, &rl));
	if (rl.rlim_cur <= min)
		min = rl.rlim_cur / 2;
	fd = make_counter(0, EFD_CLOEXEC);
	ASSERT_LE(0, fd) TH_LOG("counter: %s", strerror(errno));
	factory = find_device_fd();
	ASSERT_LE(0, factory);
	EXPECT_LE((int)min, factory)
		TH_LOG("the hidden factory is at %d, open(2)'s next number is %d",
		       factory, next_fd());
	EXPECT_NE(0, fcntl(factory, F_GETFD) & FD_CLOEXEC);
	close(fd);
}

/*
 * Every evq ioctl this program makes (the library's included) comes
 * through here while race_hook_on is set; one that reaches a file that is
 * not a character device, or that fails with ENOTTY (what every file but
 * an evq one answers), is counted.
 */
static atomic_bool race_hook_on;
static atomic_long race_foreign_ioctls;

int ioctl(int fd, unsigned long request, ...)
{
	bool watch = atomic_load(&race_hook_on) &&
		     _IOC_TYPE(request) == EVQ_IOC_MAGIC;
	struct stat st;
	va_list ap;
	void *arg;
	long ret;

	va_start(ap, request);
	arg = va_arg(ap, void *);
	va_end(ap);
	if (watch && !fstat(fd, &st) && !S_ISCHR(st.st_mode))
		atomic_fetch_add(&race_foreign_ioctls, 1);
	ret = syscall(SYS_ioctl, fd, request, arg);
	if (watch && ret < 0 && errno == ENOTTY)
		atomic_fetch_add(&race_foreign_ioctls, 1);
	return (int)ret;
}

/*
 * Each creator makes RACE_COUNTERS counters, or as many as it can in
 * RACE_SECS on a slow kernel (KASAN makes each one far dearer), so that
 * the case ends well inside the harness's timeout: the verdict is on what
 * was made, never on how long it took.
 */
#define RACE_COUNTERS	20000
#define RACE_SECS	10

struct race {
	atomic_bool stop;
	int factory;		/* the hidden factory's number at the start */
	int own;		/* the program's own /dev/evq descriptor */
	struct timespec end;	/* CLOCK_MONOTONIC: creators stop making */
	atomic_long tried, made, failed, wrong;
};

static bool race_time_left(const struct race *r)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec < r->end.tv_sec ||
	       (now.tv_sec == r->end.tv_sec && now.tv_nsec < r->end.tv_nsec);
}

/* Put the program's own /dev/evq file on the factory's number, close it. */
static void *race_dup2(void *arg)
{
	struct race *r = arg;

	while (!atomic_load(&r->stop)) {
		for (int n = r->factory; n < r->factory + 2; n++) {
			dup3(r->own, n, O_CLOEXEC);
			sched_yield();
			close(n);
		}
	}
	return NULL;
}

/*
 * Close the factory's number, then open files as a careless program
 * does: at the lowest free number.
 */
static void *race_reuse(void *arg)
{
	struct race *r = arg;

	while (!atomic_load(&r->stop)) {
		int m;

		close(r->factory);
		m = memfd_create("evq_lib_test race", MFD_CLOEXEC);
		if (m >= 0) {
			(void)!write(m, "x", 1);
			sched_yield();
			close(m);
		}
	}
	return NULL;
}

static void *race_create(void *arg)
{
	struct race *r = arg;

	for (int i = 0; i < RACE_COUNTERS && race_time_left(r); i++) {
		uint64_t v = 0;
		int fd = evq_eventfd(1, EFD_CLOEXEC | EFD_NONBLOCK);

		atomic_fetch_add(&r->tried, 1);
		if (fd < 0) {
			atomic_fetch_add(&r->failed, 1);
			continue;
		}
		atomic_fetch_add(&r->made, 1);
		if (read(fd, &v, 8) != 8 || v != 1)
			atomic_fetch_add(&r->wrong, 1);
		close(fd);
	}
	return NULL;
}

/*
 * Threads that keep closing the hidden factory's number, putting the
 * program's own /dev/evq file on it with dup2(2) and opening files at the
 * lowest free number, while two threads make counters: every counter is
 * made and works, and no evq ioctl reaches a file that is not evq's.
 */
TEST(hidden_factory_races_get_no_foreign_ioctl)
{
	struct race r = { .own = -1 };
	pthread_t creators[2], dup2er, reuser;
	int fd;

	fd = evq_eventfd(0, EFD_CLOEXEC);
	ASSERT_LE(0, fd) TH_LOG("counter: %s", strerror(errno));
	close(fd);
	r.factory = find_device_fd();
	ASSERT_LE(0, r.factory);
	r.own = open(device(), O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, r.own);
	clock_gettime(CLOCK_MONOTONIC, &r.end);
	r.end.tv_sec += RACE_SECS;
	atomic_store(&race_hook_on, true);
	ASSERT_EQ(0, pthread_create(&dup2er, NULL, race_dup2, &r));
	ASSERT_EQ(0, pthread_create(&reuser, NULL, race_reuse, &r));
	for (int i = 0; i < 2; i++)
		ASSERT_EQ(0, pthread_create(&creators[i], NULL, race_create,
					    &r));
	for (int i = 0; i < 2; i++)
		pthread_join(creators[i], NULL);
	atomic_store(&r.stop, true);
	pthread_join(dup2er, NULL);
	pthread_join(reuser, NULL);
	atomic_store(&race_hook_on, false);
	EXPECT_EQ(0, atomic_load(&race_foreign_ioctls))
		TH_LOG("%ld evq ioctls reached a file that is not evq's",
		       atomic_load(&race_foreign_ioctls));
	EXPECT_LT(0, atomic_load(&r.tried)) TH_LOG("no counter was made");
	EXPECT_EQ(atomic_load(&r.tried), atomic_load(&r.made))
		TH_LOG("%ld of %ld evq_eventfd() calls failed",
		       atomic_load(&r.failed), atomic_load(&r.tried));
	EXPECT_EQ(0, atomic_load(&r.wrong))
		TH_LOG("%ld counters did not read back their initial 1",
		       atomic_load(&r.wrong));
	close(r.own);
}

TEST_HARNESS_MAIN
