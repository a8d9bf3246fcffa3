/* SPDX-License-Identifier: BSD-2-Clause */
/* Unit tests: log_escape() (the one escaping path of every log line), the transfer
 * record codec (worker -> monitor, hostile input), the xferlog / JSON lines and the
 * audit VFS decorator. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "berth/buf.h"
#include "berth/log.h"
#include "berth/vfs_audit.h"
#include "berth/xferlog.h"

static const char *
esc(const char *in, size_t len, unsigned flags)
{
	static char out[512];
	log_escape(out, sizeof(out), in, len, flags);
	return out;
}
#define ESC(s) esc((s), sizeof(s) - 1, 0)

static void
test_escape_controls(void **state)
{
	(void)state;
	assert_string_equal(ESC("plain name.txt"), "plain name.txt");
	assert_string_equal(ESC("a\nb"), "a\\x0ab");
	assert_string_equal(ESC("a\r\nFailed password for root"),
	                    "a\\x0d\\x0aFailed password for root");
	assert_string_equal(ESC("t\tab\x7f\x1b[31m"), "t\\x09ab\\x7f\\x1b[31m");
	assert_string_equal(ESC("back\\slash"), "back\\\\slash");
	/* the escape of a backslash followed by "x0a" is not the escape of LF */
	char lf[512];
	strcpy(lf, ESC("\n"));
	assert_string_not_equal(ESC("\\x0a"), lf);
	/* NUL inside the length is escaped too */
	assert_string_equal(esc("a\0b", 3, 0), "a\\x00b");
	assert_string_equal(esc("with space", 10, LOG_ESC_SPACE), "with_space");
}

static void
test_escape_utf8(void **state)
{
	(void)state;
	/* valid UTF-8 passes: é, €, 😀 */
	assert_string_equal(ESC("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"),
	                    "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
	/* invalid: stray continuation, overlong '/', truncated, surrogate, > U+10FFFF */
	assert_string_equal(ESC("\x80"), "\\x80");
	assert_string_equal(ESC("\xc0\xaf"), "\\xc0\\xaf");
	assert_string_equal(ESC("\xe2\x82"), "\\xe2\\x82");
	assert_string_equal(ESC("\xed\xa0\x80"), "\\xed\\xa0\\x80");
	assert_string_equal(ESC("\xf4\x90\x80\x80"), "\\xf4\\x90\\x80\\x80");
	assert_string_equal(ESC("\xff"), "\\xff");
	/* C1 (NEL U+0085) and the Unicode line separators are controls */
	assert_string_equal(ESC("a\xc2\x85"
	                        "b"),
	                    "a\\xc2\\x85b");
	assert_string_equal(ESC("\xe2\x80\xa8\xe2\x80\xa9"), "\\xe2\\x80\\xa8\\xe2\\x80\\xa9");
}

static void
test_escape_truncation(void **state)
{
	(void)state;
	char out[8];
	/* "ab\x0a..." needs 6 + more: never half an escape */
	size_t n = log_escape(out, sizeof(out), "ab\ncd\n", 6, 0);
	assert_int_equal(n, 12);
	assert_string_equal(out, "ab\\x0ac"); /* 7 of 12, the NUL in the 8th byte */
	n = log_escape(out, 6, "ab\ncd", 5, 0);
	assert_string_equal(out, "ab"); /* "ab\x0a" would need 7 with the NUL */
	/* never half a UTF-8 character */
	n = log_escape(out, 4, "a\xe2\x82\xac", 4, 0);
	assert_string_equal(out, "a");
	assert_int_equal(n, 4);
	n = log_escape(out, 0, "abc", 3, 0);
	assert_int_equal(n, 3);
}

static void
roundtrip(const struct xfer_record *in, struct xfer_record *out, char *storage)
{
	_cleanup_xbuf_ struct xbuf b = XBUF_NULL;
	xbuf_init(&b, XFER_RECORD_MAX);
	assert_int_equal(xfer_record_encode(in, &b), 0);
	struct xbuf v;
	xbuf_view_init(&v, xbuf_ptr(&b), xbuf_len(&b));
	assert_int_equal(xfer_record_decode(&v, out, storage, XFER_RECORD_MAX), 0);
}

#define SHA "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static void
test_record_codec(void **state)
{
	(void)state;
	static char storage[XFER_RECORD_MAX];
	struct xfer_record r = {.op = XFER_OP_UPLOAD,
	                        .status = XFER_ABORTED,
	                        .bytes = 1234567890123ULL,
	                        .duration_us = 1500000,
	                        .path = "/in/a b.csv",
	                        .sha256 = SHA,
	                        .reason = "data connection lost"};
	struct xfer_record d;
	roundtrip(&r, &d, storage);
	assert_int_equal(d.op, XFER_OP_UPLOAD);
	assert_int_equal(d.status, XFER_ABORTED);
	assert_true(d.bytes == r.bytes && d.duration_us == r.duration_us);
	assert_string_equal(d.path, r.path);
	assert_null(d.target);
	assert_string_equal(d.sha256, SHA);
	assert_string_equal(d.reason, r.reason);
	/* a target only travels with a rename */
	r = (struct xfer_record){
	        .op = XFER_OP_DELETE, .path = "/x", .target = "/ignored", .status = XFER_COMPLETED};
	roundtrip(&r, &d, storage);
	assert_null(d.target);
	r.op = XFER_OP_RENAME;
	roundtrip(&r, &d, storage);
	assert_string_equal(d.target, "/ignored");
	/* an over-long path is cut at a character boundary */
	char *longp = malloc(XFER_PATH_MAX + 10);
	memset(longp, 'a', XFER_PATH_MAX + 9);
	memcpy(longp + XFER_PATH_MAX - 1, "\xe2\x82\xac", 3); /* € across the limit */
	longp[XFER_PATH_MAX + 9] = '\0';
	r = (struct xfer_record){.op = XFER_OP_DOWNLOAD, .path = longp};
	roundtrip(&r, &d, storage);
	assert_int_equal(strlen(d.path), XFER_PATH_MAX - 1);
	free(longp);
	/* nothing to encode without a path or with a bad op */
	_cleanup_xbuf_ struct xbuf b = XBUF_NULL;
	xbuf_init(&b, XFER_RECORD_MAX);
	r = (struct xfer_record){.op = XFER_OP_UPLOAD};
	assert_int_equal(xfer_record_encode(&r, &b), -EINVAL);
	r = (struct xfer_record){.op = 99, .path = "/x"};
	assert_int_equal(xfer_record_encode(&r, &b), -EINVAL);
}

/* A hand-built record: version, op, status, bytes, duration, 4 strings. */
static int
decode_raw(uint8_t ver, uint8_t op, uint8_t status, const char *path, size_t path_len,
           const char *target, const char *sha, const char *reason, bool trailing)
{
	static char storage[XFER_RECORD_MAX];
	_cleanup_xbuf_ struct xbuf b = XBUF_NULL;
	xbuf_init(&b, 4 * XFER_RECORD_MAX);
	assert_int_equal(xbuf_put_u8(&b, ver), 0);
	assert_int_equal(xbuf_put_u8(&b, op), 0);
	assert_int_equal(xbuf_put_u8(&b, status), 0);
	assert_int_equal(xbuf_put_u64(&b, 1), 0);
	assert_int_equal(xbuf_put_u64(&b, 2), 0);
	assert_int_equal(xbuf_put_string(&b, path, path_len), 0);
	assert_int_equal(xbuf_put_cstring(&b, target), 0);
	assert_int_equal(xbuf_put_cstring(&b, sha), 0);
	assert_int_equal(xbuf_put_cstring(&b, reason), 0);
	if (trailing)
		assert_int_equal(xbuf_put_u8(&b, 0), 0);
	struct xbuf v;
	struct xfer_record r;
	xbuf_view_init(&v, xbuf_ptr(&b), xbuf_len(&b));
	return xfer_record_decode(&v, &r, storage, sizeof(storage));
}

static void
test_record_hostile(void **state)
{
	(void)state;
	assert_int_equal(decode_raw(1, 1, 0, "/a", 2, "", SHA, "", false), 0);
	assert_int_equal(decode_raw(2, 1, 0, "/a", 2, "", "", "", false), -EBADMSG); /* version */
	assert_int_equal(decode_raw(1, 0, 0, "/a", 2, "", "", "", false), -EBADMSG); /* op */
	assert_int_equal(decode_raw(1, 7, 0, "/a", 2, "", "", "", false), -EBADMSG);
	assert_int_equal(decode_raw(1, 1, 3, "/a", 2, "", "", "", false), -EBADMSG); /* status */
	assert_int_equal(decode_raw(1, 1, 0, "", 0, "", "", "", false), -EBADMSG);   /* no path */
	assert_int_equal(decode_raw(1, 1, 0, "/a\0b", 4, "", "", "", false), -EBADMSG); /* NUL */
	assert_int_equal(decode_raw(1, 1, 0, "/a", 2, "/t", "", "", false), -EBADMSG);  /* target */
	assert_int_equal(decode_raw(1, 1, 0, "/a", 2, "", "abc", "", false), -EBADMSG); /* sha */
	assert_int_equal(decode_raw(1, 1, 0, "/a", 2, "", SHA "\n", "", false), -EBADMSG);
	assert_int_equal(decode_raw(1, 1, 0, "/a", 2, "", "", "", true), -EBADMSG); /* trailing */
	char *big = malloc(XFER_PATH_MAX + 1);
	memset(big, 'a', XFER_PATH_MAX + 1);
	assert_int_equal(decode_raw(1, 1, 0, big, XFER_PATH_MAX + 1, "", "", "", false), -EBADMSG);
	assert_int_equal(decode_raw(1, 1, 0, big, XFER_PATH_MAX, "", "", "", false), 0);
	free(big);
	char reason[XFER_REASON_MAX + 2];
	memset(reason, 'r', sizeof(reason) - 1);
	reason[sizeof(reason) - 1] = '\0';
	assert_int_equal(decode_raw(1, 1, 0, "/a", 2, "", "", reason, false), -EBADMSG);
	/* every truncation of a valid record is refused */
	_cleanup_xbuf_ struct xbuf b = XBUF_NULL;
	xbuf_init(&b, XFER_RECORD_MAX);
	struct xfer_record r = {.op = XFER_OP_RENAME, .path = "/a", .target = "/b", .reason = "x"};
	assert_int_equal(xfer_record_encode(&r, &b), 0);
	static char storage[XFER_RECORD_MAX];
	for (size_t n = 0; n < xbuf_len(&b); n++) {
		struct xbuf v;
		struct xfer_record d;
		xbuf_view_init(&v, xbuf_ptr(&b), n);
		assert_int_equal(xfer_record_decode(&v, &d, storage, sizeof(storage)), -EBADMSG);
	}
}

static const char *
line(int (*fmt)(const struct xfer_session *, const struct xfer_record *, const struct timespec *,
                struct xbuf *),
     const struct xfer_session *s, const struct xfer_record *r, int *ret)
{
	static char text[4 * XFER_RECORD_MAX];
	struct timespec ts = {.tv_sec = 1796151796, .tv_nsec = 638000000}; /* 2026-12-01 */
	_cleanup_xbuf_ struct xbuf b = XBUF_NULL;
	xbuf_init(&b, sizeof(text) - 1);
	*ret = fmt(s, r, &ts, &b);
	memcpy(text, xbuf_ptr(&b), xbuf_len(&b));
	text[xbuf_len(&b)] = '\0';
	return text;
}

static void
test_xferlog_line(void **state)
{
	(void)state;
	setenv("TZ", "UTC", 1);
	int r;
	struct xfer_session s = {.account = "de mo\n",
	                         .addr = "192.0.2.7",
	                         .port = 5555,
	                         .protocol = "ftps",
	                         .session_id = 42};
	struct xfer_record rec = {.op = XFER_OP_UPLOAD,
	                          .status = XFER_COMPLETED,
	                          .bytes = 100,
	                          .duration_us = 1200000,
	                          .path = "/in/a b\r\nc.csv"};
	const char *l = line(xferlog_format, &s, &rec, &r);
	assert_int_equal(r, 0);
	assert_string_equal(l,
	                    "Tue Dec  1 19:03:16 2026 2 192.0.2.7 100 /in/a_b\\x0d\\x0ac.csv b _ i "
	                    "r de_mo\\x0a ftp 0 * c\n");
	rec.op = XFER_OP_DOWNLOAD;
	rec.status = XFER_ABORTED;
	rec.duration_us = 0;
	s.protocol = "sftp";
	l = line(xferlog_format, &s, &rec, &r);
	assert_non_null(strstr(
	        l, " 1 192.0.2.7 100 /in/a_b\\x0d\\x0ac.csv b _ o r de_mo\\x0a sftp 0 * i\n"));
	rec.op = XFER_OP_DELETE;
	rec.status = XFER_COMPLETED;
	l = line(xferlog_format, &s, &rec, &r);
	assert_non_null(strstr(l, " b _ d r "));
	rec.status = XFER_FAILED;
	line(xferlog_format, &s, &rec, &r);
	assert_int_equal(r, 1); /* failed deletes, renames, mkdir: not in xferlog */
	rec.op = XFER_OP_RENAME;
	rec.status = XFER_COMPLETED;
	line(xferlog_format, &s, &rec, &r);
	assert_int_equal(r, 1);
}

static void
test_json_line(void **state)
{
	(void)state;
	int r;
	struct xfer_session s = {.account = "demo\"\\",
	                         .addr = "2001:db8::1",
	                         .port = 5555,
	                         .protocol = "sftp",
	                         .session_id = 42};
	struct xfer_record rec = {.op = XFER_OP_UPLOAD,
	                          .status = XFER_ABORTED,
	                          .bytes = 100,
	                          .duration_us = 1234567,
	                          .path = "/a\n\x01\xc2\x85\xe2\x80\xa8\xff\xc3\xa9",
	                          .sha256 = SHA,
	                          .reason = "session ended"};
	const char *l = line(xferlog_format_json, &s, &rec, &r);
	assert_int_equal(r, 0);
	assert_string_equal(l,
	                    "{\"time\":\"2026-12-01T19:03:16.638Z\",\"account\":\"demo\\\"\\\\\","
	                    "\"remote_addr\":\"2001:db8::1\",\"remote_port\":5555,"
	                    "\"protocol\":\"sftp\",\"session\":42,\"operation\":\"upload\","
	                    "\"path\":\"/a\\n\\u0001\\u0085\\u2028\\\\xff\xc3\xa9\","
	                    "\"bytes\":100,\"duration\":1.234,\"sha256\":\"" SHA "\","
	                    "\"status\":\"aborted\",\"reason\":\"session ended\"}\n");
	rec = (struct xfer_record){.op = XFER_OP_RENAME,
	                           .status = XFER_FAILED,
	                           .path = "/a",
	                           .target = "/b",
	                           .reason = "Permission denied"};
	l = line(xferlog_format_json, &s, &rec, &r);
	assert_non_null(strstr(l, "\"operation\":\"rename\",\"path\":\"/a\",\"target\":\"/b\","
	                          "\"status\":\"failed\",\"reason\":\"Permission denied\"}\n"));
	assert_null(strstr(l, "bytes"));
}

struct seen {
	char text[8][128];
	size_t n;
};

static void
on_op(void *userdata, enum vfs_audit_op op, const char *path, const char *target, int result)
{
	struct seen *s = userdata;
	static const char *const names[] = {"remove", "rename", "mkdir", "rmdir"};
	assert_true(s->n < 8);
	snprintf(s->text[s->n++], sizeof(s->text[0]), "%s %s %s %d", names[op], path,
	         target ? target : "-", result);
}

/* The audit decorator reports namespace operations with absolute paths and results;
 * files opened through it are the inner VFS's. */
static void
test_vfs_audit(void **state)
{
	(void)state;
	char dir[] = "/tmp/test-xferlog.XXXXXX";
	assert_non_null(mkdtemp(dir));
	struct vfs *posix = NULL, *v = NULL;
	assert_int_equal(vfs_posix_new(dir, "/", 022, &posix), 0);
	struct seen seen = {0};
	assert_int_equal(vfs_audit_wrap(posix, on_op, &seen, &v), 0);
	assert_int_equal(vfs_mkdir(v, "/d", 0755), 0);
	assert_int_equal(vfs_chdir(v, "/d"), 0);
	struct vfs_file *f = NULL;
	assert_int_equal(vfs_open(v, "a", VFS_O_WRITE | VFS_O_CREAT, 0644, &f), 0);
	assert_ptr_equal(f->vfs, posix);
	assert_int_equal(vfs_close(f), 0);
	assert_int_equal(vfs_rename(v, "a", "/d/b c", 0), 0);
	assert_int_equal(vfs_remove(v, "b c"), 0);
	assert_int_equal(vfs_remove(v, "missing"), -ENOENT);
	assert_int_equal(vfs_chdir(v, "/"), 0);
	assert_int_equal(vfs_rmdir(v, "d"), 0);
	assert_int_equal(seen.n, 5);
	assert_string_equal(seen.text[0], "mkdir /d - 0");
	assert_string_equal(seen.text[1], "rename /d/a /d/b c 0");
	assert_string_equal(seen.text[2], "remove /d/b c - 0");
	char want[64];
	snprintf(want, sizeof(want), "remove /d/missing - %d", -ENOENT);
	assert_string_equal(seen.text[3], want);
	assert_string_equal(seen.text[4], "rmdir /d - 0");
	vfs_free(v);
	assert_int_equal(rmdir(dir), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_escape_controls),   cmocka_unit_test(test_escape_utf8),
	        cmocka_unit_test(test_escape_truncation), cmocka_unit_test(test_record_codec),
	        cmocka_unit_test(test_record_hostile),    cmocka_unit_test(test_xferlog_line),
	        cmocka_unit_test(test_json_line),         cmocka_unit_test(test_vfs_audit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
