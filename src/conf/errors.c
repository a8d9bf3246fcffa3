/* SPDX-License-Identifier: BSD-2-Clause */
/* Collected "file:line: message" diagnostics shared by the conf and account parsers. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "berth/common.h"
#include "berth/conf.h"
#include "berth/xmem.h"

void
berth_errors_add(struct berth_errors *e, const char *file, unsigned line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	berth_errors_vadd(e, file, line, fmt, ap);
	va_end(ap);
}

bool
berth_errors_find(const struct berth_errors *e, const char *needle)
{
	for (size_t i = 0; e && i < e->n; i++)
		if (strstr(e->msgs[i], needle))
			return true;
	return false;
}

void
berth_errors_vadd(struct berth_errors *e, const char *file, unsigned line, const char *fmt,
                  va_list ap)
{
	_cleanup_free_ char *msg = NULL;

	if (!e)
		return;
	if (e->n >= BERTH_ERRORS_MAX) {
		e->dropped++;
		return;
	}
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	if (!msg)
		msg = xstrdup("(out of memory formatting message)");

	e->msgs = xreallocarray(e->msgs, e->n + 1, sizeof(*e->msgs));
	if (file && line)
		e->msgs[e->n++] = xasprintf("%s:%u: %s", file, line, msg);
	else if (file)
		e->msgs[e->n++] = xasprintf("%s: %s", file, msg);
	else
		e->msgs[e->n++] = ptr_steal(&msg);
}

void
berth_errors_free(struct berth_errors *e)
{
	if (!e)
		return;
	for (size_t i = 0; i < e->n; i++)
		free(e->msgs[i]);
	free(e->msgs);
	*e = (struct berth_errors)BERTH_ERRORS_NULL;
}

void
berth_errors_print(const struct berth_errors *e, FILE *f)
{
	for (size_t i = 0; i < e->n; i++)
		fprintf(f, "%s\n", e->msgs[i]);
	if (e->dropped)
		fprintf(f, "(%zu more errors not shown)\n", e->dropped);
}
