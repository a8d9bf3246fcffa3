/* SPDX-License-Identifier: BSD-2-Clause */
/* VFS dispatch: protocol code calls these, backends fill struct vfs_ops. */
#include "berth/vfs.h"

#include <errno.h>
#include <stddef.h>

#define DISPATCH(obj, op, ...) ((obj)->ops->op ? (obj)->ops->op(__VA_ARGS__) : -ENOSYS)

/* The session's live status (berthctl sessions): one observer of the top of the stack. */
static const struct vfs_observer *observer;

void
vfs_set_observer(const struct vfs_observer *o)
{
	observer = o;
}

static void
observe_open(struct vfs *v, const char *path, int r, struct vfs_file **ret)
{
	if (observer && r == 0 && v == observer->top)
		observer->opened(observer->userdata, *ret, path);
}

static void
observe_io(struct vfs_file *f, bool in, int r, const size_t *n)
{
	if (observer && r == 0 && f->vfs == observer->top)
		observer->moved(observer->userdata, in, *n);
}

static void
observe_close(struct vfs_file *f)
{
	if (observer && f->vfs == observer->top)
		observer->closed(observer->userdata, f);
}

int
vfs_open(struct vfs *v, const char *path, unsigned flags, uint32_t mode, struct vfs_file **ret)
{
	int r = DISPATCH(v, open, v, path, flags, mode, ret);
	observe_open(v, path, r, ret);
	return r;
}

int
vfs_pread(struct vfs_file *f, void *buf, size_t len, uint64_t off, size_t *ret_n)
{
	int r = DISPATCH(f->vfs, pread, f, buf, len, off, ret_n);
	observe_io(f, false, r, ret_n);
	return r;
}

int
vfs_pwrite(struct vfs_file *f, const void *buf, size_t len, uint64_t off, size_t *ret_n)
{
	int r = DISPATCH(f->vfs, pwrite, f, buf, len, off, ret_n);
	observe_io(f, true, r, ret_n);
	return r;
}

int
vfs_fstat(struct vfs_file *f, struct vfs_attr *ret)
{
	return DISPATCH(f->vfs, fstat, f, ret);
}

int
vfs_fsetattr(struct vfs_file *f, const struct vfs_attr *a)
{
	return DISPATCH(f->vfs, fsetattr, f, a);
}

int
vfs_fsync(struct vfs_file *f)
{
	return DISPATCH(f->vfs, fsync, f);
}

int
vfs_fstatvfs(struct vfs_file *f, struct vfs_statvfs *ret)
{
	return DISPATCH(f->vfs, fstatvfs, f, ret);
}

int
vfs_close(struct vfs_file *f)
{
	if (!f)
		return 0;
	observe_close(f);
	return DISPATCH(f->vfs, close, f);
}

int
vfs_stat(struct vfs *v, const char *path, bool follow, struct vfs_attr *ret)
{
	return DISPATCH(v, stat, v, path, follow, ret);
}

int
vfs_setattr(struct vfs *v, const char *path, bool follow, const struct vfs_attr *a)
{
	return DISPATCH(v, setattr, v, path, follow, a);
}

int
vfs_opendir(struct vfs *v, const char *path, struct vfs_dir **ret)
{
	return DISPATCH(v, opendir, v, path, ret);
}

int
vfs_readdir(struct vfs_dir *d, const char **ret_name, struct vfs_attr *ret_attr)
{
	return DISPATCH(d->vfs, readdir, d, ret_name, ret_attr);
}

int
vfs_closedir(struct vfs_dir *d)
{
	if (!d)
		return 0;
	return DISPATCH(d->vfs, closedir, d);
}

int
vfs_mkdir(struct vfs *v, const char *path, uint32_t mode)
{
	return DISPATCH(v, mkdir, v, path, mode);
}

int
vfs_rmdir(struct vfs *v, const char *path)
{
	return DISPATCH(v, rmdir, v, path);
}

int
vfs_remove(struct vfs *v, const char *path)
{
	return DISPATCH(v, remove, v, path);
}

int
vfs_rename(struct vfs *v, const char *oldpath, const char *newpath, unsigned flags)
{
	return DISPATCH(v, rename, v, oldpath, newpath, flags);
}

int
vfs_link(struct vfs *v, const char *oldpath, const char *newpath)
{
	return DISPATCH(v, link, v, oldpath, newpath);
}

int
vfs_symlink(struct vfs *v, const char *target, const char *linkpath)
{
	return DISPATCH(v, symlink, v, target, linkpath);
}

int
vfs_readlink(struct vfs *v, const char *path, char **ret)
{
	return DISPATCH(v, readlink, v, path, ret);
}

int
vfs_realpath(struct vfs *v, const char *path, char **ret)
{
	return DISPATCH(v, realpath, v, path, ret);
}

int
vfs_statvfs(struct vfs *v, const char *path, struct vfs_statvfs *ret)
{
	return DISPATCH(v, statvfs, v, path, ret);
}

int
vfs_copy(struct vfs_file *src, uint64_t src_off, uint64_t len, struct vfs_file *dst,
         uint64_t dst_off, uint64_t *ret_copied)
{
	if (src->vfs != dst->vfs)
		return -EXDEV;
	return DISPATCH(src->vfs, copy, src, src_off, len, dst, dst_off, ret_copied);
}

int
vfs_chdir(struct vfs *v, const char *path)
{
	return DISPATCH(v, chdir, v, path);
}

int
vfs_splice_to(struct vfs_file *f, uint64_t off, size_t len, int out_fd, size_t *ret_moved)
{
	if (!f->vfs->ops->splice_to)
		return -EOPNOTSUPP;
	int r = f->vfs->ops->splice_to(f, off, len, out_fd, ret_moved);
	observe_io(f, false, r, ret_moved);
	return r;
}

bool
vfs_can_splice(const struct vfs_file *f)
{
	return f->vfs->ops->splice_to != NULL;
}

int
vfs_close_ex(struct vfs_file *f, unsigned flags, struct vfs_close_report *ret)
{
	*ret = (struct vfs_close_report){.published = true};
	if (!f)
		return 0;
	if (f->vfs->ops->close_ex) {
		observe_close(f);
		return f->vfs->ops->close_ex(f, flags, ret);
	}
	return vfs_close(f);
}

int
vfs_tmpfile(struct vfs *v, const char *dirpath, uint32_t mode, struct vfs_file **ret)
{
	return v->ops->tmpfile ? v->ops->tmpfile(v, dirpath, mode, ret) : -EOPNOTSUPP;
}

int
vfs_linkfile(struct vfs_file *f, const char *newpath)
{
	return DISPATCH(f->vfs, linkfile, f, newpath);
}

int
vfs_retry_at(struct vfs *v, uint64_t *ret_ns)
{
	return DISPATCH(v, retry_at, v, ret_ns);
}

void
vfs_free(struct vfs *v)
{
	if (v && v->ops->free)
		v->ops->free(v);
}
