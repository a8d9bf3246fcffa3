/* SPDX-License-Identifier: BSD-2-Clause */
/* authorized_keys parser: OpenSSH line format, options, strict base64, wire-blob check. */
#include <fcntl.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <stdio.h>
#include <time.h>

#include <openssl/evp.h>

#include "berth/account.h"
#include "berth/authkeys.h"
#include "berth/file.h"
#include "berth/buf.h"
#include "berth/common.h"
#include "berth/conf.h"
#include "berth/xmem.h"

#define AUTHKEYS_MAX_FILE (1u << 20)

static const char *const key_types[] = {
        "ssh-ed25519",
        "ecdsa-sha2-nistp256",
        "ecdsa-sha2-nistp384",
        "ecdsa-sha2-nistp521",
        "ssh-rsa",
        "sk-ssh-ed25519@openssh.com",
        "sk-ecdsa-sha2-nistp256@openssh.com",
};

static bool
is_key_type(const char *s, size_t len)
{
	for (size_t i = 0; i < ARRAY_SIZE(key_types); i++)
		if (strlen(key_types[i]) == len && memcmp(key_types[i], s, len) == 0)
			return true;
	return false;
}

static int
b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int
authkeys_base64_decode(const char *in, size_t in_len, uint8_t **ret, size_t *ret_len)
{
	size_t pad = 0, n = in_len, out_len = 0;
	_cleanup_free_ uint8_t *out = NULL;
	uint32_t acc = 0;
	unsigned bits = 0;

	while (n > 0 && in[n - 1] == '=' && pad < 2) {
		n--;
		pad++;
	}
	if (n == 0 || n % 4 == 1 || (pad && (n + pad) % 4 != 0))
		return -EINVAL;
	out = xmalloc(n / 4 * 3 + 3);
	for (size_t i = 0; i < n; i++) {
		int v = b64_value((unsigned char)in[i]);

		if (v < 0)
			return -EINVAL;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[out_len++] = (uint8_t)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	/* Leftover bits must be zero (canonical encoding). */
	if (acc != 0)
		return -EINVAL;
	*ret = ptr_steal(&out);
	*ret_len = out_len;
	return 0;
}

int
authkeys_parse_expiry(const char *text, time_t *ret)
{
	size_t len = strlen(text);
	struct tm tm = {0}, check;
	int v[7] = {0};
	time_t t;

	if (len != 8 && len != 12 && len != 14)
		return -EINVAL;
	if (strspn(text, "0123456789") != len)
		return -EINVAL;
	v[0] = (text[0] - '0') * 1000 + (text[1] - '0') * 100 + (text[2] - '0') * 10 +
	       (text[3] - '0');
	for (size_t i = 4, f = 1; i < len; i += 2, f++)
		v[f] = (text[i] - '0') * 10 + (text[i + 1] - '0');
	tm.tm_year = v[0] - 1900;
	tm.tm_mon = v[1] - 1;
	tm.tm_mday = v[2];
	tm.tm_hour = v[3];
	tm.tm_min = v[4];
	tm.tm_sec = v[5];
	if (v[0] < 1970 || v[1] < 1 || v[1] > 12 || v[2] < 1 || v[3] > 23 || v[4] > 59 || v[5] > 59)
		return -EINVAL;
	t = timegm(&tm);
	if (t == (time_t)-1 || !gmtime_r(&t, &check) || check.tm_mday != v[2] ||
	    check.tm_mon != v[1] - 1)
		return -EINVAL; /* e.g. February 30th */
	*ret = t;
	return 0;
}

static int command_allowed(const char *cmd, bool *ret_read_only);

static void
entry_free(struct authkeys_entry *e)
{
	free(e->type);
	free(e->blob);
	free(e->comment);
	free(e->opts.from);
	free(e->opts.command);
	free(e->source);
	*e = (struct authkeys_entry){0};
}

void
authkeys_list_free(struct authkeys_list *list)
{
	if (!list)
		return;
	for (size_t i = 0; i < list->n; i++)
		entry_free(&list->entries[i]);
	free(list->entries);
	*list = (struct authkeys_list)AUTHKEYS_LIST_NULL;
}

/* Parse the option list at *pp (up to unquoted whitespace). Returns 0 or -1 with *err. */
static int
parse_options(const char **pp, struct authkeys_options *o, const char **err)
{
	const char *p = *pp;

	while (*p && *p != ' ' && *p != '\t') {
		size_t nlen = strcspn(p, "=, \t");
		const char *name = p;
		_cleanup_free_ char *value = NULL;

		if (nlen == 0) {
			*err = "empty option";
			return -1;
		}
		p += nlen;
		if (*p == '=') {
			size_t cap, vlen = 0;

			p++;
			if (*p != '"') {
				*err = "option value must be double-quoted";
				return -1;
			}
			p++;
			cap = strlen(p) + 1;
			value = xmalloc(cap);
			for (;;) {
				if (*p == '\0') {
					*err = "unterminated quoted option value";
					return -1;
				}
				if (*p == '\\' && p[1] == '"') {
					value[vlen++] = '"';
					p += 2;
					continue;
				}
				if (*p == '"') {
					p++;
					break;
				}
				value[vlen++] = *p++;
			}
			value[vlen] = '\0';
		}
#define OPT(s) (nlen == strlen(s) && strncasecmp(name, s, nlen) == 0)
		if (OPT("restrict")) {
			o->restrict_ = o->no_pty = o->no_port_forwarding = true;
			o->no_agent_forwarding = o->no_x11_forwarding = o->no_user_rc = true;
		} else if (OPT("no-pty")) {
			o->no_pty = true;
		} else if (OPT("pty")) {
			o->no_pty = false;
		} else if (OPT("no-port-forwarding")) {
			o->no_port_forwarding = true;
		} else if (OPT("port-forwarding")) {
			o->no_port_forwarding = false;
		} else if (OPT("no-agent-forwarding")) {
			o->no_agent_forwarding = true;
		} else if (OPT("agent-forwarding")) {
			o->no_agent_forwarding = false;
		} else if (OPT("no-x11-forwarding")) {
			o->no_x11_forwarding = true;
		} else if (OPT("x11-forwarding")) {
			o->no_x11_forwarding = false;
		} else if (OPT("no-user-rc")) {
			o->no_user_rc = true;
		} else if (OPT("user-rc")) {
			o->no_user_rc = false;
		} else if (OPT("no-touch-required")) {
			o->no_touch_required = true;
		} else if (OPT("verify-required")) {
			o->verify_required = true;
		} else if (OPT("cert-authority")) {
			*err = "cert-authority lines are not supported (berth does not accept "
			       "certificates)";
			return -1;
		} else if (OPT("principals")) {
			*err = "principals= is only meaningful with cert-authority, which berth "
			       "does not support";
			return -1;
		} else if (OPT("from") || OPT("expiry-time") || OPT("command") ||
		           OPT("environment") || OPT("permitopen") || OPT("permitlisten") ||
		           OPT("tunnel")) {
			if (!value) {
				*err = "option requires a quoted value";
				return -1;
			}
			if (OPT("from")) {
				if (o->from) {
					*err = "from= given twice";
					return -1;
				}
				if (berth_match_addr_list("", value) < 0) {
					*err = "invalid CIDR in from=";
					return -1;
				}
				o->from = ptr_steal(&value);
			} else if (OPT("expiry-time")) {
				time_t t;
				if (authkeys_parse_expiry(value, &t) < 0) {
					*err = "invalid expiry-time (YYYYMMDD[HHMM[SS]])";
					return -1;
				}
				/* Several expiry-time options: the earliest wins (OpenSSH). */
				if (!o->expiry || t < o->expiry)
					o->expiry = t;
			} else if (OPT("command")) {
				if (o->command) {
					*err = "command= given twice";
					return -1;
				}
				o->command = ptr_steal(&value);
			} else if (OPT("environment")) {
				o->ignored_environment = true;
			} else {
				o->ignored_permit = true; /* forwarding is always off */
			}
		} else {
			*err = "unknown option";
			return -1;
		}
		if (value &&
		    !(OPT("from") || OPT("expiry-time") || OPT("command") || OPT("environment") ||
		      OPT("permitopen") || OPT("permitlisten") || OPT("tunnel"))) {
			*err = "option takes no value";
			return -1;
		}
#undef OPT
		if (*p == ',') {
			p++;
			if (*p == '\0' || *p == ' ' || *p == '\t') {
				*err = "trailing comma in options";
				return -1;
			}
		} else if (*p && *p != ' ' && *p != '\t') {
			*err = "garbage after option";
			return -1;
		}
	}
	*pp = p;
	return 0;
}

/* The blob must start with the same type name as the key-type field. */
static bool
blob_type_matches(const uint8_t *blob, size_t blob_len, const char *type)
{
	struct xbuf b;
	const uint8_t *name;
	size_t nlen;

	xbuf_view_init(&b, blob, blob_len);
	if (xbuf_get_string_direct(&b, &name, &nlen) < 0)
		return false;
	return nlen == strlen(type) && memcmp(name, type, nlen) == 0 && xbuf_len(&b) > 0;
}

/* Returns 0 (entry filled), 1 (blank/comment) or -1 with *err. */
static int
parse_key_line(const char *line, struct authkeys_entry *e, const char **err)
{
	const char *p = line;
	size_t tlen, blen;
	struct authkeys_options o = {0};

	while (*p == ' ' || *p == '\t')
		p++;
	if (*p == '\0' || *p == '#')
		return 1;
	tlen = strcspn(p, " \t");
	if (!is_key_type(p, tlen)) {
		if ((tlen > 20 && memmem(p, tlen, "-cert-v01@openssh.com", 21)) ||
		    (tlen == 7 && memcmp(p, "ssh-dss", 7) == 0)) {
			*err = tlen == 7 ? "ssh-dss keys are not supported"
			                 : "certificate keys are not supported";
			return -1;
		}
		if (parse_options(&p, &o, err) < 0)
			goto fail;
		while (*p == ' ' || *p == '\t')
			p++;
		tlen = strcspn(p, " \t");
		if (tlen == 0) {
			*err = "missing key type";
			goto fail;
		}
		if (!is_key_type(p, tlen)) {
			*err = memmem(p, tlen, "-cert-v01@openssh.com", 21)
			               ? "certificate keys are not supported"
			               : "unknown or unsupported key type";
			goto fail;
		}
	}
	e->type = xstrndup(p, tlen);
	p += tlen;
	while (*p == ' ' || *p == '\t')
		p++;
	blen = strcspn(p, " \t");
	if (blen == 0) {
		*err = "missing base64 key data";
		goto fail;
	}
	if (authkeys_base64_decode(p, blen, &e->blob, &e->blob_len) < 0) {
		*err = "invalid base64 key data";
		goto fail;
	}
	if (!blob_type_matches(e->blob, e->blob_len, e->type)) {
		*err = "key data does not match the key type";
		goto fail;
	}
	p += blen;
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p) {
		size_t clen = strlen(p);
		while (clen && (p[clen - 1] == ' ' || p[clen - 1] == '\t'))
			clen--;
		e->comment = xstrndup(p, clen);
	}
	if (o.command) {
		bool ro = false;
		if (command_allowed(o.command, &ro) == 0)
			o.read_only = ro;
	}
	e->opts = o;
	return 0;
fail:
	free(o.from);
	free(o.command);
	free(e->type);
	free(e->blob);
	e->type = NULL;
	e->blob = NULL;
	return -1;
}

int
authkeys_parse(const char *text, size_t len, const char *source, struct authkeys_list *list,
               struct berth_errors *errors)
{
	size_t pos = 0;
	unsigned lineno = 0;
	bool bad = false;

	while (pos < len) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t llen = nl ? (size_t)(nl - (text + pos)) : len - pos;
		struct authkeys_entry e = {0};
		const char *err = NULL;
		_cleanup_free_ char *line = NULL;
		int r;

		lineno++;
		if (llen > AUTHKEYS_MAX_LINE) {
			berth_errors_add(errors, source, lineno,
			                 "line too long (%zu bytes, max %d)", llen,
			                 AUTHKEYS_MAX_LINE);
			bad = true;
			goto next;
		}
		if (memchr(text + pos, '\0', llen)) {
			berth_errors_add(errors, source, lineno, "NUL byte in line");
			bad = true;
			goto next;
		}
		line = xstrndup(text + pos, llen);
		if (llen && line[llen - 1] == '\r')
			line[llen - 1] = '\0';
		r = parse_key_line(line, &e, &err);
		if (r == 1)
			goto next;
		if (r < 0) {
			berth_errors_add(errors, source, lineno, "%s", err);
			bad = true;
			goto next;
		}
		if (list->n >= AUTHKEYS_MAX_ENTRIES) {
			berth_errors_add(errors, source, lineno, "too many keys (max %d)",
			                 AUTHKEYS_MAX_ENTRIES);
			entry_free(&e);
			bad = true;
			goto next;
		}
		e.source = xstrdup(source);
		e.line = lineno;
		list->entries = xreallocarray(list->entries, list->n + 1, sizeof(*list->entries));
		list->entries[list->n++] = e;
	next:
		pos += llen + (nl ? 1 : 0);
	}
	return bad ? AUTHKEYS_E_INVALID : 0;
}

int
authkeys_load_file(const char *path, struct authkeys_list *list, struct berth_errors *errors)
{
	_cleanup_free_ char *data = NULL;
	size_t len;
	int r = read_small_file(path, AUTHKEYS_MAX_FILE, true, &data, &len);
	if (r < 0)
		return r;
	return authkeys_parse(data, len, path, list, errors);
}

const struct authkeys_entry *
authkeys_find(const struct authkeys_list *list, const uint8_t *blob, size_t blob_len)
{
	for (size_t i = 0; i < list->n; i++) {
		const struct authkeys_entry *e = &list->entries[i];
		if (e->blob_len == blob_len && memcmp(e->blob, blob, blob_len) == 0)
			return e;
	}
	return NULL;
}

/* internal-sftp / .../sftp-server, optionally followed by -R. */
static int
command_allowed(const char *cmd, bool *ret_read_only)
{
	_cleanup_free_ char *copy = xstrdup(cmd);
	char *save = NULL, *word;
	bool ro = false;

	word = strtok_r(copy, " \t", &save);
	if (!word)
		return -1;
	const char *base = strrchr(word, '/');
	base = base ? base + 1 : word;
	if (strcmp(word, "internal-sftp") != 0 && strcmp(base, "sftp-server") != 0)
		return -1;
	while ((word = strtok_r(NULL, " \t", &save))) {
		if (strcmp(word, "-R") == 0)
			ro = true;
		else
			return -1;
	}
	*ret_read_only = ro;
	return 0;
}

int
authkeys_entry_permits(const struct authkeys_entry *entry, const char *client_addr, time_t now,
                       const char **ret_reason)
{
	const char *reason = NULL;

	if (entry->opts.expiry && now >= entry->opts.expiry) {
		reason = "key has expired (expiry-time)";
		goto deny;
	}
	if (entry->opts.from) {
		if (!client_addr || berth_match_addr_list(client_addr, entry->opts.from) != 1) {
			reason = "client address not permitted by from=";
			goto deny;
		}
	}
	if (entry->opts.command) {
		bool ro;
		if (command_allowed(entry->opts.command, &ro) < 0) {
			reason = "command= other than internal-sftp/sftp-server [-R]";
			goto deny;
		}
	}
	return 0;
deny:
	if (ret_reason)
		*ret_reason = reason;
	return AUTHKEYS_E_DENIED;
}

void
authkeys_fingerprint(const uint8_t *blob, size_t len, char *out, size_t outlen)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	unsigned char b64[128];

	snprintf(out, outlen, "SHA256:?");
	if (!EVP_Digest(blob, len, md, &mdlen, EVP_sha256(), NULL))
		return;
	int n = EVP_EncodeBlock(b64, md, (int)mdlen);
	while (n > 0 && b64[n - 1] == '=')
		n--;
	b64[n] = '\0';
	snprintf(out, outlen, "SHA256:%s", (char *)b64);
}

const char *
authkeys_type_label(const char *type)
{
	if (!type)
		return "UNKNOWN";
	if (strcmp(type, "ssh-ed25519") == 0)
		return "ED25519";
	if (strcmp(type, "ssh-rsa") == 0)
		return "RSA";
	if (strncmp(type, "ecdsa-sha2-", 11) == 0)
		return "ECDSA";
	if (strncmp(type, "sk-ssh-ed25519", 14) == 0)
		return "ED25519-SK";
	if (strncmp(type, "sk-ecdsa", 8) == 0)
		return "ECDSA-SK";
	return "UNKNOWN";
}

unsigned
authkeys_key_bits(const char *type, const uint8_t *blob, size_t len)
{
	if (strcmp(type, "ssh-ed25519") == 0 || strcmp(type, "sk-ssh-ed25519@openssh.com") == 0 ||
	    strcmp(type, "ecdsa-sha2-nistp256") == 0 ||
	    strcmp(type, "sk-ecdsa-sha2-nistp256@openssh.com") == 0)
		return 256;
	if (strcmp(type, "ecdsa-sha2-nistp384") == 0)
		return 384;
	if (strcmp(type, "ecdsa-sha2-nistp521") == 0)
		return 521;
	if (strcmp(type, "ssh-rsa") != 0)
		return 0;
	/* string "ssh-rsa", mpint e, mpint n */
	struct xbuf b;
	const uint8_t *p;
	size_t n;
	xbuf_view_init(&b, blob, len);
	if (xbuf_get_string_direct(&b, &p, &n) < 0 || xbuf_get_string_direct(&b, &p, &n) < 0 ||
	    xbuf_get_string_direct(&b, &p, &n) < 0)
		return 0;
	while (n && *p == 0) {
		p++;
		n--;
	}
	if (n == 0 || n > 2048)
		return 0;
	unsigned bits = (unsigned)n * 8;
	for (uint8_t top = p[0]; !(top & 0x80); top <<= 1)
		bits--;
	return bits;
}
