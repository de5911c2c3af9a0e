// SPDX-License-Identifier: GPL-2.0
/*
 * evq_lib_hidden_test - the hidden factory behind libevq's evq_eventfd():
 * where it sits, that a fork child shares it, and what happens when the
 * program takes its number. The factory API and EVQ_DEVICE are in
 * evq_lib_test.c and evq_lib_device_test.c; the helpers the three share
 * in evq_lib_common.h.
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
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/evq.h>

#include "evq.h"
#include "evq_ksft_common.h"
#include "evq_lib_common.h"
#include "kselftest_harness.h"

#define MAX_FD		1024

/* ---- helpers ------------------------------------------------------------- */

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
		    strcmp(fd_link(fd, link, sizeof(link)), evq_device()) != 0)
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
		       evq_device());
	fd = make_counter(0, EFD_CLOEXEC);
	ASSERT_LE(0, fd) TH_LOG("first counter: %s", strerror(errno));
	EXPECT_STREQ(ANON_EVQ, fd_link(fd, link, sizeof(link)))
		TH_LOG("the first counter is not made by EVQ_IOC_CREATE");
	self->factory = find_device_fd();
	ASSERT_LE(0, self->factory)
		TH_LOG("no single hidden %s descriptor after the first counter (%d)",
		       evq_device(), self->factory);
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
		fd = open(evq_device(), O_RDWR | O_CLOEXEC);
		ASSERT_LE(0, fd) TH_LOG("open %s: %s", evq_device(),
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

/* ---- the hidden factory across fork -------------------------------------- */

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

/* While above 0, an EVQ_IOC_CREATE fails with EBADF without running. */
static atomic_int create_ebadf;

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
	if (request == EVQ_IOC_CREATE && atomic_load(&create_ebadf) > 0) {
		atomic_fetch_sub(&create_ebadf, 1);
		errno = EBADF;
		return -1;
	}
	ret = syscall(SYS_ioctl, fd, request, arg);
	if (watch && ret < 0 && errno == ENOTTY)
		atomic_fetch_add(&race_foreign_ioctls, 1);
	return (int)ret;
}

/*
 * An EVQ_IOC_CREATE that fails with EBADF went to a number that was
 * closed under the library. Whatever the number holds when the library
 * looks again (here, made up by the ioctl() above: its own factory,
 * untouched, which no race can really give back), the call is made on a
 * factory opened anew and succeeds; it never fails with EBADF.
 */
TEST(hidden_create_ebadf_is_never_passed_on)
{
	uint64_t v = 0;
	int fd;

	fd = evq_eventfd(0, EFD_CLOEXEC);
	ASSERT_LE(0, fd) TH_LOG("counter: %s", strerror(errno));
	close(fd);
	atomic_store(&create_ebadf, 1);
	fd = evq_eventfd(3, EFD_CLOEXEC | EFD_NONBLOCK);
	EXPECT_EQ(0, atomic_load(&create_ebadf))
		TH_LOG("evq_eventfd() made no EVQ_IOC_CREATE");
	ASSERT_LE(0, fd)
		TH_LOG("evq_eventfd() failed after a CREATE that got EBADF: %s",
		       strerror(errno));
	EXPECT_EQ(8, read(fd, &v, sizeof(v)));
	EXPECT_EQ(3ULL, v);
	close(fd);
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
	r.own = open(evq_device(), O_RDWR | O_CLOEXEC);
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
