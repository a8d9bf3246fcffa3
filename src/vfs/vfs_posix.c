/* SPDX-License-Identifier: BSD-2-Clause */
/* POSIX VFS backend: every client path is resolved by the kernel beneath one root
 * directory fd (openat2 RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS), and every operation is
 * an *at() call on an fd obtained that way. No string prefix checks, no realpath()+open().
 *
 * This file and src/common are the only places that make filesystem syscalls. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sendfile.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "berth/common.h"
#include "berth/vfs.h"
#include "berth/xmem.h"

/* A rename racing ".." resolution makes openat2 fail with EAGAIN instead of escaping;
 * retry a bounded number of times, never fall back to unsafe resolution. */
#define RESOLVE_RETRIES 128
#define COPY_CHUNK      (256 * 1024)

struct posix_vfs {
	struct vfs base;
	int root_fd;
	char *root_host;    /* host path of root_fd, for presenting canonical paths */
	char *cwd;          /* canonical client path of the working directory */
	bool special_files; /* devices and FIFOs may be opened (drop-in without a jail) */
	int splice_fd;      /* the last out_fd of splice_to, and whether it is a pipe */
	bool splice_pipe;
};

struct posix_file {
	struct vfs_file base;
	int fd;
	bool stream; /* no offsets (a FIFO, a tty): read()/write() instead of pread/pwrite */
};

struct posix_dir {
	struct vfs_dir base;
	DIR *dir;
};

static inline struct posix_vfs *
to_posix(struct vfs *v)
{
	return (struct posix_vfs *)v;
}

static inline int
file_fd(struct vfs_file *f)
{
	return ((struct posix_file *)f)->fd;
}

static int
openat2_raw(int dirfd, const char *path, uint64_t flags, uint64_t mode, uint64_t resolve)
{
	struct open_how how = {.flags = flags, .mode = mode, .resolve = resolve};
	for (unsigned i = 0; i < RESOLVE_RETRIES; i++) {
		long fd = syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
		if (fd >= 0)
			return (int)fd;
		if (errno != EAGAIN && errno != EINTR)
			return -errno;
	}
	return -EAGAIN;
}

/* Client path -> path relative to the jail root, as handed to openat2 (which treats an
 * absolute path as relative to the root under RESOLVE_IN_ROOT). Caller frees. */
static char *
full_path(struct posix_vfs *pv, const char *path)
{
	if (path[0] == '/')
		return xstrdup(path);
	if (path[0] == '\0')
		return xstrdup(pv->cwd);
	return xasprintf("%s/%s", pv->cwd, path);
}

/* RESOLVE_NO_SYMLINKS when a layer above hands us canonical paths only (vfs.no_symlinks);
 * realpath and chdir pass 0 since presenting a path means following its links. */
static uint64_t
strict_bits(const struct posix_vfs *pv)
{
	return pv->base.no_symlinks ? RESOLVE_NO_SYMLINKS : 0;
}

static int
resolve_ex(struct posix_vfs *pv, const char *path, uint64_t flags, uint64_t mode, uint64_t extra)
{
	_cleanup_free_ char *full = full_path(pv, path);
	if (strlen(full) >= PATH_MAX)
		return -ENAMETOOLONG;
	return openat2_raw(pv->root_fd, full, flags | O_CLOEXEC, mode,
	                   RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | extra);
}

static int
resolve(struct posix_vfs *pv, const char *path, uint64_t flags, uint64_t mode)
{
	return resolve_ex(pv, path, flags, mode, strict_bits(pv));
}

/* Split @path into an O_PATH fd of its parent directory and the final component, for
 * operations that must act on the final component itself (never follow it).
 * Returns -EINVAL for "", ".", ".." and "/" finals: those name a directory by a
 * relation, not an entry that can be created, removed or renamed. */
static int
resolve_parent_ex(struct posix_vfs *pv, const char *path, int *ret_dirfd, char **ret_leaf,
                  uint64_t extra)
{
	_cleanup_free_ char *full = full_path(pv, path);
	size_t n = strlen(full);
	if (n >= PATH_MAX)
		return -ENAMETOOLONG;
	while (n > 1 && full[n - 1] == '/')
		full[--n] = '\0';
	char *slash = strrchr(full, '/');
	const char *leaf = slash ? slash + 1 : full;
	if (leaf[0] == '\0' || strcmp(leaf, ".") == 0 || strcmp(leaf, "..") == 0)
		return -EINVAL;
	if (strlen(leaf) > NAME_MAX)
		return -ENAMETOOLONG;
	_cleanup_free_ char *leaf_copy = xstrdup(leaf);
	const char *parent;
	if (!slash)
		parent = ".";
	else if (slash == full)
		parent = "/";
	else {
		*slash = '\0';
		parent = full;
	}
	int dirfd = openat2_raw(pv->root_fd, parent, O_PATH | O_DIRECTORY | O_CLOEXEC, 0,
	                        RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | extra);
	if (dirfd < 0)
		return dirfd;
	*ret_dirfd = dirfd;
	*ret_leaf = ptr_steal(&leaf_copy);
	return 0;
}

static int
resolve_parent(struct posix_vfs *pv, const char *path, int *ret_dirfd, char **ret_leaf)
{
	return resolve_parent_ex(pv, path, ret_dirfd, ret_leaf, strict_bits(pv));
}

static void
attr_from_stat(const struct stat *st, struct vfs_attr *a)
{
	*a = (struct vfs_attr){
	        .valid = VFS_ATTR_SIZE | VFS_ATTR_UIDGID | VFS_ATTR_PERM | VFS_ATTR_TIMES,
	        .size = (uint64_t)st->st_size,
	        .uid = st->st_uid,
	        .gid = st->st_gid,
	        .mode = st->st_mode,
	        .atime = st->st_atim.tv_sec,
	        .mtime = st->st_mtim.tv_sec,
	        .nlink = st->st_nlink,
	        .dev = st->st_dev,
	        .ino = st->st_ino,
	};
}

static int
stat_fd(int fd, struct vfs_attr *ret)
{
	struct stat st;
	if (fstatat(fd, "", &st, AT_EMPTY_PATH) < 0)
		return -errno;
	attr_from_stat(&st, ret);
	return 0;
}

/* Reopen an O_PATH fd with real access flags, through the kernel's own fd link, so the
 * object cannot be swapped between the check and the open. */
static int
reopen_fd(int pathfd, int flags)
{
	char proc[64];
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", pathfd);
	int fd = open(proc, flags | O_CLOEXEC | O_NOCTTY);
	return fd < 0 ? -errno : fd;
}

/* Apply attributes to the object an O_PATH fd refers to (which may be a symlink when the
 * caller resolved with O_NOFOLLOW). Order as OpenSSH: size, mode, times, owner. */
static int
apply_attr_pathfd(int pathfd, const struct vfs_attr *a)
{
	struct stat st;
	if (fstatat(pathfd, "", &st, AT_EMPTY_PATH) < 0)
		return -errno;
	if (a->valid & VFS_ATTR_SIZE) {
		if (!S_ISREG(st.st_mode))
			return S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
		_cleanup_close_ int fd = reopen_fd(pathfd, O_WRONLY | O_NONBLOCK);
		if (fd < 0)
			return fd;
		if (ftruncate(fd, (off_t)a->size) < 0)
			return -errno;
	}
	if (a->valid & VFS_ATTR_PERM) {
		/* Linux symlinks have no mode of their own. */
		if (S_ISLNK(st.st_mode))
			return -EOPNOTSUPP;
		char proc[64];
		snprintf(proc, sizeof(proc), "/proc/self/fd/%d", pathfd);
		if (chmod(proc, a->mode & 07777) < 0)
			return -errno;
	}
	if (a->valid & VFS_ATTR_TIMES) {
		struct timespec ts[2] = {{.tv_sec = a->atime}, {.tv_sec = a->mtime}};
		if (utimensat(pathfd, "", ts, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0)
			return -errno;
	}
	if (a->valid & VFS_ATTR_UIDGID) {
		if (fchownat(pathfd, "", a->uid, a->gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0)
			return -errno;
	}
	return 0;
}

/* A device or FIFO, only when the vfs allows them: opened O_NONBLOCK so that the open
 * itself never waits (a FIFO without a peer, a serial line without carrier), then made
 * blocking again for the transfer, as OpenSSH's descriptors are. A FIFO opened for
 * writing without a reader fails with ENXIO instead of waiting for one. */
static int
open_special(int pathfd, int oflags)
{
	int fd = reopen_fd(pathfd, oflags | O_NONBLOCK);
	if (fd < 0)
		return fd;
	if (!(oflags & O_NONBLOCK)) {
		int fl = fcntl(fd, F_GETFL);
		if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0) {
			int r = -errno;
			close(fd);
			return r;
		}
	}
	return fd;
}

/* Open an existing object for data only if it is a regular file: resolve to an O_PATH
 * fd, check the type, then reopen that very object. FIFOs, sockets and devices are
 * never opened (a device's open alone can have side effects) unless the vfs was told
 * to allow them (vfs_posix_set_special_files()). */
static int
open_existing_regular(struct posix_vfs *pv, const char *path, int oflags)
{
	_cleanup_close_ int pathfd = resolve(pv, path, O_PATH, 0);
	if (pathfd < 0)
		return pathfd;
	struct stat st;
	if (fstat(pathfd, &st) < 0)
		return -errno;
	if (S_ISDIR(st.st_mode))
		return -EISDIR;
	if (S_ISREG(st.st_mode))
		return reopen_fd(pathfd, oflags);
	if (!pv->special_files)
		return -EPERM;
	return open_special(pathfd, oflags);
}

/* O_CREAT semantics without ever opening a non-regular file. The common upload case,
 * a new name, costs one call; O_NONBLOCK is inert on regular files. */
static int
create_regular(struct posix_vfs *pv, const char *path, int oflags, uint32_t mode, bool excl)
{
	uint64_t base = (uint64_t)(oflags | O_CREAT | O_NONBLOCK | O_NOCTTY);
	int fd = resolve(pv, path, base | O_EXCL, mode);
	if (fd != -EEXIST || excl)
		return fd;
	fd = open_existing_regular(pv, path, oflags);
	if (fd != -ENOENT)
		return fd;
	/* A dangling symlink (its target is created, as OpenSSH does) or a name removed
	 * between the two calls: create without O_EXCL, then check what we got. */
	fd = resolve(pv, path, base, mode);
	if (fd < 0)
		return fd;
	struct stat st;
	if (fstat(fd, &st) == 0 && (S_ISREG(st.st_mode) || pv->special_files))
		return fd;
	close(fd);
	return -EPERM;
}

static struct vfs_file *
file_new(struct vfs *v, int fd)
{
	struct posix_file *pf = xcalloc(1, sizeof(*pf));
	pf->base.vfs = v;
	pf->fd = fd;
	return &pf->base;
}

static int
posix_open(struct vfs *v, const char *path, unsigned flags, uint32_t mode, struct vfs_file **ret)
{
	struct posix_vfs *pv = to_posix(v);
	int oflags;
	if ((flags & VFS_O_READ) && (flags & VFS_O_WRITE))
		oflags = O_RDWR;
	else if (flags & VFS_O_WRITE)
		oflags = O_WRONLY;
	else
		oflags = O_RDONLY;
	if (flags & VFS_O_APPEND)
		oflags |= O_APPEND;
	if (flags & VFS_O_TRUNC)
		oflags |= O_TRUNC;

	int fd;
	if (flags & VFS_O_CREAT)
		fd = create_regular(pv, path, oflags, mode & 07777 & ~v->umask, flags & VFS_O_EXCL);
	else
		fd = open_existing_regular(pv, path, oflags);
	if (fd < 0)
		return fd;
	struct posix_file *pf = (struct posix_file *)file_new(v, fd);
	if (pv->special_files) {
		/* FIFOs, sockets and ttys have no offsets: data is read and written in
		 * sequence (OpenSSH answers FAILURE there, its lseek fails). */
		pf->stream = lseek(fd, 0, SEEK_CUR) < 0 && errno == ESPIPE;
	}
	*ret = &pf->base;
	return 0;
}

static int
posix_pread(struct vfs_file *f, void *buf, size_t len, uint64_t off, size_t *ret_n)
{
	if (off > INT64_MAX)
		return -EINVAL;
	bool stream = ((struct posix_file *)f)->stream;
	for (;;) {
		ssize_t n = stream ? read(file_fd(f), buf, len)
		                   : pread(file_fd(f), buf, len, (off_t)off);
		if (n >= 0) {
			*ret_n = (size_t)n;
			return 0;
		}
		if (errno != EINTR)
			return -errno;
	}
}

static int
posix_pwrite(struct vfs_file *f, const void *buf, size_t len, uint64_t off, size_t *ret_n)
{
	if (off > INT64_MAX)
		return -EINVAL;
	size_t done = 0;
	bool stream = ((struct posix_file *)f)->stream;
	/* Short writes are retried: a client's WRITE is all-or-error. */
	while (done < len) {
		const uint8_t *p = (const uint8_t *)buf + done;
		ssize_t n = stream ? write(file_fd(f), p, len - done)
		                   : pwrite(file_fd(f), p, len - done, (off_t)(off + done));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO;
		done += (size_t)n;
	}
	*ret_n = done;
	return 0;
}

static int
posix_fstat(struct vfs_file *f, struct vfs_attr *ret)
{
	return stat_fd(file_fd(f), ret);
}

static int
posix_fsetattr(struct vfs_file *f, const struct vfs_attr *a)
{
	int fd = file_fd(f);
	if ((a->valid & VFS_ATTR_SIZE) && ftruncate(fd, (off_t)a->size) < 0)
		return -errno;
	if ((a->valid & VFS_ATTR_PERM) && fchmod(fd, a->mode & 07777) < 0)
		return -errno;
	if ((a->valid & VFS_ATTR_UIDGID) && fchown(fd, a->uid, a->gid) < 0)
		return -errno;
	if (a->valid & VFS_ATTR_TIMES) {
		struct timespec ts[2] = {{.tv_sec = a->atime}, {.tv_sec = a->mtime}};
		if (futimens(fd, ts) < 0)
			return -errno;
	}
	return 0;
}

static int
posix_fsync(struct vfs_file *f)
{
	return fsync(file_fd(f)) < 0 ? -errno : 0;
}

static void
statvfs_from(const struct statvfs *s, struct vfs_statvfs *r)
{
	*r = (struct vfs_statvfs){
	        .bsize = s->f_bsize,
	        .frsize = s->f_frsize,
	        .blocks = s->f_blocks,
	        .bfree = s->f_bfree,
	        .bavail = s->f_bavail,
	        .files = s->f_files,
	        .ffree = s->f_ffree,
	        .favail = s->f_favail,
	        .fsid = s->f_fsid,
	        .flag = ((s->f_flag & ST_RDONLY) ? 1 : 0) | ((s->f_flag & ST_NOSUID) ? 2 : 0),
	        .namemax = s->f_namemax,
	};
}

static int
posix_fstatvfs(struct vfs_file *f, struct vfs_statvfs *ret)
{
	struct statvfs s;
	if (fstatvfs(file_fd(f), &s) < 0)
		return -errno;
	statvfs_from(&s, ret);
	return 0;
}

static int
posix_close(struct vfs_file *f)
{
	int r = close(file_fd(f)) < 0 ? -errno : 0;
	free(f);
	return r;
}

static int
posix_stat(struct vfs *v, const char *path, bool follow, struct vfs_attr *ret)
{
	_cleanup_close_ int fd = resolve(to_posix(v), path, O_PATH | (follow ? 0 : O_NOFOLLOW), 0);
	if (fd < 0)
		return fd;
	return stat_fd(fd, ret);
}

static int
posix_setattr(struct vfs *v, const char *path, bool follow, const struct vfs_attr *a)
{
	_cleanup_close_ int fd = resolve(to_posix(v), path, O_PATH | (follow ? 0 : O_NOFOLLOW), 0);
	if (fd < 0)
		return fd;
	return apply_attr_pathfd(fd, a);
}

static int
posix_opendir(struct vfs *v, const char *path, struct vfs_dir **ret)
{
	int fd = resolve(to_posix(v), path, O_RDONLY | O_DIRECTORY | O_NONBLOCK, 0);
	if (fd < 0)
		return fd;
	DIR *d = fdopendir(fd);
	if (!d) {
		int r = -errno;
		close(fd);
		return r;
	}
	struct posix_dir *pd = xcalloc(1, sizeof(*pd));
	pd->base.vfs = v;
	pd->dir = d;
	*ret = &pd->base;
	return 0;
}

static int
posix_readdir(struct vfs_dir *d, const char **ret_name, struct vfs_attr *ret_attr)
{
	struct posix_dir *pd = (struct posix_dir *)d;
	for (;;) {
		errno = 0;
		struct dirent *de = readdir(pd->dir);
		if (!de)
			return errno ? -errno : 1;
		struct stat st;
		/* Entries that vanish or cannot be stat'ed are skipped, as OpenSSH does. */
		if (fstatat(dirfd(pd->dir), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		attr_from_stat(&st, ret_attr);
		*ret_name = de->d_name;
		return 0;
	}
}

static int
posix_closedir(struct vfs_dir *d)
{
	struct posix_dir *pd = (struct posix_dir *)d;
	int r = closedir(pd->dir) < 0 ? -errno : 0;
	free(pd);
	return r;
}

static int
posix_mkdir(struct vfs *v, const char *path, uint32_t mode)
{
	_cleanup_close_ int dirfd = -1;
	_cleanup_free_ char *leaf = NULL;
	int r = resolve_parent(to_posix(v), path, &dirfd, &leaf);
	if (r == -EINVAL)
		return -EEXIST;
	if (r < 0)
		return r;
	return mkdirat(dirfd, leaf, mode & 07777 & ~v->umask) < 0 ? -errno : 0;
}

static int
unlink_common(struct vfs *v, const char *path, int flags)
{
	_cleanup_close_ int dirfd = -1;
	_cleanup_free_ char *leaf = NULL;
	int r = resolve_parent(to_posix(v), path, &dirfd, &leaf);
	if (r < 0)
		return r;
	return unlinkat(dirfd, leaf, flags) < 0 ? -errno : 0;
}

static int
posix_rmdir(struct vfs *v, const char *path)
{
	return unlink_common(v, path, AT_REMOVEDIR);
}

static int
posix_remove(struct vfs *v, const char *path)
{
	return unlink_common(v, path, 0);
}

static int
posix_rename(struct vfs *v, const char *oldpath, const char *newpath, unsigned flags)
{
	_cleanup_close_ int odir = -1, ndir = -1;
	_cleanup_free_ char *oleaf = NULL, *nleaf = NULL;
	int r = resolve_parent(to_posix(v), oldpath, &odir, &oleaf);
	if (r < 0)
		return r;
	r = resolve_parent(to_posix(v), newpath, &ndir, &nleaf);
	if (r < 0)
		return r;
	unsigned rflags = (flags & VFS_RENAME_NOREPLACE) ? RENAME_NOREPLACE : 0;
	if (renameat2(odir, oleaf, ndir, nleaf, rflags) == 0)
		return 0;
	r = -errno;
	if (r != -EINVAL || !rflags)
		return r;
	/* Filesystem without RENAME_NOREPLACE: OpenSSH's link()+unlink() for files. */
	struct stat st;
	if (fstatat(odir, oleaf, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	if (S_ISREG(st.st_mode)) {
		if (linkat(odir, oleaf, ndir, nleaf, 0) < 0)
			return -errno;
		return unlinkat(odir, oleaf, 0) < 0 ? -errno : 0;
	}
	if (fstatat(ndir, nleaf, &st, AT_SYMLINK_NOFOLLOW) == 0)
		return -EEXIST;
	return renameat(odir, oleaf, ndir, nleaf) < 0 ? -errno : 0;
}

static int
posix_link(struct vfs *v, const char *oldpath, const char *newpath)
{
	_cleanup_close_ int odir = -1, ndir = -1;
	_cleanup_free_ char *oleaf = NULL, *nleaf = NULL;
	int r = resolve_parent(to_posix(v), oldpath, &odir, &oleaf);
	if (r < 0)
		return r;
	r = resolve_parent(to_posix(v), newpath, &ndir, &nleaf);
	if (r < 0)
		return r;
	return linkat(odir, oleaf, ndir, nleaf, 0) < 0 ? -errno : 0;
}

static int
posix_symlink(struct vfs *v, const char *target, const char *linkpath)
{
	_cleanup_close_ int dirfd = -1;
	_cleanup_free_ char *leaf = NULL;
	int r = resolve_parent(to_posix(v), linkpath, &dirfd, &leaf);
	if (r < 0)
		return r;
	/* The target is stored verbatim; it is only ever followed by our own resolver,
	 * which interprets it inside the jail. */
	return symlinkat(target, dirfd, leaf) < 0 ? -errno : 0;
}

static int
posix_readlink(struct vfs *v, const char *path, char **ret)
{
	_cleanup_close_ int dirfd = -1;
	_cleanup_free_ char *leaf = NULL;
	int r = resolve_parent(to_posix(v), path, &dirfd, &leaf);
	if (r < 0)
		return r;
	char buf[PATH_MAX];
	ssize_t n = readlinkat(dirfd, leaf, buf, sizeof(buf) - 1);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	*ret = xstrdup(buf);
	return 0;
}

/* Host path of an fd -> client path, via the kernel's record of the object's path. */
static int
client_path_of_fd(struct posix_vfs *pv, int fd, char **ret)
{
	char proc[64], host[PATH_MAX];
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	ssize_t n = readlink(proc, host, sizeof(host) - 1);
	if (n < 0)
		return -errno;
	host[n] = '\0';
	if (strcmp(pv->root_host, "/") == 0) {
		*ret = xstrdup(host);
		return 0;
	}
	/* Presentation only: access was already confined by openat2. An object that is no
	 * longer below the root (root moved, entry unlinked) has no client name. */
	size_t rl = strlen(pv->root_host);
	if (strncmp(host, pv->root_host, rl) != 0 || (host[rl] != '\0' && host[rl] != '/'))
		return -ENOENT;
	*ret = xstrdup(host[rl] ? host + rl : "/");
	return 0;
}

static int
posix_realpath(struct vfs *v, const char *path, char **ret)
{
	struct posix_vfs *pv = to_posix(v);
	_cleanup_close_ int fd = resolve_ex(pv, path, O_PATH, 0, 0);
	if (fd >= 0)
		return client_path_of_fd(pv, fd, ret);
	if (fd != -ENOENT)
		return fd;
	/* A missing final component is allowed (OpenSSH's sftp_realpath does so). */
	_cleanup_close_ int dirfd = -1;
	_cleanup_free_ char *leaf = NULL, *parent = NULL;
	int r = resolve_parent_ex(pv, path, &dirfd, &leaf, 0);
	if (r < 0)
		return r == -EINVAL ? -ENOENT : r;
	r = client_path_of_fd(pv, dirfd, &parent);
	if (r < 0)
		return r;
	*ret = xasprintf("%s%s%s", parent, strcmp(parent, "/") == 0 ? "" : "/", leaf);
	return 0;
}

static int
posix_statvfs(struct vfs *v, const char *path, struct vfs_statvfs *ret)
{
	_cleanup_close_ int fd = resolve(to_posix(v), path, O_PATH, 0);
	if (fd < 0)
		return fd;
	struct statvfs s;
	if (fstatvfs(fd, &s) < 0)
		return -errno;
	statvfs_from(&s, ret);
	return 0;
}

static int
posix_copy(struct vfs_file *src, uint64_t src_off, uint64_t len, struct vfs_file *dst,
           uint64_t dst_off, uint64_t *ret_copied)
{
	int in = file_fd(src), out = file_fd(dst);
	uint64_t copied = 0;
	if (src_off > INT64_MAX || dst_off > INT64_MAX)
		return -EINVAL;
	loff_t ioff = (loff_t)src_off, ooff = (loff_t)dst_off;
	bool to_eof = len == 0;
	bool use_cfr = true;
	_cleanup_free_ uint8_t *buf = NULL;
	while (to_eof || len > 0) {
		size_t chunk = to_eof ? COPY_CHUNK : (size_t)MIN(len, (uint64_t)COPY_CHUNK);
		ssize_t n;
		if (use_cfr) {
			n = copy_file_range(in, &ioff, out, &ooff, chunk, 0);
			if (n < 0 && (errno == EXDEV || errno == EINVAL || errno == ENOSYS ||
			              errno == EOPNOTSUPP || errno == EBADF)) {
				use_cfr = false;
				continue;
			}
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0)
				return -errno;
		} else {
			if (!buf)
				buf = xmalloc(COPY_CHUNK);
			n = pread(in, buf, chunk, ioff);
			if (n < 0) {
				if (errno == EINTR)
					continue;
				return -errno;
			}
			size_t w = 0;
			int r = n > 0 ? posix_pwrite(dst, buf, (size_t)n, (uint64_t)ooff, &w) : 0;
			if (r < 0)
				return r;
			ioff += n;
			ooff += n;
		}
		if (n == 0)
			break;
		copied += (uint64_t)n;
		if (!to_eof)
			len -= (uint64_t)n;
	}
	*ret_copied = copied;
	return 0;
}

/* Page cache to @out_fd without a copy through user space: splice(2) into a pipe,
 * sendfile(2) into anything else (a socket; the kernel splices through its own pipe). */
static int
posix_splice_to(struct vfs_file *f, uint64_t off, size_t len, int out_fd, size_t *ret_moved)
{
	struct posix_vfs *pv = to_posix(f->vfs);
	if (off > INT64_MAX || len > INT32_MAX)
		return -EINVAL;
	if (pv->splice_fd != out_fd) {
		struct stat st;
		if (fstat(out_fd, &st) < 0)
			return -errno;
		pv->splice_fd = out_fd;
		pv->splice_pipe = S_ISFIFO(st.st_mode);
	}
	for (;;) {
		ssize_t n;
		if (pv->splice_pipe) {
			loff_t o = (loff_t)off;
			n = splice(file_fd(f), &o, out_fd, NULL, len,
			           SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
		} else {
			off_t o = (off_t)off;
			n = sendfile(out_fd, file_fd(f), &o, len);
		}
		if (n >= 0) {
			*ret_moved = (size_t)n;
			return 0;
		}
		if (errno != EINTR)
			return -errno;
	}
}

static int
posix_chdir(struct vfs *v, const char *path)
{
	struct posix_vfs *pv = to_posix(v);
	_cleanup_close_ int fd = resolve_ex(pv, path, O_PATH | O_DIRECTORY, 0, 0);
	if (fd < 0)
		return fd;
	char *canon;
	int r = client_path_of_fd(pv, fd, &canon);
	if (r < 0)
		return r;
	free(pv->cwd);
	pv->cwd = canon;
	return 0;
}

/* Atomic uploads (vfs_policy): an unnamed file in a directory, named once complete. */
static int
posix_tmpfile(struct vfs *v, const char *dirpath, uint32_t mode, struct vfs_file **ret)
{
	int fd = resolve(to_posix(v), dirpath, O_TMPFILE | O_RDWR, mode & 07777 & ~v->umask);
	/* Old kernels answer EISDIR, some file systems EOPNOTSUPP or EINVAL. */
	if (fd == -EISDIR || fd == -EINVAL || fd == -EOPNOTSUPP)
		return -EOPNOTSUPP;
	if (fd < 0)
		return fd;
	*ret = file_new(v, fd);
	return 0;
}

static int
posix_linkfile(struct vfs_file *f, const char *newpath)
{
	_cleanup_close_ int dirfd = -1;
	_cleanup_free_ char *leaf = NULL;
	int r = resolve_parent(to_posix(f->vfs), newpath, &dirfd, &leaf);
	if (r < 0)
		return r;
	char proc[64];
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", file_fd(f));
	return linkat(AT_FDCWD, proc, dirfd, leaf, AT_SYMLINK_FOLLOW) < 0 ? -errno : 0;
}

static void
posix_free(struct vfs *v)
{
	struct posix_vfs *pv = to_posix(v);
	if (pv->root_fd >= 0)
		close(pv->root_fd);
	free(pv->root_host);
	free(pv->cwd);
	free(pv);
}

static const struct vfs_ops posix_ops = {
        .open = posix_open,
        .pread = posix_pread,
        .pwrite = posix_pwrite,
        .fstat = posix_fstat,
        .fsetattr = posix_fsetattr,
        .fsync = posix_fsync,
        .fstatvfs = posix_fstatvfs,
        .close = posix_close,
        .stat = posix_stat,
        .setattr = posix_setattr,
        .opendir = posix_opendir,
        .readdir = posix_readdir,
        .closedir = posix_closedir,
        .mkdir = posix_mkdir,
        .rmdir = posix_rmdir,
        .remove = posix_remove,
        .rename = posix_rename,
        .link = posix_link,
        .symlink = posix_symlink,
        .readlink = posix_readlink,
        .realpath = posix_realpath,
        .statvfs = posix_statvfs,
        .copy = posix_copy,
        .chdir = posix_chdir,
        .free = posix_free,
        .splice_to = posix_splice_to,
        .tmpfile = posix_tmpfile,
        .linkfile = posix_linkfile,
};

int
vfs_posix_new_fd(int root_fd, const char *cwd, mode_t umask_bits, struct vfs **ret)
{
	struct posix_vfs *pv = xcalloc(1, sizeof(*pv));
	pv->base.ops = &posix_ops;
	pv->base.umask = umask_bits;
	pv->root_fd = root_fd;
	pv->splice_fd = -1;
	pv->root_host = xstrdup("/");
	pv->cwd = xstrdup("/");
	/* Record where the root is, for presenting canonical client paths. */
	char *host = NULL;
	int r = client_path_of_fd(pv, root_fd, &host);
	if (r < 0) {
		pv->root_fd = -1; /* the caller keeps ownership on failure */
		posix_free(&pv->base);
		return r;
	}
	free(pv->root_host);
	pv->root_host = host;
	if (cwd && cwd[0]) {
		r = posix_chdir(&pv->base, cwd);
		if (r < 0) {
			pv->root_fd = -1;
			posix_free(&pv->base);
			return r;
		}
	}
	*ret = &pv->base;
	return 0;
}

int
vfs_posix_set_special_files(struct vfs *v, bool allow)
{
	if (!v || v->ops != &posix_ops)
		return -EINVAL;
	to_posix(v)->special_files = allow;
	return 0;
}

int
vfs_posix_new(const char *root, const char *cwd, mode_t umask_bits, struct vfs **ret)
{
	int fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int r = vfs_posix_new_fd(fd, cwd, umask_bits, ret);
	if (r < 0)
		close(fd);
	return r;
}
