/* SPDX-License-Identifier: BSD-2-Clause */
/* Allocation wrappers that never return NULL: a per-connection process that runs
 * out of memory has nothing sensible to do but exit (vsftpd/OpenSSH discipline). */
#pragma once

#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t size);
void *xreallocarray(void *p, size_t nmemb, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Wipe then free; NULL is fine. */
void freezero(void *p, size_t n);
