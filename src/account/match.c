/* SPDX-License-Identifier: BSD-2-Clause */
/* Wildcard and address pattern lists (AllowUsers, from=): numeric only, never DNS. */
#include <arpa/inet.h>
#include <string.h>

#include "berth/account.h"
#include "berth/common.h"
#include "berth/xmem.h"

bool
berth_match_pattern(const char *s, const char *pattern)
{
	const char *star = NULL, *resume = NULL;

	/* Greedy match with one backtrack point: O(len(s) * len(pattern)) at worst,
	 * never exponential (CVE-2011-0762 class). */
	while (*s) {
		if (*pattern == '*') {
			star = pattern++;
			resume = s;
		} else if (*pattern == '?' || *pattern == *s) {
			pattern++;
			s++;
		} else if (star) {
			pattern = star + 1;
			s = ++resume;
		} else {
			return false;
		}
	}
	while (*pattern == '*')
		pattern++;
	return *pattern == '\0';
}

struct addr {
	int family;
	uint8_t bytes[16];
};

static int
addr_parse(const char *text, struct addr *ret)
{
	if (inet_pton(AF_INET, text, ret->bytes) == 1) {
		ret->family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, text, ret->bytes) == 1) {
		static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

		ret->family = AF_INET6;
		/* ::ffff:a.b.c.d is the IPv4 client of a dual-stack socket. */
		if (memcmp(ret->bytes, mapped, 12) == 0) {
			memmove(ret->bytes, ret->bytes + 12, 4);
			ret->family = AF_INET;
		}
		return 0;
	}
	return -EINVAL;
}

/* 1 match, 0 no match, -EINVAL malformed. */
static int
cidr_match(const struct addr *a, const char *entry, size_t len)
{
	_cleanup_free_ char *copy = xstrndup(entry, len);
	char *slash = strchr(copy, '/');
	struct addr net;
	unsigned long bits;
	char *end;
	unsigned maxbits;

	*slash = '\0';
	if (addr_parse(copy, &net) < 0)
		return -EINVAL;
	maxbits = net.family == AF_INET ? 32 : 128;
	if (!slash[1] || slash[1] < '0' || slash[1] > '9')
		return -EINVAL;
	bits = strtoul(slash + 1, &end, 10);
	if (*end || bits > maxbits)
		return -EINVAL;
	/* Host bits set in the network address are a configuration mistake (OpenSSH too). */
	for (unsigned i = (unsigned)bits; i < maxbits; i++)
		if (net.bytes[i / 8] & (0x80 >> (i % 8)))
			return -EINVAL;
	if (!a || a->family != net.family)
		return 0;
	for (unsigned i = 0; i < bits; i++) {
		uint8_t m = (uint8_t)(0x80 >> (i % 8));
		if ((a->bytes[i / 8] & m) != (net.bytes[i / 8] & m))
			return 0;
	}
	return 1;
}

int
berth_match_addr_list(const char *addr, const char *list)
{
	struct addr a;
	bool have_addr = addr && addr_parse(addr, &a) == 0;
	_cleanup_free_ char *canon = NULL;
	int result = 0;

	/* Compare the canonical text form, so "::ffff:10.0.0.1" matches "10.0.0.*". */
	if (have_addr) {
		char buf[INET6_ADDRSTRLEN];

		if (inet_ntop(a.family, a.bytes, buf, sizeof(buf)))
			canon = xstrdup(buf);
	}
	if (!canon)
		canon = xstrdup(addr ? addr : "");

	for (const char *p = list; *p;) {
		size_t len = strcspn(p, ",");
		bool neg = false;
		const char *e = p;
		size_t elen = len;
		int m;

		if (elen && *e == '!') {
			neg = true;
			e++;
			elen--;
		}
		if (elen == 0) {
			m = 0;
		} else if (memchr(e, '/', elen)) {
			m = cidr_match(have_addr ? &a : NULL, e, elen);
			if (m < 0)
				return m;
		} else {
			_cleanup_free_ char *pat = xstrndup(e, elen);
			m = berth_match_pattern(canon, pat) ? 1 : 0;
		}
		if (m == 1 && neg)
			return -1;
		if (m == 1)
			result = 1;
		p += len;
		if (*p == ',')
			p++;
	}
	return result;
}
