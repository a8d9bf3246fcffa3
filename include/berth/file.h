/* SPDX-License-Identifier: BSD-2-Clause */
/* Reading small trusted-location files (config, accounts, authorized_keys). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Read the regular file at @path (at most @max bytes) into a NUL-terminated heap
 * buffer that the caller frees (wipe it first if it holds secrets). With @nofollow a
 * symlink as the final component is refused (-ELOOP). Returns 0, -EISDIR, -EINVAL for
 * other non-regular files, -EFBIG when larger than @max, or another -errno. */
int read_small_file(const char *path, size_t max, bool nofollow, char **ret, size_t *ret_len);
/* read_small_file() relative to the directory fd @dirfd (AT_FDCWD: the cwd). */
int read_small_fileat(int dirfd, const char *path, size_t max, bool nofollow, char **ret,
                      size_t *ret_len);
/* Replace @path with @len bytes of @data (mode @mode): a temporary file beside it,
 * fsync, rename. A reader sees the old or the new content, never a mix. 0 or -errno. */
int write_file_atomic(const char *path, const void *data, size_t len, mode_t mode);
