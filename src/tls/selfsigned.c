/* SPDX-License-Identifier: BSD-2-Clause */
/* Self-signed certificate for `berthd --quickstart`, and certificate fingerprints. */
#include <errno.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "berth/common.h"
#include "berth/file.h"
#include "berth/xmem.h"
#include "tls-internal.h"

#define SELFSIGNED_DAYS 825
#define SELFSIGNED_CN   "localhost"
#define SELFSIGNED_SAN  "DNS:localhost,IP:127.0.0.1,IP:::1"

static int
read_first_cert(const char *path, X509 **ret)
{
	char *data = NULL;
	size_t len = 0;
	int r = read_small_file(path, TLS_PEM_MAX, false, &data, &len);
	if (r < 0)
		return r;
	BIO *bio = BIO_new_mem_buf(data, (int)len);
	X509 *x = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
	BIO_free(bio);
	free(data);
	ERR_clear_error();
	if (!x)
		return -EBADMSG;
	*ret = x;
	return 0;
}

int
tls_cert_file_fingerprint(const char *path, char out[BERTH_TLS_FINGERPRINT_LEN])
{
	X509 *x = NULL;
	int r = read_first_cert(path, &x);
	if (r < 0)
		return r;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	bool ok = X509_digest(x, EVP_sha256(), md, &n) == 1 && n == 32;
	X509_free(x);
	if (!ok)
		return -EIO;
	tls_hex_colons(md, n, out);
	return 0;
}

/* Write @len bytes of @bio's contents to @path through a temporary file + rename. */
static int
write_bio_file(const char *path, mode_t mode, BIO *bio)
{
	char *data = NULL;
	long len = BIO_get_mem_data(bio, &data);
	if (len <= 0)
		return -EIO;
	_cleanup_free_ char *tmp = xasprintf("%s.tmp", path);
	(void)unlink(tmp);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0)
		return -errno;
	size_t off = 0;
	while (off < (size_t)len) {
		ssize_t n = write(fd, data + off, (size_t)len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int e = n < 0 ? errno : EIO;
			close(fd);
			unlink(tmp);
			return -e;
		}
		off += (size_t)n;
	}
	if (fchmod(fd, mode) < 0 || fsync(fd) < 0) {
		int e = errno;
		close(fd);
		unlink(tmp);
		return -e;
	}
	if (close(fd) < 0 || rename(tmp, path) < 0) {
		int e = errno;
		unlink(tmp);
		return -e;
	}
	return 0;
}

static bool
add_ext(X509 *x, int nid, const char *value)
{
	X509V3_CTX v3;
	X509V3_set_ctx_nodb(&v3);
	X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
	X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &v3, nid, value);
	if (!ext)
		return false;
	bool ok = X509_add_ext(x, ext, -1) == 1;
	X509_EXTENSION_free(ext);
	return ok;
}

static int
generate(const char *cert_path, const char *key_path)
{
	int r = -EIO;
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	BIO *kb = BIO_new(BIO_s_secmem()), *cb = BIO_new(BIO_s_mem());
	unsigned char serial[16];
	BIGNUM *sn = NULL;
	if (!key || !x || !kb || !cb)
		goto out;
	if (getrandom(serial, sizeof(serial), 0) != (ssize_t)sizeof(serial))
		goto out;
	serial[0] &= 0x7f; /* positive */
	sn = BN_bin2bn(serial, sizeof(serial), NULL);
	X509_NAME *name = X509_get_subject_name(x);
	if (!sn || !BN_to_ASN1_INTEGER(sn, X509_get_serialNumber(x)) ||
	    X509_set_version(x, X509_VERSION_3) != 1 ||
	    !X509_gmtime_adj(X509_getm_notBefore(x), -3600) ||
	    !X509_time_adj_ex(X509_getm_notAfter(x), SELFSIGNED_DAYS, 0, NULL) ||
	    X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
	                               (const unsigned char *)"berth quickstart", -1, -1, 0) != 1 ||
	    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	                               (const unsigned char *)SELFSIGNED_CN, -1, -1, 0) != 1 ||
	    X509_set_issuer_name(x, name) != 1 || X509_set_pubkey(x, key) != 1 ||
	    !add_ext(x, NID_basic_constraints, "critical,CA:FALSE") ||
	    !add_ext(x, NID_key_usage, "critical,digitalSignature") ||
	    !add_ext(x, NID_ext_key_usage, "serverAuth") ||
	    !add_ext(x, NID_subject_key_identifier, "hash") ||
	    !add_ext(x, NID_subject_alt_name, SELFSIGNED_SAN) ||
	    X509_sign(x, key, EVP_sha256()) <= 0)
		goto out;
	if (PEM_write_bio_PrivateKey(kb, key, NULL, NULL, 0, NULL, NULL) != 1 ||
	    PEM_write_bio_X509(cb, x) != 1)
		goto out;
	/* Key first: a certificate without its key is never left behind. */
	r = write_bio_file(key_path, 0600, kb);
	if (r == 0)
		r = write_bio_file(cert_path, 0644, cb);
out:
	ERR_clear_error();
	BN_free(sn);
	BIO_free(kb); /* secure memory BIO: cleansed on free */
	BIO_free(cb);
	X509_free(x); /* holds a reference to the key (X509_set_pubkey) */
	EVP_PKEY_free(key);
	return r;
}

int
tls_selfsigned_ensure(const char *cert_path, const char *key_path, bool *ret_created)
{
	struct stat st;
	X509 *x = NULL;
	bool reuse = stat(key_path, &st) == 0 && S_ISREG(st.st_mode) &&
	             read_first_cert(cert_path, &x) == 0;
	if (reuse) {
		/* Still valid tomorrow? Otherwise make a new one. */
		time_t tomorrow = time(NULL) + 86400;
		reuse = X509_cmp_time(X509_get0_notAfter(x), &tomorrow) > 0;
		X509_free(x);
	}
	if (reuse) {
		*ret_created = false;
		return 0;
	}
	int r = generate(cert_path, key_path);
	if (r < 0)
		return r;
	*ret_created = true;
	return 0;
}
