/* SPDX-License-Identifier: BSD-2-Clause */
/* Bounded byte buffer: the only code that does arithmetic on wire-data memory. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "berth/buf.h"
#include "berth/common.h"
#include "berth/xmem.h"

/* Corrupted internals mean memory corruption elsewhere: stop at once. */
static inline void
check_sanity(const struct xbuf *b)
{
	if (_unlikely_(b->priv_off > b->priv_end ||
	               (!b->priv_view && b->priv_end > b->priv_alloc) ||
	               (b->priv_end > 0 && !b->priv_data)))
		abort();
}

void
xbuf_init(struct xbuf *b, size_t max)
{
	*b = (struct xbuf){.priv_max = max};
}

void
xbuf_deinit(struct xbuf *b)
{
	if (!b->priv_view && b->priv_data)
		freezero(b->priv_data, b->priv_alloc);
	*b = (struct xbuf){0};
}

void
xbuf_deinitp(struct xbuf *b)
{
	xbuf_deinit(b);
}

void
xbuf_view_init(struct xbuf *b, const void *data, size_t len)
{
	*b = (struct xbuf){
	        .priv_data = (uint8_t *)data,
	        .priv_end = len,
	        .priv_max = len,
	        .priv_view = true,
	};
}

size_t
xbuf_len(const struct xbuf *b)
{
	check_sanity(b);
	return b->priv_end - b->priv_off;
}

const uint8_t *
xbuf_ptr(const struct xbuf *b)
{
	check_sanity(b);
	return b->priv_data ? b->priv_data + b->priv_off : (const uint8_t *)"";
}

size_t
xbuf_avail(const struct xbuf *b)
{
	check_sanity(b);
	if (b->priv_view)
		return 0;
	size_t used = b->priv_end - b->priv_off;
	return used >= b->priv_max ? 0 : b->priv_max - used;
}

void
xbuf_reset(struct xbuf *b)
{
	check_sanity(b);
	if (b->priv_view)
		b->priv_off = b->priv_end;
	else
		b->priv_off = b->priv_end = 0;
}

int
xbuf_consume(struct xbuf *b, size_t n)
{
	if (n > xbuf_len(b))
		return -EBADMSG;
	b->priv_off += n;
	if (!b->priv_view && b->priv_off == b->priv_end)
		b->priv_off = b->priv_end = 0;
	return 0;
}

int
xbuf_take_view(struct xbuf *b, size_t n, struct xbuf *ret_child)
{
	if (n > xbuf_len(b))
		return -EBADMSG;
	/* Build the child before consuming: consume may rewind an owned buffer. */
	xbuf_view_init(ret_child, b->priv_data + b->priv_off, n);
	b->priv_off += n;
	return 0;
}

int
xbuf_peek_view(const struct xbuf *b, size_t off, size_t n, struct xbuf *ret_child)
{
	size_t end;
	if (!size_add(off, n, &end) || end > xbuf_len(b))
		return -EBADMSG;
	xbuf_view_init(ret_child, b->priv_data + b->priv_off + off, n);
	return 0;
}

int
xbuf_peek_u32(const struct xbuf *b, uint32_t *ret)
{
	if (xbuf_len(b) < 4)
		return -EBADMSG;
	const uint8_t *p = b->priv_data + b->priv_off;
	*ret = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
	return 0;
}

int
xbuf_get_u8(struct xbuf *b, uint8_t *ret)
{
	if (xbuf_len(b) < 1)
		return -EBADMSG;
	*ret = b->priv_data[b->priv_off++];
	return 0;
}

int
xbuf_get_u32(struct xbuf *b, uint32_t *ret)
{
	int r = xbuf_peek_u32(b, ret);
	if (r < 0)
		return r;
	b->priv_off += 4;
	return 0;
}

int
xbuf_get_u64(struct xbuf *b, uint64_t *ret)
{
	if (xbuf_len(b) < 8)
		return -EBADMSG;
	const uint8_t *p = b->priv_data + b->priv_off;
	uint64_t v = 0;
	for (size_t i = 0; i < 8; i++)
		v = v << 8 | p[i];
	*ret = v;
	b->priv_off += 8;
	return 0;
}

int
xbuf_get_string_direct(struct xbuf *b, const uint8_t **ret_ptr, size_t *ret_len)
{
	uint32_t n;
	int r = xbuf_peek_u32(b, &n);
	if (r < 0)
		return r;
	/* n is at most 2^32-1 and len-4 cannot underflow after the peek. */
	if ((size_t)n > xbuf_len(b) - 4)
		return -EBADMSG;
	b->priv_off += 4;
	*ret_ptr = b->priv_data + b->priv_off;
	*ret_len = n;
	b->priv_off += n;
	return 0;
}

int
xbuf_get_cstring(struct xbuf *b, char **ret, size_t maxlen)
{
	const uint8_t *p;
	size_t n;
	size_t save = b->priv_off;
	int r = xbuf_get_string_direct(b, &p, &n);
	if (r < 0)
		return r;
	if (n > maxlen) {
		b->priv_off = save;
		return -ENAMETOOLONG;
	}
	if (n > 0 && memchr(p, '\0', n)) {
		b->priv_off = save;
		return -EBADMSG;
	}
	char *s = xmalloc(n + 1);
	memcpy(s, p, n);
	s[n] = '\0';
	*ret = s;
	return 0;
}

/* Make room for @n more bytes at the end: compact, then grow geometrically up to max. */
static int
make_room(struct xbuf *b, size_t n)
{
	check_sanity(b);
	if (b->priv_view)
		return -EROFS;
	size_t used = b->priv_end - b->priv_off, need;
	if (!size_add(used, n, &need) || need > b->priv_max)
		return -ENOBUFS;
	if (b->priv_alloc - b->priv_end >= n)
		return 0;
	if (b->priv_off > 0 && (b->priv_off >= used || b->priv_alloc >= need)) {
		memmove(b->priv_data, b->priv_data + b->priv_off, used);
		b->priv_off = 0;
		b->priv_end = used;
		if (b->priv_alloc - b->priv_end >= n)
			return 0;
	}
	size_t target = b->priv_alloc < 4096 ? 4096 : b->priv_alloc;
	while (target < b->priv_end + n) {
		if (!size_mul(target, 2, &target))
			return -ENOBUFS;
	}
	size_t cap;
	if (!size_add(b->priv_max, b->priv_off, &cap))
		cap = SIZE_MAX;
	if (target > cap)
		target = cap;
	b->priv_data = xreallocarray(b->priv_data, 1, target);
	b->priv_alloc = target;
	return 0;
}

int
xbuf_reserve(struct xbuf *b, size_t n, uint8_t **ret_ptr)
{
	int r = make_room(b, n);
	if (r < 0)
		return r;
	*ret_ptr = b->priv_data + b->priv_end;
	b->priv_end += n;
	return 0;
}

int
xbuf_trim_tail(struct xbuf *b, size_t n)
{
	if (n > xbuf_len(b))
		return -EBADMSG;
	b->priv_end -= n;
	return 0;
}

int
xbuf_put(struct xbuf *b, const void *data, size_t len)
{
	uint8_t *p;
	int r = xbuf_reserve(b, len, &p);
	if (r < 0)
		return r;
	if (len)
		memcpy(p, data, len);
	return 0;
}

int
xbuf_put_u8(struct xbuf *b, uint8_t v)
{
	return xbuf_put(b, &v, 1);
}

int
xbuf_put_u32(struct xbuf *b, uint32_t v)
{
	uint8_t p[4] = {v >> 24, v >> 16, v >> 8, v};
	return xbuf_put(b, p, 4);
}

int
xbuf_put_u64(struct xbuf *b, uint64_t v)
{
	uint8_t p[8];
	for (size_t i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (56 - 8 * i));
	return xbuf_put(b, p, 8);
}

int
xbuf_put_string(struct xbuf *b, const void *data, size_t len)
{
	if (len > UINT32_MAX)
		return -ENOBUFS;
	size_t total;
	if (!size_add(len, 4, &total) || total > xbuf_avail(b))
		return -ENOBUFS;
	int r = xbuf_put_u32(b, (uint32_t)len);
	if (r < 0)
		return r;
	return xbuf_put(b, data, len);
}

int
xbuf_put_cstring(struct xbuf *b, const char *s)
{
	return xbuf_put_string(b, s, strlen(s));
}

int
xbuf_putf(struct xbuf *b, const char *fmt, ...)
{
	va_list ap;
	char *s;
	va_start(ap, fmt);
	int n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -ENOMEM;
	int r = xbuf_put(b, s, (size_t)n);
	free(s);
	return r;
}

int
xbuf_poke_u32(struct xbuf *b, size_t pos, uint32_t v)
{
	size_t end;
	if (b->priv_view || !size_add(pos, 4, &end) || end > xbuf_len(b))
		return -EBADMSG;
	uint8_t *p = b->priv_data + b->priv_off + pos;
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
	return 0;
}
