/* SPDX-License-Identifier: BSD-2-Clause */
/* The policy layer: a VFS decorator that enforces an account's policy (permissions, name
 * filters, ReadOnly, setstat handling, quotas, bandwidth, atomic uploads, upload
 * checksums) below every protocol engine. See include/berth/vfs_policy.h and the
 * "Policy layer" section of docs/DESIGN.md. */
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "berth/buf.h"
#include "berth/common.h"
#include "berth/hash.h"
#include "berth/log.h"
#include "berth/policy.h"
#include "berth/policy_state.h"
#include "berth/vfs_policy.h"
#include "berth/xmem.h"

#define MAX_RANGES     65536
#define READBACK_CHUNK (256 * 1024)
#define TMP_PREFIX     ".berth-upload."
#define PUB_PREFIX     ".berth-publish."
#define RESUME_PREFIX  ".berth-resume."

struct range {
	uint64_t start, end;
};

enum pfile_kind {
	PF_DIRECT = 0, /* the target itself */
	PF_TMPFILE,    /* unnamed (O_TMPFILE), named at publish */
	PF_NAMED,      /* hidden named file (fallback, or a resumed partial upload) */
};

struct pvfs;

struct pfile {
	struct vfs_file base;
	struct vfs_file *inner;
	struct pvfs *pv;
	struct pfile *next, *prev;
	char *path; /* the target, as handed to the inner vfs */
	unsigned flags;
	bool write;
	enum pfile_kind kind;
	char *tmpname; /* PF_NAMED: inner path of the hidden file */
	bool may_overwrite;
	bool created; /* this handle's open made the file (an upload of a new name) */
	bool failed;
	const char *fail_reason;
	uint64_t size;
	uint64_t vol_bytes, vol_files; /* this session's volatile reservations */
	struct range *ranges;
	size_t nranges, cranges;
	struct berth_hash *hash;
	uint64_t hash_off;
	bool hash_seq;
};

struct pdir {
	struct vfs_dir base;
	struct vfs_dir *inner;
};

struct pvfs {
	struct vfs base;
	struct vfs *inner;
	struct vfs_policy_config cfg;
	const struct policy *pol;
	bool rules;
	bool quota;
	uint64_t qbytes, qfiles, maxsize, bw[2];
	enum policy_upload_mode mode;
	bool hash;
	bool no_tmpfile;
	struct policy_state *st;
	struct pfile *files;
	uint64_t retry_ns;
	char *cwd;    /* canonical working directory (with rules), for lexical paths */
	int pass;     /* 0: try lexical paths first; 1: kernel-resolved paths */
	bool lexical; /* this attempt decided on a lexical path */
};

static inline struct pvfs *
to_p(struct vfs *v)
{
	return (struct pvfs *)v;
}

static void _printf_(3, 4) plog(struct pvfs *pv, int level, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_to_callback(pv->cfg.log, pv->cfg.userdata, level, fmt, ap);
	va_end(ap);
}

static int
refuse(struct pvfs *pv, const char *path, const struct policy_verdict *v)
{
	/* A refusal of a lexical path is not final: the path may lead elsewhere through a
	 * symlink. Ask for the kernel-resolved attempt instead (see two_passes()). */
	if (pv->lexical)
		return -ELOOP;
	_cleanup_free_ char *why = policy_verdict_describe(v);
	plog(pv, LOG_LEVEL_INFO, "policy: \"%s\": %s", path, why);
	return -EACCES;
}

/* 0, POLICY_IGNORE, or -EACCES (logged). */
static int
decide(struct pvfs *pv, enum policy_op op, const char *path, unsigned flags)
{
	struct policy_verdict v;
	int r = policy_decide(pv->pol, op, path, flags, &v);
	return r < 0 ? refuse(pv, path, &v) : r;
}

/* ---- paths ---- */

static char *
join(const char *dir, const char *leaf)
{
	return xasprintf("%s%s%s", dir, strcmp(dir, "/") == 0 ? "" : "/", leaf);
}

/* Parent and final component as the POSIX backend splits them; 1 for a final component
 * that names no entry ("", ".", ".."). */
static int
split(const char *path, char **ret_parent, char **ret_leaf)
{
	_cleanup_free_ char *full = xstrdup(path);
	size_t n = strlen(full);
	while (n > 1 && full[n - 1] == '/')
		full[--n] = '\0';
	char *slash = strrchr(full, '/');
	const char *leaf = slash ? slash + 1 : full;
	if (!*leaf || strcmp(leaf, ".") == 0 || strcmp(leaf, "..") == 0)
		return 1;
	*ret_leaf = xstrdup(leaf);
	if (!slash)
		*ret_parent = xstrdup(".");
	else if (slash == full)
		*ret_parent = xstrdup("/");
	else {
		*slash = '\0';
		*ret_parent = xstrdup(full);
	}
	return 0;
}

int
vfs_policy_resolve(struct vfs *inner, const char *path, bool follow, char **ret)
{
	if (follow)
		return vfs_realpath(inner, path[0] ? path : ".", ret);
	/* The entry itself: the canonical parent (kernel-resolved) plus the name. */
	_cleanup_free_ char *parent = NULL, *leaf = NULL, *cparent = NULL;
	int r = split(path, &parent, &leaf);
	if (r != 0)
		return r;
	if ((r = vfs_realpath(inner, parent, &cparent)) < 0)
		return r;
	*ret = join(cparent, leaf);
	return 0;
}

/* The path of the entry @path names, its final component not followed. 1 for a final
 * component that names no entry. */
static int
canon_leaf(struct pvfs *pv, const char *path, char **ret)
{
	return vfs_policy_resolve(pv->inner, path, false, ret);
}

/* The canonical form @path has if it contains no symbolic link (policy_path_lexical());
 * false for paths with "." or ".." components (their meaning depends on links), which
 * always take the resolved route. */
static bool
lexical(struct pvfs *pv, const char *path, char **ret)
{
	return policy_path_lexical(pv->cwd, path, 0, ret) == 0;
}

/* Path of an entry for a decision and for the inner call: canonical with rules, else the
 * client's own path (decisions do not depend on it then). On the first pass a lexical
 * form is tried: the inner backend refuses symlinks (vfs.no_symlinks), so if the call
 * succeeds the kernel walked exactly this path; if it meets a link (-ELOOP) the second
 * pass resolves it. */
static int
path_leaf(struct pvfs *pv, const char *path, char **ret)
{
	if (!pv->rules) {
		*ret = xstrdup(path);
		return 0;
	}
	if (pv->pass == 0 && lexical(pv, path, ret)) {
		pv->lexical = true;
		return 0;
	}
	return canon_leaf(pv, path, ret);
}

/* Path of the object @path leads to, every symlink followed (a missing final component
 * is kept as named). */
static int
path_follow(struct pvfs *pv, const char *path, char **ret)
{
	if (!pv->rules) {
		*ret = xstrdup(path);
		return 0;
	}
	if (pv->pass == 0 && lexical(pv, path, ret)) {
		pv->lexical = true;
		return 0;
	}
	return vfs_policy_resolve(pv->inner, path, true, ret);
}

/* Run one path operation: on lexical paths first, then, if that met a symlink or was
 * refused (a refusal of a lexical path is only final once the path is known to be the
 * resolved one), on kernel-resolved paths. Nothing has happened when -ELOOP comes back
 * from the first pass: the inner backend fails before acting. */
#define two_passes(pv, call)                                                                       \
	({                                                                                         \
		int _r;                                                                            \
		for ((pv)->pass = 0;; (pv)->pass++) {                                              \
			(pv)->lexical = false;                                                     \
			_r = (call);                                                               \
			if (_r != -ELOOP || !(pv)->lexical || (pv)->pass > 0)                      \
				break;                                                             \
		}                                                                                  \
		(pv)->pass = 0;                                                                    \
		(pv)->lexical = false;                                                             \
		_r;                                                                                \
	})

/* The directory holding @path, for LIST decisions on stat-like requests. */
static char *
parent_dir(const char *path)
{
	const char *slash = strrchr(path, '/');
	if (!slash)
		return xstrdup(".");
	if (slash == path)
		return xstrdup("/");
	return xstrndup(path, (size_t)(slash - path));
}

static bool
leaf_reserved(const char *path)
{
	const char *slash = strrchr(path, '/');
	return policy_reserved_name(slash ? slash + 1 : path);
}

static void
random_hex(char *out, size_t nbytes)
{
	uint8_t b[16];
	nbytes = MIN(nbytes, sizeof(b));
	if (getrandom(b, nbytes, 0) != (ssize_t)nbytes) {
		/* Uniqueness, not secrecy, is what matters here. */
		static uint64_t counter;
		uint64_t v = ((uint64_t)getpid() << 32) ^ (uint64_t)time(NULL) ^ ++counter;
		for (size_t i = 0; i < nbytes; i++)
			b[i] = (uint8_t)(v >> (8 * (i % 8))) ^ (uint8_t)i;
	}
	berth_hex(b, nbytes, out);
}

/* ---- quota ---- */

static int
reserve(struct pvfs *pv, const char *path, uint64_t bytes, uint64_t files)
{
	if (!pv->quota || (!bytes && !files))
		return 0;
	int r = policy_state_reserve(pv->st, bytes, files, pv->qbytes, pv->qfiles);
	if (r < 0) {
		const struct policy_value *v =
		        &pv->pol->values[bytes && pv->qbytes ? POLICY_QUOTA_BYTES
		                                             : POLICY_QUOTA_FILES];
		plog(pv, LOG_LEVEL_INFO, "quota: \"%s\": refused, %s exceeded (%s:%u)", path,
		     v->text ? v->text : "quota", v->origin.file ? v->origin.file : "?",
		     v->origin.line);
	}
	return r;
}

static void
release(struct pvfs *pv, uint64_t bytes, uint64_t files)
{
	if (pv->quota)
		policy_state_release(pv->st, bytes, files);
}

/* A change reserved earlier has reached the disk: a quota rescan walking meanwhile walks
 * again (policy_state_touch()). */
static void
landed(struct pvfs *pv)
{
	if (pv->quota)
		policy_state_touch(pv->st);
}

static void
pf_volatile(struct pfile *pf, int64_t bytes, int64_t files)
{
	if (!pf->pv->quota || pf->kind != PF_TMPFILE)
		return;
	policy_state_volatile(pf->pv->st, bytes, files);
	pf->vol_bytes = (uint64_t)((int64_t)pf->vol_bytes + bytes);
	pf->vol_files = (uint64_t)((int64_t)pf->vol_files + files);
}

/* Size of a regular file at @path (no follow), or 0 with *ret_reg false. */
static uint64_t
regular_size(struct pvfs *pv, const char *path, bool *ret_reg)
{
	struct vfs_attr a;
	*ret_reg = vfs_stat(pv->inner, path, false, &a) == 0 && S_ISREG(a.mode);
	return *ret_reg ? a.size : 0;
}

/* ---- bandwidth ---- */

static int
throttle(struct pvfs *pv, enum policy_state_dir dir, size_t bytes)
{
	uint64_t rate = pv->bw[dir];
	if (!rate || !bytes)
		return 0;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	uint64_t now = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	return policy_state_throttle(pv->st, dir, rate, bytes, now, &pv->retry_ns);
}

static int
p_retry_at(struct vfs *v, uint64_t *ret_ns)
{
	*ret_ns = to_p(v)->retry_ns;
	return 0;
}

/* ---- files ---- */

static struct pfile *
pfile_new(struct pvfs *pv, struct vfs_file *inner, const char *path, unsigned flags, bool write)
{
	struct pfile *pf = xcalloc(1, sizeof(*pf));
	pf->base.vfs = &pv->base;
	pf->inner = inner;
	pf->pv = pv;
	pf->path = xstrdup(path);
	pf->flags = flags;
	pf->write = write;
	pf->next = pv->files;
	if (pv->files)
		pv->files->prev = pf;
	pv->files = pf;
	if (write && pv->hash) {
		pf->hash = berth_hash_new(BERTH_HASH_SHA256);
		pf->hash_seq = true;
	}
	return pf;
}

static void
pfile_free(struct pfile *pf)
{
	struct pvfs *pv = pf->pv;
	if (pf->prev)
		pf->prev->next = pf->next;
	else
		pv->files = pf->next;
	if (pf->next)
		pf->next->prev = pf->prev;
	free(pf->path);
	free(pf->tmpname);
	free(pf->ranges);
	berth_hash_free(pf->hash);
	free(pf);
}

/* Record that [start, end) was written; false when the upload got too fragmented. */
static bool
ranges_add(struct pfile *pf, uint64_t start, uint64_t end)
{
	if (start >= end)
		return true;
	size_t n = pf->nranges;
	/* The common case: appending at or overlapping the end of the last range. */
	if (n && start >= pf->ranges[n - 1].start && start <= pf->ranges[n - 1].end) {
		pf->ranges[n - 1].end = MAX(pf->ranges[n - 1].end, end);
		return true;
	}
	/* General case: insert, then merge neighbours. */
	size_t i = 0;
	while (i < n && pf->ranges[i].start < start)
		i++;
	if (n == pf->cranges) {
		if (n >= MAX_RANGES)
			return false;
		pf->cranges = pf->cranges ? 2 * pf->cranges : 8;
		pf->ranges = xreallocarray(pf->ranges, pf->cranges, sizeof(*pf->ranges));
	}
	memmove(&pf->ranges[i + 1], &pf->ranges[i], (n - i) * sizeof(*pf->ranges));
	pf->ranges[i] = (struct range){start, end};
	pf->nranges = ++n;
	size_t w = 0;
	for (size_t k = 1; k < n; k++) {
		if (pf->ranges[k].start <= pf->ranges[w].end)
			pf->ranges[w].end = MAX(pf->ranges[w].end, pf->ranges[k].end);
		else
			pf->ranges[++w] = pf->ranges[k];
	}
	pf->nranges = w + 1;
	return true;
}

static void
ranges_truncate(struct pfile *pf, uint64_t size)
{
	size_t w = 0;
	for (size_t i = 0; i < pf->nranges; i++) {
		if (pf->ranges[i].start >= size)
			break;
		pf->ranges[w] = pf->ranges[i];
		pf->ranges[w].end = MIN(pf->ranges[w].end, size);
		w++;
	}
	pf->nranges = w;
}

/* Length of the written prefix [0, n). */
static uint64_t
ranges_prefix(const struct pfile *pf)
{
	return pf->nranges && pf->ranges[0].start == 0 ? pf->ranges[0].end : 0;
}

/* The first byte range of [0, size) never written, as "A-B"; false when there is none. */
static bool
ranges_hole(const struct pfile *pf, char *buf, size_t len)
{
	uint64_t at = 0;
	for (size_t i = 0; i < pf->nranges; i++) {
		if (pf->ranges[i].start > at) {
			snprintf(buf, len, "%llu-%llu", (unsigned long long)at,
			         (unsigned long long)pf->ranges[i].start - 1);
			return true;
		}
		at = pf->ranges[i].end;
	}
	if (at < pf->size) {
		snprintf(buf, len, "%llu-%llu", (unsigned long long)at,
		         (unsigned long long)pf->size - 1);
		return true;
	}
	return false;
}

static void
track_write(struct pfile *pf, uint64_t at, uint64_t end)
{
	if (pf->kind != PF_DIRECT && !ranges_add(pf, at, end)) {
		pf->failed = true;
		pf->fail_reason = "too many separate byte ranges were written";
	}
}

static void
track_hash(struct pfile *pf, const void *buf, uint64_t at, size_t len)
{
	if (!pf->hash || !pf->hash_seq)
		return;
	if (at == pf->hash_off) {
		berth_hash_update(pf->hash, buf, len);
		pf->hash_off += len;
	} else {
		pf->hash_seq = false; /* out of order or rewritten: read back at close */
	}
}

/* SHA-256 of the whole content: streamed when every byte went by in order, else read
 * back once through @reader (an open readable file). */
static int
finish_hash(struct pfile *pf, struct vfs_file *reader, char hex[65])
{
	uint8_t md[BERTH_HASH_MAX];
	if (pf->hash_seq && pf->hash_off == pf->size) {
		size_t l = berth_hash_final(pf->hash, md);
		berth_hex(md, l, hex);
		return 0;
	}
	if (!reader)
		return -EBADF;
	struct xbuf out = XBUF_NULL;
	xbuf_init(&out, BERTH_HASH_MAX);
	int r = pf->size ? vfs_hash_range(reader, BERTH_HASH_SHA256, 0, 0, 0, &out) : 0;
	if (r == 0 && pf->size)
		berth_hex(xbuf_ptr(&out), xbuf_len(&out), hex);
	else if (r == 0)
		berth_hex(md, berth_hash_final(pf->hash, md), hex); /* empty file */
	xbuf_deinit(&out);
	return r;
}

static int
wrap_file(struct pvfs *pv, struct vfs_file *inner, const char *path, unsigned flags, bool write,
          struct vfs_file **ret)
{
	struct pfile *pf = pfile_new(pv, inner, path, flags, write);
	*ret = &pf->base;
	return 0;
}

/* Standard upload mode: open the target itself. CREAT first tries to create (so a new
 * name is an upload and an existing one an overwrite, without a window between). */
static int
open_direct(struct pvfs *pv, const char *p, unsigned flags, uint32_t mode, struct vfs_file **ret)
{
	struct vfs_file *in = NULL;
	bool trunc = flags & VFS_O_TRUNC, created = false;
	uint64_t size = 0;
	/* A readable handle reads whatever the file holds: DOWNLOAD, new file or not. */
	int rd = (flags & VFS_O_READ) ? decide(pv, POLICY_OP_DOWNLOAD, p, 0) : 0;
	if (rd < 0)
		return rd;
	for (int attempt = 0; attempt < 3; attempt++) {
		if (flags & VFS_O_CREAT) {
			struct policy_verdict v;
			struct vfs_attr a;
			if (policy_decide(pv->pol, POLICY_OP_UPLOAD, p, 0, &v) == 0) {
				int r = reserve(pv, p, 0, 1);
				if (r < 0 && !(flags & VFS_O_EXCL) &&
				    vfs_stat(pv->inner, p, true, &a) == 0)
					goto existing; /* replacing a file needs no new one */
				if (r < 0)
					return r;
				r = vfs_open(pv->inner, p, flags | VFS_O_EXCL, mode, &in);
				if (r == 0) {
					landed(pv);
					created = true;
					goto opened;
				}
				release(pv, 0, 1);
				if (r != -EEXIST || (flags & VFS_O_EXCL))
					return r;
			} else {
				if ((flags & VFS_O_EXCL) || vfs_stat(pv->inner, p, true, &a) < 0)
					return refuse(pv, p, &v);
			}
		}
	existing:;
		int r = decide(pv, POLICY_OP_OVERWRITE, p, 0);
		if (r < 0)
			return r;
		/* With a quota, truncate after learning what the truncation gives back. */
		unsigned f2 = flags & ~(VFS_O_CREAT | VFS_O_EXCL);
		if (pv->quota)
			f2 &= ~VFS_O_TRUNC;
		r = vfs_open(pv->inner, p, f2, mode, &in);
		if (r == -ENOENT && (flags & VFS_O_CREAT))
			continue; /* removed meanwhile: create it */
		if (r < 0)
			return r;
		struct vfs_attr a;
		if (vfs_fstat(in, &a) == 0)
			size = a.size;
		if (pv->quota && trunc && size) {
			struct vfs_attr t = {.valid = VFS_ATTR_SIZE, .size = 0};
			if ((r = vfs_fsetattr(in, &t)) < 0) {
				(void)vfs_close(in);
				return r;
			}
			release(pv, size, 0);
		}
		if (trunc)
			size = 0;
		goto opened;
	}
	return -ENOENT;
opened:
	wrap_file(pv, in, p, flags, true, ret);
	struct pfile *pf = (struct pfile *)*ret;
	pf->created = created;
	pf->size = size;
	pf->hash_seq = pf->hash && size == 0;
	return 0;
}

/* The hidden name of a kept partial upload of @leaf in @dir (fixed length, whatever the
 * name). */
static char *
resume_name(const char *dir, const char *leaf)
{
	struct berth_hash *h = berth_hash_new(BERTH_HASH_SHA256);
	uint8_t md[BERTH_HASH_MAX];
	char hex[65];
	berth_hash_update(h, leaf, strlen(leaf));
	berth_hex(md, MIN(berth_hash_final(h, md), (size_t)16), hex);
	berth_hash_free(h);
	_cleanup_free_ char *name = xasprintf(RESUME_PREFIX "%s", hex);
	return join(dir, name);
}

static bool stale_temp(const char *name);

/* Hidden temporary files of sessions that died in @dir (fallback mode only: unnamed
 * files never outlive their session) are removed, their bytes given back. */
static void
sweep_stale_temps(struct pvfs *pv, const char *dir)
{
	struct vfs_dir *d;
	if (vfs_opendir(pv->inner, dir, &d) < 0)
		return;
	const char *name;
	struct vfs_attr a;
	while (vfs_readdir(d, &name, &a) == 0) {
		if (!S_ISREG(a.mode) || !stale_temp(name))
			continue;
		_cleanup_free_ char *p = join(dir, name);
		if (vfs_remove(pv->inner, p) == 0)
			release(pv, a.size, 1);
	}
	(void)vfs_closedir(d);
}

/* A fresh temporary file in @dir: unnamed where the file system can, else hidden. */
static int
make_temp(struct pvfs *pv, const char *dir, uint32_t mode, struct vfs_file **ret,
          enum pfile_kind *ret_kind, char **ret_name)
{
	if (!pv->no_tmpfile) {
		int r = vfs_tmpfile(pv->inner, dir, mode, ret);
		if (r == 0) {
			*ret_kind = PF_TMPFILE;
			return 0;
		}
		if (r != -EOPNOTSUPP && r != -ENOSYS)
			return r;
		pv->no_tmpfile = true;
	}
	sweep_stale_temps(pv, dir);
	char rnd[33];
	random_hex(rnd, 8);
	_cleanup_free_ char *leaf = xasprintf(TMP_PREFIX "%d-%s", (int)getpid(), rnd);
	char *name = join(dir, leaf);
	int r = vfs_open(pv->inner, name, VFS_O_READ | VFS_O_WRITE | VFS_O_CREAT | VFS_O_EXCL, 0600,
	                 ret);
	if (r < 0) {
		free(name);
		return r;
	}
	*ret_kind = PF_NAMED;
	*ret_name = name;
	return 0;
}

/* Atomic upload modes: write a temporary file, publish it at a complete close. */
static int
open_atomic(struct pvfs *pv, const char *p, unsigned flags, uint32_t mode, struct vfs_file **ret)
{
	struct vfs_attr ta;
	int r = vfs_stat(pv->inner, p, false, &ta);
	if (r < 0 && r != -ENOENT)
		return r;
	bool exists = r == 0;
	if (exists && S_ISDIR(ta.mode))
		return -EISDIR;
	if (exists && !S_ISREG(ta.mode))
		return -EPERM;
	if (!exists && !(flags & VFS_O_CREAT))
		return -ENOENT;
	if (exists && (flags & VFS_O_CREAT) && (flags & VFS_O_EXCL))
		return -EEXIST;
	if ((r = decide(pv, exists ? POLICY_OP_OVERWRITE : POLICY_OP_UPLOAD, p, 0)) < 0)
		return r;
	if ((flags & VFS_O_READ) && (r = decide(pv, POLICY_OP_DOWNLOAD, p, 0)) < 0)
		return r;
	struct policy_verdict v;
	bool may_overwrite = exists || policy_decide(pv->pol, POLICY_OP_OVERWRITE, p, 0, &v) == 0;
	_cleanup_free_ char *dir = NULL, *leaf = NULL, *partial = NULL;
	if (split(p, &dir, &leaf) != 0)
		return -EINVAL;
	struct vfs_file *tmp = NULL;
	enum pfile_kind kind = PF_NAMED;
	char *tmpname = NULL;
	uint64_t size = 0;
	bool resumed = false;
	if (pv->mode == POLICY_UPLOAD_ATOMIC_RESUME) {
		partial = resume_name(dir, leaf);
		struct vfs_attr pa;
		if (vfs_stat(pv->inner, partial, false, &pa) == 0 && S_ISREG(pa.mode)) {
			if (!(flags & VFS_O_TRUNC) &&
			    vfs_open(pv->inner, partial, VFS_O_READ | VFS_O_WRITE, 0, &tmp) == 0) {
				tmpname = ptr_steal(&partial);
				size = pa.size;
				resumed = true;
			} else if ((flags & VFS_O_TRUNC) && vfs_remove(pv->inner, partial) == 0) {
				release(pv, pa.size, 1);
			}
		}
	}
	if (!resumed) {
		if ((r = reserve(pv, p, 0, 1)) < 0)
			return r;
		r = make_temp(pv, dir, mode, &tmp, &kind, &tmpname);
		if (r < 0) {
			release(pv, 0, 1);
			return r;
		}
	}
	wrap_file(pv, tmp, p, flags, true, ret);
	struct pfile *pf = (struct pfile *)*ret;
	pf->kind = kind;
	pf->tmpname = tmpname;
	pf->may_overwrite = may_overwrite;
	pf->created = !exists;
	pf_volatile(pf, 0, 1);
	if (!resumed && exists && !(flags & VFS_O_TRUNC) && ta.size) {
		/* Writing into an existing file: start from a copy of it. */
		struct vfs_file *src = NULL;
		uint64_t copied = 0;
		r = reserve(pv, p, ta.size, 0);
		if (r == 0 && (r = vfs_open(pv->inner, p, VFS_O_READ, 0, &src)) == 0) {
			r = vfs_copy(src, 0, 0, tmp, 0, &copied);
			(void)vfs_close(src);
		}
		if (r == 0)
			release(pv, ta.size - MIN(ta.size, copied), 0);
		else if (r != -EDQUOT)
			release(pv, ta.size, 0);
		if (r < 0) {
			struct vfs_close_report rep;
			(void)vfs_close_ex(&pf->base, VFS_CLOSE_ABORT, &rep);
			return r;
		}
		size = copied;
		pf_volatile(pf, (int64_t)copied, 0);
	}
	pf->size = size;
	(void)ranges_add(pf, 0, size);
	pf->hash_seq = pf->hash && size == 0;
	return 0;
}

static int
open_once(struct vfs *v, const char *path, unsigned flags, uint32_t mode, struct vfs_file **ret)
{
	struct pvfs *pv = to_p(v);
	_cleanup_free_ char *p = NULL;
	int r = path_follow(pv, path, &p);
	if (r < 0)
		return r;
	if (!(flags & (VFS_O_WRITE | VFS_O_APPEND | VFS_O_TRUNC | VFS_O_CREAT))) {
		if ((r = decide(pv, POLICY_OP_DOWNLOAD, p, 0)) < 0)
			return r;
		struct vfs_file *in;
		if ((r = vfs_open(pv->inner, p, flags, mode, &in)) < 0)
			return r;
		return wrap_file(pv, in, p, flags, false, ret);
	}
	if (pv->mode == POLICY_UPLOAD_STANDARD)
		return open_direct(pv, p, flags, mode, ret);
	/* The temporary file goes next to the real target, whatever links lead there. */
	if (!pv->rules) {
		free(p);
		p = NULL;
		if ((r = vfs_realpath(pv->inner, path[0] ? path : ".", &p)) < 0)
			return r;
		if (leaf_reserved(p))
			return decide(pv, POLICY_OP_UPLOAD, p, 0);
	}
	return open_atomic(pv, p, flags, mode, ret);
}

static int
p_open(struct vfs *v, const char *path, unsigned flags, uint32_t mode, struct vfs_file **ret)
{
	return two_passes(to_p(v), open_once(v, path, flags, mode, ret));
}

static int
p_pread(struct vfs_file *f, void *buf, size_t len, uint64_t off, size_t *ret_n)
{
	struct pfile *pf = (struct pfile *)f;
	int r = throttle(pf->pv, POLICY_STATE_DOWN, len);
	if (r < 0)
		return r;
	return vfs_pread(pf->inner, buf, len, off, ret_n);
}

static int
p_pwrite(struct vfs_file *f, const void *buf, size_t len, uint64_t off, size_t *ret_n)
{
	struct pfile *pf = (struct pfile *)f;
	struct pvfs *pv = pf->pv;
	if (!pf->write)
		return vfs_pwrite(pf->inner, buf, len, off, ret_n);
	int r = throttle(pv, POLICY_STATE_UP, len);
	if (r < 0)
		return r;
	/* APPEND writes land at the end whatever the offset (the temporary file of an
	 * atomic upload is not O_APPEND, so say where). */
	uint64_t at = (pf->flags & VFS_O_APPEND) ? pf->size : off, end;
	if (__builtin_add_overflow(at, (uint64_t)len, &end) || end > INT64_MAX)
		return -EINVAL;
	if (pv->maxsize && end > pv->maxsize) {
		const struct policy_value *mv = &pv->pol->values[POLICY_MAX_FILE_SIZE];
		plog(pv, LOG_LEVEL_INFO, "quota: \"%s\": refused, %s exceeded (%s:%u)", pf->path,
		     mv->text ? mv->text : "MaxFileSize", mv->origin.file ? mv->origin.file : "?",
		     mv->origin.line);
		pf->failed = true;
		pf->fail_reason = "MaxFileSize exceeded";
		return -EDQUOT;
	}
	uint64_t growth = end > pf->size ? end - pf->size : 0;
	if ((r = reserve(pv, pf->path, growth, 0)) < 0) {
		pf->failed = true;
		pf->fail_reason = "quota exceeded";
		return r;
	}
	r = vfs_pwrite(pf->inner, buf, len, pf->kind == PF_DIRECT ? off : at, ret_n);
	if (r < 0) {
		/* Keep the account honest about whatever did reach the disk. */
		struct vfs_attr a;
		uint64_t now = vfs_fstat(pf->inner, &a) == 0 ? a.size : pf->size;
		uint64_t grew = now > pf->size ? now - pf->size : 0;
		release(pv, growth - MIN(growth, grew), 0);
		pf_volatile(pf, (int64_t)MIN(growth, grew), 0);
		pf->size = MAX(pf->size, now);
		pf->failed = true;
		pf->fail_reason = "a write failed";
		return r;
	}
	pf->size = MAX(pf->size, end);
	pf_volatile(pf, (int64_t)growth, 0);
	if (growth)
		landed(pv);
	track_write(pf, at, end);
	track_hash(pf, buf, at, len);
	return 0;
}

static int
p_fstat(struct vfs_file *f, struct vfs_attr *ret)
{
	return vfs_fstat(((struct pfile *)f)->inner, ret);
}

/* A size change through a handle or a path: OVERWRITE, and the quota sees the delta. */
static int
size_change(struct pvfs *pv, const char *path, uint64_t old, uint64_t size)
{
	if (size > old) {
		if (pv->maxsize && size > pv->maxsize)
			return -EDQUOT;
		return reserve(pv, path, size - old, 0);
	}
	return 0;
}

/* Mode and times through the handle that created the file belong to its upload (sftp put
 * -p, scp -p, a drop box included): only ReadOnly and SetstatMode decide. */
static int
decide_created_setstat(struct pvfs *pv, const char *path)
{
	struct policy_verdict v;
	int r = policy_decide(pv->pol, POLICY_OP_SETSTAT, path, 0, &v);
	if (r < 0 && v.n > 0 && v.steps[v.n - 1].kind == POLICY_RULE_PERMISSIONS)
		return 0; /* refused only by a directory rule: the upload was allowed */
	return r < 0 ? refuse(pv, path, &v) : r;
}

static int
p_fsetattr(struct vfs_file *f, const struct vfs_attr *a)
{
	struct pfile *pf = (struct pfile *)f;
	struct pvfs *pv = pf->pv;
	struct vfs_attr rest = *a;
	int r;
	if (a->valid & VFS_ATTR_SIZE) {
		/* Sizing a file this handle created is part of uploading it (scp's sink
		 * truncates to the announced size). */
		if (!pf->created && (r = decide(pv, POLICY_OP_OVERWRITE, pf->path, 0)) < 0)
			return r;
		struct vfs_attr cur;
		uint64_t old =
		        pf->write ? pf->size : (vfs_fstat(pf->inner, &cur) == 0 ? cur.size : 0);
		if ((r = size_change(pv, pf->path, old, a->size)) < 0)
			return r;
		struct vfs_attr one = {.valid = VFS_ATTR_SIZE, .size = a->size};
		r = vfs_fsetattr(pf->inner, &one);
		if (r < 0) {
			if (a->size > old)
				release(pv, a->size - old, 0);
			return r;
		}
		if (a->size > old)
			landed(pv);
		if (a->size < old)
			release(pv, old - a->size, 0);
		if (pf->write) {
			pf_volatile(pf, (int64_t)a->size - (int64_t)old, 0);
			if (a->size < pf->size)
				ranges_truncate(pf, a->size);
			else
				track_write(pf, pf->size, a->size); /* deliberate zeros */
			pf->size = a->size;
			pf->hash_seq = false;
		}
		rest.valid &= ~VFS_ATTR_SIZE;
	}
	if (!rest.valid)
		return 0;
	if (pf->created)
		r = decide_created_setstat(pv, pf->path);
	else
		r = decide(pv, POLICY_OP_SETSTAT, pf->path, 0);
	if (r == POLICY_IGNORE)
		return 0;
	if (r < 0)
		return r;
	return vfs_fsetattr(pf->inner, &rest);
}

static int
p_fsync(struct vfs_file *f)
{
	return vfs_fsync(((struct pfile *)f)->inner);
}

static void
quota_statvfs(struct pvfs *pv, struct vfs_statvfs *s)
{
	if (!pv->quota)
		return;
	uint64_t ub, uf;
	policy_state_usage(pv->st, &ub, &uf);
	if (pv->qbytes) {
		uint64_t fr = s->frsize ? s->frsize : (s->bsize ? s->bsize : 4096);
		uint64_t left = pv->qbytes > ub ? (pv->qbytes - ub) / fr : 0;
		s->blocks = pv->qbytes / fr;
		s->bfree = MIN(s->bfree, left);
		s->bavail = MIN(s->bavail, left);
	}
	if (pv->qfiles) {
		uint64_t left = pv->qfiles > uf ? pv->qfiles - uf : 0;
		s->files = pv->qfiles;
		s->ffree = MIN(s->ffree, left);
		s->favail = MIN(s->favail, left);
	}
}

static int
p_fstatvfs(struct vfs_file *f, struct vfs_statvfs *ret)
{
	struct pfile *pf = (struct pfile *)f;
	int r = vfs_fstatvfs(pf->inner, ret);
	if (r == 0)
		quota_statvfs(pf->pv, ret);
	return r;
}

/* Direct uploads: the digest of what the file holds now. */
static void
report_direct(struct pfile *pf, struct vfs_close_report *rep)
{
	if (!pf->hash)
		return;
	struct vfs_file *reader = NULL;
	bool streamed = pf->hash_seq && pf->hash_off == pf->size;
	if (!streamed && vfs_open(pf->pv->inner, pf->path, VFS_O_READ, 0, &reader) < 0)
		return;
	if (finish_hash(pf, reader, rep->sha256) == 0)
		rep->have_sha256 = true;
	(void)vfs_close(reader);
}

/* Name an unnamed or hidden temporary file @name (inner path) and rename it over the
 * target. Returns 0 or -errno with @why filled. */
static int
publish(struct pfile *pf, char *why, size_t whylen)
{
	struct pvfs *pv = pf->pv;
	_cleanup_free_ char *dir = NULL, *leaf = NULL, *linked = NULL;
	int r = vfs_fsync(pf->inner);
	if (r < 0) {
		snprintf(why, whylen, "flushing it failed: %s", strerror(-r));
		return r;
	}
	if (split(pf->path, &dir, &leaf) != 0)
		return -EINVAL;
	const char *from = pf->tmpname;
	if (pf->kind == PF_TMPFILE) {
		char rnd[33];
		random_hex(rnd, 8);
		_cleanup_free_ char *l = xasprintf(PUB_PREFIX "%s", rnd);
		linked = join(dir, l);
		if ((r = vfs_linkfile(pf->inner, linked)) < 0) {
			snprintf(why, whylen, "naming the temporary file failed: %s", strerror(-r));
			return r;
		}
		from = linked;
	}
	bool had;
	uint64_t old = regular_size(pv, pf->path, &had);
	r = vfs_rename(pv->inner, from, pf->path, pf->may_overwrite ? 0 : VFS_RENAME_NOREPLACE);
	if (r < 0) {
		if (r == -EEXIST)
			snprintf(why, whylen,
			         "the target appeared meanwhile and overwrite is not permitted");
		else
			snprintf(why, whylen, "renaming it into place failed: %s", strerror(-r));
		if (linked)
			(void)vfs_remove(pv->inner, linked);
		return r;
	}
	if (had)
		release(pv, old, 1);
	return 0;
}

/* An unpublished upload: kept for resuming (its written prefix), or dropped. */
static void
keep_or_drop(struct pfile *pf)
{
	struct pvfs *pv = pf->pv;
	uint64_t keep = ranges_prefix(pf);
	if (pv->mode == POLICY_UPLOAD_ATOMIC_RESUME && keep > 0) {
		_cleanup_free_ char *dir = NULL, *leaf = NULL, *partial = NULL;
		struct vfs_attr t = {.valid = VFS_ATTR_SIZE, .size = keep};
		int r = split(pf->path, &dir, &leaf) != 0 ? -EINVAL : 0;
		if (r == 0 && keep < pf->size)
			r = vfs_fsetattr(pf->inner, &t);
		bool had = false;
		uint64_t old = 0;
		if (r == 0) {
			partial = resume_name(dir, leaf);
			if (pf->kind == PF_TMPFILE || strcmp(pf->tmpname, partial) != 0)
				old = regular_size(pv, partial, &had); /* replaced below */
			if (pf->kind == PF_TMPFILE) {
				char rnd[33];
				random_hex(rnd, 8);
				_cleanup_free_ char *l = xasprintf(PUB_PREFIX "%s", rnd);
				_cleanup_free_ char *linked = join(dir, l);
				r = vfs_linkfile(pf->inner, linked);
				if (r == 0 && (r = vfs_rename(pv->inner, linked, partial, 0)) < 0)
					(void)vfs_remove(pv->inner, linked);
			} else if (strcmp(pf->tmpname, partial) != 0) {
				r = vfs_rename(pv->inner, pf->tmpname, partial, 0);
			}
		}
		if (r == 0) {
			if (had)
				release(pv, old, 1);
			release(pv, pf->size - keep, 0);
			pf_volatile(pf, -(int64_t)pf->vol_bytes, -(int64_t)pf->vol_files);
			return;
		}
	}
	if (pf->kind == PF_NAMED)
		(void)vfs_remove(pv->inner, pf->tmpname);
	release(pv, pf->size, 1);
	pf_volatile(pf, -(int64_t)pf->vol_bytes, -(int64_t)pf->vol_files);
}

static void
report_atomic(struct pfile *pf, bool aborted, struct vfs_close_report *rep)
{
	char why[sizeof(rep->reason)] = "";
	char hole[64];
	if (pf->failed)
		snprintf(why, sizeof(why), "%s",
		         pf->fail_reason ? pf->fail_reason : "a write failed");
	else if (aborted)
		snprintf(why, sizeof(why),
		         "the upload was interrupted before the client closed it");
	else if (ranges_hole(pf, hole, sizeof(hole)))
		snprintf(why, sizeof(why), "bytes %s were never written", hole);
	if (pf->hash && finish_hash(pf, pf->inner, rep->sha256) == 0)
		rep->have_sha256 = true;
	if (!why[0] && publish(pf, why, sizeof(why)) == 0) {
		rep->published = true;
		pf_volatile(pf, -(int64_t)pf->vol_bytes, -(int64_t)pf->vol_files);
		return;
	}
	rep->published = false;
	snprintf(rep->reason, sizeof(rep->reason), "%s", why);
	keep_or_drop(pf);
}

static int
p_close_ex(struct vfs_file *f, unsigned flags, struct vfs_close_report *ret)
{
	struct pfile *pf = (struct pfile *)f;
	*ret = (struct vfs_close_report){.upload = pf->write, .published = true};
	if (pf->write && pf->kind == PF_DIRECT)
		report_direct(pf, ret);
	else if (pf->write)
		report_atomic(pf, flags & VFS_CLOSE_ABORT, ret);
	int r = vfs_close(pf->inner);
	pfile_free(pf);
	return r;
}

static int
p_close(struct vfs_file *f)
{
	struct vfs_close_report rep;
	return p_close_ex(f, 0, &rep);
}

static int
p_copy(struct vfs_file *src, uint64_t src_off, uint64_t len, struct vfs_file *dst, uint64_t dst_off,
       uint64_t *ret_copied)
{
	struct pfile *ps = (struct pfile *)src, *pd = (struct pfile *)dst;
	struct pvfs *pv = pd->pv;
	if (!pd->write)
		return vfs_copy(ps->inner, src_off, len, pd->inner, dst_off, ret_copied);
	struct vfs_attr sa;
	int r = vfs_fstat(ps->inner, &sa);
	if (r < 0)
		return r;
	uint64_t avail = src_off < sa.size ? sa.size - src_off : 0;
	uint64_t n = len == 0 || len > avail ? avail : len, end;
	uint64_t at = (pd->flags & VFS_O_APPEND) ? pd->size : dst_off;
	if (__builtin_add_overflow(at, n, &end) || end > INT64_MAX)
		return -EINVAL;
	if (pv->maxsize && end > pv->maxsize) {
		pd->failed = true;
		pd->fail_reason = "MaxFileSize exceeded";
		return -EDQUOT;
	}
	uint64_t growth = end > pd->size ? end - pd->size : 0;
	if ((r = reserve(pv, pd->path, growth, 0)) < 0) {
		pd->failed = true;
		pd->fail_reason = "quota exceeded";
		return r;
	}
	uint64_t copied = 0;
	r = vfs_copy(ps->inner, src_off, n, pd->inner, at, &copied);
	uint64_t real_end = at + copied;
	uint64_t grew = real_end > pd->size ? real_end - pd->size : 0;
	release(pv, growth - MIN(growth, grew), 0);
	pf_volatile(pd, (int64_t)grew, 0);
	if (grew)
		landed(pv);
	pd->size = MAX(pd->size, real_end);
	track_write(pd, at, real_end);
	pd->hash_seq = false;
	if (r < 0) {
		pd->failed = true;
		pd->fail_reason = "a copy failed";
		return r;
	}
	*ret_copied = copied;
	return 0;
}

/* Zero-copy downloads: the data goes from the inner file to the transport. Offered only
 * without DownloadBandwidth (a splice cannot be told to wait). The download permission
 * was decided at open. */
static int
p_splice_to(struct vfs_file *f, uint64_t off, size_t len, int out_fd, size_t *ret_moved)
{
	return vfs_splice_to(((struct pfile *)f)->inner, off, len, out_fd, ret_moved);
}

static int
p_hash_range(struct vfs_file *f, enum berth_hash_alg alg, uint64_t off, uint64_t len,
             uint32_t block, struct xbuf *out)
{
	/* Hashing reads on the server only: no bandwidth charge. Download permission was
	 * decided when the handle was opened. */
	return vfs_hash_range(((struct pfile *)f)->inner, alg, off, len, block, out);
}

/* ---- path operations ---- */

static int
stat_once(struct vfs *v, const char *path, bool follow, struct vfs_attr *ret)
{
	struct pvfs *pv = to_p(v);
	_cleanup_free_ char *p = NULL, *dir = NULL;
	int r = follow ? path_follow(pv, path, &p) : path_leaf(pv, path, &p);
	if (r == 1)
		r = path_follow(pv, path, &p);
	if (r < 0)
		return r;
	if (leaf_reserved(p))
		return -ENOENT;
	dir = strcmp(p, "/") == 0 ? xstrdup("/") : parent_dir(p);
	if ((r = decide(pv, POLICY_OP_LIST, dir, POLICY_F_DIR)) < 0)
		return r;
	if (pv->mode == POLICY_UPLOAD_ATOMIC_RESUME) {
		/* A kept partial upload answers for its target, so resuming clients continue
		 * where it stopped. */
		_cleanup_free_ char *cdir = NULL, *leaf = NULL, *partial = NULL, *canon = NULL;
		const char *q = p;
		if (!pv->rules && vfs_realpath(pv->inner, path[0] ? path : ".", &canon) == 0)
			q = canon;
		if (split(q, &cdir, &leaf) == 0) {
			partial = resume_name(cdir, leaf);
			if (vfs_stat(pv->inner, partial, false, ret) == 0)
				return 0;
		}
	}
	return vfs_stat(pv->inner, p, follow, ret);
}

static int
p_stat(struct vfs *v, const char *path, bool follow, struct vfs_attr *ret)
{
	return two_passes(to_p(v), stat_once(v, path, follow, ret));
}

static int
setattr_once(struct vfs *v, const char *path, bool follow, const struct vfs_attr *a)
{
	struct pvfs *pv = to_p(v);
	_cleanup_free_ char *p = NULL;
	int r = follow ? path_follow(pv, path, &p) : path_leaf(pv, path, &p);
	if (r == 1)
		r = path_follow(pv, path, &p);
	if (r < 0)
		return r;
	struct vfs_attr rest = *a;
	if (a->valid & VFS_ATTR_SIZE) {
		if ((r = decide(pv, POLICY_OP_OVERWRITE, p, 0)) < 0)
			return r;
		bool reg;
		uint64_t old = regular_size(pv, p, &reg);
		if (reg && (r = size_change(pv, p, old, a->size)) < 0)
			return r;
		struct vfs_attr one = {.valid = VFS_ATTR_SIZE, .size = a->size};
		r = vfs_setattr(pv->inner, p, follow, &one);
		if (reg && r < 0 && a->size > old)
			release(pv, a->size - old, 0);
		if (r < 0)
			return r;
		if (reg && a->size > old)
			landed(pv);
		if (reg && a->size < old)
			release(pv, old - a->size, 0);
		rest.valid &= ~VFS_ATTR_SIZE;
	}
	if (!rest.valid)
		return 0;
	struct vfs_attr at;
	unsigned df =
	        vfs_stat(pv->inner, p, follow, &at) == 0 && S_ISDIR(at.mode) ? POLICY_F_DIR : 0;
	r = decide(pv, POLICY_OP_SETSTAT, p, df);
	if (r == POLICY_IGNORE)
		return 0;
	if (r < 0)
		return r;
	return vfs_setattr(pv->inner, p, follow, &rest);
}

static int
p_setattr(struct vfs *v, const char *path, bool follow, const struct vfs_attr *a)
{
	return two_passes(to_p(v), setattr_once(v, path, follow, a));
}

static int
opendir_once(struct vfs *v, const char *path, struct vfs_dir **ret)
{
	struct pvfs *pv = to_p(v);
	_cleanup_free_ char *p = NULL;
	int r = path_follow(pv, path, &p);
	if (r < 0)
		return r;
	if (leaf_reserved(p))
		return -ENOENT;
	if ((r = decide(pv, POLICY_OP_LIST, p, POLICY_F_DIR)) < 0)
		return r;
	struct vfs_dir *in;
	if ((r = vfs_opendir(pv->inner, p, &in)) < 0)
		return r;
	struct pdir *pd = xcalloc(1, sizeof(*pd));
	pd->base.vfs = v;
	pd->inner = in;
	*ret = &pd->base;
	return 0;
}

static int
p_opendir(struct vfs *v, const char *path, struct vfs_dir **ret)
{
	return two_passes(to_p(v), opendir_once(v, path, ret));
}

static int
p_readdir(struct vfs_dir *d, const char **ret_name, struct vfs_attr *ret_attr)
{
	struct pdir *pd = (struct pdir *)d;
	for (;;) {
		int r = vfs_readdir(pd->inner, ret_name, ret_attr);
		/* berth's own temporary and partial files are never listed. */
		if (r != 0 || !policy_reserved_name(*ret_name))
			return r;
	}
}

static int
p_closedir(struct vfs_dir *d)
{
	struct pdir *pd = (struct pdir *)d;
	int r = vfs_closedir(pd->inner);
	free(pd);
	return r;
}

/* An entry path for a name-level operation; -EINVAL for names that are no entry. */
static int
entry(struct pvfs *pv, const char *path, char **ret)
{
	int r = path_leaf(pv, path, ret);
	return r == 1 ? -EINVAL : r;
}

static int
mkdir_once(struct vfs *v, const char *path, uint32_t mode)
{
	struct pvfs *pv = to_p(v);
	_cleanup_free_ char *p = NULL;
	int r = entry(pv, path, &p);
	if (r < 0)
		return r == -EINVAL ? -EEXIST : r;
	if ((r = decide(pv, POLICY_OP_MKDIR, p, POLICY_F_DIR)) < 0)
		return r;
	return vfs_mkdir(pv->inner, p, mode);
}

static int
p_mkdir(struct vfs *v, const char *path, uint32_t mode)
{
	return two_passes(to_p(v), mkdir_once(v, path, mode));
}

static int
rmdir_once(struct vfs *v, const char *path)
{
	struct pvfs *pv = to_p(v);
	_cleanup_free_ char *p = NULL;
	int r = entry(pv, path, &p);
	if (r < 0 || (r = decide(pv, POLICY_OP_RMDIR, p, POLICY_F_DIR)) < 0)
		return r;
	return vfs_rmdir(pv->inner, p);
}

static int
p_rmdir(struct vfs *v, const char *path)
{
	return two_passes(to_p(v), rmdir_once(v, path));
}

static int
remove_once(struct vfs *v, const char *path)
{
	struct pvfs *pv = to_p(v);
	_cleanup_free_ char *p = NULL;
	int r = entry(pv, path, &p);
	if (r < 0 || (r = decide(pv, POLICY_OP_DELETE, p, 0)) < 0)
		return r;
	bool reg = false;
	uint64_t size = pv->quota ? regular_size(pv, p, &reg) : 0;
	if ((r = vfs_remove(pv->inner, p)) < 0)
		return r;
	if (reg)
		release(pv, size, 1);
	return 0;
}

static int
p_remove(struct vfs *v, const char *path)
{
	return two_passes(to_p(v), remove_once(v, path));
}

/* Open handles follow a rename of their file or of a directory above it, so later
 * handle-based decisions look at where the file is now. */
static void
rename_handles(struct pvfs *pv, const char *from, const char *to)
{
	size_t fl = strlen(from);
	for (struct pfile *pf = pv->files; pf; pf = pf->next) {
		if (strncmp(pf->path, from, fl) != 0 || (pf->path[fl] && pf->path[fl] != '/'))
			continue;
		char *np = xasprintf("%s%s", to, pf->path + fl);
		free(pf->path);
		pf->path = np;
	}
}

static int
rename_once(struct vfs *v, const char *oldpath, const char *newpath, unsigned flags)
{
	struct pvfs *pv = to_p(v);
	_cleanup_free_ char *o = NULL, *n = NULL;
	int r = entry(pv, oldpath, &o);
	if (r < 0 || (r = entry(pv, newpath, &n)) < 0)
		return r;
	struct vfs_attr oa = {0}, na = {0};
	bool odir = false, nexists = false;
	if (pv->rules || pv->quota) {
		odir = vfs_stat(pv->inner, o, false, &oa) == 0 && S_ISDIR(oa.mode);
		nexists = vfs_stat(pv->inner, n, false, &na) == 0;
	}
	unsigned df = (odir ? POLICY_F_DIR : 0) |
	              (nexists && !(flags & VFS_RENAME_NOREPLACE) ? POLICY_F_EXISTS : 0);
	struct policy_verdict verdict;
	if (policy_decide_rename(pv->pol, o, n, df, &verdict) < 0)
		return refuse(pv, o, &verdict);
	if ((r = vfs_rename(pv->inner, o, n, flags)) < 0)
		return r;
	if (nexists && S_ISREG(na.mode) && !(flags & VFS_RENAME_NOREPLACE) &&
	    !(oa.dev == na.dev && oa.ino == na.ino))
		release(pv, na.size, 1);
	if (pv->rules)
		rename_handles(pv, o, n);
	return 0;
}

static int
p_rename(struct vfs *v, const char *oldpath, const char *newpath, unsigned flags)
{
	return two_passes(to_p(v), rename_once(v, oldpath, newpath, flags));
}

static int
link_once(struct vfs *v, const char *oldpath, const char *newpath)
{
	struct pvfs *pv = to_p(v);
	_cleanup_free_ char *o = NULL, *n = NULL;
	int r = entry(pv, oldpath, &o);
	if (r < 0 || (r = entry(pv, newpath, &n)) < 0)
		return r;
	struct policy_verdict verdict;
	if (policy_decide_link(pv->pol, o, n, &verdict) < 0)
		return refuse(pv, n, &verdict);
	bool reg = false;
	uint64_t size = pv->quota ? regular_size(pv, o, &reg) : 0;
	if (reg && (r = reserve(pv, n, size, 1)) < 0)
		return r;
	r = vfs_link(pv->inner, o, n);
	if (r < 0 && reg)
		release(pv, size, 1);
	else if (reg)
		landed(pv);
	return r;
}

static int
p_link(struct vfs *v, const char *oldpath, const char *newpath)
{
	return two_passes(to_p(v), link_once(v, oldpath, newpath));
}

static int
symlink_once(struct vfs *v, const char *target, const char *linkpath)
{
	struct pvfs *pv = to_p(v);
	_cleanup_free_ char *p = NULL;
	int r = entry(pv, linkpath, &p);
	if (r < 0 || (r = decide(pv, POLICY_OP_SYMLINK, p, 0)) < 0)
		return r;
	/* The target is stored as given: whatever it names is decided when it is used. */
	return vfs_symlink(pv->inner, target, p);
}

static int
p_symlink(struct vfs *v, const char *target, const char *linkpath)
{
	return two_passes(to_p(v), symlink_once(v, target, linkpath));
}

static int
readlink_once(struct vfs *v, const char *path, char **ret)
{
	struct pvfs *pv = to_p(v);
	_cleanup_free_ char *p = NULL, *dir = NULL;
	int r = entry(pv, path, &p);
	if (r < 0)
		return r;
	if (leaf_reserved(p))
		return -ENOENT;
	dir = parent_dir(p);
	if ((r = decide(pv, POLICY_OP_LIST, dir, POLICY_F_DIR)) < 0)
		return r;
	return vfs_readlink(pv->inner, p, ret);
}

static int
p_readlink(struct vfs *v, const char *path, char **ret)
{
	return two_passes(to_p(v), readlink_once(v, path, ret));
}

static int
p_realpath(struct vfs *v, const char *path, char **ret)
{
	return vfs_realpath(to_p(v)->inner, path, ret);
}

static int
statvfs_once(struct vfs *v, const char *path, struct vfs_statvfs *ret)
{
	struct pvfs *pv = to_p(v);
	_cleanup_free_ char *p = NULL;
	int r = path_follow(pv, path, &p);
	if (r < 0 || (r = vfs_statvfs(pv->inner, p, ret)) < 0)
		return r;
	quota_statvfs(pv, ret);
	return 0;
}

static int
p_statvfs(struct vfs *v, const char *path, struct vfs_statvfs *ret)
{
	return two_passes(to_p(v), statvfs_once(v, path, ret));
}

static int
p_chdir(struct vfs *v, const char *path)
{
	struct pvfs *pv = to_p(v);
	int r = vfs_chdir(pv->inner, path);
	char *cwd;
	if (r == 0 && pv->rules && vfs_realpath(pv->inner, ".", &cwd) == 0) {
		free(pv->cwd);
		pv->cwd = cwd;
	}
	return r;
}

static void
p_free(struct vfs *v)
{
	struct pvfs *pv = to_p(v);
	while (pv->files)
		(void)p_close_ex(&pv->files->base, VFS_CLOSE_ABORT, &(struct vfs_close_report){0});
	vfs_free(pv->inner);
	policy_state_unmap(pv->st);
	free(pv->cwd);
	free(pv);
}

static const struct vfs_ops policy_ops = {
        .open = p_open,
        .pread = p_pread,
        .pwrite = p_pwrite,
        .fstat = p_fstat,
        .fsetattr = p_fsetattr,
        .fsync = p_fsync,
        .fstatvfs = p_fstatvfs,
        .close = p_close,
        .stat = p_stat,
        .setattr = p_setattr,
        .opendir = p_opendir,
        .readdir = p_readdir,
        .closedir = p_closedir,
        .mkdir = p_mkdir,
        .rmdir = p_rmdir,
        .remove = p_remove,
        .rename = p_rename,
        .link = p_link,
        .symlink = p_symlink,
        .readlink = p_readlink,
        .realpath = p_realpath,
        .statvfs = p_statvfs,
        .copy = p_copy,
        .chdir = p_chdir,
        .free = p_free,
        .close_ex = p_close_ex,
        .hash_range = p_hash_range,
        .retry_at = p_retry_at,
};

/* ---- usage scan ---- */

/* A hidden temporary file of a session that no longer exists (fallback mode). */
static bool
stale_temp(const char *name)
{
	if (strncmp(name, TMP_PREFIX, sizeof(TMP_PREFIX) - 1) != 0)
		return false;
	long pid = strtol(name + sizeof(TMP_PREFIX) - 1, NULL, 10);
	if (pid <= 0)
		return false;
	/* Its session process is gone (/proc, not kill(2): the worker's seccomp filter
	 * allows opening files, not signalling). */
	char proc[32];
	snprintf(proc, sizeof(proc), "/proc/%ld", pid);
	int fd = open(proc, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		close(fd);
		return false;
	}
	return errno == ENOENT;
}

int
vfs_policy_scan(struct vfs *v, uint64_t *ret_bytes, uint64_t *ret_files)
{
	char **stack = xcalloc(1, sizeof(char *));
	size_t n = 1, cap = 1;
	uint64_t bytes = 0, files = 0;
	int r = 0;
	stack[0] = xstrdup("/");
	while (n > 0) {
		char *dir = stack[--n];
		struct vfs_dir *d;
		if ((r = vfs_opendir(v, dir, &d)) < 0) {
			free(dir);
			if (r != -ENOENT && r != -EACCES && r != -ENOTDIR)
				break;
			r = 0; /* gone meanwhile, or not ours to read */
			continue;
		}
		const char *name;
		struct vfs_attr a;
		while ((r = vfs_readdir(d, &name, &a)) == 0) {
			if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
				continue;
			char *p = join(dir, name);
			if (S_ISREG(a.mode) && stale_temp(name) && vfs_remove(v, p) == 0) {
				free(p);
				continue;
			}
			if (S_ISREG(a.mode)) {
				bytes += a.size;
				files++;
				free(p);
			} else if (S_ISDIR(a.mode) && strlen(p) < 4000) {
				if (n == cap) {
					cap *= 2;
					stack = xreallocarray(stack, cap, sizeof(char *));
				}
				stack[n++] = p;
			} else {
				free(p);
			}
		}
		(void)vfs_closedir(d);
		free(dir);
		if (r < 0)
			break;
		r = 0;
	}
	while (n > 0)
		free(stack[--n]);
	free(stack);
	if (r < 0)
		return r;
	*ret_bytes = bytes;
	*ret_files = files;
	return 0;
}

static int
scan_cb(void *ctx, uint64_t *bytes, uint64_t *files)
{
	return vfs_policy_scan(ctx, bytes, files);
}

int
vfs_policy_wrap(struct vfs *inner, const struct vfs_policy_config *cfg, struct vfs **ret)
{
	struct pvfs *pv = xcalloc(1, sizeof(*pv));
	const struct policy *p = cfg->policy;
	pv->base.ops = &policy_ops;
	if (!policy_get(p, POLICY_BW_DOWNLOAD) && inner->ops->splice_to) {
		static struct vfs_ops with_splice;
		if (!with_splice.open) {
			with_splice = policy_ops;
			with_splice.splice_to = p_splice_to;
		}
		pv->base.ops = &with_splice;
	}
	pv->base.umask = inner->umask;
	pv->inner = inner;
	pv->cfg = *cfg;
	pv->pol = p;
	pv->rules = policy_has_path_rules(p);
	pv->qbytes = policy_get(p, POLICY_QUOTA_BYTES);
	pv->qfiles = policy_get(p, POLICY_QUOTA_FILES);
	pv->quota = pv->qbytes || pv->qfiles;
	pv->maxsize = policy_get(p, POLICY_MAX_FILE_SIZE);
	pv->bw[POLICY_STATE_UP] = policy_get(p, POLICY_BW_UPLOAD);
	pv->bw[POLICY_STATE_DOWN] = policy_get(p, POLICY_BW_DOWNLOAD);
	pv->mode = (enum policy_upload_mode)policy_get(p, POLICY_UPLOAD_MODE);
	pv->hash = policy_get(p, POLICY_UPLOAD_HASH) != 0;
	pv->no_tmpfile = cfg->no_tmpfile;
	/* Canonical paths only from here on: a link swapped in after a decision fails. */
	if (pv->rules)
		inner->no_symlinks = true;
	if (!pv->rules || vfs_realpath(inner, ".", &pv->cwd) < 0)
		pv->cwd = xstrdup("/");
	int fd = cfg->state_fd;
	pv->cfg.state_fd = -1;
	int r = 0;
	if (pv->quota || pv->bw[0] || pv->bw[1]) {
		r = policy_state_map(fd, &pv->st);
		if (r < 0 && fd >= 0)
			close(fd);
		if (r == 0)
			r = policy_state_attach(
			        pv->st, pv->quota && !(fd < 0 && cfg->no_scan) ? scan_cb : NULL,
			        inner);
	} else if (fd >= 0) {
		close(fd);
	}
	if (r < 0) {
		p_free(&pv->base);
		return r;
	}
	*ret = &pv->base;
	return 0;
}
