/* SPDX-License-Identifier: BSD-2-Clause */
/* The resumption-only data-channel context (worker side) and the blob that carries the
 * control connection's resumption secrets from the network child to the worker.
 *
 * The context has no certificate and no private key, so it cannot complete a full
 * handshake: TLS 1.3 needs a signature and every TLS 1.2 suite left in the list needs a
 * certificate. A client completes a handshake only by resuming a session this
 * connection issued: a ticket encrypted under the per-connection ticket key (TLS 1.3
 * PSK, TLS 1.2 ticket) or the control session itself (TLS 1.2 session ID), imported
 * into the cache. Tested on OpenSSL 3.0 (tests/tls/test-tls.c). */
#include <errno.h>
#include <openssl/err.h>
#include <string.h>

#include "berth/buf.h"
#include "berth/common.h"
#include "berth/xmem.h"
#include "tls-internal.h"

#define BLOB_MAGIC   0x42544c53u /* "BTLS" */
#define BLOB_VERSION 1u
#define SESSION_MAX  (8u * 1024)

int
tls_conn_export_resumption(const struct tls_conn *c, struct xbuf *out)
{
	if (!c->done || c->data || !c->srv)
		return -EINVAL;
	const struct tls_server *srv = c->srv;
	/* One allocation of the final size: a growing buffer would leave unwiped copies of
	 * the secrets behind in realloc()ed memory. */
	uint8_t *p;
	xbuf_init(out, BERTH_TLS_BLOB_MAX);
	if (xbuf_reserve(out, BERTH_TLS_BLOB_MAX, &p) < 0 ||
	    xbuf_trim_tail(out, BERTH_TLS_BLOB_MAX) < 0)
		return -ENOBUFS;

	/* TLS 1.2 without tickets: the session lives in the control context's cache under
	 * its session ID; the worker gets a copy. TLS 1.3 and TLS 1.2 tickets need only the
	 * ticket key. */
	unsigned char *der = NULL;
	int der_len = 0;
	SSL_SESSION *sess = SSL_get1_session(c->ssl);
	unsigned int idlen = 0;
	if (sess && SSL_SESSION_get_protocol_version(sess) <= TLS1_2_VERSION &&
	    SSL_SESSION_get_id(sess, &idlen) && idlen > 0)
		der_len = i2d_SSL_SESSION(sess, &der);
	SSL_SESSION_free(sess);
	if (der_len < 0 || (size_t)der_len > SESSION_MAX) {
		OPENSSL_clear_free(der, der_len > 0 ? (size_t)der_len : 0);
		return -ENOBUFS;
	}
	int r = 0;
	if (xbuf_put_u32(out, BLOB_MAGIC) < 0 || xbuf_put_u32(out, BLOB_VERSION) < 0 ||
	    xbuf_put_string(out, srv->ticket_keys, sizeof(srv->ticket_keys)) < 0 ||
	    xbuf_put_cstring(out, srv->ciphers) < 0 ||
	    xbuf_put_cstring(out, srv->ciphersuites) < 0 || xbuf_put_u8(out, srv->tls13_only) < 0 ||
	    xbuf_put_u32(out, srv->lifetime) < 0 ||
	    xbuf_put_string(out, der, der ? (size_t)der_len : 0) < 0)
		r = -ENOBUFS;
	OPENSSL_clear_free(der, der ? (size_t)der_len : 0);
	return r;
}

/* A full handshake is about to start (OpenSSL calls this only when no session was
 * resumed): remember it so the failure is reported as "not resumed". The handshake
 * then fails by itself for lack of a certificate (handshake_failure alert). */
static int
data_cert_cb(SSL *ssl, void *arg)
{
	(void)arg;
	struct tls_conn *c = SSL_get_app_data(ssl);
	if (c)
		c->full_handshake = true;
	return 1;
}

/* (Re)insert the control session: a fatal alert on a data connection makes OpenSSL
 * evict the session it used, and one hostile record must not end resumption for the
 * rest of the FTP session. A new object under the same ID replaces the old one. */
static int
import_session(struct tls_data_ctx *d)
{
	if (xbuf_len(&d->session) == 0)
		return 0;
	const unsigned char *p = xbuf_ptr(&d->session);
	SSL_SESSION *s = d2i_SSL_SESSION(NULL, &p, (long)xbuf_len(&d->session));
	if (!s) {
		ERR_clear_error();
		return -EBADMSG;
	}
	int ok = SSL_CTX_add_session(d->ctx, s);
	SSL_SESSION_free(s);
	ERR_clear_error();
	return ok == 1 ? 0 : -EINVAL;
}

/* The blob's fields (views into it, strings allocated). 0 or -EBADMSG. */
struct blob_fields {
	const uint8_t *keys, *der;
	size_t der_len;
	char *ciphers, *suites;
	uint8_t tls13_only;
	uint32_t lifetime;
};

static void
blob_fields_free(struct blob_fields *f)
{
	free(f->ciphers);
	free(f->suites);
	f->ciphers = f->suites = NULL;
}

static int
blob_parse(const void *blob, size_t len, struct blob_fields *f)
{
	struct xbuf b;
	uint32_t magic, version;
	size_t keys_len;
	*f = (struct blob_fields){0};
	xbuf_view_init(&b, blob, len);
	if (xbuf_get_u32(&b, &magic) < 0 || magic != BLOB_MAGIC || xbuf_get_u32(&b, &version) < 0 ||
	    version != BLOB_VERSION || xbuf_get_string_direct(&b, &f->keys, &keys_len) < 0 ||
	    keys_len != TLS_TICKET_KEYS_LEN || xbuf_get_cstring(&b, &f->ciphers, 4096) < 0 ||
	    xbuf_get_cstring(&b, &f->suites, 4096) < 0 || xbuf_get_u8(&b, &f->tls13_only) < 0 ||
	    f->tls13_only > 1 || xbuf_get_u32(&b, &f->lifetime) < 0 || f->lifetime == 0 ||
	    f->lifetime > BERTH_TLS_MAX_SESSION_LIFETIME ||
	    xbuf_get_string_direct(&b, &f->der, &f->der_len) < 0 || f->der_len > SESSION_MAX ||
	    xbuf_len(&b) != 0) {
		blob_fields_free(f);
		return -EBADMSG;
	}
	return 0;
}

int
tls_data_prepare(void)
{
	/* The library's one-time set-up: loading the configuration reads files and asks
	 * sysinfo() (glibc), which the worker's seccomp filter does not allow. */
	if (OPENSSL_init_ssl(0, NULL) != 1) {
		ERR_clear_error();
		return -ENOMEM;
	}
	return 0;
}

void
tls_data_prewarm(void)
{
	/* A context fetches every cipher, digest, group and signature algorithm into the
	 * library's cache; done once in the spawner, the workers forked from it find them
	 * there instead of each building a copy. */
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	SSL_CTX_free(ctx);
	ERR_clear_error();
}

int
tls_data_blob_check(const void *blob, size_t len)
{
	struct blob_fields f;
	int r = blob_parse(blob, len, &f);
	blob_fields_free(&f);
	return r;
}

static int
data_ctx_build(const struct blob_fields *f, struct tls_data_ctx **ret)
{
	const uint8_t *der = f->der;
	size_t der_len = f->der_len;
	struct tls_data_ctx *d = xcalloc(1, sizeof(*d));
	d->ctx = SSL_CTX_new(TLS_server_method());
	if (!d->ctx) {
		tls_data_ctx_free(d);
		return -ENOMEM;
	}
	int r = tls_ctx_configure(d->ctx, f->ciphers, f->suites, f->tls13_only, f->lifetime,
	                          f->keys, NULL, "TLS data");
	if (r) {
		tls_data_ctx_free(d);
		return r < 0 ? r : -EINVAL;
	}
	SSL_CTX_set_cert_cb(d->ctx, data_cert_cb, NULL);
	/* No TLS 1.3 tickets on data connections: a client that only writes (an upload)
	 * never reads them, and its close() with unread bytes becomes a TCP reset that
	 * discards the tail of the upload it has not sent yet (curl does this). Clients
	 * resume every data connection from the control connection's session instead,
	 * which this context accepts as often as needed. */
	SSL_CTX_set_num_tickets(d->ctx, 0);
	/* Data connections carry nothing after TLS (no CCC): read ahead, so an upload
	 * takes several records per read(2) instead of two reads per record. */
	SSL_CTX_set_read_ahead(d->ctx, 1);
	SSL_CTX_set_default_read_buffer_len(d->ctx, 64 * 1024);
	if (der_len > 0) {
		uint8_t *p;
		/* Sized once: no realloc()ed copy of the session secrets is left behind. */
		xbuf_init(&d->session, SESSION_MAX);
		if (xbuf_reserve(&d->session, SESSION_MAX, &p) < 0 ||
		    xbuf_trim_tail(&d->session, SESSION_MAX) < 0 ||
		    xbuf_put(&d->session, der, der_len) < 0) {
			tls_data_ctx_free(d);
			return -ENOBUFS;
		}
		r = import_session(d);
		if (r < 0) {
			tls_data_ctx_free(d);
			return r;
		}
	}
	*ret = d;
	return 0;
}

int
tls_data_ctx_new(const void *blob, size_t len, struct tls_data_ctx **ret)
{
	struct blob_fields f;
	int r = blob_parse(blob, len, &f);
	if (r < 0)
		return r;
	r = data_ctx_build(&f, ret);
	blob_fields_free(&f);
	return r;
}

struct tls_data_ctx *
tls_data_ctx_free(struct tls_data_ctx *d)
{
	if (!d)
		return NULL;
	SSL_CTX_free(d->ctx);
	xbuf_deinit(&d->session);
	free(d);
	return NULL;
}

int
tls_conn_new_data(struct tls_data_ctx *d, int fd, struct tls_conn **ret)
{
	int r = import_session(d);
	if (r < 0)
		return r;
	struct tls_conn *c = NULL;
	r = tls_conn_alloc(d->ctx, fd, &c);
	if (r < 0)
		return r;
	c->data = true;
	*ret = c;
	return 0;
}
