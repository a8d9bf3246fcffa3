/* SPDX-License-Identifier: BSD-2-Clause */
/* AuthenticationMethods syntax: "any" or space-separated chains of comma-separated methods. */
#include <string.h>

#include "berth/common.h"
#include "berth/conf.h"
#include "berth/xmem.h"

static const struct {
	enum berth_auth_method m;
	const char *name;
} method_names[] = {
        {BERTH_AUTH_PUBLICKEY, "publickey"},
        {BERTH_AUTH_PASSWORD, "password"},
        {BERTH_AUTH_KBDINT, "keyboard-interactive"},
};

const char *
berth_auth_method_name(enum berth_auth_method m)
{
	for (size_t i = 0; i < ARRAY_SIZE(method_names); i++)
		if (method_names[i].m == m)
			return method_names[i].name;
	return "unknown";
}

static int
method_from_span(const char *s, size_t len, enum berth_auth_method *ret)
{
	const char *colon = memchr(s, ':', len);

	/* "keyboard-interactive:pam" names a submethod; berth has one backend each. */
	if (colon)
		len = (size_t)(colon - s);
	for (size_t i = 0; i < ARRAY_SIZE(method_names); i++) {
		if (strlen(method_names[i].name) == len &&
		    memcmp(method_names[i].name, s, len) == 0) {
			*ret = method_names[i].m;
			return 0;
		}
	}
	return -EINVAL;
}

int
berth_auth_method_from_name(const char *name, enum berth_auth_method *ret)
{
	return method_from_span(name, strlen(name), ret);
}

int
berth_auth_policy_parse(const char *text, struct berth_auth_policy *ret, const char **ret_err)
{
	struct berth_auth_policy p = {.n_chains = 0};
	const char *s = text;
	const char *err = NULL;

	while (*s == ' ' || *s == '\t')
		s++;
	if (strcmp(s, "any") == 0) {
		*ret = p;
		return 0;
	}
	if (*s == '\0') {
		err = "empty AuthenticationMethods";
		goto fail;
	}
	while (*s) {
		size_t len = strcspn(s, " \t");
		const char *chain = s;
		const char *end = s + len;

		if (p.n_chains >= BERTH_AUTH_CHAINS_MAX) {
			err = "too many alternatives (max 16)";
			goto fail;
		}
		while (chain < end) {
			size_t mlen = strcspn(chain, ",");
			enum berth_auth_method m;

			if (chain + mlen > end)
				mlen = (size_t)(end - chain);
			if (mlen == 0) {
				err = "empty method in chain";
				goto fail;
			}
			if (mlen == 3 && memcmp(chain, "any", 3) == 0) {
				err = "\"any\" must appear alone";
				goto fail;
			}
			if (method_from_span(chain, mlen, &m) < 0) {
				err = "unknown authentication method";
				goto fail;
			}
			if (p.chains[p.n_chains].n >= BERTH_AUTH_CHAIN_MAX) {
				err = "chain too long (max 8 methods)";
				goto fail;
			}
			p.chains[p.n_chains].methods[p.chains[p.n_chains].n++] = (uint8_t)m;
			chain += mlen;
			if (chain < end) {
				chain++; /* the comma */
				if (chain == end) {
					err = "empty method in chain";
					goto fail;
				}
			}
		}
		p.n_chains++;
		s = end;
		while (*s == ' ' || *s == '\t')
			s++;
	}
	*ret = p;
	return 0;
fail:
	if (ret_err)
		*ret_err = err;
	return -EINVAL;
}

char *
berth_auth_policy_format(const struct berth_auth_policy *p)
{
	char *out = xstrdup("");

	if (p->n_chains == 0) {
		free(out);
		return xstrdup("any");
	}
	for (size_t c = 0; c < p->n_chains; c++) {
		for (size_t i = 0; i < p->chains[c].n; i++) {
			char *next = xasprintf("%s%s%s", out, i ? "," : (c ? " " : ""),
			                       berth_auth_method_name(p->chains[c].methods[i]));
			free(out);
			out = next;
		}
	}
	return out;
}
