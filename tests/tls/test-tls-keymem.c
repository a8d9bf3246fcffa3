/* SPDX-License-Identifier: BSD-2-Clause */
/* No copy of the certificate's private key survives in memory once it is dropped.
 *
 * A throw-away child generates an EC P-256 key and certificate and hands over only
 * masked "needles": the 32-byte private scalar big-endian (DER, PEM payload) and
 * little-endian (OpenSSL's BIGNUM limbs), and the second base64 line of the PEM file.
 * This process (the "master") then loads the files through tls_server_new(), like
 * berthd. Forked children play the monitor (forgets the key at once) and the network
 * child (TLS 1.3 and TLS 1.2 handshakes with the key, then drops it), and search their
 * whole readable private memory (/proc/self/maps + /proc/self/mem) for every needle.
 * Positive controls make sure the search finds the key while it is live. */
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "berth/buf.h"
#include "berth/common.h"
#include "berth/conf.h"
#include "berth/file.h"
#include "berth/tls.h"
#include "berth/xmem.h"

#define N_NEEDLES  3
#define NEEDLE_MAX 64

static const char *const needle_names[N_NEEDLES] = {
        "private scalar (big-endian: DER/PEM payload)",
        "private scalar (little-endian: BIGNUM limbs)",
        "PEM text of the key file (base64 line 2)",
};
static uint8_t mask[NEEDLE_MAX];
static uint8_t masked[N_NEEDLES][NEEDLE_MAX];
static size_t needle_len[N_NEEDLES];
static char dir[64];
static char *cert_path, *key_path;

static void
die(const char *what)
{
	fprintf(stderr, "FAIL: %s\n", what);
	exit(1);
}

/* The generator: the only process that sees the key unmasked outside the load path. */
static void
generate(void)
{
	int p[2];
	if (pipe(p) < 0)
		die("pipe");
	pid_t pid = fork();
	if (pid == 0) {
		close(p[0]);
		EVP_PKEY *k = EVP_EC_gen("P-256");
		X509 *x = X509_new();
		X509_set_version(x, X509_VERSION_3);
		ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
		X509_gmtime_adj(X509_getm_notBefore(x), -60);
		X509_gmtime_adj(X509_getm_notAfter(x), 86400);
		X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
		                           (const unsigned char *)"keymem", -1, -1, 0);
		X509_set_issuer_name(x, X509_get_subject_name(x));
		X509_set_pubkey(x, k);
		X509_sign(x, k, EVP_sha256());
		FILE *f = fopen(cert_path, "we");
		PEM_write_X509(f, x);
		fclose(f);
		int fd = open(key_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		f = fdopen(fd, "w");
		PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL);
		fclose(f);
		BIGNUM *bn = NULL;
		uint8_t raw[N_NEEDLES][NEEDLE_MAX] = {{0}};
		size_t len[N_NEEDLES] = {32, 32, 64};
		if (!EVP_PKEY_get_bn_param(k, "priv", &bn) || BN_bn2binpad(bn, raw[0], 32) != 32 ||
		    BN_bn2lebinpad(bn, raw[1], 32) != 32)
			_exit(1);
		char pem[1024] = "";
		f = fopen(key_path, "re");
		size_t n = fread(pem, 1, sizeof(pem) - 1, f);
		fclose(f);
		pem[n] = '\0';
		char *line2 = strchr(pem, '\n'); /* after the BEGIN line */
		line2 = line2 ? strchr(line2 + 1, '\n') : NULL;
		if (!line2 || strlen(line2 + 1) < 64)
			_exit(1);
		memcpy(raw[2], line2 + 1, 64);
		for (size_t i = 0; i < N_NEEDLES; i++)
			for (size_t j = 0; j < NEEDLE_MAX; j++)
				raw[i][j] ^= mask[j];
		if (write(p[1], raw, sizeof(raw)) != (ssize_t)sizeof(raw) ||
		    write(p[1], len, sizeof(len)) != (ssize_t)sizeof(len))
			_exit(1);
		_exit(0);
	}
	close(p[1]);
	if (read(p[0], masked, sizeof(masked)) != (ssize_t)sizeof(masked) ||
	    read(p[0], needle_len, sizeof(needle_len)) != (ssize_t)sizeof(needle_len))
		die("generator");
	close(p[0]);
	int st;
	waitpid(pid, &st, 0);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		die("generator failed");
}

/* Count occurrences of the needles in this process's readable private memory,
 * printing each with its mapping. The unmasked needles and the read buffer are
 * excluded (they are the search's own copies) and wiped afterwards. */
static size_t
scan(const char *when)
{
	static uint8_t chunk[1 << 20];
	uint8_t *needles = xmalloc(N_NEEDLES * NEEDLE_MAX);
	for (size_t i = 0; i < N_NEEDLES; i++)
		for (size_t j = 0; j < NEEDLE_MAX; j++)
			needles[i * NEEDLE_MAX + j] = masked[i][j] ^ mask[j];
	uintptr_t ex[2][2] = {{(uintptr_t)needles, (uintptr_t)needles + N_NEEDLES * NEEDLE_MAX},
	                      {(uintptr_t)chunk, (uintptr_t)chunk + sizeof(chunk)}};
	FILE *maps = fopen("/proc/self/maps", "re");
	int mem = open("/proc/self/mem", O_RDONLY | O_CLOEXEC);
	if (!maps || mem < 0)
		die("cannot open /proc/self/maps or mem");
	size_t hits = 0, bytes = 0;
	char line[512];
	while (fgets(line, sizeof(line), maps)) {
		unsigned long a, b;
		char perm[8];
		if (sscanf(line, "%lx-%lx %7s", &a, &b, perm) != 3)
			continue;
		if (perm[0] != 'r' || perm[3] != 'p' || strstr(line, "[vvar]") ||
		    strstr(line, "[vsyscall]"))
			continue;
		if (b - a > (1UL << 30)) /* sanitizer shadow reservations */
			continue;
		/* Overlapping chunks so a needle across a boundary is still found. */
		for (unsigned long off = a; off < b;) {
			size_t want = MIN(sizeof(chunk), b - off);
			ssize_t got = pread(mem, chunk, want, (off_t)off);
			if (got <= 0)
				break;
			bytes += (size_t)got;
			for (size_t k = 0; k < N_NEEDLES; k++) {
				const uint8_t *nd = needles + k * NEEDLE_MAX;
				size_t nl = needle_len[k];
				for (const uint8_t *h = chunk;
				     (size_t)(h - chunk) + nl <= (size_t)got; h++) {
					h = memmem(h, (size_t)got - (size_t)(h - chunk), nd, nl);
					if (!h)
						break;
					uintptr_t at = off + (uintptr_t)(h - chunk);
					bool excluded = false;
					for (size_t e = 0; e < 2; e++)
						if (at >= ex[e][0] && at < ex[e][1])
							excluded = true;
					if (excluded)
						continue;
					hits++;
					fprintf(stderr, "  %s: %s at %#lx in %s", when,
					        needle_names[k], (unsigned long)at, line);
				}
			}
			if ((size_t)got < want || off + want >= b)
				break;
			off += want - NEEDLE_MAX;
		}
	}
	fclose(maps);
	close(mem);
	explicit_bzero(chunk, sizeof(chunk));
	freezero(needles, N_NEEDLES * NEEDLE_MAX);
	if (bytes == 0)
		die("read no memory");
	return hits;
}

static void
pump(struct tls_conn *sv, SSL *cl)
{
	bool sdone = false, cdone = false;
	for (int i = 0; i < 2000 && !(sdone && cdone); i++) {
		if (!sdone) {
			int r = tls_conn_handshake(sv);
			if (r == 0)
				sdone = true;
			else if (r != TLS_WANT_READ && r != TLS_WANT_WRITE)
				die(tls_conn_reason(sv));
		}
		if (!cdone) {
			int rc = SSL_do_handshake(cl);
			if (rc == 1)
				cdone = true;
			else if (SSL_get_error(cl, rc) != SSL_ERROR_WANT_READ &&
			         SSL_get_error(cl, rc) != SSL_ERROR_WANT_WRITE)
				die("client handshake");
		}
	}
	if (!sdone || !cdone)
		die("handshake did not finish");
	size_t n;
	char b[16];
	if (tls_conn_write(sv, "220 ok\r\n", 8, &n) != 0 || SSL_read(cl, b, sizeof(b)) != 8)
		die("exchange");
}

/* The network child: per-connection ticket key, handshake with the key, drop it. */
static int
network_child(struct tls_server *srv, int ver)
{
	if (tls_server_rekey_tickets(srv) < 0)
		die("rekey");
	if (scan("control: key live in the network child") == 0) {
		fprintf(stderr, "FAIL: the search does not find the live key\n");
		return 1;
	}
	int fd[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fd) < 0)
		die("socketpair");
	fcntl(fd[0], F_SETFL, O_NONBLOCK);
	fcntl(fd[1], F_SETFL, O_NONBLOCK);
	struct tls_conn *sv = NULL;
	if (tls_conn_new_server(srv, fd[1], &sv) != 0)
		die("tls_conn_new_server");
	tls_server_forget_key(srv);
	SSL_CTX *cctx = SSL_CTX_new(TLS_client_method());
	SSL_CTX_set_min_proto_version(cctx, ver);
	SSL_CTX_set_max_proto_version(cctx, ver);
	SSL *cl = SSL_new(cctx);
	SSL_set_fd(cl, fd[0]);
	SSL_set_connect_state(cl);
	pump(sv, cl);
	if (tls_conn_holds_key(sv) || tls_server_has_key(srv))
		die("key still referenced after the handshake");
	/* Login: the blob for the worker. */
	struct xbuf blob = XBUF_NULL;
	if (tls_conn_export_resumption(sv, &blob) != 0)
		die("export");
	struct tls_data_ctx *d = NULL;
	if (tls_data_ctx_new(xbuf_ptr(&blob), xbuf_len(&blob), &d) != 0)
		die("data ctx");
	xbuf_deinit(&blob);
	char what[64];
	snprintf(what, sizeof(what), "after %s handshake and key drop",
	         ver == TLS1_3_VERSION ? "TLS 1.3" : "TLS 1.2");
	size_t hits = scan(what);
	/* The connection still works. */
	size_t n;
	char b[16];
	if (tls_conn_write(sv, "221 bye\r\n", 9, &n) != 0 || SSL_read(cl, b, sizeof(b)) != 9)
		die("traffic after the key drop");
	tls_data_ctx_free(d);
	tls_conn_free(sv);
	SSL_free(cl);
	SSL_CTX_free(cctx);
	return hits == 0 ? 0 : 1;
}

static int
run_child(struct tls_server *srv, int role)
{
	fflush(stderr);
	pid_t pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		if (role == 0) {
			/* The monitor: forgets the key right after forking the network child. */
			tls_server_forget_key(srv);
			_exit(scan("monitor after tls_server_forget_key()") == 0 ? 0 : 1);
		}
		_exit(network_child(srv, role == 1 ? TLS1_3_VERSION : TLS1_2_VERSION));
	}
	int st;
	waitpid(pid, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

int
main(void)
{
	signal(SIGPIPE, SIG_IGN);
	if (!tls_wipe_allocator_active())
		die("the wipe-on-free allocator is not active");
	if (getrandom(mask, sizeof(mask), 0) != (ssize_t)sizeof(mask))
		die("getrandom");
	snprintf(dir, sizeof(dir), "/tmp/berth-keymem-XXXXXX");
	if (!mkdtemp(dir))
		die("mkdtemp");
	cert_path = xasprintf("%s/cert.pem", dir);
	key_path = xasprintf("%s/key.pem", dir);
	generate();

	/* Positive control for the PEM needle: the file's text, read raw. */
	/* (Not stdio: its buffer would be freed unwiped, a copy this test would find.) */
	char *raw = NULL;
	size_t raw_len = 0;
	if (read_small_file(key_path, 4096, true, &raw, &raw_len) < 0)
		die("read key file");
	if (scan("control: PEM read raw") == 0)
		die("the search does not find the PEM text");
	freezero(raw, raw_len + 1);

	struct tls_settings s = {.cert_file = cert_path, .key_file = key_path};
	struct berth_errors errs = BERTH_ERRORS_NULL;
	struct tls_server *srv = NULL;
	if (tls_server_new(&s, &errs, NULL, &srv) != 0) {
		berth_errors_print(&errs, stderr);
		die("tls_server_new");
	}
	unlink(key_path);
	unlink(cert_path);
	rmdir(dir);

	int fails = 0;
	const char *roles[] = {"monitor", "network child TLS 1.3", "network child TLS 1.2"};
	for (int role = 0; role < 3; role++) {
		int r = run_child(srv, role);
		printf("%s: %s\n", roles[role], r == 0 ? "no copy of the key found" : "FAILED");
		fails += r != 0;
	}
	tls_server_free(srv);
	free(cert_path);
	free(key_path);
	return fails ? 1 : 0;
}
