/* SPDX-License-Identifier: BSD-2-Clause */
/* Data connections as actions: PASV/EPSV/PORT/EPRT (no FTP bounce: only the control
 * peer, only ports >= 1024), the transfer commands, and the byte pumps the driver calls
 * while a transfer runs (file bytes through the VFS, TYPE A conversion, listings
 * generated entry by entry into a bounded stage). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "berth/common.h"
#include "berth/xmem.h"
#include "ftp-internal.h"

bool
xfer_active(const struct ftp_engine *e)
{
	return e->xfer.kind != XFER_NONE;
}

/* After -EAGAIN (bandwidth limit): when the VFS says a retry can succeed. */
static void
set_wake(struct ftp_engine *e)
{
	uint64_t ns = 0;
	if (vfs_retry_at(e->cfg.vfs, &ns) == 0 && ns)
		e->wake_ms = ns / 1000000u;
	else
		e->wake_ms = ftp_now_ms() + FTP_RETRY_MS;
}

/* v4-mapped IPv6 addresses become AF_INET; the port is kept. */
static void
addr_normalize(const struct sockaddr_storage *in, struct sockaddr_storage *out)
{
	*out = *in;
	if (in->ss_family != AF_INET6)
		return;
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)in;
	if (!IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr))
		return;
	struct sockaddr_in s4 = {.sin_family = AF_INET, .sin_port = s6->sin6_port};
	memcpy(&s4.sin_addr, &s6->sin6_addr.s6_addr[12], 4);
	memset(out, 0, sizeof(*out));
	memcpy(out, &s4, sizeof(s4));
}

static bool
same_host(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET)
		return memcmp(&((const struct sockaddr_in *)a)->sin_addr,
		              &((const struct sockaddr_in *)b)->sin_addr, 4) == 0;
	if (a->ss_family == AF_INET6)
		return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
		              &((const struct sockaddr_in6 *)b)->sin6_addr, 16) == 0;
	return false;
}

static int
local_family(const struct ftp_engine *e)
{
	struct sockaddr_storage l;
	addr_normalize(&e->cfg.local, &l);
	return l.ss_family == AF_INET6 ? AF_INET6 : AF_INET;
}

/* ---- passive and active set-up ---- */

int
cmd_pasv(struct ftp_engine *e, char *arg)
{
	if (e->epsv_all) {
		reply(e, 503, "PASV not allowed after EPSV ALL.");
		return 0;
	}
	if (local_family(e) != AF_INET) {
		reply(e, 425, "PASV needs IPv4: use EPSV.");
		return 0;
	}
	e->data_mode = DATA_NONE;
	e->pasv_is_epsv = false;
	e->act.family = AF_INET;
	set_action(e, FTP_ACT_PASV_LISTEN);
	return 0;
}

int
cmd_epsv(struct ftp_engine *e, char *arg)
{
	int fam = local_family(e);
	if (arg && strcasecmp(arg, "ALL") == 0) {
		/* RFC 2428 3: from now on only EPSV sets up data connections. */
		e->epsv_all = true;
		reply(e, 200, "EPSV ALL ok.");
		return 0;
	}
	if (arg && strcmp(arg, "1") != 0 && strcmp(arg, "2") != 0) {
		reply(e, 501, "Syntax error in EPSV argument.");
		return 0;
	}
	if (arg && (arg[0] == '1') != (fam == AF_INET)) {
		reply(e, 522, "Network protocol not supported, use (%d)", fam == AF_INET ? 1 : 2);
		return 0;
	}
	e->data_mode = DATA_NONE;
	e->pasv_is_epsv = true;
	e->act.family = fam;
	set_action(e, FTP_ACT_PASV_LISTEN);
	return 0;
}

int
ftp_engine_pasv_done(struct ftp_engine *e, int result, const struct sockaddr *announced)
{
	if (e->outstanding != FTP_ACT_PASV_LISTEN)
		return -EPROTO;
	e->outstanding = FTP_ACT_NONE;
	struct sockaddr_storage a = {0};
	if (result == 0 && announced) {
		size_t len = announced->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
		                                              : sizeof(struct sockaddr_in);
		memcpy(&a, announced, len);
		addr_normalize(&a, &a);
	}
	uint16_t port = 0;
	if (a.ss_family == AF_INET)
		port = ntohs(((struct sockaddr_in *)&a)->sin_port);
	else if (a.ss_family == AF_INET6)
		port = ntohs(((struct sockaddr_in6 *)&a)->sin6_port);
	if (result < 0 || port == 0 || (!e->pasv_is_epsv && a.ss_family != AF_INET)) {
		reply(e, 425, "Cannot open passive connection.");
		return result < 0 ? 0 : -EINVAL;
	}
	e->data_mode = DATA_PASV;
	if (e->pasv_is_epsv) {
		reply(e, 229, "Entering Extended Passive Mode (|||%u|)", port);
		return 0;
	}
	const uint8_t *ip = (const uint8_t *)&((struct sockaddr_in *)&a)->sin_addr;
	reply(e, 227, "Entering Passive Mode (%u,%u,%u,%u,%u,%u).", ip[0], ip[1], ip[2], ip[3],
	      port >> 8, port & 0xff);
	return 0;
}

/* PORT/EPRT target: the control peer's address only, and not a privileged port
 * (CVE-1999-0017 FTP bounce; vsftpd port_promiscuous=NO). */
static int
accept_port(struct ftp_engine *e, const struct sockaddr_storage *target, uint16_t port)
{
	struct sockaddr_storage peer, t;
	addr_normalize(&e->cfg.peer, &peer);
	addr_normalize(target, &t);
	if (!same_host(&peer, &t) || port < 1024) {
		ftp_log(e, LOG_LEVEL_INFO, "refused %s to a foreign address or a port below 1024",
		        t.ss_family == AF_INET6 ? "EPRT" : "PORT");
		reply(e, 504,
		      "Refused: data connections go only to your own address, port 1024 or "
		      "above.");
		return 0;
	}
	if (t.ss_family == AF_INET)
		((struct sockaddr_in *)&t)->sin_port = htons(port);
	else
		((struct sockaddr_in6 *)&t)->sin6_port = htons(port);
	e->port_addr = t;
	e->data_mode = DATA_PORT;
	return 1;
}

static int
peer_family_number(const struct ftp_engine *e)
{
	struct sockaddr_storage p;
	addr_normalize(&e->cfg.peer, &p);
	return p.ss_family == AF_INET6 ? 2 : 1;
}

int
cmd_port(struct ftp_engine *e, char *arg)
{
	if (e->epsv_all) {
		reply(e, 503, "PORT not allowed after EPSV ALL.");
		return 0;
	}
	unsigned v[6];
	const char *p = arg;
	for (int i = 0; i < 6; i++) {
		size_t n = strspn(p, "0123456789");
		v[i] = 0;
		for (size_t j = 0; j < n && j < 4; j++)
			v[i] = v[i] * 10 + (unsigned)(p[j] - '0');
		if (n == 0 || n > 3 || v[i] > 255 || p[n] != (i == 5 ? '\0' : ',')) {
			reply(e, 501, "Syntax error in PORT command.");
			return 0;
		}
		p += n + (i < 5);
	}
	if (peer_family_number(e) != 1) {
		reply(e, 522, "Network protocol not supported, use (2)");
		return 0;
	}
	struct sockaddr_storage t = {0};
	struct sockaddr_in *s4 = (struct sockaddr_in *)&t;
	s4->sin_family = AF_INET;
	uint8_t *ip = (uint8_t *)&s4->sin_addr;
	for (int i = 0; i < 4; i++)
		ip[i] = (uint8_t)v[i];
	e->data_mode = DATA_NONE;
	if (accept_port(e, &t, (uint16_t)(v[4] << 8 | v[5])))
		reply(e, 200, "PORT command successful. Consider using PASV.");
	return 0;
}

int
cmd_eprt(struct ftp_engine *e, char *arg)
{
	if (e->epsv_all) {
		reply(e, 503, "EPRT not allowed after EPSV ALL.");
		return 0;
	}
	/* RFC 2428 2: <d>af<d>address<d>port<d>, d any printable ASCII but space. */
	char d = arg[0];
	char *f[3], *p = arg + 1;
	bool ok = d >= 33 && d <= 126;
	for (int i = 0; ok && i < 3; i++) {
		char *end = strchr(p, d);
		if (!end) {
			ok = false;
			break;
		}
		*end = '\0';
		f[i] = p;
		p = end + 1;
	}
	if (!ok || *p != '\0') {
		reply(e, 501, "Syntax error in EPRT command.");
		return 0;
	}
	int fam = strcmp(f[0], "1") == 0 ? AF_INET : strcmp(f[0], "2") == 0 ? AF_INET6 : 0;
	if (!fam) {
		reply(e, 522, "Network protocol not supported, use (%d)", peer_family_number(e));
		return 0;
	}
	struct sockaddr_storage t = {0};
	void *dst = fam == AF_INET ? (void *)&((struct sockaddr_in *)&t)->sin_addr
	                           : (void *)&((struct sockaddr_in6 *)&t)->sin6_addr;
	t.ss_family = (sa_family_t)fam;
	size_t n = strspn(f[2], "0123456789");
	unsigned long port = n >= 1 && n <= 5 && f[2][n] == '\0' ? strtoul(f[2], NULL, 10) : 0;
	if (inet_pton(fam, f[1], dst) != 1 || port == 0 || port > 65535) {
		reply(e, 501, "Syntax error in EPRT command.");
		return 0;
	}
	struct sockaddr_storage tn;
	addr_normalize(&t, &tn);
	if ((tn.ss_family == AF_INET ? 1 : 2) != peer_family_number(e)) {
		reply(e, 522, "Network protocol not supported, use (%d)", peer_family_number(e));
		return 0;
	}
	e->data_mode = DATA_NONE;
	if (accept_port(e, &tn, (uint16_t)port))
		reply(e, 200, "EPRT command successful. Consider using EPSV.");
	return 0;
}

/* ---- transfers ---- */

static double
seconds_since(const struct timespec *t0)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - t0->tv_sec) + (double)(now.tv_nsec - t0->tv_nsec) / 1e9;
}

static void
xfer_report(struct ftp_engine *e, int err, const char *reason)
{
	struct ftp_xfer *x = &e->xfer;
	if (x->kind != XFER_RETR && x->kind != XFER_STOR)
		return;
	struct ftp_transfer t = {
	        .path = x->path,
	        .upload = x->kind == XFER_STOR,
	        .offset = x->start_off,
	        .bytes = x->bytes,
	        .seconds = seconds_since(&x->t0),
	        .completed = err == 0,
	        .error = err,
	        .reason = err ? reason : NULL,
	        .published = true,
	};
	if (x->closed && x->kind == XFER_STOR) {
		t.sha256 = x->report.have_sha256 ? x->report.sha256 : NULL;
		t.published = x->report.published;
		t.unpublished = x->report.published ? NULL : x->report.reason;
	}
	ftp_log(e, LOG_LEVEL_VERBOSE, "%s \"%s\" %llu bytes %s%s%s",
	        t.upload ? "upload" : "download", t.path, (unsigned long long)t.bytes,
	        t.completed ? "completed" : "aborted", t.reason ? ": " : "",
	        t.reason ? t.reason : "");
	if (e->cfg.transfer)
		e->cfg.transfer(e->cfg.userdata, &t);
}

/* Close the transfer's file with a report: VFS_CLOSE_ABORT when it did not complete (an
 * atomic upload is then not published). Returns vfs_close_ex()'s result. */
static int
xfer_close_file(struct ftp_engine *e, bool abort)
{
	struct ftp_xfer *x = &e->xfer;
	if (!x->file)
		return 0;
	int r = vfs_close_ex(x->file, abort ? VFS_CLOSE_ABORT : 0, &x->report);
	x->file = NULL;
	x->closed = true;
	return r;
}

/* Close everything of the transfer; returns the file's close result. */
static int
xfer_reset(struct ftp_engine *e)
{
	struct ftp_xfer *x = &e->xfer;
	int r = xfer_close_file(e, true);
	if (x->dir)
		(void)vfs_closedir(x->dir);
	free(x->path);
	free(x->dirpath);
	free(x->raw);
	struct xbuf stage = x->stage;
	xbuf_reset(&stage);
	*x = (struct ftp_xfer){.stage = stage};
	e->wake_ms = 0;
	return r;
}

static bool
is_data_action(enum ftp_action_type t)
{
	return t == FTP_ACT_DATA_OPEN || t == FTP_ACT_DATA_SEND || t == FTP_ACT_DATA_RECV ||
	       t == FTP_ACT_DATA_ABORT;
}

void
xfer_kill(struct ftp_engine *e, const char *reason)
{
	(void)xfer_close_file(e, true);
	xfer_report(e, FTP_DATA_E_ABORTED, reason);
	(void)xfer_reset(e);
	if (is_data_action(e->pending))
		e->pending = FTP_ACT_NONE;
	if (is_data_action(e->outstanding))
		e->outstanding = FTP_ACT_NONE;
}

/* After the final reply of a transfer: QUIT received meanwhile takes effect now. */
static void
xfer_after(struct ftp_engine *e)
{
	if (!e->quit_after_xfer)
		return;
	e->quit_after_xfer = false;
	(void)cmd_quit(e, NULL);
}

/* A data connection can be set up: PASV/PORT given, and PROT P unless plain is allowed
 * (RFC 4217 9: 521 for the wrong protection level). */
static bool
data_ready(struct ftp_engine *e)
{
	if (e->data_mode == DATA_NONE) {
		reply(e, 425, "Use PORT or PASV first.");
		return false;
	}
	if (!e->st.prot_p && !e->cfg.allow_plain_data) {
		reply(e, 521, "Data connections must be protected: use PROT P.");
		return false;
	}
	return true;
}

/* The 150 reply is queued; hand out DATA_OPEN for the PASV listener or PORT address. */
static void
xfer_start(struct ftp_engine *e, enum xfer_kind kind)
{
	struct ftp_xfer *x = &e->xfer;
	x->kind = kind;
	clock_gettime(CLOCK_MONOTONIC, &x->t0);
	e->act.passive = e->data_mode == DATA_PASV;
	if (e->act.passive) {
		addr_normalize(&e->cfg.peer, &e->act.addr);
		if (e->act.addr.ss_family == AF_INET)
			((struct sockaddr_in *)&e->act.addr)->sin_port = 0;
		else if (e->act.addr.ss_family == AF_INET6)
			((struct sockaddr_in6 *)&e->act.addr)->sin6_port = 0;
	} else {
		e->act.addr = e->port_addr;
	}
	e->act.tls = e->st.prot_p;
	e->act.upload = kind == XFER_STOR;
	e->data_mode = DATA_NONE; /* one transfer per PASV/PORT */
	set_action(e, FTP_ACT_DATA_OPEN);
}

static char *
abs_path(struct ftp_engine *e, const char *path)
{
	char *abs = NULL;
	if (vfs_realpath(e->cfg.vfs, path, &abs) < 0)
		abs = xstrdup(path);
	return abs;
}

int
cmd_retr(struct ftp_engine *e, char *arg)
{
	uint64_t rest = e->rest;
	e->rest = 0;
	if (!data_ready(e))
		return 0;
	if (rest && e->st.type_ascii) {
		reply(e, 554, "REST is not supported in ASCII mode.");
		return 0;
	}
	struct vfs_file *f;
	int r = vfs_open(e->cfg.vfs, arg, VFS_O_READ, 0, &f);
	struct vfs_attr a;
	if (r == 0 && (r = vfs_fstat(f, &a)) < 0)
		(void)vfs_close(f);
	if (r < 0) {
		reply_errno(e, r);
		return 0;
	}
	if (rest > a.size) {
		(void)vfs_close(f);
		reply(e, 554, "Restart position beyond the end of the file.");
		return 0;
	}
	struct ftp_xfer *x = &e->xfer;
	x->file = f;
	x->path = abs_path(e, arg);
	x->off = x->start_off = rest;
	x->ascii = e->st.type_ascii;
	reply(e, 150, "Opening %s mode data connection for %s (%llu bytes).",
	      x->ascii ? "ASCII" : "BINARY", arg, (unsigned long long)a.size);
	xfer_start(e, XFER_RETR);
	return 0;
}

enum store_kind {
	STORE_STOR,
	STORE_APPE,
	STORE_STOU,
};

static int
store(struct ftp_engine *e, char *arg, enum store_kind kind)
{
	uint64_t rest = kind == STORE_STOR ? e->rest : 0;
	e->rest = 0;
	if (!data_ready(e))
		return 0;
	struct vfs_file *f = NULL;
	_cleanup_free_ char *name = NULL;
	int r;
	if (kind == STORE_STOU) {
		/* RFC 959 STOU; an argument is taken as the base name (RFC 1123 4.1.2.9
		 * "150 FILE: name" tells the client what was created). */
		const char *base = arg ? arg : "ftp-upload";
		for (unsigned i = 0; i < 100; i++) {
			free(name);
			name = i ? xasprintf("%s.%u", base, i) : xstrdup(base);
			r = vfs_open(e->cfg.vfs, name, VFS_O_WRITE | VFS_O_CREAT | VFS_O_EXCL, 0666,
			             &f);
			if (r != -EEXIST)
				break;
		}
	} else if (kind == STORE_APPE) {
		name = xstrdup(arg);
		r = vfs_open(e->cfg.vfs, name, VFS_O_WRITE | VFS_O_CREAT | VFS_O_APPEND, 0666, &f);
	} else if (rest) {
		/* Resume: the file must reach the restart point; the rest is cut there. */
		struct vfs_attr a;
		if (e->st.type_ascii) {
			reply(e, 554, "REST is not supported in ASCII mode.");
			return 0;
		}
		r = vfs_stat(e->cfg.vfs, arg, true, &a);
		if (r == 0 && rest > a.size) {
			reply(e, 554, "Restart position beyond the end of the file.");
			return 0;
		}
		name = xstrdup(arg);
		if (r == 0)
			r = vfs_open(e->cfg.vfs, name, VFS_O_WRITE | VFS_O_CREAT, 0666, &f);
		struct vfs_attr cut = {.valid = VFS_ATTR_SIZE, .size = rest};
		struct vfs_close_report rep;
		if (r == 0 && (r = vfs_fsetattr(f, &cut)) < 0)
			(void)vfs_close_ex(f, VFS_CLOSE_ABORT, &rep);
	} else {
		name = xstrdup(arg);
		r = vfs_open(e->cfg.vfs, name, VFS_O_WRITE | VFS_O_CREAT | VFS_O_TRUNC, 0666, &f);
	}
	if (r == -EEXIST && kind == STORE_STOU) {
		reply(e, 553, "Could not create a unique file name.");
		return 0;
	}
	if (r < 0) {
		reply_errno(e, r);
		return 0;
	}
	struct ftp_xfer *x = &e->xfer;
	x->file = f;
	x->path = abs_path(e, name);
	x->ascii = e->st.type_ascii;
	x->off = rest;
	if (kind == STORE_APPE) {
		struct vfs_attr a;
		if (vfs_fstat(f, &a) == 0)
			x->off = a.size;
	}
	x->start_off = x->off;
	if (kind == STORE_STOU)
		reply(e, 150, "FILE: %s", name);
	else
		reply(e, 150, "Ok to send data.");
	xfer_start(e, XFER_STOR);
	return 0;
}

int
cmd_stor(struct ftp_engine *e, char *arg)
{
	return store(e, arg, STORE_STOR);
}

int
cmd_appe(struct ftp_engine *e, char *arg)
{
	return store(e, arg, STORE_APPE);
}

int
cmd_stou(struct ftp_engine *e, char *arg)
{
	return store(e, arg, STORE_STOU);
}

static int
put_crlf(struct xbuf *b)
{
	return xbuf_put(b, "\r\n", 2);
}

static int
listing(struct ftp_engine *e, char *arg, enum xfer_kind kind)
{
	if (!data_ready(e))
		return 0;
	struct ftp_xfer *x = &e->xfer;
	bool all = false;
	const char *path = kind == XFER_MLSD ? arg : list_options(arg, &all);
	if (!path)
		path = ".";
	struct vfs_attr a;
	int r = vfs_stat(e->cfg.vfs, path, true, &a);
	struct vfs_dir *d = NULL;
	if (r == 0 && S_ISDIR(a.mode))
		r = vfs_opendir(e->cfg.vfs, path, &d);
	if (r < 0) {
		const char *text;
		unsigned code = ftp_reply_from_errno(r, &text);
		/* RFC 959 lists 450 for LIST/NLST on a missing or unreadable path. */
		reply(e, kind == XFER_MLSD ? code : 450, "%s", text);
		return 0;
	}
	if (!d && kind == XFER_MLSD) {
		reply(e, 501, "Not a directory.");
		return 0;
	}
	x->list_all = all;
	x->now = time(NULL);
	if (d) {
		x->dir = d;
		x->dirpath = xstrdup(path);
		x->prefix = kind == XFER_NLST && arg && strcmp(path, ".") != 0;
		x->parent_w = (list_access(e, &a) & 3) == 3;
	} else {
		/* A single object: its one line, under the name the client gave. */
		struct list_ctx c = {.e = e, .now = x->now};
		r = kind == XFER_LIST ? list_line_ls(&x->stage, &c, path, &a, NULL)
		                      : xbuf_put(&x->stage, path, strlen(path));
		if (r == 0)
			r = put_crlf(&x->stage);
		if (r < 0)
			xbuf_reset(&x->stage);
		x->dir_eof = true;
	}
	reply(e, 150, "Here comes the directory listing.");
	xfer_start(e, kind);
	return 0;
}

int
cmd_list(struct ftp_engine *e, char *arg)
{
	return listing(e, arg, XFER_LIST);
}

int
cmd_nlst(struct ftp_engine *e, char *arg)
{
	return listing(e, arg, XFER_NLST);
}

int
cmd_mlsd(struct ftp_engine *e, char *arg)
{
	return listing(e, arg, XFER_MLSD);
}

int
cmd_abor(struct ftp_engine *e, char *arg)
{
	if (!xfer_active(e)) {
		reply(e, 225, "No transfer to abort.");
		return 0;
	}
	/* RFC 959 4.1.3: stop the transfer; 426 to it and 226 to ABOR come with
	 * ftp_engine_data_done(). */
	e->xfer.aborting = true;
	set_action(e, FTP_ACT_DATA_ABORT);
	return 0;
}

/* ---- the byte pumps ---- */

/* One directory entry into the stage (nothing for skipped entries). Names with CR or LF
 * are never listed: they could forge a line, and no FTP command can name them. */
static int
list_next_entry(struct ftp_engine *e)
{
	struct ftp_xfer *x = &e->xfer;
	const char *name;
	struct vfs_attr a;
	int r = vfs_readdir(x->dir, &name, &a);
	if (r == 1) {
		x->dir_eof = true;
		return 0;
	}
	if (r < 0)
		return r;
	bool dot = strcmp(name, ".") == 0, dotdot = strcmp(name, "..") == 0;
	if (!ftp_name_safe(name))
		return 0;
	if (x->kind != XFER_MLSD && name[0] == '.' && !x->list_all)
		return 0;
	_cleanup_free_ char *full = path_join(x->dirpath, name);
	if (dotdot) {
		/* The parent as the jail resolves it (at the root: the root itself). */
		if (vfs_stat(e->cfg.vfs, full, true, &a) < 0)
			return 0;
	}
	struct list_ctx c = {.e = e, .now = x->now, .parent_w = x->parent_w};
	size_t mark = xbuf_len(&x->stage);
	if (x->kind == XFER_MLSD) {
		struct vfs_attr t;
		if (!dot && !dotdot && S_ISLNK(a.mode) && vfs_stat(e->cfg.vfs, full, true, &t) == 0)
			a = t; /* facts of what the link leads to, inside the jail */
		r = list_line_mlsx(&x->stage, &c, name, &a, dot ? "cdir" : dotdot ? "pdir" : NULL);
	} else if (x->kind == XFER_LIST) {
		_cleanup_free_ char *target = NULL;
		if (S_ISLNK(a.mode) && vfs_readlink(e->cfg.vfs, full, &target) == 0 &&
		    !ftp_name_safe(target)) {
			free(target);
			target = NULL;
		}
		r = list_line_ls(&x->stage, &c, name, &a, target);
	} else {
		r = xbuf_put(&x->stage, x->prefix ? full : name, strlen(x->prefix ? full : name));
	}
	if (r == 0)
		r = put_crlf(&x->stage);
	if (r < 0) /* a line over the stage limit: left out, never cut */
		(void)xbuf_trim_tail(&x->stage, xbuf_len(&x->stage) - mark);
	return 0;
}

static int
produce_listing(struct ftp_engine *e, uint8_t *buf, size_t cap, size_t *ret_n)
{
	struct ftp_xfer *x = &e->xfer;
	size_t n = 0;
	int r = 0;
	while (n < cap) {
		size_t sl = xbuf_len(&x->stage);
		if (sl) {
			size_t k = MIN(sl, cap - n);
			memcpy(buf + n, xbuf_ptr(&x->stage), k);
			(void)xbuf_consume(&x->stage, k);
			n += k;
			continue;
		}
		if (x->dir_eof || !x->dir)
			break;
		if ((r = list_next_entry(e)) < 0)
			break;
	}
	x->bytes += n;
	*ret_n = n;
	return r;
}

static int
produce_binary(struct ftp_engine *e, uint8_t *buf, size_t cap, size_t *ret_n)
{
	struct ftp_xfer *x = &e->xfer;
	size_t got = 0;
	int r = vfs_pread(x->file, buf, cap, x->off, &got);
	if (r < 0)
		return r;
	x->off += got;
	x->bytes += got;
	*ret_n = got;
	return 0;
}

/* TYPE A download: LF -> CRLF unless the file already has the CR. x->cr tracks the last
 * byte sent, so a CRLF split across reads or output chunks is neither doubled nor lost,
 * and a 1-byte output buffer still makes progress. */
static int
produce_ascii(struct ftp_engine *e, uint8_t *buf, size_t cap, size_t *ret_n)
{
	struct ftp_xfer *x = &e->xfer;
	size_t n = 0;
	int r = 0;
	while (n < cap) {
		if (x->raw_off == x->raw_len) {
			if (!x->raw)
				x->raw = xmalloc(FTP_RAW_CHUNK);
			size_t got = 0;
			if ((r = vfs_pread(x->file, x->raw, FTP_RAW_CHUNK, x->off, &got)) < 0 ||
			    got == 0)
				break;
			x->raw_off = 0;
			x->raw_len = got;
			x->off += got;
		}
		uint8_t c = x->raw[x->raw_off];
		if (c == '\n' && !x->cr) {
			buf[n++] = '\r';
			x->cr = true;
			continue;
		}
		buf[n++] = c;
		x->cr = c == '\r';
		x->raw_off++;
		x->bytes++;
	}
	*ret_n = n;
	return n > 0 && r == -EAGAIN ? 0 : r;
}

int
ftp_engine_data_produce(struct ftp_engine *e, void *buf, size_t cap, size_t *ret_n)
{
	struct ftp_xfer *x = &e->xfer;
	if (x->aborting)
		return -ECANCELED;
	if (e->outstanding != FTP_ACT_DATA_SEND)
		return -EPROTO;
	if (x->error)
		return x->error;
	if (cap == 0)
		return -EINVAL;
	e->wake_ms = 0;
	size_t n = 0;
	int r;
	if (x->kind == XFER_RETR)
		r = x->ascii ? produce_ascii(e, buf, cap, &n) : produce_binary(e, buf, cap, &n);
	else
		r = produce_listing(e, buf, cap, &n);
	if (r == -EAGAIN && n == 0) {
		set_wake(e);
		return -EAGAIN;
	}
	if (r < 0 && r != -EAGAIN) {
		x->error = r;
		if (n == 0)
			return r; /* else: these bytes now, the error on the next call */
	}
	*ret_n = n;
	return 0;
}

/* Write the converted upload bytes held in the stage. */
static int
flush_stage(struct ftp_engine *e)
{
	struct ftp_xfer *x = &e->xfer;
	while (xbuf_len(&x->stage) > 0) {
		size_t w = 0;
		int r = vfs_pwrite(x->file, xbuf_ptr(&x->stage), xbuf_len(&x->stage), x->off, &w);
		if (r < 0)
			return r;
		if (w == 0)
			return -EIO;
		(void)xbuf_consume(&x->stage, w);
		x->off += w;
		x->bytes += w;
	}
	return 0;
}

/* TYPE A upload: CRLF -> LF; a lone CR is kept; a CR at the end of a chunk waits in
 * x->cr for the next byte. */
static size_t
convert_upload(struct ftp_engine *e, const uint8_t *in, size_t len)
{
	struct ftp_xfer *x = &e->xfer;
	size_t room = xbuf_avail(&x->stage);
	if (room < 2)
		return 0;
	uint8_t *p;
	size_t want = MIN(len + 1, room);
	if (xbuf_reserve(&x->stage, want, &p) < 0)
		return 0;
	size_t used = 0, o = 0;
	while (used < len && o + 2 <= want) {
		uint8_t c = in[used++];
		if (x->cr) {
			x->cr = false;
			if (c == '\n') {
				p[o++] = '\n';
				continue;
			}
			p[o++] = '\r';
		}
		if (c == '\r')
			x->cr = true;
		else
			p[o++] = c;
	}
	(void)xbuf_trim_tail(&x->stage, want - o);
	return used;
}

int
ftp_engine_data_consume(struct ftp_engine *e, const void *buf, size_t len, size_t *ret_used)
{
	struct ftp_xfer *x = &e->xfer;
	if (x->aborting)
		return -ECANCELED;
	if (e->outstanding != FTP_ACT_DATA_RECV)
		return -EPROTO;
	if (x->error)
		return x->error;
	e->wake_ms = 0;
	int r;
	if (!x->ascii) {
		size_t w = 0;
		r = len ? vfs_pwrite(x->file, buf, len, x->off, &w) : 0;
		if (r == -EAGAIN) {
			set_wake(e);
			return r;
		}
		if (r == 0 && len > 0 && w == 0)
			r = -EIO; /* no progress would spin the driver */
		if (r < 0) {
			x->error = r;
			return r;
		}
		x->off += w;
		x->bytes += w;
		*ret_used = w;
		return 0;
	}
	r = flush_stage(e);
	if (r == -EAGAIN) {
		set_wake(e);
		return r;
	}
	if (r < 0) {
		x->error = r;
		return r;
	}
	size_t used = convert_upload(e, buf, len);
	r = flush_stage(e);
	if (r == -EAGAIN)
		set_wake(e); /* taken; the next call writes them first */
	else if (r < 0) {
		x->error = r;
		return r;
	}
	*ret_used = used;
	return 0;
}

/* The final reply, the report, the clean-up. */
static void
xfer_finish(struct ftp_engine *e, int err, bool driver_err, const char *reason)
{
	struct ftp_xfer *x = &e->xfer;
	bool aborted = x->aborting, listing = x->kind != XFER_RETR && x->kind != XFER_STOR;
	int r = xfer_close_file(e, err != 0 || x->error != 0);
	if (err == 0 && r < 0) /* e.g. a deferred write error surfacing at close */
		err = r, driver_err = false;
	if (err == 0) {
		reply(e, 226, listing ? "Directory send OK." : "Transfer complete.");
	} else if (!driver_err) {
		const char *text;
		unsigned code = ftp_reply_from_errno(err, &text);
		reply(e, code, "%s", text);
		reason = text;
	} else {
		reply(e, 426, "Connection closed; transfer aborted.");
	}
	if (aborted) {
		reply(e, 226, "Abort successful.");
		if (err)
			reason = "aborted by client";
	}
	xfer_report(e, err, reason);
	(void)xfer_reset(e);
	e->pending = FTP_ACT_NONE;
	e->outstanding = FTP_ACT_NONE;
	xfer_after(e);
}

int
ftp_engine_data_open_done(struct ftp_engine *e, int result)
{
	if (xfer_active(e) && e->xfer.aborting)
		return -ECANCELED;
	if (e->outstanding != FTP_ACT_DATA_OPEN)
		return -EPROTO;
	e->outstanding = FTP_ACT_NONE;
	if (result == 0) {
		e->xfer.opened = true;
		set_action(e, e->xfer.kind == XFER_STOR ? FTP_ACT_DATA_RECV : FTP_ACT_DATA_SEND);
		return 0;
	}
	const char *reason;
	if (result == FTP_DATA_E_NOREUSE) {
		reply(e, 522, "TLS session of data connection not resumed.");
		reason = "TLS session of data connection not resumed";
	} else if (result == FTP_DATA_E_TLS) {
		reply(e, 522, "TLS negotiation on the data connection failed.");
		reason = "TLS negotiation on the data connection failed";
	} else {
		reply(e, 425, "Cannot open data connection.");
		reason = "no data connection";
	}
	(void)xfer_close_file(e, true);
	xfer_report(e, result, reason);
	(void)xfer_reset(e);
	xfer_after(e);
	return 0;
}

int
ftp_engine_data_done(struct ftp_engine *e, int result)
{
	struct ftp_xfer *x = &e->xfer;
	if (!xfer_active(e))
		return -EPROTO;
	bool running = e->outstanding == FTP_ACT_DATA_SEND || e->outstanding == FTP_ACT_DATA_RECV;
	if (!running && !x->aborting)
		return -EPROTO;
	if (x->kind == XFER_STOR && result == 0 && !x->error && !x->aborting && x->ascii) {
		if (x->cr) {
			x->cr = false;
			(void)xbuf_put(&x->stage, "\r", 1);
		}
		int r = flush_stage(e);
		if (r == -EAGAIN) {
			set_wake(e);
			return r;
		}
		if (r < 0)
			x->error = r;
	}
	int err = x->error ? x->error : result;
	bool driver_err = x->error == 0;
	const char *reason = err == FTP_DATA_E_ABORTED ? "aborted by client"
	                     : driver_err              ? "data connection lost"
	                                               : NULL;
	xfer_finish(e, err, driver_err, reason);
	return 0;
}
