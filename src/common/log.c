/* SPDX-License-Identifier: BSD-2-Clause */
/* The only place that formats log lines. */
#include <stdarg.h>
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

void
log_vmsg(enum log_level l, const char *fmt, va_list ap)
{
	if (!log_enabled(l))
		return;
	char line[2048];
	int saved = errno;
	vsnprintf(line, sizeof(line), fmt, ap);
	/* Control characters from client-supplied names must not forge log lines. */
	for (char *p = line; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
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
