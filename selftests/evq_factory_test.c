// SPDX-License-Identifier: GPL-2.0
/*
 * evq_factory_test - the factory (EVQ_IOC_CREATE) and the setup ioctls:
 * the new file's properties, and bad input that must change nothing.
 *
 * Plain TESTs, no fixture:
 *
 *   factory_*     the created file's flags, fdinfo, lseek/pread, links,
 *                 ids, module references, initial value; the factory
 *                 itself unchanged and a factory too
 *   create_*, setup_*, unknown_ioctl_*:
 *                 bad input that must change nothing (no descriptor, no
 *                 state)
 *
 * They fail, never skip, when /dev/evq cannot be opened. evq_modes.h holds
 * the helpers shared with the other tests of the modes.
 */
#include "evq_modes.h"

/* ---- the factory's files ------------------------------------------------- */

static long module_refcnt(void)
{
	return proc_long("/sys/module/evq/refcnt", "%ld");
}

static int open_dev(struct __test_metadata *_metadata)
{
	int dev = open(EVQ_DEV, O_RDWR | O_CLOEXEC);

	EXPECT_LE(0, dev) TH_LOG("open %s: %s (is evq loaded?)", EVQ_DEV,
				 strerror(errno));
	return dev;
}

static int create(int dev, uint64_t initval, uint64_t maximum, uint32_t flags)
{
	struct evq_create c = {
		.initval = initval, .maximum = maximum, .flags = flags,
	};

	return (int)ret_or_errno(ioctl(dev, EVQ_IOC_CREATE, &c));
}

TEST(factory_file_flags_follow_create_flags)
{
	int dev = open_dev(_metadata), i, fd;

	ASSERT_LE(0, dev);
	for (i = 0; i < 4; i++) {
		uint32_t flags = (i & 1 ? EVQ_CLOEXEC : 0) |
				 (i & 2 ? EVQ_NONBLOCK : 0);

		fd = create(dev, 0, 0, flags);
		ASSERT_LE(0, fd) TH_LOG("flags %#x: %s", flags, errstr(fd));
		EXPECT_EQ(O_RDWR | (i & 2 ? O_NONBLOCK : 0), fcntl(fd, F_GETFL))
			TH_LOG("F_GETFL, create flags %#x", flags);
		EXPECT_EQ(i & 1 ? FD_CLOEXEC : 0, fcntl(fd, F_GETFD))
			TH_LOG("F_GETFD, create flags %#x", flags);
		close(fd);
	}
	close(dev);
}

TEST(factory_file_fdinfo_lseek_pread_and_link)
{
	int dev = open_dev(_metadata), fd;
	char buf[512], link[64], id_line[64];
	struct evq_info info;
	uint64_t v = 0;

	ASSERT_LE(0, dev);
	fd = create(dev, 5, 9, EVQ_SEMAPHORE | EVQ_WAKE_ONE | EVQ_MAXIMUM);
	ASSERT_LE(0, fd) TH_LOG("create: %s", errstr(fd));
	ASSERT_EQ(0, get_info(fd, &info));
	ASSERT_LT(0, read_fdinfo(fd, buf, sizeof(buf)));
	EXPECT_NE(NULL, strstr(buf, "eventfd-count:                5\n"))
		TH_LOG("%s", buf);
	snprintf(id_line, sizeof(id_line), "eventfd-id: %u\n", info.id);
	EXPECT_NE(NULL, strstr(buf, id_line)) TH_LOG("%s", buf);
	EXPECT_NE(NULL, strstr(buf, "eventfd-semaphore: 1\n")) TH_LOG("%s", buf);
	EXPECT_NE(NULL, strstr(buf, "evq-maximum: 9\n")) TH_LOG("%s", buf);
	EXPECT_NE(NULL, strstr(buf, "evq-wake-one: 1\n")) TH_LOG("%s", buf);
	EXPECT_EQ(NULL, strstr(buf, "evq-bits")) TH_LOG("%s", buf);

	EXPECT_EQ(0, lseek(fd, 0, SEEK_SET));
	EXPECT_EQ(0, lseek(fd, 100, SEEK_CUR));
	EXPECT_EQ(-ESPIPE, ret_or_errno(pread(fd, &v, sizeof(v), 0)));
	EXPECT_EQ(-ESPIPE, ret_or_errno(pwrite(fd, &v, sizeof(v), 0)));
	EXPECT_EQ(5ULL, count_of(fd)) TH_LOG("pread/pwrite changed the count");

	EXPECT_STREQ(ANON_EVQ, fd_link(fd, link, sizeof(link)));
	close(fd);
	close(dev);
}

TEST(factory_counter_unchanged_and_created_counter_is_a_factory)
{
	int dev = open_dev(_metadata), a, b;
	struct evq_info before, after, ia, ib;
	uint64_t v;

	ASSERT_LE(0, dev);
	ASSERT_EQ(0, setup(dev, 5, EVQ_SEMAPHORE));
	ASSERT_EQ(0, get_info(dev, &before));
	a = create(dev, 2, 0, 0);
	ASSERT_LE(0, a) TH_LOG("create: %s", errstr(a));
	b = create(a, 7, 0, EVQ_BITS);
	ASSERT_LE(0, b) TH_LOG("create on a created counter: %s", errstr(b));
	ASSERT_EQ(0, get_info(dev, &after));
	EXPECT_EQ(0, memcmp(&before, &after, sizeof(before)))
		TH_LOG("the factory's snapshot changed: count %llu -> %llu, flags %#x -> %#x",
		       (unsigned long long)before.count,
		       (unsigned long long)after.count, before.flags,
		       after.flags);
	ASSERT_EQ(0, get_info(a, &ia));
	ASSERT_EQ(0, get_info(b, &ib));
	EXPECT_EQ(2ULL, ia.count);
	EXPECT_EQ(0U, ia.flags);
	EXPECT_EQ(7ULL, ib.count);
	EXPECT_EQ(EVQ_BITS, ib.flags);
	EXPECT_NE(before.id, ia.id);
	EXPECT_NE(before.id, ib.id);
	EXPECT_NE(ia.id, ib.id);
	ASSERT_EQ(8, read_u64(dev, &v));
	EXPECT_EQ(1ULL, v) TH_LOG("the factory is still a semaphore");
	ASSERT_EQ(8, read_u64(a, &v));
	EXPECT_EQ(2ULL, v);
	close(b);
	close(a);
	close(dev);
}

TEST(factory_ids_unique)
{
	int dev = open_dev(_metadata), fd[16], i, j;
	struct evq_info info[16];

	ASSERT_LE(0, dev);
	for (i = 0; i < 16; i++) {
		fd[i] = create(dev, 0, 0, EVQ_CLOEXEC);
		ASSERT_LE(0, fd[i]) TH_LOG("create %d: %s", i, errstr(fd[i]));
		ASSERT_EQ(0, get_info(fd[i], &info[i]));
		for (j = 0; j < i; j++)
			EXPECT_NE(info[j].id, info[i].id)
				TH_LOG("counters %d and %d", j, i);
	}
	for (i = 0; i < 16; i++)
		close(fd[i]);
	close(dev);
}

TEST(factory_counters_pin_the_module)
{
	int dev = open_dev(_metadata), fd[3], i;
	long base;

	ASSERT_LE(0, dev);
	base = module_refcnt();
	/* Built in (CONFIG_EVQ=y): there is no module to pin. */
	if (base < 0 && access("/sys/module/evq/initstate", F_OK)) {
		close(dev);
		SKIP(return, "evq is built into the kernel, not a module");
	}
	ASSERT_LE(1, base) TH_LOG("/sys/module/evq/refcnt with %s open",
				  EVQ_DEV);
	for (i = 0; i < 3; i++) {
		fd[i] = create(dev, 0, 0, EVQ_CLOEXEC);
		ASSERT_LE(0, fd[i]);
		EXPECT_EQ(base + i + 1, module_refcnt())
			TH_LOG("refcnt with %d created counters", i + 1);
	}
	for (i = 0; i < 3; i++) {
		close(fd[i]);
		EXPECT_EQ(base + 2 - i, module_refcnt())
			TH_LOG("refcnt after closing %d of 3", i + 1);
	}
	close(dev);
}

TEST(factory_initval_read_back_and_semaphore_works)
{
	int dev = open_dev(_metadata), fd;
	uint64_t v;

	ASSERT_LE(0, dev);
	fd = create(dev, 0x123456789ULL, 0, EVQ_NONBLOCK);
	ASSERT_LE(0, fd);
	ASSERT_EQ(8, read_u64(fd, &v));
	EXPECT_EQ(0x123456789ULL, v);
	EXPECT_EQ(-EAGAIN, read_u64(fd, &v));
	close(fd);

	fd = create(dev, 3, 0, EVQ_SEMAPHORE | EVQ_NONBLOCK);
	ASSERT_LE(0, fd);
	for (int i = 0; i < 3; i++) {
		ASSERT_EQ(8, read_u64(fd, &v));
		EXPECT_EQ(1ULL, v) TH_LOG("semaphore read %d", i);
	}
	EXPECT_EQ(-EAGAIN, read_u64(fd, &v));
	close(fd);

	fd = create(dev, ~0ULL, 0, EVQ_BITS | EVQ_NONBLOCK);
	ASSERT_LE(0, fd) TH_LOG("bit mode, all bits: %s", errstr(fd));
	ASSERT_EQ(8, read_u64(fd, &v));
	EXPECT_EQ(~0ULL, v);
	close(fd);

	fd = create(dev, EVQ_COUNT_MAX, 0, EVQ_NONBLOCK);
	ASSERT_LE(0, fd) TH_LOG("initval EVQ_COUNT_MAX: %s", errstr(fd));
	EXPECT_EQ(EVQ_COUNT_MAX, count_of(fd));
	close(fd);
	close(dev);
}

/* ---- bad input changes nothing ------------------------------------------- */

/*
 * EVQ_IOC_CREATE with @arg must fail with @want, allocate no descriptor
 * and leave the factory @dev as it was.
 */
static void expect_create_fails(struct __test_metadata *_metadata, int dev,
				const void *arg, long want, const char *what)
{
	struct evq_info before, after;
	int next = next_fd();
	long ret;

	ASSERT_EQ(0, get_info(dev, &before));
	ret = ret_or_errno(ioctl(dev, EVQ_IOC_CREATE, arg));
	EXPECT_EQ(want, ret) TH_LOG("%s: expected %s, got %ld (%s)", what,
				    strerror((int)-want), ret, errstr(ret));
	if (ret >= 0)
		close((int)ret);
	EXPECT_EQ(next, next_fd()) TH_LOG("%s: a descriptor was allocated",
					  what);
	ASSERT_EQ(0, get_info(dev, &after));
	EXPECT_EQ(0, memcmp(&before, &after, sizeof(before)))
		TH_LOG("%s: the factory changed", what);
}

/* A factory with something to lose: count 5, semaphore. */
static int bad_input_factory(struct __test_metadata *_metadata)
{
	int dev = open_dev(_metadata);

	EXPECT_EQ(0, dev < 0 ? 0 : setup(dev, 5, EVQ_SEMAPHORE));
	return dev;
}

TEST(create_rejects_every_unknown_flag_bit)
{
	int dev = bad_input_factory(_metadata), bit;
	const uint32_t known = EVQ_MODE_FLAGS | EVQ_MAXIMUM | EVQ_CLOEXEC |
			       EVQ_NONBLOCK;
	char what[64];

	ASSERT_LE(0, dev);
	for (bit = 0; bit < 32; bit++) {
		struct evq_create c = { .flags = 1U << bit };

		if (c.flags & known)
			continue;
		snprintf(what, sizeof(what), "flag bit %d", bit);
		expect_create_fails(_metadata, dev, &c, -EINVAL, what);
	}
	close(dev);
}

TEST(create_rejects_nonzero_pad_and_reserved)
{
	int dev = bad_input_factory(_metadata);
	struct evq_create c = { .pad = 1 };
	char what[64];
	size_t i;

	ASSERT_LE(0, dev);
	expect_create_fails(_metadata, dev, &c, -EINVAL, "pad 1");
	for (i = 0; i < ARRAY_SIZE(c.reserved); i++) {
		memset(&c, 0, sizeof(c));
		c.reserved[i] = 1ULL << 63;
		snprintf(what, sizeof(what), "reserved[%zu]", i);
		expect_create_fails(_metadata, dev, &c, -EINVAL, what);
	}
	close(dev);
}

TEST(create_rejects_bad_maximum_and_modes)
{
	int dev = bad_input_factory(_metadata);
	const struct {
		struct evq_create c;
		const char *what;
	} bad[] = {
		{ { .flags = EVQ_MAXIMUM }, "maximum 0" },
		{ { .flags = EVQ_MAXIMUM, .maximum = EVQ_COUNT_MAX + 1 },
		  "maximum above EVQ_COUNT_MAX" },
		{ { .maximum = 5 }, "maximum without EVQ_MAXIMUM" },
		{ { .flags = EVQ_BITS | EVQ_SEMAPHORE }, "bits|semaphore" },
		{ { .flags = EVQ_BITS | EVQ_MAXIMUM, .maximum = 5 },
		  "bits|maximum" },
		{ { .flags = EVQ_MAXIMUM, .maximum = 5, .initval = 6 },
		  "initval above the maximum" },
		{ { .initval = ~0ULL }, "initval above EVQ_COUNT_MAX" },
	};
	size_t i;

	ASSERT_LE(0, dev);
	for (i = 0; i < ARRAY_SIZE(bad); i++)
		expect_create_fails(_metadata, dev, &bad[i].c, -EINVAL,
				    bad[i].what);
	close(dev);
}

TEST(create_bad_pointer_fails_efault)
{
	int dev = bad_input_factory(_metadata);
	void *hole = unmapped_page();

	ASSERT_LE(0, dev);
	ASSERT_NE(NULL, hole);
	expect_create_fails(_metadata, dev, NULL, -EFAULT, "NULL");
	expect_create_fails(_metadata, dev, hole, -EFAULT, "unmapped page");
	close(dev);
}

TEST(setup_rejects_bits_with_semaphore)
{
	int fd = open_dev(_metadata);
	struct evq_info info;

	ASSERT_LE(0, fd);
	EXPECT_EQ(-EINVAL, setup(fd, 0, EVQ_BITS | EVQ_SEMAPHORE));
	ASSERT_EQ(0, get_info(fd, &info));
	EXPECT_EQ(0U, info.flags);
	EXPECT_EQ(0, setup(fd, 0, EVQ_BITS)) TH_LOG("still unconfigured");
	close(fd);
}

TEST(setup_with_new_flags_after_use_fails_ebusy)
{
	int fd = open_dev(_metadata);
	struct evq_info info;

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, setup(fd, 0, 0));
	EXPECT_EQ(-EBUSY, setup(fd, 0, EVQ_WAKE_ONE));
	EXPECT_EQ(-EBUSY, setup(fd, 0, EVQ_BITS));
	ASSERT_EQ(0, get_info(fd, &info));
	EXPECT_EQ(0U, info.flags);
	close(fd);

	fd = open_dev(_metadata);
	ASSERT_LE(0, fd);
	ASSERT_EQ(8, write_u64(fd, 1));
	EXPECT_EQ(-EBUSY, setup(fd, 0, EVQ_WAKE_ONE)) TH_LOG("count 1");
	ASSERT_EQ(0, get_info(fd, &info));
	EXPECT_EQ(0U, info.flags);
	EXPECT_EQ(1ULL, info.count);
	close(fd);
}

TEST(setup_bits_after_set_maximum_fails_einval)
{
	int fd = open_dev(_metadata);
	struct evq_info info;

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, set_maximum(fd, 5));
	EXPECT_EQ(-EINVAL, setup(fd, 0, EVQ_BITS));
	EXPECT_EQ(-EINVAL, setup(fd, 6, 0)) TH_LOG("initval above maximum 5");
	ASSERT_EQ(0, get_info(fd, &info));
	EXPECT_EQ(0U, info.flags);
	EXPECT_EQ(0ULL, info.count);
	EXPECT_EQ(5ULL, info.maximum);
	EXPECT_EQ(0, setup(fd, 5, EVQ_WAKE_ONE)) TH_LOG("still unconfigured");
	close(fd);
}

TEST(unknown_ioctl_numbers_fail_enotty)
{
	int dev = open_dev(_metadata), fd, nr, i;
	uint64_t buf[8] = { 0 };
	long ret;

	ASSERT_LE(0, dev);
	fd = create(dev, 1, 0, EVQ_CLOEXEC);
	ASSERT_LE(0, fd);
	for (nr = 0x04; nr <= 0x3f; nr++) {
		const unsigned long cmds[] = {
			_IO(EVQ_IOC_MAGIC, nr),
			_IOR(EVQ_IOC_MAGIC, nr, uint64_t),
			_IOW(EVQ_IOC_MAGIC, nr, uint64_t),
			_IOWR(EVQ_IOC_MAGIC, nr, uint64_t),
		};

		for (i = 0; i < (int)ARRAY_SIZE(cmds); i++) {
			/* Known, tested in evq_fast_test; other sizes are not. */
			if (cmds[i] == EVQ_IOC_WAKE)
				continue;
			ret = ret_or_errno(ioctl(dev, cmds[i], buf));
			EXPECT_EQ(-ENOTTY, ret)
				TH_LOG("/dev/evq, ioctl %#lx: %s", cmds[i],
				       errstr(ret));
			ret = ret_or_errno(ioctl(fd, cmds[i], buf));
			EXPECT_EQ(-ENOTTY, ret)
				TH_LOG("created counter, ioctl %#lx: %s",
				       cmds[i], errstr(ret));
		}
	}
	EXPECT_EQ(1ULL, count_of(fd));
	close(fd);
	close(dev);
}

TEST_HARNESS_MAIN
