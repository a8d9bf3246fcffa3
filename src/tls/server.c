/* SPDX-License-Identifier: BSD-2-Clause */
/* The FTPS server context: certificate chain and key from PEM files, checks for
 * `berthd -t`, the shared context settings, the ALPN/SNI/ClientHello callbacks. */
#include <errno.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>

#include "berth/common.h"
#include "berth/conf.h"
#include "berth/file.h"
#include "berth/xmem.h"
#include "tls-internal.h"

static const char *
ssl_reason(void)
{
	unsigned long e = ERR_peek_last_error();
	const char *s = e ? ERR_reason_error_string(e) : NULL;
	return s ? s : "unknown error";
}

void
tls_hex_colons(const unsigned char *md, size_t len, char *out)
{
	static const char hex[] = "0123456789ABCDEF";
	for (size_t i = 0; i < len; i++) {
		out[3 * i] = hex[md[i] >> 4];
		out[3 * i + 1] = hex[md[i] & 15];
		out[3 * i + 2] = i + 1 < len ? ':' : '\0';
	}
	if (len == 0)
		out[0] = '\0';
}

/* ---- callbacks (shared by the control and the data context) ---- */

static int
hello_cb(SSL *ssl, int *al, void *arg)
{
	(void)al;
	(void)arg;
	struct tls_conn *c = SSL_get_app_data(ssl);
	if (!c)
		return SSL_CLIENT_HELLO_SUCCESS;
	const unsigned char *p;
	size_t n;
	bool v13 = SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_supported_versions, &p, &n) == 1;
	c->offered_psk = SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_psk, &p, &n) == 1;
	c->offered_ticket =
	        SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_session_ticket, &p, &n) == 1 && n > 0;
	/* TLS 1.3 clients send a random legacy session id (middlebox compatibility). */
	c->offered_sid = !v13 && SSL_client_hello_get0_session_id(ssl, &p) > 0;
	return SSL_CLIENT_HELLO_SUCCESS;
}

/* ALPN: "ftp" or no ALPN at all; anything else is another protocol talking to us
 * (ALPACA: an HTTPS client redirected to the FTP port), refused with
 * no_application_protocol. */
static int
alpn_cb(SSL *ssl, const unsigned char **out, unsigned char *outlen, const unsigned char *in,
        unsigned int inlen, void *arg)
{
	(void)arg;
	struct tls_conn *c = SSL_get_app_data(ssl);
	size_t shown = 0;
	for (unsigned int i = 0; i < inlen;) {
		unsigned int n = in[i];
		if (n == 0 || i + 1 + n > inlen)
			break;
		if (n == 3 && memcmp(in + i + 1, "ftp", 3) == 0) {
			*out = in + i + 1;
			*outlen = 3;
			return SSL_TLSEXT_ERR_OK;
		}
		/* Remember what was offered, printable, for the log line. */
		if (c && shown + n + 3 < sizeof(c->alpn_offered)) {
			if (shown)
				c->alpn_offered[shown++] = ',';
			for (unsigned int k = 0; k < n; k++) {
				unsigned char ch = in[i + 1 + k];
				c->alpn_offered[shown++] = ch >= 0x21 && ch < 0x7f ? (char)ch : '?';
			}
			c->alpn_offered[shown] = '\0';
		}
		i += 1 + n;
	}
	if (c)
		c->alpn_refused = true;
	return SSL_TLSEXT_ERR_ALERT_FATAL;
}

static int
sni_cb(SSL *ssl, int *al, void *arg)
{
	struct tls_server *srv = arg;
	struct tls_conn *c = SSL_get_app_data(ssl);
	const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
	if (!name || !srv || !srv->strict_sni || !srv->leaf)
		return SSL_TLSEXT_ERR_OK;
	if (X509_check_host(srv->leaf, name, 0, 0, NULL) == 1 ||
	    X509_check_ip_asc(srv->leaf, name, 0) == 1)
		return SSL_TLSEXT_ERR_OK;
	if (c) {
		c->sni_refused = true;
		snprintf(c->reason, sizeof(c->reason),
		         "client asked for server name \"%.100s\" which the certificate does not "
		         "cover",
		         name);
		for (char *s = c->reason; *s; s++)
			if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
				*s = '?';
	}
	*al = SSL_AD_UNRECOGNIZED_NAME;
	return SSL_TLSEXT_ERR_ALERT_FATAL;
}

/* ---- settings ---- */

static const char *const cipher_separators = ":, ";

/* OpenSSL ignores unknown names in cipher strings; name them for `berthd -t`. */
static int
check_cipher_names(const char *list, bool tls13, struct berth_errors *errors, const char *what)
{
	SSL_CTX *scratch = SSL_CTX_new(TLS_server_method());
	if (!scratch)
		return -ENOMEM;
	int r = 0;
	_cleanup_free_ char *copy = xstrdup(list);
	char *save = NULL;
	for (char *tok = strtok_r(copy, cipher_separators, &save); tok;
	     tok = strtok_r(NULL, cipher_separators, &save)) {
		if (!tls13 && strchr("!-+@", tok[0]))
			continue;
		bool known = false;
		if (tls13) {
			if (SSL_CTX_set_ciphersuites(scratch, tok) == 1) {
				STACK_OF(SSL_CIPHER) *sk = SSL_CTX_get_ciphers(scratch);
				for (int i = 0; sk && i < sk_SSL_CIPHER_num(sk); i++)
					if (strcmp(SSL_CIPHER_get_name(sk_SSL_CIPHER_value(sk, i)),
					           tok) == 0)
						known = true;
			}
		} else {
			known = SSL_CTX_set_cipher_list(scratch, tok) == 1;
		}
		ERR_clear_error();
		if (!known) {
			berth_errors_add(errors, NULL, 0, "%s: unknown %s \"%s\"", what,
			                 tls13 ? "TLS 1.3 ciphersuite" : "TLS 1.2 cipher", tok);
			r = TLS_E_CONFIG;
		}
	}
	SSL_CTX_free(scratch);
	return r;
}

int
tls_ctx_configure(SSL_CTX *ctx, const char *ciphers, const char *ciphersuites, bool tls13_only,
                  uint32_t lifetime, const unsigned char ticket_keys[TLS_TICKET_KEYS_LEN],
                  struct berth_errors *errors, const char *what)
{
	int r = 0;
	if (!SSL_CTX_set_min_proto_version(ctx, tls13_only ? TLS1_3_VERSION : TLS1_2_VERSION) ||
	    !SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION))
		return -EINVAL;
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
	                                 SSL_OP_CIPHER_SERVER_PREFERENCE);
	SSL_CTX_clear_options(ctx, SSL_OP_NO_TICKET | SSL_OP_IGNORE_UNEXPECTED_EOF |
	                                   SSL_OP_ALLOW_CLIENT_RENEGOTIATION |
	                                   SSL_OP_ALLOW_UNSAFE_LEGACY_RENEGOTIATION |
	                                   SSL_OP_LEGACY_SERVER_CONNECT);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	/* No read-ahead: OpenSSL reads exactly one record at a time, so after CCC the
	 * plaintext that follows close_notify is still in the socket. */
	SSL_CTX_set_read_ahead(ctx, 0);
	SSL_CTX_set_security_level(ctx, 2);
	SSL_CTX_set_dh_auto(ctx, 1);

	if (!tls13_only) {
		_cleanup_free_ char *list = xasprintf("%s%s", ciphers, TLS_CIPHERS_SUFFIX);
		r = check_cipher_names(ciphers, false, errors, what);
		if (r < 0)
			return r;
		if (SSL_CTX_set_cipher_list(ctx, list) != 1) {
			berth_errors_add(errors, NULL, 0, "%s: no usable TLS 1.2 cipher in \"%s\"",
			                 what, ciphers);
			r = TLS_E_CONFIG;
		}
	}
	int r13 = check_cipher_names(ciphersuites, true, errors, what);
	if (r13 < 0)
		return r13;
	if (r13)
		r = r13;
	if (SSL_CTX_set_ciphersuites(ctx, ciphersuites) != 1) {
		berth_errors_add(errors, NULL, 0, "%s: invalid TLS 1.3 ciphersuites \"%s\"", what,
		                 ciphersuites);
		r = TLS_E_CONFIG;
	} else if (tls13_only && ciphersuites[0] == '\0') {
		berth_errors_add(errors, NULL, 0, "%s: TLS 1.3 only but no TLS 1.3 ciphersuite",
		                 what);
		r = TLS_E_CONFIG;
	}
	ERR_clear_error();

	SSL_CTX_set_session_id_context(ctx, (const unsigned char *)TLS_SID_CTX,
	                               sizeof(TLS_SID_CTX) - 1);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
	SSL_CTX_sess_set_cache_size(ctx, 64);
	SSL_CTX_set_timeout(ctx, lifetime);
	if (SSL_CTX_set_tlsext_ticket_keys(ctx, (void *)ticket_keys, TLS_TICKET_KEYS_LEN) != 1)
		return -EINVAL;
	SSL_CTX_set_max_early_data(ctx, 0);
	SSL_CTX_set_alpn_select_cb(ctx, alpn_cb, NULL);
	SSL_CTX_set_client_hello_cb(ctx, hello_cb, NULL);
	return r;
}

/* ---- files ---- */

static int
pw_refuse(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	*(bool *)u = true; /* the key is encrypted */
	return -1;
}

/* Read @path into a buffer that is wiped as soon as OpenSSL has parsed it. */
static int
read_pem(const char *path, const char *what, struct berth_errors *errors, char **ret,
         size_t *ret_len)
{
	int r = read_small_file(path, TLS_PEM_MAX, false, ret, ret_len);
	if (r < 0) {
		berth_errors_add(errors, path, 0, "cannot read %s: %s", what,
		                 r == -EFBIG ? "larger than 1 MiB" : strerror(-r));
		return TLS_E_CONFIG;
	}
	return 0;
}

static int
load_certs(const char *path, struct berth_errors *errors, X509 **ret_leaf,
           STACK_OF(X509) * *ret_chain)
{
	char *data = NULL;
	size_t len = 0;
	int r = read_pem(path, "certificate", errors, &data, &len);
	if (r)
		return r;
	BIO *bio = BIO_new_mem_buf(data, (int)len);
	X509 *leaf = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
	STACK_OF(X509) *chain = sk_X509_new_null();
	if (!leaf) {
		if (!strstr(data, "-----BEGIN CERTIFICATE-----"))
			berth_errors_add(errors, path, 0,
			                 "no PEM certificate found (expected \"-----BEGIN "
			                 "CERTIFICATE-----\")");
		else
			berth_errors_add(errors, path, 0, "cannot parse certificate: %s",
			                 ssl_reason());
		r = TLS_E_CONFIG;
	}
	while (leaf && chain) {
		X509 *x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
		if (!x) {
			unsigned long e = ERR_peek_last_error();
			if (!(ERR_GET_LIB(e) == ERR_LIB_PEM &&
			      ERR_GET_REASON(e) == PEM_R_NO_START_LINE)) {
				berth_errors_add(errors, path, 0,
				                 "cannot parse chain certificate %d: %s",
				                 sk_X509_num(chain) + 2, ssl_reason());
				r = TLS_E_CONFIG;
			}
			break;
		}
		if (!sk_X509_push(chain, x)) {
			X509_free(x);
			r = -ENOMEM;
			break;
		}
	}
	ERR_clear_error();
	BIO_free(bio);
	freezero(data, len + 1);
	if (r) {
		X509_free(leaf);
		sk_X509_pop_free(chain, X509_free);
		return r;
	}
	*ret_leaf = leaf;
	*ret_chain = chain;
	return 0;
}

static int
load_key(const char *path, struct berth_errors *errors, EVP_PKEY **ret)
{
	struct stat st;
	if (stat(path, &st) == 0 && (st.st_mode & (S_IROTH | S_IWOTH))) {
		berth_errors_add(errors, path, 0,
		                 "private key file is accessible by everybody (mode %04o); "
		                 "chmod 600 it",
		                 (unsigned)(st.st_mode & 07777));
		return TLS_E_CONFIG;
	}
	char *data = NULL;
	size_t len = 0;
	int r = read_pem(path, "private key", errors, &data, &len);
	if (r)
		return r;
	BIO *bio = BIO_new_mem_buf(data, (int)len);
	bool encrypted = false;
	EVP_PKEY *k = bio ? PEM_read_bio_PrivateKey(bio, NULL, pw_refuse, &encrypted) : NULL;
	if (!k) {
		if (encrypted)
			berth_errors_add(
			        errors, path, 0,
			        "private key is encrypted (passphrases are not supported)");
		else if (!strstr(data, "PRIVATE KEY-----"))
			berth_errors_add(errors, path, 0,
			                 "no PEM private key found (expected \"-----BEGIN PRIVATE "
			                 "KEY-----\")");
		else
			berth_errors_add(errors, path, 0, "cannot parse private key: %s",
			                 ssl_reason());
		r = TLS_E_CONFIG;
	}
	ERR_clear_error();
	BIO_free(bio);
	freezero(data, len + 1);
	if (r)
		return r;
	*ret = k;
	return 0;
}

static void
add_time_warning(struct berth_errors *w, const char *path, const char *what, const ASN1_TIME *t)
{
	char when[64] = "?";
	BIO *b = BIO_new(BIO_s_mem());
	if (b && ASN1_TIME_print(b, t) == 1) {
		int n = BIO_read(b, when, sizeof(when) - 1);
		when[n > 0 ? n : 0] = '\0';
	}
	BIO_free(b);
	berth_errors_add(w, path, 0, "certificate %s %s", what, when);
}

/* Key and certificate checks beyond parsing. */
static int
check_pair(struct tls_server *srv, const char *cert_path, const char *key_path,
           struct berth_errors *errors, struct berth_errors *warnings)
{
	int r = 0;
	if (EVP_PKEY_is_a(srv->key, "DSA")) {
		berth_errors_add(errors, key_path, 0, "DSA keys are not supported");
		r = TLS_E_CONFIG;
	} else if (EVP_PKEY_get_security_bits(srv->key) < 112) {
		berth_errors_add(
		        errors, key_path, 0,
		        "key too weak: %s %d bits (at least RSA 2048 or EC 256 needed)",
		        EVP_PKEY_get0_type_name(srv->key) ? EVP_PKEY_get0_type_name(srv->key) : "?",
		        EVP_PKEY_get_bits(srv->key));
		r = TLS_E_CONFIG;
	}
	if (X509_check_private_key(srv->leaf, srv->key) != 1) {
		berth_errors_add(errors, key_path, 0,
		                 "private key does not match the certificate in %s", cert_path);
		r = TLS_E_CONFIG;
	}
	ERR_clear_error();
	if (r)
		return r;
	if (X509_cmp_current_time(X509_get0_notAfter(srv->leaf)) < 0)
		add_time_warning(warnings, cert_path, "expired on", X509_get0_notAfter(srv->leaf));
	else if (X509_cmp_current_time(X509_get0_notBefore(srv->leaf)) > 0)
		add_time_warning(warnings, cert_path, "is not valid before",
		                 X509_get0_notBefore(srv->leaf));
	/* What OpenSSL itself will refuse at handshake time (security level 2: weak
	 * chain keys or signature digests), found now. */
	SSL *probe = SSL_new(srv->ctx);
	if (!probe)
		return -ENOMEM;
	if (SSL_use_cert_and_key(probe, srv->leaf, srv->key, srv->chain, 1) != 1) {
		berth_errors_add(errors, cert_path, 0, "certificate chain refused: %s",
		                 ssl_reason());
		r = TLS_E_CONFIG;
	}
	SSL_free(probe);
	ERR_clear_error();
	return r;
}

int
tls_server_new(const struct tls_settings *s, struct berth_errors *errors,
               struct berth_errors *warnings, struct tls_server **ret)
{
	if (!s->cert_file) {
		berth_errors_add(errors, NULL, 0, "TLS: no certificate file configured");
		return TLS_E_CONFIG;
	}
	if (s->session_lifetime > BERTH_TLS_MAX_SESSION_LIFETIME) {
		berth_errors_add(errors, NULL, 0,
		                 "TLS session lifetime %u s is longer than 7 days (%u s)",
		                 (unsigned)s->session_lifetime, BERTH_TLS_MAX_SESSION_LIFETIME);
		return TLS_E_CONFIG;
	}
	if (!tls_wipe_allocator_active())
		berth_errors_add(warnings, NULL, 0,
		                 "TLS: OpenSSL's memory is not wiped on free in this program");
	const char *key_path = s->key_file ? s->key_file : s->cert_file;
	struct tls_server *srv = xcalloc(1, sizeof(*srv));
	srv->ciphers = xstrdup(s->ciphers ? s->ciphers : BERTH_TLS_CIPHERS);
	srv->ciphersuites = xstrdup(s->ciphersuites ? s->ciphersuites : BERTH_TLS_CIPHERSUITES);
	srv->tls13_only = s->tls13_only;
	srv->strict_sni = s->strict_sni;
	srv->lifetime = s->session_lifetime ? s->session_lifetime : BERTH_TLS_SESSION_LIFETIME;
	int r = 0;
	if (getrandom(srv->ticket_keys, sizeof(srv->ticket_keys), 0) !=
	    (ssize_t)sizeof(srv->ticket_keys)) {
		r = -EIO;
		goto fail;
	}
	int rc = load_certs(s->cert_file, errors, &srv->leaf, &srv->chain);
	int rk = load_key(key_path, errors, &srv->key);
	if (rc || rk) {
		r = rc < 0 ? rc : rk < 0 ? rk : TLS_E_CONFIG;
		goto fail;
	}
	srv->ctx = SSL_CTX_new(TLS_server_method());
	if (!srv->ctx) {
		r = -ENOMEM;
		goto fail;
	}
	r = tls_ctx_configure(srv->ctx, srv->ciphers, srv->ciphersuites, srv->tls13_only,
	                      srv->lifetime, srv->ticket_keys, errors, "TLS");
	if (r < 0)
		goto fail;
	SSL_CTX_set_tlsext_servername_callback(srv->ctx, sni_cb);
	SSL_CTX_set_tlsext_servername_arg(srv->ctx, srv);
	/* Report the key problems too when the cipher settings were wrong. */
	int rp = check_pair(srv, s->cert_file, key_path, errors, warnings);
	if (rp < 0 || r || rp) {
		r = rp < 0 ? rp : TLS_E_CONFIG;
		goto fail;
	}
	*ret = srv;
	return 0;
fail:
	tls_server_free(srv);
	return r;
}

struct tls_server *
tls_server_free(struct tls_server *srv)
{
	if (!srv)
		return NULL;
	SSL_CTX_free(srv->ctx);
	X509_free(srv->leaf);
	sk_X509_pop_free(srv->chain, X509_free);
	EVP_PKEY_free(srv->key);
	explicit_bzero(srv->ticket_keys, sizeof(srv->ticket_keys));
	free(srv->ciphers);
	free(srv->ciphersuites);
	free(srv);
	return NULL;
}

void
tls_server_forget_key(struct tls_server *srv)
{
	EVP_PKEY_free(srv->key); /* the last reference frees (and cleanses) the key */
	srv->key = NULL;
}

bool
tls_server_has_key(const struct tls_server *srv)
{
	return srv->key != NULL;
}

int
tls_server_rekey_tickets(struct tls_server *srv)
{
	if (getrandom(srv->ticket_keys, sizeof(srv->ticket_keys), 0) !=
	    (ssize_t)sizeof(srv->ticket_keys))
		return -EIO;
	if (SSL_CTX_set_tlsext_ticket_keys(srv->ctx, srv->ticket_keys, TLS_TICKET_KEYS_LEN) != 1)
		return -EINVAL;
	/* Sessions cached by the parent (none in practice: the master runs no handshake). */
	SSL_CTX_flush_sessions(srv->ctx, (long)time(NULL) + BERTH_TLS_MAX_SESSION_LIFETIME + 1);
	return 0;
}

void
tls_server_fingerprint(const struct tls_server *srv, char out[BERTH_TLS_FINGERPRINT_LEN])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	if (X509_digest(srv->leaf, EVP_sha256(), md, &n) != 1)
		n = 0;
	tls_hex_colons(md, n, out);
}

int
tls_conn_new_server(struct tls_server *srv, int fd, struct tls_conn **ret)
{
	if (!srv->key)
		return -ENOKEY;
	struct tls_conn *c = NULL;
	int r = tls_conn_alloc(srv->ctx, fd, &c);
	if (r < 0)
		return r;
	c->srv = srv;
	/* A control connection is idle most of the time: no 2 x 17 KiB record buffers
	 * while nothing is in flight (memory per logged-in session). */
	SSL_set_mode(c->ssl, SSL_MODE_RELEASE_BUFFERS);
	/* The key goes into this SSL object, not the shared context, so that dropping it
	 * after the handshake (SSL_certs_clear) releases the last reference. */
	if (SSL_use_cert_and_key(c->ssl, srv->leaf, srv->key, srv->chain, 1) != 1) {
		ERR_clear_error();
		tls_conn_free(c);
		return -EINVAL;
	}
	*ret = c;
	return 0;
}
