/* SPDX-License-Identifier: BSD-2-Clause */
/* The control socket between the FTPS network child and the worker: frames, and the
 * small socket and address helpers both sides use. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "berth/common.h"
#include "ftps-internal.h"

int
ftps_msg_put(struct xbuf *q, uint8_t type, const void *payload, size_t len)
{
	size_t need;
	if (len > FTPS_MSG_MAX || !size_add(len, FTPS_MSG_HDR, &need) || xbuf_avail(q) < need)
		return -ENOBUFS;
	if (xbuf_put_u8(q, type) < 0 || xbuf_put_u32(q, (uint32_t)len) < 0 ||
	    (len && xbuf_put(q, payload, len) < 0))
		return -ENOBUFS; /* cannot happen: room was checked */
	return 0;
}

int
ftps_msg_take(struct xbuf *in, uint8_t *ret_type, struct xbuf *ret_payload)
{
	struct xbuf hdr;
	uint8_t type;
	uint32_t len;
	if (xbuf_len(in) < FTPS_MSG_HDR)
		return 1;
	xbuf_view_init(&hdr, xbuf_ptr(in), FTPS_MSG_HDR);
	(void)xbuf_get_u8(&hdr, &type);
	(void)xbuf_get_u32(&hdr, &len);
	if (type < FTPS_MSG_HELLO || type > FTPS_MSG_TICKET || len > FTPS_MSG_MAX)
		return -EBADMSG;
	if (xbuf_len(in) - FTPS_MSG_HDR < len)
		return 1;
	(void)xbuf_consume(in, FTPS_MSG_HDR);
	if (xbuf_take_view(in, len, ret_payload) < 0)
		return -EBADMSG;
	*ret_type = type;
	return 0;
}

ssize_t
ftps_read_into(int fd, struct xbuf *b, size_t max)
{
	size_t room = MIN(xbuf_avail(b), max);
	uint8_t *p;
	if (room == 0)
		return -ENOBUFS;
	if (xbuf_reserve(b, room, &p) < 0)
		return -ENOMEM;
	ssize_t n;
	do
		n = read(fd, p, room);
	while (n < 0 && errno == EINTR);
	int e = errno;
	(void)xbuf_trim_tail(b, room - (n > 0 ? (size_t)n : 0));
	if (n < 0)
		return e == EWOULDBLOCK ? -EAGAIN : -e;
	return n;
}

ssize_t
ftps_write_from(int fd, struct xbuf *b)
{
	if (xbuf_len(b) == 0)
		return 0;
	ssize_t n;
	do
		n = send(fd, xbuf_ptr(b), xbuf_len(b), MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -errno;
	(void)xbuf_consume(b, (size_t)n);
	return n;
}

uint64_t
ftps_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int
ftps_poll_timeout(uint64_t deadline)
{
	if (deadline == 0)
		return -1;
	uint64_t now = ftps_now_ms();
	if (deadline <= now)
		return 0;
	return (int)MIN(deadline - now, (uint64_t)3600 * 1000);
}

uint64_t
ftps_deadline_min(uint64_t a, uint64_t b)
{
	if (a == 0)
		return b;
	if (b == 0)
		return a;
	return MIN(a, b);
}

int
ftps_addr_parse(const char *text, struct sockaddr_storage *ret)
{
	/* A link-local address may carry its interface ("fe80::1%eth0"). */
	char buf[INET6_ADDRSTRLEN];
	size_t n = strcspn(text, "%");
	if (n >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, text, n);
	buf[n] = '\0';
	const char *scope = text[n] == '%' ? text + n + 1 : NULL;
	text = buf;
	struct sockaddr_storage s = {0};
	struct sockaddr_in *s4 = (struct sockaddr_in *)&s;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&s;
	if (inet_pton(AF_INET, text, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
	} else if (inet_pton(AF_INET6, text, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		if (scope)
			s6->sin6_scope_id = if_nametoindex(scope);
		if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
			struct in_addr a;
			memcpy(&a, &s6->sin6_addr.s6_addr[12], 4);
			s = (struct sockaddr_storage){0};
			s4->sin_family = AF_INET;
			s4->sin_addr = a;
		}
	} else {
		return -EINVAL;
	}
	*ret = s;
	return 0;
}

/* The IPv4 address inside @a when it is IPv4 or v4-mapped IPv6. */
static bool
as_ipv4(const struct sockaddr_storage *a, struct in_addr *ret)
{
	if (a->ss_family == AF_INET) {
		*ret = ((const struct sockaddr_in *)a)->sin_addr;
		return true;
	}
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)a;
	if (a->ss_family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
		memcpy(ret, &s6->sin6_addr.s6_addr[12], 4);
		return true;
	}
	return false;
}

bool
ftps_addr_same_host(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	struct in_addr a4, b4;
	bool av4 = as_ipv4(a, &a4), bv4 = as_ipv4(b, &b4);
	if (av4 || bv4)
		return av4 && bv4 && a4.s_addr == b4.s_addr;
	if (a->ss_family != AF_INET6 || b->ss_family != AF_INET6)
		return false;
	return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
	              &((const struct sockaddr_in6 *)b)->sin6_addr, 16) == 0;
}

void
ftps_addr_text(const struct sockaddr_storage *a, char *out, size_t outlen)
{
	struct in_addr a4;
	if (as_ipv4(a, &a4)) {
		if (!inet_ntop(AF_INET, &a4, out, (socklen_t)outlen))
			snprintf(out, outlen, "?");
		return;
	}
	if (a->ss_family != AF_INET6 ||
	    !inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)a)->sin6_addr, out,
	               (socklen_t)outlen))
		snprintf(out, outlen, "?");
}

int
ftps_set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	return 0;
}
