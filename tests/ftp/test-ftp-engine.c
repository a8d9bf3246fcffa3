/* SPDX-License-Identifier: BSD-2-Clause */
/* FTP engine tests: feed byte streams, assert the exact reply bytes; transfers run
 * through the in-memory driver over a real jail (vfs_posix_new on a temp directory). */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "berth/common.h"
#include "berth/ftp_engine.h"
#include "berth/xmem.h"
#include "fake-driver.h"

#define T2020 1577880000 /* 2020-01-01 12:00:00 UTC */

struct fx {
	char dir[64];
	struct vfs *posix;
	struct fault_vfs fault;
	struct ftp_engine_config cfg;
	struct ftp_engine *e;
	struct fake_driver d;
	unsigned ntransfers;
	struct ftp_transfer last;
	char last_path[512], last_reason[128];
};

static void
on_transfer(void *userdata, const struct ftp_transfer *t)
{
	struct fx *fx = userdata;
	fx->ntransfers++;
	fx->last = *t;
	snprintf(fx->last_path, sizeof(fx->last_path), "%s", t->path);
	snprintf(fx->last_reason, sizeof(fx->last_reason), "%s", t->reason ? t->reason : "");
	fx->last.path = fx->last_path;
	fx->last.reason = t->reason ? fx->last_reason : NULL;
}

static void
set_addr(struct sockaddr_storage *ss, const char *ip, uint16_t port)
{
	memset(ss, 0, sizeof(*ss));
	if (strchr(ip, ':')) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		assert_int_equal(inet_pton(AF_INET6, ip, &s6->sin6_addr), 1);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		assert_int_equal(inet_pton(AF_INET, ip, &s4->sin_addr), 1);
	}
}

typedef void (*tweak_fn)(struct fx *fx);

static const struct ftp_session_state tls_state = {
        .tls = true, .pbsz = true, .prot_p = true, .mlst_facts = FTP_FACTS_ALL};

/* @session: a logged-in engine over a fresh jail (TLS, PBSZ 0, PROT P already done). */
static struct fx *
fx_new(bool session, tweak_fn tweak)
{
	struct fx *fx = xcalloc(1, sizeof(*fx));
	fx->cfg = (struct ftp_engine_config){
	        .tls_available = true,
	        .user = "tester",
	        .group = "testers",
	        .uid = getuid(),
	        .gid = getgid(),
	        .transfer = on_transfer,
	        .userdata = fx,
	};
	set_addr(&fx->cfg.peer, "127.0.0.1", 40000);
	set_addr(&fx->cfg.local, "127.0.0.1", 21);
	if (session) {
		snprintf(fx->dir, sizeof(fx->dir), "/tmp/berth-ftp-XXXXXX");
		assert_non_null(mkdtemp(fx->dir));
		assert_int_equal(vfs_posix_new(fx->dir, "/", 022, &fx->posix), 0);
		fault_vfs_init(&fx->fault, fx->posix);
		fx->cfg.vfs = &fx->fault.base;
		fx->cfg.state = &tls_state;
	}
	if (tweak)
		tweak(fx);
	assert_int_equal(ftp_engine_new(&fx->cfg, &fx->e), 0);
	fake_init(&fx->d, fx->e);
	return fx;
}

static void
fx_free(struct fx *fx)
{
	fake_deinit(&fx->d);
	ftp_engine_free(fx->e);
	if (fx->posix) {
		vfs_free(fx->posix);
		char *cmd = xasprintf("rm -rf '%s'", fx->dir);
		assert_int_equal(system(cmd), 0);
		free(cmd);
	}
	free(fx);
}

static void
run(struct fx *fx, const void *in, size_t len, const char *want)
{
	assert_int_equal(fake_run(&fx->d, in, len), 0);
	_cleanup_free_ char *got = fake_take_replies(&fx->d);
	assert_string_equal(got, want);
}

static void
expect(struct fx *fx, const char *in, const char *want)
{
	run(fx, in, strlen(in), want);
}

static char *
host_path(struct fx *fx, const char *name)
{
	return xasprintf("%s/%s", fx->dir, name);
}

static void
write_host(struct fx *fx, const char *name, const void *data, size_t len)
{
	_cleanup_free_ char *p = host_path(fx, name);
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
	assert_int_equal(chmod(p, 0644), 0);
}

static char *
read_host(struct fx *fx, const char *name, size_t *ret_len)
{
	_cleanup_free_ char *p = host_path(fx, name);
	char *buf = NULL;
	size_t len = 0;
	FILE *f = fopen(p, "rb");
	assert_non_null(f);
	char chunk[4096];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		buf = xreallocarray(buf, len + n + 1, 1);
		memcpy(buf + len, chunk, n);
		len += n;
	}
	fclose(f);
	if (!buf)
		buf = xcalloc(1, 1);
	buf[len] = '\0';
	*ret_len = len;
	return buf;
}

static void
set_mtime(struct fx *fx, const char *name, time_t t)
{
	_cleanup_free_ char *p = host_path(fx, name);
	struct timespec ts[2] = {{.tv_sec = t}, {.tv_sec = t}};
	assert_int_equal(utimensat(AT_FDCWD, p, ts, AT_SYMLINK_NOFOLLOW), 0);
}

static const char *
download(struct fx *fx)
{
	assert_int_equal(xbuf_put_u8(&fx->d.download, 0), 0);
	(void)xbuf_trim_tail(&fx->d.download, 1);
	return (const char *)xbuf_ptr(&fx->d.download);
}

static void
step_process(struct fx *fx)
{
	assert_int_equal(ftp_engine_process(fx->e), 0);
}

static char *
take_output(struct fx *fx)
{
	size_t n;
	const uint8_t *p = ftp_engine_output(fx->e, &n);
	char *s = xstrndup((const char *)p, n);
	ftp_engine_output_consume(fx->e, n);
	return s;
}

static void
expect_output(struct fx *fx, const char *want)
{
	_cleanup_free_ char *got = take_output(fx);
	assert_string_equal(got, want);
}

static enum ftp_action_type
next_action(struct fx *fx)
{
	struct ftp_action a;
	return ftp_engine_next_action(fx->e, &a) ? a.type : FTP_ACT_NONE;
}

#define GREETING "220 berth FTP server ready.\r\n"
#define PASV_OK  "227 Entering Passive Mode (127,0,0,1,195,80).\r\n"

/* ---------------------------------------------------------------- pre-login ---- */

static void
test_prelogin_basics(void **state)
{
	struct fx *fx = fx_new(false, NULL);
	expect(fx, "", GREETING);
	expect(fx, "SYST\r\n", "215 UNIX Type: L8\r\n");
	expect(fx, "NOOP\r\nnoop\n", "200 NOOP ok.\r\n200 NOOP ok.\r\n");
	expect(fx, "OPTS UTF8 ON\r\n", "200 Always in UTF8 mode.\r\n");
	expect(fx, "OPTS FOO\r\n", "501 Option not understood.\r\n");
	expect(fx, "HOST ftp.example.com\r\n", "220 Host accepted.\r\n");
	expect(fx, "FEAT\r\n",
	       "211-Features:\r\n"
	       " AUTH TLS\r\n"
	       " EPRT\r\n"
	       " EPSV\r\n"
	       " HOST\r\n"
	       " MDTM\r\n"
	       " MFMT\r\n"
	       " MLST type*;size*;modify*;perm*;unique*;UNIX.mode*;\r\n"
	       " PBSZ\r\n"
	       " PROT\r\n"
	       " REST STREAM\r\n"
	       " SIZE\r\n"
	       " TVFS\r\n"
	       " UTF8\r\n"
	       "211 End\r\n");
	expect(fx, "STAT\r\n",
	       "211-FTP server status:\r\n"
	       "     Connected to 127.0.0.1\r\n"
	       "     Not logged in\r\n"
	       "     TYPE: BINARY\r\n"
	       "     Control connection: plain\r\n"
	       "     Data connections: clear\r\n"
	       "211 End of status\r\n");
	expect(fx, "HELP\r\n",
	       "214-The following commands are recognized.\r\n"
	       " AUTH FEAT HELP HOST NOOP OPTS PASS PBSZ PROT QUIT STAT SYST USER\r\n"
	       "214 Help OK.\r\n");
	expect(fx, "QUIT\r\nNOOP\r\n", "221 Goodbye.\r\n");
	assert_true(fx->d.closed);
	/* Finished: more input is dropped. */
	assert_int_equal(ftp_engine_feed(fx->e, "NOOP\r\n", 6), 0);
	step_process(fx);
	expect_output(fx, "");
	fx_free(fx);
}

static void
test_prelogin_gating(void **state)
{
	struct fx *fx = fx_new(false, NULL);
	expect(fx, "", GREETING);
	static const char *const gated[] = {"LIST",
	                                    "RETR x",
	                                    "STOR x",
	                                    "CWD /",
	                                    "PWD",
	                                    "PASV",
	                                    "PORT 127,0,0,1,4,1",
	                                    "SITE CHMOD 777 x"};
	for (size_t i = 0; i < ARRAY_SIZE(gated); i++) {
		_cleanup_free_ char *line = xasprintf("%s\r\n", gated[i]);
		expect(fx, line, "530 Please login with USER and PASS.\r\n");
	}
	fx_free(fx);

	fx = fx_new(false, NULL);
	expect(fx, "", GREETING);
	expect(fx, "STAT /\r\n", "530 Please login with USER and PASS.\r\n");
	expect(fx, "CCC\r\n", "530 Please login with USER and PASS.\r\n");
	fx_free(fx);
}

static void
test_junk_limit(void **state)
{
	struct fx *fx = fx_new(false, NULL);
	expect(fx, "", GREETING);
	for (int i = 0; i < FTP_DEFAULT_MAX_JUNK - 1; i++)
		expect(fx, "XYZZY\r\n", "500 Unknown command.\r\n");
	assert_false(fx->d.closed);
	assert_false(ftp_engine_violated(fx->e));
	expect(fx, "GET / HTTP/1.1\r\nNOOP\r\n",
	       "500 Unknown command.\r\n"
	       "421 Too many invalid commands, closing control connection.\r\n");
	assert_true(fx->d.closed);
	assert_true(ftp_engine_violated(fx->e)); /* scored by the defender */
	fx_free(fx);
}

static void
tweak_five_commands(struct fx *fx)
{
	fx->cfg.max_prelogin_commands = 5;
}

static void
test_prelogin_command_limit(void **state)
{
	struct fx *fx = fx_new(false, tweak_five_commands);
	expect(fx, "", GREETING);
	expect(fx, "NOOP\r\nNOOP\r\nNOOP\r\nNOOP\r\nNOOP\r\n",
	       "200 NOOP ok.\r\n200 NOOP ok.\r\n200 NOOP ok.\r\n200 NOOP ok.\r\n200 NOOP ok.\r\n");
	expect(fx, "NOOP\r\n",
	       "421 Too many commands before login, closing control connection.\r\n");
	assert_true(fx->d.closed);
	fx_free(fx);
}

static void
tweak_short_lines(struct fx *fx)
{
	fx->cfg.max_line = 16;
}

static void
test_overlong_lines(void **state)
{
	struct fx *fx = fx_new(false, tweak_short_lines);
	expect(fx, "", GREETING);
	/* 16 bytes is the limit, 17 is refused; the session goes on. */
	expect(fx, "NOOP 12345678901\r\n", "200 NOOP ok.\r\n");
	expect(fx, "NOOP 123456789012\r\nNOOP\r\n",
	       "500 Command line too long.\r\n200 NOOP ok.\r\n");
	/* A line that never ends: answered once, dropped up to its LF, memory flat. */
	char junk[200];
	memset(junk, 'A', sizeof(junk));
	for (int i = 0; i < 20; i++) {
		size_t room = ftp_engine_input_room(fx->e);
		assert_true(room <= 2 * (16 + 2));
		assert_int_equal(ftp_engine_feed(fx->e, junk, MIN(room, sizeof(junk))), 0);
		step_process(fx);
		size_t pending;
		(void)ftp_engine_pending_input(fx->e, &pending);
		assert_true(pending <= 17);
	}
	expect_output(fx, "500 Command line too long.\r\n");
	expect(fx, "AAAA\r\nNOOP\r\n", "200 NOOP ok.\r\n");
	assert_int_equal(ftp_engine_feed(fx->e, junk, 1000), -ENOBUFS);
	fx_free(fx);
}

static void
test_telnet_and_control_bytes(void **state)
{
	struct fx *fx = fx_new(false, NULL);
	expect(fx, "", GREETING);
	/* IAC IP, IAC WILL ECHO, IAC DM, IAC followed by a plain byte. */
	static const char iac[] =
	        "NO\xff\xf4OP\r\n\xff\xfb\x01NOOP\r\n\xff\xf2NOOP\r\nN\xffOOP\r\n";
	run(fx, iac, sizeof(iac) - 1,
	    "200 NOOP ok.\r\n200 NOOP ok.\r\n200 NOOP ok.\r\n200 NOOP ok.\r\n");
	/* A sequence split across feeds. */
	run(fx, "NO\xff", 3, "");
	run(fx, "\xfb", 1, "");
	run(fx, "\x18OP\r\n", 5, "200 NOOP ok.\r\n");
	/* CR or NUL inside a line, RFC 959's CR NUL included: refused. */
	expect(fx, "NOOP\rx\r\n", "501 CR and NUL are not allowed in commands.\r\n");
	run(fx, "NO\0OP\r\n", 7, "501 CR and NUL are not allowed in commands.\r\n");
	run(fx, "USER a\r\0b\r\n", 11, "501 CR and NUL are not allowed in commands.\r\n");
	/* An empty line and a verb with digits are unknown commands. */
	expect(fx, "\r\nNO0P\r\n", "500 Unknown command.\r\n500 Unknown command.\r\n");
	fx_free(fx);
}

static void
tweak_plain(struct fx *fx)
{
	fx->cfg.allow_plain_login = true;
}

static void
test_iac_iac_is_literal(void **state)
{
	struct fx *fx = fx_new(false, tweak_plain);
	expect(fx, "", GREETING);
	static const char in[] = "USER a\xff\xff"
	                         "b\r\nPASS p\r\n";
	fx->d.login_result = FTP_LOGIN_FAILED;
	run(fx, in, sizeof(in) - 1, "331 Please specify the password.\r\n530 Login incorrect.\r\n");
	assert_string_equal(fx->d.user, "a\xff"
	                                "b");
	fx_free(fx);
}

static void
test_tls_required_for_login(void **state)
{
	struct fx *fx = fx_new(false, NULL);
	expect(fx, "", GREETING);
	expect(fx, "USER bob\r\n", "530 Login requires TLS: send AUTH TLS first.\r\n");
	expect(fx, "PASS secret\r\n", "530 Login requires TLS: send AUTH TLS first.\r\n");
	expect(fx, "PBSZ 0\r\n", "503 PBSZ requires a protected control connection.\r\n");
	expect(fx, "PROT P\r\n", "503 PROT requires a protected control connection.\r\n");
	assert_int_equal(fx->d.n_actions, 0);
	fx_free(fx);

	/* A listener without a certificate. */
	fx = fx_new(false, tweak_plain);
	fx->cfg.tls_available = false;
	ftp_engine_free(fx->e);
	assert_int_equal(ftp_engine_new(&fx->cfg, &fx->e), 0);
	fx->d.e = fx->e;
	expect(fx, "", GREETING);
	expect(fx, "AUTH TLS\r\n", "502 AUTH not available.\r\n");
	expect(fx, "USER bob\r\n", "331 Please specify the password.\r\n");
	fx_free(fx);
}

static void
test_auth_tls_discards_pipelined_plaintext(void **state)
{
	struct fx *fx = fx_new(false, NULL);
	expect(fx, "", GREETING);
	/* CVE-2011-0411 class: commands in the same read as AUTH TLS never run. */
	expect(fx, "AUTH TLS\r\nUSER evil\r\nPASS x\r\nQUIT\r\n",
	       "234 Proceed with negotiation.\r\n");
	assert_int_equal(fx->d.n_actions, 1); /* START_TLS only: no LOGIN */
	assert_string_equal(fx->d.user, "");
	assert_false(fx->d.closed);
	size_t pending;
	(void)ftp_engine_pending_input(fx->e, &pending);
	assert_int_equal(pending, 0);
	expect(fx, "AUTH TLS\r\n", "503 Already using TLS.\r\n");
	expect(fx, "USER good\r\n", "331 Please specify the password.\r\n");
	struct ftp_session_state st;
	ftp_engine_export_state(fx->e, &st);
	assert_true(st.tls);
	fx_free(fx);

	/* Bytes fed while the handshake is outstanding are dropped as well. */
	fx = fx_new(false, NULL);
	expect(fx, "", GREETING);
	assert_int_equal(ftp_engine_feed(fx->e, "auth tls\r\n", 10), 0);
	step_process(fx);
	expect_output(fx, "234 Proceed with negotiation.\r\n");
	assert_int_equal(next_action(fx), FTP_ACT_START_TLS);
	assert_int_equal(ftp_engine_feed(fx->e, "USER evil\r\n", 11), 0);
	step_process(fx);
	assert_int_equal(ftp_engine_tls_done(fx->e, 0), 0);
	assert_int_equal(ftp_engine_tls_done(fx->e, 0), -EPROTO);
	step_process(fx);
	expect_output(fx, "");
	assert_int_equal(next_action(fx), FTP_ACT_NONE);
	fx_free(fx);

	/* Unknown mechanisms; a failed handshake closes without a reply. */
	fx = fx_new(false, NULL);
	expect(fx, "", GREETING);
	expect(fx, "AUTH GSSAPI\r\n", "504 Unknown AUTH type.\r\n");
	fx->d.tls_result = -EPROTO;
	expect(fx, "AUTH SSL\r\n", "234 Proceed with negotiation.\r\n");
	assert_true(fx->d.closed);
	fx_free(fx);
}

static void
tls_login(struct fx *fx)
{
	expect(fx, "", GREETING);
	expect(fx, "AUTH TLS\r\n", "234 Proceed with negotiation.\r\n");
}

static void
test_pbsz_prot(void **state)
{
	struct fx *fx = fx_new(false, NULL);
	tls_login(fx);
	expect(fx, "PROT P\r\n", "503 PBSZ must precede PROT.\r\n");
	expect(fx, "PBSZ x\r\n", "501 Syntax error in PBSZ argument.\r\n");
	expect(fx, "PBSZ 0\r\n", "200 PBSZ=0\r\n");
	expect(fx, "PBSZ 16384\r\n", "200 PBSZ=0\r\n");
	expect(fx, "PROT C\r\n", "534 PROT C refused: data connections must be protected.\r\n");
	expect(fx, "PROT S\r\n", "536 PROT level not supported by mechanism.\r\n");
	expect(fx, "PROT E\r\n", "536 PROT level not supported by mechanism.\r\n");
	expect(fx, "PROT Q\r\n", "504 Unknown PROT level.\r\n");
	expect(fx, "PROT p\r\n", "200 PROT now Private.\r\n");
	struct ftp_session_state st;
	ftp_engine_export_state(fx->e, &st);
	assert_true(st.tls && st.pbsz && st.prot_p);
	fx_free(fx);

	fx = fx_new(false, NULL);
	fx->cfg.allow_plain_data = true;
	ftp_engine_free(fx->e);
	assert_int_equal(ftp_engine_new(&fx->cfg, &fx->e), 0);
	fx->d.e = fx->e;
	tls_login(fx);
	expect(fx, "PBSZ 0\r\nPROT C\r\n", "200 PBSZ=0\r\n200 PROT now Clear.\r\n");
	fx_free(fx);
}

static void
test_login_and_handoff(void **state)
{
	struct fx *fx = fx_new(false, NULL);
	tls_login(fx);
	expect(fx, "PASS x\r\n", "503 Login with USER first.\r\n");
	/* Pipelined commands after PASS wait for the worker. */
	expect(fx, "USER alice\r\nPASS s3cret\r\nPWD\r\nNOOP\r\n",
	       "331 Please specify the password.\r\n230 Login successful.\r\n");
	assert_true(fx->d.handed_off);
	assert_string_equal(fx->d.user, "alice");
	assert_string_equal(fx->d.password, "s3cret");
	size_t n;
	const uint8_t *p = ftp_engine_pending_input(fx->e, &n);
	assert_int_equal(n, 11);
	assert_memory_equal(p, "PWD\r\nNOOP\r\n", 11);
	/* More bytes arriving before the hand-over are kept too. */
	assert_int_equal(ftp_engine_feed(fx->e, "SYST\r\n", 6), 0);
	step_process(fx);
	(void)ftp_engine_pending_input(fx->e, &n);
	assert_int_equal(n, 17);
	struct ftp_session_state st;
	ftp_engine_export_state(fx->e, &st);
	assert_true(st.tls);
	assert_false(st.prot_p);
	fx_free(fx);

	fx = fx_new(false, NULL);
	tls_login(fx);
	fx->d.login_result = FTP_LOGIN_FAILED;
	expect(fx, "USER a\r\nPASS b\r\n",
	       "331 Please specify the password.\r\n530 Login incorrect.\r\n");
	expect(fx, "PASS b\r\n", "503 Login with USER first.\r\n");
	expect(fx, "USER a\r\nHOST x\r\n",
	       "331 Please specify the password.\r\n503 HOST must come before USER.\r\n");
	fx->d.login_result = FTP_LOGIN_FAILED_END;
	expect(fx, "PASS c\r\nNOOP\r\n", "530 Login incorrect.\r\n");
	assert_true(fx->d.closed);
	fx_free(fx);
}

static void
test_driver_close(void **state)
{
	struct fx *fx = fx_new(false, NULL);
	expect(fx, "", GREETING);
	ftp_engine_close(fx->e, "Timeout.");
	ftp_engine_close(fx->e, "Twice.");
	expect(fx, "", "421 Timeout.\r\n");
	assert_true(fx->d.closed);
	fx_free(fx);
}

static void
test_state_roundtrip(void **state)
{
	struct ftp_session_state in = {.tls = true,
	                               .pbsz = true,
	                               .prot_p = true,
	                               .utf8 = true,
	                               .type_ascii = true,
	                               .mlst_facts = FTP_FACT_TYPE | FTP_FACT_SIZE,
	                               .hash_algo = FTP_HASH_SHA512},
	                         out;
	_cleanup_xbuf_ struct xbuf b = XBUF_NULL;
	xbuf_init(&b, 64);
	assert_int_equal(ftp_session_state_put(&b, &in), 0);
	assert_int_equal(xbuf_len(&b), 13);
	assert_int_equal(ftp_session_state_get(&b, &out), 0);
	assert_true(out.tls && out.pbsz && out.prot_p && out.utf8 && out.type_ascii);
	assert_int_equal(out.mlst_facts, in.mlst_facts);
	assert_int_equal(out.hash_algo, in.hash_algo);
	assert_int_equal(xbuf_len(&b), 0);

	assert_int_equal(ftp_session_state_put(&b, &in), 0);
	(void)xbuf_trim_tail(&b, 1);
	assert_int_equal(ftp_session_state_get(&b, &out), -EBADMSG);
	xbuf_reset(&b);
	static const uint8_t bad[][13] = {
	        {2, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0},    /* version */
	        {1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0},    /* flags */
	        {1, 0, 0, 0, 1, 0, 0, 0, 0x40, 0, 0, 0, 0}, /* facts */
	        {1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 4},    /* algo */
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct xbuf v;
		xbuf_view_init(&v, bad[i], sizeof(bad[i]));
		assert_int_equal(ftp_session_state_get(&v, &out), -EBADMSG);
		assert_int_equal(xbuf_len(&v), 13);
	}
}

static void
test_config_checks(void **state)
{
	struct ftp_engine_config cfg = {.greeting = "hello\r\n230 forged"};
	struct ftp_engine *e;
	assert_int_equal(ftp_engine_new(&cfg, &e), -EINVAL);
	cfg = (struct ftp_engine_config){.max_line = 1 << 20};
	assert_int_equal(ftp_engine_new(&cfg, &e), -EINVAL);
	cfg = (struct ftp_engine_config){.greeting = "Welcome"};
	assert_int_equal(ftp_engine_new(&cfg, &e), 0);
	size_t n;
	const uint8_t *p = ftp_engine_output(e, &n);
	assert_int_equal(n, strlen("220 Welcome\r\n"));
	assert_memory_equal(p, "220 Welcome\r\n", n);
	ftp_engine_free(e);
	ftp_engine_free(NULL);
}

/* ------------------------------------------------------------------ session ---- */

static void
test_session_navigation(void **state)
{
	struct fx *fx = fx_new(true, NULL);
	expect(fx, "PWD\r\n", "257 \"/\" is the current directory.\r\n");
	expect(fx, "MKD sub\r\n", "257 \"/sub\" created.\r\n");
	expect(fx, "XMKD sub\r\n", "550 File exists.\r\n");
	expect(fx, "CWD sub\r\n", "250 Directory successfully changed.\r\n");
	expect(fx, "XPWD\r\n", "257 \"/sub\" is the current directory.\r\n");
	expect(fx, "MKD deeper\r\n", "257 \"/sub/deeper\" created.\r\n");
	expect(fx, "CDUP\r\n", "200 Directory successfully changed.\r\n");
	expect(fx, "XCWD /sub/deeper\r\nXCUP\r\nPWD\r\n",
	       "250 Directory successfully changed.\r\n"
	       "200 Directory successfully changed.\r\n"
	       "257 \"/sub\" is the current directory.\r\n");
	/* The jail: ".." at the root stays at the root. */
	expect(fx, "CWD ../../..\r\nPWD\r\n",
	       "250 Directory successfully changed.\r\n257 \"/\" is the current directory.\r\n");
	expect(fx, "CWD nope\r\n", "550 No such file or directory.\r\n");
	write_host(fx, "file", "x", 1);
	expect(fx, "CWD file\r\n", "550 Not a directory.\r\n");
	expect(fx, "RMD sub\r\n", "550 Directory not empty.\r\n");
	expect(fx, "RMD sub/deeper\r\nXRMD sub\r\n",
	       "250 Remove directory operation successful.\r\n"
	       "250 Remove directory operation successful.\r\n");
	expect(fx, "DELE nope\r\n", "550 No such file or directory.\r\n");
	expect(fx, "DELE file\r\n", "250 Delete operation successful.\r\n");
	expect(fx, "CWD\r\n", "501 Syntax error in parameters or arguments.\r\n");
	fx_free(fx);
}

static void
test_session_rename(void **state)
{
	struct fx *fx = fx_new(true, NULL);
	write_host(fx, "a", "abc", 3);
	expect(fx, "RNTO b\r\n", "503 RNFR required first.\r\n");
	expect(fx, "RNFR nope\r\n", "550 No such file or directory.\r\n");
	expect(fx, "RNFR a\r\nRNTO b\r\n", "350 Ready for RNTO.\r\n250 Rename successful.\r\n");
	expect(fx, "RNTO c\r\n", "503 RNFR required first.\r\n");
	/* Anything between RNFR and RNTO breaks the pair (RFC 959 4.1.3). */
	expect(fx, "RNFR b\r\nNOOP\r\nRNTO c\r\n",
	       "350 Ready for RNTO.\r\n200 NOOP ok.\r\n503 RNFR required first.\r\n");
	expect(fx, "RNFR b\r\nRNTO c\rd\r\nRNTO c\r\n",
	       "350 Ready for RNTO.\r\n501 CR and NUL are not allowed in commands.\r\n"
	       "503 RNFR required first.\r\n");
	expect(fx, "RNFR b\r\nRNTO nodir/c\r\n",
	       "350 Ready for RNTO.\r\n550 No such file or directory.\r\n");
	size_t n;
	_cleanup_free_ char *c = read_host(fx, "b", &n);
	assert_string_equal(c, "abc");
	fx_free(fx);
}

static void
test_session_file_info(void **state)
{
	struct fx *fx = fx_new(true, NULL);
	write_host(fx, "f", "hello\n", 6);
	set_mtime(fx, "f", T2020);
	expect(fx, "MKD d\r\n", "257 \"/d\" created.\r\n");
	expect(fx, "SIZE f\r\n", "213 6\r\n");
	expect(fx, "SIZE d\r\n", "550 Could not get file size.\r\n");
	expect(fx, "SIZE nope\r\n", "550 No such file or directory.\r\n");
	expect(fx, "MDTM f\r\n", "213 20200101120000\r\n");
	expect(fx, "MDTM nope\r\n", "550 No such file or directory.\r\n");
	expect(fx, "MFMT 20210203040506 f\r\n", "213 Modify=20210203040506; f\r\n");
	expect(fx, "MDTM f\r\n", "213 20210203040506\r\n");
	expect(fx, "MFMT 20210203040506.123 f\r\n", "213 Modify=20210203040506; f\r\n");
	static const char *const bad_mfmt[] = {"MFMT 2021020304050 f", "MFMT 20211303040506 f",
	                                       "MFMT 20210203040506", "MFMT 2021020304050x f",
	                                       "MFMT 20210203040506. f"};
	for (size_t i = 0; i < ARRAY_SIZE(bad_mfmt); i++) {
		_cleanup_free_ char *line = xasprintf("%s\r\n", bad_mfmt[i]);
		expect(fx, line, "501 Syntax error in MFMT: use MFMT YYYYMMDDHHMMSS path.\r\n");
	}
	expect(fx, "MFMT 20210203040506 nope\r\n", "550 No such file or directory.\r\n");
	expect(fx, "SITE CHMOD 600 f\r\n", "200 SITE CHMOD command ok.\r\n");
	_cleanup_free_ char *hp = host_path(fx, "f");
	struct stat st;
	assert_int_equal(stat(hp, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(st.st_mtime, 1612325106);
	expect(fx, "SITE CHMOD 9 f\r\n", "501 SITE CHMOD needs an octal mode and a path.\r\n");
	expect(fx, "SITE CHMOD 644\r\n", "501 SITE CHMOD needs an octal mode and a path.\r\n");
	expect(fx, "SITE CHMOD 644 nope\r\n", "550 No such file or directory.\r\n");
	expect(fx, "SITE EXEC ls\r\n", "500 Unknown SITE command.\r\n");
	expect(fx, "SITE HELP\r\n",
	       "214-The following SITE commands are recognized.\r\n CHMOD HELP\r\n214 Help "
	       "OK.\r\n");
	expect(fx, "TYPE A\r\nSIZE f\r\nTYPE I\r\n",
	       "200 Switching to ASCII mode.\r\n550 SIZE not allowed in ASCII mode.\r\n"
	       "200 Switching to Binary mode.\r\n");
	fx_free(fx);
}

static void
test_session_parameters(void **state)
{
	struct fx *fx = fx_new(true, NULL);
	expect(fx, "TYPE I\r\nTYPE L 8\r\nTYPE A\r\nTYPE A N\r\ntype i\r\n",
	       "200 Switching to Binary mode.\r\n200 Switching to Binary mode.\r\n"
	       "200 Switching to ASCII mode.\r\n200 Switching to ASCII mode.\r\n"
	       "200 Switching to Binary mode.\r\n");
	expect(fx, "TYPE E\r\nTYPE A T\r\nTYPE L 7\r\nTYPE X\r\nTYPE\r\n",
	       "504 TYPE not implemented for that parameter.\r\n"
	       "504 TYPE not implemented for that parameter.\r\n"
	       "504 TYPE not implemented for that parameter.\r\n"
	       "501 Unrecognised TYPE command.\r\n"
	       "501 Syntax error in parameters or arguments.\r\n");
	expect(fx, "MODE S\r\nMODE B\r\nMODE Z\r\n",
	       "200 Mode set to S.\r\n504 Bad MODE command.\r\n501 Unrecognised MODE command.\r\n");
	expect(fx, "STRU F\r\nSTRU R\r\nSTRU Z\r\n",
	       "200 Structure set to F.\r\n504 Bad STRU command.\r\n501 Unrecognised STRU "
	       "command.\r\n");
	expect(fx, "ALLO 1000\r\n", "202 ALLO command ignored.\r\n");
	/* REST: digits only, at most INT64_MAX (ProFTPD Issue 2286). */
	expect(fx, "REST 100\r\n", "350 Restart position accepted (100).\r\n");
	expect(fx, "REST 9223372036854775807\r\n",
	       "350 Restart position accepted (9223372036854775807).\r\n");
	static const char *const bad_rest[] = {"-1",
	                                       "9223372036854775808",
	                                       "18446744073709551615",
	                                       "99999999999999999999999",
	                                       "+5",
	                                       "5x",
	                                       "0x10",
	                                       " 5"};
	for (size_t i = 0; i < ARRAY_SIZE(bad_rest); i++) {
		_cleanup_free_ char *line = xasprintf("REST %s\r\n", bad_rest[i]);
		expect(fx, line, "501 Invalid REST parameter.\r\n");
	}
	expect(fx, "USER x\r\nPASS y\r\nAUTH TLS\r\nHOST h\r\nREIN\r\nABOR\r\nFOO\r\nCCC\r\n",
	       "530 Cannot change to another user.\r\n230 Already logged in.\r\n"
	       "503 Already using TLS.\r\n503 Already logged in.\r\n502 REIN not implemented.\r\n"
	       "225 No transfer to abort.\r\n500 Unknown command.\r\n534 CCC refused by "
	       "policy.\r\n");
	expect(fx, "STAT\r\n",
	       "211-FTP server status:\r\n"
	       "     Connected to 127.0.0.1\r\n"
	       "     Logged in as tester\r\n"
	       "     TYPE: BINARY\r\n"
	       "     Control connection: TLS\r\n"
	       "     Data connections: TLS (PROT P)\r\n"
	       "211 End of status\r\n");
	expect(fx, "HELP\r\n",
	       "214-The following commands are recognized.\r\n"
	       " ABOR ALLO APPE AUTH CCC CDUP CWD DELE EPRT EPSV FEAT HELP HOST LIST MDTM MFMT\r\n"
	       " MKD MLSD MLST MODE NLST NOOP OPTS PASS PASV PBSZ PORT PROT PWD QUIT REIN REST\r\n"
	       " RETR RMD RNFR RNTO SITE SIZE STAT STOR STOU STRU SYST TYPE USER\r\n"
	       "214 Help OK.\r\n");
	expect(fx, "OPTS MLST type;size;bogus;\r\n", "200 MLST OPTS type;size;\r\n");
	expect(fx, "OPTS MLST\r\n", "200 MLST OPTS\r\n");
	fx_free(fx);
}

static void
tweak_ccc(struct fx *fx)
{
	fx->cfg.allow_ccc = true;
}

static void
test_session_ccc(void **state)
{
	struct fx *fx = fx_new(true, tweak_ccc);
	expect(fx, "CCC\r\n", "200 CCC OK, clearing the control connection.\r\n");
	struct ftp_session_state st;
	ftp_engine_export_state(fx->e, &st);
	assert_false(st.tls);
	assert_true(st.prot_p);
	expect(fx, "CCC\r\n", "533 Control connection is not protected.\r\n");
	fx_free(fx);
}

static void
test_names_with_quotes_and_control_chars(void **state)
{
	struct fx *fx = fx_new(true, NULL);
	/* RFC 959: a '"' in a 257 pathname is doubled. */
	expect(fx, "MKD a\"b\r\n", "257 \"/a\"\"b\" created.\r\n");
	expect(fx, "CWD a\"b\r\nPWD\r\n",
	       "250 Directory successfully changed.\r\n257 \"/a\"\"b\" is the current "
	       "directory.\r\n");
	expect(fx, "CWD /\r\n", "250 Directory successfully changed.\r\n");
	/* CR, LF or NUL can never reach a name: the LF ends the line, CR/NUL are refused. */
	expect(fx, "MKD x\ry\r\n", "501 CR and NUL are not allowed in commands.\r\n");
	run(fx, "MKD x\0y\r\n", 9, "501 CR and NUL are not allowed in commands.\r\n");
	expect(fx, "MKD c\r\n230 forged\r\n", "257 \"/c\" created.\r\n500 Unknown command.\r\n");
	expect(fx, "RNFR c\r\nRNTO e\rf\r\n",
	       "350 Ready for RNTO.\r\n501 CR and NUL are not allowed in commands.\r\n");
	_cleanup_free_ char *cmd = xasprintf("ls -A '%s'", fx->dir);
	FILE *p = popen(cmd, "r");
	char line[256], all[1024] = "";
	while (fgets(line, sizeof(line), p))
		strncat(all, line, sizeof(all) - strlen(all) - 1);
	pclose(p);
	assert_string_equal(all, "a\"b\nc\n");
	fx_free(fx);
}

/* Names with CR or LF created behind the server's back never show up in a listing. */
static void
test_listing_skips_crlf_names(void **state)
{
	struct fx *fx = fx_new(true, NULL);
	write_host(fx, "good", "1", 1);
	write_host(fx, "evil\r\n226 forged", "2", 1);
	write_host(fx, "lf\nname", "3", 1);
	write_host(fx, "cr\rname", "4", 1);
	expect(fx, "PASV\r\nNLST\r\n",
	       PASV_OK "150 Here comes the directory listing.\r\n226 Directory send OK.\r\n");
	assert_string_equal(download(fx), "good\r\n");
	xbuf_reset(&fx->d.download);
	expect(fx, "PASV\r\nLIST\r\n",
	       PASV_OK "150 Here comes the directory listing.\r\n226 Directory send OK.\r\n");
	const char *l = download(fx);
	assert_non_null(strstr(l, " good\r\n"));
	assert_null(strstr(l, "forged"));
	assert_null(strstr(l, "name"));
	assert_int_equal(strchr(l, '\n') - l + 1, (ptrdiff_t)strlen(l));
	xbuf_reset(&fx->d.download);
	expect(fx, "PASV\r\nMLSD\r\n",
	       PASV_OK "150 Here comes the directory listing.\r\n226 Directory send OK.\r\n");
	l = download(fx);
	assert_null(strstr(l, "forged"));
	assert_null(strstr(l, "name"));
	int lines = 0;
	for (const char *s = l; (s = strchr(s, '\n')); s++)
		lines++;
	assert_int_equal(lines, 3); /* cdir, pdir, good */
	fx_free(fx);
}

static int
cmp_lines(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The listing's lines sorted (readdir order depends on the file system). */
static char *
sorted(const char *text)
{
	char *copy = xstrdup(text), *lines[64];
	size_t n = 0;
	for (char *save = NULL, *t = strtok_r(copy, "\n", &save); t && n < 64;
	     t = strtok_r(NULL, "\n", &save))
		lines[n++] = t;
	qsort(lines, n, sizeof(lines[0]), cmp_lines);
	char *out = xcalloc(1, strlen(text) + 1);
	for (size_t i = 0; i < n; i++) {
		strcat(out, lines[i]);
		strcat(out, "\n");
	}
	free(copy);
	return out;
}

static void
expect_listing(struct fx *fx, const char *cmd, const char *want_sorted)
{
	xbuf_reset(&fx->d.download);
	_cleanup_free_ char *in = xasprintf("PASV\r\n%s\r\n", cmd);
	expect(fx, in,
	       PASV_OK "150 Here comes the directory listing.\r\n226 Directory send OK.\r\n");
	_cleanup_free_ char *got = sorted(download(fx));
	_cleanup_free_ char *want = sorted(want_sorted);
	assert_string_equal(got, want);
}

static void
listing_tree(struct fx *fx, struct stat *dst, struct stat *rootst)
{
	write_host(fx, "f.txt", "12345", 5);
	write_host(fx, ".hidden", "", 0);
	_cleanup_free_ char *d = host_path(fx, "d");
	assert_int_equal(mkdir(d, 0755), 0);
	assert_int_equal(chmod(d, 0755), 0);
	write_host(fx, "d/x", "x", 1);
	_cleanup_free_ char *ln = host_path(fx, "ln");
	assert_int_equal(symlink("f.txt", ln), 0);
	set_mtime(fx, "f.txt", T2020);
	set_mtime(fx, ".hidden", T2020);
	set_mtime(fx, "d", T2020);
	set_mtime(fx, "ln", T2020);
	set_mtime(fx, ".", T2020);
	assert_int_equal(stat(d, dst), 0);
	assert_int_equal(stat(fx->dir, rootst), 0);
}

static void
test_list_nlst_formats(void **state)
{
	struct fx *fx = fx_new(true, NULL);
	struct stat ds, rs;
	listing_tree(fx, &ds, &rs);
	char want[2048];
	snprintf(want, sizeof(want),
	         "-rw-r--r--    1 tester   testers         5 Jan  1  2020 f.txt\r\n"
	         "drwxr-xr-x %4llu tester   testers  %8llu Jan  1  2020 d\r\n"
	         "lrwxrwxrwx    1 tester   testers         5 Jan  1  2020 ln -> f.txt\r\n",
	         (unsigned long long)ds.st_nlink, (unsigned long long)ds.st_size);
	expect_listing(fx, "LIST", want);
	expect_listing(fx, "LIST -l", want);
	snprintf(want + strlen(want), sizeof(want) - strlen(want),
	         "-rw-r--r--    1 tester   testers         0 Jan  1  2020 .hidden\r\n"
	         "drwx------ %4llu tester   testers  %8llu Jan  1  2020 .\r\n"
	         "drwx------ %4llu tester   testers  %8llu Jan  1  2020 ..\r\n",
	         (unsigned long long)rs.st_nlink, (unsigned long long)rs.st_size,
	         (unsigned long long)rs.st_nlink, (unsigned long long)rs.st_size);
	expect_listing(fx, "LIST -la", want);
	expect_listing(fx, "LIST -a .", want);
	expect_listing(fx, "LIST f.txt",
	               "-rw-r--r--    1 tester   testers         5 Jan  1  2020 f.txt\r\n");
	expect_listing(fx, "NLST", "f.txt\r\nd\r\nln\r\n");
	expect_listing(fx, "NLST -a", "f.txt\r\nd\r\nln\r\n.hidden\r\n.\r\n..\r\n");
	expect_listing(fx, "NLST d", "d/x\r\n");
	expect_listing(fx, "NLST f.txt", "f.txt\r\n");
	/* No globbing: a pattern is just a (missing) name (CVE-2011-0762 class). */
	expect(fx, "PASV\r\nNLST a*a*a*a*a*a*a*a*a*a*b\r\n",
	       PASV_OK "450 No such file or directory.\r\n");
	expect(fx, "PASV\r\nLIST nope\r\n", PASV_OK "450 No such file or directory.\r\n");
	/* "LIST" with a time in the last half year shows the time of day. */
	time_t now = time(NULL) - 3600;
	set_mtime(fx, "f.txt", now);
	struct tm tm;
	gmtime_r(&now, &tm);
	char date[32];
	strftime(date, sizeof(date), "%b %e %H:%M", &tm);
	snprintf(want, sizeof(want), "-rw-r--r--    1 tester   testers         5 %s f.txt\r\n",
	         date);
	expect_listing(fx, "LIST f.txt", want);
	fx_free(fx);
}

/* One MLSx line for a host object (times are T2020 in these tests). */
static char *
mlsx(const struct stat *st, const char *type, const char *perm, const char *name)
{
	return xasprintf("type=%s;size=%llu;modify=20200101120000;perm=%s;unique=%llxU%llx;"
	                 "UNIX.mode=%04o; %s\r\n",
	                 type, (unsigned long long)st->st_size, perm,
	                 (unsigned long long)st->st_dev, (unsigned long long)st->st_ino,
	                 (unsigned)(st->st_mode & 07777), name);
}

static void
host_stat(struct fx *fx, const char *name, struct stat *st)
{
	_cleanup_free_ char *p = host_path(fx, name);
	assert_int_equal(stat(p, st), 0);
}

static void
tweak_other_owner(struct fx *fx)
{
	fx->cfg.uid = getuid() + 1;
	fx->cfg.gid = getgid() + 1;
}

static void
test_list_numeric_owner(void **state)
{
	struct fx *fx = fx_new(true, tweak_other_owner);
	write_host(fx, "f", "1", 1);
	set_mtime(fx, "f", T2020);
	char want[256];
	snprintf(want, sizeof(want), "-rw-r--r--    1 %-8u %-8u        1 Jan  1  2020 f\r\n",
	         (unsigned)getuid(), (unsigned)getgid());
	expect_listing(fx, "LIST", want);
	/* "perm" from the other bits, and the jail root (0700) is not ours: read only. */
	struct stat fs;
	host_stat(fx, "f", &fs);
	_cleanup_free_ char *line = mlsx(&fs, "file", "r", "f");
	_cleanup_free_ char *w = xasprintf("250-Listing f\r\n %s250 End\r\n", line);
	expect(fx, "MLST f\r\n", w);
	fx_free(fx);
}

static void
tweak_read_only(struct fx *fx)
{
	fx->cfg.read_only = true;
}

static void
test_mlsd_mlst(void **state)
{
	struct fx *fx = fx_new(true, NULL);
	struct stat ds, rs, fs, hs;
	listing_tree(fx, &ds, &rs);
	host_stat(fx, "f.txt", &fs);
	host_stat(fx, ".hidden", &hs);
	char *l[6] = {mlsx(&rs, "cdir", "celmp", "."),     mlsx(&rs, "pdir", "celmp", ".."),
	              mlsx(&fs, "file", "adfrw", "f.txt"), mlsx(&hs, "file", "adfrw", ".hidden"),
	              mlsx(&ds, "dir", "cdeflmp", "d"),    mlsx(&fs, "file", "adfrw", "ln")};
	_cleanup_free_ char *want = xasprintf("%s%s%s%s%s%s", l[0], l[1], l[2], l[3], l[4], l[5]);
	for (int i = 0; i < 6; i++)
		free(l[i]);
	expect_listing(fx, "MLSD", want);
	expect_listing(fx, "MLSD .", want);
	expect(fx, "PASV\r\nMLSD f.txt\r\n", PASV_OK "501 Not a directory.\r\n");
	expect(fx, "PASV\r\nMLSD nope\r\n", PASV_OK "550 No such file or directory.\r\n");

	_cleanup_free_ char *lf = mlsx(&fs, "file", "adfrw", "f.txt");
	_cleanup_free_ char *w1 = xasprintf("250-Listing f.txt\r\n %s250 End\r\n", lf);
	expect(fx, "MLST f.txt\r\n", w1);
	_cleanup_free_ char *ld = mlsx(&ds, "dir", "cdeflmp", "/d");
	_cleanup_free_ char *w2 = xasprintf("250-Listing /d\r\n %s250 End\r\n", ld);
	expect(fx, "MLST /d\r\n", w2);
	/* No argument: the working directory under its absolute name. */
	_cleanup_free_ char *w3 = xasprintf("250 Directory successfully changed.\r\n"
	                                    "250-Listing /d\r\n %s250 End\r\n"
	                                    "250 Directory successfully changed.\r\n",
	                                    ld);
	expect(fx, "CWD d\r\nMLST\r\nCWD /\r\n", w3);
	expect(fx, "MLST nope\r\n", "550 No such file or directory.\r\n");
	expect(fx, "OPTS MLST size;type\r\nMLST f.txt\r\n",
	       "200 MLST OPTS type;size;\r\n"
	       "250-Listing f.txt\r\n type=file;size=5; f.txt\r\n250 End\r\n");
	fx_free(fx);

	/* read_only: no write letters in "perm". */
	fx = fx_new(true, tweak_read_only);
	listing_tree(fx, &ds, &rs);
	host_stat(fx, "f.txt", &fs);
	_cleanup_free_ char *ro = mlsx(&fs, "file", "r", "f.txt");
	_cleanup_free_ char *w4 = xasprintf("250-Listing f.txt\r\n %s250 End\r\n", ro);
	expect(fx, "MLST f.txt\r\n", w4);
	fx_free(fx);
}

static void
test_pasv_epsv_port_eprt(void **state)
{
	struct fx *fx = fx_new(true, NULL);
	write_host(fx, "f", "data", 4);
	expect(fx, "RETR f\r\n", "425 Use PORT or PASV first.\r\n");
	expect(fx, "PASV\r\n", PASV_OK);
	expect(fx, "EPSV\r\n", "229 Entering Extended Passive Mode (|||50000|)\r\n");
	expect(fx, "EPSV 1\r\n", "229 Entering Extended Passive Mode (|||50000|)\r\n");
	expect(fx, "EPSV 2\r\n", "522 Network protocol not supported, use (1)\r\n");
	expect(fx, "EPSV 3\r\n", "501 Syntax error in EPSV argument.\r\n");
	/* The data connection is accepted from the control peer only. */
	expect(fx, "PASV\r\nRETR f\r\n",
	       PASV_OK "150 Opening BINARY mode data connection for f (4 bytes).\r\n"
	               "226 Transfer complete.\r\n");
	const struct ftp_action *a = &fx->d.last_open;
	assert_true(a->passive && a->tls && !a->upload);
	const struct sockaddr_in *s4 = (const struct sockaddr_in *)&a->addr;
	assert_int_equal(s4->sin_family, AF_INET);
	assert_int_equal(ntohl(s4->sin_addr.s_addr), INADDR_LOOPBACK);
	assert_int_equal(s4->sin_port, 0);
	/* One transfer per PASV. */
	expect(fx, "RETR f\r\n", "425 Use PORT or PASV first.\r\n");

	/* PORT/EPRT: no FTP bounce (CVE-1999-0017). */
	const char *refused = "504 Refused: data connections go only to your own address, port "
	                      "1024 or above.\r\n";
	expect(fx, "PORT 127,0,0,1,195,80\r\n",
	       "200 PORT command successful. Consider using PASV.\r\n");
	expect(fx, "RETR f\r\n",
	       "150 Opening BINARY mode data connection for f (4 bytes).\r\n226 Transfer "
	       "complete.\r\n");
	assert_false(a->passive);
	assert_int_equal(ntohs(s4->sin_port), 50000);
	expect(fx, "PORT 10,0,0,1,195,80\r\n", refused);
	expect(fx, "PORT 127,0,0,2,195,80\r\n", refused);
	expect(fx, "PORT 127,0,0,1,0,22\r\n", refused);
	expect(fx, "PORT 127,0,0,1,3,255\r\n", refused);
	expect(fx, "PORT 127,0,0,1,4,0\r\n",
	       "200 PORT command successful. Consider using PASV.\r\n");
	static const char *const bad_port[] = {"127,0,0,1,195",   "127,0,0,1,195,80,1",
	                                       "127,0,0,256,1,1", "127,0,0,1,195,-1",
	                                       "1270,0,0,1,1,1",  " 127,0,0,1,4,0",
	                                       "127,0,0,1,4,0,",  "0127,0,0,1,4,0",
	                                       "127.0.0.1.4.0",   ",,,,,"};
	for (size_t i = 0; i < ARRAY_SIZE(bad_port); i++) {
		_cleanup_free_ char *line = xasprintf("PORT %s\r\n", bad_port[i]);
		expect(fx, line, "501 Syntax error in PORT command.\r\n");
	}
	/* A refused PORT leaves no data connection set up. */
	expect(fx, "PORT 10,0,0,1,195,80\r\nRETR f\r\n",
	       "504 Refused: data connections go only to your own address, port 1024 or "
	       "above.\r\n425 Use PORT or PASV first.\r\n");

	expect(fx, "EPRT |1|127.0.0.1|50000|\r\n",
	       "200 EPRT command successful. Consider using EPSV.\r\n");
	expect(fx, "EPRT !1!127.0.0.1!50000!\r\n",
	       "200 EPRT command successful. Consider using EPSV.\r\n");
	expect(fx, "EPRT |2|::ffff:127.0.0.1|50000|\r\n",
	       "200 EPRT command successful. Consider using EPSV.\r\n");
	expect(fx, "EPRT |1|10.0.0.1|50000|\r\n", refused);
	expect(fx, "EPRT |1|127.0.0.1|22|\r\n", refused);
	expect(fx, "EPRT |2|::1|50000|\r\n", "522 Network protocol not supported, use (1)\r\n");
	expect(fx, "EPRT |3|x|5000|\r\n", "522 Network protocol not supported, use (1)\r\n");
	static const char *const bad_eprt[] = {"|1|127.0.0.1|",       "|1|127.0.0.1|70000|",
	                                       "|1|garbage|5000|",    "|1|127.0.0.1|0|",
	                                       "|1|127.0.0.1|5000|x", " 1 127.0.0.1 5000 ",
	                                       "|1|127.0.0.1|-5|",    "|1|127.0.0.1|123456|"};
	for (size_t i = 0; i < ARRAY_SIZE(bad_eprt); i++) {
		_cleanup_free_ char *line = xasprintf("EPRT %s\r\n", bad_eprt[i]);
		expect(fx, line, "501 Syntax error in EPRT command.\r\n");
	}
	/* EPSV ALL: only EPSV from now on (RFC 2428 4). */
	expect(fx, "EPSV ALL\r\nPASV\r\nPORT 127,0,0,1,4,0\r\nEPRT |1|127.0.0.1|5000|\r\nEPSV\r\n",
	       "200 EPSV ALL ok.\r\n503 PASV not allowed after EPSV ALL.\r\n"
	       "503 PORT not allowed after EPSV ALL.\r\n503 EPRT not allowed after EPSV ALL.\r\n"
	       "229 Entering Extended Passive Mode (|||50000|)\r\n");
	/* The driver could not listen. */
	fx->d.pasv_result = -EADDRINUSE;
	expect(fx, "EPSV\r\nRETR f\r\n",
	       "425 Cannot open passive connection.\r\n425 Use PORT or PASV first.\r\n");
	fx_free(fx);
}

static void
tweak_ipv6(struct fx *fx)
{
	set_addr(&fx->cfg.peer, "::1", 40000);
	set_addr(&fx->cfg.local, "::1", 21);
}

static void
test_ipv6_data_commands(void **state)
{
	struct fx *fx = fx_new(true, tweak_ipv6);
	expect(fx, "PASV\r\n", "425 PASV needs IPv4: use EPSV.\r\n");
	expect(fx, "EPSV\r\n", "229 Entering Extended Passive Mode (|||50000|)\r\n");
	expect(fx, "EPSV 1\r\n", "522 Network protocol not supported, use (2)\r\n");
	expect(fx, "PORT 127,0,0,1,4,0\r\n", "522 Network protocol not supported, use (2)\r\n");
	expect(fx, "EPRT |1|127.0.0.1|5000|\r\n",
	       "522 Network protocol not supported, use (2)\r\n");
	expect(fx, "EPRT |2|::2|5000|\r\n",
	       "504 Refused: data connections go only to your own address, port 1024 or "
	       "above.\r\n");
	expect(fx, "EPRT |2|::1|5000|\r\n",
	       "200 EPRT command successful. Consider using EPSV.\r\n");
	fx_free(fx);

	/* A v4-mapped control connection is IPv4. */
	fx = fx_new(true, NULL);
	set_addr(&fx->cfg.peer, "::ffff:127.0.0.1", 40000);
	set_addr(&fx->cfg.local, "::ffff:127.0.0.1", 21);
	ftp_engine_free(fx->e);
	assert_int_equal(ftp_engine_new(&fx->cfg, &fx->e), 0);
	fx->d.e = fx->e;
	expect(fx, "PASV\r\nPORT 127,0,0,1,4,0\r\n",
	       PASV_OK "200 PORT command successful. Consider using PASV.\r\n");
	/* An IPv6 address announced for PASV is refused. */
	set_addr(&fx->d.announce, "2001:db8::1", 50000);
	expect(fx, "PASV\r\n", "425 Cannot open passive connection.\r\n");
	fx_free(fx);
}

static uint8_t *
pattern(size_t n)
{
	uint8_t *p = xmalloc(n);
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(i * 7 + i / 251);
	return p;
}

static void
test_retr(void **state)
{
	struct fx *fx = fx_new(true, NULL);
	const size_t n = 100000;
	_cleanup_free_ uint8_t *data = pattern(n);
	write_host(fx, "big", data, n);
	fx->d.chunk = 777;
	expect(fx, "PASV\r\nRETR big\r\n",
	       PASV_OK "150 Opening BINARY mode data connection for big (100000 bytes).\r\n"
	               "226 Transfer complete.\r\n");
	assert_int_equal(xbuf_len(&fx->d.download), n);
	assert_memory_equal(xbuf_ptr(&fx->d.download), data, n);
	assert_int_equal(fx->ntransfers, 1);
	assert_string_equal(fx->last.path, "/big");
	assert_true(fx->last.completed && !fx->last.upload);
	assert_int_equal(fx->last.bytes, n);
	assert_int_equal(fx->last.offset, 0);
	assert_null(fx->last.reason);

	/* REST: resume from an offset; the end of the file is a valid offset. */
	xbuf_reset(&fx->d.download);
	expect(fx, "REST 99990\r\nPASV\r\nRETR big\r\n",
	       "350 Restart position accepted (99990).\r\n" PASV_OK
	       "150 Opening BINARY mode data connection for big (100000 bytes).\r\n"
	       "226 Transfer complete.\r\n");
	assert_int_equal(xbuf_len(&fx->d.download), 10);
	assert_memory_equal(xbuf_ptr(&fx->d.download), data + 99990, 10);
	assert_int_equal(fx->last.offset, 99990);
	xbuf_reset(&fx->d.download);
	expect(fx, "REST 100000\r\nPASV\r\nRETR big\r\n",
	       "350 Restart position accepted (100000).\r\n" PASV_OK
	       "150 Opening BINARY mode data connection for big (100000 bytes).\r\n"
	       "226 Transfer complete.\r\n");
	assert_int_equal(xbuf_len(&fx->d.download), 0);
	expect(fx, "REST 100001\r\nPASV\r\nRETR big\r\n",
	       "350 Restart position accepted (100001).\r\n" PASV_OK
	       "554 Restart position beyond the end of the file.\r\n");
	/* The REST is used up by a transfer command, failed or not; the passive
	 * listener stays for the next one (as vsftpd). */
	xbuf_reset(&fx->d.download);
	expect(fx, "RETR big\r\n",
	       "150 Opening BINARY mode data connection for big (100000 bytes).\r\n"
	       "226 Transfer complete.\r\n");
	assert_int_equal(xbuf_len(&fx->d.download), n);
	expect(fx, "PASV\r\nRETR nope\r\n", PASV_OK "550 No such file or directory.\r\n");
	expect(fx, "MKD d\r\nRETR d\r\n", "257 \"/d\" created.\r\n550 Is a directory.\r\n");
	fx_free(fx);
}

static void
test_retr_ascii(void **state)
{
	static const char in[] = "a\nb\r\nc\n\n\rd";
	static const char want[] = "a\r\nb\r\nc\r\n\r\n\rd";
	static const size_t chunks[] = {1, 2, 3, 4096};
	for (size_t i = 0; i < ARRAY_SIZE(chunks); i++) {
		struct fx *fx = fx_new(true, NULL);
		write_host(fx, "t", in, sizeof(in) - 1);
		fx->d.chunk = chunks[i];
		expect(fx, "TYPE A\r\nPASV\r\nRETR t\r\n",
		       "200 Switching to ASCII mode.\r\n" PASV_OK
		       "150 Opening ASCII mode data connection for t (10 bytes).\r\n"
		       "226 Transfer complete.\r\n");
		assert_string_equal(download(fx), want);
		assert_int_equal(fx->last.bytes, sizeof(in) - 1);
		expect(fx, "REST 1\r\nPASV\r\nRETR t\r\n",
		       "350 Restart position accepted (1).\r\n" PASV_OK
		       "554 REST is not supported in ASCII mode.\r\n");
		fx_free(fx);
	}
	/* A file larger than the conversion chunk, LFs straddling the boundaries. */
	struct fx *fx = fx_new(true, NULL);
	const size_t n = 40000;
	char *big = xmalloc(n);
	for (size_t i = 0; i < n; i++)
		big[i] = i % 3 == 2 ? '\n' : 'x';
	write_host(fx, "t", big, n);
	fx->d.chunk = 1000;
	expect(fx, "TYPE A\r\nPASV\r\nRETR t\r\n",
	       "200 Switching to ASCII mode.\r\n" PASV_OK
	       "150 Opening ASCII mode data connection for t (40000 bytes).\r\n"
	       "226 Transfer complete.\r\n");
	size_t lf = n / 3;
	assert_int_equal(xbuf_len(&fx->d.download), n + lf);
	free(big);
	fx_free(fx);
}

static void
upload(struct fx *fx, const char *cmds, const void *data, size_t len, const char *want)
{
	fx->d.upload = data;
	fx->d.upload_len = len;
	expect(fx, cmds, want);
	fx->d.upload = NULL;
	fx->d.upload_len = 0;
}

static void
test_stor_appe_stou(void **state)
{
	struct fx *fx = fx_new(true, NULL);
	const size_t n = 70000;
	_cleanup_free_ uint8_t *data = pattern(n);
	fx->d.chunk = 1000;
	upload(fx, "PASV\r\nSTOR up\r\n", data, n,
	       PASV_OK "150 Ok to send data.\r\n226 Transfer complete.\r\n");
	size_t got;
	_cleanup_free_ char *c1 = read_host(fx, "up", &got);
	assert_int_equal(got, n);
	assert_memory_equal(c1, data, n);
	assert_true(fx->last.completed && fx->last.upload);
	assert_string_equal(fx->last.path, "/up");
	assert_int_equal(fx->last.bytes, n);
	assert_true(fx->d.last_open.upload);
	/* STOR truncates. */
	upload(fx, "PASV\r\nSTOR up\r\n", "xyz", 3,
	       PASV_OK "150 Ok to send data.\r\n226 Transfer complete.\r\n");
	_cleanup_free_ char *c2 = read_host(fx, "up", &got);
	assert_string_equal(c2, "xyz");
	/* APPE appends, and creates. */
	upload(fx, "PASV\r\nAPPE up\r\n", "123", 3,
	       PASV_OK "150 Ok to send data.\r\n226 Transfer complete.\r\n");
	_cleanup_free_ char *c3 = read_host(fx, "up", &got);
	assert_string_equal(c3, "xyz123");
	assert_int_equal(fx->last.offset, 3);
	upload(fx, "PASV\r\nAPPE new\r\n", "n", 1,
	       PASV_OK "150 Ok to send data.\r\n226 Transfer complete.\r\n");
	_cleanup_free_ char *c4 = read_host(fx, "new", &got);
	assert_string_equal(c4, "n");
	/* REST + STOR: resume at the offset, the old tail is cut. */
	write_host(fx, "r", "0123456789", 10);
	upload(fx, "REST 4\r\nPASV\r\nSTOR r\r\n", "AB", 2,
	       "350 Restart position accepted (4).\r\n" PASV_OK
	       "150 Ok to send data.\r\n226 Transfer complete.\r\n");
	_cleanup_free_ char *c5 = read_host(fx, "r", &got);
	assert_string_equal(c5, "0123AB");
	assert_int_equal(fx->last.offset, 4);
	upload(fx, "REST 7\r\nPASV\r\nSTOR r\r\n", "X", 1,
	       "350 Restart position accepted (7).\r\n" PASV_OK
	       "554 Restart position beyond the end of the file.\r\n");
	upload(fx, "REST 1\r\nPASV\r\nSTOR nope\r\n", "X", 1,
	       "350 Restart position accepted (1).\r\n" PASV_OK
	       "550 No such file or directory.\r\n");
	/* APPE ignores REST. */
	upload(fx, "REST 1\r\nPASV\r\nAPPE r\r\n", "Z", 1,
	       "350 Restart position accepted (1).\r\n" PASV_OK
	       "150 Ok to send data.\r\n226 Transfer complete.\r\n");
	_cleanup_free_ char *c6 = read_host(fx, "r", &got);
	assert_string_equal(c6, "0123ABZ");
	/* STOU: a fresh name each time. */
	upload(fx, "PASV\r\nSTOU\r\n", "u", 1,
	       PASV_OK "150 FILE: ftp-upload\r\n226 Transfer complete.\r\n");
	upload(fx, "PASV\r\nSTOU\r\n", "v", 1,
	       PASV_OK "150 FILE: ftp-upload.1\r\n226 Transfer complete.\r\n");
	upload(fx, "PASV\r\nSTOU r\r\n", "w", 1,
	       PASV_OK "150 FILE: r.1\r\n226 Transfer complete.\r\n");
	_cleanup_free_ char *c7 = read_host(fx, "ftp-upload.1", &got);
	assert_string_equal(c7, "v");
	upload(fx, "PASV\r\nSTOR nodir/x\r\n", "", 0, PASV_OK "550 No such file or directory.\r\n");
	upload(fx, "PASV\r\nSTOR\r\n", "", 0,
	       PASV_OK "501 Syntax error in parameters or arguments.\r\n");
	fx_free(fx);
}

static void
test_stor_ascii(void **state)
{
	/* CRLF -> LF; a lone CR is kept; a CR ending one chunk waits for the next. */
	static const char in[] = "a\r\nb\rc\r\n\r\r\nend\r";
	static const char want[] = "a\nb\rc\n\r\nend\r";
	static const size_t chunks[] = {1, 2, 3, 4, 4096};
	for (size_t i = 0; i < ARRAY_SIZE(chunks); i++) {
		struct fx *fx = fx_new(true, NULL);
		fx->d.chunk = chunks[i];
		upload(fx, "TYPE A\r\nPASV\r\nSTOR t\r\n", in, sizeof(in) - 1,
		       "200 Switching to ASCII mode.\r\n" PASV_OK
		       "150 Ok to send data.\r\n226 Transfer complete.\r\n");
		size_t got;
		_cleanup_free_ char *c = read_host(fx, "t", &got);
		assert_int_equal(got, sizeof(want) - 1);
		assert_memory_equal(c, want, got);
		assert_int_equal(fx->last.bytes, got);
		fx_free(fx);
	}
}

static void
tweak_plain_data(struct fx *fx)
{
	static const struct ftp_session_state plain = {.mlst_facts = FTP_FACTS_ALL};
	fx->cfg.state = &plain;
}

static void
test_data_protection_and_open_failures(void **state)
{
	struct fx *fx = fx_new(true, tweak_plain_data);
	write_host(fx, "f", "data", 4);
	/* RFC 4217 9: 521 when the protection level is not acceptable. */
	expect(fx, "PASV\r\nRETR f\r\n",
	       PASV_OK "521 Data connections must be protected: use PROT P.\r\n");
	expect(fx, "PASV\r\nLIST\r\n",
	       PASV_OK "521 Data connections must be protected: use PROT P.\r\n");
	fx_free(fx);

	fx = fx_new(true, tweak_plain_data);
	fx->cfg.allow_plain_data = true;
	ftp_engine_free(fx->e);
	assert_int_equal(ftp_engine_new(&fx->cfg, &fx->e), 0);
	fx->d.e = fx->e;
	write_host(fx, "f", "data", 4);
	expect(fx, "PASV\r\nRETR f\r\n",
	       PASV_OK "150 Opening BINARY mode data connection for f (4 bytes).\r\n"
	               "226 Transfer complete.\r\n");
	assert_false(fx->d.last_open.tls);
	fx_free(fx);

	fx = fx_new(true, NULL);
	write_host(fx, "f", "data", 4);
	const char *open150 = "150 Opening BINARY mode data connection for f (4 bytes).\r\n";
	fx->d.open_result = -ECONNREFUSED;
	_cleanup_free_ char *w1 =
	        xasprintf(PASV_OK "%s425 Cannot open data connection.\r\n", open150);
	expect(fx, "PASV\r\nRETR f\r\n", w1);
	assert_false(fx->last.completed);
	assert_string_equal(fx->last.reason, "no data connection");
	fx->d.open_result = FTP_DATA_E_NOREUSE;
	_cleanup_free_ char *w2 =
	        xasprintf(PASV_OK "%s522 TLS session of data connection not resumed.\r\n", open150);
	expect(fx, "PASV\r\nRETR f\r\n", w2);
	assert_string_equal(fx->last.reason, "TLS session of data connection not resumed");
	assert_int_equal(fx->last.error, FTP_DATA_E_NOREUSE);
	fx->d.open_result = FTP_DATA_E_TLS;
	_cleanup_free_ char *w3 = xasprintf(
	        PASV_OK "%s522 TLS negotiation on the data connection failed.\r\n", open150);
	expect(fx, "PASV\r\nRETR f\r\n", w3);
	/* The session goes on. */
	fx->d.open_result = 0;
	_cleanup_free_ char *w4 = xasprintf(PASV_OK "%s226 Transfer complete.\r\n", open150);
	expect(fx, "PASV\r\nRETR f\r\n", w4);
	fx_free(fx);
}

/* Run RETR by hand up to DATA_SEND. */
static void
start_retr(struct fx *fx, const char *name)
{
	expect(fx, "PASV\r\n", PASV_OK);
	_cleanup_free_ char *cmd = xasprintf("RETR %s\r\n", name);
	assert_int_equal(ftp_engine_feed(fx->e, cmd, strlen(cmd)), 0);
	step_process(fx);
	_cleanup_free_ char *out = take_output(fx);
	assert_memory_equal(out, "150 ", 4);
	assert_int_equal(next_action(fx), FTP_ACT_DATA_OPEN);
	assert_int_equal(next_action(fx), FTP_ACT_NONE);
	assert_int_equal(ftp_engine_data_open_done(fx->e, 0), 0);
	assert_int_equal(ftp_engine_data_open_done(fx->e, 0), -EPROTO);
	assert_int_equal(next_action(fx), FTP_ACT_DATA_SEND);
}

static void
test_abor_during_transfer(void **state)
{
	struct fx *fx = fx_new(true, NULL);
	const size_t n = 100000;
	_cleanup_free_ uint8_t *data = pattern(n);
	write_host(fx, "big", data, n);
	start_retr(fx, "big");
	uint8_t buf[1000];
	size_t got;
	assert_int_equal(ftp_engine_data_produce(fx->e, buf, sizeof(buf), &got), 0);
	assert_int_equal(got, sizeof(buf));
	/* Commands other than ABOR/STAT/NOOP/QUIT wait; ABOR behind them waits too. */
	assert_int_equal(ftp_engine_feed(fx->e, "ABOR\r\n", 6), 0);
	step_process(fx);
	expect_output(fx, "");
	assert_int_equal(next_action(fx), FTP_ACT_DATA_ABORT);
	assert_int_equal(ftp_engine_data_produce(fx->e, buf, sizeof(buf), &got), -ECANCELED);
	assert_int_equal(ftp_engine_data_done(fx->e, FTP_DATA_E_ABORTED), 0);
	step_process(fx);
	expect_output(fx, "426 Connection closed; transfer aborted.\r\n226 Abort successful.\r\n");
	assert_false(fx->last.completed);
	assert_string_equal(fx->last.reason, "aborted by client");
	assert_int_equal(fx->last.bytes, 1000);
	assert_int_equal(ftp_engine_data_done(fx->e, 0), -EPROTO);
	expect(fx, "NOOP\r\n", "200 NOOP ok.\r\n");

	/* ABOR while the data connection is still being opened. */
	expect(fx, "PASV\r\n", PASV_OK);
	assert_int_equal(ftp_engine_feed(fx->e, "RETR big\r\nABOR\r\n", 16), 0);
	step_process(fx);
	_cleanup_free_ char *o150 = take_output(fx);
	assert_memory_equal(o150, "150 ", 4);
	/* The driver never saw DATA_OPEN: it gets DATA_ABORT instead. */
	assert_int_equal(next_action(fx), FTP_ACT_DATA_ABORT);
	assert_int_equal(ftp_engine_data_open_done(fx->e, 0), -ECANCELED);
	assert_int_equal(ftp_engine_data_done(fx->e, FTP_DATA_E_ABORTED), 0);
	expect_output(fx, "426 Connection closed; transfer aborted.\r\n226 Abort successful.\r\n");

	/* ABOR in the same read as the transfer command, through the fake driver. */
	expect(fx, "PASV\r\nRETR big\r\nABOR\r\nNOOP\r\n",
	       PASV_OK "150 Opening BINARY mode data connection for big (100000 bytes).\r\n"
	               "426 Connection closed; transfer aborted.\r\n226 Abort successful.\r\n"
	               "200 NOOP ok.\r\n");
	/* ABOR after the transfer ended. */
	expect(fx, "PASV\r\nRETR big\r\n",
	       PASV_OK "150 Opening BINARY mode data connection for big (100000 bytes).\r\n"
	               "226 Transfer complete.\r\n");
	expect(fx, "ABOR\r\n", "225 No transfer to abort.\r\n");
	fx_free(fx);
}

static void
test_commands_during_transfer(void **state)
{
	struct fx *fx = fx_new(true, NULL);
	write_host(fx, "f", "0123456789", 10);
	start_retr(fx, "f");
	uint8_t buf[4];
	size_t got;
	assert_int_equal(ftp_engine_data_produce(fx->e, buf, sizeof(buf), &got), 0);
	assert_int_equal(ftp_engine_feed(fx->e, "STAT\r\nnoop\r\nPWD\r\nNOOP\r\n", 23), 0);
	step_process(fx);
	expect_output(fx, "213 Status: 4 bytes transferred.\r\n200 NOOP ok.\r\n");
	size_t pending;
	(void)ftp_engine_pending_input(fx->e, &pending);
	assert_int_equal(pending, 11); /* "PWD\r\nNOOP\r\n" waits for the transfer */
	do
		assert_int_equal(ftp_engine_data_produce(fx->e, buf, sizeof(buf), &got), 0);
	while (got > 0);
	assert_int_equal(ftp_engine_data_done(fx->e, 0), 0);
	step_process(fx);
	expect_output(fx, "226 Transfer complete.\r\n257 \"/\" is the current directory.\r\n"
	                  "200 NOOP ok.\r\n");

	/* QUIT during a transfer: the transfer finishes, is answered, then 221 and CLOSE. */
	start_retr(fx, "f");
	assert_int_equal(ftp_engine_feed(fx->e, "QUIT\r\nNOOP\r\n", 12), 0);
	step_process(fx);
	expect_output(fx, "");
	do
		assert_int_equal(ftp_engine_data_produce(fx->e, buf, sizeof(buf), &got), 0);
	while (got > 0);
	/* A connection lost at the end: 426, then the goodbye. */
	assert_int_equal(ftp_engine_data_done(fx->e, -ECONNRESET), 0);
	step_process(fx);
	expect_output(fx, "426 Connection closed; transfer aborted.\r\n221 Goodbye.\r\n");
	assert_int_equal(next_action(fx), FTP_ACT_CLOSE);
	assert_string_equal(fx->last.reason, "data connection lost");
	fx_free(fx);
}

static void
test_session_end_during_transfer(void **state)
{
	struct fx *fx = fx_new(true, NULL);
	write_host(fx, "f", "0123456789", 10);
	/* The driver ends the session (idle timeout): 421, the transfer is reported. */
	start_retr(fx, "f");
	ftp_engine_close(fx->e, "Idle timeout.");
	expect_output(fx, "421 Idle timeout.\r\n");
	assert_int_equal(next_action(fx), FTP_ACT_CLOSE);
	assert_int_equal(fx->ntransfers, 1);
	assert_false(fx->last.completed);
	assert_string_equal(fx->last.reason, "session closed");
	uint8_t buf[4];
	size_t got;
	assert_int_equal(ftp_engine_data_produce(fx->e, buf, sizeof(buf), &got), -EPROTO);
	assert_int_equal(ftp_engine_data_done(fx->e, 0), -EPROTO);
	fx_free(fx);

	/* Freed mid-transfer (worker shutting down): reported as well, nothing leaks. */
	fx = fx_new(true, NULL);
	write_host(fx, "f", "0123456789", 10);
	start_retr(fx, "f");
	ftp_engine_free(fx->e);
	assert_int_equal(fx->ntransfers, 1);
	assert_false(fx->last.completed);
	assert_true(ftp_engine_new(&fx->cfg, &fx->e) == 0);
	fx_free(fx);
}

static void
test_quota_mid_upload(void **state)
{
	struct fx *fx = fx_new(true, NULL);
	fx->fault.write_errno = EDQUOT;
	fx->fault.write_limit = 5000;
	const size_t n = 20000;
	_cleanup_free_ uint8_t *data = pattern(n);
	fx->d.chunk = 1500;
	upload(fx, "PASV\r\nSTOR q\r\n", data, n,
	       PASV_OK "150 Ok to send data.\r\n552 Quota exceeded.\r\n");
	assert_int_equal(fx->d.last_done, -EDQUOT);
	assert_false(fx->last.completed);
	assert_int_equal(fx->last.error, -EDQUOT);
	assert_string_equal(fx->last.reason, "Quota exceeded.");
	assert_int_equal(fx->last.bytes, 5000);
	size_t got;
	_cleanup_free_ char *c = read_host(fx, "q", &got);
	assert_int_equal(got, 5000);
	/* The driver reporting only a generic error: the engine's error decides. */
	fx->fault.written = 0;
	fx->fault.write_limit = 0;
	fx->fault.write_errno = ENOSPC;
	upload(fx, "PASV\r\nTYPE A\r\nSTOR q\r\n", "abc", 3,
	       PASV_OK "200 Switching to ASCII mode.\r\n150 Ok to send data.\r\n"
	               "552 No space left on device.\r\n");
	fx->fault.write_errno = EIO;
	upload(fx, "PASV\r\nTYPE I\r\nSTOR q\r\n", "abc", 3,
	       PASV_OK "200 Switching to Binary mode.\r\n150 Ok to send data.\r\n"
	               "451 Requested action aborted: local error in processing.\r\n");
	fx_free(fx);
}

static void
test_eagain_wake_time(void **state)
{
	struct fx *fx = fx_new(true, NULL);
	write_host(fx, "f", "0123456789", 10);
	start_retr(fx, "f");
	fx->fault.eagain_reads = 1;
	uint8_t buf[64];
	size_t got = 99;
	assert_int_equal(ftp_engine_wake_time(fx->e), 0);
	assert_int_equal(ftp_engine_data_produce(fx->e, buf, sizeof(buf), &got), -EAGAIN);
	assert_int_equal(got, 99);
	assert_int_equal(ftp_engine_wake_time(fx->e), 123456789);
	assert_int_equal(fx->fault.retry_calls, 1); /* vfs_retry_at() */
	assert_int_equal(ftp_engine_data_produce(fx->e, buf, sizeof(buf), &got), 0);
	assert_int_equal(got, 10);
	assert_int_equal(ftp_engine_wake_time(fx->e), 0);
	assert_int_equal(ftp_engine_data_produce(fx->e, buf, sizeof(buf), &got), 0);
	assert_int_equal(got, 0);
	assert_int_equal(ftp_engine_data_done(fx->e, 0), 0);
	step_process(fx);
	expect_output(fx, "226 Transfer complete.\r\n");
	fx_free(fx);

	/* A VFS without an answer: 10 ms from now. Uploads, binary and ASCII. */
	fx = fx_new(true, NULL);
	fx->fault.no_retry_at = true;
	expect(fx, "PASV\r\nTYPE A\r\n", PASV_OK "200 Switching to ASCII mode.\r\n");
	assert_int_equal(ftp_engine_feed(fx->e, "STOR t\r\n", 8), 0);
	step_process(fx);
	expect_output(fx, "150 Ok to send data.\r\n");
	assert_int_equal(next_action(fx), FTP_ACT_DATA_OPEN);
	assert_int_equal(ftp_engine_data_open_done(fx->e, 0), 0);
	assert_int_equal(next_action(fx), FTP_ACT_DATA_RECV);
	size_t used = 77;
	fx->fault.eagain_writes = 1;
	assert_int_equal(ftp_engine_data_consume(fx->e, "x\r", 2, &used), 0);
	assert_int_equal(used, 2); /* taken; the write is pending */
	uint64_t before = 0;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	before = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
	assert_true(ftp_engine_wake_time(fx->e) >= before);
	assert_true(ftp_engine_wake_time(fx->e) <= before + 1000);
	fx->fault.eagain_writes = 1;
	used = 77;
	assert_int_equal(ftp_engine_data_consume(fx->e, "y", 1, &used), -EAGAIN);
	assert_int_equal(used, 77);
	/* The held CR is written at the end; that write can wait as well. */
	fx->fault.eagain_writes = 1;
	assert_int_equal(ftp_engine_data_done(fx->e, 0), -EAGAIN);
	assert_int_equal(ftp_engine_data_done(fx->e, 0), 0);
	step_process(fx);
	expect_output(fx, "226 Transfer complete.\r\n");
	size_t got2;
	_cleanup_free_ char *c = read_host(fx, "t", &got2);
	assert_string_equal(c, "x\r");
	fx_free(fx);
}

static void
tweak_hash(struct fx *fx)
{
	fx->cfg.hash = true;
}

static void
test_hash(void **state)
{
	struct fx *fx = fx_new(true, NULL);
	write_host(fx, "f", "12345", 5);
	expect(fx, "HASH f\r\n", "502 Command not implemented.\r\n");
	expect(fx, "XSHA256 f\r\n", "502 Command not implemented.\r\n");
	expect(fx, "OPTS HASH SHA-1\r\n", "501 Option not understood.\r\n");
	fx_free(fx);

	fx = fx_new(true, tweak_hash);
	write_host(fx, "f", "12345", 5);
	expect(fx, "FEAT\r\n",
	       "211-Features:\r\n AUTH TLS\r\n EPRT\r\n EPSV\r\n HASH "
	       "SHA-256*;SHA-512;SHA-1;MD5\r\n"
	       " HOST\r\n MDTM\r\n MFMT\r\n MLST type*;size*;modify*;perm*;unique*;UNIX.mode*;\r\n"
	       " PBSZ\r\n PROT\r\n REST STREAM\r\n SIZE\r\n TVFS\r\n UTF8\r\n XMD5\r\n XSHA1\r\n"
	       " XSHA256\r\n XSHA512\r\n211 End\r\n");
	/* The digests of "12345" by vfs_hash_range(). */
	expect(fx, "HASH f\r\n",
	       "213 SHA-256 0-4 5994471abb01112afcc18159f6cc74b4f511b99806da59b3caf5a9c173cacfc5 "
	       "f\r\n");
	expect(fx, "OPTS HASH\r\nOPTS HASH md5\r\nOPTS HASH crc32\r\nOPTS HASH\r\n",
	       "200 SHA-256\r\n200 MD5\r\n501 Unknown hash algorithm.\r\n200 MD5\r\n");
	expect(fx, "HASH f\r\n", "213 MD5 0-4 827ccb0eea8a706c4c34a16891f84e7b f\r\n");
	expect(fx, "XSHA1 f\r\n", "250 8cb2237d0679ca88db6464eac60da96345513964\r\n");
	expect(fx, "XMD5 f\r\n", "250 827ccb0eea8a706c4c34a16891f84e7b\r\n");
	expect(fx, "XSHA512 f\r\n",
	       "250 3627909a29c31381a071ec27f7c9ca97726182aed29a7ddd2e54353322cfb30abb9e3a6df2ac2c2"
	       "0fe23436311d678564d0c8d305930575f60e2d3d048184d79\r\n");
	expect(fx, "MKD d\r\nHASH d\r\nHASH nope\r\n",
	       "257 \"/d\" created.\r\n550 Not a regular file.\r\n550 No such file or "
	       "directory.\r\n");
	struct ftp_session_state st;
	ftp_engine_export_state(fx->e, &st);
	assert_int_equal(st.hash_algo, FTP_HASH_MD5);
	fx_free(fx);
}

static void
test_backpressure(void **state)
{
	struct fx *fx = fx_new(true, NULL);
	/* A client that sends and never reads: output stops growing, input room goes to 0. */
	size_t fed = 0;
	for (int i = 0; i < 200000; i++) {
		size_t room = ftp_engine_input_room(fx->e);
		if (room < 6)
			break;
		assert_int_equal(ftp_engine_feed(fx->e, "NOOP\r\n", 6), 0);
		fed++;
		step_process(fx);
	}
	size_t out;
	(void)ftp_engine_output(fx->e, &out);
	assert_true(out <= 4 * 64 * 1024);
	assert_true(out > 3 * 64 * 1024 - 100);
	assert_true(fed < 60000);
	assert_int_equal(ftp_engine_feed(fx->e, "NOOP\r\nNOOP\r\nNOOP\r\nNOOP\r\nNOOP\r\n", 30),
	                 -ENOBUFS);
	/* Reading resumes the session. */
	ftp_engine_output_consume(fx->e, out);
	assert_true(ftp_engine_input_room(fx->e) > 0);
	fx_free(fx);
}

static void
test_big_directory_streams(void **state)
{
	struct fx *fx = fx_new(true, NULL);
	char name[64];
	for (int i = 0; i < 3000; i++) {
		snprintf(name, sizeof(name), "file-with-a-longish-name-%05d", i);
		write_host(fx, name, "", 0);
	}
	fx->d.chunk = 512;
	expect(fx, "PASV\r\nNLST\r\n",
	       PASV_OK "150 Here comes the directory listing.\r\n226 Directory send OK.\r\n");
	const char *l = download(fx);
	int lines = 0;
	for (const char *s = l; (s = strchr(s, '\n')); s++)
		lines++;
	assert_int_equal(lines, 3000);
	/* STAT <dir> on the control connection stops before the output limit. */
	assert_int_equal(fake_run_str(&fx->d, "STAT .\r\n"), 0);
	_cleanup_free_ char *st = fake_take_replies(&fx->d);
	assert_memory_equal(st, "212-Status of .:\r\n-rw-r--r--    1 tester   testers ", 51);
	const char *end = "212 End of status (truncated: use LIST).\r\n";
	assert_string_equal(st + strlen(st) - strlen(end), end);
	assert_true(strlen(st) < 64 * 1024);
	assert_true(strlen(st) > 32 * 1024);
	expect(fx, "STAT nope\r\n", "450 No such file or directory.\r\n");
	set_mtime(fx, "file-with-a-longish-name-00001", T2020);
	expect(fx, "STAT file-with-a-longish-name-00001\r\n",
	       "213-Status of file-with-a-longish-name-00001:\r\n"
	       "-rw-r--r--    1 tester   testers         0 Jan  1  2020 "
	       "file-with-a-longish-name-00001\r\n"
	       "213 End of status.\r\n");
	fx_free(fx);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_prelogin_basics),
	        cmocka_unit_test(test_prelogin_gating),
	        cmocka_unit_test(test_junk_limit),
	        cmocka_unit_test(test_prelogin_command_limit),
	        cmocka_unit_test(test_overlong_lines),
	        cmocka_unit_test(test_telnet_and_control_bytes),
	        cmocka_unit_test(test_iac_iac_is_literal),
	        cmocka_unit_test(test_tls_required_for_login),
	        cmocka_unit_test(test_auth_tls_discards_pipelined_plaintext),
	        cmocka_unit_test(test_pbsz_prot),
	        cmocka_unit_test(test_login_and_handoff),
	        cmocka_unit_test(test_driver_close),
	        cmocka_unit_test(test_state_roundtrip),
	        cmocka_unit_test(test_config_checks),
	        cmocka_unit_test(test_session_navigation),
	        cmocka_unit_test(test_session_rename),
	        cmocka_unit_test(test_session_file_info),
	        cmocka_unit_test(test_session_parameters),
	        cmocka_unit_test(test_session_ccc),
	        cmocka_unit_test(test_names_with_quotes_and_control_chars),
	        cmocka_unit_test(test_listing_skips_crlf_names),
	        cmocka_unit_test(test_list_nlst_formats),
	        cmocka_unit_test(test_list_numeric_owner),
	        cmocka_unit_test(test_mlsd_mlst),
	        cmocka_unit_test(test_pasv_epsv_port_eprt),
	        cmocka_unit_test(test_ipv6_data_commands),
	        cmocka_unit_test(test_retr),
	        cmocka_unit_test(test_retr_ascii),
	        cmocka_unit_test(test_stor_appe_stou),
	        cmocka_unit_test(test_stor_ascii),
	        cmocka_unit_test(test_data_protection_and_open_failures),
	        cmocka_unit_test(test_abor_during_transfer),
	        cmocka_unit_test(test_commands_during_transfer),
	        cmocka_unit_test(test_session_end_during_transfer),
	        cmocka_unit_test(test_quota_mid_upload),
	        cmocka_unit_test(test_eagain_wake_time),
	        cmocka_unit_test(test_hash),
	        cmocka_unit_test(test_backpressure),
	        cmocka_unit_test(test_big_directory_streams),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
