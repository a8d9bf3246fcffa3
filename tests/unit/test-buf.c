/* SPDX-License-Identifier: BSD-2-Clause */
/* Unit tests for the bounded byte buffer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include <stdlib.h>

#include "berth/buf.h"
#include "berth/common.h"

static void
test_put_get_roundtrip(void **state)
{
	_cleanup_xbuf_ struct xbuf b = XBUF_NULL;
	xbuf_init(&b, 1024);
	assert_int_equal(xbuf_put_u8(&b, 0xab), 0);
	assert_int_equal(xbuf_put_u32(&b, 0x01020304), 0);
	assert_int_equal(xbuf_put_u64(&b, UINT64_C(0x1122334455667788)), 0);
	assert_int_equal(xbuf_put_cstring(&b, "hello"), 0);
	assert_int_equal(xbuf_len(&b), 1 + 4 + 8 + 4 + 5);
	const uint8_t *p = xbuf_ptr(&b);
	assert_int_equal(p[1], 0x01);
	assert_int_equal(p[4], 0x04);

	uint8_t v8;
	uint32_t v32;
	uint64_t v64;
	char *s;
	assert_int_equal(xbuf_get_u8(&b, &v8), 0);
	assert_int_equal(v8, 0xab);
	assert_int_equal(xbuf_get_u32(&b, &v32), 0);
	assert_int_equal(v32, 0x01020304);
	assert_int_equal(xbuf_get_u64(&b, &v64), 0);
	assert_true(v64 == UINT64_C(0x1122334455667788));
	assert_int_equal(xbuf_get_cstring(&b, &s, 100), 0);
	assert_string_equal(s, "hello");
	free(s);
	assert_int_equal(xbuf_len(&b), 0);
	assert_int_equal(xbuf_get_u8(&b, &v8), -EBADMSG);
}

static void
test_max_enforced(void **state)
{
	_cleanup_xbuf_ struct xbuf b = XBUF_NULL;
	xbuf_init(&b, 10);
	assert_int_equal(xbuf_put(&b, "0123456789", 10), 0);
	assert_int_equal(xbuf_avail(&b), 0);
	assert_int_equal(xbuf_put_u8(&b, 1), -ENOBUFS);
	assert_int_equal(xbuf_len(&b), 10);
	/* consuming frees room again */
	assert_int_equal(xbuf_consume(&b, 4), 0);
	assert_int_equal(xbuf_avail(&b), 4);
	assert_int_equal(xbuf_put(&b, "abcd", 4), 0);
	assert_memory_equal(xbuf_ptr(&b), "456789abcd", 10);
	uint8_t *p;
	assert_int_equal(xbuf_reserve(&b, 1, &p), -ENOBUFS);
	assert_int_equal(xbuf_reserve(&b, SIZE_MAX, &p), -ENOBUFS);
}

static void
test_short_reads_consume_nothing(void **state)
{
	static const uint8_t data[] = {0, 0, 0};
	struct xbuf v;
	xbuf_view_init(&v, data, sizeof(data));
	uint32_t x;
	uint64_t y;
	assert_int_equal(xbuf_get_u32(&v, &x), -EBADMSG);
	assert_int_equal(xbuf_get_u64(&v, &y), -EBADMSG);
	assert_int_equal(xbuf_len(&v), 3);
	/* views are read-only */
	assert_int_equal(xbuf_put_u8(&v, 1), -EROFS);
	assert_int_equal(xbuf_avail(&v), 0);
}

static void
test_string_bounds(void **state)
{
	/* length runs past the data */
	static const uint8_t past[] = {0, 0, 0, 5, 'a', 'b'};
	struct xbuf v;
	const uint8_t *p;
	size_t n;
	xbuf_view_init(&v, past, sizeof(past));
	assert_int_equal(xbuf_get_string_direct(&v, &p, &n), -EBADMSG);
	assert_int_equal(xbuf_len(&v), sizeof(past));

	/* a length that would wrap a 32-bit addition */
	static const uint8_t wrap[] = {0xff, 0xff, 0xff, 0xfc, 'a'};
	xbuf_view_init(&v, wrap, sizeof(wrap));
	assert_int_equal(xbuf_get_string_direct(&v, &p, &n), -EBADMSG);

	/* embedded NUL is refused for cstrings, and nothing consumed */
	static const uint8_t nul[] = {0, 0, 0, 3, 'a', 0, 'b'};
	char *s = NULL;
	xbuf_view_init(&v, nul, sizeof(nul));
	assert_int_equal(xbuf_get_cstring(&v, &s, 100), -EBADMSG);
	assert_null(s);
	assert_int_equal(xbuf_len(&v), sizeof(nul));
	assert_int_equal(xbuf_get_string_direct(&v, &p, &n), 0);
	assert_int_equal(n, 3);

	/* too long for the caller's limit */
	static const uint8_t lng[] = {0, 0, 0, 4, 'a', 'b', 'c', 'd'};
	xbuf_view_init(&v, lng, sizeof(lng));
	assert_int_equal(xbuf_get_cstring(&v, &s, 3), -ENAMETOOLONG);
	assert_int_equal(xbuf_get_cstring(&v, &s, 4), 0);
	assert_string_equal(s, "abcd");
	free(s);
}

static void
test_views_and_poke(void **state)
{
	_cleanup_xbuf_ struct xbuf b = XBUF_NULL;
	xbuf_init(&b, 64);
	assert_int_equal(xbuf_put(&b, "abcdefgh", 8), 0);
	struct xbuf child;
	assert_int_equal(xbuf_take_view(&b, 3, &child), 0);
	assert_int_equal(xbuf_len(&child), 3);
	assert_memory_equal(xbuf_ptr(&child), "abc", 3);
	assert_int_equal(xbuf_len(&b), 5);
	assert_int_equal(xbuf_take_view(&b, 6, &child), -EBADMSG);

	assert_int_equal(xbuf_poke_u32(&b, 0, 0x41424344), 0);
	assert_memory_equal(xbuf_ptr(&b), "ABCDh", 5);
	assert_int_equal(xbuf_poke_u32(&b, 2, 0), -EBADMSG);
	assert_int_equal(xbuf_poke_u32(&b, SIZE_MAX - 1, 0), -EBADMSG);
	assert_int_equal(xbuf_trim_tail(&b, 1), 0);
	assert_int_equal(xbuf_trim_tail(&b, 5), -EBADMSG);
	assert_int_equal(xbuf_len(&b), 4);
}

static void
test_growth_and_compaction(void **state)
{
	_cleanup_xbuf_ struct xbuf b = XBUF_NULL;
	xbuf_init(&b, 100000);
	uint8_t chunk[1000];
	memset(chunk, 7, sizeof(chunk));
	for (int round = 0; round < 900; round++) {
		assert_int_equal(xbuf_put(&b, chunk, sizeof(chunk)), 0);
		assert_int_equal(xbuf_consume(&b, 900), 0);
		assert_true(xbuf_len(&b) <= 100000);
	}
	assert_int_equal(xbuf_len(&b), 90000);
	for (int i = 0; i < 10; i++)
		assert_int_equal(xbuf_put(&b, chunk, sizeof(chunk)), 0);
	assert_int_equal(xbuf_len(&b), 100000);
	assert_int_equal(xbuf_put_u8(&b, 1), -ENOBUFS);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_put_get_roundtrip),
	        cmocka_unit_test(test_max_enforced),
	        cmocka_unit_test(test_short_reads_consume_nothing),
	        cmocka_unit_test(test_string_bounds),
	        cmocka_unit_test(test_views_and_poke),
	        cmocka_unit_test(test_growth_and_compaction),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
