/* SPDX-License-Identifier: BSD-2-Clause */
/* Unit tests for the authorized_keys parser, options and address pattern lists. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "berth/account.h"
#include "berth/authkeys.h"
#include "berth/conf.h"
#include "berth/xmem.h"

static char *
b64(const uint8_t *in, size_t len)
{
	static const char tbl[] =
	        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char *out = xmalloc((len + 2) / 3 * 4 + 1), *o = out;

	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16;
		if (i + 1 < len)
			v |= (uint32_t)in[i + 1] << 8;
		if (i + 2 < len)
			v |= in[i + 2];
		*o++ = tbl[(v >> 18) & 63];
		*o++ = tbl[(v >> 12) & 63];
		*o++ = i + 1 < len ? tbl[(v >> 6) & 63] : '=';
		*o++ = i + 2 < len ? tbl[v & 63] : '=';
	}
	*o = '\0';
	return out;
}

/* A syntactically valid ssh-ed25519 public key blob with key bytes all = @fill. */
static size_t
ed25519_blob(uint8_t fill, uint8_t *out)
{
	static const char t[] = "ssh-ed25519";
	size_t n = 0;

	out[n++] = 0, out[n++] = 0, out[n++] = 0, out[n++] = 11;
	memcpy(out + n, t, 11);
	n += 11;
	out[n++] = 0, out[n++] = 0, out[n++] = 0, out[n++] = 32;
	memset(out + n, fill, 32);
	return n + 32;
}

static char *
key_text(uint8_t fill)
{
	uint8_t blob[64];
	size_t n = ed25519_blob(fill, blob);
	char *b = b64(blob, n);
	char *s = xasprintf("ssh-ed25519 %s", b);
	free(b);
	return s;
}

static void
test_parse_options(void **state)
{
	char *k1 = key_text(1), *k2 = key_text(2), *k3 = key_text(3);
	char *text = xasprintf(
	        "# comment line\n"
	        "\n"
	        "%s alice@laptop\n"
	        "restrict,from=\"10.0.0.0/8,!10.1.2.3\",expiry-time=\"20300101\" %s backup key\n"
	        "command=\"internal-sftp -R\",no-pty,environment=\"A=B\",permitopen=\"h:1\" %s\n",
	        k1, k2, k3);
	struct authkeys_list l = AUTHKEYS_LIST_NULL;
	struct berth_errors e = BERTH_ERRORS_NULL;

	assert_int_equal(authkeys_parse(text, strlen(text), "ak", &l, &e), 0);
	assert_int_equal(e.n, 0);
	assert_int_equal(l.n, 3);
	assert_string_equal(l.entries[0].type, "ssh-ed25519");
	assert_int_equal(l.entries[0].blob_len, 51);
	assert_string_equal(l.entries[0].comment, "alice@laptop");
	assert_int_equal(l.entries[0].line, 3);
	assert_false(l.entries[0].opts.restrict_);
	assert_true(l.entries[1].opts.restrict_);
	assert_true(l.entries[1].opts.no_pty && l.entries[1].opts.no_port_forwarding &&
	            l.entries[1].opts.no_agent_forwarding && l.entries[1].opts.no_x11_forwarding &&
	            l.entries[1].opts.no_user_rc);
	assert_string_equal(l.entries[1].opts.from, "10.0.0.0/8,!10.1.2.3");
	assert_string_equal(l.entries[1].comment, "backup key");
	assert_string_equal(l.entries[2].opts.command, "internal-sftp -R");
	assert_true(l.entries[2].opts.read_only);
	assert_true(l.entries[2].opts.ignored_environment);
	assert_true(l.entries[2].opts.ignored_permit);

	/* Matching by decoded blob. */
	uint8_t blob[64];
	size_t n = ed25519_blob(2, blob);
	assert_ptr_equal(authkeys_find(&l, blob, n), &l.entries[1]);
	blob[n - 1] ^= 1;
	assert_null(authkeys_find(&l, blob, n));

	/* from= and expiry-time=. */
	const char *why = NULL;
	time_t before = 1700000000, after = 1900000000; /* 2023, 2030-03 */
	assert_int_equal(authkeys_entry_permits(&l.entries[1], "10.9.9.9", before, &why), 0);
	assert_int_equal(authkeys_entry_permits(&l.entries[1], "::ffff:10.9.9.9", before, &why), 0);
	assert_int_equal(authkeys_entry_permits(&l.entries[1], "10.1.2.3", before, &why),
	                 AUTHKEYS_E_DENIED);
	assert_non_null(strstr(why, "from="));
	assert_int_equal(authkeys_entry_permits(&l.entries[1], "192.0.2.1", before, &why),
	                 AUTHKEYS_E_DENIED);
	assert_int_equal(authkeys_entry_permits(&l.entries[1], NULL, before, &why),
	                 AUTHKEYS_E_DENIED);
	assert_int_equal(authkeys_entry_permits(&l.entries[1], "10.9.9.9", after, &why),
	                 AUTHKEYS_E_DENIED);
	assert_non_null(strstr(why, "expired"));
	assert_int_equal(authkeys_entry_permits(&l.entries[0], NULL, after, &why), 0);
	assert_int_equal(authkeys_entry_permits(&l.entries[2], "192.0.2.1", after, &why), 0);

	authkeys_list_free(&l);
	free(text);
	free(k1);
	free(k2);
	free(k3);
}

static void
test_commands(void **state)
{
	char *k = key_text(7);
	const char *cmds[] = {"internal-sftp", "/usr/lib/openssh/sftp-server", "/bin/sh",
	                      "internal-sftp -d /x", "rsync --server"};
	const int want[] = {0, 0, AUTHKEYS_E_DENIED, AUTHKEYS_E_DENIED, AUTHKEYS_E_DENIED};

	for (size_t i = 0; i < 5; i++) {
		char *line = xasprintf("command=\"%s\" %s", cmds[i], k);
		struct authkeys_list l = AUTHKEYS_LIST_NULL;
		assert_int_equal(authkeys_parse(line, strlen(line), "c", &l, NULL), 0);
		assert_int_equal(l.n, 1);
		assert_int_equal(authkeys_entry_permits(&l.entries[0], "127.0.0.1", 0, NULL),
		                 want[i]);
		authkeys_list_free(&l);
		free(line);
	}
	free(k);
}

static void
test_hostile_lines(void **state)
{
	char *k = key_text(9);
	size_t big = AUTHKEYS_MAX_LINE + 10;
	char *longline = xmalloc(big + 1);
	memset(longline, 'x', big);
	longline[big] = '\0';
	char *text = xasprintf("%s good1\n"                              /* 1 */
	                       "ssh-ed25519 AAAA$$$$\n"                  /* 2 bad base64 */
	                       "from=\"10.0.0.1 %s\n"                    /* 3 unterminated quote */
	                       "cert-authority %s\n"                     /* 4 unsupported */
	                       "ssh-dss AAAAB3NzaC1kc3M=\n"              /* 5 */
	                       "ssh-rsa %s\n"                            /* 6 type mismatch */
	                       "bogus-option %s\n"                       /* 7 */
	                       "%s\n"                                    /* 8 too long */
	                       "from=\"10.0.0.0/33\" %s\n"               /* 9 bad CIDR */
	                       "expiry-time=\"20240230\" %s\n"           /* 10 no Feb 30 */
	                       "principals=\"x\" %s\n"                   /* 11 */
	                       "ssh-ed25519-cert-v01@openssh.com AAAA\n" /* 12 */
	                       "no-pty, %s\n"                            /* 13 garbage */
	                       "%s good2\n",                             /* 14 */
	                       k, k, k, k + 12, k, longline, k, k, k, k, k);
	size_t len = strlen(text);
	/* Line 15: a NUL byte in the middle, then a good line 16. */
	char *full = xmalloc(len + 200);
	memcpy(full, text, len);
	memcpy(full + len, "ssh-ed25519 AA\0AA\n", 18);
	size_t flen = len + 18;
	char *tail = xasprintf("%s good3\n", k);
	memcpy(full + flen, tail, strlen(tail));
	flen += strlen(tail);

	struct authkeys_list l = AUTHKEYS_LIST_NULL;
	struct berth_errors e = BERTH_ERRORS_NULL;
	assert_int_equal(authkeys_parse(full, flen, "hostile", &l, &e), AUTHKEYS_E_INVALID);
	assert_int_equal(l.n, 3);
	assert_string_equal(l.entries[0].comment, "good1");
	assert_string_equal(l.entries[1].comment, "good2");
	assert_int_equal(l.entries[1].line, 14);
	assert_string_equal(l.entries[2].comment, "good3");
	assert_int_equal(l.entries[2].line, 16);
	assert_int_equal(e.n, 13);
	assert_true(berth_errors_find(&e, "hostile:2: invalid base64"));
	assert_true(berth_errors_find(&e, "hostile:3: unterminated"));
	assert_true(berth_errors_find(&e, "hostile:4: cert-authority"));
	assert_true(berth_errors_find(&e, "hostile:5: ssh-dss"));
	assert_true(berth_errors_find(&e, "hostile:6: key data does not match"));
	assert_true(berth_errors_find(&e, "hostile:7: unknown option"));
	assert_true(berth_errors_find(&e, "hostile:8: line too long"));
	assert_true(berth_errors_find(&e, "hostile:9: invalid CIDR"));
	assert_true(berth_errors_find(&e, "hostile:10: invalid expiry-time"));
	assert_true(berth_errors_find(&e, "hostile:11: principals"));
	assert_true(berth_errors_find(&e, "hostile:12: certificate"));
	assert_true(berth_errors_find(&e, "hostile:13:"));
	assert_true(berth_errors_find(&e, "hostile:15: NUL byte"));
	authkeys_list_free(&l);
	berth_errors_free(&e);
	free(full);
	free(tail);
	free(text);
	free(longline);
	free(k);
}

static void
test_base64_and_expiry(void **state)
{
	uint8_t *out;
	size_t n;
	time_t t;

	assert_int_equal(authkeys_base64_decode("aGVsbG8=", 8, &out, &n), 0);
	assert_int_equal(n, 5);
	assert_memory_equal(out, "hello", 5);
	free(out);
	assert_int_equal(authkeys_base64_decode("aGVsbG8", 7, &out, &n), 0);
	free(out);
	assert_int_equal(authkeys_base64_decode("aGVsbG9=", 8, &out, &n),
	                 -EINVAL); /* non-canonical */
	assert_int_equal(authkeys_base64_decode("a", 1, &out, &n), -EINVAL);
	assert_int_equal(authkeys_base64_decode("a=bc", 4, &out, &n), -EINVAL);
	assert_int_equal(authkeys_parse_expiry("20300101", &t), 0);
	assert_int_equal(t, 1893456000);
	assert_int_equal(authkeys_parse_expiry("203001011230", &t), 0);
	assert_int_equal(t, 1893456000 + 12 * 3600 + 30 * 60);
	assert_int_equal(authkeys_parse_expiry("20300101123059", &t), 0);
	assert_int_equal(authkeys_parse_expiry("2030010112", &t), -EINVAL);
	assert_int_equal(authkeys_parse_expiry("20301301", &t), -EINVAL);
}

static void
test_match_lists(void **state)
{
	assert_true(berth_match_pattern("alice", "a*e"));
	assert_true(berth_match_pattern("alice", "al?ce"));
	assert_false(berth_match_pattern("alice", "bob*"));
	assert_true(berth_match_pattern("", "*"));
	assert_false(berth_match_pattern("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	                                 "a*a*a*a*a*a*a*a*a*a*a*a*b"));
	assert_int_equal(berth_match_addr_list("192.168.1.5", "192.168.1.*"), 1);
	assert_int_equal(berth_match_addr_list("192.168.1.5", "10.0.0.0/8,192.168.0.0/16"), 1);
	assert_int_equal(berth_match_addr_list("192.168.1.5", "192.168.0.0/16,!192.168.1.5"), -1);
	assert_int_equal(berth_match_addr_list("192.168.1.5", "!10.0.0.1"), 0);
	assert_int_equal(berth_match_addr_list("2001:db8::7", "2001:db8::/32"), 1);
	assert_int_equal(berth_match_addr_list("2001:db9::7", "2001:db8::/32"), 0);
	assert_int_equal(berth_match_addr_list("10.0.0.1", "2001:db8::/32"), 0);
	assert_int_equal(berth_match_addr_list("10.0.0.1", "10.0.0.1/8"), -EINVAL);
	assert_int_equal(berth_match_addr_list("10.0.0.1", "10.0.0.0/x"), -EINVAL);
	assert_int_equal(berth_match_addr_list("10.0.0.1", "host.example.com"), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_parse_options), cmocka_unit_test(test_commands),
	        cmocka_unit_test(test_hostile_lines), cmocka_unit_test(test_base64_and_expiry),
	        cmocka_unit_test(test_match_lists),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
