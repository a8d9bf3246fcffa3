/* SPDX-License-Identifier: BSD-2-Clause */
/* The FTPS control socket's framing (network child <-> worker) and address helpers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <arpa/inet.h>
#include <cmocka.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "berth/buf.h"
#include "ftps-internal.h"

static void
test_frames_round_trip(void **state)
{
	(void)state;
	struct xbuf q = XBUF_NULL;
	xbuf_init(&q, FTPS_CTL_QUEUE);
	assert_int_equal(ftps_msg_put(&q, FTPS_MSG_DATA, "USER demo\r\n", 11), 0);
	assert_int_equal(ftps_msg_put(&q, FTPS_MSG_CCC, NULL, 0), 0);
	assert_int_equal(ftps_msg_put(&q, FTPS_MSG_TICKET, NULL, 0), 0);
	uint8_t type;
	struct xbuf p;
	assert_int_equal(ftps_msg_take(&q, &type, &p), 0);
	assert_int_equal(type, FTPS_MSG_DATA);
	assert_int_equal(xbuf_len(&p), 11);
	assert_memory_equal(xbuf_ptr(&p), "USER demo\r\n", 11);
	assert_int_equal(ftps_msg_take(&q, &type, &p), 0);
	assert_int_equal(type, FTPS_MSG_CCC);
	assert_int_equal(xbuf_len(&p), 0);
	assert_int_equal(ftps_msg_take(&q, &type, &p), 0);
	assert_int_equal(type, FTPS_MSG_TICKET);
	assert_int_equal(ftps_msg_take(&q, &type, &p), 1); /* empty */
	xbuf_deinit(&q);
}

static void
test_frames_partial_and_bad(void **state)
{
	(void)state;
	struct xbuf q = XBUF_NULL;
	xbuf_init(&q, FTPS_CTL_QUEUE);
	uint8_t type;
	struct xbuf p;
	/* A frame arriving a byte at a time is complete only with its last byte. */
	static const uint8_t frame[] = {FTPS_MSG_DATA, 0, 0, 0, 3, 'a', 'b', 'c'};
	for (size_t i = 0; i < sizeof(frame); i++) {
		assert_int_equal(ftps_msg_take(&q, &type, &p), 1);
		assert_int_equal(xbuf_put(&q, frame + i, 1), 0);
	}
	assert_int_equal(ftps_msg_take(&q, &type, &p), 0);
	assert_memory_equal(xbuf_ptr(&p), "abc", 3);
	/* Unknown types and oversized lengths are refused before any payload is read. */
	static const uint8_t unknown[] = {99, 0, 0, 0, 0};
	assert_int_equal(xbuf_put(&q, unknown, sizeof(unknown)), 0);
	assert_int_equal(ftps_msg_take(&q, &type, &p), -EBADMSG);
	xbuf_reset(&q);
	static const uint8_t huge[] = {FTPS_MSG_DATA, 0xff, 0xff, 0xff, 0xff};
	assert_int_equal(xbuf_put(&q, huge, sizeof(huge)), 0);
	assert_int_equal(ftps_msg_take(&q, &type, &p), -EBADMSG);
	xbuf_reset(&q);
	static const uint8_t zero[] = {0, 0, 0, 0, 0};
	assert_int_equal(xbuf_put(&q, zero, sizeof(zero)), 0);
	assert_int_equal(ftps_msg_take(&q, &type, &p), -EBADMSG);
	xbuf_deinit(&q);
	/* A queue without room refuses the whole frame. */
	xbuf_init(&q, 16);
	assert_int_equal(ftps_msg_put(&q, FTPS_MSG_DATA, "0123456789abcdef", 16), -ENOBUFS);
	assert_int_equal(xbuf_len(&q), 0);
	assert_int_equal(ftps_msg_put(&q, FTPS_MSG_DATA, "0123456789", 10), 0);
	xbuf_deinit(&q);
}

static void
test_addresses(void **state)
{
	(void)state;
	struct sockaddr_storage a, b;
	char text[64];
	assert_int_equal(ftps_addr_parse("127.0.0.1", &a), 0);
	assert_int_equal(a.ss_family, AF_INET);
	assert_int_equal(ftps_addr_parse("::ffff:127.0.0.1", &b), 0);
	assert_int_equal(b.ss_family, AF_INET); /* v4-mapped becomes IPv4 */
	assert_true(ftps_addr_same_host(&a, &b));
	assert_int_equal(ftps_addr_parse("127.0.0.2", &b), 0);
	assert_false(ftps_addr_same_host(&a, &b));
	assert_int_equal(ftps_addr_parse("::1", &b), 0);
	assert_false(ftps_addr_same_host(&a, &b));
	ftps_addr_text(&b, text, sizeof(text));
	assert_string_equal(text, "::1");
	/* Ports do not matter. */
	((struct sockaddr_in *)&a)->sin_port = htons(1234);
	assert_int_equal(ftps_addr_parse("127.0.0.1", &b), 0);
	assert_true(ftps_addr_same_host(&a, &b));
	assert_int_equal(ftps_addr_parse("localhost", &b), -EINVAL);
	assert_int_equal(ftps_addr_parse("fe80::1%lo", &b), 0); /* link-local, scope kept */
	assert_int_equal(b.ss_family, AF_INET6);
	assert_int_equal(((struct sockaddr_in6 *)&b)->sin6_scope_id, if_nametoindex("lo"));
	assert_int_equal(ftps_addr_parse("1.2.3.4.5", &b), -EINVAL);
}

static void
test_socket_helpers(void **state)
{
	(void)state;
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(ftps_set_nonblock(sv[0]), 0);
	struct xbuf in = XBUF_NULL, out = XBUF_NULL;
	xbuf_init(&in, 64);
	xbuf_init(&out, 64);
	assert_int_equal(ftps_read_into(sv[0], &in, 16), -EAGAIN);
	assert_int_equal(xbuf_put(&out, "hello", 5), 0);
	assert_int_equal(ftps_write_from(sv[1], &out), 5);
	assert_int_equal(xbuf_len(&out), 0);
	assert_int_equal(ftps_read_into(sv[0], &in, 3), 3); /* at most @max */
	assert_int_equal(ftps_read_into(sv[0], &in, 16), 2);
	assert_memory_equal(xbuf_ptr(&in), "hello", 5);
	close(sv[1]);
	assert_int_equal(ftps_read_into(sv[0], &in, 16), 0); /* EOF */
	close(sv[0]);
	xbuf_deinit(&in);
	xbuf_deinit(&out);
	assert_int_equal(ftps_deadline_min(0, 5), 5);
	assert_int_equal(ftps_deadline_min(7, 5), 5);
	assert_int_equal(ftps_poll_timeout(0), -1);
	assert_int_equal(ftps_poll_timeout(1), 0); /* long past */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_frames_round_trip),
	        cmocka_unit_test(test_frames_partial_and_bad),
	        cmocka_unit_test(test_addresses),
	        cmocka_unit_test(test_socket_helpers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
