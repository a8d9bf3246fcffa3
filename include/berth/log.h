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
#include <stddef.h>
#include <stdint.h>

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
/* Escaping of client-supplied text (user names, paths, versions, FTP arguments...):
 * the one function every log line and transfer-log field goes through, so such text
 * stays on one line and cannot forge another. Printable ASCII and valid UTF-8 pass;
 * C0 controls (CR, LF, TAB...), DEL, C1 controls (U+0080..U+009F), the Unicode line
 * and paragraph separators (U+2028, U+2029) and every byte of an invalid or overlong
 * UTF-8 sequence become \xNN (lower-case hex), and a backslash becomes \\ so the
 * result reads back unambiguously. LOG_ESC_SPACE also writes a space as '_' (the
 * xferlog file name field, as ProFTPD does). @out always gets a NUL; an escape is never
 * cut in half. Returns the length the whole result needs (without the NUL), like
 * snprintf: the output was truncated when that is >= @cap. */
enum {
	LOG_ESC_SPACE = 0x1,
};
size_t log_escape(char *out, size_t cap, const char *in, size_t len, unsigned flags);
/* Length of the valid UTF-8 sequence at @p (at most @len bytes; 1 for any ASCII byte)
 * with its code point in *ret_cp, or 0 when the byte at @p starts no valid sequence
 * (stray continuation byte, overlong form, surrogate, beyond U+10FFFF, cut short). */
size_t log_utf8_decode(const unsigned char *p, size_t len, uint32_t *ret_cp);
/* True for code points log_escape() escapes although valid: C0, DEL, C1, U+2028/9. */
bool log_is_control(uint32_t cp);
/* Log at FATAL and exit(@code). */
void log_fatal(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));

#define log_error(...)   log_msg(LOG_LEVEL_ERROR, __VA_ARGS__)
#define log_info(...)    log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_verbose(...) log_msg(LOG_LEVEL_VERBOSE, __VA_ARGS__)
#define log_debug(...)   log_msg(LOG_LEVEL_DEBUG1, __VA_ARGS__)
#define log_debug2(...)  log_msg(LOG_LEVEL_DEBUG2, __VA_ARGS__)
#define log_debug3(...)  log_msg(LOG_LEVEL_DEBUG3, __VA_ARGS__)
