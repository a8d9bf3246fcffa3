/* SPDX-License-Identifier: BSD-2-Clause */
/* Transfer records (worker -> monitor) and the xferlog and JSON lines made of them. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "berth/buf.h"
#include "berth/common.h"
#include "berth/log.h"
#include "berth/xferlog.h"

#define XFER_RECORD_VERSION 1

static const char *const op_names[] = {
        [XFER_OP_UPLOAD] = "upload", [XFER_OP_DOWNLOAD] = "download", [XFER_OP_DELETE] = "delete",
        [XFER_OP_RENAME] = "rename", [XFER_OP_MKDIR] = "mkdir",       [XFER_OP_RMDIR] = "rmdir",
};

const char *
xfer_op_name(enum xfer_op op)
{
	if (op < XFER_OP_UPLOAD || op > XFER_OP_LAST)
		return "?";
	return op_names[op];
}

/* Length of @s cut to at most @max bytes without splitting a UTF-8 character. */
static size_t
cut_len(const char *s, size_t max)
{
	size_t n = strlen(s);
	if (n <= max)
		return n;
	n = max;
	while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
		n--;
	return n;
}

static int
put_opt(struct xbuf *out, const char *s, size_t max)
{
	return xbuf_put_string(out, s ? s : "", s ? cut_len(s, max) : 0);
}

int
xfer_record_encode(const struct xfer_record *r, struct xbuf *out)
{
	if (!r->path || r->op < XFER_OP_UPLOAD || r->op > XFER_OP_LAST || r->status > XFER_FAILED)
		return -EINVAL;
	if (xbuf_put_u8(out, XFER_RECORD_VERSION) < 0 || xbuf_put_u8(out, (uint8_t)r->op) < 0 ||
	    xbuf_put_u8(out, (uint8_t)r->status) < 0 || xbuf_put_u64(out, r->bytes) < 0 ||
	    xbuf_put_u64(out, r->duration_us) < 0 || put_opt(out, r->path, XFER_PATH_MAX) < 0 ||
	    put_opt(out, r->op == XFER_OP_RENAME ? r->target : NULL, XFER_PATH_MAX) < 0 ||
	    put_opt(out, r->sha256, 64) < 0 || put_opt(out, r->reason, XFER_REASON_MAX) < 0)
		return -ENOBUFS;
	return 0;
}

/* One string field into @storage at *@used: at most @max bytes, no NUL. */
static int
get_field(struct xbuf *in, size_t max, char *storage, size_t cap, size_t *used, const char **ret)
{
	const uint8_t *p;
	size_t n;
	if (xbuf_get_string_direct(in, &p, &n) < 0 || n > max || (n && memchr(p, '\0', n)) ||
	    cap - *used < n + 1)
		return -EBADMSG;
	char *s = storage + *used;
	if (n)
		memcpy(s, p, n);
	s[n] = '\0';
	*used += n + 1;
	*ret = n ? s : NULL;
	return 0;
}

static bool
is_hex64(const char *s)
{
	if (strlen(s) != 64)
		return false;
	for (const char *p = s; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return false;
	return true;
}

int
xfer_record_decode(struct xbuf *in, struct xfer_record *ret, char *storage, size_t cap)
{
	uint8_t ver, op, status;
	struct xfer_record r = {0};
	size_t used = 0;
	if (xbuf_get_u8(in, &ver) < 0 || ver != XFER_RECORD_VERSION || xbuf_get_u8(in, &op) < 0 ||
	    op < XFER_OP_UPLOAD || op > XFER_OP_LAST || xbuf_get_u8(in, &status) < 0 ||
	    status > XFER_FAILED || xbuf_get_u64(in, &r.bytes) < 0 ||
	    xbuf_get_u64(in, &r.duration_us) < 0 ||
	    get_field(in, XFER_PATH_MAX, storage, cap, &used, &r.path) < 0 ||
	    get_field(in, XFER_PATH_MAX, storage, cap, &used, &r.target) < 0 ||
	    get_field(in, 64, storage, cap, &used, &r.sha256) < 0 ||
	    get_field(in, XFER_REASON_MAX, storage, cap, &used, &r.reason) < 0 || xbuf_len(in) != 0)
		return -EBADMSG;
	r.op = (enum xfer_op)op;
	r.status = (enum xfer_status)status;
	if (!r.path || (r.target && r.op != XFER_OP_RENAME) || (r.sha256 && !is_hex64(r.sha256)))
		return -EBADMSG;
	*ret = r;
	return 0;
}

/* @s escaped for a log field into @out. */
static int
put_escaped(struct xbuf *out, const char *s, unsigned flags)
{
	char buf[4 * XFER_PATH_MAX + 1];
	size_t n = log_escape(buf, sizeof(buf), s, strlen(s), flags);
	return xbuf_put(out, buf, MIN(n, sizeof(buf) - 1));
}

int
xferlog_format(const struct xfer_session *s, const struct xfer_record *r,
               const struct timespec *now, struct xbuf *out)
{
	char direction;
	switch (r->op) {
	case XFER_OP_UPLOAD:
		direction = 'i';
		break;
	case XFER_OP_DOWNLOAD:
		direction = 'o';
		break;
	case XFER_OP_DELETE: /* ProFTPD's 'd' (deleted) */
		if (r->status != XFER_COMPLETED)
			return 1;
		direction = 'd';
		break;
	default:
		return 1;
	}
	struct tm tm;
	char when[64];
	time_t t = now->tv_sec;
	if (!localtime_r(&t, &tm) || strftime(when, sizeof(when), "%a %b %e %H:%M:%S %Y", &tm) == 0)
		return -EINVAL;
	/* Whole seconds, rounded up, at least 1 (tools divide bytes by it). */
	uint64_t secs = (r->duration_us + 999999) / 1000000;
	/* ProFTPD writes "ftp" for FTP and FTPS alike. */
	const char *service = strcmp(s->protocol, "ftps") == 0 ? "ftp" : s->protocol;
	if (xbuf_putf(out, "%s %llu ", when, (unsigned long long)(secs ? secs : 1)) < 0 ||
	    put_escaped(out, s->addr, LOG_ESC_SPACE) < 0 ||
	    xbuf_putf(out, " %llu ", (unsigned long long)r->bytes) < 0 ||
	    put_escaped(out, r->path, LOG_ESC_SPACE) < 0 ||
	    xbuf_putf(out, " b _ %c r ", direction) < 0 ||
	    put_escaped(out, s->account, LOG_ESC_SPACE) < 0 || xbuf_put(out, " ", 1) < 0 ||
	    put_escaped(out, service, LOG_ESC_SPACE) < 0 ||
	    xbuf_putf(out, " 0 * %c\n", r->status == XFER_COMPLETED ? 'c' : 'i') < 0)
		return -ENOBUFS;
	return 0;
}

/* A JSON string: quotes, backslashes and control characters (C0, DEL, C1, U+2028/9) as
 * JSON escapes; bytes that are not UTF-8 as the text \xNN (as in the other logs). */
static int
put_json_string(struct xbuf *out, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s;
	size_t len = strlen(s);
	if (xbuf_put(out, "\"", 1) < 0)
		return -ENOBUFS;
	for (size_t i = 0; i < len;) {
		uint32_t cp = 0;
		size_t n = log_utf8_decode(p + i, len - i, &cp);
		int r;
		if (n == 0) {
			char e[6] = {'\\', '\\', 'x', hex[p[i] >> 4], hex[p[i] & 15]};
			r = xbuf_put(out, e, 5);
			n = 1;
		} else if (cp == '"' || cp == '\\') {
			char e[2] = {'\\', (char)cp};
			r = xbuf_put(out, e, 2);
		} else if (cp == '\n' || cp == '\r' || cp == '\t') {
			char e[2] = {'\\', cp == '\n' ? 'n' : cp == '\r' ? 'r' : 't'};
			r = xbuf_put(out, e, 2);
		} else if (log_is_control(cp)) {
			r = xbuf_putf(out, "\\u%04x", (unsigned)cp);
		} else {
			r = xbuf_put(out, p + i, n);
		}
		if (r < 0)
			return -ENOBUFS;
		i += n;
	}
	return xbuf_put(out, "\"", 1);
}

static int
put_json_field(struct xbuf *out, const char *name, const char *value)
{
	if (xbuf_putf(out, ",\"%s\":", name) < 0)
		return -ENOBUFS;
	return put_json_string(out, value);
}

int
xferlog_format_json(const struct xfer_session *s, const struct xfer_record *r,
                    const struct timespec *now, struct xbuf *out)
{
	static const char *const status[] = {"completed", "aborted", "failed"};
	bool transfer = r->op == XFER_OP_UPLOAD || r->op == XFER_OP_DOWNLOAD;
	struct tm tm;
	char when[64];
	time_t t = now->tv_sec;
	if (!gmtime_r(&t, &tm) || strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm) == 0)
		return -EINVAL;
	if (xbuf_putf(out, "{\"time\":\"%s.%03ldZ\"", when, now->tv_nsec / 1000000) < 0 ||
	    put_json_field(out, "account", s->account) < 0 ||
	    put_json_field(out, "remote_addr", s->addr) < 0 ||
	    xbuf_putf(out, ",\"remote_port\":%u", s->port) < 0 ||
	    put_json_field(out, "protocol", s->protocol) < 0 ||
	    xbuf_putf(out, ",\"session\":%u", s->session_id) < 0 ||
	    put_json_field(out, "operation", xfer_op_name(r->op)) < 0 ||
	    put_json_field(out, "path", r->path) < 0 ||
	    (r->target && put_json_field(out, "target", r->target) < 0) ||
	    (transfer &&
	     xbuf_putf(out, ",\"bytes\":%llu,\"duration\":%llu.%03llu",
	               (unsigned long long)r->bytes, (unsigned long long)(r->duration_us / 1000000),
	               (unsigned long long)(r->duration_us % 1000000 / 1000)) < 0) ||
	    (r->sha256 && put_json_field(out, "sha256", r->sha256) < 0) ||
	    put_json_field(out, "status", status[r->status]) < 0 ||
	    (r->reason && put_json_field(out, "reason", r->reason) < 0) ||
	    xbuf_put(out, "}\n", 2) < 0)
		return -ENOBUFS;
	return 0;
}

int
xferlog_append(const char *path, const void *data, size_t len)
{
	int fd =
	        open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0640);
	if (fd < 0)
		return -errno;
	int r = 0;
	ssize_t n;
	do
		n = write(fd, data, len);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		r = -errno;
	else if ((size_t)n != len)
		r = -EIO;
	close(fd);
	return r;
}
