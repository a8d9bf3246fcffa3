/* SPDX-License-Identifier: BSD-2-Clause */
/* The policy layer: a struct vfs that wraps another and enforces an account's policy on
 * every path-taking and handle-taking operation, for every protocol engine above it.
 *
 *   vfs_posix_new(jail) --> vfs_policy_wrap(inner, cfg) --> SFTP engine / FTP engine
 *
 * Decisions come from the pure policy functions (berth/policy.h) on the location the
 * kernel resolved: with Permissions or Filter rules, every path is canonicalised through
 * the inner backend's realpath (symlinks and ".." followed by the kernel), the decision is
 * made on that path, and the inner operation acts on the same canonical path with
 * symbolic links refused (vfs.no_symlinks), so a link swapped in between fails instead of
 * leading around a rule. Without such rules (a path-independent policy) paths go to the
 * inner backend unchanged.
 *
 * Errors: a refusal is -EACCES; a quota or MaxFileSize excess is -EDQUOT; a bandwidth
 * wait is -EAGAIN from pread/pwrite, with vfs_retry_at() telling when to try again.
 * Uploads are hashed (SHA-256) and, in an atomic UploadMode, written to an unnamed
 * temporary file published at a complete close; vfs_close_ex() reports the outcome.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "berth/policy.h"
#include "berth/vfs.h"

struct policy_state;

/**
 * struct vfs_policy_config - what the wrapper enforces.
 * @policy: the account's policy; borrowed, must outlive the wrapper.
 * @state_fd: the account's shared state file (policy_state_open()), taken over by the
 *            wrapper; -1 for a state private to this process (the drop-in). Only used
 *            when the policy has a quota or a bandwidth limit.
 * @no_tmpfile: never use O_TMPFILE for atomic uploads (tests; file systems where it
 *              misbehaves): hidden named temporary files instead.
 * @no_scan: with a private state (@state_fd -1), count usage from zero instead of
 *           walking the jail (the drop-in, whose root may be the whole file system).
 * @log: optional sink for refusal and quota lines (enum log_level, printf format).
 * @userdata: for @log.
 */
struct vfs_policy_config {
	const struct policy *policy;
	int state_fd;
	bool no_tmpfile;
	bool no_scan;
	void (*log)(void *userdata, int level, const char *fmt, ...)
	        __attribute__((format(printf, 3, 4)));
	void *userdata;
};

/**
 * vfs_policy_wrap() - wrap @inner (ownership moves to the wrapper, also on failure).
 * When the policy has a quota and the shared usage is unknown, this walks the jail once
 * (vfs_policy_scan()) before returning.
 * @inner: backend.
 * @cfg: configuration (copied; @cfg->policy stays borrowed).
 * @ret: the wrapping vfs; vfs_free() frees both.
 *
 * Return: 0 or -errno (state file unusable, scan failed).
 */
int vfs_policy_wrap(struct vfs *inner, const struct vfs_policy_config *cfg, struct vfs **ret);

/**
 * vfs_policy_scan() - bytes and number of regular files below the root of @v, walking
 * every directory (symlinks are not followed), as `berthctl quota rescan` needs it. Hidden
 * temporary files of dead sessions (".berth-upload.*") are removed on the way.
 * @v: a vfs (usually the unwrapped backend).
 * @ret_bytes: sum of regular file sizes.
 * @ret_files: number of regular files.
 *
 * Return: 0 or -errno.
 */
int vfs_policy_scan(struct vfs *v, uint64_t *ret_bytes, uint64_t *ret_files);

/**
 * vfs_policy_resolve() - the canonical path the policy layer decides on once it resolves
 * @path through the kernel (a path that met a symbolic link, or has "." or ".."): with
 * @follow, the object @path leads to, every link followed (a missing final component is
 * kept as named: realpath); without, the entry @path names (its parent resolved, the
 * final component kept and not followed), as for remove, rename, mkdir and links.
 * `berthctl explain --resolve` calls it as the account on the unwrapped backend.
 * @inner: the backend the policy layer wraps.
 * @path: client path (relative paths start at @inner's working directory).
 * @follow: see above.
 * @ret: heap string.
 *
 * Return: 0, 1 (without @follow: the final component names no entry: "", "." or ".."),
 * or -errno.
 */
int vfs_policy_resolve(struct vfs *inner, const char *path, bool follow, char **ret);
