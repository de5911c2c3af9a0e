// SPDX-License-Identifier: GPL-2.0
/*
 * evq_preload_test - the LD_PRELOAD interposer's eventfd() where only
 * async-signal-safe code may run: in the child of a multi-threaded
 * program's fork, and in a signal handler.
 *
 * The program is linked dynamically (the interposer only reaches dynamic
 * programs). Each case runs this program again as a helper
 * (`evq_preload_test --helper MODE`) with LD_PRELOAD set to
 * libevq-preload.so (next to this program, or $EVQ_PRELOAD) and glibc's
 * allocator made to lock on every call: one arena for all threads
 * (glibc.malloc.arena_max=1) and no per-thread cache
 * (glibc.malloc.tcache_count=0). In the helper, threads loop on malloc and
 * free, so that the arena's lock is held most of the time:
 *
 *  - fork: the main thread forks with _Fork() (no atfork handlers, so the
 *    child may inherit the lock held by a thread that no longer exists),
 *    FORK_CHILDREN times; each child calls eventfd() and syscall()
 *    (SYS_eventfd2, and SYS_getppid through glibc's syscall()) and must
 *    exit within CHILD_DEADLINE_S. An allocation, or dlsym(), on that path
 *    hangs the child on the inherited lock.
 *  - signal: SIGUSR1 interrupts one of the looping threads, whose handler
 *    calls eventfd() and must return within CHILD_DEADLINE_S, in
 *    SIGNAL_RUNS fresh helper processes (the first creation is the one
 *    that used to allocate). An allocation there deadlocks on the lock its
 *    own thread holds.
 *
 * The helper's parent never makes a counter itself, so every eventfd() is
 * its process's first. Each counter must be an evq counter
 * (EVQ_IOC_GET_INFO succeeds on it). The deadlines decide only "completed
 * at all"; no timing is measured.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/evq.h>

#include "evq_ksft_common.h"
#include "kselftest_harness.h"

#define HELPER			"--helper"
#define CHURN_THREADS		3
#define FORK_CHILDREN		200
#define SIGNAL_RUNS		40
#define CHILD_DEADLINE_S	20
/* The whole helper, over and above its children's deadlines. */
#define HELPER_DEADLINE_S	(CHILD_DEADLINE_S + 120)

/* ---- the helper, under LD_PRELOAD ---------------------------------------- */

static atomic_bool churn_stop;

/* Keep the allocator's lock busy: sizes past the (disabled) tcache's. */
static void *churn_fn(void *arg)
{
	unsigned int i = (unsigned int)(uintptr_t)arg;

	while (!atomic_load_explicit(&churn_stop, memory_order_relaxed)) {
		size_t size = 64 + (i++ * 997) % 8000;
		volatile char *p = malloc(size);

		if (p) {
			p[0] = 1;
			p[size - 1] = 1;
		}
		free((void *)p);
	}
	return NULL;
}

static int start_churn(pthread_t *th, int n)
{
	int i;

	for (i = 0; i < n; i++)
		if (pthread_create(&th[i], NULL, churn_fn,
				   (void *)(uintptr_t)(i * 31)))
			return -1;
	return 0;
}

/* Is @fd an evq counter? Async-signal-safe. */
static bool is_evq(int fd)
{
	struct evq_info info;

	return fd >= 0 && ioctl(fd, EVQ_IOC_GET_INFO, &info) == 0;
}

/*
 * The forked child: async-signal-safe calls only. Exit 0, or what failed:
 * 10 + errno of eventfd(), 40 if it is no evq counter, 50 + errno of
 * syscall(SYS_eventfd2), 80 if that is none, 90 if getppid lied.
 */
static void fork_child(pid_t parent)
{
	int fd = eventfd(0, EFD_CLOEXEC);

	if (fd < 0)
		_exit(10 + (errno & 31));
	if (!is_evq(fd))
		_exit(40);
	fd = (int)syscall(SYS_eventfd2, 3, EFD_CLOEXEC | EFD_SEMAPHORE);
	if (fd < 0)
		_exit(50 + (errno & 31));
	if (!is_evq(fd))
		_exit(80);
	if (syscall(SYS_getppid) != parent)
		_exit(90);
	_exit(0);
}

/* Wait for @pid up to CHILD_DEADLINE_S; its status, or -1 if it hung. */
static int wait_deadline(pid_t pid)
{
	int64_t end = now_ms() + CHILD_DEADLINE_S * 1000LL;
	int status;

	while (now_ms() < end) {
		pid_t got = waitpid(pid, &status, WNOHANG);

		if (got == pid)
			return status;
		if (got < 0)
			return -2;
		sleep_us(500);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	return -1;
}

static int helper_fork(void)
{
	pthread_t th[CHURN_THREADS];
	pid_t self = getpid();
	int i, status;

	if (start_churn(th, CHURN_THREADS)) {
		printf("pthread_create failed\n");
		return 1;
	}
	for (i = 0; i < FORK_CHILDREN; i++) {
		pid_t pid = _Fork();

		if (pid == 0)
			fork_child(self);
		if (pid < 0) {
			printf("_Fork: %s\n", strerror(errno));
			return 1;
		}
		status = wait_deadline(pid);
		if (status == -1) {
			printf("child %d of %d: still inside eventfd() or syscall() after %d s: hung\n",
			       i + 1, FORK_CHILDREN, CHILD_DEADLINE_S);
			return 1;
		}
		if (status < 0 || !WIFEXITED(status) || WEXITSTATUS(status)) {
			printf("child %d of %d: status %#x (exit 10+errno: eventfd failed, 40: not evq, 50+errno/80: the same for syscall, 90: getppid)\n",
			       i + 1, FORK_CHILDREN, status);
			return 1;
		}
	}
	printf("%d children made their counters\n", FORK_CHILDREN);
	return 0;
}

static atomic_int sig_fd = -1;
static atomic_int sig_errno;
static atomic_bool sig_done;

static void sig_eventfd(int sig)
{
	int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);

	(void)sig;
	atomic_store(&sig_errno, fd < 0 ? errno : 0);
	atomic_store(&sig_fd, fd);
	atomic_store(&sig_done, true);
}

static int helper_signal(void)
{
	struct sigaction sa = { .sa_handler = sig_eventfd };
	pthread_t th[CHURN_THREADS];
	int64_t end;
	int fd;

	if (sigaction(SIGUSR1, &sa, NULL) || start_churn(th, CHURN_THREADS)) {
		printf("sigaction or pthread_create failed\n");
		return 1;
	}
	sleep_us(2000 + (getpid() % 8) * 500);
	if (pthread_kill(th[0], SIGUSR1)) {
		printf("pthread_kill failed\n");
		return 1;
	}
	end = now_ms() + CHILD_DEADLINE_S * 1000LL;
	while (!atomic_load(&sig_done) && now_ms() < end)
		sleep_us(1000);
	if (!atomic_load(&sig_done)) {
		printf("the signal handler is still inside eventfd() after %d s: hung\n",
		       CHILD_DEADLINE_S);
		/* The looping threads would keep exit() from returning. */
		fflush(stdout);
		_exit(1);
	}
	fd = atomic_load(&sig_fd);
	if (!is_evq(fd)) {
		printf("eventfd() in the handler gave %d (%s), not an evq counter\n",
		       fd, strerror(atomic_load(&sig_errno)));
		fflush(stdout);
		_exit(1);
	}
	fflush(stdout);
	_exit(0);
}

/* Open descriptors of this process. */
static int count_fds(void)
{
	char path[64];
	int fd, n = 0;

	for (fd = 0; fd < 1024; fd++) {
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		n += access(path, F_OK) == 0;
	}
	return n;
}

/*
 * One eventfd(): "counter, N more descriptors" if it gave an evq counter,
 * "not evq, ..." if it gave something else, "error ENAME" if it failed.
 */
static int helper_eventfd(void)
{
	int before = count_fds();
	int fd = eventfd(0, EFD_CLOEXEC);
	const char *name;

	if (fd < 0) {
		name = strerrorname_np(errno);
		printf("error %s\n", name ? name : "?");
		return 0;
	}
	printf("%s, %d more descriptors\n", is_evq(fd) ? "counter" : "not evq",
	       count_fds() - before);
	/* A file handed back as a counter gets a counter's first write. */
	if (!is_evq(fd) && eventfd_write(fd, 1))
		printf("write: %s\n", strerror(errno));
	return 0;
}

static int helper_main(const char *mode)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	if (!strcmp(mode, "fork"))
		return helper_fork();
	if (!strcmp(mode, "signal"))
		return helper_signal();
	if (!strcmp(mode, "eventfd"))
		return helper_eventfd();
	printf("unknown helper mode %s\n", mode);
	return 2;
}

/* ---- the tests ----------------------------------------------------------- */

/*
 * Run the helper in @mode under the interposer, its output into @out.
 * Returns its exit status, -1 if it did not exit normally, -2 if it had
 * to be killed at HELPER_DEADLINE_S.
 */
static int run_helper_env(const char *mode, const char *device, char *out,
			  size_t size)
{
	char self[4096], preload[4096 + 32], ld[4096 + 64];
	char *const argv[] = { self, HELPER, (char *)mode, NULL };
	int64_t end = now_ms() + HELPER_DEADLINE_S * 1000LL;
	size_t len = 0;
	int p[2], status = -1;
	bool hung = true;
	ssize_t n;
	pid_t pid;

	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n < 0 || pipe2(p, O_CLOEXEC))
		return -1;
	self[n] = '\0';
	sibling_path("EVQ_PRELOAD", "libevq-preload.so", preload,
		     sizeof(preload));
	snprintf(ld, sizeof(ld), "LD_PRELOAD=%s", preload);
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		dup2(p[1], STDOUT_FILENO);
		dup2(p[1], STDERR_FILENO);
		putenv(ld);
		if (device)
			setenv("EVQ_DEVICE", device, 1);
		setenv("GLIBC_TUNABLES",
		       "glibc.malloc.arena_max=1:glibc.malloc.tcache_count=0", 1);
		execv(self, argv);
		_exit(127);
	}
	close(p[1]);
	fcntl(p[0], F_SETFL, O_NONBLOCK);
	while (now_ms() < end) {
		struct pollfd pfd = { .fd = p[0], .events = POLLIN };

		poll(&pfd, 1, 100);
		n = read(p[0], out + len, size - 1 - len);
		if (n > 0)
			len += n;
		if (waitpid(pid, &status, WNOHANG) == pid) {
			hung = false;
			break;
		}
	}
	if (hung) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	while ((n = read(p[0], out + len, size - 1 - len)) > 0)
		len += n;
	out[len] = '\0';
	close(p[0]);
	if (hung)
		return -2;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

FIXTURE(preload) {
	char out[16384];
};

FIXTURE_SETUP(preload)
{
	self->out[0] = '\0';
}

FIXTURE_TEARDOWN(preload)
{
}

static int run_helper(const char *mode, char *out, size_t size)
{
	return run_helper_env(mode, NULL, out, size);
}

TEST_F_TIMEOUT(preload, eventfd_in_fork_child_of_threaded_parent_completes,
	       HELPER_DEADLINE_S + 30)
{
	int st = run_helper("fork", self->out, sizeof(self->out));

	EXPECT_EQ(0, st) TH_LOG("helper (fork) status %d (-2: killed at %d s), said:\n%s",
				st, HELPER_DEADLINE_S, self->out);
}

TEST_F_TIMEOUT(preload, eventfd_in_signal_handler_completes,
	       HELPER_DEADLINE_S + 30)
{
	int i, st;

	for (i = 0; i < SIGNAL_RUNS; i++) {
		st = run_helper("signal", self->out, sizeof(self->out));
		ASSERT_EQ(0, st) TH_LOG("run %d of %d: helper (signal) status %d (-2: killed at %d s), said:\n%s",
					i + 1, SIGNAL_RUNS, st,
					HELPER_DEADLINE_S, self->out);
	}
}

/* The interposer makes an evq counter and keeps no descriptor for it. */
TEST_F(preload, eventfd_makes_counter_and_keeps_no_descriptor)
{
	int st = run_helper("eventfd", self->out, sizeof(self->out));

	EXPECT_EQ(0, st);
	EXPECT_STREQ("counter, 1 more descriptors\n", self->out);
}

/* EVQ_DEVICE naming a missing node: ENOENT. */
TEST_F(preload, missing_device_is_enoent)
{
	int st = run_helper_env("eventfd", "/dev/evq-not-there", self->out,
				sizeof(self->out));

	EXPECT_EQ(0, st);
	EXPECT_STREQ("error ENOENT\n", self->out);
}

/*
 * EVQ_DEVICE naming what is no evq device (a regular file, /dev/null):
 * ENODEV, and the file is as it was.
 */
TEST_F(preload, non_evq_device_is_enodev_and_untouched)
{
	char path[] = "/tmp/evq_preload_test.XXXXXX";
	char data[64] = "";
	int fd, st;

	fd = mkstemp(path);
	ASSERT_LE(0, fd);
	ASSERT_EQ(8, write(fd, "12345678", 8));
	st = run_helper_env("eventfd", path, self->out, sizeof(self->out));
	EXPECT_EQ(0, st);
	EXPECT_STREQ("error ENODEV\n", self->out) TH_LOG("EVQ_DEVICE=%s", path);
	EXPECT_EQ(8, pread(fd, data, sizeof(data) - 1, 0));
	EXPECT_STREQ("12345678", data);
	close(fd);
	unlink(path);
	st = run_helper_env("eventfd", "/dev/null", self->out,
			    sizeof(self->out));
	EXPECT_EQ(0, st);
	EXPECT_STREQ("error ENODEV\n", self->out) TH_LOG("EVQ_DEVICE=/dev/null");
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], HELPER))
		return helper_main(argv[2]);
	return test_harness_run(argc, argv);
}
