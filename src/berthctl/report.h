/* SPDX-License-Identifier: BSD-2-Clause */
/* berthctl explain's report: sections of rules that took part in a decision, rendered as
 * lines for people or as one JSON object for scripts.
 *
 * The report only records and renders; the verdicts come from the library's decision
 * functions (berth/policy.h, berth/account.h), which explain.c calls. Every string is
 * copied. Text output keeps one item per line whatever the strings hold (control bytes
 * are shown as \xNN); JSON output is valid UTF-8 whatever they hold (invalid bytes
 * become U+FFFD).
 */
#pragma once

#include <stdbool.h>
#include <stdio.h>

struct policy_verdict;

/* What one item says. */
enum report_mark {
	REPORT_ALLOWS = 0, /* the rule allowed its part */
	REPORT_DENIES,     /* the rule refused: the deciding item of a denied section */
	REPORT_IGNORES,    /* allowed, and nothing happens (SetstatMode ignore) */
	REPORT_NOTE,       /* information that takes no part in the verdict */
};

/**
 * struct report_item - one rule that took part, or a note.
 * @mark: see enum report_mark.
 * @kind: rule kind ("permissions", "filter", "value", "default", "account", "quota", ...).
 * @op: operation class the item is about, or NULL.
 * @text: the rule as written ("Permissions /in upload-only") or what was checked.
 * @detail: more words (the path a step looked at, the usage), or NULL.
 * @file: where the rule was written, or NULL (built in, or not from a file).
 * @line: line in @file (0 = the file as a whole).
 */
struct report_item {
	enum report_mark mark;
	char *kind;
	char *op;
	char *text;
	char *detail;
	char *file;
	unsigned line;
};

/**
 * struct report_section - one stage of the decision (login, session, path, quota).
 * @name: short name ("login").
 * @title: one line saying what was evaluated.
 * @hypothetical: evaluated although an earlier stage refused (what would happen).
 * @primary: its decision is the report's when everything allows (the operation itself).
 * @decided: the section has a verdict (notes-only sections have none).
 * @allowed: the verdict.
 * @decision: one line for the verdict ("denied upload by ... at file:line"), or NULL.
 * @items: the items, in evaluation order.
 * @n_items: count.
 */
struct report_section {
	char *name;
	char *title;
	bool hypothetical;
	bool primary;
	bool decided;
	bool allowed;
	char *decision;
	struct report_item *items;
	size_t n_items;
};

/* A header field: a string or null. */
struct report_field {
	char *key;
	char *value;
};

/**
 * struct report - the whole explanation.
 * @fields: request fields (account, operation, path, ...), in order.
 * @n_fields: count.
 * @sections: in evaluation order.
 * @n_sections: count.
 * @allowed: the overall verdict (set by report_finish()).
 * @decision: the deciding line (set by report_finish()).
 */
struct report {
	struct report_field *fields;
	size_t n_fields;
	struct report_section *sections;
	size_t n_sections;
	bool allowed;
	char *decision;
};

/* A new, empty report; never NULL. */
struct report *report_new(void);
/* Free @r; NULL is fine. */
void report_free(struct report *r);

/* Add a header field; @value may be NULL (rendered as null / left out of the text). */
void report_field(struct report *r, const char *key, const char *value);

/* Add a section; the pointer stays valid until the next report_section() call. */
struct report_section *report_section(struct report *r, const char *name, const char *title_fmt,
                                      ...) __attribute__((format(printf, 3, 4)));

/**
 * report_item() - add an item to @s.
 * @s: section.
 * @mark: what it says.
 * @kind: rule kind.
 * @op: operation or NULL.
 * @file: origin file or NULL.
 * @line: origin line.
 * @text: the rule or the check.
 * @detail_fmt: printf format for the detail, or NULL.
 */
void report_item(struct report_section *s, enum report_mark mark, const char *kind, const char *op,
                 const char *file, unsigned line, const char *text, const char *detail_fmt, ...)
        __attribute__((format(printf, 8, 9)));

/**
 * report_item_at() - report_item() with the origin given as one "file:line" string (an
 * account's source), split at its last colon when a number follows; otherwise the whole
 * string is the file and the line is 0.
 */
void report_item_at(struct report_section *s, enum report_mark mark, const char *kind,
                    const char *op, const char *origin, const char *text, const char *detail_fmt,
                    ...) __attribute__((format(printf, 7, 8)));

/**
 * report_steps() - add every step of @v to @s as items, in evaluation order (the deciding
 * step last), without making @v the section's verdict.
 * @s: section.
 * @v: verdict.
 * @with_op: show each step's operation (false for login rules, which have none).
 */
void report_steps(struct report_section *s, const struct policy_verdict *v, bool with_op);

/**
 * report_verdict() - add every step of @v to @s (evaluation order; the deciding step
 * is the last) and make @v the section's verdict, with policy_verdict_describe() as its
 * decision line.
 * @s: section.
 * @v: verdict from policy_decide() and friends.
 */
void report_verdict(struct report_section *s, const struct policy_verdict *v);

/* Set @s's verdict and decision line (printf format, may be NULL). */
void report_decide(struct report_section *s, bool allowed, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

/**
 * report_finish() - the overall verdict: allowed when every decided section that is not
 * hypothetical allows; the decision is the first refusing section's, else the primary
 * section's (else the last decided one's).
 * @r: report.
 *
 * Return: the verdict.
 */
bool report_finish(struct report *r);

/* Render as lines for people. */
void report_print_text(const struct report *r, FILE *f);
/* Render as one JSON object (and a newline). */
void report_print_json(const struct report *r, FILE *f);
