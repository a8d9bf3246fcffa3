/* SPDX-License-Identifier: BSD-2-Clause */
/* The legacy scp protocol (rcp over SSH) as a state machine over struct vfs.
 *
 * Records follow OpenSSH's scp.c: the sink answers every record with \0 (ok) or
 * "\1scp: message\n" (error, go on) and a fatal "\1..." ends the session with status
 * 1; "\2..." from the peer is fatal. Everything the peer sends is checked before it is
 * acted on: record length, mode (4 octal digits), size (digits, at most INT64_MAX),
 * times, and file names (no '/', ".", "..", control characters or empty names: the
 * CVE-2019-6111 class), so nothing is ever written outside the target directory, which
 * the VFS jail confines in turn. */
#include <errno.h>
#include <fnmatch.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "berth/buf.h"
#include "berth/common.h"
#include "berth/log.h"
#include "berth/scp_engine.h"
#include "berth/xmem.h"

#define IN_MAX       (256 * 1024)
#define CHUNK        (64 * 1024)
#define RECORD_ROOM  (2 * SCP_MAX_LINE) /* output room needed before any record */
#define OUT_MAX      (4 * CHUNK + 2 * RECORD_ROOM)
#define PATH_MAX_LEN 4096
#define MODE_BITS    06777 /* what a C/D record carries (OpenSSH's FILEMODEMASK) */

enum state {
	ST_START,
	ST_SINK_RECORD, /* waiting for a control record */
	ST_SINK_DATA,   /* a file's contents */
	ST_SINK_STATUS, /* the source's status byte after the contents */
	ST_SRC_NEXT,    /* pick the next file or directory to send */
	ST_SRC_DATA,    /* sending a file's contents */
	ST_SRC_REPLY,   /* waiting for the sink's answer */
	ST_FINISH,      /* flush the output, then done */
	ST_DONE,
};

/* What the source does once the sink answered. */
enum step {
	STEP_START,   /* the sink's first \0 */
	STEP_TIMES,   /* T sent: the C or D record follows */
	STEP_RECORD,  /* C sent: the contents follow; D sent: enter the directory */
	STEP_DATA,    /* a file is done */
	STEP_END_DIR, /* E sent */
};

struct dirframe {
	char *path;
	struct vfs_dir *dir; /* source: the open directory */
	uint32_t mode;       /* sink: applied at E */
	bool set_mode;
	bool set_times;
	int64_t atime, mtime;
};

struct scp_engine {
	struct scp_engine_config cfg;
	struct scp_command cmd;
	const char *parse_err;
	struct xbuf in, out;
	bool in_eof;
	enum state st;
	unsigned errs;
	int status;
	struct dirframe stack[SCP_MAX_DEPTH];
	size_t depth;
	/* a T record, for the next C or D */
	bool times_pending;
	int64_t t_atime, t_mtime;
	/* the file in transfer */
	struct vfs_file *file;
	char *file_path;
	uint64_t file_size, file_done;
	int file_err; /* first I/O error; the stream is still kept in step */
	bool file_existed, file_was_reg, file_set_times;
	int64_t file_atime, file_mtime;
	uint32_t file_mode;
	struct timespec file_start;
	struct vfs_close_report close_rep; /* of the last upload closed (its SHA-256) */
	/* sink */
	const char *target;
	bool targisdir;
	/* source */
	char **list; /* paths after glob expansion */
	size_t n_list, next;
	bool list_full;
	enum step step;
	char *item_path;
	struct vfs_attr item_attr;
	struct vfs_dir *item_dir; /* opened before its D record is sent */
};

static void _printf_(3, 4) elog(struct scp_engine *e, int level, const char *fmt, ...)
{
	if (!e->cfg.log)
		return;
	char line[SCP_MAX_LINE];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	e->cfg.log(e->cfg.userdata, level, "%s", line);
}

static bool
has_control(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
}

/* "\1scp: message\n": the client prints it; the session goes on (errs counts it). */
static void _printf_(2, 3) put_error(struct scp_engine *e, const char *fmt, ...)
{
	char msg[SCP_MAX_LINE - 16];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	for (char *p = msg; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?'; /* names come from the peer and the disk */
	(void)xbuf_putf(&e->out, "\1scp: %s\n", msg);
	e->errs++;
	elog(e, LOG_LEVEL_VERBOSE, "scp: %s", msg);
}

static void
put_ok(struct scp_engine *e)
{
	(void)xbuf_put_u8(&e->out, 0);
}

static void
report(struct scp_engine *e, bool upload, uint64_t bytes, bool completed)
{
	if (!e->cfg.transfer || !e->file_path)
		return;
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	struct scp_transfer t = {
	        .path = e->file_path,
	        .bytes = bytes,
	        .upload = upload,
	        .seconds = (double)(now.tv_sec - e->file_start.tv_sec) +
	                   (double)(now.tv_nsec - e->file_start.tv_nsec) / 1e9,
	        .completed = completed,
	        .sha256 = upload && completed && e->close_rep.have_sha256 ? e->close_rep.sha256
	                                                                  : NULL,
	};
	e->cfg.transfer(e->cfg.userdata, &t);
}

static void
file_close(struct scp_engine *e)
{
	if (e->file)
		(void)vfs_close(e->file);
	e->file = NULL;
	free(e->file_path);
	e->file_path = NULL;
}

static void
file_begin(struct scp_engine *e, struct vfs_file *f, const char *path, uint64_t size)
{
	e->file = f;
	/* Logged as the canonical client path, like the client would see it in SFTP. */
	if (vfs_realpath(e->cfg.vfs, path, &e->file_path) < 0)
		e->file_path = xstrdup(path);
	e->file_size = size;
	e->file_done = 0;
	e->file_err = 0;
	clock_gettime(CLOCK_MONOTONIC, &e->file_start);
}

/* End the session: status 1 after a fatal condition or any error (as scp). */
static void
finish(struct scp_engine *e, bool fatal)
{
	if (e->file) {
		report(e, e->cmd.sink, e->file_done, false);
		file_close(e);
	}
	e->status = fatal || e->errs ? 1 : 0;
	e->st = ST_FINISH;
}

static void _printf_(2, 3) fatal(struct scp_engine *e, const char *fmt, ...)
{
	char msg[SCP_MAX_LINE - 16];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	put_error(e, "%s", msg);
	elog(e, LOG_LEVEL_INFO, "scp session ended: %s", msg);
	finish(e, true);
}

/* @dir + "/" + @name, or NULL past PATH_MAX_LEN. */
static char *
join(const char *dir, const char *name)
{
	size_t dl = strlen(dir);
	if (dl + strlen(name) + 2 > PATH_MAX_LEN)
		return NULL;
	return xasprintf("%s%s%s", dir, dl && dir[dl - 1] == '/' ? "" : "/", name);
}

static const char *
base_name(const char *path)
{
	const char *s = strrchr(path, '/');
	return s && s[1] ? s + 1 : path;
}

/* A complete line (without '\n') at the front of the input, or NULL: not yet
 * (*ret_bad = false) or never (*ret_bad = true: too long or NUL inside). */
static char *
take_line(struct scp_engine *e, bool *ret_bad)
{
	size_t len = xbuf_len(&e->in);
	const uint8_t *p = xbuf_ptr(&e->in);
	const uint8_t *nl = memchr(p, '\n', MIN(len, (size_t)SCP_MAX_LINE));
	*ret_bad = false;
	if (!nl) {
		*ret_bad = len >= SCP_MAX_LINE;
		return NULL;
	}
	size_t n = (size_t)(nl - p);
	if (memchr(p, '\0', n)) {
		*ret_bad = true;
		return NULL;
	}
	char *line = xstrndup((const char *)p, n);
	(void)xbuf_consume(&e->in, n + 1);
	return line;
}

/* Decimal digits only, at most @max. Advances *pp. */
static bool
parse_uint(const char **pp, uint64_t max, uint64_t *ret)
{
	const char *p = *pp;
	uint64_t v = 0;
	if (*p < '0' || *p > '9')
		return false;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (v > (max - (uint64_t)(*p - '0')) / 10)
			return false;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	*pp = p;
	*ret = v;
	return true;
}

/* The peer's answer to what we sent (or its status after a file): 0 ok, 1 an error it
 * reported (counted; the session goes on), 2 the session was ended (fatal or peer
 * gone), -1 incomplete. */
static int
peer_answer(struct scp_engine *e, const char *what)
{
	if (xbuf_len(&e->in) == 0) {
		if (!e->in_eof)
			return -1;
		finish(e, true);
		return 2;
	}
	uint8_t b = xbuf_ptr(&e->in)[0];
	if (b == 0) {
		(void)xbuf_consume(&e->in, 1);
		return 0;
	}
	if (b != 1 && b != 2) {
		fatal(e, "protocol error: unexpected %s", what);
		return 2;
	}
	bool bad;
	_cleanup_free_ char *line = take_line(e, &bad);
	if (!line) {
		if (!bad && !e->in_eof)
			return -1;
		fatal(e, "protocol error: bad %s", what);
		return 2;
	}
	elog(e, LOG_LEVEL_VERBOSE, "scp client reports: %s", line + 1);
	e->errs++;
	if (b == 2) {
		finish(e, true);
		return 2;
	}
	return 1;
}

/* ---- sink: the client uploads ---- */

static void
sink_start(struct scp_engine *e)
{
	e->target = e->cmd.paths[0];
	if (e->cfg.read_only) {
		fatal(e, "%s: %s", e->target, strerror(EACCES));
		return;
	}
	struct vfs_attr a;
	int r = vfs_stat(e->cfg.vfs, e->target, true, &a);
	e->targisdir = r == 0 && S_ISDIR(a.mode);
	if (e->cmd.target_dir && !e->targisdir) {
		fatal(e, "%s: %s", e->target, strerror(r < 0 ? -r : ENOTDIR));
		return;
	}
	put_ok(e);
	e->st = ST_SINK_RECORD;
}

/* "T<mtime> <usec> <atime> <usec>" */
static void
sink_times(struct scp_engine *e, const char *line)
{
	const char *p = line + 1;
	uint64_t mt, mu, at, au;
	if (!parse_uint(&p, UINT64_MAX, &mt) || *p++ != ' ' || !parse_uint(&p, 999999, &mu) ||
	    *p++ != ' ' || !parse_uint(&p, UINT64_MAX, &at) || *p++ != ' ' ||
	    !parse_uint(&p, 999999, &au) || *p != '\0') {
		fatal(e, "protocol error: bad time record");
		return;
	}
	/* Out of range times are ignored, not refused (as scp). */
	e->times_pending = mt <= INT32_MAX && at <= INT32_MAX;
	e->t_mtime = (int64_t)mt;
	e->t_atime = (int64_t)at;
	put_ok(e);
}

static void
sink_end_dir(struct scp_engine *e)
{
	if (e->depth == 0) {
		put_ok(e); /* an E at the top ends the transfer, as scp */
		finish(e, false);
		return;
	}
	struct dirframe *f = &e->stack[--e->depth];
	if (f->set_times) {
		struct vfs_attr a = {.valid = VFS_ATTR_TIMES, .atime = f->atime, .mtime = f->mtime};
		(void)vfs_setattr(e->cfg.vfs, f->path, true, &a);
	}
	if (f->set_mode) {
		struct vfs_attr a = {.valid = VFS_ATTR_PERM, .mode = f->mode};
		(void)vfs_setattr(e->cfg.vfs, f->path, true, &a);
	}
	free(f->path);
	memset(f, 0, sizeof(*f));
	put_ok(e);
}

static void
sink_dir(struct scp_engine *e, char *path, uint32_t mode)
{
	bool set_times = e->times_pending;
	e->times_pending = false;
	if (e->depth >= SCP_MAX_DEPTH) {
		put_error(e, "%s: directories nested deeper than %d", path, SCP_MAX_DEPTH);
		free(path);
		return;
	}
	if (e->cfg.read_only) {
		put_error(e, "%s: %s", path, strerror(EACCES));
		free(path);
		return;
	}
	struct vfs_attr a;
	bool set_mode = e->cmd.preserve;
	int r = vfs_stat(e->cfg.vfs, path, true, &a);
	if (r == 0 && !S_ISDIR(a.mode)) {
		r = -ENOTDIR;
	} else if (r == 0) {
		if (e->cmd.preserve) {
			struct vfs_attr m = {.valid = VFS_ATTR_PERM, .mode = mode};
			(void)vfs_setattr(e->cfg.vfs, path, true, &m);
		}
	} else {
		r = vfs_mkdir(e->cfg.vfs, path, mode | S_IRWXU);
		set_mode = true; /* made writable to fill it; the real mode comes at E */
	}
	if (r < 0) {
		put_error(e, "%s: %s", path, strerror(-r));
		free(path);
		return;
	}
	e->stack[e->depth++] = (struct dirframe){
	        .path = path,
	        .mode = mode,
	        .set_mode = set_mode,
	        .set_times = set_times,
	        .atime = e->t_atime,
	        .mtime = e->t_mtime,
	};
	put_ok(e);
}

static void
sink_file(struct scp_engine *e, char *path, uint32_t mode, uint64_t size)
{
	e->file_set_times = e->times_pending;
	e->file_atime = e->t_atime;
	e->file_mtime = e->t_mtime;
	e->times_pending = false;
	struct vfs_attr a;
	bool exists = vfs_stat(e->cfg.vfs, path, true, &a) == 0;
	int r = 0;
	struct vfs_file *f = NULL;
	if (e->cfg.read_only)
		r = -EACCES;
	else if (exists && S_ISDIR(a.mode))
		r = -EISDIR;
	else
		r = vfs_open(e->cfg.vfs, path, VFS_O_WRITE | VFS_O_CREAT, mode | S_IWUSR, &f);
	if (r < 0) {
		put_error(e, "%s: %s", path, strerror(-r));
		free(path);
		return;
	}
	file_begin(e, f, path, size);
	free(path);
	e->file_existed = exists;
	e->file_was_reg = exists && S_ISREG(a.mode);
	e->file_mode = mode;
	put_ok(e);
	e->st = size ? ST_SINK_DATA : ST_SINK_STATUS;
}

/* "C<mode> <size> <name>" or "D<mode> 0 <name>" */
static void
sink_entry(struct scp_engine *e, const char *line)
{
	const char *p = line + 1;
	uint32_t mode = 0;
	for (int i = 0; i < 4; i++, p++) {
		if (*p < '0' || *p > '7') {
			fatal(e, "protocol error: bad mode");
			return;
		}
		mode = (mode << 3) | (uint32_t)(*p - '0');
	}
	uint64_t size;
	if (*p++ != ' ') {
		fatal(e, "protocol error: mode not delimited");
		return;
	}
	if (!parse_uint(&p, INT64_MAX, &size) || *p++ != ' ') {
		fatal(e, "protocol error: bad size");
		return;
	}
	const char *name = p;
	if (!*name || strchr(name, '/') || strcmp(name, "..") == 0 || strcmp(name, ".") == 0 ||
	    has_control(name) || strlen(name) > SCP_MAX_NAME) {
		fatal(e, "error: unexpected filename: %.300s", name);
		return;
	}
	mode &= MODE_BITS;
	if (!e->cmd.preserve)
		mode &= ~(uint32_t)e->cfg.vfs->umask;
	const char *dir =
	        e->depth ? e->stack[e->depth - 1].path : (e->targisdir ? e->target : NULL);
	char *path = dir ? join(dir, name) : xstrdup(e->target);
	if (!path) {
		put_error(e, "%s/%.300s: %s", dir, name, strerror(ENAMETOOLONG));
		return;
	}
	if (line[0] == 'D') {
		if (!e->cmd.recursive) {
			free(path);
			fatal(e, "received directory without -r");
			return;
		}
		sink_dir(e, path, mode);
	} else {
		sink_file(e, path, mode, size);
	}
}

static bool
sink_record(struct scp_engine *e)
{
	if (xbuf_len(&e->in) == 0) {
		if (!e->in_eof)
			return false;
		finish(e, false); /* the client is done */
		return true;
	}
	bool bad;
	_cleanup_free_ char *line = take_line(e, &bad);
	if (!line) {
		if (bad)
			fatal(e, "protocol error: bad record");
		else if (e->in_eof)
			fatal(e, "lost connection");
		return bad || e->in_eof;
	}
	switch (line[0]) {
	case '\1':
	case '\2':
		elog(e, LOG_LEVEL_VERBOSE, "scp client reports: %s", line + 1);
		e->errs++;
		if (line[0] == '\2')
			finish(e, true);
		break;
	case 'E':
		sink_end_dir(e);
		break;
	case 'T':
		sink_times(e, line);
		break;
	case 'C':
	case 'D':
		sink_entry(e, line);
		break;
	default:
		fatal(e, "protocol error: expected control record");
		break;
	}
	return true;
}

static bool
sink_data(struct scp_engine *e)
{
	size_t n = (size_t)MIN((uint64_t)xbuf_len(&e->in), e->file_size - e->file_done);
	if (n == 0) {
		if (!e->in_eof)
			return false;
		elog(e, LOG_LEVEL_INFO, "scp: upload of %s cut short after %llu of %llu bytes",
		     e->file_path, (unsigned long long)e->file_done,
		     (unsigned long long)e->file_size);
		finish(e, true); /* the partial file stays, logged as aborted */
		return true;
	}
	if (!e->file_err) {
		size_t w = 0;
		int r = vfs_pwrite(e->file, xbuf_ptr(&e->in), n, e->file_done, &w);
		if (r < 0)
			e->file_err = -r;
		else if (w != n)
			e->file_err = EIO;
	}
	/* After an error keep reading, to stay in step with the client. */
	(void)xbuf_consume(&e->in, n);
	e->file_done += n;
	if (e->file_done == e->file_size)
		e->st = ST_SINK_STATUS;
	return true;
}

/* Truncate, mode, times and close, as scp's sink does; the error to report or 0. */
static int
sink_file_finalize(struct scp_engine *e)
{
	int err = e->file_err;
	if (!err && (!e->file_existed || e->file_was_reg)) {
		struct vfs_attr a = {.valid = VFS_ATTR_SIZE, .size = e->file_size};
		int r = vfs_fsetattr(e->file, &a);
		if (r < 0)
			err = -r;
	}
	uint32_t created = e->file_mode | S_IWUSR;
	if ((e->cmd.preserve && (e->file_existed || created != e->file_mode)) ||
	    (!e->cmd.preserve && !e->file_existed && created != e->file_mode)) {
		struct vfs_attr a = {.valid = VFS_ATTR_PERM, .mode = e->file_mode};
		int r = vfs_fsetattr(e->file, &a);
		if (r < 0 && !err)
			err = -r;
	}
	if (e->file_set_times && !e->file_err) {
		struct vfs_attr a = {
		        .valid = VFS_ATTR_TIMES, .atime = e->file_atime, .mtime = e->file_mtime};
		int r = vfs_fsetattr(e->file, &a);
		if (r < 0 && !err)
			err = -r;
	}
	e->close_rep = (struct vfs_close_report){0};
	int r = vfs_close_ex(e->file, 0, &e->close_rep);
	e->file = NULL;
	if (r < 0 && !err)
		err = -r;
	return err;
}

static bool
sink_status(struct scp_engine *e)
{
	int a = peer_answer(e, "status");
	if (a < 0)
		return false;
	if (a == 2)
		return true;
	int err = sink_file_finalize(e);
	report(e, true, e->file_done, err == 0);
	if (err)
		put_error(e, "%s: %s", e->file_path, strerror(err));
	else
		put_ok(e);
	file_close(e);
	e->st = ST_SINK_RECORD;
	return true;
}

/* ---- source: the client downloads ---- */

static void
list_add(struct scp_engine *e, char *path)
{
	if (e->n_list >= SCP_MAX_PATHS) {
		if (!e->list_full)
			put_error(e, "too many files (at most %d)", SCP_MAX_PATHS);
		e->list_full = true;
		free(path);
		return;
	}
	e->list = xreallocarray(e->list, e->n_list + 1, sizeof(char *));
	e->list[e->n_list++] = path;
}

static bool
has_active_glob(const char *pat, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (pat[i] == '\\' && i + 1 < len)
			i++;
		else if (pat[i] == '*' || pat[i] == '?' || pat[i] == '[')
			return true;
	}
	return false;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A glob in the last component of @literal, read from the VFS; no match = literal. */
static void
expand_glob(struct scp_engine *e, const char *literal, const char *pattern)
{
	const char *ps = strrchr(pattern, '/'), *ls = strrchr(literal, '/');
	const char *last = ps ? ps + 1 : pattern;
	if (ps && has_active_glob(pattern, (size_t)(ps - pattern))) {
		list_add(e, xstrdup(literal)); /* globs in directory parts stay literal */
		return;
	}
	char *dir = ls ? (ls == literal ? xstrdup("/") : xstrndup(literal, (size_t)(ls - literal)))
	               : xstrdup(".");
	char *prefix = ls ? xstrndup(literal, (size_t)(ls - literal) + 1) : xstrdup("");
	struct vfs_dir *d = NULL;
	char **m = NULL;
	size_t nm = 0;
	if (vfs_opendir(e->cfg.vfs, dir, &d) == 0) {
		const char *name;
		struct vfs_attr a;
		while (nm < SCP_MAX_PATHS && vfs_readdir(d, &name, &a) == 0) {
			if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0 ||
			    fnmatch(last, name, FNM_PERIOD) != 0)
				continue;
			m = xreallocarray(m, nm + 1, sizeof(char *));
			m[nm++] = xasprintf("%s%s", prefix, name);
		}
		(void)vfs_closedir(d);
	}
	if (nm == 0)
		list_add(e, xstrdup(literal));
	if (nm > 1)
		qsort(m, nm, sizeof(char *), cmp_str);
	for (size_t i = 0; i < nm; i++)
		list_add(e, m[i]);
	free(m);
	free(dir);
	free(prefix);
}

static void
source_start(struct scp_engine *e)
{
	for (size_t i = 0; i < e->cmd.n_paths; i++) {
		if (e->cmd.patterns[i])
			expand_glob(e, e->cmd.paths[i], e->cmd.patterns[i]);
		else
			list_add(e, xstrdup(e->cmd.paths[i]));
	}
	e->step = STEP_START;
	e->st = ST_SRC_REPLY;
}

static void
item_clear(struct scp_engine *e)
{
	if (e->item_dir)
		(void)vfs_closedir(e->item_dir);
	e->item_dir = NULL;
	file_close(e);
	free(e->item_path);
	e->item_path = NULL;
}

static void
source_record(struct scp_engine *e)
{
	const char *name = base_name(e->item_path);
	uint32_t mode = e->item_attr.mode & MODE_BITS;
	if (e->item_dir)
		(void)xbuf_putf(&e->out, "D%04o 0 %s\n", (unsigned)mode, name);
	else
		(void)xbuf_putf(&e->out, "C%04o %llu %s\n", (unsigned)mode,
		                (unsigned long long)e->item_attr.size, name);
	e->step = STEP_RECORD;
	e->st = ST_SRC_REPLY;
}

/* Send @path (owned): a file, or with -r a directory; errors are reported and skipped. */
static void
source_item(struct scp_engine *e, char *path)
{
	size_t len = strlen(path);
	while (len > 1 && path[len - 1] == '/')
		path[--len] = '\0';
	e->item_path = path;
	int r = vfs_stat(e->cfg.vfs, path, true, &e->item_attr);
	if (r == 0 && strchr(base_name(path), '\n'))
		r = -EINVAL;
	if (r == 0 && S_ISREG(e->item_attr.mode)) {
		struct vfs_file *f = NULL;
		r = vfs_open(e->cfg.vfs, path, VFS_O_READ, 0, &f);
		if (r == 0)
			file_begin(e, f, path, e->item_attr.size);
	} else if (r == 0 && S_ISDIR(e->item_attr.mode) && e->cmd.recursive) {
		if (e->depth >= SCP_MAX_DEPTH) {
			put_error(e, "%s: directories nested deeper than %d", path, SCP_MAX_DEPTH);
			item_clear(e);
			return;
		}
		r = vfs_opendir(e->cfg.vfs, path, &e->item_dir);
	} else if (r == 0) {
		put_error(e, "%s: not a regular file", path);
		item_clear(e);
		return;
	}
	if (r < 0) {
		put_error(e, "%s: %s", path, strerror(-r));
		item_clear(e);
		return;
	}
	if (e->cmd.preserve) {
		(void)xbuf_putf(&e->out, "T%lld 0 %lld 0\n", (long long)e->item_attr.mtime,
		                (long long)e->item_attr.atime);
		e->step = STEP_TIMES;
		e->st = ST_SRC_REPLY;
		return;
	}
	source_record(e);
}

static bool
source_next(struct scp_engine *e)
{
	if (e->depth > 0) {
		struct dirframe *f = &e->stack[e->depth - 1];
		const char *name;
		struct vfs_attr a;
		int r = vfs_readdir(f->dir, &name, &a);
		if (r == 0) {
			if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
				return true;
			char *path = join(f->path, name);
			if (!path)
				put_error(e, "%s/%.300s: %s", f->path, name,
				          strerror(ENAMETOOLONG));
			else
				source_item(e, path);
			return true;
		}
		if (r < 0)
			put_error(e, "%s: %s", f->path, strerror(-r));
		(void)vfs_closedir(f->dir);
		free(f->path);
		memset(f, 0, sizeof(*f));
		e->depth--;
		(void)xbuf_putf(&e->out, "E\n");
		e->step = STEP_END_DIR;
		e->st = ST_SRC_REPLY;
		return true;
	}
	if (e->next < e->n_list) {
		source_item(e, xstrdup(e->list[e->next++]));
		return true;
	}
	finish(e, false);
	return true;
}

static bool
source_data(struct scp_engine *e)
{
	bool progressed = false;
	while (e->file_done < e->file_size && xbuf_avail(&e->out) >= CHUNK + RECORD_ROOM) {
		size_t n = (size_t)MIN((uint64_t)CHUNK, e->file_size - e->file_done);
		uint8_t *p;
		if (xbuf_reserve(&e->out, n, &p) < 0)
			break;
		size_t got = 0;
		if (!e->file_err) {
			int r = vfs_pread(e->file, p, n, e->file_done, &got);
			if (r < 0)
				e->file_err = -r;
			else if (got < n)
				e->file_err = ENODATA; /* the file shrank meanwhile */
		}
		/* After an error keep sending (zeros) to stay in step, as scp. */
		if (got < n)
			memset(p + got, 0, n - got);
		e->file_done += n;
		progressed = true;
	}
	if (e->file_done < e->file_size)
		return progressed;
	if (xbuf_avail(&e->out) < RECORD_ROOM)
		return progressed;
	report(e, false, e->file_done, e->file_err == 0);
	if (e->file_err == ENODATA)
		put_error(e, "%s: file shrank while it was sent", e->item_path);
	else if (e->file_err)
		put_error(e, "%s: %s", e->item_path, strerror(e->file_err));
	else
		put_ok(e);
	file_close(e);
	e->step = STEP_DATA;
	e->st = ST_SRC_REPLY;
	return true;
}

static void
source_step(struct scp_engine *e, bool ok)
{
	e->st = ST_SRC_NEXT;
	switch (e->step) {
	case STEP_START:
		break; /* scp's source ignores a complaint here */
	case STEP_TIMES:
		if (ok)
			source_record(e);
		else
			item_clear(e);
		break;
	case STEP_RECORD:
		if (!ok) {
			item_clear(e);
		} else if (e->item_dir) {
			e->stack[e->depth++] =
			        (struct dirframe){.path = e->item_path, .dir = e->item_dir};
			e->item_path = NULL;
			e->item_dir = NULL;
		} else {
			e->st = ST_SRC_DATA;
		}
		break;
	case STEP_DATA:
		item_clear(e);
		break;
	case STEP_END_DIR:
		break;
	}
}

static bool
source_reply(struct scp_engine *e)
{
	int a = peer_answer(e, "reply");
	if (a < 0)
		return false;
	if (a != 2)
		source_step(e, a == 0);
	return true;
}

/* ---- driver ---- */

static bool
step_once(struct scp_engine *e)
{
	switch (e->st) {
	case ST_START:
		if (e->parse_err)
			fatal(e, "%s", e->parse_err);
		else if (e->cmd.sink)
			sink_start(e);
		else
			source_start(e);
		return true;
	case ST_SINK_RECORD:
		return sink_record(e);
	case ST_SINK_DATA:
		return sink_data(e);
	case ST_SINK_STATUS:
		return sink_status(e);
	case ST_SRC_NEXT:
		return source_next(e);
	case ST_SRC_DATA:
		return source_data(e);
	case ST_SRC_REPLY:
		return source_reply(e);
	case ST_FINISH:
		if (xbuf_len(&e->out) == 0)
			e->st = ST_DONE;
		return false;
	case ST_DONE:
		return false;
	}
	return false;
}

int
scp_engine_process(struct scp_engine *e)
{
	for (unsigned i = 0; i < 100000; i++) {
		/* Every step may emit a record; file data checks its own room. */
		if (e->st != ST_SINK_DATA && e->st != ST_SRC_DATA &&
		    xbuf_avail(&e->out) < RECORD_ROOM)
			return 0;
		if (!step_once(e))
			return 0;
	}
	return 0; /* yield; the loop calls again */
}

int
scp_engine_new(const struct scp_engine_config *cfg, const char *cmdline, struct scp_engine **ret)
{
	struct scp_command cmd = {0};
	const char *err = NULL;
	int r = scp_command_parse(cmdline, cfg->home, &cmd, &err);
	if (r > 0)
		return 1;
	struct scp_engine *e = xcalloc(1, sizeof(*e));
	e->cfg = *cfg;
	e->cmd = cmd;
	e->parse_err = r < 0 ? (err ? err : "bad command") : NULL;
	xbuf_init(&e->in, IN_MAX);
	xbuf_init(&e->out, OUT_MAX);
	e->st = ST_START;
	if (!e->parse_err)
		elog(e, LOG_LEVEL_VERBOSE, "scp %s %s%s", cmd.sink ? "upload to" : "download of",
		     cmd.paths[0], cmd.n_paths > 1 ? " ..." : "");
	*ret = e;
	return 0;
}

void
scp_engine_free(struct scp_engine *e)
{
	if (!e)
		return;
	if (e->file)
		report(e, e->cmd.sink, e->file_done, false);
	item_clear(e);
	while (e->depth > 0) {
		struct dirframe *f = &e->stack[--e->depth];
		if (f->dir)
			(void)vfs_closedir(f->dir);
		free(f->path);
	}
	for (size_t i = 0; i < e->n_list; i++)
		free(e->list[i]);
	free(e->list);
	scp_command_free(&e->cmd);
	xbuf_deinit(&e->in);
	xbuf_deinit(&e->out);
	free(e);
}

size_t
scp_engine_input_room(const struct scp_engine *e)
{
	return e->in_eof || e->st == ST_FINISH || e->st == ST_DONE ? 0 : xbuf_avail(&e->in);
}

int
scp_engine_feed(struct scp_engine *e, const void *data, size_t len)
{
	if (e->st == ST_FINISH || e->st == ST_DONE)
		return 0; /* the session is over: input is dropped */
	return xbuf_put(&e->in, data, len);
}

void
scp_engine_feed_eof(struct scp_engine *e)
{
	e->in_eof = true;
}

const uint8_t *
scp_engine_output(const struct scp_engine *e, size_t *ret_len)
{
	*ret_len = xbuf_len(&e->out);
	return xbuf_ptr(&e->out);
}

void
scp_engine_output_consume(struct scp_engine *e, size_t n)
{
	(void)xbuf_consume(&e->out, n);
}

bool
scp_engine_done(const struct scp_engine *e, int *ret_status)
{
	if (e->st != ST_DONE && !(e->st == ST_FINISH && xbuf_len(&e->out) == 0))
		return false;
	*ret_status = e->status;
	return true;
}
