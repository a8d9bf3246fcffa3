/* SPDX-License-Identifier: BSD-2-Clause */
/* The virtual file system every protocol of berth shares.
 *
 * A struct vfs is a table of operations plus backend state. Paths are client paths
 * (absolute = from the jail root, relative = from the session's working directory);
 * the backend alone decides how they map to storage and guarantees confinement.
 * Protocol code never sees fds, dirfds or host paths.
 *
 * Every function returns 0 on success or -errno; protocol layers map errno to their
 * status codes through one table each (fxp_status_from_errno(), ftp_reply_from_errno()).
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "berth/hash.h"

struct xbuf;

struct vfs;
struct vfs_file;
struct vfs_dir;

/* Which members of struct vfs_attr are meaningful (same bits as SFTP v3 ATTRS). */
enum {
	VFS_ATTR_SIZE = 0x1,
	VFS_ATTR_UIDGID = 0x2,
	VFS_ATTR_PERM = 0x4,
	VFS_ATTR_TIMES = 0x8,
};

struct vfs_attr {
	uint32_t valid;
	uint64_t size;
	uint32_t uid, gid;
	uint32_t mode; /* type bits + permission bits */
	int64_t atime, mtime;
	uint64_t nlink; /* informational, for listings */
	uint64_t dev, ino;
};

struct vfs_statvfs {
	uint64_t bsize, frsize, blocks, bfree, bavail, files, ffree, favail, fsid, flag, namemax;
};

enum {
	VFS_O_READ = 0x01,
	VFS_O_WRITE = 0x02,
	VFS_O_APPEND = 0x04,
	VFS_O_CREAT = 0x08,
	VFS_O_TRUNC = 0x10,
	VFS_O_EXCL = 0x20,
};

/* Flags for vfs_rename(). */
enum {
	VFS_RENAME_NOREPLACE = 0x1, /* fail with -EEXIST if the target exists */
};

/* Flags for vfs_close_ex(). */
enum {
	VFS_CLOSE_ABORT = 0x1, /* the transfer ended without the client's close (session end) */
};

/* What happened to a file at close, for the transfer log (filled by layers that know;
 * zeroed otherwise). */
struct vfs_close_report {
	bool upload;      /* the handle was opened to write */
	bool have_sha256; /* @sha256 holds the digest of the file's content */
	char sha256[65];  /* lower-case hex */
	bool published;   /* the content is under its name (always, unless atomic) */
	char reason[192]; /* why it was not published, or "" */
};

struct vfs_ops {
	int (*open)(struct vfs *v, const char *path, unsigned flags, uint32_t mode,
	            struct vfs_file **ret);
	int (*pread)(struct vfs_file *f, void *buf, size_t len, uint64_t off, size_t *ret_n);
	int (*pwrite)(struct vfs_file *f, const void *buf, size_t len, uint64_t off, size_t *ret_n);
	int (*fstat)(struct vfs_file *f, struct vfs_attr *ret);
	int (*fsetattr)(struct vfs_file *f, const struct vfs_attr *a);
	int (*fsync)(struct vfs_file *f);
	int (*fstatvfs)(struct vfs_file *f, struct vfs_statvfs *ret);
	int (*close)(struct vfs_file *f);

	int (*stat)(struct vfs *v, const char *path, bool follow, struct vfs_attr *ret);
	int (*setattr)(struct vfs *v, const char *path, bool follow, const struct vfs_attr *a);
	int (*opendir)(struct vfs *v, const char *path, struct vfs_dir **ret);
	/* Next entry: 0 with *ret_name set (owned by the dir, valid until the next call),
	 * 1 at end of directory, or -errno. @ret_attr is lstat()-like; entries that
	 * vanish between listing and stat are skipped. */
	int (*readdir)(struct vfs_dir *d, const char **ret_name, struct vfs_attr *ret_attr);
	int (*closedir)(struct vfs_dir *d);
	int (*mkdir)(struct vfs *v, const char *path, uint32_t mode);
	int (*rmdir)(struct vfs *v, const char *path);
	int (*remove)(struct vfs *v, const char *path);
	int (*rename)(struct vfs *v, const char *oldpath, const char *newpath, unsigned flags);
	int (*link)(struct vfs *v, const char *oldpath, const char *newpath);
	int (*symlink)(struct vfs *v, const char *target, const char *linkpath);
	/* Link target as stored; caller frees *ret. */
	int (*readlink)(struct vfs *v, const char *path, char **ret);
	/* Canonical absolute client path ("/" = jail root). A missing final component is
	 * allowed (as OpenSSH does); caller frees *ret. */
	int (*realpath)(struct vfs *v, const char *path, char **ret);
	int (*statvfs)(struct vfs *v, const char *path, struct vfs_statvfs *ret);
	/* Copy @len bytes (0 = to EOF) between two open files; *ret_copied tells how many
	 * were copied (fewer than @len when EOF came first). */
	int (*copy)(struct vfs_file *src, uint64_t src_off, uint64_t len, struct vfs_file *dst,
	            uint64_t dst_off, uint64_t *ret_copied);
	/* Change the working directory used for relative paths. */
	int (*chdir)(struct vfs *v, const char *path);
	void (*free)(struct vfs *v);
	/* Optional: move up to @len bytes at @off of a regular file to the pipe or socket
	 * @out_fd without copying them through user space (splice(2), sendfile(2)).
	 * *ret_moved tells how many; 0 with success = end of file at @off; -EAGAIN =
	 * @out_fd is full (it is non-blocking). Backends without it leave it NULL and
	 * callers copy (vfs_pread() + write()). */
	int (*splice_to)(struct vfs_file *f, uint64_t off, size_t len, int out_fd,
	                 size_t *ret_moved);

	/* Optional operations (NULL = not supported, the dispatcher says so). */
	/* Close with a report; NULL: vfs_close_ex() calls close and zeroes the report. */
	int (*close_ex)(struct vfs_file *f, unsigned flags, struct vfs_close_report *ret);
	/* An unnamed file in directory @dirpath (O_TMPFILE), open for reading and
	 * writing; -EOPNOTSUPP where the file system cannot. */
	int (*tmpfile)(struct vfs *v, const char *dirpath, uint32_t mode, struct vfs_file **ret);
	/* Give an open file (e.g. from tmpfile) the name @newpath (never replaces). */
	int (*linkfile)(struct vfs_file *f, const char *newpath);
	/* Digest(s) of a byte range; NULL: vfs_hash_range() reads with pread. */
	int (*hash_range)(struct vfs_file *f, enum berth_hash_alg alg, uint64_t off, uint64_t len,
	                  uint32_t block, struct xbuf *out);
	/* After -EAGAIN from pread/pwrite (bandwidth limit): CLOCK_MONOTONIC nanoseconds
	 * at which to retry. */
	int (*retry_at)(struct vfs *v, uint64_t *ret_ns);
};

struct vfs {
	const struct vfs_ops *ops;
	mode_t umask; /* applied to creation modes on top of the process umask */
	/* Refuse symbolic links anywhere in paths (RESOLVE_NO_SYMLINKS), except in realpath
	 * and chdir. Set by a layer that hands the backend only canonical paths, so that a
	 * link swapped in after its decision fails instead of leading elsewhere. */
	bool no_symlinks;
};

struct vfs_file {
	struct vfs *vfs;
};

struct vfs_dir {
	struct vfs *vfs;
};

/* Observer of one VFS (the top of a session's stack) for the live status of the session
 * (berthctl sessions): files opened and closed through it, bytes read (out) and written
 * (in). Called by the dispatchers below; one per process, NULL = none. */
struct vfs_observer {
	struct vfs *top;
	void (*opened)(void *userdata, struct vfs_file *f, const char *path);
	void (*closed)(void *userdata, struct vfs_file *f);
	void (*moved)(void *userdata, bool in, size_t n);
	void *userdata;
};
void vfs_set_observer(const struct vfs_observer *o);

/* Thin dispatchers, so callers read as vfs_open(v, ...). */
int vfs_open(struct vfs *v, const char *path, unsigned flags, uint32_t mode, struct vfs_file **ret);
int vfs_pread(struct vfs_file *f, void *buf, size_t len, uint64_t off, size_t *ret_n);
int vfs_pwrite(struct vfs_file *f, const void *buf, size_t len, uint64_t off, size_t *ret_n);
int vfs_fstat(struct vfs_file *f, struct vfs_attr *ret);
int vfs_fsetattr(struct vfs_file *f, const struct vfs_attr *a);
int vfs_fsync(struct vfs_file *f);
int vfs_fstatvfs(struct vfs_file *f, struct vfs_statvfs *ret);
int vfs_close(struct vfs_file *f);
int vfs_stat(struct vfs *v, const char *path, bool follow, struct vfs_attr *ret);
int vfs_setattr(struct vfs *v, const char *path, bool follow, const struct vfs_attr *a);
int vfs_opendir(struct vfs *v, const char *path, struct vfs_dir **ret);
int vfs_readdir(struct vfs_dir *d, const char **ret_name, struct vfs_attr *ret_attr);
int vfs_closedir(struct vfs_dir *d);
int vfs_mkdir(struct vfs *v, const char *path, uint32_t mode);
int vfs_rmdir(struct vfs *v, const char *path);
int vfs_remove(struct vfs *v, const char *path);
int vfs_rename(struct vfs *v, const char *oldpath, const char *newpath, unsigned flags);
int vfs_link(struct vfs *v, const char *oldpath, const char *newpath);
int vfs_symlink(struct vfs *v, const char *target, const char *linkpath);
int vfs_readlink(struct vfs *v, const char *path, char **ret);
int vfs_realpath(struct vfs *v, const char *path, char **ret);
int vfs_statvfs(struct vfs *v, const char *path, struct vfs_statvfs *ret);
int vfs_copy(struct vfs_file *src, uint64_t src_off, uint64_t len, struct vfs_file *dst,
             uint64_t dst_off, uint64_t *ret_copied);
int vfs_chdir(struct vfs *v, const char *path);
void vfs_free(struct vfs *v);
/* -EOPNOTSUPP when the backend cannot move data itself (see struct vfs_ops). */
int vfs_splice_to(struct vfs_file *f, uint64_t off, size_t len, int out_fd, size_t *ret_moved);
bool vfs_can_splice(const struct vfs_file *f);
int vfs_close_ex(struct vfs_file *f, unsigned flags, struct vfs_close_report *ret);
int vfs_tmpfile(struct vfs *v, const char *dirpath, uint32_t mode, struct vfs_file **ret);
int vfs_linkfile(struct vfs_file *f, const char *newpath);
int vfs_retry_at(struct vfs *v, uint64_t *ret_ns);

/* Largest reply vfs_hash_range() produces (hash count * length), so a caller can refuse
 * a request before reading anything. */
#define VFS_HASH_RANGE_MAX (240 * 1024)
/**
 * vfs_hash_range() - digest of @len bytes from @off (0 = to end of file) of @f, appended
 * to @out: one digest, or one per @block bytes (block >= 256). The protocol-neutral
 * helper behind SFTP check-file and FTP HASH/XSHA256.
 *
 * Return: 0; -EINVAL (block below 256, offset past the end); -EFBIG (more than
 * VFS_HASH_RANGE_MAX bytes of digests); -ENOBUFS (@out full); or -errno from reading.
 */
int vfs_hash_range(struct vfs_file *f, enum berth_hash_alg alg, uint64_t off, uint64_t len,
                   uint32_t block, struct xbuf *out);

/* POSIX backend. @root is the directory that becomes "/" for the client (use "/" for no
 * jail); it is opened once and every later lookup is resolved beneath it by the kernel
 * (openat2 RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS). @cwd is the initial working
 * directory as a client path. Alternatively pass an already-open directory fd
 * (ownership moves to the vfs). */
int vfs_posix_new(const char *root, const char *cwd, mode_t umask, struct vfs **ret);
int vfs_posix_new_fd(int root_fd, const char *cwd, mode_t umask, struct vfs **ret);
/* Let OPEN reach devices and FIFOs (default: refused with -EPERM, as a jail and the
 * daemon need). Only the drop-in without -j sets it, to behave as OpenSSH's
 * sftp-server: the user's own permissions decide. A special file is opened
 * non-blocking, so the open never waits for a FIFO's peer (a FIFO opened for writing
 * without a reader fails with -ENXIO), then made blocking again; files without offsets
 * (FIFOs, ttys) are read and written in sequence. -EINVAL if @v is not a POSIX vfs. */
int vfs_posix_set_special_files(struct vfs *v, bool allow);
