/* SPDX-License-Identifier: BSD-2-Clause */
/* The defender: per-source scores of bad behaviour and temporary bans (berthd master).
 *
 * Pure bookkeeping with an injected clock (every call takes @now), so it is unit
 * tested without waiting. The master feeds it events (from the per-connection
 * monitors, never from network bytes), asks it right after accept() whether a source
 * is banned, and persists the bans in StateDirectory/defender (atomic replace).
 * Sources are aggregated: IPv4 per DefenderIPv4Prefix (32 = per address), IPv6 per
 * DefenderIPv6Prefix (64). berthctl reads the same file (explain, ban list).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

/* What a source did (each has its own score in berthd.conf). */
enum defender_event {
	DEFENDER_AUTH_FAILURE = 0, /* a failed authentication attempt of a known user */
	DEFENDER_INVALID_USER,     /* an attempt with an unknown user name */
	DEFENDER_NO_AUTH,          /* connection closed before login (pre-auth disconnect) */
	DEFENDER_VIOLATION,        /* protocol violation seen by the monitor */
	DEFENDER_FLOOD,            /* connection refused by a per-source limit */
	DEFENDER_N_EVENTS,
};

/* A ban without an end (berthctl ban add ... forever). */
#define DEFENDER_FOREVER ((int64_t)INT64_MAX)
/* Longest text of a source key: "ffff:...:ffff/128". */
#define DEFENDER_KEY_MAX 64

struct defender_config {
	uint32_t threshold;                /* score that starts a ban (>= 1) */
	uint32_t score[DEFENDER_N_EVENTS]; /* points per event (0 = not counted) */
	uint32_t observation;              /* seconds an event counts */
	uint32_t ban_time;                 /* first ban, seconds */
	uint32_t ban_factor;               /* each further ban: previous * factor (>= 1) */
	uint32_t ban_time_max;             /* cap, seconds */
	const char *allow_from;            /* never banned (berth_match_addr_list), or NULL */
	uint32_t v4_prefix, v6_prefix;     /* aggregation prefixes */
	size_t max_entries;                /* bound on remembered sources */
};

/* One banned source, as listed. */
struct defender_ban {
	char key[DEFENDER_KEY_MAX]; /* "192.0.2.7" or "2001:db8:1:2::/64" */
	int64_t until;              /* epoch seconds, or DEFENDER_FOREVER */
	uint32_t bans;              /* how many times it was banned */
	uint32_t score;             /* current score (0 for manual or loaded bans) */
};

struct defender;

/* A defender with a copy of @cfg (allow_from is copied). 0 or -EINVAL. */
int defender_new(const struct defender_config *cfg, struct defender **ret);
void defender_free(struct defender *d);

/* The aggregated key of numeric address @addr ("::ffff:a.b.c.d" counts as IPv4), e.g.
 * "2001:db8:1:2::/64"; an IPv4 address at /32 is printed without a prefix.
 * 0 or -EINVAL. */
int defender_key(const struct defender *d, const char *addr, char *out, size_t outlen);

/* Is @addr banned at @now? True with *ret_until (may be NULL) set. */
bool defender_banned(struct defender *d, const char *addr, int64_t now, int64_t *ret_until);
/* The same, with the ban that covers @addr (the longest one) in *ret (may be NULL). */
bool defender_ban_of(struct defender *d, const char *addr, int64_t now, struct defender_ban *ret);
/* Is @addr on the allow list (never banned by score)? */
bool defender_allowed(const struct defender *d, const char *addr);

/* Record @ev from @addr. Returns 1 when this event started a ban (*ret_until set),
 * 0 when not (allow-listed, score below the threshold, already banned), -EINVAL for a
 * non-numeric address. */
int defender_event(struct defender *d, const char *addr, enum defender_event ev, int64_t now,
                   int64_t *ret_until);

/* Ban @spec ("ADDR" aggregated like an event, or "ADDR/PREFIX" exactly) for @seconds
 * (0 = forever). Allow-listed sources may be banned by hand. 0 with *ret_key (may be
 * NULL, DEFENDER_KEY_MAX bytes) and *ret_until set, or -EINVAL, -ENOSPC. */
int defender_ban_add(struct defender *d, const char *spec, uint32_t seconds, int64_t now,
                     char *ret_key, int64_t *ret_until);
/* Lift the ban (and forget the score) of @spec, written as for defender_ban_add() or as
 * listed. 0, -ENOENT when it is not banned, -EINVAL. */
int defender_ban_remove(struct defender *d, const char *spec, int64_t now);

/* The bans in force at @now, newest end last. Caller frees *ret. */
int defender_bans(struct defender *d, int64_t now, struct defender_ban **ret, size_t *ret_n);

/* Forget what expired (scores past the observation time, repeat counts long after
 * their last ban). Returns the number of bans that ended since the last call. */
size_t defender_expire(struct defender *d, int64_t now);

/* Persistence: the bans in force and the repeat counts, one line per source.
 * defender_save() writes @path.tmp, fsyncs and renames it over @path (mode 0600).
 * defender_load() adds what @path holds (a missing file is empty); lines it does not
 * understand are skipped. 0 or -errno. */
int defender_save(struct defender *d, const char *path, int64_t now);
int defender_load(struct defender *d, const char *path, int64_t now);

/* The state file in @state_dir: heap string "STATE_DIR/defender". */
char *defender_state_path(const char *state_dir);

/* "2026-12-01 20:15:03 UTC" or "forever". */
void defender_format_until(int64_t until, char *out, size_t outlen);

/* The event's name for logs ("failed authentication", ...). */
const char *defender_event_name(enum defender_event ev);
