/* SPDX-License-Identifier: BSD-2-Clause */
/* Listing lines: LIST in vsftpd's `ls -l` columns (owner names only for the account's
 * own ids: there is no NSS inside a jail), and RFC 3659 MLSx fact lines. Callers add
 * the CRLF and never pass a name containing CR or LF. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "berth/common.h"
#include "berth/lsmode.h"
#include "berth/xmem.h"
#include "ftp-internal.h"

void
ftp_time14(int64_t t, char out[15])
{
	time_t tt = (time_t)t;
	struct tm tm;
	if (!gmtime_r(&tt, &tm) || tm.tm_year + 1900 < 0 || tm.tm_year + 1900 > 9999) {
		memcpy(out, "19700101000000", 15);
		return;
	}
	char tmp[64];
	snprintf(tmp, sizeof(tmp), "%04d%02d%02d%02d%02d%02d", tm.tm_year + 1900, tm.tm_mon + 1,
	         tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
	memcpy(out, tmp, 14);
	out[14] = '\0';
}

char *
path_join(const char *dir, const char *name)
{
	size_t n = strlen(dir);
	return xasprintf("%s%s%s", dir, n && dir[n - 1] == '/' ? "" : "/", name);
}

unsigned
list_access(const struct ftp_engine *e, const struct vfs_attr *a)
{
	if (a->uid == e->cfg.uid)
		return (a->mode >> 6) & 7;
	if (a->gid == e->cfg.gid)
		return (a->mode >> 3) & 7;
	return a->mode & 7;
}

static const char *
id_name(const struct ftp_engine *e, uint32_t id, bool group, char buf[16])
{
	if (!group && id == e->cfg.uid && e->cfg.user)
		return e->cfg.user;
	if (group && id == e->cfg.gid && e->cfg.group)
		return e->cfg.group;
	snprintf(buf, 16, "%u", id);
	return buf;
}

int
list_line_ls(struct xbuf *b, const struct list_ctx *c, const char *name, const struct vfs_attr *a,
             const char *link_target)
{
	char mode[12], ubuf[16], gbuf[16], date[32] = "";
	ls_mode_string(a->mode, mode);
	mode[10] = '\0';
	const char *user = id_name(c->e, a->uid, false, ubuf);
	const char *group = id_name(c->e, a->gid, true, gbuf);
	time_t mt = (time_t)a->mtime;
	struct tm tm;
	if (gmtime_r(&mt, &tm)) {
		/* vsftpd's rule: the time of day within the last half year, else the year. */
		bool recent = mt <= c->now && c->now - mt <= 182 * 24 * 60 * 60;
		if (strftime(date, sizeof(date), recent ? "%b %e %H:%M" : "%b %e  %Y", &tm) == 0)
			date[0] = '\0';
	}
	int r = xbuf_putf(b, "%s %4llu %-8s %-8s %8llu %s %s", mode, (unsigned long long)a->nlink,
	                  user, group, (unsigned long long)a->size, date, name);
	if (r == 0 && link_target)
		r = xbuf_putf(b, " -> %s", link_target);
	return r;
}

static const char *
type_fact(uint32_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFDIR:
		return "dir";
	case S_IFREG:
		return "file";
	case S_IFLNK:
		return "OS.unix=symlink";
	case S_IFIFO:
		return "OS.unix=fifo";
	case S_IFSOCK:
		return "OS.unix=socket";
	case S_IFCHR:
		return "OS.unix=chr";
	case S_IFBLK:
		return "OS.unix=blk";
	default:
		return "OS.unix=unknown";
	}
}

/* RFC 3659 7.5.5 from the mode bits that apply to the account; the policy layer below
 * the VFS may still refuse (this is a hint, as the RFC allows). */
static void
perm_fact(const struct list_ctx *c, const struct vfs_attr *a, bool listed_dir, char out[16])
{
	unsigned acc = list_access(c->e, a);
	bool ro = c->e->cfg.read_only;
	bool pw = c->parent_w && !ro && !listed_dir;
	size_t n = 0;
	if (S_ISDIR(a->mode)) {
		bool w = (acc & 3) == 3 && !ro;
		if (w)
			out[n++] = 'c';
		if (pw)
			out[n++] = 'd';
		if (acc & 1)
			out[n++] = 'e';
		if (pw)
			out[n++] = 'f';
		if ((acc & 5) == 5)
			out[n++] = 'l';
		if (w) {
			out[n++] = 'm';
			out[n++] = 'p';
		}
	} else {
		bool w = (acc & 2) && !ro;
		if (w)
			out[n++] = 'a';
		if (pw)
			out[n++] = 'd';
		if (pw)
			out[n++] = 'f';
		if (acc & 4)
			out[n++] = 'r';
		if (w)
			out[n++] = 'w';
	}
	out[n] = '\0';
}

int
list_line_mlsx(struct xbuf *b, const struct list_ctx *c, const char *name, const struct vfs_attr *a,
               const char *type_override)
{
	uint32_t f = c->e->st.mlst_facts;
	int r = 0;
	if (r == 0 && (f & FTP_FACT_TYPE))
		r = xbuf_putf(b, "type=%s;", type_override ? type_override : type_fact(a->mode));
	if (r == 0 && (f & FTP_FACT_SIZE))
		r = xbuf_putf(b, "size=%llu;", (unsigned long long)a->size);
	if (r == 0 && (f & FTP_FACT_MODIFY)) {
		char t[15];
		ftp_time14(a->mtime, t);
		r = xbuf_putf(b, "modify=%s;", t);
	}
	if (r == 0 && (f & FTP_FACT_PERM)) {
		char p[16];
		perm_fact(c, a, type_override != NULL, p);
		r = xbuf_putf(b, "perm=%s;", p);
	}
	if (r == 0 && (f & FTP_FACT_UNIQUE))
		r = xbuf_putf(b, "unique=%llxU%llx;", (unsigned long long)a->dev,
		              (unsigned long long)a->ino);
	if (r == 0 && (f & FTP_FACT_UNIX_MODE))
		r = xbuf_putf(b, "UNIX.mode=%04o;", a->mode & 07777);
	if (r == 0)
		r = xbuf_putf(b, " %s", name);
	return r;
}
