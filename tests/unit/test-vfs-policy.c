/* SPDX-License-Identifier: BSD-2-Clause */
/* Unit tests for the policy layer (vfs_policy) over a real POSIX jail: permissions on
 * every operation, links and renames around restricted directories, ReadOnly, setstat
 * modes, quotas shared between two sessions, atomic uploads, ranges, checksums. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "berth/buf.h"
#include "berth/common.h"
#include "berth/hash.h"
#include "berth/policy.h"
#include "berth/policy_state.h"
#include "berth/vfs.h"
#include "berth/vfs_policy.h"
#include "berth/xmem.h"

struct fx {
	char base[64];
	char *jail, *state;
	struct policy *pol;
	struct vfs *v;
};

static char *
jpath(struct fx *fx, const char *rel)
{
	return xasprintf("%s/%s", fx->jail, rel);
}

static void
put_file(struct fx *fx, const char *rel, const char *content)
{
	_cleanup_free_ char *p = jpath(fx, rel);
	FILE *f = fopen(p, "w");
	assert_non_null(f);
	fputs(content, f);
	fclose(f);
}

static bool
exists(struct fx *fx, const char *rel)
{
	_cleanup_free_ char *p = jpath(fx, rel);
	struct stat st;
	return lstat(p, &st) == 0;
}

static size_t
count_entries(struct fx *fx, const char *rel)
{
	_cleanup_free_ char *p = jpath(fx, rel);
	DIR *d = opendir(p);
	assert_non_null(d);
	size_t n = 0;
	for (struct dirent *de; (de = readdir(d));)
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

static struct policy *
build(const char *const *lines)
{
	struct policy *p = policy_new();
	for (unsigned i = 0; lines && lines[i]; i++) {
		char kw[64];
		size_t n = strcspn(lines[i], " ");
		memcpy(kw, lines[i], n);
		kw[n] = '\0';
		const char *err;
		assert_int_equal(policy_set_keyword(p, kw, lines[i] + n + 1, "accts", i + 1, &err),
		                 0);
	}
	return p;
}

/* A session on the jail with @lines as its policy; @state_fd as for the config. */
static struct vfs *
session(struct fx *fx, int state_fd, bool no_tmpfile)
{
	struct vfs *inner, *v;
	assert_int_equal(vfs_posix_new(fx->jail, "/", 0, &inner), 0);
	struct vfs_policy_config cfg = {
	        .policy = fx->pol, .state_fd = state_fd, .no_tmpfile = no_tmpfile};
	assert_int_equal(vfs_policy_wrap(inner, &cfg, &v), 0);
	return v;
}

static struct fx *
fx_new(const char *const *lines)
{
	struct fx *fx = xcalloc(1, sizeof(*fx));
	snprintf(fx->base, sizeof(fx->base), "/tmp/berth-vpol-XXXXXX");
	assert_non_null(mkdtemp(fx->base));
	fx->jail = xasprintf("%s/jail", fx->base);
	fx->state = xasprintf("%s/state", fx->base);
	assert_int_equal(mkdir(fx->jail, 0755), 0);
	assert_int_equal(mkdir(fx->state, 0700), 0);
	static const char *const dirs[] = {"in", "in/sub", "out", "pub", "work", "ro"};
	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
		_cleanup_free_ char *p = jpath(fx, dirs[i]);
		assert_int_equal(mkdir(p, 0755), 0);
	}
	put_file(fx, "in/secret.csv", "partner A's data");
	put_file(fx, "out/report.pdf", "report");
	put_file(fx, "ro/fixed.txt", "fixed");
	put_file(fx, "readme", "hello");
	fx->pol = build(lines);
	return fx;
}

static void
fx_free(struct fx *fx)
{
	vfs_free(fx->v);
	policy_free(fx->pol);
	_cleanup_free_ char *cmd = xasprintf("rm -rf %s", fx->base);
	assert_int_equal(system(cmd), 0);
	free(fx->jail);
	free(fx->state);
	free(fx);
}

static int
write_all(struct vfs *v, const char *path, unsigned flags, const char *data)
{
	struct vfs_file *f;
	int r = vfs_open(v, path, flags, 0644, &f);
	if (r < 0)
		return r;
	size_t n;
	r = vfs_pwrite(f, data, strlen(data), 0, &n);
	int c = vfs_close(f);
	return r < 0 ? r : c;
}

#define W (VFS_O_WRITE | VFS_O_CREAT | VFS_O_TRUNC)

static const char *const partner[] = {
        "Permissions / full",
        "Permissions /in upload-only",
        "Permissions /out list,download,delete",
        "Permissions /ro read-only",
        "Permissions /pub list,download,upload,overwrite",
        "Filter /in *.csv,!*.exe",
        NULL,
};

static void
test_drop_box(void **state)
{
	struct fx *fx = fx_new(partner);
	struct vfs *v = fx->v = session(fx, -1, false);
	struct vfs_file *f;
	struct vfs_dir *d;
	struct vfs_attr a;
	/* Upload a new file: yes; everything else in the drop box: no. */
	assert_int_equal(write_all(v, "/in/new.csv", W, "x"), 0);
	assert_true(exists(fx, "in/new.csv"));
	assert_int_equal(write_all(v, "/in/new.csv", W, "y"), -EACCES);   /* overwrite */
	assert_int_equal(write_all(v, "/in/evil.exe", W, "y"), -EACCES);  /* filter */
	assert_int_equal(write_all(v, "/in/notes.txt", W, "y"), -EACCES); /* not *.csv */
	assert_int_equal(vfs_open(v, "/in/secret.csv", VFS_O_READ, 0, &f), -EACCES);
	assert_int_equal(vfs_open(v, "/in/secret.csv", VFS_O_READ | VFS_O_WRITE, 0, &f), -EACCES);
	assert_int_equal(vfs_open(v, "/in/secret.csv", VFS_O_WRITE | VFS_O_APPEND, 0, &f), -EACCES);
	assert_int_equal(vfs_opendir(v, "/in", &d), -EACCES);
	assert_int_equal(vfs_opendir(v, "/in/sub", &d), -EACCES);
	assert_int_equal(vfs_stat(v, "/in/secret.csv", true, &a), -EACCES);
	assert_int_equal(vfs_stat(v, "/in/secret.csv", false, &a), -EACCES);
	assert_int_equal(vfs_remove(v, "/in/secret.csv"), -EACCES);
	assert_int_equal(vfs_rename(v, "/in/secret.csv", "/stolen", 0), -EACCES);
	assert_int_equal(vfs_mkdir(v, "/in/d", 0755), -EACCES);
	assert_int_equal(vfs_symlink(v, "/in/secret.csv", "/in/l.csv"), -EACCES);
	struct vfs_attr mode = {.valid = VFS_ATTR_PERM, .mode = 0600};
	assert_int_equal(vfs_setattr(v, "/in/secret.csv", true, &mode), -EACCES);
	struct vfs_attr trunc = {.valid = VFS_ATTR_SIZE, .size = 0};
	assert_int_equal(vfs_setattr(v, "/in/secret.csv", true, &trunc), -EACCES);
	assert_true(exists(fx, "in/secret.csv"));
	/* The handle that created a file may size it and set its mode and times (scp's
	 * sink, sftp put -p): that is part of the upload. */
	size_t n;
	assert_int_equal(vfs_open(v, "/in/scp.csv", VFS_O_WRITE | VFS_O_CREAT, 0644, &f), 0);
	assert_int_equal(vfs_pwrite(f, "abc", 3, 0, &n), 0);
	struct vfs_attr sz = {.valid = VFS_ATTR_SIZE, .size = 3};
	assert_int_equal(vfs_fsetattr(f, &sz), 0);
	assert_int_equal(vfs_fsetattr(f, &mode), 0);
	assert_int_equal(vfs_close(f), 0);
	assert_int_equal(vfs_open(v, "/in/scp.csv", VFS_O_WRITE, 0644, &f), -EACCES);
	/* The drop box itself is an entry of "/": it can be listed from there. */
	assert_int_equal(vfs_stat(v, "/in", true, &a), 0);

	/* Read-only and partly writable directories. */
	assert_int_equal(write_all(v, "/ro/x", W, "x"), -EACCES);
	assert_int_equal(vfs_open(v, "/ro/fixed.txt", VFS_O_READ, 0, &f), 0);
	assert_int_equal(vfs_close(f), 0);
	assert_int_equal(write_all(v, "/out/x", W, "x"), -EACCES);
	assert_int_equal(vfs_remove(v, "/out/report.pdf"), 0);
	assert_int_equal(write_all(v, "/pub/a", W, "1"), 0);
	assert_int_equal(write_all(v, "/pub/a", W, "2"), 0);
	assert_int_equal(vfs_remove(v, "/pub/a"), -EACCES);
	fx_free(fx);
}

static void
test_links_and_renames(void **state)
{
	struct fx *fx = fx_new(partner);
	struct vfs *v = fx->v = session(fx, -1, false);
	struct vfs_file *f;
	/* A symlink where everything is allowed does not open the drop box. */
	assert_int_equal(vfs_symlink(v, "/in/secret.csv", "/work/l1"), 0);
	assert_int_equal(vfs_symlink(v, "../in", "/work/indir"), 0);
	assert_int_equal(vfs_open(v, "/work/l1", VFS_O_READ, 0, &f), -EACCES);
	assert_int_equal(vfs_open(v, "/work/indir/secret.csv", VFS_O_READ, 0, &f), -EACCES);
	struct vfs_dir *d;
	assert_int_equal(vfs_opendir(v, "/work/indir", &d), -EACCES);
	assert_int_equal(write_all(v, "/work/indir/secret.csv", W, "overwrite"), -EACCES);
	assert_int_equal(write_all(v, "/work/indir/x.exe", W, "x"), -EACCES); /* filter */
	/* Hard links out of a no-download directory, or into a stricter one. */
	assert_int_equal(vfs_link(v, "/in/secret.csv", "/work/copy.csv"), -EACCES);
	assert_int_equal(vfs_link(v, "/ro/fixed.txt", "/work/fixed.txt"), -EACCES);
	assert_int_equal(vfs_link(v, "/readme", "/ro/readme"), -EACCES);
	assert_int_equal(vfs_link(v, "/readme", "/work/readme2"), 0);
	/* Renames: out of the drop box, into read-only, moving a ruled directory. */
	assert_int_equal(vfs_rename(v, "/in/secret.csv", "/work/s.csv", 0), -EACCES);
	assert_int_equal(vfs_rename(v, "/readme", "/ro/readme", 0), -EACCES);
	assert_int_equal(vfs_rename(v, "/in", "/open", 0), -EACCES);
	assert_int_equal(vfs_rename(v, "/work", "/in", 0), -EACCES);
	assert_int_equal(vfs_rename(v, "/readme", "/in/readme.csv", 0), 0);
	assert_true(exists(fx, "in/readme.csv"));
	assert_int_equal(vfs_rename(v, "/work/readme2", "/in/readme.csv", 0), -EACCES);
	/* A handle follows its file: renamed into the drop box, the attributes of a file it
	 * did not create are the drop box's to decide. */
	struct vfs_file *h;
	size_t hn;
	assert_int_equal(write_all(v, "/work/moving.csv", W, "x"), 0);
	assert_int_equal(vfs_open(v, "/work/moving.csv", VFS_O_WRITE, 0644, &h), 0);
	assert_int_equal(vfs_pwrite(h, "y", 1, 0, &hn), 0);
	struct vfs_attr perm = {.valid = VFS_ATTR_PERM, .mode = 0600};
	assert_int_equal(vfs_fsetattr(h, &perm), 0);
	assert_int_equal(vfs_rename(v, "/work/moving.csv", "/in/moving.csv", 0), 0);
	assert_int_equal(vfs_fsetattr(h, &perm), -EACCES);
	assert_int_equal(vfs_close(h), 0);
	/* A link made outside the session is resolved first, then decided on where it
	 * leads: an upload through it into the drop box is an upload into the drop box. */
	_cleanup_free_ char *swap = jpath(fx, "work/swap");
	assert_int_equal(symlink("/in", swap), 0);
	assert_int_equal(write_all(v, "/work/swap/x.csv", VFS_O_WRITE | VFS_O_CREAT, "x"), 0);
	assert_true(exists(fx, "in/x.csv"));
	assert_int_equal(write_all(v, "/work/swap/x.csv", W, "again"), -EACCES);
	fx_free(fx);
}

static void
test_read_only_and_setstat(void **state)
{
	static const char *const ro[] = {"ReadOnly yes", NULL};
	struct fx *fx = fx_new(ro);
	struct vfs *v = fx->v = session(fx, -1, false);
	struct vfs_file *f;
	assert_int_equal(write_all(v, "/new", W, "x"), -EACCES);
	assert_int_equal(vfs_open(v, "/readme", VFS_O_WRITE, 0, &f), -EACCES);
	assert_int_equal(vfs_open(v, "/readme", VFS_O_READ | VFS_O_CREAT, 0, &f), -EACCES);
	assert_int_equal(vfs_remove(v, "/readme"), -EACCES);
	assert_int_equal(vfs_mkdir(v, "/d", 0755), -EACCES);
	assert_int_equal(vfs_rmdir(v, "/pub"), -EACCES);
	assert_int_equal(vfs_rename(v, "/readme", "/r2", 0), -EACCES);
	assert_int_equal(vfs_link(v, "/readme", "/r2"), -EACCES);
	assert_int_equal(vfs_symlink(v, "/readme", "/r2"), -EACCES);
	/* A handle opened for reading cannot change attributes either. */
	assert_int_equal(vfs_open(v, "/readme", VFS_O_READ, 0, &f), 0);
	struct vfs_attr mode = {.valid = VFS_ATTR_PERM, .mode = 0600};
	assert_int_equal(vfs_fsetattr(f, &mode), -EACCES);
	assert_int_equal(vfs_close(f), 0);
	vfs_free(v);
	policy_free(fx->pol);

	static const char *const ign[] = {"SetstatMode ignore", NULL};
	fx->pol = build(ign);
	v = fx->v = session(fx, -1, false);
	assert_int_equal(vfs_setattr(v, "/readme", true, &mode), 0);
	struct stat st;
	_cleanup_free_ char *rp = jpath(fx, "readme");
	assert_int_equal(stat(rp, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0644); /* unchanged */
	vfs_free(v);
	policy_free(fx->pol);

	static const char *const ref[] = {"SetstatMode refuse", NULL};
	fx->pol = build(ref);
	v = fx->v = session(fx, -1, false);
	assert_int_equal(vfs_open(v, "/readme", VFS_O_READ, 0, &f), 0);
	assert_int_equal(vfs_fsetattr(f, &mode), -EACCES);
	assert_int_equal(vfs_close(f), 0);
	assert_int_equal(vfs_setattr(v, "/readme", false, &mode), -EACCES);
	fx_free(fx);
}

static void
test_reserved_names(void **state)
{
	struct fx *fx = fx_new(NULL);
	struct vfs *v = fx->v = session(fx, -1, false);
	put_file(fx, ".berth-resume.abc", "partial");
	struct vfs_file *f;
	struct vfs_attr a;
	assert_int_equal(vfs_open(v, "/.berth-resume.abc", VFS_O_READ, 0, &f), -EACCES);
	assert_int_equal(vfs_stat(v, "/.berth-resume.abc", false, &a), -ENOENT);
	assert_int_equal(write_all(v, "/.berth-x", W, "x"), -EACCES);
	assert_int_equal(vfs_remove(v, "/.berth-resume.abc"), -EACCES);
	struct vfs_dir *d;
	assert_int_equal(vfs_opendir(v, "/", &d), 0);
	const char *name;
	while (vfs_readdir(d, &name, &a) == 0)
		assert_false(policy_reserved_name(name));
	vfs_closedir(d);
	fx_free(fx);
}

static void
test_quota(void **state)
{
	static const char *const q[] = {"QuotaSize 10K", "QuotaFiles 4", "MaxFileSize 6K", NULL};
	struct fx *fx = fx_new(q);
	int fd;
	assert_int_equal(policy_state_open(fx->state, "acme", &fd), 0);
	int fd2 = dup(fd);
	/* Usage found by the first session's scan: 4 files, 5+6+5+6 bytes... */
	struct vfs *a = fx->v = session(fx, fd, false);
	/* A second session of the same account shares the counters. */
	int fd3;
	assert_int_equal(policy_state_open(fx->state, "acme", &fd3), 0);
	close(fd2);
	struct vfs *b = session(fx, fd3, false);
	struct vfs_statvfs s;
	assert_int_equal(vfs_statvfs(a, "/", &s), 0);
	assert_true(s.blocks * s.frsize <= 10240 && s.blocks * s.frsize > 10240 - s.frsize);
	assert_true(s.files == 4 && s.ffree == 0);
	/* Files quota reached: a new file is refused, overwriting one is fine. */
	assert_int_equal(write_all(b, "/work/n", W, "x"), -EDQUOT);
	assert_int_equal(write_all(b, "/readme", W, "bye"), 0);
	assert_int_equal(vfs_remove(a, "/in/secret.csv"), 0);
	/* Now 3 files, 3+6+5 = 14 bytes used: 10226 left. */
	char *big = xmalloc(8192);
	memset(big, 'q', 8191);
	big[8191] = '\0';
	struct vfs_file *f;
	size_t n;
	assert_int_equal(vfs_open(a, "/work/big", W, 0644, &f), 0);
	assert_int_equal(vfs_pwrite(f, big, 4096, 0, &n), 0);
	assert_int_equal(vfs_pwrite(f, big, 4096, 4096, &n), -EDQUOT); /* MaxFileSize 6K */
	assert_int_equal(vfs_pwrite(f, big, 2048, 4096, &n), 0);
	assert_int_equal(vfs_close(f), 0);
	/* The other session sees the usage: 14 + 6144 bytes, 4 files. */
	assert_int_equal(write_all(b, "/work/n2", W, "x"), -EDQUOT);
	assert_int_equal(vfs_open(b, "/readme", VFS_O_WRITE, 0644, &f), 0);
	assert_int_equal(vfs_pwrite(f, big, 4000, 0, &n), 0);  /* 6158 + 3997 */
	assert_int_equal(vfs_pwrite(f, big, 85, 4000, &n), 0); /* exactly 10240 */
	assert_int_equal(vfs_pwrite(f, big, 1, 4085, &n), -EDQUOT);
	assert_int_equal(vfs_close(f), 0);
	/* Truncating gives space back. */
	struct vfs_attr t = {.valid = VFS_ATTR_SIZE, .size = 0};
	assert_int_equal(vfs_setattr(a, "/work/big", true, &t), 0);
	assert_int_equal(vfs_open(b, "/readme", VFS_O_WRITE, 0644, &f), 0);
	assert_int_equal(vfs_pwrite(f, big, 2000, 4085, &n), 0);
	assert_int_equal(vfs_close(f), 0);
	/* Removing frees a file slot; a fresh session rescans nothing (usage kept). */
	assert_int_equal(vfs_remove(b, "/work/big"), 0);
	assert_int_equal(write_all(a, "/work/n3", W, "x"), 0);
	vfs_free(b);
	int fd4;
	assert_int_equal(policy_state_open(fx->state, "acme", &fd4), 0);
	b = session(fx, fd4, false);
	assert_int_equal(vfs_statvfs(b, "/", &s), 0);
	assert_true(s.ffree == 0);
	vfs_free(b);
	free(big);
	fx_free(fx);
}

static void
sha256_hex(const char *data, size_t len, char out[65])
{
	struct berth_hash *h = berth_hash_new(BERTH_HASH_SHA256);
	uint8_t md[BERTH_HASH_MAX];
	berth_hash_update(h, data, len);
	berth_hex(md, berth_hash_final(h, md), out);
	berth_hash_free(h);
}

static void
atomic_mode(bool no_tmpfile)
{
	static const char *const at[] = {"UploadMode atomic", "QuotaSize 1M", NULL};
	struct fx *fx = fx_new(at);
	int fd;
	assert_int_equal(policy_state_open(fx->state, "acme", &fd), 0);
	struct vfs *v = fx->v = session(fx, fd, no_tmpfile);
	/* A hidden temporary file of a session that died: swept by the next upload there. */
	int dead = 4000000;
	char *stale = NULL;
	if (no_tmpfile) {
		for (;; dead--) {
			_cleanup_free_ char *proc = xasprintf("/proc/%d", dead);
			if (access(proc, F_OK) != 0)
				break;
		}
		stale = xasprintf("work/.berth-upload.%d-0123456789abcdef", dead);
		put_file(fx, stale, "left over");
	}
	size_t before = count_entries(fx, "work") - (stale ? 1 : 0);
	struct vfs_file *f;
	size_t n;
	struct vfs_close_report rep;
	/* In order: invisible until the close, then published with its checksum. */
	assert_int_equal(vfs_open(v, "/work/a.bin", W, 0644, &f), 0);
	assert_int_equal(vfs_pwrite(f, "hello ", 6, 0, &n), 0);
	assert_int_equal(vfs_pwrite(f, "world", 5, 6, &n), 0);
	assert_false(exists(fx, "work/a.bin"));
	if (stale)
		assert_false(exists(fx, stale));
	free(stale);
	struct vfs_dir *d;
	struct vfs_attr a;
	const char *name;
	assert_int_equal(vfs_opendir(v, "/work", &d), 0);
	while (vfs_readdir(d, &name, &a) == 0)
		assert_string_not_equal(name, "a.bin");
	vfs_closedir(d);
	assert_int_equal(vfs_close_ex(f, 0, &rep), 0);
	assert_true(rep.upload && rep.published && rep.have_sha256);
	char want[65];
	sha256_hex("hello world", 11, want);
	assert_string_equal(rep.sha256, want);
	assert_true(exists(fx, "work/a.bin"));
	assert_int_equal(count_entries(fx, "work"), before + 1);

	/* Out of order with a hole: not published, nothing left behind. */
	assert_int_equal(vfs_open(v, "/work/hole.bin", W, 0644, &f), 0);
	assert_int_equal(vfs_pwrite(f, "world", 5, 6, &n), 0);
	assert_int_equal(vfs_pwrite(f, "hel", 3, 0, &n), 0);
	assert_int_equal(vfs_close_ex(f, 0, &rep), 0);
	assert_false(rep.published);
	assert_string_equal(rep.reason, "bytes 3-5 were never written");
	assert_false(exists(fx, "work/hole.bin"));
	assert_int_equal(count_entries(fx, "work"), before + 1);

	/* Out of order without a hole: published, checksum read back. */
	assert_int_equal(vfs_open(v, "/work/ooo.bin", W, 0644, &f), 0);
	assert_int_equal(vfs_pwrite(f, "world", 5, 6, &n), 0);
	assert_int_equal(vfs_pwrite(f, "hello ", 6, 0, &n), 0);
	assert_int_equal(vfs_close_ex(f, 0, &rep), 0);
	assert_true(rep.published);
	assert_string_equal(rep.sha256, want);

	/* Interrupted (session end): the old content stays, nothing else appears. */
	assert_int_equal(vfs_open(v, "/work/a.bin", W, 0644, &f), 0);
	assert_int_equal(vfs_pwrite(f, "NEW", 3, 0, &n), 0);
	assert_int_equal(vfs_close_ex(f, VFS_CLOSE_ABORT, &rep), 0);
	assert_false(rep.published);
	assert_int_equal(count_entries(fx, "work"), before + 2);
	struct vfs_file *r;
	char buf[32] = "";
	assert_int_equal(vfs_open(v, "/work/a.bin", VFS_O_READ, 0, &r), 0);
	assert_int_equal(vfs_pread(r, buf, sizeof(buf) - 1, 0, &n), 0);
	assert_string_equal(buf, "hello world");
	vfs_close(r);

	/* Appending to an existing file starts from its content. */
	assert_int_equal(vfs_open(v, "/work/a.bin", VFS_O_WRITE | VFS_O_APPEND, 0644, &f), 0);
	assert_int_equal(vfs_pwrite(f, "!", 1, 0, &n), 0);
	assert_int_equal(vfs_close_ex(f, 0, &rep), 0);
	assert_true(rep.published);
	sha256_hex("hello world!", 12, want);
	assert_string_equal(rep.sha256, want);

	/* Usage: a.bin 12 + ooo.bin 11 + readme 5 + secret 16 + report 6 + fixed 5. */
	struct vfs_statvfs s;
	assert_int_equal(vfs_statvfs(v, "/", &s), 0);
	uint64_t used = 1048576 - s.bfree * s.frsize;
	assert_true(used < s.frsize + 55);
	fx_free(fx);
}

static void
test_atomic(void **state)
{
	atomic_mode(false);
}

static void
test_atomic_named(void **state)
{
	atomic_mode(true);
}

static void
test_atomic_resume(void **state)
{
	static const char *const at[] = {"UploadMode atomic-resume", NULL};
	struct fx *fx = fx_new(at);
	struct vfs *v = fx->v = session(fx, -1, false);
	struct vfs_file *f;
	size_t n;
	struct vfs_close_report rep;
	assert_int_equal(vfs_open(v, "/work/r.bin", W, 0644, &f), 0);
	assert_int_equal(vfs_pwrite(f, "first ", 6, 0, &n), 0);
	assert_int_equal(vfs_close_ex(f, VFS_CLOSE_ABORT, &rep), 0);
	assert_false(rep.published);
	assert_false(exists(fx, "work/r.bin"));
	/* The partial answers for its target (reput asks for the size first). */
	struct vfs_attr a;
	assert_int_equal(vfs_stat(v, "/work/r.bin", true, &a), 0);
	assert_true(a.size == 6);
	/* Resume without truncation and complete. */
	assert_int_equal(vfs_open(v, "/work/r.bin", VFS_O_WRITE | VFS_O_CREAT, 0644, &f), 0);
	assert_int_equal(vfs_pwrite(f, "second", 6, 6, &n), 0);
	assert_int_equal(vfs_close_ex(f, 0, &rep), 0);
	assert_true(rep.published);
	char want[65];
	sha256_hex("first second", 12, want);
	assert_string_equal(rep.sha256, want);
	assert_int_equal(count_entries(fx, "work"), 1); /* no partial left */
	fx_free(fx);
}

static void
test_direct_checksum_and_scan(void **state)
{
	struct fx *fx = fx_new(NULL);
	struct vfs *v = fx->v = session(fx, -1, false);
	struct vfs_file *f;
	size_t n;
	struct vfs_close_report rep;
	assert_int_equal(vfs_open(v, "/work/d.bin", W, 0644, &f), 0);
	assert_int_equal(vfs_pwrite(f, "abc", 3, 3, &n), 0);
	assert_int_equal(vfs_pwrite(f, "xyz", 3, 0, &n), 0);
	assert_int_equal(vfs_close_ex(f, 0, &rep), 0);
	char want[65];
	sha256_hex("xyzabc", 6, want);
	assert_true(rep.published && rep.have_sha256);
	assert_string_equal(rep.sha256, want);
	/* check-file's helper: one digest, and per block. */
	assert_int_equal(vfs_open(v, "/work/d.bin", VFS_O_READ, 0, &f), 0);
	struct xbuf out = XBUF_NULL;
	xbuf_init(&out, 1024);
	assert_int_equal(vfs_hash_range(f, BERTH_HASH_SHA256, 0, 0, 0, &out), 0);
	char hex[129];
	berth_hex(xbuf_ptr(&out), xbuf_len(&out), hex);
	assert_string_equal(hex, want);
	xbuf_reset(&out);
	assert_int_equal(vfs_hash_range(f, BERTH_HASH_MD5, 0, 0, 256, &out), 0);
	assert_int_equal(xbuf_len(&out), 16);
	assert_int_equal(vfs_hash_range(f, BERTH_HASH_MD5, 0, 0, 255, &out), -EINVAL);
	xbuf_deinit(&out);
	vfs_close(f);
	uint64_t bytes, files;
	struct vfs *raw;
	assert_int_equal(vfs_posix_new(fx->jail, "/", 0, &raw), 0);
	assert_int_equal(vfs_policy_scan(raw, &bytes, &files), 0);
	assert_int_equal(files, 5);
	assert_true(bytes == 16 + 6 + 5 + 5 + 6);
	vfs_free(raw);
	fx_free(fx);
}

static int
raw_scan(void *ctx, uint64_t *bytes, uint64_t *files)
{
	return vfs_policy_scan(ctx, bytes, files);
}

struct busy_scan {
	struct vfs *raw, *writer;
};

/* A walk during which a session uploads a file. */
static int
busy_scan(void *ctx, uint64_t *bytes, uint64_t *files)
{
	struct busy_scan *b = ctx;
	int r = vfs_policy_scan(b->raw, bytes, files);
	assert_int_equal(write_all(b->writer, "/work/during", W, "0123456789"), 0);
	return r;
}

/* berthctl quota show / rescan: a read-only look, and a rescan while a session runs. */
static void
test_rescan(void **state)
{
	static const char *const q[] = {"QuotaSize 1M", "QuotaFiles 100", NULL};
	struct fx *fx = fx_new(q);
	struct policy_state_info info;
	assert_int_equal(policy_state_read(fx->state, "acme", &info), -ENOENT);
	int fd;
	assert_int_equal(policy_state_open(fx->state, "acme", &fd), 0);
	struct vfs *a = fx->v = session(fx, fd, false);
	const uint64_t real = 16 + 6 + 5 + 5, real_files = 4;
	assert_int_equal(policy_state_read(fx->state, "acme", &info), 0);
	assert_true(info.initialised && info.valid && !info.scanning);
	assert_int_equal(info.bytes, real);
	assert_int_equal(info.files, real_files);
	assert_int_equal(info.sessions, 1);
	/* Corrupt the usage, then rescan while the session stays attached. */
	int fd2;
	assert_int_equal(policy_state_open(fx->state, "acme", &fd2), 0);
	struct policy_state *st;
	assert_int_equal(policy_state_map(fd2, &st), 0);
	assert_int_equal(policy_state_reserve(st, 100000, 7, 0, 0), 0);
	assert_int_equal(policy_state_read(fx->state, "acme", &info), 0);
	assert_int_equal(info.bytes, real + 100000);
	struct vfs *raw;
	assert_int_equal(vfs_posix_new(fx->jail, "/", 0, &raw), 0);
	struct policy_state_rescan_report rep;
	assert_int_equal(policy_state_rescan(st, raw_scan, raw, false, &rep), 0);
	assert_true(rep.stored && rep.old_valid);
	assert_int_equal(rep.old_bytes, real + 100000);
	assert_int_equal(rep.bytes, real);
	assert_int_equal(rep.files, real_files);
	assert_int_equal(policy_state_read(fx->state, "acme", &info), 0);
	assert_int_equal(info.bytes, real);
	assert_int_equal(info.files, real_files);
	/* The session keeps counting on top of the rescanned usage. */
	assert_int_equal(write_all(a, "/work/after", W, "abc"), 0);
	assert_int_equal(policy_state_read(fx->state, "acme", &info), 0);
	assert_int_equal(info.bytes, real + 3);
	assert_int_equal(info.files, real_files + 1);
	/* An upload during the walk: nothing stored, or (store_anyway) counted once. */
	struct busy_scan bs = {raw, a};
	assert_int_equal(policy_state_rescan(st, busy_scan, &bs, false, &rep), POLICY_STATE_BUSY);
	assert_false(rep.stored);
	assert_int_equal(rep.moved_bytes, 10);
	assert_int_equal(rep.moved_files, 1);
	assert_int_equal(policy_state_read(fx->state, "acme", &info), 0);
	assert_int_equal(info.bytes, real + 3 + 10);
	assert_int_equal(vfs_remove(a, "/work/during"), 0);
	assert_int_equal(policy_state_rescan(st, busy_scan, &bs, true, &rep), POLICY_STATE_BUSY);
	assert_true(rep.stored);
	assert_int_equal(policy_state_read(fx->state, "acme", &info), 0);
	assert_int_equal(info.bytes, real + 3 + 10); /* walked before the write, added once */
	assert_int_equal(info.files, real_files + 2);
	/* Invalidated: unknown until the next walk. */
	assert_int_equal(policy_state_invalidate(fd2), 0);
	assert_int_equal(policy_state_read(fx->state, "acme", &info), 0);
	assert_false(info.valid);
	assert_int_equal(policy_state_rescan(st, raw_scan, raw, false, &rep), 0);
	assert_false(rep.old_valid);
	assert_int_equal(rep.bytes, real + 3 + 10);
	policy_state_unmap(st);
	vfs_free(raw);
	/* MaxLogins slots: counted without taking one. */
	uint32_t used, slot;
	assert_int_equal(policy_login_count(fx->state, "acme", 3, &used), 0);
	assert_int_equal(used, 0);
	int l1, l2;
	assert_int_equal(policy_login_slot(fx->state, "acme", 3, &l1, &slot), 0);
	assert_int_equal(policy_login_slot(fx->state, "acme", 3, &l2, &slot), 0);
	assert_int_equal(policy_login_count(fx->state, "acme", 3, &used), 0);
	assert_int_equal(used, 2);
	assert_int_equal(policy_login_count(fx->state, "acme", 1, &used), 0);
	assert_int_equal(used, 1);
	close(l1);
	assert_int_equal(policy_login_count(fx->state, "acme", 3, &used), 0);
	assert_int_equal(used, 1);
	close(l2);
	fx_free(fx);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_drop_box),
	        cmocka_unit_test(test_links_and_renames),
	        cmocka_unit_test(test_read_only_and_setstat),
	        cmocka_unit_test(test_reserved_names),
	        cmocka_unit_test(test_quota),
	        cmocka_unit_test(test_atomic),
	        cmocka_unit_test(test_atomic_named),
	        cmocka_unit_test(test_atomic_resume),
	        cmocka_unit_test(test_direct_checksum_and_scan),
	        cmocka_unit_test(test_rescan),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
