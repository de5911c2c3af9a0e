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
 * The modes seeds (evq_fuzz_modes.c) test what native eventfd does
 * not have, a maximum, bit mode, wake-one and the fast path (EVQ_FAST:
 * signals and takes through the mapped page, mixed with the system calls,
 * the page checked against the model), against a model of the counter;
 * each sequential seed N also runs as "modes_ops.seed_N".
 *
 * The concurrent mode (evq_fuzz_conc.c) runs threads on
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
 *
 * This file has main(), the sequential differential seeds and what runs a
 * seed; evq_fuzz.h says what the program's other files cover.
 */
#include "evq_fuzz.h"

const char *const side_name[N_SIDES] = { "native", "evq" };

/* ---- helpers ------------------------------------------------------------- */

/* Append a description of the current op to the log. */
void __printf(3, 4)
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

bool expect(struct fuzz *f, enum side s, const char *what, long want,
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
int make_counter(struct fuzz *f, enum side s, unsigned int initval,
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

/*
 * A value to write to a counter at @count that holds up to @maximum
 * (COUNT_MAX but in the modes seeds): 0, small ones, the limits, exactly
 * to @maximum and one over, a high bit (bit 63, or any one bit if
 * @any_bit), random bits. The plain and the modes seeds share it.
 */
uint64_t pick_value(struct fuzz *f, uint64_t count, uint64_t maximum,
		    bool any_bit)
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
		return maximum - count;		/* exactly to the maximum */
	case 6:
		return maximum - count + 1;	/* one over */
	case 7:
		return any_bit ? 1ULL << below(f, 64) : 1ULL << 63;
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
	uint64_t v = pick_value(f, sl->count, COUNT_MAX, false);
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
	uint64_t v[2] = {
		pick_value(f, sl->count, COUNT_MAX, false), below(f, 3)
	};
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

/* ---- progress and the run of a seed -------------------------------------- */

struct progress prog;

void progress_tick(uint64_t seed, long done_in_seed)
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
	int i;

	if (!is_native) {
		f.factory = open(evq_device(), O_RDWR | O_CLOEXEC);
		if (f.factory < 0)
			ksft_exit_fail_msg("open %s: %s\n", evq_device(),
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

/* ---- kselftest's counts, for the other files ----------------------------- */

/* conc_result_fail() and fuzz_exit_fail_msg(): see evq_fuzz.h. */
void conc_result_fail(uint64_t seed)
{
	ksft_test_result_fail("concurrent_ops.seed_%llu\n",
			      (unsigned long long)seed);
}

void fuzz_exit_fail_msg(const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	ksft_exit_fail_msg("%s", msg);
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
