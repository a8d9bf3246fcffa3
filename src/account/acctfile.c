/* SPDX-License-Identifier: BSD-2-Clause */
/* The accounts file on disk for berthctl: flock'd read-modify-write, atomic replace. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "berth/acctedit.h"
#include "berth/common.h"
#include "berth/file.h"
#include "berth/xmem.h"

struct acctfile {
	int dirfd;
	int lockfd;
	char *path; /* real path of the file */
	char *base; /* its name inside dirfd */
	char *text;
	size_t len;
	bool exists;
	struct stat st; /* of the file at open (exists) */
};

struct acctfile *
acctfile_close(struct acctfile *f)
{
	if (!f)
		return NULL;
	if (f->lockfd >= 0)
		close(f->lockfd); /* releases the flock */
	if (f->dirfd >= 0)
		close(f->dirfd);
	if (f->text)
		freezero(f->text, f->len);
	free(f->path);
	free(f->base);
	free(f);
	return NULL;
}

/* Resolve @path to (real directory, name). A missing file is fine (its directory must
 * exist); a dangling symlink is not. */
static int
resolve(const char *path, char **ret_dir, char **ret_base)
{
	struct stat st;
	_cleanup_free_ char *real = realpath(path, NULL);

	if (!real) {
		int r = -errno;
		if (r != -ENOENT || lstat(path, &st) == 0)
			return r; /* includes a dangling symlink: -ENOENT */
		_cleanup_free_ char *d = xstrdup(path), *b = xstrdup(path);
		_cleanup_free_ char *dir = realpath(dirname(d), NULL);
		if (!dir)
			return -errno;
		const char *name = basename(b);
		if (!*name || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
			return -EINVAL;
		*ret_dir = ptr_steal(&dir);
		*ret_base = xstrdup(name);
		return 0;
	}
	char *slash = strrchr(real, '/');
	if (!slash || !slash[1])
		return -EINVAL;
	*ret_base = xstrdup(slash + 1);
	*ret_dir = slash == real ? xstrdup("/") : xstrndup(real, (size_t)(slash - real));
	return 0;
}

int
acctfile_open(const char *path, unsigned flags, struct acctfile **ret)
{
	_cleanup_free_ char *dir = NULL, *base = NULL, *lockname = NULL;
	struct acctfile *f;
	struct stat st;
	int r = resolve(path, &dir, &base);

	if (r < 0)
		return r;
	f = xcalloc(1, sizeof(*f));
	f->lockfd = -1;
	f->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (f->dirfd < 0) {
		r = -errno;
		goto fail;
	}
	if (fstat(f->dirfd, &st) < 0) {
		r = -errno;
		goto fail;
	}
	if ((st.st_uid != 0 && st.st_uid != geteuid()) || (st.st_mode & (S_IWGRP | S_IWOTH))) {
		r = -EPERM;
		goto fail;
	}
	f->path = strcmp(dir, "/") == 0 ? xasprintf("/%s", base) : xasprintf("%s/%s", dir, base);
	f->base = ptr_steal(&base);

	lockname = xasprintf(".%s.lock", f->base);
	f->lockfd = openat(f->dirfd, lockname,
	                   O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC, 0600);
	if (f->lockfd < 0 || fstat(f->lockfd, &st) < 0) {
		r = -errno;
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		r = -EINVAL;
		goto fail;
	}
	while (flock(f->lockfd, LOCK_EX) < 0) {
		if (errno != EINTR) {
			r = -errno;
			goto fail;
		}
	}

	r = read_small_fileat(f->dirfd, f->base, ACCTEDIT_MAX_FILE, true, &f->text, &f->len);
	if (r == -ENOENT && (flags & ACCTFILE_CREATE)) {
		f->text = xstrdup("");
		f->len = 0;
	} else if (r < 0) {
		goto fail;
	} else {
		if (fstatat(f->dirfd, f->base, &f->st, AT_SYMLINK_NOFOLLOW) < 0) {
			r = -errno;
			goto fail;
		}
		f->exists = true;
	}
	*ret = f;
	return 0;
fail:
	acctfile_close(f);
	return r;
}

const char *
acctfile_text(const struct acctfile *f, size_t *ret_len)
{
	if (ret_len)
		*ret_len = f->len;
	return f->text;
}

const char *
acctfile_path(const struct acctfile *f)
{
	return f->path;
}

bool
acctfile_exists(const struct acctfile *f)
{
	return f->exists;
}

static int
write_all(int fd, const char *p, size_t len)
{
	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int
acctfile_commit(struct acctfile *f, const char *text, size_t len)
{
	uint8_t rnd[6];
	char tmp[NAME_MAX + 1];
	_cleanup_close_ int fd = -1;
	int r;

	if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd))
		return -EIO;
	if ((size_t)snprintf(tmp, sizeof(tmp), ".%s.%02x%02x%02x%02x%02x%02x", f->base, rnd[0],
	                     rnd[1], rnd[2], rnd[3], rnd[4], rnd[5]) >= sizeof(tmp))
		return -ENAMETOOLONG;
	fd = openat(f->dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	/* Owner first (it may clear mode bits), then the mode, then the data. */
	if (f->exists) {
		if (fchown(fd, f->st.st_uid, f->st.st_gid) < 0 ||
		    fchmod(fd, f->st.st_mode & 07777) < 0) {
			r = -errno;
			goto fail;
		}
	} else if (fchmod(fd, 0600) < 0) {
		r = -errno;
		goto fail;
	}
	if ((r = write_all(fd, text, len)) < 0)
		goto fail;
	if (fsync(fd) < 0) {
		r = -errno;
		goto fail;
	}
	r = close(fd);
	fd = -1;
	if (r < 0) {
		r = -errno;
		goto fail;
	}
	if (renameat(f->dirfd, tmp, f->dirfd, f->base) < 0) {
		r = -errno;
		goto fail;
	}
	/* The rename is durable once the directory is. */
	if (fsync(f->dirfd) < 0)
		return -errno;
	if (fstatat(f->dirfd, f->base, &f->st, AT_SYMLINK_NOFOLLOW) == 0)
		f->exists = true;
	return 0;
fail:
	(void)unlinkat(f->dirfd, tmp, 0);
	return r;
}
