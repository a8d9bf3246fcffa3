/* SPDX-License-Identifier: BSD-2-Clause */
/* SFTP request handlers and the dispatch tables (OpenSSH's handlers[] with its
 * does_write bit). Handlers parse inside the frame view, call the VFS only, and queue
 * exactly one reply. They return 0, -EBADMSG for a malformed request (the engine
 * answers BAD_MESSAGE) or -ENOBUFS for a reply over the size limit. */
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>

#include "berth/common.h"
#include "berth/hash.h"
#include "berth/xmem.h"
#include "fxp-internal.h"

static int
get_path(struct xbuf *req, char **ret)
{
	int r = xbuf_get_cstring(req, ret, FXP_MAX_PATH);
	/* An over-long path is a well-formed request we refuse, not a parse error. */
	if (r == -ENAMETOOLONG) {
		*ret = NULL;
		return 1;
	}
	return r;
}

/* Parse one path argument; on a too-long path answer BAD_MESSAGE right away.
 * Returns 0 with *ret set, 1 when a reply was already queued, or -EBADMSG. */
#define GET_PATH_OR_REPLY(req, var)                                                                \
	do {                                                                                       \
		int _r = get_path((req), &(var));                                                  \
		if (_r < 0)                                                                        \
			return _r;                                                                 \
		if (_r > 0)                                                                        \
			return send_status(e, id, FX_BAD_MESSAGE);                                 \
	} while (0)

static const char *
open_flags_string(uint32_t pflags, char *buf, size_t len)
{
	static const struct {
		uint32_t bit;
		const char *name;
	} names[] = {
	        {FXF_READ, "READ"},    {FXF_WRITE, "WRITE"},    {FXF_APPEND, "APPEND"},
	        {FXF_CREAT, "CREATE"}, {FXF_TRUNC, "TRUNCATE"}, {FXF_EXCL, "EXCL"},
	};
	buf[0] = '\0';
	size_t used = 0;
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		if (!(pflags & names[i].bit))
			continue;
		int n = snprintf(buf + used, len - used, "%s%s", used ? "," : "", names[i].name);
		if (n < 0 || (size_t)n >= len - used)
			break;
		used += (size_t)n;
	}
	return buf;
}

static void
log_close(struct fxp_engine *e, struct fxp_handle *h, bool forced,
          const struct vfs_close_report *rep)
{
	if (h->type == HANDLE_FILE) {
		fxp_log(e, LOG_LEVEL_INFO, "%sclose \"%s\" bytes read %llu written %llu",
		        forced ? "forced " : "", h->path, (unsigned long long)h->bytes_read,
		        (unsigned long long)h->bytes_written);
		if (e->cfg.transfer && (h->bytes_read || h->bytes_written ||
		                        (h->vfs_flags & (VFS_O_WRITE | VFS_O_CREAT)))) {
			struct timespec now;
			clock_gettime(CLOCK_MONOTONIC, &now);
			struct fxp_transfer t = {
			        .path = h->path,
			        .bytes_read = h->bytes_read,
			        .bytes_written = h->bytes_written,
			        .seconds = (double)(now.tv_sec - h->opened.tv_sec) +
			                   (double)(now.tv_nsec - h->opened.tv_nsec) / 1e9,
			        .completed = !forced,
			        .sha256 = rep && rep->have_sha256 ? rep->sha256 : NULL,
			        .published = !rep || rep->published,
			        .reason = rep && rep->reason[0] ? rep->reason : NULL,
			};
			e->cfg.transfer(e->cfg.userdata, &t);
		}
	} else {
		fxp_log(e, LOG_LEVEL_INFO, "%sclosedir \"%s\"", forced ? "forced " : "", h->path);
	}
}

static int
close_handle(struct fxp_engine *e, struct fxp_handle *h, bool forced)
{
	int r;
	if (h->type == HANDLE_FILE) {
		/* The VFS reports what became of the file (checksum, atomic publication). */
		struct vfs_close_report rep;
		r = vfs_close_ex(h->file, forced ? VFS_CLOSE_ABORT : 0, &rep);
		log_close(e, h, forced, &rep);
	} else {
		log_close(e, h, forced, NULL);
		r = vfs_closedir(h->dir);
	}
	handle_release(&e->handles, h);
	return r;
}

void
fxp_close_all_handles(struct fxp_engine *e)
{
	for (uint32_t i = 0; i < e->handles.nslots; i++)
		if (e->handles.slots[i].type != HANDLE_UNUSED)
			(void)close_handle(e, &e->handles.slots[i], true);
}

/* Enter an opened file or directory in the handle table and answer with its handle;
 * on exhaustion the object is closed again and FAILURE answered. Takes @path. */
static int
register_handle(struct fxp_engine *e, uint32_t id, enum handle_type type, char *path,
                unsigned vfs_flags, void *obj)
{
	int slot = handle_new(&e->handles, type, path, vfs_flags, obj);
	if (slot < 0) {
		if (type == HANDLE_FILE)
			(void)vfs_close(obj);
		else
			(void)vfs_closedir(obj);
		return send_status(e, id, FX_FAILURE);
	}
	return send_handle(e, id, (uint32_t)slot);
}

static int
op_open(struct fxp_engine *e, uint32_t id, struct xbuf *req)
{
	_cleanup_free_ char *path = NULL;
	uint32_t pflags;
	struct vfs_attr a;
	int r;

	GET_PATH_OR_REPLY(req, path);
	if ((r = xbuf_get_u32(req, &pflags)) < 0 || (r = attr_decode(req, &a)) < 0)
		return r;
	uint32_t mode = (a.valid & VFS_ATTR_PERM) ? a.mode : 0666;
	char fbuf[64];
	fxp_log(e, LOG_LEVEL_INFO, "open \"%s\" flags %s mode 0%o", path,
	        open_flags_string(pflags, fbuf, sizeof(fbuf)), mode);

	unsigned flags = 0;
	if (pflags & FXF_READ)
		flags |= VFS_O_READ;
	if (pflags & FXF_WRITE)
		flags |= VFS_O_WRITE;
	if (pflags & FXF_APPEND)
		flags |= VFS_O_APPEND;
	if (pflags & FXF_CREAT)
		flags |= VFS_O_CREAT;
	if (pflags & FXF_TRUNC)
		flags |= VFS_O_TRUNC;
	if (pflags & FXF_EXCL)
		flags |= VFS_O_EXCL;
	/* Read-only mode refuses every state-changing open (CVE-2017-15906, plus APPEND). */
	if (e->cfg.read_only &&
	    (flags & (VFS_O_WRITE | VFS_O_APPEND | VFS_O_CREAT | VFS_O_TRUNC))) {
		fxp_log(e, LOG_LEVEL_VERBOSE, "Refusing open request in read-only mode");
		return send_status(e, id, FX_PERMISSION_DENIED);
	}
	if (e->handles.nused >= e->handles.max)
		return send_status(e, id, FX_FAILURE);
	struct vfs_file *f;
	r = vfs_open(e->cfg.vfs, path, flags, mode, &f);
	if (r < 0)
		return send_status_errno(e, id, r);
	return register_handle(e, id, HANDLE_FILE, ptr_steal(&path), flags, f);
}

static int
op_close(struct fxp_engine *e, uint32_t id, struct xbuf *req)
{
	struct fxp_handle *h;
	int r = handle_get(&e->handles, req, HANDLE_UNUSED, &h, NULL);
	if (r < 0)
		return r;
	if (r > 0)
		return send_status(e, id, FX_NO_SUCH_FILE);
	r = close_handle(e, h, false);
	return send_status_errno(e, id, r);
}

static int
op_read(struct fxp_engine *e, uint32_t id, struct xbuf *req)
{
	struct fxp_handle *h;
	uint64_t off;
	uint32_t len;
	int r = handle_get(&e->handles, req, HANDLE_FILE, &h, NULL);
	if (r < 0)
		return r;
	int r2;
	if ((r2 = xbuf_get_u64(req, &off)) < 0 || (r2 = xbuf_get_u32(req, &len)) < 0)
		return r2;
	if (r > 0)
		return send_status(e, id, FX_FAILURE);
	if (len > FXP_MAX_READ) {
		fxp_log(e, LOG_LEVEL_DEBUG2, "read change len %u to %u", len, FXP_MAX_READ);
		len = FXP_MAX_READ;
	}
	/* Zero-copy when the transport can: the data stays in the file until sent. */
	if ((r = reply_data_from_file(e, id, h->file, off, len)) <= 0) {
		if (r < 0)
			return send_status(e, id, fxp_status_from_errno(r));
		h->bytes_read += len;
		return 0;
	}
	/* Read straight into the output queue: DATA header, then the bytes. */
	size_t pos = reply_begin(e, FXP_DATA, id);
	uint8_t *p;
	if ((r = xbuf_put_u32(&e->out, len)) < 0 || (r = xbuf_reserve(&e->out, len, &p)) < 0) {
		reply_abort(e, pos);
		return send_status(e, id, FX_FAILURE);
	}
	size_t n = 0;
	r = len ? vfs_pread(h->file, p, len, off, &n) : 0;
	if (r < 0 && (r = fxp_wait_if_throttled(e, r)) == FXP_WAIT) {
		reply_abort(e, pos);
		return r;
	}
	if (r < 0 || (len > 0 && n == 0)) {
		reply_abort(e, pos);
		if (r < 0)
			fxp_log(e, LOG_LEVEL_ERROR, "read: %s", strerror(-r));
		return send_status(e, id, r < 0 ? fxp_status_from_errno(r) : FX_EOF);
	}
	(void)xbuf_trim_tail(&e->out, len - n);
	(void)xbuf_poke_u32(&e->out, pos + 9, (uint32_t)n);
	h->bytes_read += n;
	return reply_end(e, pos);
}

static int
op_write(struct fxp_engine *e, uint32_t id, struct xbuf *req)
{
	struct fxp_handle *h;
	uint64_t off;
	const uint8_t *data;
	size_t len;
	int r = handle_get(&e->handles, req, HANDLE_FILE, &h, NULL);
	if (r < 0)
		return r;
	int r2;
	if ((r2 = xbuf_get_u64(req, &off)) < 0 ||
	    (r2 = xbuf_get_string_direct(req, &data, &len)) < 0)
		return r2;
	if (r > 0)
		return send_status(e, id, FX_FAILURE);
	size_t n = 0;
	r = vfs_pwrite(h->file, data, len, off, &n);
	if (r < 0 && (r = fxp_wait_if_throttled(e, r)) == FXP_WAIT)
		return r;
	if (r < 0) {
		fxp_log(e, LOG_LEVEL_ERROR, "process_write: write failed");
		return send_status_errno(e, id, r);
	}
	h->bytes_written += n;
	return send_status(e, id, FX_OK);
}

static int
stat_common(struct fxp_engine *e, uint32_t id, struct xbuf *req, bool follow)
{
	_cleanup_free_ char *path = NULL;
	GET_PATH_OR_REPLY(req, path);
	fxp_log(e, LOG_LEVEL_VERBOSE, "%sstat name \"%s\"", follow ? "" : "l", path);
	struct vfs_attr a;
	int r = vfs_stat(e->cfg.vfs, path, follow, &a);
	if (r < 0)
		return send_status_errno(e, id, r);
	return send_attrs(e, id, &a);
}

static int
op_stat(struct fxp_engine *e, uint32_t id, struct xbuf *req)
{
	return stat_common(e, id, req, true);
}

static int
op_lstat(struct fxp_engine *e, uint32_t id, struct xbuf *req)
{
	return stat_common(e, id, req, false);
}

static int
op_fstat(struct fxp_engine *e, uint32_t id, struct xbuf *req)
{
	struct fxp_handle *h;
	int r = handle_get(&e->handles, req, HANDLE_FILE, &h, NULL);
	if (r < 0)
		return r;
	if (r > 0)
		return send_status(e, id, FX_FAILURE);
	fxp_log(e, LOG_LEVEL_DEBUG1, "request %u: fstat \"%s\"", id, h->path);
	struct vfs_attr a;
	r = vfs_fstat(h->file, &a);
	if (r < 0)
		return send_status_errno(e, id, r);
	return send_attrs(e, id, &a);
}

/* Apply attributes one at a time in OpenSSH's order (size, mode, times, owner), each
 * logged, every one attempted; the status is the last failure. */
typedef int (*setattr_fn)(void *target, const struct vfs_attr *a, bool follow);

static int
setattr_path(void *target, const struct vfs_attr *a, bool follow)
{
	void **t = target;
	return vfs_setattr(t[0], t[1], follow, a);
}

static int
setattr_file(void *target, const struct vfs_attr *a, bool follow)
{
	return vfs_fsetattr(target, a);
}

static int
apply_setattr(struct fxp_engine *e, const char *path, const struct vfs_attr *a, setattr_fn fn,
              void *target, bool follow)
{
	int status = 0;
	struct vfs_attr one = *a;
	if (a->valid & VFS_ATTR_SIZE) {
		fxp_log(e, LOG_LEVEL_INFO, "set \"%s\" size %llu", path,
		        (unsigned long long)a->size);
		one.valid = VFS_ATTR_SIZE;
		int r = fn(target, &one, follow);
		if (r < 0)
			status = r;
	}
	if (a->valid & VFS_ATTR_PERM) {
		fxp_log(e, LOG_LEVEL_INFO, "set \"%s\" mode %04o", path, a->mode);
		one.valid = VFS_ATTR_PERM;
		int r = fn(target, &one, follow);
		if (r < 0)
			status = r;
	}
	if (a->valid & VFS_ATTR_TIMES) {
		char buf[64];
		time_t t = (time_t)a->mtime;
		struct tm tm;
		if (!localtime_r(&t, &tm) || !strftime(buf, sizeof(buf), "%Y%m%d-%H:%M:%S", &tm))
			snprintf(buf, sizeof(buf), "%lld", (long long)a->mtime);
		fxp_log(e, LOG_LEVEL_INFO, "set \"%s\" modtime %s", path, buf);
		one.valid = VFS_ATTR_TIMES;
		int r = fn(target, &one, follow);
		if (r < 0)
			status = r;
	}
	if (a->valid & VFS_ATTR_UIDGID) {
		fxp_log(e, LOG_LEVEL_INFO, "set \"%s\" owner %lu group %lu", path,
		        (unsigned long)a->uid, (unsigned long)a->gid);
		one.valid = VFS_ATTR_UIDGID;
		int r = fn(target, &one, follow);
		if (r < 0)
			status = r;
	}
	return status;
}

static int
setstat_common(struct fxp_engine *e, uint32_t id, struct xbuf *req, bool follow)
{
	_cleanup_free_ char *path = NULL;
	struct vfs_attr a;
	GET_PATH_OR_REPLY(req, path);
	int r = attr_decode(req, &a);
	if (r < 0)
		return r;
	if (!follow && (a.valid & VFS_ATTR_SIZE))
		return send_status(e, id, FX_BAD_MESSAGE); /* nonsensical for links */
	void *target[2] = {e->cfg.vfs, path};
	return send_status_errno(e, id, apply_setattr(e, path, &a, setattr_path, target, follow));
}

static int
op_setstat(struct fxp_engine *e, uint32_t id, struct xbuf *req)
{
	return setstat_common(e, id, req, true);
}

static int
op_fsetstat(struct fxp_engine *e, uint32_t id, struct xbuf *req)
{
	struct fxp_handle *h;
	struct vfs_attr a;
	int r = handle_get(&e->handles, req, HANDLE_FILE, &h, NULL);
	if (r < 0)
		return r;
	int r2 = attr_decode(req, &a);
	if (r2 < 0)
		return r2;
	if (r > 0)
		return send_status(e, id, FX_FAILURE);
	return send_status_errno(e, id, apply_setattr(e, h->path, &a, setattr_file, h->file, true));
}

static int
op_opendir(struct fxp_engine *e, uint32_t id, struct xbuf *req)
{
	_cleanup_free_ char *path = NULL;
	GET_PATH_OR_REPLY(req, path);
	fxp_log(e, LOG_LEVEL_INFO, "opendir \"%s\"", path);
	if (e->handles.nused >= e->handles.max)
		return send_status(e, id, FX_FAILURE);
	struct vfs_dir *d;
	int r = vfs_opendir(e->cfg.vfs, path, &d);
	if (r < 0)
		return send_status_errno(e, id, r);
	return register_handle(e, id, HANDLE_DIR, ptr_steal(&path), 0, d);
}

static int
op_readdir(struct fxp_engine *e, uint32_t id, struct xbuf *req)
{
	struct fxp_handle *h;
	int r = handle_get(&e->handles, req, HANDLE_DIR, &h, NULL);
	if (r < 0)
		return r;
	if (r > 0)
		return send_status(e, id, FX_FAILURE);
	fxp_log(e, LOG_LEVEL_DEBUG1, "request %u: readdir \"%s\"", id, h->path);

	size_t pos = reply_begin(e, FXP_NAME, id);
	size_t count_pos = xbuf_len(&e->out);
	(void)xbuf_put_u32(&e->out, 0);
	uint32_t count = 0;
	while (count < FXP_READDIR_MAX) {
		const char *name;
		struct vfs_attr a;
		r = vfs_readdir(h->dir, &name, &a);
		if (r != 0)
			break;
		_cleanup_free_ char *longname = fxp_longname(name, &a, e->cfg.numeric_ids);
		if ((r = xbuf_put_cstring(&e->out, name)) < 0 ||
		    (r = xbuf_put_cstring(&e->out, longname)) < 0 ||
		    (r = attr_encode(&e->out, &a)) < 0)
			break;
		count++;
	}
	if (r < 0 && count == 0) {
		reply_abort(e, pos);
		return send_status_errno(e, id, r);
	}
	if (count == 0) {
		reply_abort(e, pos);
		return send_status(e, id, FX_EOF);
	}
	(void)xbuf_poke_u32(&e->out, count_pos, count);
	return reply_end(e, pos);
}

static int
op_remove(struct fxp_engine *e, uint32_t id, struct xbuf *req)
{
	_cleanup_free_ char *path = NULL;
	GET_PATH_OR_REPLY(req, path);
	fxp_log(e, LOG_LEVEL_INFO, "remove name \"%s\"", path);
	return send_status_errno(e, id, vfs_remove(e->cfg.vfs, path));
}

static int
op_mkdir(struct fxp_engine *e, uint32_t id, struct xbuf *req)
{
	_cleanup_free_ char *path = NULL;
	struct vfs_attr a;
	GET_PATH_OR_REPLY(req, path);
	int r = attr_decode(req, &a);
	if (r < 0)
		return r;
	uint32_t mode = (a.valid & VFS_ATTR_PERM) ? a.mode & 07777 : 0777;
	fxp_log(e, LOG_LEVEL_INFO, "mkdir name \"%s\" mode 0%o", path, mode);
	return send_status_errno(e, id, vfs_mkdir(e->cfg.vfs, path, mode));
}

static int
op_rmdir(struct fxp_engine *e, uint32_t id, struct xbuf *req)
{
	_cleanup_free_ char *path = NULL;
	GET_PATH_OR_REPLY(req, path);
	fxp_log(e, LOG_LEVEL_INFO, "rmdir name \"%s\"", path);
	return send_status_errno(e, id, vfs_rmdir(e->cfg.vfs, path));
}

static int
op_realpath(struct fxp_engine *e, uint32_t id, struct xbuf *req)
{
	_cleanup_free_ char *path = NULL, *resolved = NULL;
	GET_PATH_OR_REPLY(req, path);
	const char *p = path[0] ? path : ".";
	fxp_log(e, LOG_LEVEL_VERBOSE, "realpath \"%s\"", p);
	int r = vfs_realpath(e->cfg.vfs, p, &resolved);
	if (r < 0)
		return send_status_errno(e, id, r);
	return send_name1(e, id, resolved);
}

/* Read two path arguments; 1 if a reply was already queued. */
static int
get_two_paths(struct fxp_engine *e, uint32_t id, struct xbuf *req, char **a, char **b)
{
	int r = get_path(req, a);
	if (r < 0)
		return r;
	int r2 = get_path(req, b);
	if (r2 < 0)
		return r2;
	if (r > 0 || r2 > 0) {
		int s = send_status(e, id, FX_BAD_MESSAGE);
		return s < 0 ? s : 1;
	}
	return 0;
}

static int
op_rename(struct fxp_engine *e, uint32_t id, struct xbuf *req)
{
	_cleanup_free_ char *oldpath = NULL, *newpath = NULL;
	int r = get_two_paths(e, id, req, &oldpath, &newpath);
	if (r != 0)
		return r < 0 ? r : 0;
	fxp_log(e, LOG_LEVEL_INFO, "rename old \"%s\" new \"%s\"", oldpath, newpath);
	/* SFTP v3 RENAME never overwrites (OpenSSH uses link()+unlink()). */
	r = vfs_rename(e->cfg.vfs, oldpath, newpath, VFS_RENAME_NOREPLACE);
	return send_status_errno(e, id, r);
}

static int
op_readlink(struct fxp_engine *e, uint32_t id, struct xbuf *req)
{
	_cleanup_free_ char *path = NULL, *target = NULL;
	GET_PATH_OR_REPLY(req, path);
	fxp_log(e, LOG_LEVEL_VERBOSE, "readlink \"%s\"", path);
	int r = vfs_readlink(e->cfg.vfs, path, &target);
	if (r < 0)
		return send_status_errno(e, id, r);
	return send_name1(e, id, target);
}

static int
op_symlink(struct fxp_engine *e, uint32_t id, struct xbuf *req)
{
	_cleanup_free_ char *target = NULL, *linkpath = NULL;
	/* OpenSSH quirk: arguments arrive as (target, linkpath), reversed from the draft. */
	int r = get_two_paths(e, id, req, &target, &linkpath);
	if (r != 0)
		return r < 0 ? r : 0;
	fxp_log(e, LOG_LEVEL_INFO, "symlink old \"%s\" new \"%s\"", target, linkpath);
	return send_status_errno(e, id, vfs_symlink(e->cfg.vfs, target, linkpath));
}

/* ---- extensions ---- */

static int
op_posix_rename(struct fxp_engine *e, uint32_t id, struct xbuf *req)
{
	_cleanup_free_ char *oldpath = NULL, *newpath = NULL;
	int r = get_two_paths(e, id, req, &oldpath, &newpath);
	if (r != 0)
		return r < 0 ? r : 0;
	fxp_log(e, LOG_LEVEL_INFO, "posix-rename old \"%s\" new \"%s\"", oldpath, newpath);
	return send_status_errno(e, id, vfs_rename(e->cfg.vfs, oldpath, newpath, 0));
}

static int
send_statvfs(struct fxp_engine *e, uint32_t id, const struct vfs_statvfs *s)
{
	size_t pos = reply_begin(e, FXP_EXTENDED_REPLY, id);
	const uint64_t v[] = {s->bsize, s->frsize, s->blocks, s->bfree, s->bavail, s->files,
	                      s->ffree, s->favail, s->fsid,   s->flag,  s->namemax};
	for (size_t i = 0; i < ARRAY_SIZE(v); i++) {
		int r = xbuf_put_u64(&e->out, v[i]);
		if (r < 0) {
			reply_abort(e, pos);
			return r;
		}
	}
	return reply_end(e, pos);
}

static int
op_statvfs(struct fxp_engine *e, uint32_t id, struct xbuf *req)
{
	_cleanup_free_ char *path = NULL;
	GET_PATH_OR_REPLY(req, path);
	fxp_log(e, LOG_LEVEL_INFO, "statvfs \"%s\"", path);
	struct vfs_statvfs s;
	int r = vfs_statvfs(e->cfg.vfs, path, &s);
	if (r < 0)
		return send_status_errno(e, id, r);
	return send_statvfs(e, id, &s);
}

static int
op_fstatvfs(struct fxp_engine *e, uint32_t id, struct xbuf *req)
{
	struct fxp_handle *h;
	int r = handle_get(&e->handles, req, HANDLE_FILE, &h, NULL);
	if (r < 0)
		return r;
	if (r > 0)
		return send_status(e, id, FX_FAILURE);
	fxp_log(e, LOG_LEVEL_INFO, "fstatvfs \"%s\"", h->path);
	struct vfs_statvfs s;
	r = vfs_fstatvfs(h->file, &s);
	if (r < 0)
		return send_status_errno(e, id, r);
	return send_statvfs(e, id, &s);
}

static int
op_hardlink(struct fxp_engine *e, uint32_t id, struct xbuf *req)
{
	_cleanup_free_ char *oldpath = NULL, *newpath = NULL;
	int r = get_two_paths(e, id, req, &oldpath, &newpath);
	if (r != 0)
		return r < 0 ? r : 0;
	fxp_log(e, LOG_LEVEL_INFO, "hardlink old \"%s\" new \"%s\"", oldpath, newpath);
	return send_status_errno(e, id, vfs_link(e->cfg.vfs, oldpath, newpath));
}

static int
op_fsync(struct fxp_engine *e, uint32_t id, struct xbuf *req)
{
	struct fxp_handle *h;
	int r = handle_get(&e->handles, req, HANDLE_UNUSED, &h, NULL);
	if (r < 0)
		return r;
	if (r > 0)
		return send_status(e, id, FX_NO_SUCH_FILE);
	fxp_log(e, LOG_LEVEL_VERBOSE, "fsync \"%s\"", h->path);
	if (h->type != HANDLE_FILE)
		return send_status(e, id, FX_FAILURE);
	return send_status_errno(e, id, vfs_fsync(h->file));
}

static int
op_lsetstat(struct fxp_engine *e, uint32_t id, struct xbuf *req)
{
	return setstat_common(e, id, req, false);
}

static int
op_limits(struct fxp_engine *e, uint32_t id, struct xbuf *req)
{
	size_t pos = reply_begin(e, FXP_EXTENDED_REPLY, id);
	int r;
	if ((r = xbuf_put_u64(&e->out, FXP_MAX_MSG)) < 0 ||
	    (r = xbuf_put_u64(&e->out, FXP_MAX_READ)) < 0 ||
	    (r = xbuf_put_u64(&e->out, FXP_MAX_WRITE)) < 0 ||
	    (r = xbuf_put_u64(&e->out, e->handles.max)) < 0) {
		reply_abort(e, pos);
		return r;
	}
	return reply_end(e, pos);
}

static int
op_expand_path(struct fxp_engine *e, uint32_t id, struct xbuf *req)
{
	_cleanup_free_ char *path = NULL, *expanded = NULL, *resolved = NULL;
	GET_PATH_OR_REPLY(req, path);
	fxp_log(e, LOG_LEVEL_VERBOSE, "expand \"%s\"", path);
	const char *p = path;
	if (p[0] == '\0' || strcmp(p, "~") == 0) {
		/* "~" is the working directory, so -d keeps its meaning (OpenSSH). */
		p = ".";
	} else if (strncmp(p, "~/", 2) == 0) {
		p += 2;
		if (p[0] == '\0')
			p = ".";
	} else if (p[0] == '~') {
		/* ~user: only the session's own user exists inside its view of the world. */
		size_t ulen = strcspn(p + 1, "/");
		if (ulen != strlen(e->user) || strncmp(p + 1, e->user, ulen) != 0)
			return send_status_msg(e, id, FX_NO_SUCH_FILE, "no such user");
		expanded = xasprintf("%s%s", e->home, p + 1 + ulen);
		p = expanded;
	}
	int r = vfs_realpath(e->cfg.vfs, p, &resolved);
	if (r < 0)
		return send_status_errno(e, id, r);
	return send_name1(e, id, resolved);
}

static int
op_copy_data(struct fxp_engine *e, uint32_t id, struct xbuf *req)
{
	struct fxp_handle *rh, *wh;
	uint32_t rslot, wslot;
	uint64_t roff, rlen, woff;
	int r1 = handle_get(&e->handles, req, HANDLE_FILE, &rh, &rslot);
	if (r1 < 0)
		return r1;
	int r;
	if ((r = xbuf_get_u64(req, &roff)) < 0 || (r = xbuf_get_u64(req, &rlen)) < 0)
		return r;
	int r2 = handle_get(&e->handles, req, HANDLE_FILE, &wh, &wslot);
	if (r2 < 0)
		return r2;
	if ((r = xbuf_get_u64(req, &woff)) < 0)
		return r;
	if (r1 > 0 || r2 > 0)
		return send_status(e, id, FX_FAILURE);
	fxp_log(e, LOG_LEVEL_DEBUG1,
	        "request %u: copy-data from \"%s\" off %llu len %llu to \"%s\" off %llu", id,
	        rh->path, (unsigned long long)roff, (unsigned long long)rlen, wh->path,
	        (unsigned long long)woff);
	/* Refuse the same handle, the same path name, or the same file (OpenSSH). */
	if (rslot == wslot || strcmp(rh->path, wh->path) == 0)
		return send_status(e, id, FX_FAILURE);
	struct vfs_attr ra, wa;
	if (vfs_fstat(rh->file, &ra) < 0 || vfs_fstat(wh->file, &wa) < 0 ||
	    (ra.dev == wa.dev && ra.ino == wa.ino))
		return send_status(e, id, FX_FAILURE);
	uint64_t copied = 0;
	r = vfs_copy(rh->file, roff, rlen, wh->file, woff, &copied);
	rh->bytes_read += copied;
	wh->bytes_written += copied;
	if (r < 0)
		return r == -EDQUOT ? send_status_errno(e, id, r) : send_status(e, id, FX_FAILURE);
	if (rlen != 0 && copied < rlen)
		return send_status(e, id, FX_EOF);
	return send_status(e, id, FX_OK);
}

static int
op_home_directory(struct fxp_engine *e, uint32_t id, struct xbuf *req)
{
	_cleanup_free_ char *user = NULL;
	int r = xbuf_get_cstring(req, &user, 256);
	if (r == -ENAMETOOLONG)
		return send_status(e, id, FX_FAILURE);
	if (r < 0)
		return r;
	fxp_log(e, LOG_LEVEL_VERBOSE, "home-directory \"%s\"", user);
	if (user[0] != '\0' && strcmp(user, e->user) != 0)
		return send_status(e, id, FX_FAILURE);
	return send_name1(e, id, e->home);
}

static int
put_id_names(struct fxp_engine *e, struct xbuf *ids, bool group)
{
	/* The reply string's length is poked after its contents are known. */
	size_t len_pos = xbuf_len(&e->out);
	int r = xbuf_put_u32(&e->out, 0);
	if (r < 0)
		return r;
	while (xbuf_len(ids) > 0) {
		uint32_t v;
		if ((r = xbuf_get_u32(ids, &v)) < 0)
			return r;
		const char *name = "";
		if (!e->cfg.numeric_ids) {
			if (group) {
				struct group *gr = getgrgid(v);
				name = gr ? gr->gr_name : "";
			} else {
				struct passwd *pw = getpwuid(v);
				name = pw ? pw->pw_name : "";
			}
		}
		if ((r = xbuf_put_cstring(&e->out, name)) < 0)
			return r;
	}
	size_t len = xbuf_len(&e->out) - len_pos - 4;
	if (len > FXP_MAX_MSG)
		return -ENOBUFS;
	return xbuf_poke_u32(&e->out, len_pos, (uint32_t)len);
}

static int
op_users_groups_by_id(struct fxp_engine *e, uint32_t id, struct xbuf *req)
{
	const uint8_t *up, *gp;
	size_t ulen, glen;
	int r;
	if ((r = xbuf_get_string_direct(req, &up, &ulen)) < 0 ||
	    (r = xbuf_get_string_direct(req, &gp, &glen)) < 0)
		return r;
	struct xbuf uids, gids;
	xbuf_view_init(&uids, up, ulen);
	xbuf_view_init(&gids, gp, glen);
	fxp_log(e, LOG_LEVEL_VERBOSE, "users-groups-by-id: %zu uids, %zu gids", ulen / 4, glen / 4);
	size_t pos = reply_begin(e, FXP_EXTENDED_REPLY, id);
	if ((r = put_id_names(e, &uids, false)) < 0 || (r = put_id_names(e, &gids, true)) < 0) {
		reply_abort(e, pos);
		return r;
	}
	return reply_end(e, pos);
}

/* ---- check-file (draft-ietf-secsh-filexfer-extensions-00, section 3) ---- */

/* The first algorithm of the client's comma list that we have. */
static bool
pick_hash(const uint8_t *list, size_t len, enum berth_hash_alg *ret)
{
	size_t i = 0;
	while (i < len) {
		size_t j = i;
		while (j < len && list[j] != ',')
			j++;
		if (berth_hash_from_name((const char *)list + i, j - i, ret) == 0)
			return true;
		i = j + 1;
	}
	return false;
}

/* Reply: string "check-file", string algorithm, then the digests back to back. */
static int
check_file(struct fxp_engine *e, uint32_t id, const char *what, struct vfs_file *f,
           const uint8_t *algs, size_t alen, uint64_t off, uint64_t len, uint32_t block)
{
	enum berth_hash_alg alg;
	if (!pick_hash(algs, alen, &alg))
		return send_status_msg(e, id, FX_FAILURE, "No supported hash algorithm");
	fxp_log(e, LOG_LEVEL_INFO, "check-file \"%s\" %s offset %llu length %llu block %u", what,
	        berth_hash_name(alg), (unsigned long long)off, (unsigned long long)len, block);
	size_t pos = reply_begin(e, FXP_EXTENDED_REPLY, id);
	int r;
	if ((r = xbuf_put_cstring(&e->out, "check-file")) < 0 ||
	    (r = xbuf_put_cstring(&e->out, berth_hash_name(alg))) < 0) {
		reply_abort(e, pos);
		return r;
	}
	r = vfs_hash_range(f, alg, off, len, block, &e->out);
	if (r < 0) {
		reply_abort(e, pos);
		return send_status_errno(e, id, r);
	}
	return reply_end(e, pos);
}

static int
get_check_args(struct xbuf *req, const uint8_t **algs, size_t *alen, uint64_t *off, uint64_t *len,
               uint32_t *block)
{
	int r;
	if ((r = xbuf_get_string_direct(req, algs, alen)) < 0 || (r = xbuf_get_u64(req, off)) < 0 ||
	    (r = xbuf_get_u64(req, len)) < 0 || (r = xbuf_get_u32(req, block)) < 0)
		return r;
	return 0;
}

static int
op_check_file_handle(struct fxp_engine *e, uint32_t id, struct xbuf *req)
{
	struct fxp_handle *h;
	const uint8_t *algs;
	size_t alen;
	uint64_t off, len;
	uint32_t block;
	int r = handle_get(&e->handles, req, HANDLE_FILE, &h, NULL);
	if (r < 0)
		return r;
	int r2 = get_check_args(req, &algs, &alen, &off, &len, &block);
	if (r2 < 0)
		return r2;
	if (r > 0)
		return send_status(e, id, FX_FAILURE);
	/* The handle was opened for reading: the download permission was decided then. */
	return check_file(e, id, h->path, h->file, algs, alen, off, len, block);
}

static int
op_check_file_name(struct fxp_engine *e, uint32_t id, struct xbuf *req)
{
	_cleanup_free_ char *path = NULL;
	const uint8_t *algs;
	size_t alen;
	uint64_t off, len;
	uint32_t block;
	GET_PATH_OR_REPLY(req, path);
	int r = get_check_args(req, &algs, &alen, &off, &len, &block);
	if (r < 0)
		return r;
	/* Opening for reading is what the download permission governs, below every
	 * protocol: the same decision as for a download of @path. */
	struct vfs_file *f;
	if ((r = vfs_open(e->cfg.vfs, path, VFS_O_READ, 0, &f)) < 0)
		return send_status_errno(e, id, r);
	r = check_file(e, id, path, f, algs, alen, off, len, block);
	(void)vfs_close(f);
	return r;
}

/* Core requests in OpenSSH's handlers[] order: name, type, does_write. */
const struct fxp_handler fxp_core_handlers[] = {
        {"open", NULL, NULL, FXP_OPEN, FXP_REQ_OPEN, false, op_open},
        {"close", NULL, NULL, FXP_CLOSE, FXP_REQ_CLOSE, false, op_close},
        {"read", NULL, NULL, FXP_READ, FXP_REQ_READ, false, op_read},
        {"write", NULL, NULL, FXP_WRITE, FXP_REQ_WRITE, true, op_write},
        {"lstat", NULL, NULL, FXP_LSTAT, FXP_REQ_LSTAT, false, op_lstat},
        {"fstat", NULL, NULL, FXP_FSTAT, FXP_REQ_FSTAT, false, op_fstat},
        {"setstat", NULL, NULL, FXP_SETSTAT, FXP_REQ_SETSTAT, true, op_setstat},
        {"fsetstat", NULL, NULL, FXP_FSETSTAT, FXP_REQ_FSETSTAT, true, op_fsetstat},
        {"opendir", NULL, NULL, FXP_OPENDIR, FXP_REQ_OPENDIR, false, op_opendir},
        {"readdir", NULL, NULL, FXP_READDIR, FXP_REQ_READDIR, false, op_readdir},
        {"remove", NULL, NULL, FXP_REMOVE, FXP_REQ_REMOVE, true, op_remove},
        {"mkdir", NULL, NULL, FXP_MKDIR, FXP_REQ_MKDIR, true, op_mkdir},
        {"rmdir", NULL, NULL, FXP_RMDIR, FXP_REQ_RMDIR, true, op_rmdir},
        {"realpath", NULL, NULL, FXP_REALPATH, FXP_REQ_REALPATH, false, op_realpath},
        {"stat", NULL, NULL, FXP_STAT, FXP_REQ_STAT, false, op_stat},
        {"rename", NULL, NULL, FXP_RENAME, FXP_REQ_RENAME, true, op_rename},
        {"readlink", NULL, NULL, FXP_READLINK, FXP_REQ_READLINK, false, op_readlink},
        {"symlink", NULL, NULL, FXP_SYMLINK, FXP_REQ_SYMLINK, true, op_symlink},
};
const size_t fxp_core_handlers_count = ARRAY_SIZE(fxp_core_handlers);

/* Extensions in the order OpenSSH advertises them, with their versions. */
const struct fxp_handler fxp_ext_handlers[] = {
        {"posix-rename", "posix-rename@openssh.com", "1", 0, FXP_REQ_POSIX_RENAME, true,
         op_posix_rename},
        {"statvfs", "statvfs@openssh.com", "2", 0, FXP_REQ_STATVFS, false, op_statvfs},
        {"fstatvfs", "fstatvfs@openssh.com", "2", 0, FXP_REQ_FSTATVFS, false, op_fstatvfs},
        {"hardlink", "hardlink@openssh.com", "1", 0, FXP_REQ_HARDLINK, true, op_hardlink},
        {"fsync", "fsync@openssh.com", "1", 0, FXP_REQ_FSYNC, true, op_fsync},
        {"lsetstat", "lsetstat@openssh.com", "1", 0, FXP_REQ_LSETSTAT, true, op_lsetstat},
        {"limits", "limits@openssh.com", "1", 0, FXP_REQ_LIMITS, false, op_limits},
        {"expand-path", "expand-path@openssh.com", "1", 0, FXP_REQ_EXPAND_PATH, false,
         op_expand_path},
        {"copy-data", "copy-data", "1", 0, FXP_REQ_COPY_DATA, true, op_copy_data},
        {"home-directory", "home-directory", "1", 0, FXP_REQ_HOME_DIRECTORY, false,
         op_home_directory},
        {"users-groups-by-id", "users-groups-by-id@openssh.com", "1", 0, FXP_REQ_USERS_GROUPS_BY_ID,
         false, op_users_groups_by_id},
        /* berth's own (fxp_engine_config.check_file); the data lists the algorithms. */
        {"check-file-handle", "check-file-handle", "md5,sha1,sha256,sha512", 0,
         FXP_REQ_CHECK_FILE_HANDLE, false, op_check_file_handle, true},
        {"check-file-name", "check-file-name", "md5,sha1,sha256,sha512", 0, FXP_REQ_CHECK_FILE_NAME,
         false, op_check_file_name, true},
};
const size_t fxp_ext_handlers_count = ARRAY_SIZE(fxp_ext_handlers);

int
fxp_request_mask_from_names(const char *list, uint64_t *ret, const char **ret_bad)
{
	uint64_t mask = 0;
	const char *p = list;
	while (*p) {
		size_t n = strcspn(p, ",");
		bool found = false;
		for (size_t i = 0; i < fxp_core_handlers_count + fxp_ext_handlers_count; i++) {
			const struct fxp_handler *h =
			        i < fxp_core_handlers_count
			                ? &fxp_core_handlers[i]
			                : &fxp_ext_handlers[i - fxp_core_handlers_count];
			if (strlen(h->name) == n && strncmp(h->name, p, n) == 0) {
				mask |= UINT64_C(1) << h->req;
				found = true;
			}
		}
		if (!found) {
			if (ret_bad)
				*ret_bad = p;
			return -EINVAL;
		}
		p += n;
		if (*p == ',')
			p++;
	}
	*ret = mask;
	return 0;
}

void
fxp_print_request_names(void *fp)
{
	for (size_t i = 0; i < fxp_core_handlers_count; i++)
		fprintf(fp, "%s\n", fxp_core_handlers[i].name);
	/* OpenSSH's list exactly: berth's optional extensions are not printed. */
	for (size_t i = 0; i < fxp_ext_handlers_count; i++)
		if (!fxp_ext_handlers[i].optional)
			fprintf(fp, "%s\n", fxp_ext_handlers[i].name);
}
