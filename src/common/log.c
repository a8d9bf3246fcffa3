/* SPDX-License-Identifier: BSD-2-Clause */
/* The only place that formats log lines. */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>

#include "berth/common.h"
#include "berth/log.h"

static struct {
	char ident[64];
	enum log_level level;
	enum log_sink sink;
	int facility;
	bool opened;
} log_state = {
        .ident = "berth",
        .level = LOG_LEVEL_ERROR,
        .sink = LOG_SINK_STDERR,
        .facility = LOG_AUTH,
};

static const struct {
	const char *name;
	enum log_level level;
} level_names[] = {
        {"QUIET", LOG_LEVEL_QUIET},   {"FATAL", LOG_LEVEL_FATAL},     {"ERROR", LOG_LEVEL_ERROR},
        {"INFO", LOG_LEVEL_INFO},     {"VERBOSE", LOG_LEVEL_VERBOSE}, {"DEBUG", LOG_LEVEL_DEBUG1},
        {"DEBUG1", LOG_LEVEL_DEBUG1}, {"DEBUG2", LOG_LEVEL_DEBUG2},   {"DEBUG3", LOG_LEVEL_DEBUG3},
};

static const struct {
	const char *name;
	int facility;
} facility_names[] = {
        {"DAEMON", LOG_DAEMON},     {"USER", LOG_USER},     {"AUTH", LOG_AUTH},
        {"AUTHPRIV", LOG_AUTHPRIV}, {"LOCAL0", LOG_LOCAL0}, {"LOCAL1", LOG_LOCAL1},
        {"LOCAL2", LOG_LOCAL2},     {"LOCAL3", LOG_LOCAL3}, {"LOCAL4", LOG_LOCAL4},
        {"LOCAL5", LOG_LOCAL5},     {"LOCAL6", LOG_LOCAL6}, {"LOCAL7", LOG_LOCAL7},
};

int
log_level_from_name(const char *name, enum log_level *ret)
{
	for (size_t i = 0; i < ARRAY_SIZE(level_names); i++) {
		if (strcasecmp(name, level_names[i].name) == 0) {
			*ret = level_names[i].level;
			return 0;
		}
	}
	return -EINVAL;
}

const char *
log_level_name(enum log_level l)
{
	for (size_t i = 0; i < ARRAY_SIZE(level_names); i++)
		if (level_names[i].level == l)
			return level_names[i].name;
	return "UNKNOWN";
}

int
log_facility_from_name(const char *name, int *ret)
{
	for (size_t i = 0; i < ARRAY_SIZE(facility_names); i++) {
		if (strcasecmp(name, facility_names[i].name) == 0) {
			*ret = facility_names[i].facility;
			return 0;
		}
	}
	return -EINVAL;
}

void
log_init(const char *ident, enum log_level level, enum log_sink sink, int facility)
{
	log_set_ident(ident);
	log_state.level = level;
	log_state.sink = sink;
	log_state.facility = facility;
	if (log_state.opened) {
		closelog();
		log_state.opened = false;
	}
}

void
log_set_ident(const char *ident)
{
	snprintf(log_state.ident, sizeof(log_state.ident), "%s", ident);
	if (log_state.opened) {
		closelog();
		log_state.opened = false;
	}
}

enum log_level
log_get_level(void)
{
	return log_state.level;
}

bool
log_enabled(enum log_level l)
{
	return l <= log_state.level && l != LOG_LEVEL_QUIET;
}

static int
syslog_priority(enum log_level l)
{
	switch (l) {
	case LOG_LEVEL_FATAL:
		return LOG_CRIT;
	case LOG_LEVEL_ERROR:
		return LOG_ERR;
	case LOG_LEVEL_INFO:
	case LOG_LEVEL_VERBOSE:
		return LOG_INFO;
	default:
		return LOG_DEBUG;
	}
}

size_t
log_utf8_decode(const unsigned char *p, size_t len, uint32_t *ret_cp)
{
	if (len == 0)
		return 0;
	unsigned char c = p[0];
	if (c < 0x80) {
		*ret_cp = c;
		return 1;
	}
	size_t n;
	uint32_t cp, min;
	if (c >= 0xc2 && c <= 0xdf) {
		n = 2, cp = c & 0x1f, min = 0x80;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3, cp = c & 0x0f, min = 0x800;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4, cp = c & 0x07, min = 0x10000;
	} else {
		return 0; /* continuation byte, overlong lead (c0, c1) or beyond U+10FFFF */
	}
	if (len < n)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0; /* overlong, out of range, or a surrogate */
	*ret_cp = cp;
	return n;
}

bool
log_is_control(uint32_t cp)
{
	return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || cp == 0x2028 || cp == 0x2029;
}

size_t
log_escape(char *out, size_t cap, const char *in, size_t len, unsigned flags)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)in;
	size_t need = 0, used = 0;
	bool full = cap == 0;
	for (size_t i = 0; i < len;) {
		char tmp[4];
		const char *piece = tmp;
		size_t plen, adv;
		uint32_t cp = 0;
		size_t ok = log_utf8_decode(p + i, len - i, &cp);
		if (log_is_control(cp))
			ok = 0;
		if (p[i] == '\\') {
			piece = "\\\\", plen = 2, adv = 1;
		} else if (p[i] == ' ' && (flags & LOG_ESC_SPACE)) {
			piece = "_", plen = 1, adv = 1;
		} else if (ok) {
			piece = (const char *)p + i, plen = ok, adv = ok;
		} else {
			tmp[0] = '\\', tmp[1] = 'x', tmp[2] = hex[p[i] >> 4],
			tmp[3] = hex[p[i] & 15];
			plen = 4, adv = 1;
		}
		need += plen;
		if (!full && used + plen < cap) {
			memcpy(out + used, piece, plen);
			used += plen;
		} else {
			full = true; /* never half an escape or half a character */
		}
		i += adv;
	}
	if (cap)
		out[used] = '\0';
	return need;
}

void
log_vmsg(enum log_level l, const char *fmt, va_list ap)
{
	if (!log_enabled(l))
		return;
	char raw[2048], line[4096];
	int saved = errno;
	int n = vsnprintf(raw, sizeof(raw), fmt, ap);
	/* Client-supplied names, paths and versions must not forge log lines: the one
	 * escaping path for every line (the constant text of formats is plain ASCII). */
	log_escape(line, sizeof(line), raw, n < 0 ? 0 : MIN((size_t)n, sizeof(raw) - 1), 0);
	if (log_state.sink == LOG_SINK_STDERR) {
		fprintf(stderr, "%s: %s\n", log_state.ident, line);
	} else {
		if (!log_state.opened) {
			openlog(log_state.ident, LOG_PID | LOG_NDELAY, log_state.facility);
			log_state.opened = true;
		}
		syslog(syslog_priority(l), "%s", line);
	}
	errno = saved;
}

void
log_msg(enum log_level l, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_vmsg(l, fmt, ap);
	va_end(ap);
}

void
log_callback(void *userdata, int level, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_vmsg((enum log_level)level, fmt, ap);
	va_end(ap);
}

void
log_to_callback(log_callback_fn cb, void *userdata, int level, const char *fmt, va_list ap)
{
	if (!cb)
		return;
	char line[1024];
	vsnprintf(line, sizeof(line), fmt, ap);
	cb(userdata, level, "%s", line);
}

void
log_fatal(int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_vmsg(LOG_LEVEL_FATAL, fmt, ap);
	va_end(ap);
	exit(code);
}
