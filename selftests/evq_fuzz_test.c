// SPDX-License-Identifier: GPL-2.0
/*
 * evq_fuzz_test - seeded random differential testing, native eventfd vs evq.
 *
 * For each seed, one pseudo-random sequence of operations is applied to
 * native eventfd(2) counters and to /dev/evq counters side by side: create
 * (random flags, sometimes invalid, random initial value), close, dup,
 * reads and writes of random sizes and values (also readv/writev), poll,
 * select, level-triggered and edge-triggered epoll, fcntl F_SETFL/F_SETFD
 * toggles, lseek, pread, an unknown ioctl. After every operation the two
 * sides must agree on the return value, errno, every byte of the read
 * buffer and every event mask. The first difference ends the seed: it
 * prints the seed, the operation and the sequence that led there (every
 * operation on that counter since it was created) and fails.
 *
 * Nothing may hang: counters are mostly non-blocking; when O_NONBLOCK has
 * been cleared, a read at count 0 and a write that would pass the maximum
 * are left out (a model of the count says when).
 *
 * Known differences are not compared: native eventfd before 6.9 accepts
 * write(2) of more than 8 bytes (evq, like mainline, says EINVAL); on such
 * a kernel those writes carry the value 0, so both counters stay equal, and
 * only each side's own expected return is checked. EFAULT (evq keeps the
 * count, eventfd consumes it) and fdinfo (6.1 has no semaphore line) are
 * left to the differential suite (evq_counter.h).
 *
 * Half of the evq counters come from the factory (EVQ_IOC_CREATE with
 * the EFD_ flags translated) instead of open(2): a factory-made counter
 * must be just as indistinguishable from eventfd.
 *
 * The modes seeds (see "the modes" below) test what native eventfd does
 * not have, a maximum, bit mode, wake-one and the fast path (EVQ_FAST:
 * signals and takes through the mapped page, mixed with the system calls,
 * the page checked against the model), against a model of the counter;
 * each sequential seed N also runs as "modes_ops.seed_N".
 *
 * The concurrent mode (see "concurrent mode" below) runs threads on
 * shared counters and checks the invariants that survive concurrency.
 *
 * Usage: evq_fuzz_test [OPS [SEEDS [FIRST_SEED [THREADS]]]]
 * or the environment EVQ_FUZZ_OPS (default 10000 per seed), EVQ_FUZZ_SEEDS
 * (default 8), EVQ_FUZZ_SEED (first seed, default 1), EVQ_FUZZ_THREADS:
 * unset, the sequential seeds and then one concurrent case of
 * CONC_DEFAULT_OPS ops over CONC_DEFAULT_THREADS threads (what make check
 * runs); 0, the sequential seeds only; N, the concurrent mode only, SEEDS
 * cases of OPS ops over N threads. "Sequential seeds" are the
 * differential seeds and as many modes seeds, each of OPS ops. Each seed
 * is one TAP case, "random_ops.seed_N", "modes_ops.seed_N" or
 * "concurrent_ops.seed_N". EVQ_FUZZ_PROGRESS=S
 * prints a progress line (ops done, ops/s) every S seconds (default 5, 0
 * for none); the end prints the total and the rate.
 * EVQ_TEST_EVQ_IS_NATIVE=1 makes both sides native eventfd, to check the
 * tester itself on a host without the module.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/select.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "evq.h"
#include "evq_masks.h"
#include "kselftest.h"

#define COUNT_MAX	0xfffffffffffffffeULL
#define POISON64	0xa5a5a5a5a5a5a5a5ULL
#define N_SLOTS		4
#define LOG_LINE	112
/* The last LOG_RING ops are kept for the report of a difference. */
#define LOG_RING	65536
/* Progress: the clock is looked at every PROGRESS_EVERY ops. */
#define PROGRESS_EVERY	4096

enum side { NAT, EVQ, N_SIDES };

static const char *const side_name[N_SIDES] = { "native", "evq" };

/* One counter pair: the same operations go to both sides. */
struct slot {
	bool open;
	int fd[N_SIDES];
	int dup[N_SIDES];	/* a dup() of fd, or -1 */
	int ep[N_SIDES];	/* edge-triggered epoll set holding fd */
	bool sem;
	bool nonblock;		/* model of O_NONBLOCK */
	uint64_t count;		/* model of the count */
	long first_op;		/* the op that created it */
};

/*
 * One counter in evq's own modes and its model (the modes seeds): what
 * read, write, poll, EVQ_IOC_GET_INFO and EVQ_IOC_SET_MAXIMUM must give.
 */
struct mslot {
	bool open;
	int fd;			/* always O_NONBLOCK */
	uint64_t count;
	uint64_t maximum;	/* EVQ_COUNT_MAX in bit mode */
	uint32_t flags;		/* EVQ_SEMAPHORE, WAKE_ONE, BITS, FAST */
	uint32_t id;		/* from GET_INFO at creation */
	long first_op;
	struct evq_fast fast;	/* EVQ_FAST: the page, mapped */
};

struct fuzz {
	uint64_t rng;
	long op;		/* index of the current op */
	struct slot slot[N_SLOTS];
	struct mslot m[N_SLOTS];	/* the modes seeds' counters */
	bool modes;		/* a modes seed: m[], not slot[] */
	int factory;		/* a /dev/evq file for EVQ_IOC_CREATE, or -1 */
	char (*log)[LOG_LINE];	/* one line per op, ring of LOG_RING */
	int *log_slot;		/* which slot the op touched, -1 for none */
	bool legacy_write;	/* native accepts write(2) of > 8 bytes */
	bool evq_is_native;
	bool failed;
	long skipped;		/* ops left out because they would block */
};

/* ---- helpers ------------------------------------------------------------- */

/* splitmix64 */
static uint64_t splitmix(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t rnd(struct fuzz *f)
{
	return splitmix(&f->rng);
}

static unsigned int below(struct fuzz *f, unsigned int n)
{
	return (unsigned int)(rnd(f) % n);
}

static long sys_ret(long ret)
{
	return ret < 0 ? -errno : ret;
}

/* Append a description of the current op to the log. */
static void __printf(3, 4)
note(struct fuzz *f, int slot, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(f->log[f->op % LOG_RING], LOG_LINE, fmt, ap);
	va_end(ap);
	f->log_slot[f->op % LOG_RING] = slot;
}

static void dump_sequence(struct fuzz *f, int slot, uint64_t seed)
{
	long first = slot < 0 ? 0 : f->modes ? f->m[slot].first_op :
						f->slot[slot].first_op;
	long kept = f->op + 1 - LOG_RING;
	int major, minor;
	struct utsname u;
	long i;

	ksft_print_msg("seed %llu: divergence at op %ld; the ops on counter %d since it was created:\n",
		       (unsigned long long)seed, f->op, slot);
	if (first < kept) {
		ksft_print_msg("  (ops %ld to %ld not kept; the replay below runs them)\n",
			       first, kept - 1);
		first = kept;
	}
	for (i = first; i <= f->op; i++)
		if (f->log_slot[i % LOG_RING] == slot || i == f->op)
			ksft_print_msg("  op %ld: %s\n", i, f->log[i % LOG_RING]);
	ksft_print_msg("replay: EVQ_FUZZ_SEED=%llu EVQ_FUZZ_SEEDS=1 EVQ_FUZZ_OPS=%ld\n",
		       (unsigned long long)seed, f->op + 1);
	if (!uname(&u) && sscanf(u.release, "%d.%d", &major, &minor) == 2)
		ksft_print_msg("replay from the host: make fuzz KVER=%d.%d FUZZ_SEED=%llu FUZZ_SEEDS=1 FUZZ_OPS=%ld FUZZ_THREADS=0\n",
			       major, minor, (unsigned long long)seed, f->op + 1);
}

/*
 * Compare one result of the two sides. Returns false (and marks the run
 * failed) on a difference.
 */
static bool same(struct fuzz *f, const char *what, long nat, long evq)
{
	if (nat == evq)
		return true;
	ksft_print_msg("DIFFERENCE in %s: native %ld (%s), evq %ld (%s)\n",
		       what, nat, nat < 0 ? strerror((int)-nat) : "-", evq,
		       evq < 0 ? strerror((int)-evq) : "-");
	f->failed = true;
	return false;
}

static bool expect(struct fuzz *f, enum side s, const char *what, long want,
		   long got)
{
	if (want == got)
		return true;
	ksft_print_msg("%s: %s returned %ld (%s), expected %ld\n",
		       side_name[s], what, got,
		       got < 0 ? strerror((int)-got) : "-", want);
	f->failed = true;
	return false;
}

/* Is @fd a /dev/evq file, or a counter made by EVQ_IOC_CREATE? */
static bool fd_is_evq(int fd)
{
	const char *dev = getenv("EVQ_DEVICE");
	char path[64], link[256];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0)
		return false;
	link[n] = '\0';
	return !strcmp(link, dev && *dev ? dev : EVQ_DEVICE_PATH) ||
	       !strcmp(link, "anon_inode:[evq]");
}

/*
 * eventfd(@initval, @flags) through the factory: EVQ_IOC_CREATE with the
 * EFD_ flags translated, and any other bit as a reserved one (EINVAL, as
 * eventfd(2) says for an unknown bit).
 */
static int factory_eventfd(int factory, unsigned int initval, int flags)
{
	struct evq_create c = { .initval = initval };

	if (flags & EFD_SEMAPHORE)
		c.flags |= EVQ_SEMAPHORE;
	if (flags & EFD_NONBLOCK)
		c.flags |= EVQ_NONBLOCK;
	if (flags & EFD_CLOEXEC)
		c.flags |= EVQ_CLOEXEC;
	if (flags & ~(EFD_SEMAPHORE | EFD_NONBLOCK | EFD_CLOEXEC))
		c.flags |= 1U << 31;
	return ioctl(factory, EVQ_IOC_CREATE, &c);
}

/* The evq side comes from the factory if @factory, else from open(2). */
static int make_counter(struct fuzz *f, enum side s, unsigned int initval,
			int flags, bool factory)
{
	if (s == EVQ && !f->evq_is_native)
		return factory ? factory_eventfd(f->factory, initval, flags) :
				 evq_eventfd(initval, flags);
	return eventfd(initval, flags);
}

/*
 * Native eventfd before 6.9 takes write(2) of more than 8 bytes (see
 * native_legacy() in evq_counter.h for the commit).
 */
static bool kernel_before_6_9(void)
{
	struct utsname u;
	int major, minor;

	if (uname(&u) || sscanf(u.release, "%d.%d", &major, &minor) != 2)
		return false;
	return major < 6 || (major == 6 && minor < 9);
}

/* Close every descriptor of a slot. */
static void close_slot(struct slot *sl)
{
	int s;

	if (!sl->open)
		return;
	for (s = 0; s < N_SIDES; s++) {
		close(sl->fd[s]);
		if (sl->dup[s] >= 0)
			close(sl->dup[s]);
		close(sl->ep[s]);
	}
	sl->open = false;
}

/* The descriptor an op uses: the original or, if there is one, the dup. */
static int pick_fd(struct slot *sl, enum side s, bool use_dup)
{
	return use_dup && sl->dup[s] >= 0 ? sl->dup[s] : sl->fd[s];
}

static int epoll_now(int ep);

/* For the log: " dup" if the op really uses the dup. */
static const char *dup_label(const struct slot *sl, bool use_dup)
{
	return use_dup && sl->dup[NAT] >= 0 ? " dup" : "";
}

/* ---- the operations ------------------------------------------------------ */

static const uint32_t initvals[] = {
	0, 1, 2, 3, 100, 0x7fffffff, 0xfffffffe, 0xffffffff,
};

static void op_create(struct fuzz *f, int i)
{
	static const int valid[] = { EFD_SEMAPHORE, EFD_NONBLOCK, EFD_CLOEXEC };
	struct slot *sl = &f->slot[i];
	int flags = 0, fd[N_SIDES], s, b;
	unsigned int initval;
	bool factory;

	for (b = 0; b < 3; b++)
		if (below(f, 2))
			flags |= valid[b];
	/* Mostly non-blocking: blocking counters leave out more ops. */
	if (below(f, 4))
		flags |= EFD_NONBLOCK;
	if (!below(f, 12))	/* an invalid bit */
		flags |= 1 << (1 + below(f, 30));
	initval = below(f, 3) ? initvals[below(f, ARRAY_SIZE(initvals))] :
				(unsigned int)rnd(f);
	/* The evq side: a factory-made counter must be an eventfd too. */
	factory = f->factory >= 0 && below(f, 2);
	close_slot(sl);
	sl->first_op = f->op;
	note(f, i, "create slot %d: eventfd(%#x, %#x)%s", i, initval,
	     (unsigned int)flags, factory ? ", evq by EVQ_IOC_CREATE" : "");
	for (s = 0; s < N_SIDES; s++)
		fd[s] = (int)sys_ret(make_counter(f, s, initval, flags,
						  factory));
	if (fd[NAT] < 0 || fd[EVQ] < 0) {
		same(f, "create", fd[NAT] < 0 ? fd[NAT] : 0,
		     fd[EVQ] < 0 ? fd[EVQ] : 0);
		for (s = 0; s < N_SIDES; s++)
			if (fd[s] >= 0)
				close(fd[s]);
		return;
	}
	if (!f->evq_is_native && !fd_is_evq(fd[EVQ])) {
		ksft_print_msg("evq side is not a /dev/evq file\n");
		f->failed = true;
	}
	for (s = 0; s < N_SIDES; s++) {
		struct epoll_event ev = {
			.events = EPOLLIN | EPOLLOUT | EPOLLET,
		};

		sl->fd[s] = fd[s];
		sl->dup[s] = -1;
		sl->ep[s] = epoll_create1(EPOLL_CLOEXEC);
		if (sl->ep[s] < 0 ||
		    epoll_ctl(sl->ep[s], EPOLL_CTL_ADD, fd[s], &ev)) {
			ksft_print_msg("epoll setup: %s\n", strerror(errno));
			f->failed = true;
		}
	}
	sl->open = true;
	sl->sem = flags & EFD_SEMAPHORE;
	sl->nonblock = flags & EFD_NONBLOCK;
	sl->count = initval;
}

static uint64_t pick_value(struct fuzz *f, const struct slot *sl)
{
	switch (below(f, 12)) {
	case 0:
		return 0;
	case 1:
	case 2:
		return 1 + below(f, 5);
	case 3:
		return COUNT_MAX;
	case 4:
		return UINT64_MAX;
	case 5:
		return COUNT_MAX - sl->count;		/* exactly to the max */
	case 6:
		return COUNT_MAX - sl->count + 1;	/* one over */
	case 7:
		return 1ULL << 63;
	case 8:
		return rnd(f) >> below(f, 64);
	default:
		return below(f, 1000);
	}
}

/* Would an accepted 8-byte write of @v block? */
static bool write_blocks(const struct slot *sl, uint64_t v)
{
	return v != UINT64_MAX && UINT64_MAX - sl->count <= v;
}

static void op_write(struct fuzz *f, int i)
{
	static const size_t sizes[] = { 0, 1, 7, 8, 8, 8, 8, 8, 9, 16 };
	struct slot *sl = &f->slot[i];
	bool use_dup = below(f, 2);
	uint64_t v = pick_value(f, sl);
	size_t len = sizes[below(f, ARRAY_SIZE(sizes))];
	unsigned char buf[16];
	long ret[N_SIDES];
	int s;

	if (len > 8 && f->legacy_write)
		v = 0;	/* native adds it, evq rejects it: keep them equal */
	memset(buf, 0xff, sizeof(buf));
	memcpy(buf, &v, sizeof(v));
	note(f, i, "write(slot %d%s, %#llx, %zu bytes)", i,
	     dup_label(sl, use_dup), (unsigned long long)v, len);
	if (!sl->nonblock && len == 8 && write_blocks(sl, v)) {
		f->skipped++;
		return;
	}
	for (s = 0; s < N_SIDES; s++)
		ret[s] = sys_ret(write(pick_fd(sl, s, use_dup), buf, len));
	if (len > 8 && f->legacy_write && !f->evq_is_native) {
		expect(f, NAT, "write of more than 8 bytes (before 6.9)", 8,
		       ret[NAT]);
		expect(f, EVQ, "write of more than 8 bytes", -EINVAL,
		       ret[EVQ]);
		/*
		 * Native's accepted write of 0 woke its edge-triggered set;
		 * evq's rejected one did not. Drain both to stay in step.
		 */
		for (s = 0; s < N_SIDES; s++)
			epoll_now(sl->ep[s]);
		return;
	}
	if (same(f, "write return", ret[NAT], ret[EVQ]) && ret[NAT] == 8)
		sl->count += v;
}

static void op_writev(struct fuzz *f, int i)
{
	static const size_t segs[] = { 4, 8, 8 };
	struct slot *sl = &f->slot[i];
	uint64_t v[2] = { pick_value(f, sl), below(f, 3) };
	struct iovec iov[2];
	size_t n = 1 + below(f, 2), k;
	long ret[N_SIDES];
	bool blocks = false;
	uint64_t sum = sl->count;
	int s;

	for (k = 0; k < n; k++) {
		iov[k].iov_base = &v[k];
		iov[k].iov_len = segs[below(f, ARRAY_SIZE(segs))];
	}
	note(f, i, "writev(slot %d, [%#llx/%zu, %#llx/%zu], %zu segments)",
	     i, (unsigned long long)v[0], iov[0].iov_len,
	     (unsigned long long)v[1], n > 1 ? iov[1].iov_len : 0, n);
	/* Each 8-byte segment is one write, up to the first bad one. */
	for (k = 0; k < n && iov[k].iov_len == 8 && v[k] != UINT64_MAX; k++) {
		if (UINT64_MAX - sum <= v[k]) {
			blocks = true;
			break;
		}
		sum += v[k];
	}
	if (!sl->nonblock && blocks) {
		f->skipped++;
		return;
	}
	for (s = 0; s < N_SIDES; s++)
		ret[s] = sys_ret(writev(sl->fd[s], iov, (int)n));
	if (!same(f, "writev return", ret[NAT], ret[EVQ]))
		return;
	for (k = 0; ret[NAT] > 0 && k < (size_t)ret[NAT] / 8; k++)
		sl->count += v[k];
}

static void op_read(struct fuzz *f, int i)
{
	static const size_t sizes[] = { 0, 1, 7, 8, 8, 8, 8, 9, 16, 4096 };
	struct slot *sl = &f->slot[i];
	bool use_dup = below(f, 2);
	size_t len = sizes[below(f, ARRAY_SIZE(sizes))];
	bool vec = !below(f, 6);
	static unsigned char buf[N_SIDES][4096];
	long ret[N_SIDES];
	uint64_t v;
	int s;

	note(f, i, "%s(slot %d%s, %zu bytes)", vec ? "readv 4+rest" : "read",
	     i, dup_label(sl, use_dup), len);
	if (!sl->nonblock && len >= 8 && !sl->count) {
		f->skipped++;
		return;
	}
	for (s = 0; s < N_SIDES; s++) {
		int fd = pick_fd(sl, s, use_dup);

		memset(buf[s], 0xa5, len);
		if (vec && len > 4) {
			struct iovec iov[2] = {
				{ .iov_base = buf[s], .iov_len = 4 },
				{ .iov_base = buf[s] + 4, .iov_len = len - 4 },
			};

			ret[s] = sys_ret(readv(fd, iov, 2));
		} else {
			ret[s] = sys_ret(read(fd, buf[s], len));
		}
	}
	if (!same(f, "read return", ret[NAT], ret[EVQ]))
		return;
	if (memcmp(buf[NAT], buf[EVQ], len) != 0) {
		uint64_t nv = 0;

		v = 0;
		memcpy(&nv, buf[NAT], len < 8 ? len : 8);
		memcpy(&v, buf[EVQ], len < 8 ? len : 8);
		ksft_print_msg("DIFFERENCE in the bytes read: first 8 native %#llx, evq %#llx\n",
			       (unsigned long long)nv, (unsigned long long)v);
		f->failed = true;
		return;
	}
	if (ret[NAT] == 8) {
		memcpy(&v, buf[NAT], sizeof(v));
		sl->count -= v;
	}
}

/* epoll_wait(0) on a set: events of the one entry, 0, or -errno. */
static int epoll_now(int ep)
{
	struct epoll_event ev = { 0 };
	int n = epoll_wait(ep, &ev, 1, 0);

	return n < 0 ? -errno : n ? (int)ev.events : 0;
}

static void op_poll(struct fuzz *f, int i)
{
	struct slot *sl = &f->slot[i];
	int kind = (int)below(f, 4);
	static const char *const kinds[] = {
		"poll", "select", "epoll level", "epoll edge",
	};
	int m[N_SIDES], s;

	note(f, i, "%s(slot %d)", kinds[kind], i);
	for (s = 0; s < N_SIDES; s++) {
		switch (kind) {
		case 0:
			m[s] = poll_mask(sl->fd[s]);
			break;
		case 1:
			m[s] = select_mask(sl->fd[s]);
			break;
		case 2:
			m[s] = epoll_mask(sl->fd[s]);
			break;
		default:
			m[s] = epoll_now(sl->ep[s]);
			break;
		}
	}
	same(f, kinds[kind], m[NAT], m[EVQ]);
}

static void op_fcntl(struct fuzz *f, int i)
{
	static const int toggles[] = {
		O_NONBLOCK, O_NONBLOCK, O_NONBLOCK, O_APPEND, O_ASYNC, O_DIRECT,
	};
	struct slot *sl = &f->slot[i];
	int bit = toggles[below(f, ARRAY_SIZE(toggles))];
	bool use_dup = below(f, 2);
	long fl[N_SIDES], ret[N_SIDES];
	int s;

	if (!below(f, 4)) {
		note(f, i, "F_SETFD toggle FD_CLOEXEC (slot %d)", i);
		for (s = 0; s < N_SIDES; s++) {
			int fd = pick_fd(sl, s, use_dup);

			fl[s] = sys_ret(fcntl(fd, F_GETFD));
			ret[s] = sys_ret(fcntl(fd, F_SETFD,
					       (int)fl[s] ^ FD_CLOEXEC));
		}
		if (same(f, "F_GETFD", fl[NAT], fl[EVQ]))
			same(f, "F_SETFD", ret[NAT], ret[EVQ]);
		return;
	}
	note(f, i, "F_SETFL toggle %#o (slot %d%s)", (unsigned int)bit, i,
	     dup_label(sl, use_dup));
	for (s = 0; s < N_SIDES; s++) {
		int fd = pick_fd(sl, s, use_dup);

		fl[s] = sys_ret(fcntl(fd, F_GETFL));
		ret[s] = sys_ret(fcntl(fd, F_SETFL, (int)fl[s] ^ bit));
	}
	if (!same(f, "F_GETFL", fl[NAT], fl[EVQ]) ||
	    !same(f, "F_SETFL", ret[NAT], ret[EVQ]))
		return;
	/* The dup shares the open file, and with it the flags. */
	sl->nonblock = sys_ret(fcntl(sl->fd[NAT], F_GETFL)) & O_NONBLOCK;
	for (s = 0; s < N_SIDES; s++)
		fl[s] = sys_ret(fcntl(sl->fd[s], F_GETFL));
	same(f, "F_GETFL after F_SETFL", fl[NAT], fl[EVQ]);
}

static void op_misc(struct fuzz *f, int i)
{
	struct slot *sl = &f->slot[i];
	int kind = (int)below(f, 4), s, n = 0;
	long ret[N_SIDES];
	uint64_t v = 1;

	switch (kind) {
	case 0:
		note(f, i, "dup(slot %d)", i);
		for (s = 0; s < N_SIDES; s++) {
			if (sl->dup[s] >= 0)
				close(sl->dup[s]);
			sl->dup[s] = dup(sl->fd[s]);
			ret[s] = sl->dup[s] < 0 ? -errno : 0;
		}
		same(f, "dup", ret[NAT], ret[EVQ]);
		return;
	case 1:
		note(f, i, "lseek(slot %d, %d, SEEK_CUR)", i, 5);
		for (s = 0; s < N_SIDES; s++)
			ret[s] = sys_ret(lseek(sl->fd[s], 5, SEEK_CUR));
		same(f, "lseek", ret[NAT], ret[EVQ]);
		return;
	case 2:
		note(f, i, "pread/pwrite(slot %d)", i);
		for (s = 0; s < N_SIDES; s++)
			ret[s] = sys_ret(pread(sl->fd[s], &v, 8, 0));
		if (same(f, "pread", ret[NAT], ret[EVQ])) {
			for (s = 0; s < N_SIDES; s++)
				ret[s] = sys_ret(pwrite(sl->fd[s], &v, 8, 0));
			same(f, "pwrite", ret[NAT], ret[EVQ]);
		}
		return;
	default:
		note(f, i, "ioctl(slot %d, FIONREAD)", i);
		for (s = 0; s < N_SIDES; s++)
			ret[s] = sys_ret(ioctl(sl->fd[s], FIONREAD, &n));
		same(f, "ioctl FIONREAD", ret[NAT], ret[EVQ]);
		return;
	}
}

/* One random op. */
static void step(struct fuzz *f)
{
	int i = (int)below(f, N_SLOTS);
	unsigned int r = below(f, 100);

	if (!f->slot[i].open || r < 3) {
		op_create(f, i);
		return;
	}
	if (r < 5) {
		note(f, i, "close(slot %d)", i);
		close_slot(&f->slot[i]);
	} else if (r < 35) {
		op_write(f, i);
	} else if (r < 40) {
		op_writev(f, i);
	} else if (r < 68) {
		op_read(f, i);
	} else if (r < 88) {
		op_poll(f, i);
	} else if (r < 95) {
		op_fcntl(f, i);
	} else {
		op_misc(f, i);
	}
}

/* ---- the modes: evq against a model -------------------------------------- */

/*
 * Native eventfd has no maximum, no bit mode and no wake-one readers, so
 * the modes seeds compare evq with a model of the counter instead: each
 * slot holds one evq counter, always O_NONBLOCK, made by EVQ_IOC_CREATE or
 * by open(2), EVQ_IOC_SET_MAXIMUM and EVQ_IOC_SETUP, with random mode
 * flags, maximum and initial value (invalid ones too), and gets random
 * writes, reads, poll/epoll/select, EVQ_IOC_GET_INFO, EVQ_IOC_SET_MAXIMUM
 * (up, down, below the count, invalid) and a second EVQ_IOC_SETUP. Every
 * result must be the model's: return value, errno, the value read, the
 * mask, every field of the snapshot. Wake-one changes only whom a write
 * wakes, so with one thread its model is the plain counter's.
 */

/* What a write of @v (8 bytes) gives, and what it does to the model. */
static long model_write(struct mslot *m, uint64_t v)
{
	if (m->flags & EVQ_BITS) {
		m->count |= v;
		return 8;
	}
	if (v == UINT64_MAX)
		return -EINVAL;
	if (m->count > m->maximum || m->maximum - m->count < v)
		return -EAGAIN;
	m->count += v;
	return 8;
}

/* The poll mask of the model (the events poll() reports). */
static int model_mask(const struct mslot *m)
{
	int mask = m->count ? POLLIN : 0;

	if (m->flags & EVQ_BITS)
		return mask | POLLOUT;
	if (m->count == UINT64_MAX)
		mask |= POLLERR;
	if (m->count < m->maximum)
		mask |= POLLOUT;
	return mask;
}

/*
 * Close a slot; a fast counter's page is unmapped before or after the
 * close, either order must work.
 */
static void mclose(struct fuzz *f, struct mslot *m)
{
	bool unmap_first = below(f, 2);

	if (!m->open)
		return;
	if ((m->flags & EVQ_FAST) && unmap_first)
		evq_fast_unmap(&m->fast);
	close(m->fd);
	if ((m->flags & EVQ_FAST) && !unmap_first)
		evq_fast_unmap(&m->fast);
	m->open = false;
}

static uint64_t pick_maximum(struct fuzz *f, uint64_t count)
{
	static const uint64_t fixed[] = {
		1, 2, 3, 5, 10, 100, 0xffffffff, COUNT_MAX - 1, COUNT_MAX,
	};

	switch (below(f, 10)) {
	case 0:
		return 0;				/* EINVAL */
	case 1:
		return UINT64_MAX;			/* EINVAL */
	case 2:
		return count;
	case 3:
		return count ? count - 1 : 1;		/* below the count */
	case 4:
		return count + 1 + below(f, 4);
	case 5:
		return rnd(f) >> below(f, 64);
	default:
		return fixed[below(f, ARRAY_SIZE(fixed))];
	}
}

/*
 * Create slot @i: the factory or open+SET_MAXIMUM+SETUP, the model's
 * verdict first (0 or -EINVAL), then the counter's.
 */
static void mop_create(struct fuzz *f, int i)
{
	struct mslot *m = &f->m[i];
	uint32_t flags = 0;
	bool factory = below(f, 2), has_max, bad_pad = !below(f, 32);
	uint64_t initval, maximum, max_now = COUNT_MAX;
	struct evq_info info;
	long want = 0, ret;
	int fd;

	if (!below(f, 3))
		flags |= EVQ_SEMAPHORE;
	if (below(f, 2))
		flags |= EVQ_WAKE_ONE;
	if (!below(f, 3))
		flags |= EVQ_BITS;
	if (!below(f, 3))
		flags |= EVQ_FAST;
	/* Bit mode with a maximum is EINVAL: now and then. */
	has_max = below(f, (flags & EVQ_BITS) ? 8 : 2) == 0;
	maximum = has_max ? pick_maximum(f, 0) : COUNT_MAX;
	switch (below(f, 6)) {
	case 0:
	case 1:
		initval = 0;
		break;
	case 2:
		initval = 1 + below(f, 10);
		break;
	case 3:
		initval = maximum;
		break;
	case 4:
		initval = maximum + 1;
		break;
	default:
		initval = rnd(f) >> below(f, 64);
		break;
	}
	mclose(f, m);
	m->first_op = f->op;
	note(f, i, "create slot %d: %s(initval %#llx, maximum %#llx%s, flags %#x%s)",
	     i, factory ? "EVQ_IOC_CREATE" : "open+SET_MAXIMUM+SETUP",
	     (unsigned long long)initval, (unsigned long long)maximum,
	     has_max ? "" : " (none)", flags, bad_pad ? ", pad 1" : "");

	/*
	 * The model: what the ABI (uapi/linux/evq.h) says. The factory
	 * refuses EVQ_MAXIMUM with EVQ_BITS whatever the value; open+setup
	 * refuses bit mode only on a counter whose maximum is not the
	 * default.
	 */
	if (has_max) {
		if (!maximum || maximum > COUNT_MAX ||
		    (factory && (flags & EVQ_BITS)))
			want = -EINVAL;
		max_now = maximum;
	}
	if ((flags & EVQ_BITS) ?
	    (flags & EVQ_SEMAPHORE) || max_now != COUNT_MAX :
	    initval > max_now)
		want = -EINVAL;
	if ((flags & EVQ_FAST) && (flags & (EVQ_WAKE_ONE | EVQ_BITS)))
		want = -EINVAL;
	if (bad_pad)
		want = -EINVAL;

	if (factory) {
		struct evq_create c = {
			.initval = initval,
			.maximum = has_max ? maximum : 0,
			.flags = flags | EVQ_NONBLOCK | EVQ_CLOEXEC |
				 (has_max ? EVQ_MAXIMUM : 0),
			.pad = bad_pad,
		};

		fd = (int)sys_ret(ioctl(f->factory, EVQ_IOC_CREATE, &c));
		ret = fd < 0 ? fd : 0;
	} else {
		struct evq_setup st = {
			.initval = initval, .flags = flags, .pad = bad_pad,
		};
		const char *dev = getenv("EVQ_DEVICE");

		fd = (int)sys_ret(open(dev && *dev ? dev : EVQ_DEVICE_PATH,
				       O_RDWR | O_NONBLOCK | O_CLOEXEC));
		if (fd < 0) {
			ksft_print_msg("open /dev/evq: %s\n", strerror(-fd));
			f->failed = true;
			return;
		}
		ret = has_max ? sys_ret(ioctl(fd, EVQ_IOC_SET_MAXIMUM,
					      &maximum)) : 0;
		if (!ret)
			ret = sys_ret(ioctl(fd, EVQ_IOC_SETUP, &st));
		if (ret) {
			close(fd);
			fd = -1;
		}
	}
	if (!expect(f, EVQ, "create", want, ret) || ret)
		return;
	*m = (struct mslot){
		.open = true, .fd = fd, .count = initval, .maximum = max_now,
		.flags = flags, .first_op = f->op,
	};
	/* The page of a fast counter; the module says ENODEV for any other. */
	if (flags & EVQ_FAST) {
		ret = evq_fast_map(fd, &m->fast) ? -errno : 0;
		if (!expect(f, EVQ, "evq_fast_map", 0, ret)) {
			close(fd);
			m->open = false;
		}
	} else {
		void *p = mmap(NULL, EVQ_PAGE_SIZE, PROT_READ | PROT_WRITE,
			       MAP_SHARED, fd, 0);

		ret = p == MAP_FAILED ? -errno : 0;
		if (!expect(f, EVQ, "mmap", -ENODEV, ret) && !ret)
			munmap(p, EVQ_PAGE_SIZE);
	}
	ret = sys_ret(ioctl(fd, EVQ_IOC_GET_INFO, &info));
	if (expect(f, EVQ, "GET_INFO after create", 0, ret))
		m->id = info.id;
}

static uint64_t pick_mode_value(struct fuzz *f, const struct mslot *m)
{
	switch (below(f, 12)) {
	case 0:
		return 0;
	case 1:
	case 2:
		return 1 + below(f, 5);
	case 3:
		return COUNT_MAX;
	case 4:
		return UINT64_MAX;
	case 5:
		return m->maximum - m->count;	/* exactly to the maximum */
	case 6:
		return m->maximum - m->count + 1;	/* one over */
	case 7:
		return 1ULL << below(f, 64);
	case 8:
		return rnd(f) >> below(f, 64);
	default:
		return below(f, 1000);
	}
}

static void mop_write(struct fuzz *f, int i)
{
	struct mslot *m = &f->m[i];
	uint64_t v = pick_mode_value(f, m);
	size_t len = below(f, 10) ? 8 : 4;
	long want, ret;

	note(f, i, "write(slot %d, %#llx, %zu bytes) at count %#llx, maximum %#llx",
	     i, (unsigned long long)v, len, (unsigned long long)m->count,
	     (unsigned long long)m->maximum);
	ret = sys_ret(write(m->fd, &v, len));
	want = len == 8 ? model_write(m, v) : -EINVAL;
	expect(f, EVQ, "write", want, ret);
}

static void mop_read(struct fuzz *f, int i)
{
	static const size_t sizes[] = { 4, 8, 8, 8, 8, 16 };
	struct mslot *m = &f->m[i];
	size_t len = sizes[below(f, ARRAY_SIZE(sizes))];
	uint64_t buf[2] = { POISON64, POISON64 }, v;
	long want = 8, ret;

	note(f, i, "read(slot %d, %zu bytes) at count %#llx", i, len,
	     (unsigned long long)m->count);
	ret = sys_ret(read(m->fd, buf, len));
	if (len < 8)
		want = -EINVAL;
	else if (!m->count)
		want = -EAGAIN;
	if (!expect(f, EVQ, "read", want, ret) || ret != 8)
		return;
	v = (m->flags & EVQ_SEMAPHORE) ? 1 : m->count;
	m->count -= v;
	if (buf[0] != v) {
		ksft_print_msg("evq: read %#llx, the model says %#llx\n",
			       (unsigned long long)buf[0],
			       (unsigned long long)v);
		f->failed = true;
	}
}

/* What the fast path returns, as a system call would: 8 or -errno. */
static long fast_ret(int ret)
{
	return ret < 0 ? -errno : 8;
}

/* EVQ_FAST: a signal through the page, as a write(2) in the model. */
static void mop_fast_signal(struct fuzz *f, int i)
{
	struct mslot *m = &f->m[i];
	uint64_t v = pick_mode_value(f, m);

	note(f, i, "evq_fast_signal(slot %d, %#llx) at count %#llx, maximum %#llx",
	     i, (unsigned long long)v, (unsigned long long)m->count,
	     (unsigned long long)m->maximum);
	expect(f, EVQ, "evq_fast_signal", model_write(m, v),
	       fast_ret(evq_fast_signal(&m->fast, v)));
}

/* EVQ_FAST: a take through the page, as a non-blocking read. */
static void mop_fast_take(struct fuzz *f, int i)
{
	struct mslot *m = &f->m[i];
	uint64_t got = POISON64, v;
	long ret;

	note(f, i, "evq_fast_take(slot %d) at count %#llx", i,
	     (unsigned long long)m->count);
	ret = fast_ret(evq_fast_take(&m->fast, &got));
	if (!expect(f, EVQ, "evq_fast_take", m->count ? 8 : -EAGAIN, ret) ||
	    ret != 8)
		return;
	v = (m->flags & EVQ_SEMAPHORE) ? 1 : m->count;
	m->count -= v;
	if (got != v) {
		ksft_print_msg("evq: evq_fast_take %#llx, the model says %#llx\n",
			       (unsigned long long)got, (unsigned long long)v);
		f->failed = true;
	}
}

static void mop_poll(struct fuzz *f, int i)
{
	static const char *const kinds[] = { "poll", "epoll", "select" };
	struct mslot *m = &f->m[i];
	int kind = (int)below(f, 3), want = model_mask(m), got;

	note(f, i, "%s(slot %d) at count %#llx, maximum %#llx", kinds[kind],
	     i, (unsigned long long)m->count, (unsigned long long)m->maximum);
	if (kind == 0) {
		got = poll_mask(m->fd);
	} else if (kind == 1) {
		got = epoll_mask(m->fd);
	} else {
		got = select_mask(m->fd);
		want = ((want & (POLLIN | POLLERR)) ? SEL_READ : 0) |
		       ((want & (POLLOUT | POLLERR)) ? SEL_WRITE : 0);
	}
	expect(f, EVQ, kinds[kind], want, got);
}

static void mop_info(struct fuzz *f, int i)
{
	struct mslot *m = &f->m[i];
	struct evq_info info;
	bool reserved = false;
	long ret;
	int k;

	note(f, i, "GET_INFO(slot %d)", i);
	memset(&info, 0xa5, sizeof(info));
	ret = sys_ret(ioctl(m->fd, EVQ_IOC_GET_INFO, &info));
	if (!expect(f, EVQ, "GET_INFO", 0, ret))
		return;
	for (k = 0; k < 4; k++)
		reserved |= info.reserved[k] != 0;
	if ((m->flags & EVQ_FAST) &&
	    (m->fast.page->count != m->count ||
	     m->fast.page->maximum != m->maximum ||
	     m->fast.page->flags != m->flags)) {
		ksft_print_msg("page: count %#llx maximum %#llx flags %#x; the model: %#llx %#llx %#x\n",
			       (unsigned long long)m->fast.page->count,
			       (unsigned long long)m->fast.page->maximum,
			       m->fast.page->flags,
			       (unsigned long long)m->count,
			       (unsigned long long)m->maximum, m->flags);
		f->failed = true;
	}
	if (info.count != m->count || info.maximum != m->maximum ||
	    info.flags != m->flags || info.id != m->id || info.readers ||
	    info.writers || reserved) {
		ksft_print_msg("GET_INFO: count %#llx maximum %#llx flags %#x id %u readers %u writers %u reserved %s; the model: %#llx %#llx %#x %u 0 0 zero\n",
			       (unsigned long long)info.count,
			       (unsigned long long)info.maximum, info.flags,
			       info.id, info.readers, info.writers,
			       reserved ? "non-zero" : "zero",
			       (unsigned long long)m->count,
			       (unsigned long long)m->maximum, m->flags, m->id);
		f->failed = true;
	}
}

static void mop_set_maximum(struct fuzz *f, int i)
{
	struct mslot *m = &f->m[i];
	uint64_t v = pick_maximum(f, m->count);
	long want = 0, ret;

	note(f, i, "SET_MAXIMUM(slot %d, %#llx) at count %#llx, maximum %#llx",
	     i, (unsigned long long)v, (unsigned long long)m->count,
	     (unsigned long long)m->maximum);
	ret = sys_ret(ioctl(m->fd, EVQ_IOC_SET_MAXIMUM, &v));
	if (!v || v > COUNT_MAX || (m->flags & EVQ_BITS))
		want = -EINVAL;
	if (expect(f, EVQ, "SET_MAXIMUM", want, ret) && !ret)
		m->maximum = v;
}

/* A second EVQ_IOC_SETUP: EBUSY, whichever way the counter was made. */
static void mop_setup_again(struct fuzz *f, int i)
{
	struct evq_setup st = { 0 };

	note(f, i, "SETUP again(slot %d)", i);
	expect(f, EVQ, "second SETUP", -EBUSY,
	       sys_ret(ioctl(f->m[i].fd, EVQ_IOC_SETUP, &st)));
}

/* One random op of a modes seed. */
static void mstep(struct fuzz *f)
{
	int i = (int)below(f, N_SLOTS);
	unsigned int r = below(f, 100);

	if (!f->m[i].open || r < 3) {
		mop_create(f, i);
	} else if (r < 5) {
		note(f, i, "close(slot %d)", i);
		mclose(f, &f->m[i]);
	} else if (r < 40) {
		if ((f->m[i].flags & EVQ_FAST) && below(f, 2))
			mop_fast_signal(f, i);
		else
			mop_write(f, i);
	} else if (r < 68) {
		if ((f->m[i].flags & EVQ_FAST) && below(f, 2))
			mop_fast_take(f, i);
		else
			mop_read(f, i);
	} else if (r < 83) {
		mop_poll(f, i);
	} else if (r < 91) {
		mop_info(f, i);
	} else if (r < 99) {
		mop_set_maximum(f, i);
	} else {
		mop_setup_again(f, i);
	}
}

/* ---- progress ------------------------------------------------------------ */

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * Progress of the whole run, for long runs (make fuzz): a line every
 * progress_secs seconds with the ops done so far and the rate, so that
 * someone watching the console, or a watchdog, sees the run is alive.
 */
struct progress {
	double start;		/* of the run */
	double last;		/* last line printed */
	double every;		/* seconds between lines, 0 for none */
	long done;		/* ops finished before the current seed */
	long total;		/* ops the whole run will make */
};

static struct progress prog;

static void progress_tick(uint64_t seed, long done_in_seed)
{
	double t = now_s();
	long done = prog.done + done_in_seed;

	if (prog.every <= 0 || t - prog.last < prog.every)
		return;
	prog.last = t;
	ksft_print_msg("progress: seed %llu, %ld of %ld ops, %.0f ops/s, %.0f s\n",
		       (unsigned long long)seed, done, prog.total,
		       (double)done / (t - prog.start), t - prog.start);
}

/*
 * Run one seed; true if the two sides never differed. @modes: a modes
 * seed, evq against the model (the same seed gives other ops than a
 * plain one).
 */
static bool run_seed(uint64_t seed, long nops, bool legacy, bool is_native,
		     bool modes)
{
	struct fuzz f = {
		.rng = modes ? ~seed : seed,
		.legacy_write = legacy,
		.evq_is_native = is_native,
		.modes = modes,
		.factory = -1,
	};
	long ring = nops < LOG_RING ? nops : LOG_RING;
	const char *dev = getenv("EVQ_DEVICE");
	int i;

	if (!is_native) {
		f.factory = open(dev && *dev ? dev : EVQ_DEVICE_PATH,
				 O_RDWR | O_CLOEXEC);
		if (f.factory < 0)
			ksft_exit_fail_msg("open %s: %s\n",
					   dev && *dev ? dev : EVQ_DEVICE_PATH,
					   strerror(errno));
	}
	f.log = calloc((size_t)ring, sizeof(*f.log));
	f.log_slot = calloc((size_t)ring, sizeof(*f.log_slot));
	if (!f.log || !f.log_slot)
		ksft_exit_fail_msg("out of memory for a log of %ld ops\n", ring);
	for (f.op = 0; f.op < nops; f.op++) {
		f.log[f.op % LOG_RING][0] = '\0';
		f.log_slot[f.op % LOG_RING] = -1;
		if (modes)
			mstep(&f);
		else
			step(&f);
		if (f.failed) {
			dump_sequence(&f, f.log_slot[f.op % LOG_RING], seed);
			break;
		}
		if (!(f.op % PROGRESS_EVERY))
			progress_tick(seed, f.op);
	}
	for (i = 0; i < N_SLOTS; i++) {
		close_slot(&f.slot[i]);
		mclose(&f, &f.m[i]);
	}
	if (f.factory >= 0)
		close(f.factory);
	if (!f.failed && modes)
		ksft_print_msg("seed %llu: modes: %ld ops, evq and the model agree\n",
			       (unsigned long long)seed, nops);
	else if (!f.failed)
		ksft_print_msg("seed %llu: %ld ops, no difference (%ld left out as blocking)\n",
			       (unsigned long long)seed, nops, f.skipped);
	prog.done += f.op;
	free(f.log);
	free(f.log_slot);
	return !f.failed;
}


/* ---- concurrent mode ------------------------------------------------------ */

/*
 * Threads share CONC_COUNTERS counters of each kind, all O_NONBLOCK;
 * counters 0 and 1 are plain, 2 and 3 semaphore. Each step of a thread
 * picks a counter and an operation with its parameters and applies it to
 * the native counter and then to the evq counter of that index, so both
 * kinds see operations of the same shape at the same rate. Counts cannot
 * be compared op by op under concurrency; what is checked instead:
 *  - each result is one the operation may give in some interleaving:
 *    EINVAL exactly for a bad size or ULLONG_MAX, EAGAIN only where the
 *    count may be 0 or full, a read never returns 0, a semaphore read
 *    always 1, a poll mask always EPOLLIN and/or EPOLLOUT and nothing else;
 *  - per counter and kind, once every thread has finished: the sum of
 *    all values read plus what is left equals the sum of all values
 *    written (mod 2^64), and poll, epoll and select report exactly what
 *    the count left says;
 *  - no thread is stuck: a watchdog fails the run if one makes no
 *    progress for CONC_STALL_S seconds (every operation is non-blocking,
 *    waits are bounded by a 1 ms timeout).
 * Semaphore counters get writes of 0 to 2 and more reads than writes, so
 * they stay near 0 and can be drained one read at a time at the end; plain
 * counters also get writes close to the maximum, so that full counters
 * and EAGAIN on write happen.
 */
#define CONC_COUNTERS		4
#define CONC_SEM(i)		((i) >= 2)
#define CONC_STALL_S		60
#define CONC_DEFAULT_THREADS	4
#define CONC_DEFAULT_OPS	100000

enum conc_op {
	C_WRITE, C_WRITEV, C_READ, C_POLL, C_WAIT, C_SELECT, C_GETFL, C_NOPS,
};

static const char *const conc_op_name[C_NOPS] = {
	"write", "writev", "read", "poll", "epoll_wait(1 ms)", "select",
	"F_GETFL",
};

/* One thread's account of one counter of one kind. */
struct conc_tally {
	uint64_t written;	/* sum of values written, mod 2^64 */
	uint64_t read;		/* sum of values read, mod 2^64 */
	uint64_t reads;		/* successful reads */
	uint64_t eagain;	/* EAGAIN results, reads and writes */
};

struct conc_run {
	int fd[N_SIDES][CONC_COUNTERS];
	long ops_per_thread;
	atomic_bool stop;	/* a thread failed: everyone ends */
};

struct conc_thread {
	pthread_t tid;
	struct conc_run *run;
	uint64_t rng;
	int ep[N_SIDES][CONC_COUNTERS];	/* own edge-triggered epoll sets */
	struct conc_tally t[N_SIDES][CONC_COUNTERS];
	atomic_long done;		/* ops finished */
	atomic_int now;			/* op * 16 + counter, for a stuck report */
	atomic_bool finished;
	long last;			/* the watchdog's: done when last seen */
	double since;			/* and since when */
	char why[200];			/* the first failure */
};

static bool __printf(2, 3)
conc_fail(struct conc_thread *th, const char *fmt, ...)
{
	va_list ap;

	if (!th->why[0]) {
		va_start(ap, fmt);
		vsnprintf(th->why, sizeof(th->why), fmt, ap);
		va_end(ap);
	}
	atomic_store(&th->run->stop, true);
	return false;
}

static uint64_t conc_value(struct conc_thread *th, int i)
{
	unsigned int r = (unsigned int)(splitmix(&th->rng) % 20);

	if (CONC_SEM(i))
		return r % 3;
	if (r == 0)
		return UINT64_MAX;			/* EINVAL */
	if (r == 1)
		return COUNT_MAX - splitmix(&th->rng) % (1 << 20); /* near max */
	if (r < 4)
		return 0;
	return splitmix(&th->rng) % (r < 12 ? 6 : 100000);
}

/* Check a mask from poll() (@is_select: select bits) for any count. */
static bool conc_mask_ok(struct conc_thread *th, enum side s, int i,
			 const char *what, int m, bool is_select)
{
	int any = is_select ? SEL_READ | SEL_WRITE : POLLIN | POLLOUT;

	if (m > 0 && !(m & ~any))
		return true;
	return conc_fail(th, "%s counter %d: %s mask %#x, want POLLIN and/or POLLOUT and nothing else",
			 side_name[s], i, what, (unsigned int)m);
}

/* A write result: 8, or EAGAIN where a full counter is possible. */
static bool conc_write_ok(struct conc_thread *th, enum side s, int i,
			  uint64_t v, size_t len, long ret)
{
	struct conc_tally *t = &th->t[s][i];
	long want_err = len != 8 || v == UINT64_MAX ? -EINVAL : 0;

	if (want_err) {
		if (ret == want_err)
			return true;
		return conc_fail(th, "%s counter %d: write(%#llx, %zu bytes) returned %ld, want EINVAL",
				 side_name[s], i, (unsigned long long)v, len,
				 ret);
	}
	if (ret == 8) {
		t->written += v;
		return true;
	}
	if (ret == -EAGAIN && !CONC_SEM(i)) {
		t->eagain++;
		return true;
	}
	return conc_fail(th, "%s counter %d: write(%#llx) returned %ld (%s), want 8%s",
			 side_name[s], i, (unsigned long long)v, ret,
			 ret < 0 ? strerror((int)-ret) : "-",
			 CONC_SEM(i) ? " (a semaphore counter is never near full)" :
				       " or EAGAIN");
}

/* A read result: 8 with a non-zero value (1 in semaphore mode), or EAGAIN. */
static bool conc_read_ok(struct conc_thread *th, enum side s, int i,
			 size_t len, long ret, uint64_t v)
{
	struct conc_tally *t = &th->t[s][i];

	if (len < 8) {
		if (ret == -EINVAL)
			return true;
		return conc_fail(th, "%s counter %d: read of %zu bytes returned %ld, want EINVAL",
				 side_name[s], i, len, ret);
	}
	if (ret == -EAGAIN) {
		t->eagain++;
		return true;
	}
	if (ret != 8)
		return conc_fail(th, "%s counter %d: read returned %ld (%s), want 8 or EAGAIN",
				 side_name[s], i, ret,
				 ret < 0 ? strerror((int)-ret) : "-");
	if (CONC_SEM(i) ? v != 1 : v == 0)
		return conc_fail(th, "%s counter %d: read %#llx, want %s",
				 side_name[s], i, (unsigned long long)v,
				 CONC_SEM(i) ? "1 (semaphore)" : "non-zero");
	t->read += v;
	t->reads++;
	return true;
}

/* One step: one op with its parameters, on both kinds of counter @i. */
static bool conc_step(struct conc_thread *th)
{
	static const size_t rsizes[] = { 4, 8, 8, 8, 8, 16 };
	static const size_t wsizes[] = { 4, 8, 8, 8, 8, 8, 8 };
	int i = (int)(splitmix(&th->rng) % CONC_COUNTERS);
	unsigned int r = (unsigned int)(splitmix(&th->rng) % 100);
	uint64_t v[2] = { conc_value(th, i), conc_value(th, i) };
	size_t len = 8;
	enum conc_op op;
	int s;

	/* Semaphore counters: more reads than (small) writes, see above. */
	if (r < (CONC_SEM(i) ? 15 : 35))
		op = C_WRITE;
	else if (r < (CONC_SEM(i) ? 20 : 40))
		op = C_WRITEV;
	else if (r < 75)
		op = C_READ;
	else if (r < 85)
		op = C_POLL;
	else if (r < 93)
		op = C_WAIT;
	else if (r < 98)
		op = C_SELECT;
	else
		op = C_GETFL;
	if (op == C_WRITE)
		len = wsizes[splitmix(&th->rng) % ARRAY_SIZE(wsizes)];
	else if (op == C_READ)
		len = rsizes[splitmix(&th->rng) % ARRAY_SIZE(rsizes)];
	atomic_store(&th->now, (int)op * 16 + i);

	for (s = 0; s < N_SIDES; s++) {
		int fd = th->run->fd[s][i];
		unsigned char buf[16];
		struct epoll_event ev;
		struct iovec iov[2];
		uint64_t got = 0;
		long ret;
		int k;

		switch (op) {
		case C_WRITE:
			memset(buf, 0, sizeof(buf));
			memcpy(buf, &v[0], sizeof(v[0]));
			ret = sys_ret(write(fd, buf, len));
			if (!conc_write_ok(th, s, i, v[0], len, ret))
				return false;
			break;
		case C_WRITEV:
			iov[0] = (struct iovec){ &v[0], 8 };
			iov[1] = (struct iovec){ &v[1], 8 };
			ret = sys_ret(writev(fd, iov, 2));
			/* Segment by segment, up to the first that fails. */
			if (ret == 16) {
				th->t[s][i].written += v[0] + v[1];
			} else if (ret == 8) {
				th->t[s][i].written += v[0];
				if (v[1] != UINT64_MAX && CONC_SEM(i))
					return conc_fail(th, "%s counter %d: writev stopped after one segment",
							 side_name[s], i);
			} else if (!conc_write_ok(th, s, i, v[0], 8, ret)) {
				return false;
			}
			break;
		case C_READ:
			memset(buf, 0xa5, sizeof(buf));
			ret = sys_ret(read(fd, buf, len));
			memcpy(&got, buf, sizeof(got));
			if (!conc_read_ok(th, s, i, len, ret, got))
				return false;
			break;
		case C_POLL:
			if (!conc_mask_ok(th, s, i, "poll", poll_mask(fd),
					  false))
				return false;
			break;
		case C_WAIT:
			k = epoll_wait(th->ep[s][i], &ev, 1, 1);
			if (k < 0)
				return conc_fail(th, "%s counter %d: epoll_wait: %s",
						 side_name[s], i,
						 strerror(errno));
			if (k && !conc_mask_ok(th, s, i, "epoll edge",
					       (int)ev.events, false))
				return false;
			break;
		case C_SELECT:
			if (!conc_mask_ok(th, s, i, "select", select_mask(fd),
					  true))
				return false;
			break;
		default:
			ret = sys_ret(fcntl(fd, F_GETFL));
			if (ret != (O_RDWR | O_NONBLOCK))
				return conc_fail(th, "%s counter %d: F_GETFL %#lx, want O_RDWR|O_NONBLOCK",
						 side_name[s], i, ret);
			break;
		}
	}
	return true;
}

static void *conc_thread_fn(void *arg)
{
	struct conc_thread *th = arg;
	long n;

	for (n = 0; n < th->run->ops_per_thread; n++) {
		if (atomic_load_explicit(&th->run->stop, memory_order_relaxed) ||
		    !conc_step(th))
			break;
		atomic_store_explicit(&th->done, n + 1, memory_order_relaxed);
	}
	atomic_store(&th->finished, true);
	return NULL;
}

/*
 * Wait for every thread; print progress. False if one made no progress
 * for CONC_STALL_S seconds (it is then left running: the caller exits).
 */
static bool conc_watch(struct conc_thread *th, int n, uint64_t seed)
{
	int k, running;

	for (k = 0; k < n; k++) {
		th[k].last = -1;
		th[k].since = now_s();
	}
	do {
		long done = 0;
		double t;

		usleep(100 * 1000);
		t = now_s();
		running = 0;
		for (k = 0; k < n; k++) {
			long d = atomic_load(&th[k].done);

			done += d;
			if (atomic_load(&th[k].finished))
				continue;
			running++;
			if (d != th[k].last) {
				th[k].last = d;
				th[k].since = t;
			} else if (t - th[k].since > CONC_STALL_S) {
				int now = atomic_load(&th[k].now);

				ksft_print_msg("seed %llu: thread %d STUCK for %d s in %s on counter %d after %ld ops\n",
					       (unsigned long long)seed, k,
					       CONC_STALL_S, conc_op_name[now / 16],
					       now % 16, d);
				return false;
			}
		}
		progress_tick(seed, done);
	} while (running);
	for (k = 0; k < n; k++)
		pthread_join(th[k].tid, NULL);
	return true;
}

/*
 * Counter @i of kind @s at quiescence: the masks say what the count is,
 * and what was read plus what is left is what was written.
 */
static bool conc_settle(int fd, enum side s, int i, struct conc_thread *th,
			int n, uint64_t seed)
{
	struct conc_tally sum = { 0 };
	uint64_t left = 0, v;
	int k, want, m[3];
	bool ok = true;
	long ret;

	for (k = 0; k < n; k++) {
		sum.written += th[k].t[s][i].written;
		sum.read += th[k].t[s][i].read;
		sum.reads += th[k].t[s][i].reads;
		sum.eagain += th[k].t[s][i].eagain;
	}
	/* The masks before draining, against the count the drain finds. */
	m[0] = poll_mask(fd);
	m[1] = epoll_mask(fd);
	m[2] = select_mask(fd);
	while ((ret = sys_ret(read(fd, &v, sizeof(v)))) == 8) {
		left += v;
		if (!CONC_SEM(i))
			break;
	}
	if (ret != 8 && ret != -EAGAIN) {
		ksft_print_msg("%s counter %d: draining read returned %ld (%s)\n",
			       side_name[s], i, ret, strerror((int)-ret));
		ok = false;
	}
	want = (left ? POLLIN : 0) | (left < COUNT_MAX ? POLLOUT : 0);
	if (m[0] != want || m[1] != want ||
	    m[2] != ((left ? SEL_READ : 0) | (left < COUNT_MAX ? SEL_WRITE : 0))) {
		ksft_print_msg("%s counter %d at rest with %#llx left: poll %#x, epoll %#x, select %#x; want poll/epoll %#x\n",
			       side_name[s], i, (unsigned long long)left, m[0],
			       m[1], m[2], want);
		ok = false;
	}
	if (poll_mask(fd) != POLLOUT) {
		ksft_print_msg("%s counter %d: poll %#x after draining, want POLLOUT\n",
			       side_name[s], i, poll_mask(fd));
		ok = false;
	}
	if (sum.read + left != sum.written) {
		uint64_t got = sum.read + left;

		ksft_print_msg("%s counter %d: LOST OR INVENTED VALUES: written %#llx, read %#llx + left %#llx = %#llx\n",
			       side_name[s], i, (unsigned long long)sum.written,
			       (unsigned long long)sum.read,
			       (unsigned long long)left, (unsigned long long)got);
		ok = false;
	}
	ksft_print_msg("seed %llu: %s counter %d (%s): written %#llx, read %#llx in %llu reads, left %#llx, %llu EAGAIN\n",
		       (unsigned long long)seed, side_name[s], i,
		       CONC_SEM(i) ? "semaphore" : "plain",
		       (unsigned long long)sum.written,
		       (unsigned long long)sum.read,
		       (unsigned long long)sum.reads, (unsigned long long)left,
		       (unsigned long long)sum.eagain);
	return ok;
}

/* One seed of the concurrent mode; true if every check held. */
static bool run_concurrent(uint64_t seed, long nops, int nthreads,
			   bool is_native)
{
	struct conc_run run = { .ops_per_thread = (nops + nthreads - 1) / nthreads };
	struct conc_thread *th = calloc((size_t)nthreads, sizeof(*th));
	bool ok = true;
	int i, k, s;

	if (!th)
		ksft_exit_fail_msg("out of memory for %d threads\n", nthreads);
	atomic_init(&run.stop, false);
	for (s = 0; s < N_SIDES; s++) {
		for (i = 0; i < CONC_COUNTERS; i++) {
			int flags = EFD_NONBLOCK | EFD_CLOEXEC |
				    (CONC_SEM(i) ? EFD_SEMAPHORE : 0);
			struct fuzz f = { .evq_is_native = is_native };

			run.fd[s][i] = make_counter(&f, s, 0, flags, false);
			if (run.fd[s][i] < 0)
				ksft_exit_fail_msg("%s counter: %s\n",
						   side_name[s], strerror(errno));
		}
	}
	for (k = 0; k < nthreads; k++) {
		th[k].run = &run;
		th[k].rng = seed * 1000003 + (uint64_t)k;
		atomic_init(&th[k].done, 0);
		atomic_init(&th[k].now, 0);
		atomic_init(&th[k].finished, false);
		for (s = 0; s < N_SIDES; s++) {
			for (i = 0; i < CONC_COUNTERS; i++) {
				struct epoll_event ev = {
					.events = EPOLLIN | EPOLLOUT | EPOLLET,
				};

				th[k].ep[s][i] = epoll_create1(EPOLL_CLOEXEC);
				if (th[k].ep[s][i] < 0 ||
				    epoll_ctl(th[k].ep[s][i], EPOLL_CTL_ADD,
					      run.fd[s][i], &ev))
					ksft_exit_fail_msg("epoll setup: %s\n",
							   strerror(errno));
			}
		}
	}
	for (k = 0; k < nthreads; k++)
		if (pthread_create(&th[k].tid, NULL, conc_thread_fn, &th[k]))
			ksft_exit_fail_msg("pthread_create failed\n");
	if (!conc_watch(th, nthreads, seed)) {
		ksft_test_result_fail("concurrent_ops.seed_%llu\n",
				      (unsigned long long)seed);
		ksft_exit_fail_msg("a thread is stuck; not waiting for it\n");
	}
	for (k = 0; k < nthreads; k++) {
		if (th[k].why[0]) {
			ksft_print_msg("seed %llu: thread %d after %ld ops: %s\n",
				       (unsigned long long)seed, k,
				       atomic_load(&th[k].done), th[k].why);
			ok = false;
		}
		prog.done += atomic_load(&th[k].done);
	}
	for (s = 0; s < N_SIDES; s++)
		for (i = 0; i < CONC_COUNTERS; i++)
			ok &= conc_settle(run.fd[s][i], s, i, th, nthreads,
					  seed);
	if (!ok)
		ksft_print_msg("replay: EVQ_FUZZ_SEED=%llu EVQ_FUZZ_SEEDS=1 EVQ_FUZZ_OPS=%ld EVQ_FUZZ_THREADS=%d (the interleaving differs from run to run)\n",
			       (unsigned long long)seed, nops, nthreads);
	for (k = 0; k < nthreads; k++)
		for (s = 0; s < N_SIDES; s++)
			for (i = 0; i < CONC_COUNTERS; i++)
				close(th[k].ep[s][i]);
	for (s = 0; s < N_SIDES; s++)
		for (i = 0; i < CONC_COUNTERS; i++)
			close(run.fd[s][i]);
	free(th);
	return ok;
}

static long arg_or_env(int argc, char **argv, int idx, const char *env,
		       long def)
{
	const char *s = argc > idx ? argv[idx] : getenv(env);
	char *end;
	long v;

	if (!s || !*s)
		return def;
	v = strtol(s, &end, 0);
	if (*end || v < 0)
		ksft_exit_fail_msg("bad %s: %s\n", env, s);
	return v;
}

int main(int argc, char **argv)
{
	long nops = arg_or_env(argc, argv, 1, "EVQ_FUZZ_OPS", 10000);
	long nseeds = arg_or_env(argc, argv, 2, "EVQ_FUZZ_SEEDS", 8);
	long first = arg_or_env(argc, argv, 3, "EVQ_FUZZ_SEED", 1);
	long threads = arg_or_env(argc, argv, 4, "EVQ_FUZZ_THREADS", -1);
	const char *env = getenv("EVQ_TEST_EVQ_IS_NATIVE");
	bool is_native = env && !strcmp(env, "1");
	bool legacy = kernel_before_6_9();
	/* Unset: the sequential seeds, then one concurrent case. */
	long nseq = threads > 0 ? 0 : nseeds;
	long nconc = threads > 0 ? nseeds : threads < 0 ? 1 : 0;
	long conc_ops = threads > 0 ? nops : CONC_DEFAULT_OPS;
	/* The modes need /dev/evq: not with both sides native. */
	long nmodes = is_native ? 0 : nseq;
	double t;
	long s;

	if (nops < 1 || nseeds < 1)
		ksft_exit_fail_msg("need at least one op and one seed\n");
	if (threads < 0)
		threads = CONC_DEFAULT_THREADS;
	ksft_print_header();
	ksft_set_plan((unsigned int)(nseq + nmodes + nconc));
	prog.every = (double)arg_or_env(0, argv, 0, "EVQ_FUZZ_PROGRESS", 5);
	prog.total = (nseq + nmodes) * nops + nconc * conc_ops;
	prog.start = now_s();
	prog.last = prog.start;
	if (nseq)
		ksft_print_msg("%ld seeds from %ld, %ld ops each; native %s write(2) of more than 8 bytes%s\n",
			       nseq, first, nops,
			       legacy ? "accepts" : "rejects",
			       is_native ? "; EVQ_TEST_EVQ_IS_NATIVE=1: both sides native" : "");
	for (s = first; s < first + nseq; s++) {
		if (run_seed((uint64_t)s, nops, legacy, is_native, false))
			ksft_test_result_pass("random_ops.seed_%ld\n", s);
		else
			ksft_test_result_fail("random_ops.seed_%ld\n", s);
	}
	if (nmodes)
		ksft_print_msg("modes: %ld seeds from %ld, %ld ops each, evq's own modes against a model\n",
			       nmodes, first, nops);
	else if (nseq)
		ksft_print_msg("modes: not run (EVQ_TEST_EVQ_IS_NATIVE=1: no /dev/evq)\n");
	for (s = first; s < first + nmodes; s++) {
		if (run_seed((uint64_t)s, nops, legacy, is_native, true))
			ksft_test_result_pass("modes_ops.seed_%ld\n", s);
		else
			ksft_test_result_fail("modes_ops.seed_%ld\n", s);
	}
	if (nconc)
		ksft_print_msg("concurrent: %ld seeds from %ld, %ld ops each over %ld threads, %d counters of each kind%s\n",
			       nconc, first, conc_ops, threads, CONC_COUNTERS,
			       is_native ? "; EVQ_TEST_EVQ_IS_NATIVE=1: both kinds native" : "");
	for (s = first; s < first + nconc; s++) {
		if (run_concurrent((uint64_t)s, conc_ops, (int)threads,
				   is_native))
			ksft_test_result_pass("concurrent_ops.seed_%ld\n", s);
		else
			ksft_test_result_fail("concurrent_ops.seed_%ld\n", s);
	}
	t = now_s() - prog.start;
	ksft_print_msg("total: %ld operations in %.1f s, %.0f ops/s\n",
		       prog.done, t, t > 0 ? (double)prog.done / t : 0.0);
	ksft_finished();
	return 0;
}
