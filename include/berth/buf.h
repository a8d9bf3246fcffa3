/* SPDX-License-Identifier: BSD-2-Clause */
/* The one bounded byte buffer for all wire data (sshbuf-shaped).
 *
 * A buffer holds the unread bytes [off, end) of a storage area and never grows past
 * its max. Getters are bounds-checked and return -EBADMSG on short data; putters return
 * -ENOBUFS when the max would be exceeded. Every size computation is overflow-checked
 * inside buf.c; callers never do pointer arithmetic on buffer memory.
 *
 * Fields are named priv_* on purpose: only buf.c touches them.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct xbuf {
	uint8_t *priv_data;
	size_t priv_off;   /* first unread byte */
	size_t priv_end;   /* one past the last byte */
	size_t priv_alloc; /* size of priv_data, 0 for a view */
	size_t priv_max;   /* hard cap on priv_end - priv_off (owned buffers) */
	bool priv_view;    /* read-only window onto foreign memory */
};

/* clang-format off */
#define XBUF_NULL {0}
/* clang-format on */

/* Owned, growable buffer that refuses to hold more than @max bytes. */
void xbuf_init(struct xbuf *b, size_t max);
/* Frees storage, wiping it first (buffers may hold secrets). Safe on XBUF_NULL. */
void xbuf_deinit(struct xbuf *b);
void xbuf_deinitp(struct xbuf *b);
#define _cleanup_xbuf_ __attribute__((cleanup(xbuf_deinitp)))

/* Read-only view over @len bytes at @data. The memory must outlive the view. */
void xbuf_view_init(struct xbuf *b, const void *data, size_t len);

/* Number of unread bytes. */
size_t xbuf_len(const struct xbuf *b);
/* Pointer to the unread bytes; valid until the next mutation. Caller does not free. */
const uint8_t *xbuf_ptr(const struct xbuf *b);
/* How many more bytes can be appended before max is hit (0 for views). */
size_t xbuf_avail(const struct xbuf *b);
/* Drop all contents (keeps the storage). */
void xbuf_reset(struct xbuf *b);

/* Consume @n unread bytes from the front. -EBADMSG if fewer are present. */
int xbuf_consume(struct xbuf *b, size_t n);
/* Detach the next @n bytes into a read-only child view and consume them from @b.
 * The child is valid until @b is next mutated. */
int xbuf_take_view(struct xbuf *b, size_t n, struct xbuf *ret_child);

/* Read-only child view of @n unread bytes starting @off bytes in, consuming nothing
 * (the caller consumes once done). Valid until @b is next mutated. -EBADMSG if short. */
int xbuf_peek_view(const struct xbuf *b, size_t off, size_t n, struct xbuf *ret_child);

/* Typed big-endian getters: 0, or -EBADMSG on short data (nothing consumed then). */
int xbuf_get_u8(struct xbuf *b, uint8_t *ret);
int xbuf_get_u32(struct xbuf *b, uint32_t *ret);
int xbuf_get_u64(struct xbuf *b, uint64_t *ret);
/* Peek a u32 at the front without consuming. */
int xbuf_peek_u32(const struct xbuf *b, uint32_t *ret);
/* SSH string as (pointer, length) into the buffer: valid until the next mutation;
 * caller does not free. -EBADMSG if the length runs past the data. */
int xbuf_get_string_direct(struct xbuf *b, const uint8_t **ret_ptr, size_t *ret_len);
/* SSH string copied into a NUL-terminated heap string that the caller frees.
 * Rejects embedded NUL bytes (-EBADMSG) and strings longer than @maxlen (-ENAMETOOLONG). */
int xbuf_get_cstring(struct xbuf *b, char **ret, size_t maxlen);

/* Append. -ENOBUFS if max would be exceeded (nothing appended then). */
int xbuf_put(struct xbuf *b, const void *data, size_t len);
int xbuf_put_u8(struct xbuf *b, uint8_t v);
int xbuf_put_u32(struct xbuf *b, uint32_t v);
int xbuf_put_u64(struct xbuf *b, uint64_t v);
int xbuf_put_string(struct xbuf *b, const void *data, size_t len);
int xbuf_put_cstring(struct xbuf *b, const char *s);
int xbuf_putf(struct xbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Append @n bytes of uninitialised space and return a pointer to it (valid until the
 * next mutation), e.g. for read(2)/pread(2) straight into the buffer. Shrink afterwards
 * with xbuf_trim_tail() if fewer bytes were filled. */
int xbuf_reserve(struct xbuf *b, size_t n, uint8_t **ret_ptr);
/* Remove @n bytes from the end. -EBADMSG if fewer are present. */
int xbuf_trim_tail(struct xbuf *b, size_t n);
/* Overwrite a u32 at @pos bytes from the start of the unread data (for length
 * prefixes written after the body). -EBADMSG if out of range. */
int xbuf_poke_u32(struct xbuf *b, size_t pos, uint32_t v);

/* A big-endian u32 in a fixed-size message (no buffer: the caller owns the 4 bytes). */
static inline void
put_u32_be(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static inline uint32_t
get_u32_be(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
