/* SPDX-License-Identifier: BSD-2-Clause */
/* TLS glue: handshakes, ALPN, the resumption-only data context, close/truncation,
 * CCC, AUTH TLS hand-over, configuration errors, self-signed certificates.
 * Clients are OpenSSL clients in this process, over non-blocking socketpairs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "berth/buf.h"
#include "berth/common.h"
#include "berth/conf.h"
#include "berth/tls.h"
#include "berth/xmem.h"

static char dir[64];
static char *cert_path, *key_path;

/* ---- helpers ---- */

static void
pair(int sv[2])
{
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(fcntl(sv[0], F_SETFL, O_NONBLOCK), 0);
	assert_int_equal(fcntl(sv[1], F_SETFL, O_NONBLOCK), 0);
}

static SSL_SESSION *newest; /* the newest session a client received */

static int
new_session_cb(SSL *ssl, SSL_SESSION *s)
{
	(void)ssl;
	SSL_SESSION_free(newest);
	newest = s;
	return 1;
}

static SSL_CTX *
client_ctx(int minv, int maxv, bool no_ticket, const unsigned char *alpn, size_t alpn_len)
{
	SSL_CTX *c = SSL_CTX_new(TLS_client_method());
	assert_non_null(c);
	if (minv < TLS1_2_VERSION) {
		SSL_CTX_set_security_level(c, 0);
		SSL_CTX_set_cipher_list(c, "DEFAULT:@SECLEVEL=0");
	}
	SSL_CTX_set_min_proto_version(c, minv);
	SSL_CTX_set_max_proto_version(c, maxv);
	SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
	SSL_CTX_sess_set_new_cb(c, new_session_cb);
	if (no_ticket)
		SSL_CTX_set_options(c, SSL_OP_NO_TICKET);
	if (alpn)
		assert_int_equal(SSL_CTX_set_alpn_protos(c, alpn, (unsigned)alpn_len), 0);
	return c;
}

struct hs {
	int server;         /* tls_conn_handshake() result */
	bool client_ok;     /* client completed */
	unsigned long cerr; /* client's OpenSSL error */
};

/* Drive both ends until each has finished or failed. */
static struct hs
handshake(struct tls_conn *sv, SSL *cl)
{
	struct hs h = {.server = TLS_WANT_READ};
	bool sdone = false, cdone = false;
	for (int i = 0; i < 2000 && !(sdone && cdone); i++) {
		if (!sdone) {
			h.server = tls_conn_handshake(sv);
			if (h.server != TLS_WANT_READ && h.server != TLS_WANT_WRITE)
				sdone = true;
		}
		if (!cdone) {
			ERR_clear_error();
			int rc = SSL_do_handshake(cl);
			if (rc == 1) {
				h.client_ok = true;
				cdone = true;
			} else {
				int e = SSL_get_error(cl, rc);
				if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
					h.cerr = ERR_peek_last_error();
					cdone = true;
				}
			}
		}
	}
	assert_true(sdone && cdone);
	ERR_clear_error();
	return h;
}

/* Server -> client line, client -> server line (makes the client read tickets). */
static void
exchange(struct tls_conn *sv, SSL *cl)
{
	size_t n = 0;
	char buf[64];
	assert_int_equal(tls_conn_write(sv, "220 ok\r\n", 8, &n), 0);
	assert_int_equal(n, 8);
	int got = 0;
	for (int i = 0; i < 100 && got <= 0; i++)
		got = SSL_read(cl, buf, sizeof(buf));
	assert_int_equal(got, 8);
	assert_memory_equal(buf, "220 ok\r\n", 8);
	assert_int_equal(SSL_write(cl, "NOOP\r\n", 6), 6);
	int r = TLS_WANT_READ;
	for (int i = 0; i < 100 && r == TLS_WANT_READ; i++)
		r = tls_conn_read(sv, buf, sizeof(buf), &n);
	assert_int_equal(r, 0);
	assert_int_equal(n, 6);
	assert_memory_equal(buf, "NOOP\r\n", 6);
}

static struct tls_server *
new_server(const struct tls_settings *override)
{
	struct tls_settings s = {.cert_file = cert_path, .key_file = key_path};
	if (override)
		s = *override;
	struct berth_errors errs = BERTH_ERRORS_NULL, warns = BERTH_ERRORS_NULL;
	struct tls_server *srv = NULL;
	int r = tls_server_new(&s, &errs, &warns, &srv);
	berth_errors_print(&errs, stderr);
	assert_int_equal(r, 0);
	assert_int_equal(errs.n, 0);
	assert_int_equal(warns.n, 0);
	berth_errors_free(&errs);
	berth_errors_free(&warns);
	assert_int_equal(tls_server_rekey_tickets(srv), 0);
	return srv;
}

/* An in-process client and the server end, over a socketpair. */
struct cli {
	int fd[2];
	SSL_CTX *cctx;
	SSL *cl;
	struct tls_conn *sv;
};

/* Takes @cctx; the server end is a control connection on @srv or a data connection
 * on @d. */
static void
cli_open(struct cli *x, SSL_CTX *cctx, struct tls_server *srv, struct tls_data_ctx *d)
{
	pair(x->fd);
	x->cctx = cctx;
	x->cl = SSL_new(cctx);
	SSL_set_fd(x->cl, x->fd[0]);
	SSL_set_connect_state(x->cl);
	if (srv)
		assert_int_equal(tls_conn_new_server(srv, x->fd[1], &x->sv), 0);
	else
		assert_int_equal(tls_conn_new_data(d, x->fd[1], &x->sv), 0);
}

static void
cli_close(struct cli *x)
{
	tls_conn_free(x->sv);
	SSL_free(x->cl);
	SSL_CTX_free(x->cctx);
	close(x->fd[0]);
	close(x->fd[1]);
}

/* A control connection, kept open as in FTP. */
struct control {
	struct cli x;
	SSL_SESSION *session; /* the client's session after the first exchange */
};

static void
control_open(struct control *c, struct tls_server *srv, int ver, bool no_ticket)
{
	cli_open(&c->x, client_ctx(ver, ver, no_ticket, NULL, 0), srv, NULL);
	struct hs h = handshake(c->x.sv, c->x.cl);
	assert_int_equal(h.server, 0);
	assert_true(h.client_ok);
	exchange(c->x.sv, c->x.cl);
	c->session = SSL_get1_session(c->x.cl);
	assert_non_null(c->session);
}

static void
control_close(struct control *c)
{
	SSL_SESSION_free(c->session);
	cli_close(&c->x);
}

static struct tls_data_ctx *
data_ctx_of(struct control *c)
{
	struct xbuf blob = XBUF_NULL;
	assert_int_equal(tls_conn_export_resumption(c->x.sv, &blob), 0);
	assert_true(xbuf_len(&blob) > 80);
	struct tls_data_ctx *d = NULL;
	assert_int_equal(tls_data_ctx_new(xbuf_ptr(&blob), xbuf_len(&blob), &d), 0);
	xbuf_deinit(&blob);
	return d;
}

/* A copy of @s that an OpenSSL client has never used (its TLS 1.3 client marks a
 * session single-use once it resumed it). */
static SSL_SESSION *
fresh_copy(SSL_SESSION *s)
{
	unsigned char *der = NULL;
	int len = i2d_SSL_SESSION(s, &der);
	assert_true(len > 0);
	const unsigned char *p = der;
	SSL_SESSION *copy = d2i_SSL_SESSION(NULL, &p, len);
	OPENSSL_free(der);
	assert_non_null(copy);
	return copy;
}

enum data_end { END_CLEAN, END_ABORT };

/* One data connection; returns the server's handshake result and @ret_reason. */
static int
data_conn(struct tls_data_ctx *d, SSL_SESSION *sess, int ver, bool no_ticket, enum data_end end,
          char *ret_reason, size_t reason_len)
{
	SSL_CTX *cctx = client_ctx(ver, ver, no_ticket, NULL, 0);
	struct cli x;
	cli_open(&x, cctx, NULL, d);
	SSL *cl = x.cl;
	struct tls_conn *sv = x.sv;
	if (sess)
		assert_int_equal(SSL_set_session(cl, sess), 1);
	struct hs h = handshake(sv, cl);
	if (ret_reason)
		snprintf(ret_reason, reason_len, "%s", tls_conn_reason(sv));
	if (h.server == 0) {
		assert_true(h.client_ok);
		assert_int_equal(SSL_session_reused(cl), 1);
		struct tls_conn_info info;
		assert_int_equal(tls_conn_get_info(sv, &info), 0);
		assert_true(info.resumed);
		exchange(sv, cl);
		if (end == END_CLEAN) {
			/* upload end: client close_notify, server sees CLOSED, answers */
			SSL_shutdown(cl);
			char b[8];
			size_t n;
			int r = TLS_WANT_READ;
			for (int i = 0; i < 100 && r == TLS_WANT_READ; i++)
				r = tls_conn_read(sv, b, sizeof(b), &n);
			assert_int_equal(r, TLS_E_CLOSED);
			assert_int_equal(tls_conn_shutdown(sv, false), 0);
		}
	} else {
		assert_false(h.client_ok);
	}
	cli_close(&x);
	return h.server;
}

/* ---- tests ---- */

static void
versions(int ver, const char *name)
{
	struct tls_server *srv = new_server(NULL);
	struct control c;
	control_open(&c, srv, ver, false);
	struct tls_conn_info info;
	assert_int_equal(tls_conn_get_info(c.x.sv, &info), 0);
	assert_string_equal(info.version, name);
	assert_false(info.resumed);
	assert_string_equal(info.alpn, "");
	/* The connection's key reference is gone once the handshake completed. */
	assert_false(tls_conn_holds_key(c.x.sv));
	/* Orderly end from the client: CLOSED, then our close_notify. */
	SSL_shutdown(c.x.cl);
	char b[8];
	size_t n;
	int r = TLS_WANT_READ;
	for (int i = 0; i < 100 && r == TLS_WANT_READ; i++)
		r = tls_conn_read(c.x.sv, b, sizeof(b), &n);
	assert_int_equal(r, TLS_E_CLOSED);
	assert_int_equal(tls_conn_shutdown(c.x.sv, false), 0);
	assert_int_equal(SSL_shutdown(c.x.cl), 1);
	control_close(&c);
	tls_server_free(srv);
}

static void
test_tls12(void **state)
{
	versions(TLS1_2_VERSION, "TLSv1.2");
}

/* Server cipher preference, and no renegotiation. */
static void
test_preference_no_renegotiation(void **state)
{
	struct tls_server *srv = new_server(NULL);
	SSL_CTX *cctx = client_ctx(TLS1_2_VERSION, TLS1_2_VERSION, false, NULL, 0);
	SSL_CTX_set_cipher_list(cctx, "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-ECDSA-AES256-GCM-SHA384:"
	                              "ECDHE-ECDSA-AES128-GCM-SHA256");
	struct cli x;
	cli_open(&x, cctx, srv, NULL);
	SSL *cl = x.cl;
	struct tls_conn *sv = x.sv;
	assert_int_equal(handshake(sv, cl).server, 0);
	struct tls_conn_info info;
	assert_int_equal(tls_conn_get_info(sv, &info), 0);
	assert_string_equal(info.cipher, "ECDHE-ECDSA-AES128-GCM-SHA256");
	/* The client asks to renegotiate: refused, the connection goes on. */
	assert_int_equal(SSL_renegotiate(cl), 1);
	int rc = SSL_do_handshake(cl);
	assert_true(rc <= 0);
	char b[16];
	size_t n;
	bool client_failed = false;
	for (int i = 0; i < 50 && !client_failed; i++) {
		assert_int_equal(tls_conn_read(sv, b, sizeof(b), &n), TLS_WANT_READ);
		rc = SSL_do_handshake(cl);
		if (rc <= 0 && SSL_get_error(cl, rc) == SSL_ERROR_SSL)
			client_failed = true;
	}
	assert_true(client_failed);
	assert_int_equal(ERR_GET_REASON(ERR_peek_last_error()), SSL_R_NO_RENEGOTIATION);
	ERR_clear_error();
	cli_close(&x);
	tls_server_free(srv);
}

static void
test_tls13(void **state)
{
	versions(TLS1_3_VERSION, "TLSv1.3");
}

static void
test_old_versions_refused(void **state)
{
	struct tls_server *srv = new_server(NULL);
	int vers[] = {TLS1_VERSION, TLS1_1_VERSION};
	for (size_t i = 0; i < ARRAY_SIZE(vers); i++) {
		SSL_CTX *cctx = client_ctx(vers[i], vers[i], false, NULL, 0);
		struct cli x;
		cli_open(&x, cctx, srv, NULL);
		SSL *cl = x.cl;
		struct tls_conn *sv = x.sv;
		struct hs h = handshake(sv, cl);
		assert_int_equal(h.server, TLS_E_HANDSHAKE);
		assert_false(h.client_ok);
		assert_non_null(strstr(tls_conn_reason(sv), "unsupported protocol"));
		cli_close(&x);
	}
	tls_server_free(srv);
}

static int
alpn_try(struct tls_server *srv, const char *wire, size_t len, struct tls_conn_info *info,
         unsigned long *cerr, char *reason)
{
	SSL_CTX *cctx =
	        client_ctx(TLS1_2_VERSION, TLS1_3_VERSION, false, (const unsigned char *)wire, len);
	struct cli x;
	cli_open(&x, cctx, srv, NULL);
	SSL *cl = x.cl;
	struct tls_conn *sv = x.sv;
	struct hs h = handshake(sv, cl);
	if (h.server == 0)
		assert_int_equal(tls_conn_get_info(sv, info), 0);
	*cerr = h.cerr;
	snprintf(reason, 192, "%s", tls_conn_reason(sv));
	cli_close(&x);
	return h.server;
}

static void
test_alpn(void **state)
{
	struct tls_server *srv = new_server(NULL);
	struct tls_conn_info info;
	unsigned long cerr;
	char reason[192];
	assert_int_equal(alpn_try(srv,
	                          "\x03"
	                          "ftp",
	                          4, &info, &cerr, reason),
	                 0);
	assert_string_equal(info.alpn, "ftp");
	assert_int_equal(alpn_try(srv, NULL, 0, &info, &cerr, reason), 0);
	assert_string_equal(info.alpn, "");
	assert_int_equal(alpn_try(srv,
	                          "\x08"
	                          "http/1.1"
	                          "\x03"
	                          "ftp",
	                          13, &info, &cerr, reason),
	                 0);
	assert_string_equal(info.alpn, "ftp");
	/* ALPACA: an HTTPS client at the FTP port */
	assert_int_equal(alpn_try(srv,
	                          "\x08"
	                          "http/1.1",
	                          9, &info, &cerr, reason),
	                 TLS_E_ALPN);
	assert_non_null(strstr(reason, "http/1.1"));
	assert_int_equal(ERR_GET_REASON(cerr), SSL_R_TLSV1_ALERT_NO_APPLICATION_PROTOCOL);
	assert_int_equal(alpn_try(srv,
	                          "\x02"
	                          "h2"
	                          "\x08"
	                          "http/1.1",
	                          12, &info, &cerr, reason),
	                 TLS_E_ALPN);
	assert_non_null(strstr(reason, "h2,http/1.1"));
	tls_server_free(srv);
}

static void
resumption(int ver, bool no_ticket)
{
	struct tls_server *srv = new_server(NULL);
	struct control c;
	control_open(&c, srv, ver, no_ticket);
	tls_server_forget_key(srv); /* the network child after the control handshake */
	assert_false(tls_server_has_key(srv));
	struct tls_data_ctx *d = data_ctx_of(&c);
	char reason[192];

	/* Several data connections presenting the control session (a fresh copy each
	 * time: the same ticket, the same session ID). */
	for (int i = 0; i < 3; i++) {
		SSL_SESSION *s = fresh_copy(c.session);
		assert_int_equal(data_conn(d, s, ver, no_ticket, END_CLEAN, NULL, 0), 0);
		SSL_SESSION_free(s);
	}
	/* The same session object again (TLS 1.2; a TLS 1.3 OpenSSL client uses each
	 * session once) and the newest session the client received. */
	if (ver == TLS1_2_VERSION) {
		assert_int_equal(data_conn(d, c.session, ver, no_ticket, END_CLEAN, NULL, 0), 0);
		assert_int_equal(data_conn(d, c.session, ver, no_ticket, END_CLEAN, NULL, 0), 0);
	}
	for (int i = 0; i < 2; i++) {
		SSL_SESSION *s = newest;
		newest = NULL;
		assert_non_null(s);
		assert_int_equal(data_conn(d, s, ver, no_ticket, END_CLEAN, NULL, 0), 0);
		/* No new ticket: not on a resumed TLS 1.2 session, and never on a TLS 1.3
		 * data connection (src/tls/data.c) ... */
		assert_null(newest);
		if (ver == TLS1_2_VERSION) {
			newest = s;
			continue;
		}
		/* ... but on the control connection when the worker asks for one. */
		SSL_SESSION_free(s);
		assert_int_equal(tls_conn_new_ticket(c.x.sv), 0);
		exchange(c.x.sv, c.x.cl);
		assert_non_null(newest);
	}
	/* A full handshake is refused, distinguishably. */
	assert_int_equal(data_conn(d, NULL, ver, no_ticket, END_CLEAN, reason, sizeof(reason)),
	                 TLS_E_NOT_RESUMED);
	assert_non_null(strstr(reason, "no TLS session"));

	/* A session from another connection (its network child re-keyed the tickets). */
	assert_int_equal(tls_server_rekey_tickets(srv), 0);
	struct tls_server *srv2 = new_server(NULL);
	struct control other;
	control_open(&other, srv2, ver, no_ticket);
	SSL_SESSION *foreign = fresh_copy(other.session);
	assert_int_equal(data_conn(d, foreign, ver, no_ticket, END_CLEAN, reason, sizeof(reason)),
	                 TLS_E_NOT_RESUMED);
	assert_non_null(strstr(reason, "not the control connection's"));
	SSL_SESSION_free(foreign);
	/* ... and the other connection's own data context does not take ours. */
	struct tls_data_ctx *d2 = data_ctx_of(&other);
	SSL_SESSION *ours = fresh_copy(c.session);
	assert_int_equal(data_conn(d2, ours, ver, no_ticket, END_CLEAN, NULL, 0),
	                 TLS_E_NOT_RESUMED);
	SSL_SESSION_free(ours);
	tls_data_ctx_free(d2);
	control_close(&other);
	tls_server_free(srv2);

	/* Still resumable after the refusals. */
	SSL_SESSION *s = fresh_copy(c.session);
	assert_int_equal(data_conn(d, s, ver, no_ticket, END_CLEAN, NULL, 0), 0);
	SSL_SESSION_free(s);

	tls_data_ctx_free(d);
	control_close(&c);
	tls_server_free(srv);
	SSL_SESSION_free(newest);
	newest = NULL;
}

static void
test_resume_tls13_psk(void **state)
{
	resumption(TLS1_3_VERSION, false);
}

static void
test_resume_tls12_ticket(void **state)
{
	resumption(TLS1_2_VERSION, false);
}

static void
test_resume_tls12_session_id(void **state)
{
	resumption(TLS1_2_VERSION, true);
}

/* A data connection that ends abortively, or with a fatal alert, must not end
 * session-ID resumption for the rest of the FTP session. */
static void
test_resume_after_abort_and_alert(void **state)
{
	struct tls_server *srv = new_server(NULL);
	struct control c;
	control_open(&c, srv, TLS1_2_VERSION, true);
	struct tls_data_ctx *d = data_ctx_of(&c);
	/* Fresh client copies: an OpenSSL client that frees a connection without
	 * close_notify marks its own session object unusable; the server side is tested. */
	for (int i = 0; i < 3; i++) {
		SSL_SESSION *s = fresh_copy(c.session);
		assert_int_equal(data_conn(d, s, TLS1_2_VERSION, true, END_ABORT, NULL, 0), 0);
		SSL_SESSION_free(s);
	}

	/* A forged record after the handshake: the server reads a bad record and sends a
	 * fatal alert (OpenSSL then evicts the session from the cache). */
	SSL_CTX *cctx = client_ctx(TLS1_2_VERSION, TLS1_2_VERSION, true, NULL, 0);
	struct cli x;
	cli_open(&x, cctx, NULL, d);
	SSL *cl = x.cl;
	struct tls_conn *sv = x.sv;
	SSL_SESSION *s = fresh_copy(c.session);
	SSL_set_session(cl, s);
	SSL_SESSION_free(s);
	assert_int_equal(handshake(sv, cl).server, 0);
	static const unsigned char forged[] = {0x17, 0x03, 0x03, 0x00, 0x20, 1,  2,  3,  4,  5,
	                                       6,    7,    8,    9,    10,   11, 12, 13, 14, 15,
	                                       16,   17,   18,   19,   20,   21, 22, 23, 24, 25,
	                                       26,   27,   28,   29,   30,   31, 32};
	assert_int_equal(write(x.fd[0], forged, sizeof(forged)), (ssize_t)sizeof(forged));
	char b[16];
	size_t n;
	assert_int_equal(tls_conn_read(sv, b, sizeof(b), &n), TLS_E_PROTOCOL);
	assert_true(strlen(tls_conn_reason(sv)) > 0);
	cli_close(&x);

	s = fresh_copy(c.session);
	assert_int_equal(data_conn(d, s, TLS1_2_VERSION, true, END_CLEAN, NULL, 0), 0);
	SSL_SESSION_free(s);
	tls_data_ctx_free(d);
	control_close(&c);
	tls_server_free(srv);
}

/* Upload end without close_notify is reported as truncation (FTP 426/451, not 226). */
static void
test_truncation(void **state)
{
	int vers[] = {TLS1_2_VERSION, TLS1_3_VERSION};
	for (size_t v = 0; v < ARRAY_SIZE(vers); v++) {
		struct tls_server *srv = new_server(NULL);
		struct control c;
		control_open(&c, srv, vers[v], false);
		assert_int_equal(SSL_write(c.x.cl, "data", 4), 4);
		shutdown(c.x.fd[0], SHUT_WR); /* TCP FIN, no close_notify */
		char b[16];
		size_t n = 0;
		int r = TLS_WANT_READ;
		for (int i = 0; i < 100 && r == TLS_WANT_READ; i++)
			r = tls_conn_read(c.x.sv, b, sizeof(b), &n);
		assert_int_equal(r, 0);
		assert_int_equal(n, 4);
		r = tls_conn_read(c.x.sv, b, sizeof(b), &n);
		assert_int_equal(r, TLS_E_TRUNCATED);
		assert_non_null(strstr(tls_conn_reason(c.x.sv), "without close_notify"));
		control_close(&c);
		tls_server_free(srv);
	}
}

/* CCC (RFC 4217 section 6): close_notify both ways, then plaintext on the same socket,
 * and no plaintext byte is swallowed by the TLS layer. */
static void
test_ccc(void **state)
{
	struct tls_server *srv = new_server(NULL);
	struct control c;
	control_open(&c, srv, TLS1_3_VERSION, false);
	size_t n;
	assert_int_equal(tls_conn_write(c.x.sv, "200 CCC\r\n", 9, &n), 0);
	int r = tls_conn_shutdown(c.x.sv, true);
	assert_int_equal(r, TLS_WANT_READ);
	char b[32];
	assert_int_equal(SSL_read(c.x.cl, b, sizeof(b)), 9);
	/* The client answers close_notify and goes on in plaintext at once. */
	assert_true(SSL_shutdown(c.x.cl) >= 0);
	assert_int_equal(write(c.x.fd[0], "PWD\r\n", 5), 5);
	r = TLS_WANT_READ;
	for (int i = 0; i < 100 && r == TLS_WANT_READ; i++)
		r = tls_conn_shutdown(c.x.sv, true);
	assert_int_equal(r, 0);
	tls_conn_free(c.x.sv);
	c.x.sv = NULL;
	assert_int_equal(read(c.x.fd[1], b, sizeof(b)), 5);
	assert_memory_equal(b, "PWD\r\n", 5);
	control_close(&c);
	tls_server_free(srv);
}

/* AUTH TLS hand-over: plaintext a client pipelined after AUTH TLS that is still in the
 * socket when the handshake starts is not a ClientHello: the handshake fails and the
 * bytes are never taken as a command. */
static void
test_auth_tls_plaintext_injection(void **state)
{
	struct tls_server *srv = new_server(NULL);
	int fd[2];
	pair(fd);
	assert_int_equal(write(fd[0], "USER evil\r\n", 11), 11);
	struct tls_conn *sv;
	assert_int_equal(tls_conn_new_server(srv, fd[1], &sv), 0);
	int r = tls_conn_handshake(sv);
	assert_int_equal(r, TLS_E_HANDSHAKE);
	assert_true(strlen(tls_conn_reason(sv)) > 0);
	tls_conn_free(sv);
	close(fd[0]);
	close(fd[1]);
	tls_server_free(srv);
}

static void
test_key_dropped(void **state)
{
	struct tls_server *srv = new_server(NULL);
	SSL_CTX *cctx = client_ctx(TLS1_2_VERSION, TLS1_3_VERSION, false, NULL, 0);
	struct cli x;
	cli_open(&x, cctx, srv, NULL);
	SSL *cl = x.cl;
	struct tls_conn *sv = x.sv;
	tls_server_forget_key(srv);
	assert_false(tls_server_has_key(srv));
	assert_true(tls_conn_holds_key(sv));
	struct tls_conn *again;
	assert_int_equal(tls_conn_new_server(srv, x.fd[1], &again), -ENOKEY);
	assert_int_equal(handshake(sv, cl).server, 0);
	assert_false(tls_conn_holds_key(sv));
	exchange(sv, cl); /* traffic goes on without the key */
	/* Non-blocking writes: 1 MiB to a client that does not read yet. */
	static char big[1 << 20];
	memset(big, 'x', sizeof(big));
	size_t off = 0, got = 0;
	bool blocked = false;
	char rb[65536];
	while (off < sizeof(big) || got < sizeof(big)) {
		size_t n = 0;
		if (off < sizeof(big)) {
			int r = tls_conn_write(sv, big + off, sizeof(big) - off, &n);
			if (r == TLS_WANT_WRITE)
				blocked = true;
			else
				assert_int_equal(r, 0);
			off += n;
		}
		if (blocked) {
			int k = SSL_read(cl, rb, sizeof(rb));
			if (k > 0)
				got += (size_t)k;
		}
	}
	assert_true(blocked);
	assert_int_equal(got, sizeof(big));
	cli_close(&x);
	tls_server_free(srv);
}

static void
test_strict_sni(void **state)
{
	struct tls_settings s = {.cert_file = cert_path, .key_file = key_path, .strict_sni = true};
	struct tls_server *srv = new_server(&s);
	const char *names[] = {NULL, "localhost", "evil.example"};
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		SSL_CTX *cctx = client_ctx(TLS1_2_VERSION, TLS1_3_VERSION, false, NULL, 0);
		struct cli x;
		cli_open(&x, cctx, srv, NULL);
		SSL *cl = x.cl;
		struct tls_conn *sv = x.sv;
		if (names[i])
			SSL_set_tlsext_host_name(cl, names[i]);
		struct hs h = handshake(sv, cl);
		if (i < 2) {
			assert_int_equal(h.server, 0);
		} else {
			assert_int_equal(h.server, TLS_E_HANDSHAKE);
			assert_non_null(strstr(tls_conn_reason(sv), "evil.example"));
			assert_int_equal(ERR_GET_REASON(h.cerr), SSL_R_TLSV1_UNRECOGNIZED_NAME);
		}
		cli_close(&x);
	}
	tls_server_free(srv);
}

static void
test_blob_malformed(void **state)
{
	struct tls_server *srv = new_server(NULL);
	struct control c;
	control_open(&c, srv, TLS1_2_VERSION, true);
	struct xbuf blob = XBUF_NULL;
	assert_int_equal(tls_conn_export_resumption(c.x.sv, &blob), 0);
	size_t len = xbuf_len(&blob);
	uint8_t *copy = xmalloc(len + 1);
	memcpy(copy, xbuf_ptr(&blob), len);
	copy[len] = 0;
	struct tls_data_ctx *d = NULL;
	for (size_t cut = 0; cut < len; cut += 7) {
		assert_int_equal(tls_data_ctx_new(copy, cut, &d), -EBADMSG);
		assert_int_equal(tls_data_blob_check(copy, cut), -EBADMSG);
	}
	assert_int_equal(tls_data_ctx_new(copy, len + 1, &d), -EBADMSG);
	assert_int_equal(tls_data_blob_check(copy, len + 1), -EBADMSG);
	copy[0] ^= 1;
	assert_int_equal(tls_data_ctx_new(copy, len, &d), -EBADMSG);
	assert_int_equal(tls_data_blob_check(copy, len), -EBADMSG);
	copy[0] ^= 1;
	/* The worker checks at the hand-over and builds the context later. */
	assert_int_equal(tls_data_blob_check(copy, len), 0);
	assert_int_equal(tls_data_prepare(), 0);
	assert_int_equal(tls_data_ctx_new(copy, len, &d), 0);
	tls_data_ctx_free(d);
	freezero(copy, len + 1);
	xbuf_deinit(&blob);
	control_close(&c);
	tls_server_free(srv);
}

/* ---- configuration errors ---- */

static char *
tmp_path(const char *name)
{
	return xasprintf("%s/%s", dir, name);
}

static void
write_text(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

static void
write_key(const char *path, EVP_PKEY *k, const EVP_CIPHER *enc)
{
	FILE *f = fopen(path, "we");
	assert_non_null(f);
	assert_int_equal(PEM_write_PrivateKey(f, k, enc, (unsigned char *)(enc ? "pw" : NULL),
	                                      enc ? 2 : 0, NULL, NULL),
	                 1);
	fclose(f);
	chmod(path, 0600);
}

static void
write_cert(const char *path, EVP_PKEY *k, long not_after_days)
{
	X509 *x = X509_new();
	X509_set_version(x, X509_VERSION_3);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 7);
	X509_gmtime_adj(X509_getm_notBefore(x), -86400L * 30);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400L * not_after_days);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
	                           (const unsigned char *)"test", -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(x));
	X509_set_pubkey(x, k);
	assert_true(X509_sign(x, k, EVP_sha256()) > 0);
	FILE *f = fopen(path, "we");
	assert_non_null(f);
	PEM_write_X509(f, x);
	fclose(f);
	X509_free(x);
}

static int
load(const char *cert, const char *key, const char *ciphers, const char *suites,
     struct berth_errors *errs, struct berth_errors *warns)
{
	struct tls_settings s = {
	        .cert_file = cert, .key_file = key, .ciphers = ciphers, .ciphersuites = suites};
	struct tls_server *srv = NULL;
	int r = tls_server_new(&s, errs, warns, &srv);
	if (r == 0)
		tls_server_free(srv);
	else
		assert_null(srv);
	return r;
}

static void
expect_error(const char *cert, const char *key, const char *ciphers, const char *suites,
             const char *file, const char *needle)
{
	struct berth_errors errs = BERTH_ERRORS_NULL, warns = BERTH_ERRORS_NULL;
	int r = load(cert, key, ciphers, suites, &errs, &warns);
	if (r != TLS_E_CONFIG || !berth_errors_find(&errs, needle) ||
	    (file && !berth_errors_find(&errs, file))) {
		fprintf(stderr, "expected \"%s\" about %s, got %d:\n", needle, file ? file : "-",
		        r);
		berth_errors_print(&errs, stderr);
		fail();
	}
	berth_errors_free(&errs);
	berth_errors_free(&warns);
}

static void
test_config_errors(void **state)
{
	_cleanup_free_ char *garbage = tmp_path("garbage.pem");
	_cleanup_free_ char *missing = tmp_path("missing.pem");
	_cleanup_free_ char *other_key = tmp_path("other.key");
	_cleanup_free_ char *enc_key = tmp_path("enc.key");
	_cleanup_free_ char *weak_key = tmp_path("weak.key");
	_cleanup_free_ char *weak_cert = tmp_path("weak.crt");
	_cleanup_free_ char *open_key = tmp_path("open.key");
	_cleanup_free_ char *old_key = tmp_path("old.key");
	_cleanup_free_ char *old_cert = tmp_path("old.crt");
	write_text(garbage, "this is not PEM\n", 0600);
	EVP_PKEY *k2 = EVP_EC_gen("P-256");
	write_key(other_key, k2, NULL);
	write_key(enc_key, k2, EVP_aes_256_cbc());
	write_key(open_key, k2, NULL);
	chmod(open_key, 0644);
	write_key(old_key, k2, NULL);
	write_cert(old_cert, k2, -1);
	EVP_PKEY *weak = EVP_RSA_gen(1024);
	write_key(weak_key, weak, NULL);
	write_cert(weak_cert, weak, 30);
	EVP_PKEY_free(weak);
	EVP_PKEY_free(k2);

	expect_error(garbage, key_path, NULL, NULL, garbage, "no PEM certificate found");
	expect_error(cert_path, garbage, NULL, NULL, garbage, "no PEM private key found");
	expect_error(missing, key_path, NULL, NULL, missing, "cannot read certificate");
	expect_error(cert_path, missing, NULL, NULL, missing, "cannot read private key");
	expect_error(cert_path, other_key, NULL, NULL, other_key, "does not match the certificate");
	expect_error(cert_path, enc_key, NULL, NULL, enc_key, "encrypted");
	expect_error(weak_cert, weak_key, NULL, NULL, weak_key, "key too weak");
	expect_error(cert_path, open_key, NULL, NULL, open_key, "accessible by everybody");
	expect_error(cert_path, key_path, "ECDHE-RSA-AES128-GCM-SHA256:NO-SUCH-CIPHER", NULL, NULL,
	             "unknown TLS 1.2 cipher \"NO-SUCH-CIPHER\"");
	expect_error(cert_path, key_path, NULL, "TLS_AES_128_GCM_SHA256:TLS_NOPE", NULL,
	             "unknown TLS 1.3 ciphersuite \"TLS_NOPE\"");
	expect_error(cert_path, key_path, "aNULL", NULL, NULL, "no usable TLS 1.2 cipher");

	/* Expired: a warning, not an error. */
	struct berth_errors errs = BERTH_ERRORS_NULL, warns = BERTH_ERRORS_NULL;
	assert_int_equal(load(old_cert, old_key, NULL, NULL, &errs, &warns), 0);
	assert_int_equal(errs.n, 0);
	assert_true(berth_errors_find(&warns, "certificate expired on"));
	assert_true(berth_errors_find(&warns, old_cert));
	berth_errors_free(&warns);
	/* Key and certificate in one file. */
	_cleanup_free_ char *both = tmp_path("both.pem");
	char *c = NULL, *k = NULL;
	FILE *f = fopen(cert_path, "re");
	size_t clen = 0, klen = 0;
	assert_int_equal(getdelim(&c, &clen, '\0', f) > 0, 1);
	fclose(f);
	f = fopen(key_path, "re");
	assert_int_equal(getdelim(&k, &klen, '\0', f) > 0, 1);
	fclose(f);
	_cleanup_free_ char *text = xasprintf("%s%s", k, c);
	write_text(both, text, 0600);
	free(c);
	free(k);
	assert_int_equal(load(both, NULL, NULL, NULL, &errs, &warns), 0);
	berth_errors_free(&errs);
	berth_errors_free(&warns);
}

static void
test_selfsigned(void **state)
{
	_cleanup_free_ char *crt = tmp_path("ss.crt");
	_cleanup_free_ char *key = tmp_path("ss.key");
	bool created = false;
	assert_int_equal(tls_selfsigned_ensure(crt, key, &created), 0);
	assert_true(created);
	struct stat st;
	assert_int_equal(stat(key, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(stat(crt, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0644);
	char fp1[BERTH_TLS_FINGERPRINT_LEN];
	assert_int_equal(tls_cert_file_fingerprint(crt, fp1), 0);
	assert_int_equal(strlen(fp1), 95);
	/* reused on the next run */
	assert_int_equal(tls_selfsigned_ensure(crt, key, &created), 0);
	assert_false(created);
	char fp2[BERTH_TLS_FINGERPRINT_LEN];
	assert_int_equal(tls_cert_file_fingerprint(crt, fp2), 0);
	assert_string_equal(fp1, fp2);
	/* the same as openssl x509 -fingerprint -sha256 */
	_cleanup_free_ char *cmd =
	        xasprintf("openssl x509 -noout -fingerprint -sha256 -in '%s' 2>&1", crt);
	FILE *p = popen(cmd, "r");
	assert_non_null(p);
	char line[256] = "";
	assert_non_null(fgets(line, sizeof(line), p));
	pclose(p);
	char *eq = strchr(line, '=');
	assert_non_null(eq);
	eq[1 + strcspn(eq + 1, "\r\n")] = '\0';
	assert_string_equal(eq + 1, fp1);
	/* names, key type, loads as a server, same fingerprint */
	FILE *f = fopen(crt, "re");
	X509 *x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	assert_non_null(x);
	assert_int_equal(X509_check_ip_asc(x, "127.0.0.1", 0), 1);
	assert_int_equal(X509_check_host(x, "localhost", 0, 0, NULL), 1);
	assert_true(EVP_PKEY_is_a(X509_get0_pubkey(x), "EC"));
	assert_int_equal(EVP_PKEY_get_bits(X509_get0_pubkey(x)), 256);
	X509_free(x);
	struct tls_settings s = {.cert_file = crt, .key_file = key};
	struct tls_server *srv = new_server(&s);
	char fp3[BERTH_TLS_FINGERPRINT_LEN];
	tls_server_fingerprint(srv, fp3);
	assert_string_equal(fp1, fp3);
	tls_server_free(srv);
	/* a missing key makes a new pair */
	assert_int_equal(unlink(key), 0);
	assert_int_equal(tls_selfsigned_ensure(crt, key, &created), 0);
	assert_true(created);
	assert_int_equal(tls_cert_file_fingerprint(crt, fp2), 0);
	assert_string_not_equal(fp1, fp2);
	assert_int_equal(tls_cert_file_fingerprint(key, fp2), -EBADMSG);
}

static int
group_setup(void **state)
{
	signal(SIGPIPE, SIG_IGN);
	snprintf(dir, sizeof(dir), "/tmp/berth-tls-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	cert_path = xasprintf("%s/cert.pem", dir);
	key_path = xasprintf("%s/key.pem", dir);
	bool created;
	return tls_selfsigned_ensure(cert_path, key_path, &created);
}

static int
group_teardown(void **state)
{
	_cleanup_free_ char *cmd = xasprintf("rm -rf '%s'", dir);
	(void)!system(cmd);
	free(cert_path);
	free(key_path);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_tls12),
	        cmocka_unit_test(test_tls13),
	        cmocka_unit_test(test_preference_no_renegotiation),
	        cmocka_unit_test(test_old_versions_refused),
	        cmocka_unit_test(test_alpn),
	        cmocka_unit_test(test_resume_tls13_psk),
	        cmocka_unit_test(test_resume_tls12_ticket),
	        cmocka_unit_test(test_resume_tls12_session_id),
	        cmocka_unit_test(test_resume_after_abort_and_alert),
	        cmocka_unit_test(test_truncation),
	        cmocka_unit_test(test_ccc),
	        cmocka_unit_test(test_auth_tls_plaintext_injection),
	        cmocka_unit_test(test_key_dropped),
	        cmocka_unit_test(test_strict_sni),
	        cmocka_unit_test(test_blob_malformed),
	        cmocka_unit_test(test_config_errors),
	        cmocka_unit_test(test_selfsigned),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
