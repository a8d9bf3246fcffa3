/* SPDX-License-Identifier: BSD-2-Clause */
/* Small-file reader shared by the config, accounts and authorized_keys parsers. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "berth/common.h"
#include "berth/file.h"
#include "berth/xmem.h"

int
read_small_file(const char *path, size_t max, bool nofollow, char **ret, size_t *ret_len)
{
	return read_small_fileat(AT_FDCWD, path, max, nofollow, ret, ret_len);
}

int
read_small_fileat(int dirfd, const char *path, size_t max, bool nofollow, char **ret,
                  size_t *ret_len)
{
	/* O_NONBLOCK: a FIFO planted in place of the file must not hang us. */
	_cleanup_close_ int fd =
	        openat(dirfd, path,
	               O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK | (nofollow ? O_NOFOLLOW : 0));
	if (fd < 0)
		return -errno;
	struct stat st;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (S_ISDIR(st.st_mode))
		return -EISDIR;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	if ((uint64_t)st.st_size > max)
		return -EFBIG;
	size_t size = (size_t)st.st_size, len = 0;
	_cleanup_free_ char *data = xmalloc(size + 1);
	while (len < size) {
		ssize_t n = read(fd, data + len, size - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break; /* shrank while we read: take what is there */
		len += (size_t)n;
	}
	data[len] = '\0';
	*ret = ptr_steal(&data);
	*ret_len = len;
	return 0;
}

int
write_file_atomic(const char *path, const void *data, size_t len, mode_t mode)
{
	_cleanup_free_ char *tmp = xasprintf("%s.tmp.%ld", path, (long)getpid());
	/* A fresh file (never one planted under that name), then rename() over @path. */
	(void)unlink(tmp);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
	if (fd < 0)
		return -errno;
	const char *p = data;
	int r = 0;
	while (len > 0) {
		ssize_t k = write(fd, p, len);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0) {
			r = k < 0 ? -errno : -EIO;
			break;
		}
		p += k;
		len -= (size_t)k;
	}
	if (r == 0 && fchmod(fd, mode) < 0)
		r = -errno;
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r == 0 && rename(tmp, path) < 0)
		r = -errno;
	if (r < 0)
		(void)unlink(tmp);
	return r;
}
