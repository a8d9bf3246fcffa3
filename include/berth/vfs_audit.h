/* SPDX-License-Identifier: BSD-2-Clause */
/* Audit decorator: reports the namespace operations (delete, rename, mkdir, rmdir) that
 * go through a VFS, for the transfer log, below every protocol engine alike. */
#pragma once

#include "berth/vfs.h"

enum vfs_audit_op {
	VFS_AUDIT_REMOVE,
	VFS_AUDIT_RENAME,
	VFS_AUDIT_MKDIR,
	VFS_AUDIT_RMDIR,
};

/* Called after each operation: @path and @target (rename only, else NULL) are absolute
 * client paths (a relative one is joined to the working directory), @result is the
 * operation's 0 or -errno. */
typedef void (*vfs_audit_fn)(void *userdata, enum vfs_audit_op op, const char *path,
                             const char *target, int result);

/* Wrap @inner (ownership moves to the wrapper, freed with it). Files and directories
 * opened through the wrapper are @inner's. 0 or -errno. */
int vfs_audit_wrap(struct vfs *inner, vfs_audit_fn fn, void *userdata, struct vfs **ret);
/* @path as an absolute client path: as is when it starts with '/', else joined to the
 * working directory of @v (vfs_realpath(".")). Caller frees *ret. 0 or -errno. */
int vfs_abspath(struct vfs *v, const char *path, char **ret);
