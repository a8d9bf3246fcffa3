/* SPDX-License-Identifier: BSD-2-Clause */
/* Per-account shared state (quota usage, bandwidth clocks, session reservations) in a
 * small mmap'd file, and concurrent-login slots as OFD byte locks. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "berth/common.h"
#include "berth/policy_state.h"
#include "berth/xmem.h"

#define STATE_MAGIC   0x42505354u /* "BPST" */
#define STATE_VERSION 1u
#define STATE_SLOTS   64
#define STATE_SIZE    4096
#define LOCK_INIT     0          /* byte locked while initialising or scanning */
#define LOCK_SLOT0    STATE_SIZE /* byte STATE_SIZE + i marks the owner of slot i */

struct state_slot {
	uint64_t bytes, files;
};

/* The file layout (native endianness: the file never leaves the machine). */
struct state_file {
	uint32_t magic;
	uint32_t version;
	uint32_t valid; /* usage known */
	uint32_t pad;
	uint64_t bytes, files;
	uint64_t tat[2];  /* GCRA theoretical arrival time per direction, CLOCK_MONOTONIC ns */
	uint64_t changes; /* bumped by every change of the usage (policy_state_rescan()) */
	uint64_t reserved[7];
	struct state_slot slots[STATE_SLOTS];
};
_Static_assert(sizeof(struct state_file) <= STATE_SIZE, "state file layout");

struct policy_state {
	struct state_file *f;
	int fd; /* -1 for an anonymous state */
	int slot;
};

char *
policy_state_file_name(const char *account)
{
	size_t n = strlen(account);
	char *out = xmalloc(3 * n + 1), *o = out;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)account[i];
		bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		             (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '+' ||
		             c == '@' || (c == '.' && i > 0);
		if (plain) {
			*o++ = (char)c;
		} else {
			snprintf(o, 4, "%%%02X", c);
			o += 3;
		}
	}
	*o = '\0';
	return out;
}

/* StateDirectory/<sub>/<account>: read-write, creating <sub> (0700) and the file, or
 * (@create false) read-only and only if it exists. */
static int
open_in_mode(const char *state_dir, const char *sub, const char *account, bool create, int *ret_fd)
{
	_cleanup_close_ int dfd = open(state_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	if (create && mkdirat(dfd, sub, 0700) < 0 && errno != EEXIST)
		return -errno;
	_cleanup_close_ int sfd = openat(dfd, sub, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (sfd < 0)
		return -errno;
	_cleanup_free_ char *name = policy_state_file_name(account);
	int fd = openat(
	        sfd, name,
	        (create ? O_RDWR | O_CREAT : O_RDONLY) | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK, 0600);
	if (fd < 0)
		return -errno;
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return -EINVAL;
	}
	*ret_fd = fd;
	return 0;
}

static int
open_in(const char *state_dir, const char *sub, const char *account, int *ret_fd)
{
	return open_in_mode(state_dir, sub, account, true, ret_fd);
}

int
policy_state_open(const char *state_dir, const char *account, int *ret_fd)
{
	return open_in(state_dir, "quota", account, ret_fd);
}

static int
lock_byte(int fd, off_t at, bool wait, short type)
{
	struct flock fl = {.l_type = type, .l_whence = SEEK_SET, .l_start = at, .l_len = 1};
	for (;;) {
		if (fcntl(fd, wait ? F_OFD_SETLKW : F_OFD_SETLK, &fl) == 0)
			return 0;
		if (errno != EINTR)
			return -errno;
	}
}

/* Is byte @at of @fd locked by some open file description (another process's)? */
static bool
byte_locked(int fd, off_t at)
{
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = at, .l_len = 1};
	return fcntl(fd, F_OFD_GETLK, &fl) == 0 && fl.l_type != F_UNLCK;
}

/* The usage changed: a rescan walking meanwhile sees a new generation (it compares the
 * counters too, for a change whose bump it has not seen yet). */
static void
changed(struct policy_state *s)
{
	__atomic_add_fetch(&s->f->changes, 1, __ATOMIC_SEQ_CST);
}

int
policy_state_map(int fd, struct policy_state **ret)
{
	void *m;
	if (fd >= 0) {
		struct stat st;
		if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
			return fstat(fd, &st) < 0 ? -errno : -EINVAL;
		if (st.st_size < STATE_SIZE && ftruncate(fd, STATE_SIZE) < 0)
			return -errno;
		m = mmap(NULL, STATE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	} else {
		m = mmap(NULL, STATE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1,
		         0);
	}
	if (m == MAP_FAILED)
		return -errno;
	struct policy_state *s = xcalloc(1, sizeof(*s));
	s->f = m;
	s->fd = fd;
	s->slot = -1;
	*ret = s;
	return 0;
}

struct policy_state *
policy_state_unmap(struct policy_state *s)
{
	if (!s)
		return NULL;
	munmap(s->f, STATE_SIZE);
	if (s->fd >= 0)
		close(s->fd); /* also drops this session's slot lock */
	free(s);
	return NULL;
}

int
policy_state_invalidate(int fd)
{
	struct policy_state *s;
	int dup_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (dup_fd < 0)
		return -errno;
	int r = policy_state_map(dup_fd, &s);
	if (r < 0) {
		close(dup_fd);
		return r;
	}
	__atomic_store_n(&s->f->valid, 0, __ATOMIC_SEQ_CST);
	policy_state_unmap(s);
	return 0;
}

static void
sub_clamped(uint64_t *p, uint64_t v)
{
	uint64_t cur = __atomic_load_n(p, __ATOMIC_RELAXED);
	for (;;) {
		uint64_t next = cur > v ? cur - v : 0;
		if (__atomic_compare_exchange_n(p, &cur, next, false, __ATOMIC_SEQ_CST,
		                                __ATOMIC_RELAXED))
			return;
	}
}

/* Under the init lock: a slot whose owner is gone gives its reservations back. */
static void
reclaim_dead_slots(struct policy_state *s)
{
	for (int i = 0; i < STATE_SLOTS; i++) {
		struct state_slot *sl = &s->f->slots[i];
		if (!__atomic_load_n(&sl->bytes, __ATOMIC_SEQ_CST) &&
		    !__atomic_load_n(&sl->files, __ATOMIC_SEQ_CST))
			continue;
		if (lock_byte(s->fd, LOCK_SLOT0 + i, false, F_WRLCK) < 0)
			continue; /* alive */
		uint64_t b = __atomic_exchange_n(&sl->bytes, 0, __ATOMIC_SEQ_CST);
		uint64_t f = __atomic_exchange_n(&sl->files, 0, __ATOMIC_SEQ_CST);
		sub_clamped(&s->f->bytes, b);
		sub_clamped(&s->f->files, f);
		(void)lock_byte(s->fd, LOCK_SLOT0 + i, false, F_UNLCK);
	}
}

static int
take_slot(struct policy_state *s)
{
	for (int i = 0; i < STATE_SLOTS; i++) {
		if (lock_byte(s->fd, LOCK_SLOT0 + i, false, F_WRLCK) == 0) {
			s->slot = i;
			return 0;
		}
	}
	return 0; /* all taken: this session's temporary files are not crash-tracked */
}

/* Take the init lock, set up a new (or foreign) file, give back dead sessions'
 * reservations. */
static int
lock_and_prepare(struct policy_state *s)
{
	struct state_file *f = s->f;
	int r;
	if (s->fd >= 0 && (r = lock_byte(s->fd, LOCK_INIT, true, F_WRLCK)) < 0)
		return r;
	if (f->magic != STATE_MAGIC || f->version != STATE_VERSION) {
		memset(f, 0, sizeof(*f));
		f->magic = STATE_MAGIC;
		f->version = STATE_VERSION;
	}
	if (s->fd >= 0)
		reclaim_dead_slots(s);
	return 0;
}

static void
unlock_init(struct policy_state *s)
{
	if (s->fd >= 0)
		(void)lock_byte(s->fd, LOCK_INIT, false, F_UNLCK);
}

/* Reservations of live sessions' unnamed temporary files. */
static void
volatile_sum(const struct state_file *f, uint64_t *ret_bytes, uint64_t *ret_files)
{
	uint64_t b = 0, n = 0;
	for (int i = 0; i < STATE_SLOTS; i++) {
		b += __atomic_load_n(&f->slots[i].bytes, __ATOMIC_SEQ_CST);
		n += __atomic_load_n(&f->slots[i].files, __ATOMIC_SEQ_CST);
	}
	*ret_bytes = b;
	*ret_files = n;
}

/* Under the init lock: the usage as @scan finds it on disk, plus live sessions' unnamed
 * files (not on disk, but they count). */
static int
recount(struct policy_state *s, int (*scan)(void *ctx, uint64_t *bytes, uint64_t *files), void *ctx,
        uint64_t *ret_bytes, uint64_t *ret_files)
{
	uint64_t b = 0, n = 0, vb, vn;
	int r = scan(ctx, &b, &n);
	if (r < 0)
		return r;
	volatile_sum(s->f, &vb, &vn);
	*ret_bytes = b + vb;
	*ret_files = n + vn;
	return 0;
}

int
policy_state_attach(struct policy_state *s,
                    int (*scan)(void *ctx, uint64_t *bytes, uint64_t *files), void *ctx)
{
	struct state_file *f = s->f;
	int r = lock_and_prepare(s);
	if (r < 0)
		return r;
	if (!__atomic_load_n(&f->valid, __ATOMIC_SEQ_CST) && scan) {
		uint64_t b, n;
		r = recount(s, scan, ctx, &b, &n);
		if (r == 0) {
			__atomic_store_n(&f->bytes, b, __ATOMIC_SEQ_CST);
			__atomic_store_n(&f->files, n, __ATOMIC_SEQ_CST);
			__atomic_store_n(&f->valid, 1, __ATOMIC_SEQ_CST);
		}
	}
	if (r == 0 && s->fd >= 0)
		r = take_slot(s);
	unlock_init(s);
	return r;
}

/* *@p becomes @target plus whatever sessions changed since it was read as @seen. */
static void
store_rebased(uint64_t *p, uint64_t seen, uint64_t target)
{
	uint64_t cur = __atomic_load_n(p, __ATOMIC_RELAXED);
	for (;;) {
		uint64_t next =
		        cur >= seen ? target + (cur - seen) : target - MIN(target, seen - cur);
		if (__atomic_compare_exchange_n(p, &cur, next, false, __ATOMIC_SEQ_CST,
		                                __ATOMIC_RELAXED))
			return;
	}
}

static uint64_t
distance(uint64_t a, uint64_t b)
{
	return a > b ? a - b : b - a;
}

int
policy_state_rescan(struct policy_state *s,
                    int (*scan)(void *ctx, uint64_t *bytes, uint64_t *files), void *ctx,
                    bool store_anyway, struct policy_state_rescan_report *ret)
{
	struct state_file *f = s->f;
	struct policy_state_rescan_report rep = {0};
	int r = lock_and_prepare(s);
	if (r < 0)
		return r;
	rep.old_valid = __atomic_load_n(&f->valid, __ATOMIC_SEQ_CST);
	uint64_t c0 = __atomic_load_n(&f->changes, __ATOMIC_SEQ_CST);
	uint64_t b0 = __atomic_load_n(&f->bytes, __ATOMIC_SEQ_CST);
	uint64_t n0 = __atomic_load_n(&f->files, __ATOMIC_SEQ_CST);
	rep.old_bytes = b0;
	rep.old_files = n0;
	uint64_t b, n;
	r = recount(s, scan, ctx, &b, &n);
	if (r == 0) {
		uint64_t b1 = __atomic_load_n(&f->bytes, __ATOMIC_SEQ_CST);
		uint64_t n1 = __atomic_load_n(&f->files, __ATOMIC_SEQ_CST);
		uint64_t c1 = __atomic_load_n(&f->changes, __ATOMIC_SEQ_CST);
		bool quiet = c0 == c1 && b0 == b1 && n0 == n1;
		rep.moved_bytes = distance(b1, b0);
		rep.moved_files = distance(n1, n0);
		if (!quiet && store_anyway) {
			/* Whatever was added during the walk may be missing from it: count it
			 * (an upload in flight is over-counted by at most what it wrote
			 * during the walk, never under-counted). */
			b += b1 > b0 ? b1 - b0 : 0;
			n += n1 > n0 ? n1 - n0 : 0;
		}
		if (quiet || store_anyway) {
			store_rebased(&f->bytes, b1, b);
			store_rebased(&f->files, n1, n);
			__atomic_store_n(&f->valid, 1, __ATOMIC_SEQ_CST);
			changed(s);
			rep.stored = true;
			rep.bytes = b;
			rep.files = n;
		}
		r = quiet ? 0 : POLICY_STATE_BUSY;
	}
	unlock_init(s);
	*ret = rep;
	return r;
}

int
policy_state_read(const char *state_dir, const char *account, struct policy_state_info *ret)
{
	_cleanup_close_ int fd = -1;
	int r = open_in_mode(state_dir, "quota", account, false, &fd);
	if (r < 0)
		return r;
	struct policy_state_info info = {0};
	struct stat st;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (st.st_size >= STATE_SIZE) {
		const struct state_file *f = mmap(NULL, STATE_SIZE, PROT_READ, MAP_SHARED, fd, 0);
		if (f == MAP_FAILED)
			return -errno;
		if (f->magic == STATE_MAGIC && f->version == STATE_VERSION) {
			info.initialised = true;
			info.valid = __atomic_load_n(&f->valid, __ATOMIC_SEQ_CST) != 0;
			info.bytes = __atomic_load_n(&f->bytes, __ATOMIC_SEQ_CST);
			info.files = __atomic_load_n(&f->files, __ATOMIC_SEQ_CST);
			volatile_sum(f, &info.temp_bytes, &info.temp_files);
		}
		munmap((void *)f, STATE_SIZE);
	}
	for (int i = 0; i < STATE_SLOTS; i++)
		info.sessions += byte_locked(fd, LOCK_SLOT0 + i);
	info.scanning = byte_locked(fd, LOCK_INIT);
	*ret = info;
	return 0;
}

static bool
add_capped(uint64_t *p, uint64_t v, uint64_t max)
{
	uint64_t cur = __atomic_load_n(p, __ATOMIC_RELAXED);
	for (;;) {
		uint64_t next;
		if (__builtin_add_overflow(cur, v, &next) || (max && v && next > max))
			return false;
		if (__atomic_compare_exchange_n(p, &cur, next, false, __ATOMIC_SEQ_CST,
		                                __ATOMIC_RELAXED))
			return true;
	}
}

int
policy_state_reserve(struct policy_state *s, uint64_t bytes, uint64_t files, uint64_t max_bytes,
                     uint64_t max_files)
{
	if (!add_capped(&s->f->bytes, bytes, max_bytes))
		return -EDQUOT;
	if (!add_capped(&s->f->files, files, max_files)) {
		sub_clamped(&s->f->bytes, bytes);
		if (bytes)
			changed(s);
		return -EDQUOT;
	}
	if (bytes || files)
		changed(s);
	return 0;
}

void
policy_state_touch(struct policy_state *s)
{
	changed(s);
}

void
policy_state_release(struct policy_state *s, uint64_t bytes, uint64_t files)
{
	if (bytes)
		sub_clamped(&s->f->bytes, bytes);
	if (files)
		sub_clamped(&s->f->files, files);
	if (bytes || files)
		changed(s);
}

void
policy_state_usage(const struct policy_state *s, uint64_t *ret_bytes, uint64_t *ret_files)
{
	*ret_bytes = __atomic_load_n(&s->f->bytes, __ATOMIC_SEQ_CST);
	*ret_files = __atomic_load_n(&s->f->files, __ATOMIC_SEQ_CST);
}

void
policy_state_volatile(struct policy_state *s, int64_t bytes, int64_t files)
{
	if (s->slot < 0)
		return;
	struct state_slot *sl = &s->f->slots[s->slot];
	/* Usage is updated before a reservation is recorded here and after it is dropped,
	 * so a crash in between can only over-count (refuse), never under-count. */
	if (bytes > 0)
		__atomic_add_fetch(&sl->bytes, (uint64_t)bytes, __ATOMIC_SEQ_CST);
	else if (bytes < 0)
		sub_clamped(&sl->bytes, (uint64_t)-bytes);
	if (files > 0)
		__atomic_add_fetch(&sl->files, (uint64_t)files, __ATOMIC_SEQ_CST);
	else if (files < 0)
		sub_clamped(&sl->files, (uint64_t)-files);
	if (bytes || files)
		changed(s);
}

int
policy_state_throttle(struct policy_state *s, enum policy_state_dir dir, uint64_t rate,
                      uint64_t bytes, uint64_t now_ns, uint64_t *ret_retry_ns)
{
	/* GCRA: each byte costs 1e9/rate ns of a shared clock; a request may start while the
	 * clock is at most @burst ahead of now. The burst lets the first request of an idle
	 * account go at once and keeps pipelined requests flowing. */
	const uint64_t burst = 100 * 1000 * 1000; /* 100 ms */
	uint64_t *tat = &s->f->tat[dir];
	unsigned __int128 c = (unsigned __int128)bytes * 1000000000u / rate;
	uint64_t cost = c > UINT64_MAX / 4 ? UINT64_MAX / 4 : (uint64_t)c;
	uint64_t cur = __atomic_load_n(tat, __ATOMIC_RELAXED);
	for (;;) {
		uint64_t base = cur > now_ns ? cur : now_ns;
		/* A clock far ahead cannot come from this boot's traffic (the file outlived a
		 * reboot, or the rate was lowered): start afresh. */
		if (base - now_ns > burst + cost + 3600ull * 1000000000u)
			base = now_ns;
		if (base - now_ns > burst) {
			*ret_retry_ns = base - burst;
			return -EAGAIN;
		}
		if (__atomic_compare_exchange_n(tat, &cur, base + cost, false, __ATOMIC_SEQ_CST,
		                                __ATOMIC_RELAXED))
			return 0;
	}
}

int
policy_login_slot(const char *state_dir, const char *account, uint32_t max, int *ret_fd,
                  uint32_t *ret_slot)
{
	int fd;
	int r = open_in(state_dir, "sessions", account, &fd);
	if (r < 0)
		return r;
	for (uint32_t i = 0; i < max; i++) {
		r = lock_byte(fd, (off_t)i, false, F_WRLCK);
		if (r == 0) {
			*ret_fd = fd;
			*ret_slot = i;
			return 0;
		}
		if (r != -EAGAIN && r != -EACCES)
			break;
	}
	close(fd);
	return r == -EAGAIN || r == -EACCES ? POLICY_STATE_FULL : r;
}

int
policy_login_count(const char *state_dir, const char *account, uint32_t max, uint32_t *ret_used)
{
	_cleanup_close_ int fd = -1;
	int r = open_in_mode(state_dir, "sessions", account, false, &fd);
	uint32_t used = 0;
	if (r == -ENOENT) {
		*ret_used = 0; /* no login has ever taken a slot */
		return 0;
	}
	if (r < 0)
		return r;
	for (uint32_t i = 0; i < max; i++)
		used += byte_locked(fd, (off_t)i);
	*ret_used = used;
	return 0;
}
