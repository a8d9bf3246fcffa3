/* SPDX-License-Identifier: BSD-2-Clause */
/* Internals shared by the files of src/tls (OpenSSL types live here, not in tls.h). */
#pragma once

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "berth/buf.h"
#include "berth/tls.h"

#define TLS_TICKET_KEYS_LEN 80 /* name 16 + HMAC key 32 + AES key 32 */
#define TLS_SID_CTX         "berth-ftps"
#define TLS_PEM_MAX         (1024u * 1024)
/* Always removed from the TLS 1.2 list: suites that work without a certificate (a
 * resumption-only context must never complete a full handshake) or without encryption. */
#define TLS_CIPHERS_SUFFIX ":!aNULL:!eNULL:!PSK:!SRP"

struct tls_server {
	SSL_CTX *ctx;
	X509 *leaf;
	STACK_OF(X509) * chain; /* certificates after the leaf */
	EVP_PKEY *key;          /* NULL after tls_server_forget_key() */
	unsigned char ticket_keys[TLS_TICKET_KEYS_LEN];
	char *ciphers;
	char *ciphersuites;
	bool tls13_only;
	bool strict_sni;
	uint32_t lifetime;
};

struct tls_data_ctx {
	SSL_CTX *ctx;
	struct xbuf session; /* DER of the TLS 1.2 control session (session-ID resumption) */
};

struct tls_conn {
	SSL *ssl;
	int fd;
	bool data; /* resumption-only context */
	bool done; /* handshake complete */
	struct tls_server *srv;
	/* Set by the callbacks during the handshake. */
	bool full_handshake; /* data context: no session was resumed */
	bool alpn_refused;
	bool sni_refused;
	bool offered_psk;    /* TLS 1.3 pre_shared_key extension */
	bool offered_ticket; /* non-empty TLS 1.2 session ticket */
	bool offered_sid;    /* non-empty session ID from a TLS 1.2-only client */
	char alpn_offered[64];
	char reason[192];
};

/* Apply the settings both contexts share (versions, options, ciphers, session id
 * context, lifetime, ticket keys, ALPN/ClientHello callbacks). Errors go to @errors
 * with @what as the prefix. Returns 0 or TLS_E_CONFIG. */
int tls_ctx_configure(SSL_CTX *ctx, const char *ciphers, const char *ciphersuites, bool tls13_only,
                      uint32_t lifetime, const unsigned char ticket_keys[TLS_TICKET_KEYS_LEN],
                      struct berth_errors *errors, const char *what);

/* A connection object around a new SSL for @fd (accept state). */
int tls_conn_alloc(SSL_CTX *ctx, int fd, struct tls_conn **ret);

/* "AB:CD:..." of @md (@len bytes) into @out (3 * len bytes). */
void tls_hex_colons(const unsigned char *md, size_t len, char *out);
