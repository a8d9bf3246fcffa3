/* SPDX-License-Identifier: BSD-2-Clause */
/* A scratch jail for the fuzz targets: rebuilt before every input, removed after. */
#pragma once

#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

static int
fuzz_jail_rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	(void)remove(path);
	return 0;
}

/* /tmp/berth-fuzz-@name-PID/jail with dir/, file ("hello fuzzer\n"), dir/file,
 * link -> file and out -> ../../.. (an escape attempt the VFS must contain). Returns the
 * jail's path (static storage). */
static const char *
fuzz_jail_make(const char *name)
{
	static const char *const files[] = {"file", "dir/file"};
	static char root[128];
	char p[256];
	if (!root[0]) {
		snprintf(p, sizeof(p), "/tmp/berth-fuzz-%s-%d", name, (int)getpid());
		mkdir(p, 0700);
		snprintf(root, sizeof(root), "%s/jail", p);
	}
	mkdir(root, 0755);
	snprintf(p, sizeof(p), "%s/dir", root);
	mkdir(p, 0755);
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", root, files[i]);
		int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd >= 0) {
			(void)!write(fd, "hello fuzzer\n", 13);
			close(fd);
		}
	}
	snprintf(p, sizeof(p), "%s/link", root);
	(void)!symlink("file", p);
	snprintf(p, sizeof(p), "%s/out", root);
	(void)!symlink("../../..", p);
	return root;
}

static void
fuzz_jail_remove(const char *root)
{
	nftw(root, fuzz_jail_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}
