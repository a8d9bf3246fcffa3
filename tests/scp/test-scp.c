/* SPDX-License-Identifier: BSD-2-Clause */
/* scp engine tests: the command-line parser, and the protocol byte for byte over a
 * scratch jail (sink and source, -r, -p, errors, hostile records, limits). */
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
#include "berth/scp_engine.h"
#include "berth/xmem.h"

/* ---- command line ---- */

static void
expect_paths(const char *cmdline, bool sink, const char *const *paths)
{
	struct scp_command c;
	const char *err = NULL;
	int r = scp_command_parse(cmdline, "/home/u", &c, &err);
	if (r != 0)
		fail_msg("%s: %s", cmdline, err ? err : "not scp");
	assert_int_equal(c.sink, sink);
	size_t n = 0;
	while (paths[n])
		n++;
	assert_int_equal(c.n_paths, n);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(c.paths[i], paths[i]);
	scp_command_free(&c);
}

static void
expect_refused(const char *cmdline, const char *why)
{
	struct scp_command c;
	const char *err = NULL;
	assert_int_equal(scp_command_parse(cmdline, "/", &c, &err), -EINVAL);
	assert_non_null(err);
	if (why && !strstr(err, why))
		fail_msg("%s: %s (expected %s)", cmdline, err, why);
}

static void
test_command_words(void **state)
{
	expect_paths("scp -t x", true, (const char *[]){"x", NULL});
	expect_paths("  scp   -v -r -p -d -t   dir/  ", true, (const char *[]){"dir/", NULL});
	expect_paths("scp -prt 'a b'", true, (const char *[]){"a b", NULL});
	expect_paths("scp -f \"a b\" c\\ d 'e'\"f\"g", false,
	             (const char *[]){"a b", "c d", "efg", NULL});
	expect_paths("scp -f 'x;touch /tmp/p'", false, (const char *[]){"x;touch /tmp/p", NULL});
	expect_paths("scp -f \"a\\\"b\\\\c\\$d\"", false, (const char *[]){"a\"b\\c$d", NULL});
	expect_paths("scp -t -- -name", true, (const char *[]){"-name", NULL});
	expect_paths("scp -t ~", true, (const char *[]){"/home/u", NULL});
	expect_paths("scp -t ~/in", true, (const char *[]){"/home/u/in", NULL});
	expect_paths("scp -t '~'", true, (const char *[]){"~", NULL});
	expect_paths("scp -t a~", true, (const char *[]){"a~", NULL});
	expect_paths("scp -f {a,b}", false, (const char *[]){"{a,b}", NULL});
}

static void
test_command_refusals(void **state)
{
	struct scp_command c;
	const char *err;
	assert_int_equal(scp_command_parse("ls -l", "/", &c, &err), 1);
	assert_int_equal(scp_command_parse("scpx -t a", "/", &c, &err), 1);
	assert_int_equal(scp_command_parse("/usr/bin/scp -t a", "/", &c, &err), 1);
	assert_true(scp_command_is_scp(" scp"));
	assert_false(scp_command_is_scp("scp;id"));
	expect_refused("scp -t x;id", "shell syntax");
	expect_refused("scp -t x|id", "shell syntax");
	expect_refused("scp -t x&", "shell syntax");
	expect_refused("scp -t $(id)", "shell syntax");
	expect_refused("scp -t `id`", "shell syntax");
	expect_refused("scp -t x>y", "shell syntax");
	expect_refused("scp -t (x)", "shell syntax");
	expect_refused("scp -t \"$HOME\"", "need a shell");
	expect_refused("scp -t \"`id`\"", "need a shell");
	expect_refused("scp -t a\nid", "shell syntax");
	expect_refused("scp -t #x", "comment");
	expect_refused("scp -t ~root", "~user");
	expect_refused("scp -t 'open", "unterminated");
	expect_refused("scp -t \"open", "unterminated");
	expect_refused("scp -t x\\", "backslash");
	expect_refused("scp -f -t x", "usage");
	expect_refused("scp x", "usage");
	expect_refused("scp -t", "ambiguous");
	expect_refused("scp -t a b", "ambiguous");
	expect_refused("scp -f", "no path");
	expect_refused("scp -z -t a", "unknown option");
	char *longcmd = xmalloc(SCP_MAX_CMD + 16);
	memset(longcmd, 'a', SCP_MAX_CMD + 15);
	memcpy(longcmd, "scp -t ", 7);
	longcmd[SCP_MAX_CMD + 15] = '\0';
	expect_refused(longcmd, "too long");
	free(longcmd);
}

static void
test_command_globs(void **state)
{
	struct scp_command c;
	const char *err;
	assert_int_equal(scp_command_parse("scp -f d/*.txt 'q*' x\\?y [ab] plain", "/", &c, &err),
	                 0);
	assert_int_equal(c.n_paths, 5);
	assert_string_equal(c.patterns[0], "d/*.txt");
	assert_null(c.patterns[1]); /* quoted: literal */
	assert_null(c.patterns[2]);
	assert_string_equal(c.patterns[3], "[ab]");
	assert_null(c.patterns[4]);
	scp_command_free(&c);
	/* A quoted glob character next to an active one is escaped for fnmatch. */
	assert_int_equal(scp_command_parse("scp -f 'a*'*", "/", &c, &err), 0);
	assert_string_equal(c.paths[0], "a**");
	assert_string_equal(c.patterns[0], "a\\**");
	scp_command_free(&c);
	/* No globbing for the sink's target. */
	assert_int_equal(scp_command_parse("scp -t *", "/", &c, &err), 0);
	assert_null(c.patterns[0]);
	scp_command_free(&c);
}

/* ---- the engine ---- */

struct fx {
	char dir[64];
	struct vfs *v;
	struct scp_engine *e;
	struct xbuf out; /* everything the engine sent */
	unsigned transfers, completed;
	uint64_t bytes;
};

static void
on_transfer(void *ud, const struct scp_transfer *t)
{
	struct fx *f = ud;
	f->transfers++;
	f->completed += t->completed;
	f->bytes += t->bytes;
}

static struct fx *
fx_new(const char *cmd, bool read_only)
{
	struct fx *f = xcalloc(1, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "/tmp/berth-scp-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	assert_int_equal(vfs_posix_new(f->dir, "/", 022, &f->v), 0);
	struct scp_engine_config cfg = {
	        .vfs = f->v,
	        .read_only = read_only,
	        .home = "/",
	        .transfer = on_transfer,
	        .userdata = f,
	};
	assert_int_equal(scp_engine_new(&cfg, cmd, &f->e), 0);
	xbuf_init(&f->out, 64 << 20);
	return f;
}

static void
fx_free(struct fx *f)
{
	scp_engine_free(f->e);
	vfs_free(f->v);
	char *cmd = xasprintf("rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	free(cmd);
	xbuf_deinit(&f->out);
	free(f);
}

/* Feed @len bytes (as room allows) and collect all output. */
static void
fx_io(struct fx *f, const void *data, size_t len)
{
	const uint8_t *p = data;
	for (int guard = 0; guard < 100000; guard++) {
		size_t room = scp_engine_input_room(f->e);
		size_t n = MIN(room, len);
		if (n) {
			assert_int_equal(scp_engine_feed(f->e, p, n), 0);
			p += n;
			len -= n;
		}
		assert_int_equal(scp_engine_process(f->e), 0);
		size_t ol;
		const uint8_t *o = scp_engine_output(f->e, &ol);
		if (ol) {
			assert_int_equal(xbuf_put(&f->out, o, ol), 0);
			scp_engine_output_consume(f->e, ol);
		}
		if (len == 0 && !ol && !n)
			return;
	}
	fail_msg("engine does not settle");
}

static void
fx_send(struct fx *f, const char *s)
{
	fx_io(f, s, strlen(s));
}

static void
fx_eof(struct fx *f)
{
	scp_engine_feed_eof(f->e);
	fx_io(f, NULL, 0);
}

/* The output so far as a string (NULs shown as '0'), then cleared. */
static char *
fx_take(struct fx *f)
{
	size_t n = xbuf_len(&f->out);
	char *s = xmalloc(n + 1);
	memcpy(s, xbuf_ptr(&f->out), n);
	for (size_t i = 0; i < n; i++)
		if (s[i] == '\0')
			s[i] = '0';
	s[n] = '\0';
	xbuf_reset(&f->out);
	return s;
}

static void
expect_out(struct fx *f, const char *want)
{
	char *got = fx_take(f);
	if (strcmp(got, want) != 0)
		fail_msg("output \"%s\", expected \"%s\"", got, want);
	free(got);
}

static void
expect_out_has(struct fx *f, const char *want)
{
	char *got = fx_take(f);
	if (!strstr(got, want))
		fail_msg("output \"%s\" lacks \"%s\"", got, want);
	free(got);
}

static int
status_of(struct fx *f)
{
	int st = -1;
	assert_true(scp_engine_done(f->e, &st));
	return st;
}

static char *
jail_file(struct fx *f, const char *rel, size_t *ret_len)
{
	char *p = xasprintf("%s/%s", f->dir, rel);
	FILE *fp = fopen(p, "rb");
	free(p);
	if (!fp)
		return NULL;
	char *buf = xmalloc(1 << 20);
	size_t n = fread(buf, 1, 1 << 20, fp);
	fclose(fp);
	buf[n] = '\0';
	*ret_len = n;
	return buf;
}

static mode_t
jail_mode(struct fx *f, const char *rel, time_t *ret_mtime)
{
	char *p = xasprintf("%s/%s", f->dir, rel);
	struct stat st;
	int r = stat(p, &st);
	free(p);
	assert_int_equal(r, 0);
	if (ret_mtime)
		*ret_mtime = st.st_mtime;
	return st.st_mode & 07777;
}

static void
test_sink_file(void **state)
{
	struct fx *f = fx_new("scp -t up.txt", false);
	fx_io(f, NULL, 0);
	expect_out(f, "0");
	fx_send(f, "C0644 5 ignored.txt\n");
	expect_out(f, "0");
	fx_io(f, "hello\0", 6);
	expect_out(f, "0");
	fx_eof(f);
	assert_int_equal(status_of(f), 0);
	size_t n;
	char *c = jail_file(f, "up.txt", &n);
	assert_non_null(c);
	assert_int_equal(n, 5);
	assert_memory_equal(c, "hello", 5);
	free(c);
	assert_int_equal(f->transfers, 1);
	assert_int_equal(f->completed, 1);
	fx_free(f);
}

static void
test_sink_overwrite_truncates(void **state)
{
	struct fx *f = fx_new("scp -t f", false);
	fx_io(f, NULL, 0);
	fx_send(f, "C0644 10 f\n");
	fx_io(f, "0123456789\0", 11);
	fx_send(f, "C0644 3 f\n");
	fx_io(f, "abc\0", 4);
	fx_eof(f);
	expect_out(f, "00000");
	size_t n;
	char *c = jail_file(f, "f", &n);
	assert_int_equal(n, 3);
	assert_memory_equal(c, "abc", 3);
	free(c);
	fx_free(f);
}

static void
test_sink_tree_preserve(void **state)
{
	struct fx *f = fx_new("scp -r -p -t .", false);
	fx_io(f, NULL, 0);
	fx_send(f, "T1000000000 0 1000000001 0\n");
	fx_send(f, "D0750 0 top\n");
	fx_send(f, "T981173106 0 981173106 0\n");
	fx_send(f, "C0600 2 a\n");
	fx_io(f, "hi\0", 3);
	fx_send(f, "D0700 0 sub\n");
	fx_send(f, "C0604 0 empty\n");
	fx_io(f, "\0", 1);
	fx_send(f, "E\n");
	fx_send(f, "E\n");
	fx_eof(f);
	expect_out(f, "00000000000");
	assert_int_equal(status_of(f), 0);
	time_t mt;
	assert_int_equal(jail_mode(f, "top", &mt), 0750);
	assert_int_equal(mt, 1000000000);
	assert_int_equal(jail_mode(f, "top/a", &mt), 0600);
	assert_int_equal(mt, 981173106);
	assert_int_equal(jail_mode(f, "top/sub", NULL), 0700);
	assert_int_equal(jail_mode(f, "top/sub/empty", NULL), 0604);
	fx_free(f);
}

static void
test_sink_umask_without_p(void **state)
{
	struct fx *f = fx_new("scp -r -t .", false);
	fx_io(f, NULL, 0);
	fx_send(f, "D0777 0 d\n");
	fx_send(f, "C0666 1 x\n");
	fx_io(f, "x\0", 2);
	fx_send(f, "C0444 1 ro\n"); /* created writable for the copy, then 0444 */
	fx_io(f, "y\0", 2);
	fx_send(f, "E\n");
	fx_eof(f);
	expect_out(f, "0000000");
	assert_int_equal(jail_mode(f, "d", NULL), 0755);
	assert_int_equal(jail_mode(f, "d/x", NULL), 0644);
	assert_int_equal(jail_mode(f, "d/ro", NULL), 0444);
	fx_free(f);
}

static void
test_sink_hostile_names(void **state)
{
	const char *bad[] = {"a/b", "..", ".", "", "a\x01z", "x\x7f", "/etc"};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct fx *f = fx_new("scp -r -t .", false);
		fx_io(f, NULL, 0);
		char *rec = xasprintf("C0644 1 %s\n", bad[i]);
		fx_send(f, rec);
		free(rec);
		expect_out_has(f, "\1scp: error: unexpected filename");
		assert_int_equal(status_of(f), 1);
		fx_free(f);
	}
	char *longname = xmalloc(SCP_MAX_NAME + 2);
	memset(longname, 'n', SCP_MAX_NAME + 1);
	longname[SCP_MAX_NAME + 1] = '\0';
	struct fx *f = fx_new("scp -t .", false);
	fx_io(f, NULL, 0);
	char *rec = xasprintf("C0644 1 %s\n", longname);
	fx_send(f, rec);
	expect_out_has(f, "unexpected filename");
	free(rec);
	free(longname);
	fx_free(f);
}

static void
test_sink_bad_records(void **state)
{
	const char *bad[] = {
	        "C064 1 f\n",
	        "C06480 1 f\n",
	        "C0644 -1 f\n",
	        "C0644 1f\n",
	        "C0644 18446744073709551616 f\n",
	        "C0644 9223372036854775808 f\n",
	        "C0644 x f\n",
	        "T1 0 1\n",
	        "T1 1000000 1 0\n",
	        "T1 0 1 0 \n",
	        "X junk\n",
	        "\n",
	        "D0755 0 d\n" /* without -r */,
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct fx *f = fx_new("scp -t .", false);
		fx_io(f, NULL, 0);
		fx_send(f, bad[i]);
		char *out = fx_take(f);
		if (strncmp(out, "0\1scp: ", 7) != 0)
			fail_msg("record %zu answered \"%s\"", i, out);
		free(out);
		assert_int_equal(status_of(f), 1);
		fx_free(f);
	}
	/* A NUL inside a record, and a record that never ends. */
	struct fx *f = fx_new("scp -t .", false);
	fx_io(f, NULL, 0);
	fx_io(f, "C0644 1 a\0b\n", 12);
	expect_out_has(f, "protocol error");
	fx_free(f);
	f = fx_new("scp -t .", false);
	fx_io(f, NULL, 0);
	char *line = xmalloc(SCP_MAX_LINE + 10);
	memset(line, 'C', SCP_MAX_LINE + 10);
	fx_io(f, line, SCP_MAX_LINE + 10);
	free(line);
	expect_out_has(f, "protocol error");
	assert_int_equal(status_of(f), 1);
	fx_free(f);
}

static void
test_sink_depth_limit(void **state)
{
	struct fx *f = fx_new("scp -r -t .", false);
	fx_io(f, NULL, 0);
	xbuf_reset(&f->out);
	for (int i = 0; i < SCP_MAX_DEPTH; i++)
		fx_send(f, "D0755 0 d\n");
	char *out = fx_take(f);
	assert_int_equal(strlen(out), SCP_MAX_DEPTH);
	free(out);
	fx_send(f, "D0755 0 d\n");
	expect_out_has(f, "nested deeper than 64");
	for (int i = 0; i < SCP_MAX_DEPTH; i++)
		fx_send(f, "E\n");
	fx_eof(f);
	assert_int_equal(status_of(f), 1);
	fx_free(f);
}

static void
test_sink_truncated(void **state)
{
	struct fx *f = fx_new("scp -t cut", false);
	fx_io(f, NULL, 0);
	fx_send(f, "C0644 100 cut\n");
	fx_send(f, "0123456789");
	fx_eof(f);
	assert_int_equal(status_of(f), 1);
	size_t n;
	char *c = jail_file(f, "cut", &n);
	assert_int_equal(n, 10); /* what arrived is kept */
	free(c);
	assert_int_equal(f->transfers, 1);
	assert_int_equal(f->completed, 0);
	fx_free(f);
}

static void
test_sink_errors_go_on(void **state)
{
	struct fx *f = fx_new("scp -r -t .", false);
	fx_io(f, NULL, 0);
	char *d = xasprintf("%s/isdir", f->dir);
	assert_int_equal(mkdir(d, 0755), 0);
	free(d);
	fx_send(f, "C0644 1 isdir\n"); /* a directory: refused, no data follows */
	expect_out_has(f, "isdir: Is a directory");
	fx_send(f, "C0644 1 ok\n");
	fx_io(f, "k\0", 2);
	expect_out(f, "00");
	fx_send(f, "\1scp: local read error\n"); /* the client's own complaint */
	fx_eof(f);
	assert_int_equal(status_of(f), 1);
	fx_free(f);
}

static void
test_sink_read_only(void **state)
{
	struct fx *f = fx_new("scp -t x", true);
	fx_io(f, NULL, 0);
	expect_out_has(f, "\1scp: x: Permission denied");
	assert_int_equal(status_of(f), 1);
	fx_free(f);
}

static void
test_parse_error_is_reported(void **state)
{
	struct fx *f = fx_new("scp -t x;touch /tmp/no", false);
	fx_io(f, NULL, 0);
	expect_out_has(f, "\1scp: shell syntax");
	assert_int_equal(status_of(f), 1);
	fx_free(f);
}

static void
write_jail(struct fx *f, const char *rel, const char *content)
{
	char *p = xasprintf("%s/%s", f->dir, rel);
	FILE *fp = fopen(p, "wb");
	assert_non_null(fp);
	fputs(content, fp);
	fclose(fp);
	free(p);
}

static void
test_source_file(void **state)
{
	struct fx *f = fx_new("scp -f a missing b", false);
	write_jail(f, "a", "alpha");
	write_jail(f, "b", "");
	fx_io(f, NULL, 0);
	expect_out(f, ""); /* waits for the sink's first \0 */
	fx_io(f, "\0", 1);
	expect_out(f, "C0644 5 a\n");
	fx_io(f, "\0", 1);
	expect_out(f, "alpha0");
	fx_io(f, "\0", 1);
	expect_out(f, "\1scp: missing: No such file or directory\nC0644 0 b\n");
	fx_io(f, "\0", 1);
	expect_out(f, "0");
	fx_io(f, "\0", 1);
	assert_int_equal(status_of(f), 1);
	assert_int_equal(f->transfers, 2);
	fx_free(f);
}

static void
test_source_tree_preserve_and_refusal(void **state)
{
	struct fx *f = fx_new("scp -r -p -f d", false);
	char *p = xasprintf("%s/d", f->dir);
	assert_int_equal(mkdir(p, 0750), 0);
	free(p);
	write_jail(f, "d/x", "12");
	p = xasprintf("%s/d/x", f->dir);
	assert_int_equal(chmod(p, 0640), 0);
	struct timespec ts[2] = {{.tv_sec = 1234567890}, {.tv_sec = 1234567891}};
	assert_int_equal(utimensat(AT_FDCWD, p, ts, 0), 0);
	free(p);
	fx_io(f, "\0", 1);
	char *out = fx_take(f);
	assert_int_equal(strncmp(out, "T", 1), 0); /* times of d first */
	free(out);
	fx_io(f, "\0", 1);
	expect_out(f, "D0750 0 d\n");
	fx_io(f, "\0", 1);
	expect_out(f, "T1234567891 0 1234567890 0\n");
	fx_io(f, "\0", 1);
	expect_out(f, "C0640 2 x\n");
	fx_io(f, "\1scp: x: Permission denied\n", 27); /* the sink refuses this file */
	expect_out(f, "E\n");
	fx_io(f, "\0", 1);
	assert_int_equal(status_of(f), 1);
	fx_free(f);
}

static void
test_source_not_regular_and_glob(void **state)
{
	struct fx *f = fx_new("scp -f d *.t 'q*' n?", false);
	char *p = xasprintf("%s/d", f->dir);
	assert_int_equal(mkdir(p, 0755), 0);
	free(p);
	write_jail(f, "one.t", "1");
	write_jail(f, "two.t", "22");
	write_jail(f, ".hidden.t", "h");
	fx_io(f, "\0", 1);
	/* d without -r, then the two matches in order, 'q*' literally, n? with no match. */
	expect_out(f, "\1scp: d: not a regular file\nC0644 1 one.t\n");
	fx_io(f, "\0", 1);
	expect_out(f, "10");
	fx_io(f, "\0", 1);
	expect_out(f, "C0644 2 two.t\n");
	fx_io(f, "\0", 1);
	expect_out(f, "220");
	fx_io(f, "\0", 1);
	expect_out(f, "\1scp: q*: No such file or directory\n"
	              "\1scp: n?: No such file or directory\n");
	assert_int_equal(status_of(f), 1);
	fx_free(f);
}

static void
test_source_peer_gone_and_fatal(void **state)
{
	struct fx *f = fx_new("scp -f a", false);
	write_jail(f, "a", "alpha");
	fx_io(f, "\0", 1);
	free(fx_take(f));
	fx_io(f, "\2scp: fatal\n", 12);
	assert_int_equal(status_of(f), 1);
	fx_free(f);
	f = fx_new("scp -f a", false);
	write_jail(f, "a", "alpha");
	fx_io(f, "\0", 1);
	fx_io(f, "Z", 1); /* not an answer */
	expect_out_has(f, "protocol error");
	assert_int_equal(status_of(f), 1);
	fx_free(f);
	f = fx_new("scp -f a", false);
	fx_eof(f);
	assert_int_equal(status_of(f), 1);
	fx_free(f);
}

static void
test_source_large_file_backpressure(void **state)
{
	struct fx *f = fx_new("scp -f big", false);
	char *p = xasprintf("%s/big", f->dir);
	FILE *fp = fopen(p, "wb");
	free(p);
	for (int i = 0; i < 3 << 20; i++)
		fputc(i & 0xff, fp);
	fclose(fp);
	fx_io(f, "\0", 1);
	free(fx_take(f));
	assert_int_equal(scp_engine_feed(f->e, "\0", 1), 0);
	/* Without a reader the engine stops at its bounded queue. */
	assert_int_equal(scp_engine_process(f->e), 0);
	size_t ol;
	(void)scp_engine_output(f->e, &ol);
	assert_true(ol > 0 && ol < (1 << 20));
	fx_io(f, NULL, 0);
	assert_int_equal(xbuf_len(&f->out), (3u << 20) + 1);
	for (size_t i = 0; i < 3u << 20; i++)
		if (xbuf_ptr(&f->out)[i] != (uint8_t)(i & 0xff))
			fail_msg("byte %zu", i);
	fx_free(f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_command_words),
	        cmocka_unit_test(test_command_refusals),
	        cmocka_unit_test(test_command_globs),
	        cmocka_unit_test(test_sink_file),
	        cmocka_unit_test(test_sink_overwrite_truncates),
	        cmocka_unit_test(test_sink_tree_preserve),
	        cmocka_unit_test(test_sink_umask_without_p),
	        cmocka_unit_test(test_sink_hostile_names),
	        cmocka_unit_test(test_sink_bad_records),
	        cmocka_unit_test(test_sink_depth_limit),
	        cmocka_unit_test(test_sink_truncated),
	        cmocka_unit_test(test_sink_errors_go_on),
	        cmocka_unit_test(test_sink_read_only),
	        cmocka_unit_test(test_parse_error_is_reported),
	        cmocka_unit_test(test_source_file),
	        cmocka_unit_test(test_source_tree_preserve_and_refusal),
	        cmocka_unit_test(test_source_not_regular_and_glob),
	        cmocka_unit_test(test_source_peer_gone_and_fatal),
	        cmocka_unit_test(test_source_large_file_backpressure),
	};
	umask(022);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
