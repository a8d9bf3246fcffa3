/* SPDX-License-Identifier: BSD-2-Clause */
/* The command table and the logged-in commands that need no data connection. Handlers
 * call the VFS only, queue exactly one reply (multi-line where the RFC says so) and map
 * errno through ftp_reply_from_errno(). */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "berth/common.h"
#include "berth/hash.h"
#include "berth/xmem.h"
#include "ftp-internal.h"

/* "..." with every '"' doubled (RFC 959 Appendix II), for 257 replies. */
static char *
quote_path(const char *p)
{
	size_t n = strlen(p), q = 0;
	for (size_t i = 0; i < n; i++)
		q += p[i] == '"';
	char *s = xmalloc(n + q + 1), *o = s;
	for (size_t i = 0; i < n; i++) {
		*o++ = p[i];
		if (p[i] == '"')
			*o++ = '"';
	}
	*o = '\0';
	return s;
}

static int
cmd_pwd(struct ftp_engine *e, char *arg)
{
	_cleanup_free_ char *cwd = NULL;
	int r = vfs_realpath(e->cfg.vfs, ".", &cwd);
	if (r < 0) {
		reply_errno(e, r);
		return 0;
	}
	if (!ftp_name_safe(cwd)) {
		reply(e, 550, "Current directory name cannot be represented.");
		return 0;
	}
	_cleanup_free_ char *q = quote_path(cwd);
	reply(e, 257, "\"%s\" is the current directory.", q);
	return 0;
}

static int
cmd_cwd(struct ftp_engine *e, char *arg)
{
	int r = vfs_chdir(e->cfg.vfs, arg);
	if (r < 0)
		reply_errno(e, r);
	else
		reply(e, 250, "Directory successfully changed.");
	return 0;
}

static int
cmd_cdup(struct ftp_engine *e, char *arg)
{
	int r = vfs_chdir(e->cfg.vfs, "..");
	if (r < 0)
		reply_errno(e, r);
	else
		reply(e, 200, "Directory successfully changed.");
	return 0;
}

static int
cmd_mkd(struct ftp_engine *e, char *arg)
{
	int r = vfs_mkdir(e->cfg.vfs, arg, 0777);
	if (r < 0) {
		reply_errno(e, r);
		return 0;
	}
	_cleanup_free_ char *abs = NULL;
	if (vfs_realpath(e->cfg.vfs, arg, &abs) < 0 || !ftp_name_safe(abs)) {
		free(abs);
		abs = xstrdup(arg);
	}
	_cleanup_free_ char *q = quote_path(abs);
	reply(e, 257, "\"%s\" created.", q);
	return 0;
}

static int
cmd_rmd(struct ftp_engine *e, char *arg)
{
	int r = vfs_rmdir(e->cfg.vfs, arg);
	if (r < 0)
		reply_errno(e, r);
	else
		reply(e, 250, "Remove directory operation successful.");
	return 0;
}

static int
cmd_dele(struct ftp_engine *e, char *arg)
{
	int r = vfs_remove(e->cfg.vfs, arg);
	if (r < 0)
		reply_errno(e, r);
	else
		reply(e, 250, "Delete operation successful.");
	return 0;
}

static int
cmd_rnfr(struct ftp_engine *e, char *arg)
{
	struct vfs_attr a;
	int r = vfs_stat(e->cfg.vfs, arg, false, &a);
	if (r < 0) {
		reply_errno(e, r);
		return 0;
	}
	free(e->rnfr);
	e->rnfr = xstrdup(arg);
	reply(e, 350, "Ready for RNTO.");
	return 0;
}

static int
cmd_rnto(struct ftp_engine *e, char *arg)
{
	if (!e->rnfr) {
		reply(e, 503, "RNFR required first.");
		return 0;
	}
	_cleanup_free_ char *from = ptr_steal(&e->rnfr);
	/* RFC 959 rename semantics: an existing target is replaced (rename(2)). */
	int r = vfs_rename(e->cfg.vfs, from, arg, 0);
	if (r < 0)
		reply_errno(e, r);
	else
		reply(e, 250, "Rename successful.");
	return 0;
}

static int
cmd_size(struct ftp_engine *e, char *arg)
{
	/* RFC 3659 4: the size in the current TYPE. For TYPE A that needs reading the whole
	 * file; refuse instead (as ProFTPD does). */
	if (e->st.type_ascii) {
		reply(e, 550, "SIZE not allowed in ASCII mode.");
		return 0;
	}
	struct vfs_attr a;
	int r = vfs_stat(e->cfg.vfs, arg, true, &a);
	if (r < 0) {
		reply_errno(e, r);
		return 0;
	}
	if (!S_ISREG(a.mode)) {
		reply(e, 550, "Could not get file size.");
		return 0;
	}
	reply(e, 213, "%llu", (unsigned long long)a.size);
	return 0;
}

static int
cmd_mdtm(struct ftp_engine *e, char *arg)
{
	struct vfs_attr a;
	int r = vfs_stat(e->cfg.vfs, arg, true, &a);
	if (r < 0) {
		reply_errno(e, r);
		return 0;
	}
	char t[15];
	ftp_time14(a.mtime, t);
	reply(e, 213, "%s", t);
	return 0;
}

/* YYYYMMDDHHMMSS[.sss] (RFC 3659 2.3), UTC. */
static int
parse_time14(const char *s, size_t len, int64_t *ret)
{
	if (len < 14 || strspn(s, "0123456789") < 14)
		return -EINVAL;
	if (len > 14 && (s[14] != '.' || len == 15 || strspn(s + 15, "0123456789") != len - 15))
		return -EINVAL;
	int v[6];
	static const int width[6] = {4, 2, 2, 2, 2, 2};
	const char *p = s;
	for (int i = 0; i < 6; i++) {
		v[i] = 0;
		for (int j = 0; j < width[i]; j++)
			v[i] = v[i] * 10 + (*p++ - '0');
	}
	if (v[1] < 1 || v[1] > 12 || v[2] < 1 || v[2] > 31 || v[3] > 23 || v[4] > 59 || v[5] > 60)
		return -EINVAL;
	struct tm tm = {.tm_year = v[0] - 1900,
	                .tm_mon = v[1] - 1,
	                .tm_mday = v[2],
	                .tm_hour = v[3],
	                .tm_min = v[4],
	                .tm_sec = v[5]};
	*ret = (int64_t)timegm(&tm);
	return 0;
}

static int
cmd_mfmt(struct ftp_engine *e, char *arg)
{
	char *path = strchr(arg, ' ');
	int64_t t;
	if (!path || path[1] == '\0' || parse_time14(arg, (size_t)(path - arg), &t) < 0) {
		reply(e, 501, "Syntax error in MFMT: use MFMT YYYYMMDDHHMMSS path.");
		return 0;
	}
	*path++ = '\0';
	struct vfs_attr a;
	int r = vfs_stat(e->cfg.vfs, path, true, &a);
	if (r == 0) {
		struct vfs_attr set = {.valid = VFS_ATTR_TIMES, .atime = a.atime, .mtime = t};
		r = vfs_setattr(e->cfg.vfs, path, true, &set);
	}
	if (r < 0) {
		reply_errno(e, r);
		return 0;
	}
	char ts[15];
	ftp_time14(t, ts);
	reply(e, 213, "Modify=%s; %s", ts, path);
	return 0;
}

static int
cmd_rest(struct ftp_engine *e, char *arg)
{
	/* Digits only: "-1", "+1", " 1", and anything above INT64_MAX are refused
	 * (ProFTPD Issue 2286: negative offsets through overflow). */
	size_t n = strspn(arg, "0123456789");
	uint64_t v = 0;
	bool ok = n > 0 && arg[n] == '\0';
	for (size_t i = 0; ok && i < n; i++) {
		unsigned d = (unsigned)(arg[i] - '0');
		if (v > (UINT64_C(0x7fffffffffffffff) - d) / 10)
			ok = false;
		else
			v = v * 10 + d;
	}
	if (!ok) {
		reply(e, 501, "Invalid REST parameter.");
		return 0;
	}
	e->rest = v;
	reply(e, 350, "Restart position accepted (%llu).", (unsigned long long)v);
	return 0;
}

static int
cmd_type(struct ftp_engine *e, char *arg)
{
	if (strcasecmp(arg, "I") == 0 || strcasecmp(arg, "L 8") == 0) {
		e->st.type_ascii = false;
		reply(e, 200, "Switching to Binary mode.");
	} else if (strcasecmp(arg, "A") == 0 || strcasecmp(arg, "A N") == 0) {
		e->st.type_ascii = true;
		reply(e, 200, "Switching to ASCII mode.");
	} else if (strchr("AaEeLl", arg[0]) && (arg[1] == '\0' || arg[1] == ' ')) {
		reply(e, 504, "TYPE not implemented for that parameter.");
	} else {
		reply(e, 501, "Unrecognised TYPE command.");
	}
	return 0;
}

static int
cmd_mode(struct ftp_engine *e, char *arg)
{
	if (strcasecmp(arg, "S") == 0)
		reply(e, 200, "Mode set to S.");
	else if (strcasecmp(arg, "B") == 0 || strcasecmp(arg, "C") == 0)
		reply(e, 504, "Bad MODE command.");
	else
		reply(e, 501, "Unrecognised MODE command.");
	return 0;
}

static int
cmd_stru(struct ftp_engine *e, char *arg)
{
	if (strcasecmp(arg, "F") == 0)
		reply(e, 200, "Structure set to F.");
	else if (strcasecmp(arg, "R") == 0 || strcasecmp(arg, "P") == 0)
		reply(e, 504, "Bad STRU command.");
	else
		reply(e, 501, "Unrecognised STRU command.");
	return 0;
}

static int
cmd_allo(struct ftp_engine *e, char *arg)
{
	reply(e, 202, "ALLO command ignored.");
	return 0;
}

static int
cmd_site(struct ftp_engine *e, char *arg)
{
	char *rest = strchr(arg, ' ');
	if (rest)
		*rest++ = '\0';
	if (strcasecmp(arg, "HELP") == 0) {
		reply_first(e, 214, "The following SITE commands are recognized.");
		reply_mid(e, " CHMOD HELP");
		reply(e, 214, "Help OK.");
		return 0;
	}
	if (strcasecmp(arg, "CHMOD") != 0) {
		reply(e, 500, "Unknown SITE command.");
		return 0;
	}
	char *path = rest ? strchr(rest, ' ') : NULL;
	size_t n = rest ? strspn(rest, "01234567") : 0;
	if (!path || path[1] == '\0' || n == 0 || n > 4 || rest + n != path) {
		reply(e, 501, "SITE CHMOD needs an octal mode and a path.");
		return 0;
	}
	*path++ = '\0';
	struct vfs_attr a = {.valid = VFS_ATTR_PERM, .mode = (uint32_t)strtoul(rest, NULL, 8)};
	int r = vfs_setattr(e->cfg.vfs, path, true, &a);
	if (r < 0)
		reply_errno(e, r);
	else
		reply(e, 200, "SITE CHMOD command ok.");
	return 0;
}

static char *
peer_string(const struct ftp_engine *e, char *buf, size_t len)
{
	const struct sockaddr_storage *ss = &e->cfg.peer;
	const void *addr = NULL;
	if (ss->ss_family == AF_INET)
		addr = &((const struct sockaddr_in *)ss)->sin_addr;
	else if (ss->ss_family == AF_INET6)
		addr = &((const struct sockaddr_in6 *)ss)->sin6_addr;
	if (!addr || !inet_ntop(ss->ss_family, addr, buf, (socklen_t)len))
		snprintf(buf, len, "UNKNOWN");
	return buf;
}

const char *
list_options(const char *arg, bool *ret_all)
{
	*ret_all = false;
	while (arg && arg[0] == '-') {
		size_t n = strcspn(arg, " ");
		if (memchr(arg, 'a', n) || memchr(arg, 'A', n))
			*ret_all = true;
		arg += n;
		while (*arg == ' ')
			arg++;
		if (*arg == '\0')
			return NULL;
	}
	return arg;
}

static int
stat_path(struct ftp_engine *e, const char *arg)
{
	bool all;
	const char *path = list_options(arg, &all);
	if (!path)
		path = ".";
	struct vfs_attr a;
	int r = vfs_stat(e->cfg.vfs, path, true, &a);
	if (r < 0) {
		const char *text;
		(void)ftp_reply_from_errno(r, &text);
		reply(e, 450, "%s", text);
		return 0;
	}
	struct list_ctx c = {.e = e, .now = time(NULL)};
	_cleanup_xbuf_ struct xbuf line = XBUF_NULL;
	xbuf_init(&line, FTP_STAGE_MAX);
	if (!S_ISDIR(a.mode)) {
		reply_first(e, 213, "Status of %s:", path);
		if (list_line_ls(&line, &c, path, &a, NULL) == 0)
			reply_mid(e, "%.*s", (int)xbuf_len(&line), (const char *)xbuf_ptr(&line));
		reply(e, 213, "End of status.");
		return 0;
	}
	struct vfs_dir *d;
	r = vfs_opendir(e->cfg.vfs, path, &d);
	if (r < 0) {
		const char *text;
		(void)ftp_reply_from_errno(r, &text);
		reply(e, 450, "%s", text);
		return 0;
	}
	reply_first(e, 212, "Status of %s:", path);
	const char *name;
	struct vfs_attr ea;
	bool cut = false;
	while ((r = vfs_readdir(d, &name, &ea)) == 0) {
		if ((name[0] == '.' && !all) || strcmp(name, "..") == 0 || !ftp_name_safe(name))
			continue;
		if (xbuf_len(&e->out) > FTP_STAT_MAX) {
			cut = true;
			break;
		}
		xbuf_reset(&line);
		if (list_line_ls(&line, &c, name, &ea, NULL) == 0)
			reply_mid(e, "%.*s", (int)xbuf_len(&line), (const char *)xbuf_ptr(&line));
	}
	(void)vfs_closedir(d);
	reply(e, 212, "%s", cut ? "End of status (truncated: use LIST)." : "End of status.");
	return 0;
}

int
cmd_stat(struct ftp_engine *e, char *arg)
{
	if (xfer_active(e)) {
		reply(e, 213, "Status: %llu bytes transferred.", (unsigned long long)e->xfer.bytes);
		return 0;
	}
	if (arg) {
		if (!e->logged_in) {
			reply(e, 530, "Please login with USER and PASS.");
			return 0;
		}
		return stat_path(e, arg);
	}
	char peer[64];
	reply_first(e, 211, "FTP server status:");
	reply_mid(e, "     Connected to %s", peer_string(e, peer, sizeof(peer)));
	if (e->logged_in)
		reply_mid(e, "     Logged in as %s", e->user);
	else
		reply_mid(e, "     Not logged in");
	reply_mid(e, "     TYPE: %s", e->st.type_ascii ? "ASCII" : "BINARY");
	reply_mid(e, "     Control connection: %s", e->st.tls ? "TLS" : "plain");
	reply_mid(e, "     Data connections: %s", e->st.prot_p ? "TLS (PROT P)" : "clear");
	reply(e, 211, "End of status");
	return 0;
}

static int
cmd_mlst(struct ftp_engine *e, char *arg)
{
	const char *path = arg ? arg : ".";
	struct vfs_attr a;
	int r = vfs_stat(e->cfg.vfs, path, true, &a);
	if (r == -ENOENT)
		r = vfs_stat(e->cfg.vfs, path, false, &a); /* a dangling symlink */
	if (r < 0) {
		reply_errno(e, r);
		return 0;
	}
	_cleanup_free_ char *shown = NULL;
	if (!arg && vfs_realpath(e->cfg.vfs, ".", &shown) < 0)
		shown = xstrdup(".");
	if (!shown)
		shown = xstrdup(arg);
	if (!ftp_name_safe(shown)) {
		reply(e, 550, "Name cannot be represented.");
		return 0;
	}
	/* "perm" d/f need the parent: the lexical parent is good enough for a hint. */
	struct list_ctx c = {.e = e, .now = time(NULL)};
	_cleanup_free_ char *parent = xstrdup(arg ? arg : "..");
	char *slash = strrchr(parent, '/');
	if (arg && !slash) {
		free(parent);
		parent = xstrdup(".");
	} else if (slash) {
		slash[slash == parent ? 1 : 0] = '\0';
	}
	struct vfs_attr pa;
	if (vfs_stat(e->cfg.vfs, parent, true, &pa) == 0)
		c.parent_w = (list_access(e, &pa) & 3) == 3;
	_cleanup_xbuf_ struct xbuf line = XBUF_NULL;
	xbuf_init(&line, FTP_STAGE_MAX);
	if (list_line_mlsx(&line, &c, shown, &a, NULL) < 0) {
		reply(e, 553, "Name too long.");
		return 0;
	}
	reply_first(e, 250, "Listing %s", shown);
	reply_mid(e, " %.*s", (int)xbuf_len(&line), (const char *)xbuf_ptr(&line));
	reply(e, 250, "End");
	return 0;
}

static int
do_hash(struct ftp_engine *e, const char *path, uint32_t algo, bool draft)
{
	if (!e->cfg.hash) {
		reply(e, 502, "Command not implemented.");
		return 0;
	}
	struct vfs_attr a;
	int r = vfs_stat(e->cfg.vfs, path, true, &a);
	if (r < 0) {
		reply_errno(e, r);
		return 0;
	}
	if (!S_ISREG(a.mode)) {
		reply(e, 550, "Not a regular file.");
		return 0;
	}
	/* The protocol-neutral digest (SFTP check-file uses it too), through an open of the
	 * file: the download permission decides. */
	static const enum berth_hash_alg algs[] = {
	        [FTP_HASH_SHA256] = BERTH_HASH_SHA256,
	        [FTP_HASH_SHA512] = BERTH_HASH_SHA512,
	        [FTP_HASH_SHA1] = BERTH_HASH_SHA1,
	        [FTP_HASH_MD5] = BERTH_HASH_MD5,
	};
	struct vfs_file *f = NULL;
	_cleanup_xbuf_ struct xbuf digest = XBUF_NULL;
	xbuf_init(&digest, BERTH_HASH_MAX);
	r = vfs_open(e->cfg.vfs, path, VFS_O_READ, 0, &f);
	if (r == 0) {
		r = vfs_hash_range(f, algs[algo], 0, 0, 0, &digest);
		(void)vfs_close(f);
	}
	if (r == 0 && xbuf_len(&digest) != berth_hash_len(algs[algo]))
		r = -EIO;
	if (r < 0) {
		reply_errno(e, r);
		return 0;
	}
	char hex[2 * BERTH_HASH_MAX + 1];
	berth_hex(xbuf_ptr(&digest), xbuf_len(&digest), hex);
	if (draft) {
		/* draft-bryan-ftpext-hash: "213 ALGO start-end hash path", end inclusive. */
		reply(e, 213, "%s 0-%llu %s %s", ftp_hash_name(algo),
		      (unsigned long long)(a.size ? a.size - 1 : 0), hex, path);
	} else {
		/* XSHA256 and friends (ProFTPD mod_digest wording). */
		reply(e, 250, "%s", hex);
	}
	return 0;
}

static int
cmd_hash(struct ftp_engine *e, char *arg)
{
	return do_hash(e, arg, e->st.hash_algo, true);
}

static int
cmd_xmd5(struct ftp_engine *e, char *arg)
{
	return do_hash(e, arg, FTP_HASH_MD5, false);
}

static int
cmd_xsha1(struct ftp_engine *e, char *arg)
{
	return do_hash(e, arg, FTP_HASH_SHA1, false);
}

static int
cmd_xsha256(struct ftp_engine *e, char *arg)
{
	return do_hash(e, arg, FTP_HASH_SHA256, false);
}

static int
cmd_xsha512(struct ftp_engine *e, char *arg)
{
	return do_hash(e, arg, FTP_HASH_SHA512, false);
}

#define PRE  CMD_PRELOGIN
#define POST CMD_POSTLOGIN
#define ARG  CMD_ARG
#define URG  CMD_URGENT
#define HLP  CMD_HELP

/* Sorted by verb; HELP lists them in this order. */
const struct ftp_cmd ftp_cmds[] = {
        {"ABOR", POST | URG | HLP, cmd_abor},
        {"ALLO", POST | HLP, cmd_allo},
        {"APPE", POST | ARG | HLP, cmd_appe},
        {"AUTH", PRE | POST | ARG | HLP, cmd_auth},
        {"CCC", POST | HLP, cmd_ccc},
        {"CDUP", POST | HLP, cmd_cdup},
        {"CWD", POST | ARG | HLP, cmd_cwd},
        {"DELE", POST | ARG | HLP, cmd_dele},
        {"EPRT", POST | ARG | HLP, cmd_eprt},
        {"EPSV", POST | HLP, cmd_epsv},
        {"FEAT", PRE | POST | HLP, cmd_feat},
        {"HASH", POST | ARG | HLP, cmd_hash},
        {"HELP", PRE | POST | HLP, cmd_help},
        {"HOST", PRE | POST | ARG | HLP, cmd_host},
        {"LIST", POST | HLP, cmd_list},
        {"MDTM", POST | ARG | HLP, cmd_mdtm},
        {"MFMT", POST | ARG | HLP, cmd_mfmt},
        {"MKD", POST | ARG | HLP, cmd_mkd},
        {"MLSD", POST | HLP, cmd_mlsd},
        {"MLST", POST | HLP, cmd_mlst},
        {"MODE", POST | ARG | HLP, cmd_mode},
        {"NLST", POST | HLP, cmd_nlst},
        {"NOOP", PRE | POST | URG | HLP, cmd_noop},
        {"OPTS", PRE | POST | ARG | HLP, cmd_opts},
        {"PASS", PRE | POST | HLP, cmd_pass},
        {"PASV", POST | HLP, cmd_pasv},
        {"PBSZ", PRE | POST | ARG | HLP, cmd_pbsz},
        {"PORT", POST | ARG | HLP, cmd_port},
        {"PROT", PRE | POST | ARG | HLP, cmd_prot},
        {"PWD", POST | HLP, cmd_pwd},
        {"QUIT", PRE | POST | URG | HLP, cmd_quit},
        {"REIN", POST | HLP, cmd_rein},
        {"REST", POST | ARG | HLP, cmd_rest},
        {"RETR", POST | ARG | HLP, cmd_retr},
        {"RMD", POST | ARG | HLP, cmd_rmd},
        {"RNFR", POST | ARG | HLP, cmd_rnfr},
        {"RNTO", POST | ARG | HLP, cmd_rnto},
        {"SITE", POST | ARG | HLP, cmd_site},
        {"SIZE", POST | ARG | HLP, cmd_size},
        {"STAT", PRE | POST | URG | HLP, cmd_stat},
        {"STOR", POST | ARG | HLP, cmd_stor},
        {"STOU", POST | HLP, cmd_stou},
        {"STRU", POST | ARG | HLP, cmd_stru},
        {"SYST", PRE | POST | HLP, cmd_syst},
        {"TYPE", POST | ARG | HLP, cmd_type},
        {"USER", PRE | POST | ARG | HLP, cmd_user},
        {"XCUP", POST, cmd_cdup},
        {"XCWD", POST | ARG, cmd_cwd},
        {"XMD5", POST | ARG, cmd_xmd5},
        {"XMKD", POST | ARG, cmd_mkd},
        {"XPWD", POST, cmd_pwd},
        {"XRMD", POST | ARG, cmd_rmd},
        {"XSHA1", POST | ARG, cmd_xsha1},
        {"XSHA256", POST | ARG, cmd_xsha256},
        {"XSHA512", POST | ARG, cmd_xsha512},
};
const size_t ftp_cmds_count = ARRAY_SIZE(ftp_cmds);

const struct ftp_cmd *
ftp_cmd_find(const char *verb)
{
	for (size_t i = 0; i < ftp_cmds_count; i++)
		if (strcmp(ftp_cmds[i].verb, verb) == 0)
			return &ftp_cmds[i];
	return NULL;
}
