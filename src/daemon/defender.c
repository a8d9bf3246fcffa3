/* SPDX-License-Identifier: BSD-2-Clause */
/* The defender: per-source scores, growing temporary bans, persistence. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "berth/account.h"
#include "berth/common.h"
#include "berth/defender.h"
#include "berth/file.h"
#include "berth/xmem.h"

#define STATE_MAGIC "berth-defender 1"
#define STATE_MAX   (8u << 20)

struct def_ev {
	int64_t t;
	uint32_t pts;
};

struct def_entry {
	int fam;         /* AF_INET or AF_INET6 */
	unsigned prefix; /* bits */
	uint8_t addr[16];
	int64_t until;      /* ban end (epoch s), 0 = never banned; past = ended */
	bool active;        /* a ban in force that defender_expire() has not yet seen end */
	uint32_t bans;      /* bans so far (repeat offenders get longer ones) */
	struct def_ev *evs; /* events within the observation time, oldest first */
	size_t nev;
	int64_t last; /* last event or ban */
};

struct defender {
	struct defender_config cfg;
	char *allow_from;
	struct def_entry *e;
	size_t n, cap;
};

static const char *const event_names[DEFENDER_N_EVENTS] = {
        [DEFENDER_AUTH_FAILURE] = "failed authentication",
        [DEFENDER_INVALID_USER] = "invalid user",
        [DEFENDER_NO_AUTH] = "disconnect before authentication",
        [DEFENDER_VIOLATION] = "protocol violation",
        [DEFENDER_FLOOD] = "connection flood",
};

const char *
defender_event_name(enum defender_event ev)
{
	return (unsigned)ev < DEFENDER_N_EVENTS ? event_names[ev] : "event";
}

int
defender_new(const struct defender_config *cfg, struct defender **ret)
{
	if (!cfg || cfg->threshold == 0 || cfg->v4_prefix > 32 || cfg->v6_prefix > 128 ||
	    cfg->v4_prefix == 0 || cfg->v6_prefix == 0)
		return -EINVAL;
	struct defender *d = xcalloc(1, sizeof(*d));
	d->cfg = *cfg;
	if (d->cfg.ban_factor == 0)
		d->cfg.ban_factor = 1;
	if (d->cfg.ban_time_max < d->cfg.ban_time)
		d->cfg.ban_time_max = d->cfg.ban_time;
	if (d->cfg.max_entries == 0)
		d->cfg.max_entries = 10000;
	if (cfg->allow_from && cfg->allow_from[0])
		d->allow_from = xstrdup(cfg->allow_from);
	d->cfg.allow_from = d->allow_from;
	*ret = d;
	return 0;
}

static void
entry_clear(struct def_entry *e)
{
	free(e->evs);
	e->evs = NULL;
	e->nev = 0;
}

void
defender_free(struct defender *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->n; i++)
		entry_clear(&d->e[i]);
	free(d->e);
	free(d->allow_from);
	free(d);
}

static void
mask(uint8_t *a, unsigned bits, unsigned total)
{
	for (unsigned i = 0; i < total / 8; i++) {
		unsigned keep = bits > i * 8 ? MIN(8u, bits - i * 8) : 0;
		a[i] &= (uint8_t)(0xff00u >> keep);
	}
}

/* "::ffff:a.b.c.d" is the IPv4 source a.b.c.d. */
static const char *
unmapped(const char *addr)
{
	if (strncasecmp(addr, "::ffff:", 7) == 0 && strchr(addr, '.'))
		return addr + 7;
	return addr;
}

/* Parse "ADDR" (aggregated by the configured prefix) or "ADDR/BITS". IPv4-mapped IPv6
 * addresses count as IPv4. */
static int
parse_spec(const struct defender *d, const char *spec, int *ret_fam, uint8_t *addr,
           unsigned *ret_prefix)
{
	char buf[DEFENDER_KEY_MAX];
	if (!spec || strlen(spec) >= sizeof(buf))
		return -EINVAL;
	snprintf(buf, sizeof(buf), "%s", spec);
	char *slash = strchr(buf, '/');
	long bits = -1;
	if (slash) {
		char *end;
		*slash = '\0';
		if (slash[1] < '0' || slash[1] > '9')
			return -EINVAL;
		bits = strtol(slash + 1, &end, 10);
		if (*end || bits < 1)
			return -EINVAL;
	}
	const char *a = unmapped(buf);
	int fam = strchr(a, ':') ? AF_INET6 : AF_INET;
	memset(addr, 0, 16);
	if (inet_pton(fam, a, addr) != 1)
		return -EINVAL;
	unsigned total = fam == AF_INET ? 32 : 128;
	if (bits > (long)total)
		return -EINVAL;
	unsigned prefix =
	        bits > 0 ? (unsigned)bits : (fam == AF_INET ? d->cfg.v4_prefix : d->cfg.v6_prefix);
	mask(addr, prefix, total);
	*ret_fam = fam;
	*ret_prefix = prefix;
	return 0;
}

static void
format_key(const struct def_entry *e, bool always_prefix, char *out, size_t outlen)
{
	char a[INET6_ADDRSTRLEN] = "?";
	inet_ntop(e->fam, e->addr, a, sizeof(a));
	if (!always_prefix && e->fam == AF_INET && e->prefix == 32)
		snprintf(out, outlen, "%s", a);
	else
		snprintf(out, outlen, "%s/%u", a, e->prefix);
}

int
defender_key(const struct defender *d, const char *addr, char *out, size_t outlen)
{
	struct def_entry e = {0};
	if (strchr(addr, '/'))
		return -EINVAL;
	int r = parse_spec(d, addr, &e.fam, e.addr, &e.prefix);
	if (r < 0)
		return r;
	format_key(&e, false, out, outlen);
	return 0;
}

static struct def_entry *
find_exact(struct defender *d, int fam, const uint8_t *addr, unsigned prefix)
{
	for (size_t i = 0; i < d->n; i++) {
		struct def_entry *e = &d->e[i];
		if (e->fam == fam && e->prefix == prefix && memcmp(e->addr, addr, 16) == 0)
			return e;
	}
	return NULL;
}

static bool
covers(const struct def_entry *e, int fam, const uint8_t *addr)
{
	if (e->fam != fam)
		return false;
	uint8_t m[16];
	memcpy(m, addr, 16);
	mask(m, e->prefix, fam == AF_INET ? 32 : 128);
	return memcmp(m, e->addr, 16) == 0;
}

static void
prune_events(const struct defender *d, struct def_entry *e, int64_t now)
{
	size_t k = 0;
	while (k < e->nev && e->evs[k].t + (int64_t)d->cfg.observation <= now)
		k++;
	if (k) {
		memmove(e->evs, e->evs + k, (e->nev - k) * sizeof(*e->evs));
		e->nev -= k;
	}
}

/* Can this entry be forgotten? Not while banned, scoring, or remembered as a repeat
 * offender (for DefenderBanTimeMax after its last ban ended). */
static bool
forgettable(const struct defender *d, const struct def_entry *e, int64_t now)
{
	if (e->nev)
		return false;
	if (e->until == DEFENDER_FOREVER || e->until > now)
		return false;
	return e->bans == 0 || now >= e->until + (int64_t)d->cfg.ban_time_max;
}

static void
remove_at(struct defender *d, size_t i)
{
	entry_clear(&d->e[i]);
	d->e[i] = d->e[--d->n];
}

size_t
defender_expire(struct defender *d, int64_t now)
{
	size_t ended = 0;
	for (size_t i = 0; i < d->n;) {
		struct def_entry *e = &d->e[i];
		prune_events(d, e, now);
		if (e->active && e->until != DEFENDER_FOREVER && e->until <= now) {
			e->active = false;
			ended++;
		}
		if (forgettable(d, e, now))
			remove_at(d, i);
		else
			i++;
	}
	return ended;
}

/* A new entry; makes room by forgetting the stalest unbanned source when full. */
static struct def_entry *
add_entry(struct defender *d, int fam, const uint8_t *addr, unsigned prefix, int64_t now)
{
	if (d->n >= d->cfg.max_entries) {
		defender_expire(d, now);
		size_t victim = d->n;
		for (size_t i = 0; i < d->n; i++) {
			const struct def_entry *e = &d->e[i];
			if (e->until == DEFENDER_FOREVER || e->until > now)
				continue;
			if (victim == d->n || e->last < d->e[victim].last)
				victim = i;
		}
		if (victim == d->n)
			return NULL;
		remove_at(d, victim);
	}
	if (d->n == d->cap) {
		d->cap = d->cap ? d->cap * 2 : 16;
		d->e = xreallocarray(d->e, d->cap, sizeof(*d->e));
	}
	struct def_entry *e = &d->e[d->n++];
	*e = (struct def_entry){.fam = fam, .prefix = prefix, .last = now};
	memcpy(e->addr, addr, 16);
	return e;
}

bool
defender_ban_of(struct defender *d, const char *addr, int64_t now, struct defender_ban *ret)
{
	int fam;
	unsigned prefix;
	uint8_t a[16];
	char buf[DEFENDER_KEY_MAX];
	if (strchr(addr, '/'))
		return false;
	/* The full address: entries of any prefix may cover it. */
	const char *p = unmapped(addr);
	snprintf(buf, sizeof(buf), "%s/%u", p, strchr(p, ':') ? 128u : 32u);
	if (parse_spec(d, buf, &fam, a, &prefix) < 0)
		return false;
	const struct def_entry *hit = NULL;
	for (size_t i = 0; i < d->n; i++) {
		const struct def_entry *e = &d->e[i];
		if ((e->until == DEFENDER_FOREVER || e->until > now) && covers(e, fam, a) &&
		    (!hit || e->until > hit->until))
			hit = e;
	}
	if (hit && ret) {
		*ret = (struct defender_ban){.until = hit->until, .bans = hit->bans};
		format_key(hit, false, ret->key, sizeof(ret->key));
	}
	return hit != NULL;
}

bool
defender_banned(struct defender *d, const char *addr, int64_t now, int64_t *ret_until)
{
	struct defender_ban b;
	if (!defender_ban_of(d, addr, now, &b))
		return false;
	if (ret_until)
		*ret_until = b.until;
	return true;
}

bool
defender_allowed(const struct defender *d, const char *addr)
{
	if (!d->allow_from)
		return false;
	const char *p = unmapped(addr);
	return berth_match_addr_list(p, d->allow_from) == 1;
}

static int64_t
ban_length(const struct defender *d, uint32_t nth)
{
	uint64_t len = d->cfg.ban_time;
	for (uint32_t i = 1; i < nth && len < d->cfg.ban_time_max; i++)
		len *= d->cfg.ban_factor;
	return (int64_t)MIN(len, (uint64_t)d->cfg.ban_time_max);
}

int
defender_event(struct defender *d, const char *addr, enum defender_event ev, int64_t now,
               int64_t *ret_until)
{
	int fam;
	unsigned prefix;
	uint8_t a[16];
	if ((unsigned)ev >= DEFENDER_N_EVENTS || strchr(addr, '/'))
		return -EINVAL;
	int r = parse_spec(d, addr, &fam, a, &prefix);
	if (r < 0)
		return r;
	uint32_t pts = d->cfg.score[ev];
	if (pts == 0)
		return 0;
	if (defender_allowed(d, addr))
		return 0;
	struct def_entry *e = find_exact(d, fam, a, prefix);
	if (e && (e->until == DEFENDER_FOREVER || e->until > now))
		return 0; /* already banned: its connections are refused anyway */
	if (!e && !(e = add_entry(d, fam, a, prefix, now)))
		return 0; /* table full of bans */
	prune_events(d, e, now);
	uint64_t sum = 0;
	for (size_t i = 0; i < e->nev; i++)
		sum += e->evs[i].pts;
	e->last = now;
	if (sum + pts < d->cfg.threshold) {
		/* At most threshold - 1 events of >= 1 point are ever kept. */
		e->evs = xreallocarray(e->evs, e->nev + 1, sizeof(*e->evs));
		e->evs[e->nev++] = (struct def_ev){.t = now, .pts = pts};
		return 0;
	}
	entry_clear(e);
	e->bans++;
	e->until = now + ban_length(d, e->bans);
	e->active = true;
	if (ret_until)
		*ret_until = e->until;
	return 1;
}

/* The entry of @spec (created when @create). 0, -EINVAL, -ENOENT or -ENOSPC. */
static int
spec_entry(struct defender *d, const char *spec, int64_t now, bool create, struct def_entry **ret)
{
	int fam;
	unsigned prefix;
	uint8_t a[16];
	int r = parse_spec(d, spec, &fam, a, &prefix);
	if (r < 0)
		return r;
	struct def_entry *e = find_exact(d, fam, a, prefix);
	if (!e && create && !(e = add_entry(d, fam, a, prefix, now)))
		return -ENOSPC;
	if (!e)
		return -ENOENT;
	*ret = e;
	return 0;
}

int
defender_ban_add(struct defender *d, const char *spec, uint32_t seconds, int64_t now, char *ret_key,
                 int64_t *ret_until)
{
	struct def_entry *e;
	int r = spec_entry(d, spec, now, true, &e);
	if (r < 0)
		return r;
	entry_clear(e);
	e->bans++;
	e->until = seconds ? now + (int64_t)seconds : DEFENDER_FOREVER;
	e->active = true;
	e->last = now;
	if (ret_key)
		format_key(e, false, ret_key, DEFENDER_KEY_MAX);
	if (ret_until)
		*ret_until = e->until;
	return 0;
}

int
defender_ban_remove(struct defender *d, const char *spec, int64_t now)
{
	struct def_entry *e;
	int r = spec_entry(d, spec, now, false, &e);
	if (r < 0)
		return r;
	if (!(e->until == DEFENDER_FOREVER || e->until > now))
		return -ENOENT;
	/* Lifted by hand: also forget the repeat count. */
	remove_at(d, (size_t)(e - d->e));
	return 0;
}

static int
ban_cmp(const void *pa, const void *pb)
{
	const struct defender_ban *a = pa, *b = pb;
	if (a->until != b->until)
		return a->until < b->until ? -1 : 1;
	return strcmp(a->key, b->key);
}

int
defender_bans(struct defender *d, int64_t now, struct defender_ban **ret, size_t *ret_n)
{
	struct defender_ban *v = xcalloc(d->n ? d->n : 1, sizeof(*v));
	size_t n = 0;
	for (size_t i = 0; i < d->n; i++) {
		const struct def_entry *e = &d->e[i];
		if (!(e->until == DEFENDER_FOREVER || e->until > now))
			continue;
		format_key(e, false, v[n].key, sizeof(v[n].key));
		v[n].until = e->until;
		v[n].bans = e->bans;
		n++;
	}
	qsort(v, n, sizeof(*v), ban_cmp);
	*ret = v;
	*ret_n = n;
	return 0;
}

char *
defender_state_path(const char *state_dir)
{
	return xasprintf("%s/defender", state_dir);
}

void
defender_format_until(int64_t until, char *out, size_t outlen)
{
	if (until == DEFENDER_FOREVER) {
		snprintf(out, outlen, "forever");
		return;
	}
	time_t t = (time_t)until;
	struct tm tm;
	if (!gmtime_r(&t, &tm) || strftime(out, outlen, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
		snprintf(out, outlen, "%" PRId64, until);
}

int
defender_save(struct defender *d, const char *path, int64_t now)
{
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	if (!f)
		return -errno;
	fprintf(f, "%s\n# source ban-end(epoch|forever) bans\n", STATE_MAGIC);
	for (size_t i = 0; i < d->n; i++) {
		const struct def_entry *e = &d->e[i];
		if (e->bans == 0)
			continue;
		char key[DEFENDER_KEY_MAX];
		format_key(e, true, key, sizeof(key));
		if (e->until == DEFENDER_FOREVER)
			fprintf(f, "%s forever %" PRIu32 "\n", key, e->bans);
		else
			fprintf(f, "%s %" PRId64 " %" PRIu32 "\n", key, e->until, e->bans);
	}
	(void)now;
	if (fclose(f) != 0)
		return -ENOMEM;
	return write_file_atomic(path, text, len, 0600);
}

int
defender_load(struct defender *d, const char *path, int64_t now)
{
	_cleanup_free_ char *data = NULL;
	size_t len;
	int r = read_small_file(path, STATE_MAX, true, &data, &len);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	if (strncmp(data, STATE_MAGIC "\n", strlen(STATE_MAGIC) + 1) != 0)
		return -EINVAL;
	char *save = NULL;
	for (char *line = strtok_r(data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char key[DEFENDER_KEY_MAX], until_s[32];
		unsigned bans;
		if (line[0] == '#' || sscanf(line, "%63s %31s %u", key, until_s, &bans) != 3 ||
		    bans == 0)
			continue;
		int64_t until;
		if (strcmp(until_s, "forever") == 0) {
			until = DEFENDER_FOREVER;
		} else {
			char *end;
			long long v = strtoll(until_s, &end, 10);
			if (*end || v < 0)
				continue;
			until = v;
		}
		int fam;
		unsigned prefix;
		uint8_t a[16];
		if (!strchr(key, '/') || parse_spec(d, key, &fam, a, &prefix) < 0)
			continue;
		struct def_entry *e = find_exact(d, fam, a, prefix);
		if (!e && !(e = add_entry(d, fam, a, prefix, now)))
			continue;
		e->until = until;
		e->bans = bans;
		e->active = until == DEFENDER_FOREVER || until > now;
		e->last = now;
	}
	defender_expire(d, now);
	return 0;
}
