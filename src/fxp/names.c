/* SPDX-License-Identifier: BSD-2-Clause */
/* READDIR longnames, formatted exactly as OpenSSH's ls_file() so clients that parse
 * them (and humans diffing against sftp-server) see the same columns. */
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "berth/common.h"
#include "berth/lsmode.h"
#include "berth/xmem.h"
#include "fxp-internal.h"

/* Small id -> name cache: NSS "files" rereads /etc/passwd on every call, which would
 * dominate a 10,000-entry listing. Names are clamped to 32 bytes like user_from_uid(). */
#define NAME_CACHE 64
struct name_cache {
	uint32_t id[NAME_CACHE];
	char name[NAME_CACHE][33];
	bool used[NAME_CACHE];
	unsigned next;
};

static const char *
cached_name(struct name_cache *c, uint32_t id, bool group)
{
	for (unsigned i = 0; i < NAME_CACHE; i++)
		if (c->used[i] && c->id[i] == id)
			return c->name[i];
	unsigned i = c->next++ % NAME_CACHE;
	const char *found = NULL;
	if (group) {
		struct group *gr = getgrgid(id);
		found = gr ? gr->gr_name : NULL;
	} else {
		struct passwd *pw = getpwuid(id);
		found = pw ? pw->pw_name : NULL;
	}
	if (found)
		snprintf(c->name[i], sizeof(c->name[i]), "%s", found);
	else
		snprintf(c->name[i], sizeof(c->name[i]), "%u", id);
	c->id[i] = id;
	c->used[i] = true;
	return c->name[i];
}

char *
fxp_longname(const char *name, const struct vfs_attr *a, bool numeric_ids)
{
	static struct name_cache users, groups;
	char mode[12], ubuf[16], gbuf[16], tbuf[32] = "";
	const char *user, *group;

	ls_mode_string(a->mode, mode);
	if (numeric_ids) {
		snprintf(ubuf, sizeof(ubuf), "%u", a->uid);
		snprintf(gbuf, sizeof(gbuf), "%u", a->gid);
		user = ubuf;
		group = gbuf;
	} else {
		user = cached_name(&users, a->uid, false);
		group = cached_name(&groups, a->gid, true);
	}
	time_t mt = (time_t)a->mtime;
	struct tm tm;
	if (localtime_r(&mt, &tm)) {
		time_t now = time(NULL);
		size_t sz;
		if (now - (365 * 24 * 60 * 60) / 2 < mt && now >= mt)
			sz = strftime(tbuf, sizeof(tbuf), "%b %e %H:%M", &tm);
		else
			sz = strftime(tbuf, sizeof(tbuf), "%b %e  %Y", &tm);
		if (sz == 0)
			tbuf[0] = '\0';
	}
	int ulen = (int)MAX(strlen(user), 8), glen = (int)MAX(strlen(group), 8);
	char lc[24];
	snprintf(lc, sizeof(lc), "%llu", (unsigned long long)a->nlink);
	/* OpenSSH formats into a 1024-byte buffer; keep the same truncation. */
	char buf[1024];
	snprintf(buf, sizeof(buf), "%s %3s %-*s %-*s %8llu %s %s", mode, lc, ulen, user, glen,
	         group, (unsigned long long)a->size, tbuf, name);
	return xstrdup(buf);
}
