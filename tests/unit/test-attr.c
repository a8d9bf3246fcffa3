/* SPDX-License-Identifier: BSD-2-Clause */
/* Unit tests for ATTRS encoding/decoding. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "fxp-internal.h"

static void
test_roundtrip(void **state)
{
	_cleanup_xbuf_ struct xbuf b = XBUF_NULL;
	xbuf_init(&b, 1024);
	struct vfs_attr in = {.valid = VFS_ATTR_SIZE | VFS_ATTR_UIDGID | VFS_ATTR_PERM |
	                               VFS_ATTR_TIMES,
	                      .size = UINT64_C(1) << 40,
	                      .uid = 1000,
	                      .gid = 100,
	                      .mode = 0100644,
	                      .atime = 1700000000,
	                      .mtime = 1700000001};
	assert_int_equal(attr_encode(&b, &in), 0);
	assert_int_equal(xbuf_len(&b), 4 + 8 + 8 + 4 + 8);
	struct vfs_attr out;
	assert_int_equal(attr_decode(&b, &out), 0);
	assert_int_equal(out.valid, in.valid);
	assert_true(out.size == in.size);
	assert_int_equal(out.uid, 1000);
	assert_int_equal(out.gid, 100);
	assert_int_equal(out.mode, 0100644);
	assert_int_equal(out.atime, 1700000000);
	assert_int_equal(out.mtime, 1700000001);
	assert_int_equal(xbuf_len(&b), 0);
}

static void
test_empty_and_partial(void **state)
{
	_cleanup_xbuf_ struct xbuf b = XBUF_NULL;
	xbuf_init(&b, 1024);
	struct vfs_attr none = {0};
	assert_int_equal(attr_encode(&b, &none), 0);
	assert_int_equal(xbuf_len(&b), 4);
	struct vfs_attr out;
	assert_int_equal(attr_decode(&b, &out), 0);
	assert_int_equal(out.valid, 0);

	/* flags promise a size that is not there */
	static const uint8_t trunc[] = {0, 0, 0, 1, 0, 0, 0};
	struct xbuf v;
	xbuf_view_init(&v, trunc, sizeof(trunc));
	assert_int_equal(attr_decode(&v, &out), -EBADMSG);
}

static void
test_extended_pairs(void **state)
{
	_cleanup_xbuf_ struct xbuf b = XBUF_NULL;
	xbuf_init(&b, 1 << 20);
	assert_int_equal(xbuf_put_u32(&b, FXP_ATTR_EXTENDED | FXP_ATTR_PERMISSIONS), 0);
	assert_int_equal(xbuf_put_u32(&b, 0755), 0);
	assert_int_equal(xbuf_put_u32(&b, 2), 0);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(xbuf_put_cstring(&b, "type@example.com"), 0);
		assert_int_equal(xbuf_put_cstring(&b, "data"), 0);
	}
	struct vfs_attr out;
	assert_int_equal(attr_decode(&b, &out), 0);
	assert_int_equal(out.mode, 0755);
	assert_int_equal(xbuf_len(&b), 0);

	/* a hostile count is refused before any loop runs long */
	xbuf_reset(&b);
	assert_int_equal(xbuf_put_u32(&b, FXP_ATTR_EXTENDED), 0);
	assert_int_equal(xbuf_put_u32(&b, 0xffffffff), 0);
	assert_int_equal(attr_decode(&b, &out), -EBADMSG);

	/* a pair cut short */
	xbuf_reset(&b);
	assert_int_equal(xbuf_put_u32(&b, FXP_ATTR_EXTENDED), 0);
	assert_int_equal(xbuf_put_u32(&b, 1), 0);
	assert_int_equal(xbuf_put_cstring(&b, "only-type"), 0);
	assert_int_equal(attr_decode(&b, &out), -EBADMSG);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_roundtrip),
	        cmocka_unit_test(test_empty_and_partial),
	        cmocka_unit_test(test_extended_pairs),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
