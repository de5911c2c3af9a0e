// SPDX-License-Identifier: GPL-2.0
/*
 * evq_fdinfo_test - what a /dev/evq counter looks like as a file, next to
 * native eventfd(2): /proc/self/fdinfo, fcntl flags, lseek and pread,
 * ioctl, the creation flags, and which file backs each variant's counters.
 *
 * The fixture "counter", its variants "native" and "evq", and the helpers
 * are in evq_counter.h. This file also holds fixture "evq_ioctl", for what
 * only evq has: the EVQ_IOC_SETUP ioctl. Its single variant is called "evq"
 * as well, so that `-v evq` runs every evq case.
 */
#include "evq_counter.h"

/*
 * O_LARGEFILE as the kernel defines it. glibc defines O_LARGEFILE as 0 on
 * 64-bit targets, so it cannot be used to look for the bit in F_GETFL. On
 * other architectures only the exact F_GETFL comparison is made.
 */
#if defined(__x86_64__) || defined(__i386__)
#define KERNEL_O_LARGEFILE	0100000
#endif

/* ---- fcntl, lseek, pread/pwrite, ioctl ----------------------------------- */

static const int flag_sets[] = {
	0, EFD_NONBLOCK, EFD_CLOEXEC, EFD_NONBLOCK | EFD_CLOEXEC,
	EFD_SEMAPHORE | EFD_NONBLOCK | EFD_CLOEXEC,
};

#define N_FLAG_SETS ARRAY_SIZE(flag_sets)

TEST_F(counter, getfl_is_rdwr_plus_nonblock)
{
	size_t i;

	for (i = 0; i < N_FLAG_SETS; i++) {
		int fd = NEW_COUNTER(0, flag_sets[i]);
		int want = O_RDWR |
			   ((flag_sets[i] & EFD_NONBLOCK) ? O_NONBLOCK : 0);
		int got = fcntl(fd, F_GETFL);

		EXPECT_EQ(want, got)
			TH_LOG("created with %#x: F_GETFL 0%o, want 0%o",
			       (unsigned int)flag_sets[i], (unsigned int)got,
			       (unsigned int)want);
#ifdef KERNEL_O_LARGEFILE
		EXPECT_EQ(0, got & KERNEL_O_LARGEFILE)
			TH_LOG("O_LARGEFILE (0%o) in F_GETFL 0%o",
			       KERNEL_O_LARGEFILE, (unsigned int)got);
#endif
		drop_counter(self, fd);
	}
}

TEST_F(counter, getfd_cloexec_per_flag)
{
	size_t i;

	for (i = 0; i < N_FLAG_SETS; i++) {
		int fd = NEW_COUNTER(0, flag_sets[i]);
		int want = (flag_sets[i] & EFD_CLOEXEC) ? FD_CLOEXEC : 0;

		EXPECT_EQ(want, fcntl(fd, F_GETFD))
			TH_LOG("created with %#x", (unsigned int)flag_sets[i]);
		drop_counter(self, fd);
	}
}

TEST_F(counter, setfl_nonblock_toggles_read)
{
	int fd = NEW_COUNTER(0, EFD_NONBLOCK);
	struct blocked *b;
	uint64_t v;
	long ret;

	/* blocking -> non-blocking */
	ASSERT_EQ(0, fcntl(self->fd, F_SETFL, O_NONBLOCK));
	EXPECT_EQ(O_RDWR | O_NONBLOCK, fcntl(self->fd, F_GETFL));
	ret = read_u64(self->fd, &v);
	EXPECT_EQ(-EAGAIN, ret) TH_LOG("read: %s", errstr(ret));

	/* and back */
	ASSERT_EQ(0, fcntl(self->fd, F_SETFL, 0));
	EXPECT_EQ(O_RDWR, fcntl(self->fd, F_GETFL));
	b = start_blocked(_metadata, self->fd, OP_READ, 0);
	EXPECT_TRUE(still_blocked(b))
		TH_LOG("read after clearing O_NONBLOCK returned %ld (%s)",
		       b->ret, errstr(b->ret));
	ASSERT_EQ(8, write_u64(self->fd, 9));
	ASSERT_TRUE(finish_blocked(b));
	EXPECT_EQ(9ULL, b->value);

	/* created non-blocking -> blocking */
	ASSERT_EQ(0, fcntl(fd, F_SETFL, 0));
	EXPECT_EQ(O_RDWR, fcntl(fd, F_GETFL));
	b = start_blocked(_metadata, fd, OP_READ, 0);
	EXPECT_TRUE(still_blocked(b))
		TH_LOG("read after clearing O_NONBLOCK returned %ld (%s)",
		       b->ret, errstr(b->ret));
	ASSERT_EQ(8, write_u64(fd, 11));
	ASSERT_TRUE(finish_blocked(b));
	EXPECT_EQ(11ULL, b->value);
}

TEST_F(counter, lseek_returns_zero)
{
	uint64_t v;

	EXPECT_EQ(0, ret_or_errno(lseek(self->fd, 0, SEEK_SET)));
	EXPECT_EQ(0, ret_or_errno(lseek(self->fd, 123, SEEK_CUR)));
	EXPECT_EQ(0, ret_or_errno(lseek(self->fd, 5, SEEK_END)));
	ASSERT_EQ(8, write_u64(self->fd, 1));
	ASSERT_EQ(8, read_u64(self->fd, &v));
	EXPECT_EQ(0, ret_or_errno(lseek(self->fd, 0, SEEK_CUR)))
		TH_LOG("a read or write moved the file position");
}

TEST_F(counter, pread_pwrite_espipe)
{
	uint64_t v = 1;
	long ret;

	ret = ret_or_errno(pwrite(self->fd, &v, sizeof(v), 0));
	EXPECT_EQ(-ESPIPE, ret) TH_LOG("pwrite: %s", errstr(ret));
	ASSERT_EQ(8, write_u64(self->fd, 2));
	ret = ret_or_errno(pread(self->fd, &v, sizeof(v), 0));
	EXPECT_EQ(-ESPIPE, ret) TH_LOG("pread: %s", errstr(ret));
	EXPECT_EQ(2ULL, take_count(_metadata, self->fd));
}

TEST_F(counter, unknown_ioctl_enotty)
{
	int n = -1;
	long ret;

	ASSERT_EQ(8, write_u64(self->fd, 3));
	ret = ret_or_errno(ioctl(self->fd, FIONREAD, &n));
	EXPECT_EQ(-ENOTTY, ret) TH_LOG("FIONREAD: %s, n = %d", errstr(ret),
				       n);
	ret = ret_or_errno(ioctl(self->fd, _IO(EVQ_IOC_MAGIC, 0x3f)));
	EXPECT_EQ(-ENOTTY, ret) TH_LOG("_IO(0xE7, 0x3f): %s", errstr(ret));
	EXPECT_EQ(3ULL, take_count(_metadata, self->fd));
}

/* ---- creation, every flag ------------------------------------------------ */

/*
 * All eight combinations of EFD_SEMAPHORE, EFD_CLOEXEC and EFD_NONBLOCK:
 * F_GETFL, F_GETFD and what reads return from an initial count of 2.
 */
TEST_F(counter, create_every_flag_combination)
{
	static const int bits[] = { EFD_SEMAPHORE, EFD_CLOEXEC, EFD_NONBLOCK };
	uint64_t v;
	int combo;
	long ret;

	for (combo = 0; combo < 8; combo++) {
		int flags = 0, fd, i;
		bool sem, nb;

		for (i = 0; i < 3; i++)
			if (combo & (1 << i))
				flags |= bits[i];
		sem = flags & EFD_SEMAPHORE;
		nb = flags & EFD_NONBLOCK;
		fd = NEW_COUNTER(2, flags);
		EXPECT_EQ(O_RDWR | (nb ? O_NONBLOCK : 0), fcntl(fd, F_GETFL))
			TH_LOG("flags %#x", (unsigned int)flags);
		EXPECT_EQ((flags & EFD_CLOEXEC) ? FD_CLOEXEC : 0,
			  fcntl(fd, F_GETFD))
			TH_LOG("flags %#x", (unsigned int)flags);
		ret = read_u64(fd, &v);
		EXPECT_EQ(8, ret) TH_LOG("flags %#x: %s", (unsigned int)flags,
					 errstr(ret));
		EXPECT_EQ(sem ? 1ULL : 2ULL, v)
			TH_LOG("flags %#x", (unsigned int)flags);
		EXPECT_EQ(sem ? POLLIN | POLLOUT : POLLOUT, poll_mask(fd))
			TH_LOG("flags %#x: after one read", (unsigned int)flags);
		if (nb) {
			if (sem) {
				ASSERT_EQ(8, read_u64(fd, &v));
				EXPECT_EQ(1ULL, v);
			}
			ret = read_u64(fd, &v);
			EXPECT_EQ(-EAGAIN, ret)
				TH_LOG("flags %#x: read at 0: %s",
				       (unsigned int)flags, errstr(ret));
		}
		drop_counter(self, fd);
	}
}

/* Every bit other than the three flags is EINVAL, alone or with them. */
TEST_F(counter, create_every_unknown_bit_einval)
{
	const int known = EFD_SEMAPHORE | EFD_CLOEXEC | EFD_NONBLOCK;
	unsigned int bit;
	long ret;
	int fd;

	for (bit = 0; bit < 32; bit++) {
		int flag = (int)(1U << bit);

		if (flag & known)
			continue;
		fd = create_counter(variant->kind, 1, flag);
		ret = ret_or_errno(fd);
		EXPECT_EQ(-EINVAL, ret) TH_LOG("flags %#x: %s",
					       (unsigned int)flag, errstr(ret));
		if (fd >= 0)
			close(fd);
		fd = create_counter(variant->kind, 1, flag | known);
		ret = ret_or_errno(fd);
		EXPECT_EQ(-EINVAL, ret) TH_LOG("flags %#x: %s",
					       (unsigned int)(flag | known),
					       errstr(ret));
		if (fd >= 0)
			close(fd);
	}
}

TEST_F(counter, create_unknown_flags_einval)
{
	static const int bad[] = { 2, O_APPEND, 0x40000000 };
	size_t i;
	int fd;

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		fd = create_counter(variant->kind, 0, bad[i]);
		EXPECT_EQ(-EINVAL, ret_or_errno(fd))
			TH_LOG("flags %#x", (unsigned int)bad[i]);
		if (fd >= 0)
			close(fd);
	}
}
/* ---- fdinfo -------------------------------------------------------------- */

TEST_F(counter, fdinfo_count_id_flags_lines)
{
	static const uint64_t counts[] = { 0, 0x1234, COUNT_MAX };
	int fd = NEW_COUNTER(0, EFD_NONBLOCK | EFD_CLOEXEC);
	int other = NEW_COUNTER(0, 0);
	char info[4096], tap[8192], line[256], want[256];
	long count_at, id_at;
	int id, other_id, end;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(counts); i++) {
		if (counts[i]) {
			ASSERT_EQ(8, write_u64(fd, counts[i]));
		}
		ASSERT_LT(0, read_fdinfo(fd, info, sizeof(info)));

		count_at = fdinfo_line(info, "eventfd-count:", line,
				       sizeof(line));
		snprintf(want, sizeof(want), "eventfd-count: %16llx",
			 (unsigned long long)counts[i]);
		EXPECT_STREQ(want, line)
			TH_LOG("fdinfo:\n# %s",
			       tap_lines(info, tap, sizeof(tap)));

		EXPECT_LE(0, fdinfo_line(info, "pos:", line, sizeof(line)));
		EXPECT_STREQ("pos:\t0", line);
		EXPECT_LE(0, fdinfo_line(info, "flags:", line, sizeof(line)));
		snprintf(want, sizeof(want), "flags:\t0%o",
			 (unsigned int)(O_RDWR | O_NONBLOCK | O_CLOEXEC));
		EXPECT_STREQ(want, line);

		id_at = fdinfo_line(info, "eventfd-id:", line, sizeof(line));
		EXPECT_LT(count_at, id_at)
			TH_LOG("eventfd-id must follow eventfd-count:\n# %s",
			       tap_lines(info, tap, sizeof(tap)));
		end = 0;
		id = -1;
		EXPECT_EQ(1, sscanf(line, "eventfd-id: %d%n", &id, &end))
			TH_LOG("'%s'", line);
		EXPECT_EQ(strlen(line), (size_t)end) TH_LOG("'%s'", line);
		EXPECT_LE(0, id);
		snprintf(want, sizeof(want), "eventfd-id: %d", id);
		EXPECT_STREQ(want, line);

		if (counts[i]) {
			EXPECT_EQ(counts[i], take_count(_metadata, fd));
		}
	}

	ASSERT_LT(0, read_fdinfo(other, info, sizeof(info)));
	fdinfo_line(info, "eventfd-id:", line, sizeof(line));
	other_id = -1;
	EXPECT_EQ(1, sscanf(line, "eventfd-id: %d", &other_id));
	EXPECT_NE(id, other_id) TH_LOG("two counters share eventfd-id %d", id);
}

/* Mainline and evq show it; native before 6.5 does not. */
TEST_F(counter, fdinfo_semaphore_line)
{
	enum legacy old = variant_legacy(self, DIFF_FDINFO_NO_SEMAPHORE);
	int fds[2] = {
		NEW_COUNTER(0, 0),
		NEW_COUNTER(0, EFD_SEMAPHORE),
	};
	char info[4096], tap[8192], line[256], want[64];
	long id_at, sem_at;
	int i;

	for (i = 0; i < 2; i++) {
		ASSERT_LT(0, read_fdinfo(fds[i], info, sizeof(info)));
		id_at = fdinfo_line(info, "eventfd-id:", line, sizeof(line));
		sem_at = fdinfo_line(info, "eventfd-semaphore:", line,
				     sizeof(line));
		if (old == LEGACY_YES) {
			EXPECT_EQ(-1, sem_at)
				TH_LOG("native eventfd before 6.5 has no eventfd-semaphore line:\n# %s",
				       tap_lines(info, tap, sizeof(tap)));
			continue;
		}
		if (old == LEGACY_EITHER && sem_at < 0)
			continue;
		snprintf(want, sizeof(want), "eventfd-semaphore: %d", i);
		EXPECT_STREQ(want, line)
			TH_LOG("fdinfo:\n# %s",
			       tap_lines(info, tap, sizeof(tap)));
		EXPECT_LT(id_at, sem_at)
			TH_LOG("eventfd-semaphore must follow eventfd-id:\n# %s",
			       tap_lines(info, tap, sizeof(tap)));
	}
}

/*
 * What the counters of each variant really are. evq: /dev/evq files (or
 * native ones with EVQ_TEST_EVQ_IS_NATIVE=1). native: the kernel's eventfd,
 * unless EVQ_TEST_EXPECT_PRELOAD=1 says the interposer in preload/ is
 * loaded, which must then turn eventfd(), syscall(SYS_eventfd2) and
 * syscall(SYS_eventfd) into /dev/evq files. A static binary cannot be
 * interposed, so this case fails if the variable is set for one.
 */
TEST_F(counter, backing_file_matches_variant)
{
	const char *env = getenv("EVQ_TEST_EXPECT_PRELOAD");
	bool preload = env && !strcmp(env, "1");
	bool want = variant->is_evq ? !evq_is_native() : preload;
	char link[256];
	int fd;

	EXPECT_EQ(want, self->evq_backed)
		TH_LOG("counter is %s", fd_link(self->fd, link, sizeof(link)));
	if (variant->kind == KIND_FACTORY && want)
		EXPECT_STREQ("anon_inode:[evq]",
			     fd_link(self->fd, link, sizeof(link)));
	if (variant->kind == KIND_OPEN && want)
		EXPECT_STREQ(evq_device(), fd_link(self->fd, link, sizeof(link)));
	if (variant->is_evq)
		return;
	fd = (int)syscall(SYS_eventfd2, 3, EFD_NONBLOCK);
	ASSERT_LE(0, fd) TH_LOG("SYS_eventfd2: %s", strerror(errno));
	EXPECT_EQ(want, fd_is_evq(fd))
		TH_LOG("SYS_eventfd2 gave %s", fd_link(fd, link, sizeof(link)));
	EXPECT_EQ(O_RDWR | O_NONBLOCK, fcntl(fd, F_GETFL));
	EXPECT_EQ(3ULL, take_count(_metadata, fd));
	close(fd);
#ifdef SYS_eventfd
	fd = (int)syscall(SYS_eventfd, 4);
	ASSERT_LE(0, fd) TH_LOG("SYS_eventfd: %s", strerror(errno));
	EXPECT_EQ(want, fd_is_evq(fd))
		TH_LOG("SYS_eventfd gave %s", fd_link(fd, link, sizeof(link)));
	EXPECT_EQ(O_RDWR, fcntl(fd, F_GETFL));
	EXPECT_EQ(4ULL, take_count(_metadata, fd));
	close(fd);
#endif
	fd = (int)syscall(SYS_eventfd2, 0, 2);
	EXPECT_EQ(-EINVAL, ret_or_errno(fd)) TH_LOG("SYS_eventfd2 flags 2");
	if (fd >= 0)
		close(fd);
}

/* ---- EVQ_IOC_SETUP: evq only --------------------------------------------- */

static long evq_setup(int fd, uint64_t initval, uint32_t flags, uint32_t pad)
{
	struct evq_setup setup = {
		.initval = initval,
		.flags = flags,
		.pad = pad,
	};

	return ret_or_errno(ioctl(fd, EVQ_IOC_SETUP, &setup));
}

FIXTURE(evq_ioctl) {
	int fd;		/* fresh /dev/evq counter, O_NONBLOCK, not set up */
};

FIXTURE_VARIANT(evq_ioctl) {
	const char *device;	/* EVQ_DEVICE overrides it, as in libevq */
};

FIXTURE_VARIANT_ADD(evq_ioctl, evq) {
	.device = EVQ_DEVICE_PATH,
};

/* Open a fresh, non-blocking counter; ASSERTs that it worked. */
static int open_evq(struct __test_metadata *_metadata,
		    const FIXTURE_VARIANT(evq_ioctl) *variant)
{
	const char *env = getenv("EVQ_DEVICE");
	const char *path = env && *env ? env : variant->device;
	int fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	int err = errno;

	ASSERT_LE(0, fd) TH_LOG("open(%s): %s; is the evq module loaded?",
				path, strerror(err));
	return fd;
}

FIXTURE_SETUP(evq_ioctl)
{
	self->fd = -1;
	if (evq_is_native())
		SKIP(return,
		     "EVQ_TEST_EVQ_IS_NATIVE=1: EVQ_IOC_SETUP exists only on /dev/evq");
	self->fd = open_evq(_metadata, variant);
}

FIXTURE_TEARDOWN(evq_ioctl)
{
	if (self->fd >= 0)
		close(self->fd);
}

/* The counter was not consumed: a valid setup still works and sticks. */
static void expect_fresh(struct __test_metadata *_metadata, int fd)
{
	uint64_t v;
	long ret;

	ret = evq_setup(fd, 5, 0, 0);
	EXPECT_EQ(0, ret) TH_LOG("valid setup after a failed one: %s",
				 errstr(ret));
	ret = read_u64(fd, &v);
	EXPECT_EQ(8, ret) TH_LOG("read: %s", errstr(ret));
	EXPECT_EQ(5ULL, v);
}

TEST_F(evq_ioctl, setup_unknown_flags_einval)
{
	static const uint32_t bad[] = { 0x10, 0x100, 0x80000000,
					 EVQ_SEMAPHORE | EVQ_BITS };
	size_t i;
	long ret;

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		ret = evq_setup(self->fd, 1, bad[i], 0);
		EXPECT_EQ(-EINVAL, ret) TH_LOG("flags %#x: %s", bad[i],
					       errstr(ret));
	}
	expect_fresh(_metadata, self->fd);
}

TEST_F(evq_ioctl, setup_nonzero_pad_einval)
{
	static const uint32_t bad[] = { 1, 0x80000000 };
	size_t i;
	long ret;

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		ret = evq_setup(self->fd, 1, 0, bad[i]);
		EXPECT_EQ(-EINVAL, ret) TH_LOG("pad %#x: %s", bad[i],
					       errstr(ret));
	}
	expect_fresh(_metadata, self->fd);
}

TEST_F(evq_ioctl, setup_initval_over_max_einval)
{
	long ret;

	ret = evq_setup(self->fd, EVQ_COUNT_MAX + 1, 0, 0);
	EXPECT_EQ(-EINVAL, ret) TH_LOG("initval ULLONG_MAX: %s", errstr(ret));
	expect_fresh(_metadata, self->fd);
}

TEST_F(evq_ioctl, setup_bad_pointer_efault)
{
	long page = sysconf(_SC_PAGESIZE);
	unsigned char *map;
	long ret;

	ret = ret_or_errno(ioctl(self->fd, EVQ_IOC_SETUP, NULL));
	EXPECT_EQ(-EFAULT, ret) TH_LOG("NULL: %s", errstr(ret));

	/* Two pages, the second unmapped: the struct straddles the hole. */
	map = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, map);
	ASSERT_EQ(0, munmap(map + page, page));
	memset(map, 0, page);
	ret = ret_or_errno(ioctl(self->fd, EVQ_IOC_SETUP, map + page - 8));
	EXPECT_EQ(-EFAULT, ret) TH_LOG("half-mapped struct: %s", errstr(ret));
	ret = ret_or_errno(ioctl(self->fd, EVQ_IOC_SETUP, map + page));
	EXPECT_EQ(-EFAULT, ret) TH_LOG("unmapped struct: %s", errstr(ret));
	munmap(map, page);

	expect_fresh(_metadata, self->fd);
}

TEST_F(evq_ioctl, setup_twice_ebusy)
{
	uint64_t v;
	long ret;

	ret = evq_setup(self->fd, 0, 0, 0);
	ASSERT_EQ(0, ret) TH_LOG("first setup: %s", errstr(ret));
	ret = evq_setup(self->fd, 1, EVQ_SEMAPHORE, 0);
	EXPECT_EQ(-EBUSY, ret) TH_LOG("second setup: %s", errstr(ret));
	/* The second setup changed nothing: count 0, not a semaphore. */
	EXPECT_EQ(-EAGAIN, read_u64(self->fd, &v));
	ASSERT_EQ(8, write_u64(self->fd, 2));
	ASSERT_EQ(8, read_u64(self->fd, &v));
	EXPECT_EQ(2ULL, v);
}

TEST_F(evq_ioctl, setup_after_nonzero_write_ebusy)
{
	uint64_t v;
	long ret;

	ASSERT_EQ(8, write_u64(self->fd, 1));
	ret = evq_setup(self->fd, 5, EVQ_SEMAPHORE, 0);
	EXPECT_EQ(-EBUSY, ret) TH_LOG("setup at count 1: %s", errstr(ret));
	ASSERT_EQ(8, read_u64(self->fd, &v));
	EXPECT_EQ(1ULL, v);
}

TEST_F(evq_ioctl, setup_initval_reads_back)
{
	static const uint64_t vals[] = {
		1, 0xffffffffULL, 0x100000000ULL, EVQ_COUNT_MAX,
	};
	uint64_t v;
	size_t i;
	long ret;

	for (i = 0; i < ARRAY_SIZE(vals); i++) {
		int fd = open_evq(_metadata, variant);

		ret = evq_setup(fd, vals[i], 0, 0);
		EXPECT_EQ(0, ret) TH_LOG("initval %#llx: %s",
					 (unsigned long long)vals[i],
					 errstr(ret));
		ret = read_u64(fd, &v);
		EXPECT_EQ(8, ret) TH_LOG("read: %s", errstr(ret));
		EXPECT_EQ(vals[i], v);
		EXPECT_EQ(-EAGAIN, read_u64(fd, &v));
		close(fd);
	}
}

TEST_F(evq_ioctl, setup_semaphore)
{
	char info[4096], tap[8192], line[256];
	uint64_t v;
	long ret;
	int i;

	ret = evq_setup(self->fd, 3, EVQ_SEMAPHORE, 0);
	ASSERT_EQ(0, ret) TH_LOG("setup: %s", errstr(ret));
	ASSERT_LT(0, read_fdinfo(self->fd, info, sizeof(info)));
	fdinfo_line(info, "eventfd-semaphore:", line, sizeof(line));
	EXPECT_STREQ("eventfd-semaphore: 1", line)
		TH_LOG("fdinfo:\n# %s", tap_lines(info, tap, sizeof(tap)));
	for (i = 0; i < 3; i++) {
		ret = read_u64(self->fd, &v);
		ASSERT_EQ(8, ret) TH_LOG("read %d: %s", i, errstr(ret));
		EXPECT_EQ(1ULL, v);
	}
	EXPECT_EQ(-EAGAIN, read_u64(self->fd, &v));
}

TEST_F(evq_ioctl, setup_wrong_encoding_enotty)
{
	const unsigned long cmds[] = {
		_IO(EVQ_IOC_MAGIC, 0x00),
		_IOR(EVQ_IOC_MAGIC, 0x00, struct evq_setup),
		_IOWR(EVQ_IOC_MAGIC, 0x00, struct evq_setup),
		_IOW(EVQ_IOC_MAGIC, 0x00, __u64),
	};
	struct evq_setup setup = { .initval = 1 };
	size_t i;
	long ret;

	for (i = 0; i < ARRAY_SIZE(cmds); i++) {
		ret = ret_or_errno(ioctl(self->fd, cmds[i], &setup));
		EXPECT_EQ(-ENOTTY, ret) TH_LOG("cmd %#lx: %s", cmds[i],
					       errstr(ret));
	}
	expect_fresh(_metadata, self->fd);
}

TEST_HARNESS_MAIN
