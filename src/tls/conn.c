/* SPDX-License-Identifier: BSD-2-Clause */
/* One non-blocking TLS connection (control or data): handshake, read, write, close. */
#include <errno.h>
#include <openssl/err.h>
#include <stdio.h>
#include <string.h>

#include "berth/common.h"
#include "berth/xmem.h"
#include "tls-internal.h"

int
tls_conn_alloc(SSL_CTX *ctx, int fd, struct tls_conn **ret)
{
	SSL *ssl = SSL_new(ctx);
	if (!ssl)
		return -ENOMEM;
	if (SSL_set_fd(ssl, fd) != 1) {
		SSL_free(ssl);
		ERR_clear_error();
		return -EBADF;
	}
	SSL_set_accept_state(ssl);
	struct tls_conn *c = xcalloc(1, sizeof(*c));
	c->ssl = ssl;
	c->fd = fd;
	SSL_set_app_data(ssl, c);
	*ret = c;
	return 0;
}

/* Before each SSL_* call: a clean error queue and errno, no stale reason. */
static void
begin(struct tls_conn *c)
{
	c->reason[0] = '\0';
	ERR_clear_error();
	errno = 0;
}

static void
set_reason(struct tls_conn *c, const char *text)
{
	snprintf(c->reason, sizeof(c->reason), "%s", text);
}

/* The last OpenSSL reason ("wrong version number", "sslv3 alert bad certificate"). */
static void
set_ssl_reason(struct tls_conn *c, const char *what)
{
	unsigned long e = ERR_peek_last_error();
	const char *s = e ? ERR_reason_error_string(e) : NULL;
	snprintf(c->reason, sizeof(c->reason), "%s%s%s", what, *what ? ": " : "",
	         s ? s : "unknown error");
}

static bool
unexpected_eof(void)
{
	unsigned long e = ERR_peek_last_error();
	return ERR_GET_LIB(e) == ERR_LIB_SSL &&
	       ERR_GET_REASON(e) == SSL_R_UNEXPECTED_EOF_WHILE_READING;
}

/* Map a failed SSL_* call outside the handshake. */
static int
io_error(struct tls_conn *c, int rc, const char *what)
{
	int saved = errno;
	int e = SSL_get_error(c->ssl, rc);
	int r;
	switch (e) {
	case SSL_ERROR_WANT_READ:
		r = TLS_WANT_READ;
		break;
	case SSL_ERROR_WANT_WRITE:
		r = TLS_WANT_WRITE;
		break;
	case SSL_ERROR_ZERO_RETURN:
		set_reason(c, "peer sent close_notify");
		r = TLS_E_CLOSED;
		break;
	case SSL_ERROR_SYSCALL:
		if (ERR_peek_last_error() == 0 && saved != 0) {
			set_reason(c, strerror(saved));
			r = -saved;
		} else {
			set_reason(c, "connection closed without close_notify");
			r = TLS_E_TRUNCATED;
		}
		break;
	case SSL_ERROR_SSL:
		if (unexpected_eof()) {
			set_reason(c, "connection closed without close_notify");
			r = TLS_E_TRUNCATED;
		} else {
			set_ssl_reason(c, what);
			r = TLS_E_PROTOCOL;
		}
		break;
	default:
		set_ssl_reason(c, what);
		r = TLS_E_PROTOCOL;
		break;
	}
	ERR_clear_error();
	return r;
}

static void
drop_key(struct tls_conn *c)
{
	/* Releases this SSL's certificate and key references; with the server's own
	 * reference forgotten, the key's memory is cleansed and freed. */
	if (!c->data)
		SSL_certs_clear(c->ssl);
}

static int
not_resumed(struct tls_conn *c)
{
	if (c->offered_psk || c->offered_ticket || c->offered_sid)
		set_reason(c, "client offered a TLS session that is not the control connection's");
	else
		set_reason(c, "client offered no TLS session to resume");
	return TLS_E_NOT_RESUMED;
}

int
tls_conn_handshake(struct tls_conn *c)
{
	if (c->done)
		return 0;
	begin(c);
	int rc = SSL_do_handshake(c->ssl);
	if (rc == 1) {
		c->done = true;
		drop_key(c);
		if (c->data && !SSL_session_reused(c->ssl))
			return not_resumed(c);
		return 0;
	}
	int saved = errno;
	int e = SSL_get_error(c->ssl, rc);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
		ERR_clear_error();
		return e == SSL_ERROR_WANT_READ ? TLS_WANT_READ : TLS_WANT_WRITE;
	}
	int r;
	if (c->alpn_refused) {
		snprintf(c->reason, sizeof(c->reason),
		         "client offered ALPN \"%s\" without \"ftp\" (another protocol?)",
		         c->alpn_offered);
		r = TLS_E_ALPN;
	} else if (c->data && c->full_handshake) {
		r = not_resumed(c);
	} else if (c->sni_refused) {
		r = TLS_E_HANDSHAKE; /* reason set by the callback */
	} else if (e == SSL_ERROR_SYSCALL && ERR_peek_last_error() == 0 && saved != 0) {
		set_reason(c, strerror(saved));
		r = -saved;
	} else if ((e == SSL_ERROR_SYSCALL && ERR_peek_last_error() == 0) || unexpected_eof()) {
		set_reason(c, "connection closed during the handshake");
		r = TLS_E_HANDSHAKE;
	} else {
		set_ssl_reason(c, "");
		r = TLS_E_HANDSHAKE;
	}
	ERR_clear_error();
	return r;
}

static int
transfer(struct tls_conn *c, bool writing, void *buf, size_t len, size_t *ret_n)
{
	if (!c->done || len == 0)
		return -EINVAL;
	begin(c);
	size_t n = 0;
	int rc = writing ? SSL_write_ex(c->ssl, buf, len, &n) : SSL_read_ex(c->ssl, buf, len, &n);
	if (rc == 1) {
		*ret_n = n;
		return 0;
	}
	return io_error(c, rc, writing ? "write" : "read");
}

int
tls_conn_read(struct tls_conn *c, void *buf, size_t len, size_t *ret_n)
{
	return transfer(c, false, buf, len, ret_n);
}

int
tls_conn_write(struct tls_conn *c, const void *buf, size_t len, size_t *ret_n)
{
	/* SSL_write_ex() does not modify the buffer. */
	return transfer(c, true, (void *)buf, len, ret_n);
}

int
tls_conn_new_ticket(struct tls_conn *c)
{
	if (!c->done)
		return -EINVAL;
	if (c->data || SSL_version(c->ssl) < TLS1_3_VERSION)
		return 0;
	if (SSL_new_session_ticket(c->ssl) != 1) {
		ERR_clear_error();
		return -ENOMEM;
	}
	return 0;
}

bool
tls_conn_pending(const struct tls_conn *c)
{
	return SSL_pending(c->ssl) > 0;
}

int
tls_conn_shutdown(struct tls_conn *c, bool wait_peer)
{
	begin(c);
	int st = SSL_get_shutdown(c->ssl);
	if (!(st & SSL_SENT_SHUTDOWN) || SSL_want_write(c->ssl)) {
		int rc = SSL_shutdown(c->ssl);
		if (rc < 0)
			return io_error(c, rc, "shutdown");
		st = SSL_get_shutdown(c->ssl);
	}
	if (!wait_peer || (st & SSL_RECEIVED_SHUTDOWN))
		return 0;
	/* Wait for the peer's close_notify; data records are not allowed any more. */
	unsigned char scratch[256];
	size_t n = 0;
	errno = 0;
	int rc = SSL_read_ex(c->ssl, scratch, sizeof(scratch), &n);
	explicit_bzero(scratch, sizeof(scratch));
	if (rc == 1) {
		set_reason(c, "data received while waiting for close_notify");
		return TLS_E_PROTOCOL;
	}
	int r = io_error(c, rc, "shutdown");
	return r == TLS_E_CLOSED ? 0 : r;
}

struct tls_conn *
tls_conn_free(struct tls_conn *c)
{
	if (!c)
		return NULL;
	/* SSL_free() of a connection that did not send close_notify evicts its session
	 * from the context's cache; keep it (the control session must stay resumable). */
	SSL_set_shutdown(c->ssl, SSL_get_shutdown(c->ssl) | SSL_SENT_SHUTDOWN);
	SSL_free(c->ssl);
	ERR_clear_error();
	explicit_bzero(c, sizeof(*c));
	free(c);
	return NULL;
}

const char *
tls_conn_reason(const struct tls_conn *c)
{
	return c->reason;
}

int
tls_conn_get_info(const struct tls_conn *c, struct tls_conn_info *ret)
{
	if (!c->done)
		return -EINVAL;
	struct tls_conn_info info = {
	        .version = SSL_get_version(c->ssl),
	        .cipher = SSL_get_cipher_name(c->ssl),
	        .resumed = SSL_session_reused(c->ssl) == 1,
	};
	const unsigned char *alpn = NULL;
	unsigned int alen = 0;
	SSL_get0_alpn_selected(c->ssl, &alpn, &alen);
	if (alpn && alen < sizeof(info.alpn))
		snprintf(info.alpn, sizeof(info.alpn), "%.*s", (int)alen, (const char *)alpn);
	const char *sni = SSL_get_servername(c->ssl, TLSEXT_NAMETYPE_host_name);
	if (sni)
		snprintf(info.sni, sizeof(info.sni), "%s", sni);
	*ret = info;
	return 0;
}

bool
tls_conn_holds_key(const struct tls_conn *c)
{
	return SSL_get_privatekey(c->ssl) != NULL;
}
