/* SPDX-License-Identifier: BSD-2-Clause */
/* Stanza editor for the accounts file: every byte not asked to change stays; validation
 * by the daemon's own parser. */
#include <errno.h>
#include <string.h>
#include <strings.h>

#include "berth/acctedit.h"
#include "berth/account.h"
#include "berth/common.h"
#include "berth/conf.h"
#include "berth/xmem.h"
#include "account-internal.h"

/* Stanza headers, in the parser's sense: a line whose first word is one of these starts
 * a new stanza. Group is the policy layer's named group (issue 7). */
static const char *const stanza_kinds[] = {"Defaults", "Account", "Group"};
enum { KIND_DEFAULTS = 0, KIND_ACCOUNT = 1 };

enum line_type { L_BLANK, L_COMMENT, L_HEADER, L_KEYWORD };

struct eline {
	char *text;      /* without the line ending */
	size_t len;      /* of text */
	const char *eol; /* "\n", "\r\n" or "" (last line without one) */
	/* derived by analyse() */
	enum line_type type;
	size_t indent_len; /* leading blanks */
	size_t kw_len;     /* keyword at text + indent_len */
	size_t val_off;    /* value starts here (after the blanks that follow kw) */
	char *value;       /* value as the parser reads it: no trailing comment, blanks, CR */
	int kind;          /* L_HEADER: index into stanza_kinds */
};

struct estanza {
	size_t first;  /* first line (leading comments) */
	size_t header; /* header line */
	size_t end;    /* one past the last line */
	int kind;
	char *name;
};

struct acctedit {
	struct eline *lines;
	size_t n;
	struct estanza *st;
	size_t n_st;
};

static int
kind_index(const char *s, size_t len)
{
	for (size_t i = 0; i < ARRAY_SIZE(stanza_kinds); i++)
		if (strlen(stanza_kinds[i]) == len && strncasecmp(stanza_kinds[i], s, len) == 0)
			return (int)i;
	return -1;
}

static bool
is_blank(char c)
{
	return c == ' ' || c == '\t';
}

char *
acctedit_unquote(const char *v)
{
	if (*v != '"')
		return xstrndup(v, strcspn(v, " \t"));
	char *out = xmalloc(strlen(v) + 1), *o = out;
	for (const char *p = v + 1;;) {
		if (*p == '\0') {
			free(out);
			return NULL;
		}
		if (*p == '\\' && (p[1] == '"' || p[1] == '\\')) {
			*o++ = p[1];
			p += 2;
			continue;
		}
		if (*p == '"')
			break;
		*o++ = *p++;
	}
	*o = '\0';
	return out;
}

char *
acctedit_quote(const char *v)
{
	if (*v && *v != '"' && !strpbrk(v, " \t#"))
		return xstrdup(v);
	char *out = xmalloc(2 * strlen(v) + 3), *o = out;
	*o++ = '"';
	for (const char *p = v; *p; p++) {
		if (*p == '"' || *p == '\\')
			*o++ = '\\';
		*o++ = *p;
	}
	*o++ = '"';
	*o = '\0';
	return out;
}

static void
analyse(struct eline *l)
{
	const char *t = l->text;
	size_t end = l->len, i = 0;

	free(l->value);
	l->value = NULL;
	l->kind = -1;
	l->kw_len = l->val_off = 0;
	while (end && (is_blank(t[end - 1]) || t[end - 1] == '\r'))
		end--;
	while (i < end && is_blank(t[i]))
		i++;
	l->indent_len = i;
	if (i == end) {
		l->type = L_BLANK;
		return;
	}
	if (t[i] == '#') {
		l->type = L_COMMENT;
		return;
	}
	size_t k = i;
	while (k < end && !is_blank(t[k]))
		k++;
	l->kw_len = k - i;
	while (k < end && is_blank(t[k]))
		k++;
	l->val_off = k;
	_cleanup_free_ char *raw = xstrndup(t + k, end - k);
	l->value = accounts_strip_comment(raw);
	l->kind = kind_index(t + i, l->kw_len);
	l->type = l->kind >= 0 ? L_HEADER : L_KEYWORD;
}

static bool
line_is_kw(const struct eline *l, const char *kw)
{
	return l->type == L_KEYWORD && strlen(kw) == l->kw_len &&
	       strncasecmp(l->text + l->indent_len, kw, l->kw_len) == 0;
}

static void
stanzas_free(struct acctedit *ed)
{
	for (size_t i = 0; i < ed->n_st; i++)
		free(ed->st[i].name);
	free(ed->st);
	ed->st = NULL;
	ed->n_st = 0;
}

/* Recompute the stanza table from the line types. */
static void
restructure(struct acctedit *ed)
{
	stanzas_free(ed);
	for (size_t i = 0; i < ed->n; i++) {
		const struct eline *l = &ed->lines[i];
		if (l->type != L_HEADER)
			continue;
		size_t first = i;
		/* Column-0 comments right above belong to this stanza, unless the block
		 * reaches the top of the file (the file's own header comment). */
		while (first > 0 && ed->lines[first - 1].type == L_COMMENT &&
		       ed->lines[first - 1].indent_len == 0)
			first--;
		if (first == 0 && first != i)
			first = i;
		if (ed->n_st) {
			struct estanza *prev = &ed->st[ed->n_st - 1];
			if (first <= prev->header)
				first = prev->header + 1;
			prev->end = first;
		}
		ed->st = xreallocarray(ed->st, ed->n_st + 1, sizeof(*ed->st));
		struct estanza *s = &ed->st[ed->n_st++];
		s->first = first;
		s->header = i;
		s->end = ed->n;
		s->kind = l->kind;
		if (l->kind == KIND_DEFAULTS) {
			s->name = xstrdup("");
		} else {
			s->name = acctedit_unquote(l->value);
			if (!s->name)
				s->name = xstrdup(l->value);
		}
	}
}

/* " # comment" after a single (possibly quoted) value, or "" (kept when the value is
 * rewritten: the parser ignores it, a person wrote it). */
static const char *
trailing_comment(const char *v)
{
	const char *p = v;
	if (*p == '"') {
		for (p++; *p && *p != '"'; p++)
			if (*p == '\\' && (p[1] == '"' || p[1] == '\\'))
				p++;
		if (*p != '"')
			return "";
		p++;
	} else {
		p += strcspn(p, " \t");
	}
	const char *c = p;
	while (is_blank(*c))
		c++;
	return c > p && *c == '#' ? p : "";
}

static void
line_set_text(struct eline *l, char *text)
{
	free(l->text);
	l->text = text;
	l->len = strlen(text);
	analyse(l);
}

static void
insert_line(struct acctedit *ed, size_t at, char *text, const char *eol)
{
	ed->lines = xreallocarray(ed->lines, ed->n + 1, sizeof(*ed->lines));
	memmove(&ed->lines[at + 1], &ed->lines[at], (ed->n - at) * sizeof(*ed->lines));
	ed->n++;
	struct eline *l = &ed->lines[at];
	*l = (struct eline){.eol = eol};
	line_set_text(l, text);
}

static void
delete_line(struct acctedit *ed, size_t at)
{
	free(ed->lines[at].text);
	free(ed->lines[at].value);
	memmove(&ed->lines[at], &ed->lines[at + 1], (ed->n - at - 1) * sizeof(*ed->lines));
	ed->n--;
}

int
acctedit_new(const char *text, size_t len, struct acctedit **ret)
{
	if (len > ACCTEDIT_MAX_FILE)
		return -EFBIG;
	if (memchr(text, '\0', len))
		return -EINVAL;
	struct acctedit *ed = xcalloc(1, sizeof(*ed));
	size_t pos = 0;
	while (pos < len) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t llen = nl ? (size_t)(nl - (text + pos)) : len - pos;
		const char *eol = nl ? "\n" : "";
		if (nl && llen && text[pos + llen - 1] == '\r') {
			llen--;
			eol = "\r\n";
		}
		insert_line(ed, ed->n, xstrndup(text + pos, llen), eol);
		pos += llen + strlen(eol);
	}
	restructure(ed);
	*ret = ed;
	return 0;
}

struct acctedit *
acctedit_free(struct acctedit *ed)
{
	if (!ed)
		return NULL;
	for (size_t i = 0; i < ed->n; i++) {
		free(ed->lines[i].text);
		free(ed->lines[i].value);
	}
	free(ed->lines);
	stanzas_free(ed);
	free(ed);
	return NULL;
}

static char *
lines_text(const struct acctedit *ed, size_t from, size_t to, size_t *ret_len)
{
	size_t total = 0;
	for (size_t i = from; i < to; i++)
		total += ed->lines[i].len + strlen(ed->lines[i].eol);
	char *out = xmalloc(total + 1), *o = out;
	for (size_t i = from; i < to; i++) {
		memcpy(o, ed->lines[i].text, ed->lines[i].len);
		o += ed->lines[i].len;
		memcpy(o, ed->lines[i].eol, strlen(ed->lines[i].eol));
		o += strlen(ed->lines[i].eol);
	}
	*o = '\0';
	if (ret_len)
		*ret_len = total;
	return out;
}

char *
acctedit_text(const struct acctedit *ed, size_t *ret_len)
{
	return lines_text(ed, 0, ed->n, ret_len);
}

size_t
acctedit_stanza_count(const struct acctedit *ed)
{
	return ed->n_st;
}

const char *
acctedit_stanza_kind(const struct acctedit *ed, size_t s)
{
	return stanza_kinds[ed->st[s].kind];
}

const char *
acctedit_stanza_name(const struct acctedit *ed, size_t s)
{
	return ed->st[s].name;
}

unsigned
acctedit_stanza_line(const struct acctedit *ed, size_t s)
{
	return (unsigned)ed->st[s].header + 1;
}

int
acctedit_stanza_find(const struct acctedit *ed, const char *kind, const char *name, size_t *ret)
{
	int k = kind_index(kind, strlen(kind));
	for (size_t i = 0; k >= 0 && i < ed->n_st; i++) {
		if (ed->st[i].kind != k || (k != KIND_DEFAULTS && strcmp(ed->st[i].name, name)))
			continue;
		*ret = i;
		return 0;
	}
	return ACCTEDIT_E_NOTFOUND;
}

/* The file's line ending: that of its first line, else "\n". */
static const char *
eol_style(const struct acctedit *ed)
{
	for (size_t i = 0; i < ed->n; i++)
		if (*ed->lines[i].eol)
			return ed->lines[i].eol;
	return "\n";
}

/* Are stanzas separated by blank lines? Yes unless two stanzas follow each other
 * without one (a file with fewer than two stanzas: yes). */
static bool
blank_separated(const struct acctedit *ed)
{
	for (size_t i = 1; i < ed->n_st; i++)
		if (ed->lines[ed->st[i].first - 1].type == L_BLANK)
			return true;
	return ed->n_st < 2;
}

int
acctedit_stanza_add(struct acctedit *ed, const char *kind, const char *name, size_t *ret)
{
	int k = kind_index(kind, strlen(kind));
	size_t dummy;

	if (k < 0 || (k != KIND_DEFAULTS && !berth_account_name_valid(name)))
		return -EINVAL;
	if (acctedit_stanza_find(ed, kind, name, &dummy) == 0)
		return ACCTEDIT_E_EXISTS;
	const char *eol = eol_style(ed);
	bool blanks = blank_separated(ed);
	size_t at = ed->n;
	ssize_t last_same = -1, first_account = -1;
	for (size_t i = 0; i < ed->n_st; i++) {
		if (ed->st[i].kind == k)
			last_same = (ssize_t)i;
		if (ed->st[i].kind == KIND_ACCOUNT && first_account < 0)
			first_account = (ssize_t)i;
	}
	if (last_same >= 0)
		at = ed->st[last_same].end;
	else if (k != KIND_ACCOUNT && first_account >= 0)
		at = ed->st[first_account].first;
	/* A last line without a line ending gets one before anything follows it. */
	if (at == ed->n && ed->n && !*ed->lines[ed->n - 1].eol)
		ed->lines[ed->n - 1].eol = eol;
	size_t pos = at;
	if (blanks && at > 0 && ed->lines[at - 1].type != L_BLANK)
		insert_line(ed, pos++, xstrdup(""), eol);
	insert_line(ed, pos++,
	            k == KIND_DEFAULTS ? xstrdup(stanza_kinds[k])
	                               : xasprintf("%s %s", stanza_kinds[k], name),
	            eol);
	if (blanks && pos < ed->n && ed->lines[pos].type != L_BLANK)
		insert_line(ed, pos, xstrdup(""), eol);
	restructure(ed);
	if (ret)
		(void)acctedit_stanza_find(ed, kind, name, ret);
	return 0;
}

void
acctedit_stanza_remove(struct acctedit *ed, size_t s)
{
	size_t first = ed->st[s].first, end = ed->st[s].end;
	if (end == ed->n) {
		/* Last stanza: the blank lines that separated it go too. */
		while (first > 0 && ed->lines[first - 1].type == L_BLANK)
			first--;
	}
	for (size_t i = end; i > first; i--)
		delete_line(ed, i - 1);
	restructure(ed);
}

int
acctedit_stanza_rename(struct acctedit *ed, size_t s, const char *name)
{
	struct estanza *st = &ed->st[s];
	size_t dummy;

	if (st->kind == KIND_DEFAULTS || !berth_account_name_valid(name))
		return -EINVAL;
	if (acctedit_stanza_find(ed, stanza_kinds[st->kind], name, &dummy) == 0)
		return dummy == s ? 0 : ACCTEDIT_E_EXISTS;
	struct eline *l = &ed->lines[st->header];
	line_set_text(l, xasprintf("%.*s%s%s%s", (int)l->val_off, l->text,
	                           l->val_off == l->indent_len + l->kw_len ? " " : "", name,
	                           trailing_comment(l->text + l->val_off)));
	restructure(ed);
	return 0;
}

char *
acctedit_stanza_text(const struct acctedit *ed, size_t s, size_t *ret_len)
{
	size_t end = ed->st[s].end;

	/* Without the blank lines and column-0 comments that follow the stanza. */
	while (end > ed->st[s].header + 1 &&
	       (ed->lines[end - 1].type == L_BLANK ||
	        (ed->lines[end - 1].type == L_COMMENT && ed->lines[end - 1].indent_len == 0)))
		end--;
	return lines_text(ed, ed->st[s].first, end, ret_len);
}

/* ---- keyword lines ---- */

bool
acctedit_keyword_valid(const char *kw)
{
	size_t len = strlen(kw);

	if (len == 0 || len > 64 ||
	    !((kw[0] >= 'A' && kw[0] <= 'Z') || (kw[0] >= 'a' && kw[0] <= 'z')))
		return false;
	if (strspn(kw, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") != len)
		return false;
	return kind_index(kw, len) < 0;
}

bool
acctedit_value_valid(const char *v)
{
	size_t len = strlen(v);

	if (len == 0 || len > ACCTEDIT_MAX_VALUE || is_blank(v[0]) || is_blank(v[len - 1]))
		return false;
	for (const unsigned char *p = (const unsigned char *)v; *p; p++)
		if ((*p < 0x20 && *p != '\t') || *p == 0x7f)
			return false;
	return true;
}

size_t
acctedit_value_count(const struct acctedit *ed, size_t s, const char *kw)
{
	size_t n = 0;
	for (size_t i = ed->st[s].header + 1; i < ed->st[s].end; i++)
		n += line_is_kw(&ed->lines[i], kw);
	return n;
}

/* Line index of the @nth @kw line of stanza @s, or SIZE_MAX. */
static size_t
nth_line(const struct acctedit *ed, size_t s, const char *kw, size_t nth)
{
	for (size_t i = ed->st[s].header + 1; i < ed->st[s].end; i++)
		if (line_is_kw(&ed->lines[i], kw) && nth-- == 0)
			return i;
	return SIZE_MAX;
}

const char *
acctedit_value(const struct acctedit *ed, size_t s, const char *kw, size_t i, unsigned *line)
{
	size_t at = nth_line(ed, s, kw, i);
	if (at == SIZE_MAX)
		return NULL;
	if (line)
		*line = (unsigned)at + 1;
	return ed->lines[at].value;
}

/* Display width of text[0..len) with 8-wide tabs. */
static size_t
columns(const char *t, size_t len)
{
	size_t c = 0;
	for (size_t i = 0; i < len; i++)
		c = t[i] == '\t' ? (c / 8 + 1) * 8 : c + 1;
	return c;
}

/* Keyword lines of stanza @s, or of the last stanza that has at least two (style model). */
static void
model_lines(const struct acctedit *ed, size_t s, size_t *ret_idx, size_t *ret_n, size_t max)
{
	size_t n = 0;
	for (size_t i = ed->st[s].header + 1; i < ed->st[s].end && n < max; i++)
		if (ed->lines[i].type == L_KEYWORD)
			ret_idx[n++] = i;
	for (size_t k = ed->n_st; n < 2 && k > 0; k--) {
		size_t m = 0;
		for (size_t i = ed->st[k - 1].header + 1; i < ed->st[k - 1].end && m < max; i++)
			if (ed->lines[i].type == L_KEYWORD)
				m++;
		if (m < 2 || k - 1 == s)
			continue;
		n = 0;
		for (size_t i = ed->st[k - 1].header + 1; i < ed->st[k - 1].end && n < max; i++)
			if (ed->lines[i].type == L_KEYWORD)
				ret_idx[n++] = i;
	}
	for (size_t i = ed->n; n == 0 && i > 0; i--)
		if (ed->lines[i - 1].type == L_KEYWORD)
			ret_idx[n++] = i - 1;
	*ret_n = n;
}

/* A new "kw value" line for stanza @s, indented and aligned like its neighbours. */
static char *
format_line(const struct acctedit *ed, size_t s, const char *kw, const char *value)
{
	size_t idx[64], n;
	model_lines(ed, s, idx, &n, ARRAY_SIZE(idx));
	if (n == 0)
		return xasprintf("\t%s %s", kw, value);

	const struct eline *m = &ed->lines[idx[n - 1]];
	_cleanup_free_ char *indent = xstrndup(m->text, m->indent_len);
	size_t col = columns(m->text, m->val_off);
	bool aligned = n >= 2, tabs = true, wide = false;
	for (size_t i = 0; i < n; i++) {
		const struct eline *l = &ed->lines[idx[i]];
		size_t sep_off = l->indent_len + l->kw_len, sep_len = l->val_off - sep_off;
		if (columns(l->text, l->val_off) != col || sep_len == 0)
			aligned = false;
		if (strspn(l->text + sep_off, "\t") < sep_len)
			tabs = false;
		if (sep_len > 1)
			wide = true;
	}
	size_t kw_end = columns(m->text, m->indent_len) + strlen(kw);
	if (aligned && wide && col > kw_end) {
		/* Values aligned in a column: pad to it, with tabs if the file does. */
		_cleanup_free_ char *pad = xmalloc(col - kw_end + 1);
		size_t p = 0;
		if (tabs) {
			for (size_t c = kw_end; c < col; c = (c / 8 + 1) * 8)
				pad[p++] = '\t';
		} else {
			memset(pad, ' ', col - kw_end);
			p = col - kw_end;
		}
		pad[p] = '\0';
		return xasprintf("%s%s%s%s", indent, kw, pad, value);
	}
	const char *sep = tabs && m->val_off > m->indent_len + m->kw_len ? "\t" : " ";
	return xasprintf("%s%s%s%s", indent, kw, sep, value);
}

/* Insert a new line for stanza @s after line @after. */
static void
insert_kw_line(struct acctedit *ed, size_t s, size_t after, const char *kw, const char *value)
{
	const char *eol = eol_style(ed);
	char *text = format_line(ed, s, kw, value);
	if (!*ed->lines[after].eol)
		ed->lines[after].eol = eol;
	insert_line(ed, after + 1, text, eol);
	restructure(ed);
}

/* Last keyword line of stanza @s (the header when it has none). */
static size_t
last_kw_line(const struct acctedit *ed, size_t s, const char *kw)
{
	size_t last = ed->st[s].header;
	for (size_t i = ed->st[s].header + 1; i < ed->st[s].end; i++)
		if (kw ? line_is_kw(&ed->lines[i], kw) : ed->lines[i].type == L_KEYWORD)
			last = i;
	return last;
}

int
acctedit_set(struct acctedit *ed, size_t s, const char *kw, const char *value)
{
	if (!acctedit_keyword_valid(kw) || !acctedit_value_valid(value))
		return -EINVAL;
	size_t first = nth_line(ed, s, kw, 0);
	if (first == SIZE_MAX) {
		insert_kw_line(ed, s, last_kw_line(ed, s, NULL), kw, value);
		return 0;
	}
	struct eline *l = &ed->lines[first];
	bool no_sep = l->val_off == l->indent_len + l->kw_len;
	line_set_text(l, xasprintf("%.*s%s%s%s", (int)l->val_off, l->text, no_sep ? " " : "", value,
	                           trailing_comment(l->text + l->val_off)));
	for (size_t at; (at = nth_line(ed, s, kw, 1)) != SIZE_MAX;) {
		delete_line(ed, at);
		restructure(ed);
	}
	restructure(ed);
	return 0;
}

int
acctedit_add(struct acctedit *ed, size_t s, const char *kw, const char *value)
{
	if (!acctedit_keyword_valid(kw) || !acctedit_value_valid(value))
		return -EINVAL;
	size_t after = last_kw_line(ed, s, kw);
	if (after == ed->st[s].header)
		after = last_kw_line(ed, s, NULL);
	insert_kw_line(ed, s, after, kw, value);
	return 0;
}

int
acctedit_del_nth(struct acctedit *ed, size_t s, const char *kw, size_t i)
{
	size_t at = nth_line(ed, s, kw, i);
	if (at == SIZE_MAX)
		return ACCTEDIT_E_NOTFOUND;
	/* The last line of the file keeps the file's "no final newline", if it had it. */
	if (at + 1 == ed->n && at > 0 && !*ed->lines[at].eol)
		ed->lines[at - 1].eol = "";
	delete_line(ed, at);
	restructure(ed);
	return 0;
}

size_t
acctedit_unset(struct acctedit *ed, size_t s, const char *kw)
{
	size_t n = 0;
	while (acctedit_del_nth(ed, s, kw, 0) == 0)
		n++;
	return n;
}

size_t
acctedit_del(struct acctedit *ed, size_t s, const char *kw, const char *value)
{
	size_t n = 0;
	for (size_t i = 0; i < acctedit_value_count(ed, s, kw);) {
		const char *v = acctedit_value(ed, s, kw, i, NULL);
		_cleanup_free_ char *uq = acctedit_unquote(v);
		if (strcmp(v, value) == 0 || (uq && *v == '"' && strcmp(uq, value) == 0)) {
			(void)acctedit_del_nth(ed, s, kw, i);
			n++;
		} else {
			i++;
		}
	}
	return n;
}

/* ---- validation ---- */

/* The message without the "name:line: " prefix of the accounts file itself. */
static const char *
strip_location(const char *msg, const char *name)
{
	size_t nl = strlen(name);
	if (strncmp(msg, name, nl) != 0 || msg[nl] != ':')
		return msg;
	const char *p = msg + nl + 1;
	p += strspn(p, "0123456789");
	if (p[0] == ':' && p[1] == ' ')
		return p + 2;
	return msg;
}

int
acctedit_validate(const char *text, size_t len, const char *name, const char *old_text,
                  size_t old_len, struct berth_errors *errors, struct berth_errors *warnings,
                  struct berth_accounts **ret_db)
{
	struct berth_accounts *db = NULL, *old_db = NULL;
	struct berth_errors now = BERTH_ERRORS_NULL, before = BERTH_ERRORS_NULL;
	bool bad = false;

	if (berth_accounts_load_string(text, len, name, &db, errors) != 0)
		return ACCTEDIT_E_INVALID;
	(void)berth_accounts_check(db, &now);
	if (now.n && old_text &&
	    berth_accounts_load_string(old_text, old_len, name, &old_db, NULL) == 0)
		(void)berth_accounts_check(old_db, &before);
	for (size_t i = 0; i < now.n; i++) {
		const char *m = strip_location(now.msgs[i], name);
		bool known = false;
		for (size_t k = 0; k < before.n && !known; k++) {
			if (before.msgs[k] &&
			    strcmp(strip_location(before.msgs[k], name), m) == 0) {
				known = true;
				free(before.msgs[k]);
				before.msgs[k] = NULL; /* each old problem excuses one new one */
			}
		}
		berth_errors_add(known ? warnings : errors, NULL, 0, "%s", now.msgs[i]);
		bad |= !known;
	}
	if (now.dropped > before.dropped)
		bad = true;
	berth_errors_free(&now);
	berth_errors_free(&before);
	berth_accounts_free(old_db);
	if (bad) {
		berth_accounts_free(db);
		return ACCTEDIT_E_INVALID;
	}
	if (ret_db)
		*ret_db = db;
	else
		berth_accounts_free(db);
	return 0;
}

const struct berth_account *
berth_accounts_find(const struct berth_accounts *db, const char *name)
{
	for (size_t i = 0; db && i < db->n; i++)
		if (strcmp(db->v[i].a.name, name) == 0)
			return &db->v[i].a;
	return NULL;
}
