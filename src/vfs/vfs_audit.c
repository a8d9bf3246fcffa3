/* SPDX-License-Identifier: BSD-2-Clause */
/* The audit decorator: forwards every operation to the wrapped VFS and reports the
 * namespace changes to a callback. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "berth/common.h"
#include "berth/vfs_audit.h"
#include "berth/xmem.h"

struct avfs {
	struct vfs base; /* first: a struct vfs * is a struct avfs * */
	struct vfs *inner;
	vfs_audit_fn fn;
	void *userdata;
};

static inline struct avfs *
A(struct vfs *v)
{
	return (struct avfs *)v;
}

int
vfs_abspath(struct vfs *v, const char *path, char **ret)
{
	if (path[0] == '/') {
		*ret = xstrdup(path);
		return 0;
	}
	char *cwd = NULL;
	int r = vfs_realpath(v, ".", &cwd);
	if (r < 0)
		return r;
	*ret = xasprintf("%s%s%s", cwd, strcmp(cwd, "/") == 0 ? "" : "/", path);
	free(cwd);
	return 0;
}

/* Report @op with absolute paths (computed before the operation, while they resolve). */
static void
report(struct avfs *a, enum vfs_audit_op op, const char *path, const char *target, int result,
       char *abs_path, char *abs_target)
{
	a->fn(a->userdata, op, abs_path ? abs_path : path,
	      target ? (abs_target ? abs_target : target) : NULL, result);
	free(abs_path);
	free(abs_target);
}

static char *
absolute(struct avfs *a, const char *path)
{
	char *s = NULL;
	return vfs_abspath(a->inner, path, &s) == 0 ? s : NULL;
}

static int
a_open(struct vfs *v, const char *path, unsigned flags, uint32_t mode, struct vfs_file **ret)
{
	return vfs_open(A(v)->inner, path, flags, mode, ret);
}

static int
a_stat(struct vfs *v, const char *path, bool follow, struct vfs_attr *ret)
{
	return vfs_stat(A(v)->inner, path, follow, ret);
}

static int
a_setattr(struct vfs *v, const char *path, bool follow, const struct vfs_attr *at)
{
	return vfs_setattr(A(v)->inner, path, follow, at);
}

static int
a_opendir(struct vfs *v, const char *path, struct vfs_dir **ret)
{
	return vfs_opendir(A(v)->inner, path, ret);
}

static int
a_mkdir(struct vfs *v, const char *path, uint32_t mode)
{
	struct avfs *a = A(v);
	char *abs = absolute(a, path);
	int r = vfs_mkdir(a->inner, path, mode);
	report(a, VFS_AUDIT_MKDIR, path, NULL, r, abs, NULL);
	return r;
}

/* rmdir and remove: one path, reported after the operation. */
static int
one_path(struct vfs *v, enum vfs_audit_op op, const char *path,
         int (*fn)(struct vfs *, const char *))
{
	struct avfs *a = A(v);
	char *abs = absolute(a, path);
	int r = fn(a->inner, path);
	report(a, op, path, NULL, r, abs, NULL);
	return r;
}

static int
a_rmdir(struct vfs *v, const char *path)
{
	return one_path(v, VFS_AUDIT_RMDIR, path, vfs_rmdir);
}

static int
a_remove(struct vfs *v, const char *path)
{
	return one_path(v, VFS_AUDIT_REMOVE, path, vfs_remove);
}

static int
a_rename(struct vfs *v, const char *oldpath, const char *newpath, unsigned flags)
{
	struct avfs *a = A(v);
	char *abs_old = absolute(a, oldpath), *abs_new = absolute(a, newpath);
	int r = vfs_rename(a->inner, oldpath, newpath, flags);
	report(a, VFS_AUDIT_RENAME, oldpath, newpath, r, abs_old, abs_new);
	return r;
}

static int
a_link(struct vfs *v, const char *oldpath, const char *newpath)
{
	return vfs_link(A(v)->inner, oldpath, newpath);
}

static int
a_symlink(struct vfs *v, const char *target, const char *linkpath)
{
	return vfs_symlink(A(v)->inner, target, linkpath);
}

static int
a_readlink(struct vfs *v, const char *path, char **ret)
{
	return vfs_readlink(A(v)->inner, path, ret);
}

static int
a_realpath(struct vfs *v, const char *path, char **ret)
{
	return vfs_realpath(A(v)->inner, path, ret);
}

static int
a_statvfs(struct vfs *v, const char *path, struct vfs_statvfs *ret)
{
	return vfs_statvfs(A(v)->inner, path, ret);
}

static int
a_chdir(struct vfs *v, const char *path)
{
	return vfs_chdir(A(v)->inner, path);
}

static int
a_tmpfile(struct vfs *v, const char *dirpath, uint32_t mode, struct vfs_file **ret)
{
	return vfs_tmpfile(A(v)->inner, dirpath, mode, ret);
}

static int
a_retry_at(struct vfs *v, uint64_t *ret_ns)
{
	return vfs_retry_at(A(v)->inner, ret_ns);
}

static void
a_free(struct vfs *v)
{
	vfs_free(A(v)->inner);
	free(v);
}

/* File and directory operations never reach this table: the handles are @inner's and
 * dispatch through their own VFS. */
static const struct vfs_ops audit_ops = {
        .open = a_open,
        .stat = a_stat,
        .setattr = a_setattr,
        .opendir = a_opendir,
        .mkdir = a_mkdir,
        .rmdir = a_rmdir,
        .remove = a_remove,
        .rename = a_rename,
        .link = a_link,
        .symlink = a_symlink,
        .readlink = a_readlink,
        .realpath = a_realpath,
        .statvfs = a_statvfs,
        .chdir = a_chdir,
        .free = a_free,
        .tmpfile = a_tmpfile,
        .retry_at = a_retry_at,
};

int
vfs_audit_wrap(struct vfs *inner, vfs_audit_fn fn, void *userdata, struct vfs **ret)
{
	if (!inner || !fn)
		return -EINVAL;
	struct avfs *a = xcalloc(1, sizeof(*a));
	a->base = (struct vfs){
	        .ops = &audit_ops, .umask = inner->umask, .no_symlinks = inner->no_symlinks};
	a->inner = inner;
	a->fn = fn;
	a->userdata = userdata;
	*ret = &a->base;
	return 0;
}
