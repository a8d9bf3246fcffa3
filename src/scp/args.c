/* SPDX-License-Identifier: BSD-2-Clause */
/* The exec command line of a legacy scp client, parsed as scp's arguments only.
 *
 * A real sshd hands "scp -t PATH" to the user's shell, which is how CVE-2020-15778
 * (scp host:'x;touch /tmp/pwned') ran commands. Here no shell exists: words are split
 * the way a POSIX shell splits the simple quoting scp users type ('...', "...",
 * backslash), ~ and ~/ mean the home directory, unquoted * ? [ in a download path's last
 * component become a glob over the VFS, and everything else a shell would interpret is
 * refused with a message for the client. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "berth/buf.h"
#include "berth/common.h"
#include "berth/scp_engine.h"
#include "berth/xmem.h"

struct word {
	struct xbuf text;    /* the word as the program would see it */
	struct xbuf pattern; /* same, with quoted glob characters escaped for fnmatch(3) */
	bool glob;           /* an unquoted * ? [ occurs */
};

static bool
is_space(char c)
{
	return c == ' ' || c == '\t';
}

static bool
is_glob_char(char c)
{
	return c == '*' || c == '?' || c == '[' || c == ']' || c == '\\';
}

/* Both buffers hold at most 2 * SCP_MAX_CMD bytes, which the command length bounds. */
static void
word_add(struct word *w, char c, bool quoted)
{
	(void)xbuf_put_u8(&w->text, (uint8_t)c);
	if (quoted && is_glob_char(c))
		(void)xbuf_put_u8(&w->pattern, '\\');
	(void)xbuf_put_u8(&w->pattern, (uint8_t)c);
	if (!quoted && (c == '*' || c == '?' || c == '['))
		w->glob = true;
}

static char *
xbuf_strdup(const struct xbuf *b)
{
	return xstrndup((const char *)xbuf_ptr(b), xbuf_len(b));
}

static void
word_free(struct word *w)
{
	xbuf_deinit(&w->text);
	xbuf_deinit(&w->pattern);
}

/* One word starting at *pp (not at a blank). 0, or -EINVAL with *ret_err set. */
static int
next_word(const char **pp, struct word *w, const char **ret_err)
{
	const char *p = *pp;
	xbuf_init(&w->text, 2 * SCP_MAX_CMD);
	xbuf_init(&w->pattern, 2 * SCP_MAX_CMD);
	w->glob = false;
	if (*p == '#') {
		*ret_err = "a comment needs a shell";
		return -EINVAL;
	}
	while (*p && !is_space(*p)) {
		char c = *p++;
		if (c == '\\') {
			if (!*p) {
				*ret_err = "trailing backslash";
				return -EINVAL;
			}
			if (*p == '\n') {
				*ret_err = "newline in command";
				return -EINVAL;
			}
			word_add(w, *p++, true);
		} else if (c == '\'') {
			while (*p && *p != '\'')
				word_add(w, *p++, true);
			if (*p != '\'') {
				*ret_err = "unterminated quote";
				return -EINVAL;
			}
			p++;
		} else if (c == '"') {
			while (*p && *p != '"') {
				if (*p == '$' || *p == '`') {
					*ret_err = "$ and ` need a shell";
					return -EINVAL;
				}
				if (*p == '\\' &&
				    (p[1] == '"' || p[1] == '\\' || p[1] == '$' || p[1] == '`')) {
					word_add(w, p[1], true);
					p += 2;
					continue;
				}
				word_add(w, *p++, true);
			}
			if (*p != '"') {
				*ret_err = "unterminated quote";
				return -EINVAL;
			}
			p++;
		} else if (strchr(";&|<>()$`\n", c)) {
			*ret_err = "shell syntax (; & | < > ( ) $ ` or a newline) is not supported";
			return -EINVAL;
		} else {
			word_add(w, c, false);
		}
	}
	*pp = p;
	return 0;
}

/* Replace a leading unquoted ~ (alone or before '/') with @home. */
static int
expand_tilde(const char *raw, const char *home, struct word *w, const char **ret_err)
{
	if (raw[0] != '~')
		return 0;
	if (raw[1] && !is_space(raw[1]) && raw[1] != '/') {
		*ret_err = "~user is not supported";
		return -EINVAL;
	}
	size_t hl = strlen(home);
	while (hl > 1 && home[hl - 1] == '/')
		hl--;
	if (raw[1] == '/' && hl == 1 && home[0] == '/')
		hl = 0; /* "/" + "/x" */
	struct word t = {.glob = w->glob};
	xbuf_init(&t.text, 2 * SCP_MAX_CMD + hl);
	xbuf_init(&t.pattern, 2 * SCP_MAX_CMD + 2 * hl);
	for (size_t i = 0; i < hl; i++)
		word_add(&t, home[i], true);
	(void)xbuf_put(&t.text, xbuf_ptr(&w->text) + 1, xbuf_len(&w->text) - 1);
	(void)xbuf_put(&t.pattern, xbuf_ptr(&w->pattern) + 1, xbuf_len(&w->pattern) - 1);
	word_free(w);
	*w = t;
	return 0;
}

bool
scp_command_is_scp(const char *cmdline)
{
	while (is_space(*cmdline))
		cmdline++;
	return strncmp(cmdline, "scp", 3) == 0 && (cmdline[3] == '\0' || is_space(cmdline[3]));
}

void
scp_command_free(struct scp_command *c)
{
	for (size_t i = 0; i < c->n_paths; i++) {
		free(c->paths[i]);
		free(c->patterns[i]);
	}
	free(c->paths);
	free(c->patterns);
	memset(c, 0, sizeof(*c));
}

/* The options and paths after "scp". */
static int
parse_args(struct word *words, size_t n, struct scp_command *c, const char **ret_err)
{
	size_t i = 1;
	for (; i < n; i++) {
		_cleanup_free_ char *arg = xbuf_strdup(&words[i].text);
		const char *a = arg;
		if (a[0] != '-' || a[1] == '\0')
			break;
		if (strcmp(a, "--") == 0) {
			i++;
			break;
		}
		for (a++; *a; a++) {
			switch (*a) {
			case 'f':
				c->source = true;
				break;
			case 't':
				c->sink = true;
				break;
			case 'r':
				c->recursive = true;
				break;
			case 'p':
				c->preserve = true;
				break;
			case 'd':
				c->target_dir = true;
				break;
			case 'v':
				break; /* verbose: nothing to show on this side */
			default:
				*ret_err = "unknown option (only -f -t -r -p -d -v)";
				return -EINVAL;
			}
		}
	}
	if (c->source == c->sink) {
		*ret_err = "usage: scp [-prv] -f path... | scp [-dprv] -t target";
		return -EINVAL;
	}
	size_t np = n - i;
	if (np == 0 || (c->sink && np != 1)) {
		*ret_err = c->sink ? "ambiguous target" : "no path to send";
		return -EINVAL;
	}
	if (np > SCP_MAX_PATHS) {
		*ret_err = "too many paths";
		return -EINVAL;
	}
	c->paths = xcalloc(np + 1, sizeof(char *));
	c->patterns = xcalloc(np + 1, sizeof(char *));
	for (size_t k = 0; k < np; k++) {
		struct word *w = &words[i + k];
		c->paths[k] = xbuf_strdup(&w->text);
		if (c->source && w->glob)
			c->patterns[k] = xbuf_strdup(&w->pattern);
	}
	c->n_paths = np;
	return 0;
}

int
scp_command_parse(const char *cmdline, const char *home, struct scp_command *ret,
                  const char **ret_err)
{
	*ret_err = NULL;
	if (!scp_command_is_scp(cmdline))
		return 1;
	if (strlen(cmdline) > SCP_MAX_CMD) {
		*ret_err = "command line too long";
		return -EINVAL;
	}
	struct word *words = NULL;
	size_t n = 0;
	int r = 0;
	const char *p = cmdline;
	for (;;) {
		while (is_space(*p))
			p++;
		if (!*p)
			break;
		if (n == SCP_MAX_PATHS + 16) {
			*ret_err = "too many arguments";
			r = -EINVAL;
			break;
		}
		words = xreallocarray(words, n + 1, sizeof(*words));
		const char *start = p;
		memset(&words[n], 0, sizeof(words[n]));
		r = next_word(&p, &words[n], ret_err);
		n++;
		if (r == 0)
			r = expand_tilde(start, home ? home : "/", &words[n - 1], ret_err);
		if (r < 0)
			break;
	}
	struct scp_command c = {0};
	if (r == 0)
		r = parse_args(words, n, &c, ret_err);
	for (size_t i = 0; i < n; i++)
		word_free(&words[i]);
	free(words);
	if (r < 0) {
		scp_command_free(&c);
		return r;
	}
	*ret = c;
	return 0;
}
