/* SPDX-License-Identifier: BSD-2-Clause */
/* libFuzzer target: the policy decoder (monitor -> worker), then a round trip and a few
 * decisions on whatever decoded. */
#include <stdint.h>
#include <stdlib.h>

#include "berth/buf.h"
#include "berth/policy.h"
#include "berth/xmem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct xbuf view;
	struct policy *p = NULL;

	xbuf_view_init(&view, data, size);
	if (policy_decode(&view, &p) < 0)
		return 0;
	struct xbuf b = XBUF_NULL;
	xbuf_init(&b, POLICY_CODEC_MAX);
	if (policy_encode(p, &b) == 0) {
		struct policy *q = NULL;
		xbuf_view_init(&view, xbuf_ptr(&b), xbuf_len(&b));
		if (policy_decode(&view, &q) != 0 || !policy_equal(p, q))
			abort();
		policy_free(q);
	}
	xbuf_deinit(&b);
	static const char *const paths[] = {"/", "/in", "/in/a.csv", "/a/b/c", "/.berth-x"};
	struct policy_verdict v;
	for (unsigned op = 0; op < POLICY_OP_COUNT; op++) {
		for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
			(void)policy_decide(p, (enum policy_op)op, paths[i], 0, &v);
			free(policy_verdict_describe(&v));
		}
	}
	(void)policy_decide_rename(p, "/in/a", "/b", POLICY_F_DIR, &v);
	(void)policy_decide_link(p, "/in/a", "/b", &v);
	(void)policy_check_login(p, "192.0.2.1", 0, POLICY_PROTO_SSH, &v);
	free(policy_verdict_describe(&v));
	policy_free(p);
	return 0;
}
