/* SPDX-License-Identifier: BSD-2-Clause */
/* Unit tests for the handle table: bounds, generations, types, exhaustion. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "berth/xmem.h"
#include "fxp-internal.h"

static int
lookup(struct handle_table *t, const uint8_t *h, size_t len, enum handle_type type,
       struct fxp_handle **ret)
{
	_cleanup_xbuf_ struct xbuf b = XBUF_NULL;
	xbuf_init(&b, 1024);
	assert_int_equal(xbuf_put_string(&b, h, len), 0);
	return handle_get(t, &b, type, ret, NULL);
}

static void
test_generation_prevents_reuse(void **state)
{
	struct handle_table t;
	handles_init(&t, 4);
	int dummy;
	int s = handle_new(&t, HANDLE_FILE, xstrdup("/a"), 0, &dummy);
	assert_int_equal(s, 0);
	uint8_t h1[FXP_HANDLE_LEN];
	handle_encode(&t, (uint32_t)s, h1);
	struct fxp_handle *fh;
	assert_int_equal(lookup(&t, h1, sizeof(h1), HANDLE_FILE, &fh), 0);
	assert_string_equal(fh->path, "/a");
	/* wrong type */
	assert_int_equal(lookup(&t, h1, sizeof(h1), HANDLE_DIR, &fh), 1);
	handle_release(&t, fh);
	/* closed handle is dead even after its slot is reused */
	assert_int_equal(lookup(&t, h1, sizeof(h1), HANDLE_FILE, &fh), 1);
	s = handle_new(&t, HANDLE_FILE, xstrdup("/b"), 0, &dummy);
	assert_int_equal(s, 0);
	assert_int_equal(lookup(&t, h1, sizeof(h1), HANDLE_FILE, &fh), 1);
	uint8_t h2[FXP_HANDLE_LEN];
	handle_encode(&t, (uint32_t)s, h2);
	assert_int_equal(lookup(&t, h2, sizeof(h2), HANDLE_FILE, &fh), 0);
	handle_release(&t, fh);
	free(t.slots);
}

static void
test_bounds_and_lengths(void **state)
{
	struct handle_table t;
	handles_init(&t, 2);
	int dummy;
	assert_int_equal(handle_new(&t, HANDLE_DIR, xstrdup("/x"), 0, &dummy), 0);
	assert_int_equal(handle_new(&t, HANDLE_DIR, xstrdup("/y"), 0, &dummy), 1);
	assert_int_equal(handle_new(&t, HANDLE_DIR, xstrdup("/z"), 0, &dummy), -EMFILE);
	struct fxp_handle *fh;
	/* slot == nslots must be rejected (libssh CVE-2025-5318 was an off-by-one) */
	uint8_t h[FXP_HANDLE_LEN] = {0, 0, 0, 2, 0, 0, 0, 1};
	assert_int_equal(lookup(&t, h, sizeof(h), HANDLE_UNUSED, &fh), 1);
	uint8_t big[FXP_HANDLE_LEN] = {0xff, 0xff, 0xff, 0xff, 0, 0, 0, 1};
	assert_int_equal(lookup(&t, big, sizeof(big), HANDLE_UNUSED, &fh), 1);
	/* OpenSSH-style 4-byte handles and overlong ones are invalid, not errors */
	assert_int_equal(lookup(&t, h, 4, HANDLE_UNUSED, &fh), 1);
	uint8_t longh[300] = {0};
	assert_int_equal(lookup(&t, longh, sizeof(longh), HANDLE_UNUSED, &fh), 1);
	/* a handle string cut off by the frame is a parse error */
	struct xbuf v;
	static const uint8_t cut[] = {0, 0, 0, 8, 0, 0};
	xbuf_view_init(&v, cut, sizeof(cut));
	assert_int_equal(handle_get(&t, &v, HANDLE_UNUSED, &fh, NULL), -EBADMSG);
	for (uint32_t i = 0; i < t.nslots; i++)
		if (t.slots[i].type != HANDLE_UNUSED)
			handle_release(&t, &t.slots[i]);
	assert_int_equal(t.nused, 0);
	free(t.slots);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_generation_prevents_reuse),
	        cmocka_unit_test(test_bounds_and_lengths),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
