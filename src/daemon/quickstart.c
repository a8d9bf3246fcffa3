/* SPDX-License-Identifier: BSD-2-Clause */
/* `berthd --quickstart`: a state directory with host keys and a demo account. */
#include <crypt.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "berth/common.h"
#include "berth/daemon.h"
#include "berth/log.h"
#include "berth/quickstart.h"
#include "berth/sshd.h"
#include "berth/tls.h"
#include "berth/xmem.h"

static int
write_file_excl(const char *path, mode_t mode, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0)
		return -errno;
	size_t len = strlen(text), off = 0;
	while (off < len) {
		ssize_t n = write(fd, text + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int e = errno;
			close(fd);
			unlink(path);
			return -e;
		}
		off += (size_t)n;
	}
	if (fsync(fd) < 0 || close(fd) < 0)
		return -errno;
	return 0;
}

static void
random_password(char *out, size_t len)
{
	static const char alphabet[] = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
	const size_t na = sizeof(alphabet) - 1;
	size_t i = 0;
	while (i + 1 < len) {
		unsigned char b[32];
		if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b))
			abort();
		for (size_t j = 0; j < sizeof(b) && i + 1 < len; j++)
			if (b[j] < 256 - 256 % na) /* no modulo bias */
				out[i++] = alphabet[b[j] % na];
	}
	out[i] = '\0';
}

static char *
hash_password(const char *pw)
{
	char salt[CRYPT_GENSALT_OUTPUT_SIZE];
	if (!crypt_gensalt_rn("$y$", 0, NULL, 0, salt, sizeof(salt)))
		return NULL;
	struct crypt_data *cd = xcalloc(1, sizeof(*cd));
	char *h = crypt_rn(pw, salt, cd, sizeof(*cd));
	char *r = (h && h[0] != '*') ? xstrdup(h) : NULL;
	explicit_bzero(cd, sizeof(*cd));
	free(cd);
	return r;
}

int
quickstart_default_dir(char **ret)
{
	if (geteuid() == 0) {
		*ret = xstrdup(QUICKSTART_ROOT_DIR);
		return 0;
	}
	char cwd[PATH_MAX];
	if (!getcwd(cwd, sizeof(cwd)))
		return -errno;
	*ret = xasprintf("%s/berth-state", cwd);
	return 0;
}

int
quickstart_prepare(const char *dir, struct quickstart_info *info)
{
	memset(info, 0, sizeof(*info));
	if (dir[0] != '/')
		return -EINVAL;
	/* Parents of the default root directory (/var/lib/berth) may be missing. */
	_cleanup_free_ char *parent = xstrdup(dir);
	char *slash = strrchr(parent, '/');
	if (slash && slash != parent) {
		*slash = '\0';
		if (mkdir(parent, 0755) < 0 && errno != EEXIST)
			return -errno;
	}
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return -errno;
	struct stat st;
	if (lstat(dir, &st) < 0)
		return -errno;
	if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid())
		return -EPERM;
	if (st.st_mode & 022)
		return -EPERM;

	static const struct {
		const char *file, *type;
		int bits;
	} keys[] = {{"ssh_host_ed25519_key", "ed25519", 0}, {"ssh_host_rsa_key", "rsa", 3072}};
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
		_cleanup_free_ char *p = xasprintf("%s/%s", dir, keys[i].file);
		if (access(p, F_OK) == 0)
			continue;
		int r = sshd_generate_key(keys[i].type, keys[i].bits, p);
		if (r < 0)
			return r;
		info->created_keys = true;
	}

	/* FTPS: a self-signed certificate for localhost (reused while valid). */
	_cleanup_free_ char *cert = xasprintf("%s/%s", dir, QUICKSTART_FTPS_CERT);
	_cleanup_free_ char *key = xasprintf("%s/%s", dir, QUICKSTART_FTPS_KEY);
	int cr = tls_selfsigned_ensure(cert, key, &info->created_cert);
	if (cr < 0)
		return cr;
	cr = tls_cert_file_fingerprint(cert, info->ftps_fingerprint);
	if (cr < 0)
		return cr;

	/* The demo account's files live in their own directory, the jail root. */
	_cleanup_free_ char *files = xasprintf("%s/demo", dir);
	if (mkdir(files, 0755) < 0 && errno != EEXIST)
		return -errno;
	uid_t uid = geteuid();
	gid_t gid = getegid();
	if (uid == 0) {
		/* As root the demo account runs as an unprivileged user that owns its files:
		 * berth-demo (scripts/quickstart creates it), never the privsep user "berth";
		 * nobody only as a last resort. */
		struct passwd *pw = getpwnam("berth-demo");
		if (!pw)
			pw = getpwnam("nobody");
		if (!pw)
			return -ENOENT;
		uid = pw->pw_uid;
		gid = pw->pw_gid;
		if (chown(files, uid, gid) < 0)
			return -errno;
		/* The worker must reach its jail through the 0700 state directory. */
		chmod(dir, 0711);
	}

	_cleanup_free_ char *ak = xasprintf("%s/authorized_keys", dir);
	int r = write_file_excl(ak, 0644,
	                        "# Public keys allowed to log in as 'demo' (one per line).\n");
	if (r < 0 && r != -EEXIST)
		return r;

	_cleanup_free_ char *pwfile = xasprintf("%s/demo-password", dir);
	_cleanup_free_ char *accounts = xasprintf("%s/accounts", dir);
	if (access(accounts, F_OK) == 0) {
		info->password_file = xstrdup(pwfile);
		return 0; /* reuse: never change an existing password */
	}
	char pw[21];
	random_password(pw, sizeof(pw));
	_cleanup_free_ char *hash = hash_password(pw);
	if (!hash)
		return -EIO;
	_cleanup_free_ char *pwtext = xasprintf("%s\n", pw);
	r = write_file_excl(pwfile, 0600, pwtext);
	if (r < 0 && r != -EEXIST)
		return r;
	_cleanup_free_ char *text = quickstart_accounts_text(hash, files, ak, uid, gid);
	r = write_file_excl(accounts, 0600, text);
	if (r < 0)
		return r;
	info->created_account = true;
	snprintf(info->password, sizeof(info->password), "%s", pw);
	explicit_bzero(pw, sizeof(pw));
	info->password_file = xstrdup(pwfile);
	return 0;
}

char *
quickstart_accounts_text(const char *hash, const char *root, const char *authorized_keys, uid_t uid,
                         gid_t gid)
{
	return xasprintf("# berth quickstart accounts (berth-accounts(5)); generated by berthd\n"
	                 "Account demo\n"
	                 "\tPassword %s\n"
	                 "\tUid %u\n"
	                 "\tGid %u\n"
	                 "\tRoot \"%s\"\n"
	                 "\tAuthorizedKeysFile \"%s\"\n",
	                 hash, (unsigned)uid, (unsigned)gid, root, authorized_keys);
}
