/* SPDX-License-Identifier: BSD-2-Clause */
/* Unit tests for the POSIX VFS: operations and kernel-enforced confinement. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>

#include "berth/common.h"
#include "berth/vfs.h"
#include "berth/xmem.h"

struct fixture {
	char base[64];
	char *jail, *outside;
	struct vfs *v;
};

static void
write_file(const char *path, const char *content)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(content, f);
	fclose(f);
}

static int
setup(void **state)
{
	struct fixture *fx = xcalloc(1, sizeof(*fx));
	snprintf(fx->base, sizeof(fx->base), "/tmp/berth-vfs-XXXXXX");
	assert_non_null(mkdtemp(fx->base));
	fx->jail = xasprintf("%s/jail", fx->base);
	fx->outside = xasprintf("%s/outside", fx->base);
	assert_int_equal(mkdir(fx->jail, 0755), 0);
	assert_int_equal(mkdir(fx->outside, 0755), 0);
	char *p = xasprintf("%s/secret", fx->outside);
	write_file(p, "SECRET");
	free(p);
	p = xasprintf("%s/sub", fx->jail);
	assert_int_equal(mkdir(p, 0755), 0);
	free(p);
	p = xasprintf("%s/sub/in.txt", fx->jail);
	write_file(p, "inside");
	free(p);
	/* hostile links planted inside the jail */
	const char *links[][2] = {
	        {"abs_out", NULL},  {"rel_out", "../outside"}, {"root_link", "/"},
	        {"dotdot", ".."},   {"abs_in", "/sub/in.txt"}, {"proc_root", "/proc/self/root"},
	        {"dangling", NULL},
	};
	for (size_t i = 0; i < ARRAY_SIZE(links); i++) {
		char *target;
		if (strcmp(links[i][0], "abs_out") == 0)
			target = xstrdup(fx->outside);
		else if (strcmp(links[i][0], "dangling") == 0)
			target = xasprintf("%s/created_by_escape", fx->outside);
		else
			target = xstrdup(links[i][1]);
		char *lp = xasprintf("%s/%s", fx->jail, links[i][0]);
		assert_int_equal(symlink(target, lp), 0);
		free(lp);
		free(target);
	}
	assert_int_equal(vfs_posix_new(fx->jail, "/", 022, &fx->v), 0);
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *fx = *state;
	vfs_free(fx->v);
	char *cmd = xasprintf("rm -rf '%s'", fx->base);
	assert_int_equal(system(cmd), 0);
	free(cmd);
	free(fx->jail);
	free(fx->outside);
	free(fx);
	return 0;
}

static void
read_all(struct vfs *v, const char *path, char *buf, size_t len)
{
	struct vfs_file *f;
	assert_int_equal(vfs_open(v, path, VFS_O_READ, 0, &f), 0);
	size_t n = 0;
	assert_int_equal(vfs_pread(f, buf, len - 1, 0, &n), 0);
	buf[n] = '\0';
	assert_int_equal(vfs_close(f), 0);
}

static void
test_basic_ops(void **state)
{
	struct fixture *fx = *state;
	struct vfs *v = fx->v;
	char buf[64];
	read_all(v, "/sub/in.txt", buf, sizeof(buf));
	assert_string_equal(buf, "inside");
	assert_int_equal(vfs_mkdir(v, "newdir", 0777), 0);
	struct vfs_attr a;
	assert_int_equal(vfs_stat(v, "/newdir", true, &a), 0);
	assert_true(S_ISDIR(a.mode));
	assert_int_equal(a.mode & 0777, 0755); /* umask 022 applied */
	struct vfs_file *f;
	assert_int_equal(vfs_open(v, "newdir/f", VFS_O_WRITE | VFS_O_CREAT | VFS_O_EXCL, 0600, &f),
	                 0);
	size_t n;
	assert_int_equal(vfs_pwrite(f, "data", 4, 0, &n), 0);
	assert_int_equal(vfs_close(f), 0);
	assert_int_equal(vfs_open(v, "newdir/f", VFS_O_WRITE | VFS_O_CREAT | VFS_O_EXCL, 0600, &f),
	                 -EEXIST);
	/* non-overwriting rename */
	assert_int_equal(vfs_open(v, "newdir/g", VFS_O_WRITE | VFS_O_CREAT, 0600, &f), 0);
	assert_int_equal(vfs_close(f), 0);
	assert_int_equal(vfs_rename(v, "newdir/f", "newdir/g", VFS_RENAME_NOREPLACE), -EEXIST);
	assert_int_equal(vfs_rename(v, "newdir/f", "newdir/g", 0), 0);
	assert_int_equal(vfs_stat(v, "newdir/f", false, &a), -ENOENT);
	assert_int_equal(vfs_symlink(v, "g", "newdir/l"), 0);
	char *target;
	assert_int_equal(vfs_readlink(v, "newdir/l", &target), 0);
	assert_string_equal(target, "g");
	free(target);
	assert_int_equal(vfs_stat(v, "newdir/l", false, &a), 0);
	assert_true(S_ISLNK(a.mode));
	assert_int_equal(vfs_stat(v, "newdir/l", true, &a), 0);
	assert_int_equal(a.size, 4);
	assert_int_equal(vfs_rmdir(v, "newdir"), -ENOTEMPTY);
	assert_int_equal(vfs_remove(v, "newdir/l"), 0);
	assert_int_equal(vfs_remove(v, "newdir/g"), 0);
	assert_int_equal(vfs_rmdir(v, "newdir"), 0);
	char *rp;
	assert_int_equal(vfs_realpath(v, "sub/../sub/./in.txt", &rp), 0);
	assert_string_equal(rp, "/sub/in.txt");
	free(rp);
	assert_int_equal(vfs_realpath(v, "sub/missing", &rp), 0);
	assert_string_equal(rp, "/sub/missing");
	free(rp);
	assert_int_equal(vfs_chdir(v, "sub"), 0);
	assert_int_equal(vfs_realpath(v, ".", &rp), 0);
	assert_string_equal(rp, "/sub");
	free(rp);
	assert_int_equal(vfs_chdir(v, "/"), 0);
}

static void
test_escapes_confined(void **state)
{
	struct fixture *fx = *state;
	struct vfs *v = fx->v;
	struct vfs_attr a;
	struct vfs_file *f;
	char *rp;
	/* ".." at the root stays at the root */
	assert_int_equal(vfs_realpath(v, "../../..", &rp), 0);
	assert_string_equal(rp, "/");
	free(rp);
	assert_int_equal(vfs_stat(v, "../outside/secret", true, &a), -ENOENT);
	assert_int_equal(vfs_stat(v, "/../../outside/secret", true, &a), -ENOENT);
	assert_int_equal(vfs_stat(v, "sub/../../outside/secret", true, &a), -ENOENT);
	/* absolute and relative symlinks pointing out resolve inside the jail */
	assert_int_equal(vfs_open(v, "abs_out/secret", VFS_O_READ, 0, &f), -ENOENT);
	assert_int_equal(vfs_open(v, "rel_out/secret", VFS_O_READ, 0, &f), -ENOENT);
	assert_int_equal(vfs_stat(v, "root_link/sub/in.txt", true, &a), 0);
	assert_int_equal(vfs_stat(v, "dotdot/dotdot/sub/in.txt", true, &a), 0);
	assert_int_equal(vfs_realpath(v, "dotdot/dotdot/sub", &rp), 0);
	assert_string_equal(rp, "/sub");
	free(rp);
	/* in-jail absolute link works */
	char buf[64];
	read_all(v, "abs_in", buf, sizeof(buf));
	assert_string_equal(buf, "inside");
	/* magic links refused */
	assert_int_equal(vfs_stat(v, "proc_root/etc/passwd", true, &a), -ENOENT);
	assert_true(vfs_stat(v, "/proc/self/root/etc/passwd", true, &a) < 0);
	/* creating through a dangling link must not create outside */
	int r = vfs_open(v, "dangling", VFS_O_WRITE | VFS_O_CREAT, 0644, &f);
	if (r == 0)
		assert_int_equal(vfs_close(f), 0);
	char *escaped = xasprintf("%s/created_by_escape", fx->outside);
	assert_int_equal(access(escaped, F_OK), -1);
	free(escaped);
	/* attribute changes through a link to the outside stay inside */
	struct vfs_attr mode = {.valid = VFS_ATTR_PERM, .mode = 0777};
	assert_true(vfs_setattr(v, "abs_out/secret", true, &mode) < 0);
	char *secret = xasprintf("%s/secret", fx->outside);
	struct stat st;
	assert_int_equal(stat(secret, &st), 0);
	assert_int_not_equal(st.st_mode & 0777, 0777);
	free(secret);
	/* rename and link targets outside are impossible */
	assert_true(vfs_rename(v, "sub/in.txt", "../escaped", 0) == 0);
	char *out = xasprintf("%s/escaped", fx->base);
	assert_int_equal(access(out, F_OK), -1);
	free(out);
	assert_int_equal(vfs_rename(v, "/escaped", "/sub/in.txt", 0), 0);
	/* lstat/remove/readlink never follow the final link */
	assert_int_equal(vfs_stat(v, "abs_out", false, &a), 0);
	assert_true(S_ISLNK(a.mode));
	assert_int_equal(vfs_remove(v, "rel_out"), 0);
	char *outdir = xasprintf("%s", fx->outside);
	assert_int_equal(access(outdir, F_OK), 0);
	free(outdir);
}

static void
test_special_files_refused(void **state)
{
	struct fixture *fx = *state;
	char *fifo = xasprintf("%s/fifo", fx->jail);
	assert_int_equal(mkfifo(fifo, 0644), 0);
	free(fifo);
	struct vfs_file *f;
	assert_int_equal(vfs_open(fx->v, "fifo", VFS_O_READ, 0, &f), -EPERM);
	assert_int_equal(vfs_open(fx->v, "fifo", VFS_O_WRITE, 0, &f), -EPERM);
	assert_int_equal(vfs_open(fx->v, "sub", VFS_O_READ, 0, &f), -EISDIR);
	/* a device reached through a link inside the jail */
	char *dev = xasprintf("%s/null", fx->jail);
	assert_int_equal(symlink("/dev/null", dev), 0);
	free(dev);
	/* /dev/null does not exist inside the jail, so this is ENOENT, not the device */
	assert_int_equal(vfs_open(fx->v, "null", VFS_O_READ, 0, &f), -ENOENT);
}

/* The drop-in without a jail: devices and FIFOs open as the user's permissions allow,
 * and no open waits for a FIFO's peer. */
static void
test_special_files_allowed(void **state)
{
	struct fixture *fx = *state;
	struct vfs *root;
	assert_int_equal(vfs_posix_new("/", "/", 0, &root), 0);
	assert_int_equal(vfs_posix_set_special_files(root, true), 0);
	struct vfs_file *f;
	uint8_t buf[4096];
	size_t n;
	assert_int_equal(vfs_open(root, "/dev/zero", VFS_O_READ, 0, &f), 0);
	memset(buf, 1, sizeof(buf));
	assert_int_equal(vfs_pread(f, buf, sizeof(buf), 1 << 20, &n), 0);
	assert_int_equal(n, sizeof(buf));
	assert_int_equal(buf[0] | buf[4095], 0);
	assert_int_equal(vfs_close(f), 0);
	assert_int_equal(
	        vfs_open(root, "/dev/null", VFS_O_WRITE | VFS_O_CREAT | VFS_O_TRUNC, 0644, &f), 0);
	assert_int_equal(vfs_pwrite(f, buf, 100, 0, &n), 0);
	assert_int_equal(n, 100);
	assert_int_equal(vfs_close(f), 0);

	char *fifo = xasprintf("%s/sub/fifo", fx->jail);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	char *client = xasprintf("%s/sub/fifo", fx->jail);
	/* no reader: a write open fails at once instead of waiting */
	assert_int_equal(vfs_open(root, client, VFS_O_WRITE, 0, &f), -ENXIO);
	/* no writer: a read open succeeds at once and reads end of file */
	assert_int_equal(vfs_open(root, client, VFS_O_READ, 0, &f), 0);
	assert_int_equal(vfs_pread(f, buf, sizeof(buf), 0, &n), 0);
	assert_int_equal(n, 0);
	/* with a writer: data in sequence, whatever offset the client names */
	int w = open(fifo, O_WRONLY | O_NONBLOCK);
	assert_true(w >= 0);
	assert_int_equal(write(w, "loader", 6), 6);
	assert_int_equal(vfs_pread(f, buf, 3, 12345, &n), 0);
	assert_int_equal(n, 3);
	assert_memory_equal(buf, "loa", 3);
	assert_int_equal(vfs_pread(f, buf, sizeof(buf), 3, &n), 0);
	assert_int_equal(n, 3);
	assert_memory_equal(buf, "der", 3);
	close(w);
	assert_int_equal(vfs_pread(f, buf, sizeof(buf), 6, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(vfs_close(f), 0);
	/* with a reader, a write open works and writes in sequence */
	int rd = open(fifo, O_RDONLY | O_NONBLOCK);
	assert_true(rd >= 0);
	assert_int_equal(vfs_open(root, client, VFS_O_WRITE, 0, &f), 0);
	assert_int_equal(vfs_pwrite(f, "to-reader", 9, 777, &n), 0);
	assert_int_equal(vfs_close(f), 0);
	assert_int_equal(read(rd, buf, sizeof(buf)), 9);
	assert_memory_equal(buf, "to-reader", 9);
	close(rd);
	free(client);
	free(fifo);
	vfs_free(root);
	/* the option is the POSIX backend's own; the jailed vfs still refuses */
	assert_int_equal(vfs_open(fx->v, "sub/fifo", VFS_O_READ, 0, &f), -EPERM);
}

static void
test_readdir_and_copy(void **state)
{
	struct fixture *fx = *state;
	struct vfs_dir *d;
	assert_int_equal(vfs_opendir(fx->v, "/sub", &d), 0);
	const char *name;
	struct vfs_attr a;
	int seen = 0, r;
	while ((r = vfs_readdir(d, &name, &a)) == 0)
		if (strcmp(name, "in.txt") == 0)
			seen++;
	assert_int_equal(r, 1);
	assert_int_equal(seen, 1);
	assert_int_equal(vfs_closedir(d), 0);

	struct vfs_file *src, *dst;
	assert_int_equal(vfs_open(fx->v, "sub/in.txt", VFS_O_READ, 0, &src), 0);
	assert_int_equal(vfs_open(fx->v, "copy", VFS_O_WRITE | VFS_O_CREAT, 0644, &dst), 0);
	uint64_t copied;
	assert_int_equal(vfs_copy(src, 0, 0, dst, 0, &copied), 0);
	assert_int_equal(copied, 6);
	assert_int_equal(vfs_copy(src, 2, 100, dst, 10, &copied), 0);
	assert_int_equal(copied, 4);
	vfs_close(src);
	vfs_close(dst);
	assert_int_equal(vfs_stat(fx->v, "copy", true, &a), 0);
	assert_int_equal(a.size, 14);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_basic_ops, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_escapes_confined, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_special_files_refused, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_special_files_allowed, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_readdir_and_copy, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
