/* SPDX-License-Identifier: BSD-2-Clause */
/* OpenSSL allocations that are wiped when freed, so no freed block keeps key material.
 *
 * OpenSSL's PEM and DER decoders copy the private key through temporary buffers (the
 * ECPrivateKey octet string, PKCS#8 structures, BIO buffers) and free most of them
 * without cleansing; a process forked later (monitor, network child) would inherit
 * those freed copies. CRYPTO_set_mem_functions() only works before OpenSSL's first
 * allocation, and libssh's library constructor already allocates, so the functions are
 * installed from .preinit_array, which the dynamic linker runs before any library
 * constructor. The object is linked into every program that uses src/tls. */
#include <malloc.h>
#include <openssl/crypto.h>
#include <string.h>

#include "berth/tls.h"

static bool wipe_active;

static void *
wipe_malloc(size_t n, const char *file, int line)
{
	(void)file;
	(void)line;
	return n ? malloc(n) : NULL;
}

static void
wipe_free(void *p, const char *file, int line)
{
	(void)file;
	(void)line;
	if (!p)
		return;
	explicit_bzero(p, malloc_usable_size(p));
	free(p);
}

/* realloc() may move the block and free the old one unwiped: move it ourselves. */
static void *
wipe_realloc(void *p, size_t n, const char *file, int line)
{
	if (!p)
		return wipe_malloc(n, file, line);
	if (n == 0) {
		wipe_free(p, file, line);
		return NULL;
	}
	size_t old = malloc_usable_size(p);
	if (n <= old)
		return p;
	void *q = malloc(n);
	if (!q)
		return NULL;
	memcpy(q, p, old);
	wipe_free(p, file, line);
	return q;
}

static void
install_wipe_allocator(int argc, char **argv, char **envp)
{
	(void)argc;
	(void)argv;
	(void)envp;
	wipe_active = CRYPTO_set_mem_functions(wipe_malloc, wipe_realloc, wipe_free) == 1;
}

__attribute__((section(".preinit_array"),
               used)) static void (*const tls_preinit)(int, char **,
                                                       char **) = install_wipe_allocator;

bool
tls_wipe_allocator_active(void)
{
	return wipe_active;
}
