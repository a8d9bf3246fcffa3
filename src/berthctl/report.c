/* SPDX-License-Identifier: BSD-2-Clause */
/* berthctl explain's report: recording and rendering (text, JSON). */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "berth/common.h"
#include "berth/policy.h"
#include "berth/xmem.h"
#include "report.h"

/* A heap string from @fmt, or NULL when there is no format. */
static char *
vformat(const char *fmt, va_list ap)
{
	if (!fmt)
		return NULL;
	va_list aq;
	va_copy(aq, ap);
	int n = vsnprintf(NULL, 0, fmt, aq);
	va_end(aq);
	if (n < 0)
		return xstrdup("?");
	char *s = xmalloc((size_t)n + 1);
	vsnprintf(s, (size_t)n + 1, fmt, ap);
	return s;
}

static char *
dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

struct report *
report_new(void)
{
	return xcalloc(1, sizeof(struct report));
}

void
report_free(struct report *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n_fields; i++) {
		free(r->fields[i].key);
		free(r->fields[i].value);
	}
	free(r->fields);
	for (size_t i = 0; i < r->n_sections; i++) {
		struct report_section *s = &r->sections[i];
		for (size_t j = 0; j < s->n_items; j++) {
			struct report_item *it = &s->items[j];
			free(it->kind);
			free(it->op);
			free(it->text);
			free(it->detail);
			free(it->file);
		}
		free(s->items);
		free(s->name);
		free(s->title);
		free(s->decision);
	}
	free(r->sections);
	free(r->decision);
	free(r);
}

void
report_field(struct report *r, const char *key, const char *value)
{
	r->fields = xreallocarray(r->fields, r->n_fields + 1, sizeof(*r->fields));
	r->fields[r->n_fields++] = (struct report_field){xstrdup(key), dup_or_null(value)};
}

struct report_section *
report_section(struct report *r, const char *name, const char *title_fmt, ...)
{
	va_list ap;
	r->sections = xreallocarray(r->sections, r->n_sections + 1, sizeof(*r->sections));
	struct report_section *s = &r->sections[r->n_sections++];
	*s = (struct report_section){.name = xstrdup(name)};
	va_start(ap, title_fmt);
	s->title = vformat(title_fmt, ap);
	va_end(ap);
	return s;
}

static void
item_v(struct report_section *s, enum report_mark mark, const char *kind, const char *op,
       const char *file, size_t file_len, unsigned line, const char *text, const char *detail_fmt,
       va_list ap)
{
	s->items = xreallocarray(s->items, s->n_items + 1, sizeof(*s->items));
	s->items[s->n_items++] = (struct report_item){
	        .mark = mark,
	        .kind = xstrdup(kind),
	        .op = dup_or_null(op),
	        .text = xstrdup(text ? text : "?"),
	        .detail = vformat(detail_fmt, ap),
	        .file = file ? xstrndup(file, file_len) : NULL,
	        .line = line,
	};
}

void
report_item(struct report_section *s, enum report_mark mark, const char *kind, const char *op,
            const char *file, unsigned line, const char *text, const char *detail_fmt, ...)
{
	va_list ap;
	va_start(ap, detail_fmt);
	item_v(s, mark, kind, op, file, file ? strlen(file) : 0, line, text, detail_fmt, ap);
	va_end(ap);
}

void
report_item_at(struct report_section *s, enum report_mark mark, const char *kind, const char *op,
               const char *origin, const char *text, const char *detail_fmt, ...)
{
	va_list ap;
	size_t len = origin ? strlen(origin) : 0;
	unsigned line = 0;
	const char *colon = origin ? strrchr(origin, ':') : NULL;
	if (colon && colon[1] && strspn(colon + 1, "0123456789") == strlen(colon + 1) &&
	    strlen(colon + 1) < 10) {
		line = (unsigned)strtoul(colon + 1, NULL, 10);
		len = (size_t)(colon - origin);
	}
	va_start(ap, detail_fmt);
	item_v(s, mark, kind, op, origin, len, line, text, detail_fmt, ap);
	va_end(ap);
}

static const char *
kind_name(enum policy_rule_kind k)
{
	switch (k) {
	case POLICY_RULE_DEFAULT:
		return "default";
	case POLICY_RULE_VALUE:
		return "value";
	case POLICY_RULE_PERMISSIONS:
		return "permissions";
	case POLICY_RULE_FILTER:
		return "filter";
	case POLICY_RULE_RESERVED:
		return "reserved";
	case POLICY_RULE_PROTECTED:
		return "protected";
	case POLICY_RULE_LINK:
		return "link";
	}
	return "?";
}

void
report_steps(struct report_section *s, const struct policy_verdict *v, bool with_op)
{
	for (unsigned i = 0; i < v->n; i++) {
		const struct policy_step *st = &v->steps[i];
		enum report_mark mark = !st->allows                    ? REPORT_DENIES
		                        : (v->ignore && i + 1 == v->n) ? REPORT_IGNORES
		                                                       : REPORT_ALLOWS;
		const struct policy_origin *o = st->origin;
		/* The path a directory rule covers is in its text already. */
		bool show_path = st->path && (st->kind == POLICY_RULE_RESERVED ||
		                              st->kind == POLICY_RULE_PROTECTED ||
		                              st->kind == POLICY_RULE_LINK);
		report_item(s, mark, kind_name(st->kind), with_op ? policy_op_name(st->op) : NULL,
		            o ? o->file : NULL, o ? o->line : 0, st->text, show_path ? "%s" : NULL,
		            st->path);
	}
}

void
report_verdict(struct report_section *s, const struct policy_verdict *v)
{
	report_steps(s, v, true);
	s->decided = true;
	s->allowed = v->allowed;
	free(s->decision);
	s->decision = policy_verdict_describe(v);
}

void
report_decide(struct report_section *s, bool allowed, const char *fmt, ...)
{
	va_list ap;
	s->decided = true;
	s->allowed = allowed;
	free(s->decision);
	va_start(ap, fmt);
	s->decision = vformat(fmt, ap);
	va_end(ap);
}

bool
report_finish(struct report *r)
{
	const struct report_section *deciding = NULL, *primary = NULL;
	r->allowed = true;
	for (size_t i = 0; i < r->n_sections; i++) {
		const struct report_section *s = &r->sections[i];
		if (!s->decided || s->hypothetical)
			continue;
		if (!s->allowed) {
			r->allowed = false;
			deciding = s;
			break;
		}
		deciding = s;
		if (s->primary)
			primary = s;
	}
	if (r->allowed && primary)
		deciding = primary;
	free(r->decision);
	r->decision = deciding && deciding->decision ? xstrdup(deciding->decision) : NULL;
	return r->allowed;
}

/* ---- text ---- */

/* @s with bytes below 0x20 and 0x7f as \xNN, so an item stays on its line. */
static void
put_text(FILE *f, const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p < 0x20 || *p == 0x7f)
			fprintf(f, "\\x%02x", *p);
		else
			fputc(*p, f);
	}
}

static const char *
mark_word(enum report_mark m)
{
	switch (m) {
	case REPORT_ALLOWS:
		return "allows";
	case REPORT_DENIES:
		return "denies";
	case REPORT_IGNORES:
		return "ignores";
	case REPORT_NOTE:
		return "note";
	}
	return "?";
}

static void
put_origin(FILE *f, const char *file, unsigned line)
{
	if (!file)
		return;
	fputs(" at ", f);
	put_text(f, file);
	if (line)
		fprintf(f, ":%u", line);
}

void
report_print_text(const struct report *r, FILE *f)
{
	for (size_t i = 0; i < r->n_sections; i++) {
		const struct report_section *s = &r->sections[i];
		put_text(f, s->title);
		if (s->hypothetical)
			fputs(" [hypothetical: an earlier stage refuses]", f);
		fputs(":\n", f);
		for (size_t j = 0; j < s->n_items; j++) {
			const struct report_item *it = &s->items[j];
			fprintf(f, "  %-8s ", mark_word(it->mark));
			if (it->op)
				fprintf(f, "%-10s", it->op);
			else
				fprintf(f, "%-10s", "");
			put_text(f, it->text);
			if (it->detail) {
				fputs(" (", f);
				put_text(f, it->detail);
				fputc(')', f);
			}
			put_origin(f, it->file, it->line);
			fputc('\n', f);
		}
		if (s->decided && s->decision) {
			fputs("  => ", f);
			put_text(f, s->decision);
			fputc('\n', f);
		}
	}
	fprintf(f, "result: %s", r->allowed ? "allowed" : "denied");
	if (r->decision) {
		fputs(" (", f);
		put_text(f, r->decision);
		fputc(')', f);
	}
	fputc('\n', f);
}

/* ---- JSON ---- */

/* Length of the valid UTF-8 sequence at @p (1..4), or 0. */
static size_t
utf8_len(const unsigned char *p)
{
	uint32_t cp;
	size_t n;
	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		n = 2;
		cp = p[0] & 0x1f;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		n = 3;
		cp = p[0] & 0x0f;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		n = 4;
		cp = p[0] & 0x07;
	} else {
		return 0;
	}
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0; /* also stops at the NUL */
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	/* Overlong forms, surrogates and beyond U+10FFFF are not UTF-8. */
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

static void
json_string(FILE *f, const char *s)
{
	if (!s) {
		fputs("null", f);
		return;
	}
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)s; *p;) {
		size_t n = utf8_len(p);
		if (n == 0) {
			fputs("\\ufffd", f);
			p++;
			continue;
		}
		if (n > 1) {
			fwrite(p, 1, n, f);
			p += n;
			continue;
		}
		switch (*p) {
		case '"':
			fputs("\\\"", f);
			break;
		case '\\':
			fputs("\\\\", f);
			break;
		case '\n':
			fputs("\\n", f);
			break;
		case '\t':
			fputs("\\t", f);
			break;
		default:
			if (*p < 0x20 || *p == 0x7f)
				fprintf(f, "\\u%04x", *p);
			else
				fputc(*p, f);
		}
		p++;
	}
	fputc('"', f);
}

static void
json_key(FILE *f, const char *key, bool first)
{
	if (!first)
		fputc(',', f);
	json_string(f, key);
	fputc(':', f);
}

static void
json_item(FILE *f, const struct report_item *it)
{
	fputc('{', f);
	json_key(f, "verdict", true);
	json_string(f, mark_word(it->mark));
	json_key(f, "kind", false);
	json_string(f, it->kind);
	json_key(f, "operation", false);
	json_string(f, it->op);
	json_key(f, "rule", false);
	json_string(f, it->text);
	json_key(f, "detail", false);
	json_string(f, it->detail);
	json_key(f, "file", false);
	json_string(f, it->file);
	json_key(f, "line", false);
	if (it->file && it->line)
		fprintf(f, "%u", it->line);
	else
		fputs("null", f);
	fputc('}', f);
}

void
report_print_json(const struct report *r, FILE *f)
{
	fputc('{', f);
	for (size_t i = 0; i < r->n_fields; i++) {
		json_key(f, r->fields[i].key, i == 0);
		json_string(f, r->fields[i].value);
	}
	json_key(f, "allowed", r->n_fields == 0);
	fputs(r->allowed ? "true" : "false", f);
	json_key(f, "decision", false);
	json_string(f, r->decision);
	json_key(f, "sections", false);
	fputc('[', f);
	for (size_t i = 0; i < r->n_sections; i++) {
		const struct report_section *s = &r->sections[i];
		if (i)
			fputc(',', f);
		fputc('{', f);
		json_key(f, "name", true);
		json_string(f, s->name);
		json_key(f, "title", false);
		json_string(f, s->title);
		json_key(f, "hypothetical", false);
		fputs(s->hypothetical ? "true" : "false", f);
		json_key(f, "allowed", false);
		fputs(!s->decided ? "null" : s->allowed ? "true" : "false", f);
		json_key(f, "decision", false);
		json_string(f, s->decided ? s->decision : NULL);
		json_key(f, "rules", false);
		fputc('[', f);
		for (size_t j = 0; j < s->n_items; j++) {
			if (j)
				fputc(',', f);
			json_item(f, &s->items[j]);
		}
		fputs("]}", f);
	}
	fputs("]}\n", f);
}
