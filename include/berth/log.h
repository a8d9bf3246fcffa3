/* SPDX-License-Identifier: BSD-2-Clause */
/* Logging for the program layers (drop-in main, daemon, workers).
 *
 * Levels and names follow OpenSSH's LogLevel so admins keep their habits:
 * QUIET FATAL ERROR INFO VERBOSE DEBUG1 DEBUG2 DEBUG3. Sinks: syslog (default),
 * or stderr. Library modules (buf, vfs, fxp, conf, account) do not call these;
 * the engine reports through a callback that the program wires here.
 */
#pragma once

#include <stdarg.h>
#include <stdbool.h>

enum log_level {
	LOG_LEVEL_QUIET = 0,
	LOG_LEVEL_FATAL,
	LOG_LEVEL_ERROR,
	LOG_LEVEL_INFO,
	LOG_LEVEL_VERBOSE,
	LOG_LEVEL_DEBUG1,
	LOG_LEVEL_DEBUG2,
	LOG_LEVEL_DEBUG3,
};

enum log_sink {
	LOG_SINK_SYSLOG,
	LOG_SINK_STDERR,
};

/* Parse "INFO", "DEBUG" (= DEBUG1) ...; -EINVAL if unknown. */
int log_level_from_name(const char *name, enum log_level *ret);
/* Parse "AUTH", "DAEMON", "USER", "LOCAL0".."LOCAL7"; returns the syslog facility. */
int log_facility_from_name(const char *name, int *ret);
const char *log_level_name(enum log_level l);

void log_init(const char *ident, enum log_level level, enum log_sink sink, int facility);
/* Change the ident (e.g. "berthd[net]") keeping the other settings. */
void log_set_ident(const char *ident);
enum log_level log_get_level(void);
bool log_enabled(enum log_level l);

void log_msg(enum log_level l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void log_vmsg(enum log_level l, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/* Adapter with the signature of a library log callback (e.g. the SFTP engine's
 * fxp_engine_config.log): @level is an enum log_level, @userdata is ignored. */
void log_callback(void *userdata, int level, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
/* For library modules that report through a log callback (engines, the policy layer):
 * format the line and hand it to @cb (if set) as one "%s" argument. Does not log itself. */
typedef void (*log_callback_fn)(void *userdata, int level, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
void log_to_callback(log_callback_fn cb, void *userdata, int level, const char *fmt, va_list ap)
        __attribute__((format(printf, 4, 0)));
/* Log at FATAL and exit(@code). */
void log_fatal(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));

#define log_error(...)   log_msg(LOG_LEVEL_ERROR, __VA_ARGS__)
#define log_info(...)    log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_verbose(...) log_msg(LOG_LEVEL_VERBOSE, __VA_ARGS__)
#define log_debug(...)   log_msg(LOG_LEVEL_DEBUG1, __VA_ARGS__)
#define log_debug2(...)  log_msg(LOG_LEVEL_DEBUG2, __VA_ARGS__)
#define log_debug3(...)  log_msg(LOG_LEVEL_DEBUG3, __VA_ARGS__)
