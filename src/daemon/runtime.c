/* SPDX-License-Identifier: BSD-2-Clause */
/* Runtime facts of the master: who we are, the privsep user and its empty chroot. */
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "berth/common.h"
#include "berth/daemon.h"
#include "berth/log.h"
#include "berth/xmem.h"

#define PRIVSEP_CHROOT "/run/berthd/empty"

/* Create @path as an empty, root-owned, non-writable directory (OpenSSH's rule for
 * ChrootDirectory) or verify that it already is one. */
static int
ensure_empty_dir(const char *path)
{
	_cleanup_free_ char *parent = xstrdup(path);
	char *slash = strrchr(parent, '/');
	if (slash && slash != parent) {
		*slash = '\0';
		if (mkdir(parent, 0755) < 0 && errno != EEXIST)
			return -errno;
	}
	if (mkdir(path, 0555) < 0 && errno != EEXIST)
		return -errno;
	struct stat st;
	if (lstat(path, &st) < 0)
		return -errno;
	if (!S_ISDIR(st.st_mode) || st.st_uid != 0 || (st.st_mode & 022))
		return -EPERM;
	if (st.st_nlink > 2)
		return -ENOTEMPTY;
	chmod(path, 0555);
	return 0;
}

int
daemon_runtime_init(struct daemon_runtime *rt, const struct berth_config *cfg)
{
	memset(rt, 0, sizeof(*rt));
	rt->privileged = geteuid() == 0;
	if (!rt->privileged)
		return 0;
	const char *names[] = {"berth", "nobody"};
	struct passwd *pw = NULL;
	for (size_t i = 0; i < ARRAY_SIZE(names) && !pw; i++)
		pw = getpwnam(names[i]);
	if (!pw || pw->pw_uid == 0) {
		log_error("no unprivileged user (berth or nobody) for privilege separation");
		return -ENOENT;
	}
	rt->privsep_uid = pw->pw_uid;
	rt->privsep_gid = pw->pw_gid;
	int r = ensure_empty_dir(PRIVSEP_CHROOT);
	if (r < 0) {
		log_error("privsep chroot %s: %s (must be an empty root-owned directory)",
		          PRIVSEP_CHROOT, strerror(-r));
		return r;
	}
	rt->privsep_chroot = xstrdup(PRIVSEP_CHROOT);
	return 0;
}
