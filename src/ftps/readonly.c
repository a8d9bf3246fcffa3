/* SPDX-License-Identifier: BSD-2-Clause */
/* ReadOnly below the FTP engine until the policy layer (vfs_policy_wrap(), branch
 * `policy`) wraps every worker's VFS: a VFS decorator that refuses every operation that
 * writes (-EACCES, the policy layer's denial) and forwards the rest to the jail. Files
 * and directories come from the inner VFS, and only read-only opens are let through, so
 * a file handle can never write. */
#include <errno.h>

#include "berth/common.h"
#include "berth/vfs.h"
#include "berth/xmem.h"
#include "ftps-internal.h"

struct ro_vfs {
	struct vfs base;
	struct vfs *inner;
};

static struct vfs *
inner(struct vfs *v)
{
	return ((struct ro_vfs *)v)->inner;
}

static int
ro_open(struct vfs *v, const char *path, unsigned flags, uint32_t mode, struct vfs_file **ret)
{
	if (flags & (VFS_O_WRITE | VFS_O_APPEND | VFS_O_CREAT | VFS_O_TRUNC | VFS_O_EXCL))
		return -EACCES;
	return vfs_open(inner(v), path, flags, mode, ret);
}

static int
ro_stat(struct vfs *v, const char *path, bool follow, struct vfs_attr *ret)
{
	return vfs_stat(inner(v), path, follow, ret);
}

static int
ro_opendir(struct vfs *v, const char *path, struct vfs_dir **ret)
{
	return vfs_opendir(inner(v), path, ret);
}

static int
ro_readlink(struct vfs *v, const char *path, char **ret)
{
	return vfs_readlink(inner(v), path, ret);
}

static int
ro_realpath(struct vfs *v, const char *path, char **ret)
{
	return vfs_realpath(inner(v), path, ret);
}

static int
ro_statvfs(struct vfs *v, const char *path, struct vfs_statvfs *ret)
{
	return vfs_statvfs(inner(v), path, ret);
}

static int
ro_chdir(struct vfs *v, const char *path)
{
	return vfs_chdir(inner(v), path);
}

static void
ro_free(struct vfs *v)
{
	free(v); /* the inner VFS is borrowed */
}

/* Writing operations are refused explicitly (a NULL op would answer -ENOSYS: 502). */
static int
deny_setattr(struct vfs *v, const char *p, bool f, const struct vfs_attr *a)
{
	return -EACCES;
}

static int
deny_path(struct vfs *v, const char *p)
{
	return -EACCES;
}

static int
deny_mkdir(struct vfs *v, const char *p, uint32_t mode)
{
	return -EACCES;
}

static int
deny_rename(struct vfs *v, const char *a, const char *b, unsigned flags)
{
	return -EACCES;
}

static int
deny_link(struct vfs *v, const char *a, const char *b)
{
	return -EACCES;
}

static const struct vfs_ops ro_ops = {
        .open = ro_open,
        .stat = ro_stat,
        .setattr = deny_setattr,
        .opendir = ro_opendir,
        .mkdir = deny_mkdir,
        .rmdir = deny_path,
        .remove = deny_path,
        .rename = deny_rename,
        .link = deny_link,
        .symlink = deny_link,
        .readlink = ro_readlink,
        .realpath = ro_realpath,
        .statvfs = ro_statvfs,
        .chdir = ro_chdir,
        .free = ro_free,
};

int
ftps_vfs_readonly_wrap(struct vfs *in, struct vfs **ret)
{
	struct ro_vfs *r = xcalloc(1, sizeof(*r));
	r->base.ops = &ro_ops;
	r->base.umask = in->umask;
	r->inner = in;
	*ret = &r->base;
	return 0;
}
