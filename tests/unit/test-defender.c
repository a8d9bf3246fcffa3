/* SPDX-License-Identifier: BSD-2-Clause */
/* Unit tests for the defender: scoring, observation window, aggregation, growth. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "berth/common.h"
#include "berth/defender.h"

static const struct defender_config base = {
        .threshold = 5,
        .score = {[DEFENDER_AUTH_FAILURE] = 1,
                  [DEFENDER_INVALID_USER] = 2,
                  [DEFENDER_NO_AUTH] = 1,
                  [DEFENDER_VIOLATION] = 5,
                  [DEFENDER_FLOOD] = 3},
        .observation = 60,
        .ban_time = 100,
        .ban_factor = 3,
        .ban_time_max = 500,
        .v4_prefix = 32,
        .v6_prefix = 64,
        .max_entries = 100,
};

static struct defender *
mk(const struct defender_config *c)
{
	struct defender *d = NULL;
	assert_int_equal(defender_new(c, &d), 0);
	return d;
}

static void
test_threshold(void **state)
{
	(void)state;
	struct defender *d = mk(&base);
	int64_t now = 1000, until = 0;
	for (int i = 0; i < 4; i++)
		assert_int_equal(defender_event(d, "192.0.2.1", DEFENDER_AUTH_FAILURE, now, &until),
		                 0);
	assert_false(defender_banned(d, "192.0.2.1", now, NULL));
	assert_int_equal(defender_event(d, "192.0.2.1", DEFENDER_AUTH_FAILURE, now, &until), 1);
	assert_true(until == now + 100);
	assert_true(defender_banned(d, "192.0.2.1", now + 99, &until));
	assert_true(until == now + 100);
	/* Another source is unaffected; the ban lifts after its time. */
	assert_false(defender_banned(d, "192.0.2.2", now, NULL));
	assert_false(defender_banned(d, "192.0.2.1", now + 100, NULL));
	assert_int_equal(defender_expire(d, now + 100), 1);
	/* A v4-mapped address is the same source. */
	assert_int_equal(defender_event(d, "::ffff:192.0.2.9", DEFENDER_VIOLATION, now, &until), 1);
	assert_true(defender_banned(d, "192.0.2.9", now, NULL));
	defender_free(d);
}

static void
test_observation_window(void **state)
{
	(void)state;
	struct defender *d = mk(&base);
	int64_t t = 5000;
	/* Four points, then the first ones age out before the fifth. */
	for (int i = 0; i < 4; i++)
		assert_int_equal(
		        defender_event(d, "198.51.100.1", DEFENDER_AUTH_FAILURE, t + i, NULL), 0);
	assert_int_equal(defender_event(d, "198.51.100.1", DEFENDER_AUTH_FAILURE, t + 61, NULL), 0);
	/* Invalid users weigh 2: 2 + 2 + (the aged-out) ... + 1 reaches 5. */
	assert_int_equal(defender_event(d, "198.51.100.1", DEFENDER_INVALID_USER, t + 62, NULL), 0);
	assert_int_equal(defender_event(d, "198.51.100.1", DEFENDER_INVALID_USER, t + 63, NULL), 1);
	defender_free(d);
}

static void
test_ipv6_aggregation(void **state)
{
	(void)state;
	struct defender *d = mk(&base);
	char key[DEFENDER_KEY_MAX];
	assert_int_equal(defender_key(d, "2001:db8:1:2:aaaa::1", key, sizeof(key)), 0);
	assert_string_equal(key, "2001:db8:1:2::/64");
	assert_int_equal(defender_key(d, "192.0.2.77", key, sizeof(key)), 0);
	assert_string_equal(key, "192.0.2.77");
	int64_t now = 100;
	/* Five different addresses of one /64 add up. */
	for (int i = 1; i <= 4; i++) {
		char a[64];
		snprintf(a, sizeof(a), "2001:db8:1:2::%x", i * 0x1111);
		assert_int_equal(defender_event(d, a, DEFENDER_AUTH_FAILURE, now, NULL), 0);
	}
	assert_int_equal(
	        defender_event(d, "2001:db8:1:2:ffff::9", DEFENDER_AUTH_FAILURE, now, NULL), 1);
	assert_true(defender_banned(d, "2001:db8:1:2:1234::5", now, NULL));
	assert_false(defender_banned(d, "2001:db8:1:3::1", now, NULL));
	defender_free(d);

	/* A configurable prefix: /48 aggregates more. */
	struct defender_config c = base;
	c.v6_prefix = 48;
	d = mk(&c);
	assert_int_equal(defender_key(d, "2001:db8:1:2::1", key, sizeof(key)), 0);
	assert_string_equal(key, "2001:db8:1::/48");
	assert_int_equal(defender_event(d, "2001:db8:1:7::1", DEFENDER_VIOLATION, now, NULL), 1);
	assert_true(defender_banned(d, "2001:db8:1:ffff::1", now, NULL));
	defender_free(d);
}

static void
test_growth(void **state)
{
	(void)state;
	struct defender *d = mk(&base);
	int64_t now = 10000, until = 0;
	int64_t expect[] = {100, 300, 500, 500};
	for (size_t n = 0; n < ARRAY_SIZE(expect); n++) {
		assert_int_equal(defender_event(d, "203.0.113.5", DEFENDER_VIOLATION, now, &until),
		                 1);
		assert_true(until - now == expect[n]);
		now = until; /* the ban ended; the repeat count is remembered */
		assert_false(defender_banned(d, "203.0.113.5", now, NULL));
	}
	/* Forgotten after DefenderBanTimeMax without a ban: back to the first length. */
	now += 500;
	defender_expire(d, now);
	assert_int_equal(defender_event(d, "203.0.113.5", DEFENDER_VIOLATION, now, &until), 1);
	assert_true(until - now == 100);
	defender_free(d);
}

static void
test_allow_list(void **state)
{
	(void)state;
	struct defender_config c = base;
	c.allow_from = "10.0.0.0/8,2001:db8:aaaa::/48";
	struct defender *d = mk(&c);
	for (int i = 0; i < 20; i++) {
		assert_int_equal(defender_event(d, "10.1.2.3", DEFENDER_VIOLATION, 1, NULL), 0);
		assert_int_equal(
		        defender_event(d, "2001:db8:aaaa:1::1", DEFENDER_VIOLATION, 1, NULL), 0);
	}
	assert_false(defender_banned(d, "10.1.2.3", 1, NULL));
	assert_int_equal(defender_event(d, "11.1.2.3", DEFENDER_VIOLATION, 1, NULL), 1);
	defender_free(d);
}

static void
test_manual_and_persist(void **state)
{
	(void)state;
	struct defender *d = mk(&base);
	char key[DEFENDER_KEY_MAX];
	int64_t until;
	assert_int_equal(defender_ban_add(d, "192.0.2.0/24", 0, 50, key, &until), 0);
	assert_string_equal(key, "192.0.2.0/24");
	assert_true(until == DEFENDER_FOREVER);
	assert_int_equal(defender_ban_add(d, "2001:db8::7", 30, 50, key, &until), 0);
	assert_string_equal(key, "2001:db8::/64");
	assert_true(defender_banned(d, "192.0.2.200", 1000000, NULL));
	assert_true(defender_banned(d, "2001:db8::1", 60, NULL));
	assert_int_equal(defender_ban_add(d, "not-an-address", 0, 50, key, &until), -EINVAL);
	assert_int_equal(defender_ban_add(d, "192.0.2.1/33", 0, 50, key, &until), -EINVAL);
	assert_int_equal(defender_event(d, "198.51.100.3", DEFENDER_VIOLATION, 50, NULL), 1);

	char dir[] = "/tmp/test-defender.XXXXXX";
	assert_non_null(mkdtemp(dir));
	char *path = defender_state_path(dir);
	assert_int_equal(defender_save(d, path, 50), 0);
	defender_free(d);

	d = mk(&base);
	assert_int_equal(defender_load(d, path, 60), 0);
	assert_true(defender_banned(d, "192.0.2.5", 60, &until));
	assert_true(until == DEFENDER_FOREVER);
	assert_true(defender_banned(d, "2001:db8::99", 60, NULL));
	assert_true(defender_banned(d, "198.51.100.3", 60, &until));
	assert_true(until == 150);
	struct defender_ban *bans;
	size_t n;
	assert_int_equal(defender_bans(d, 60, &bans, &n), 0);
	assert_int_equal(n, 3);
	assert_string_equal(bans[0].key, "2001:db8::/64");
	assert_string_equal(bans[2].key, "192.0.2.0/24");
	free(bans);
	assert_int_equal(defender_ban_remove(d, "192.0.2.0/24", 60), 0);
	assert_int_equal(defender_ban_remove(d, "192.0.2.0/24", 60), -ENOENT);
	assert_false(defender_banned(d, "192.0.2.5", 60, NULL));
	/* The repeat count survived the restart: the next ban is longer. */
	int64_t u2;
	assert_int_equal(defender_event(d, "198.51.100.3", DEFENDER_VIOLATION, 200, &u2), 1);
	assert_true(u2 == 500);
	defender_free(d);
	unlink(path);
	free(path);
	rmdir(dir);
}

static void
test_table_bound(void **state)
{
	(void)state;
	struct defender_config c = base;
	c.max_entries = 4;
	struct defender *d = mk(&c);
	for (int i = 0; i < 50; i++) {
		char a[32];
		snprintf(a, sizeof(a), "192.0.2.%d", i);
		assert_int_equal(defender_event(d, a, DEFENDER_AUTH_FAILURE, 10 + i, NULL), 0);
	}
	/* Bans are never evicted; with the table full of them new sources are not scored. */
	for (int i = 0; i < 4; i++) {
		char a[32];
		snprintf(a, sizeof(a), "198.51.100.%d", i);
		assert_int_equal(defender_event(d, a, DEFENDER_VIOLATION, 100, NULL), 1);
	}
	assert_int_equal(defender_event(d, "203.0.113.1", DEFENDER_VIOLATION, 100, NULL), 0);
	for (int i = 0; i < 4; i++) {
		char a[32];
		snprintf(a, sizeof(a), "198.51.100.%d", i);
		assert_true(defender_banned(d, a, 100, NULL));
	}
	defender_free(d);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_threshold),        cmocka_unit_test(test_observation_window),
	        cmocka_unit_test(test_ipv6_aggregation), cmocka_unit_test(test_growth),
	        cmocka_unit_test(test_allow_list),       cmocka_unit_test(test_manual_and_persist),
	        cmocka_unit_test(test_table_bound),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
