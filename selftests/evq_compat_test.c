// SPDX-License-Identifier: GPL-2.0
/*
 * evq_compat_test - evq from a 32-bit process on a 64-bit kernel.
 *
 * Runs evq_compat32, a static i386 program from the same directory
 * (built by the i686 cross compiler), whose ioctls take evq's
 * compat_ioctl: every request, the structures' 32-bit layout, and
 * EVQ_IOC_WAKE's value argument, which must reach evq unchanged (the
 * kernel's compat_ptr_ioctl() would pass it through compat_ptr(), which
 * on s390 clears bit 31; on x86 it is the identity, so there only a
 * missing or broken compat_ioctl shows). Skips when the program was not
 * built or the kernel runs no 32-bit programs (no IA32 emulation).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"

/* Exit statuses of the child when execv() itself fails. */
#define EXEC_ENOEXEC	126
#define EXEC_OTHER	127

TEST(ioctls_from_a_32bit_process)
{
	char self[512], prog[600];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	int status;
	pid_t pid;

	ASSERT_LT(0, n) TH_LOG("readlink /proc/self/exe: %s", strerror(errno));
	self[n] = '\0';
	snprintf(prog, sizeof(prog), "%s/evq_compat32", dirname(self));
	if (access(prog, X_OK))
		SKIP(return, "evq_compat32: %s (built only with i686-linux-gnu-gcc)",
		     strerror(errno));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		char *argv[] = { prog, NULL };

		execv(prog, argv);
		_exit(errno == ENOEXEC ? EXEC_ENOEXEC : EXEC_OTHER);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status)) TH_LOG("evq_compat32 died: status %#x",
					      status);
	if (WEXITSTATUS(status) == EXEC_ENOEXEC)
		SKIP(return, "the kernel runs no 32-bit programs (IA32 emulation off)");
	ASSERT_NE(EXEC_OTHER, WEXITSTATUS(status)) TH_LOG("execv %s failed", prog);
	EXPECT_EQ(0, WEXITSTATUS(status))
		TH_LOG("evq_compat32 failed (its messages are above)");
}

TEST_HARNESS_MAIN
