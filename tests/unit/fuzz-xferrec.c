/* SPDX-License-Identifier: BSD-2-Clause */
/* libFuzzer target: a transfer record as a (compromised) worker could send it to the
 * monitor; whatever decodes must give exactly one line in each log format. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "berth/buf.h"
#include "berth/xferlog.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
one_line(const struct xbuf *b)
{
	const uint8_t *p = xbuf_ptr(b);
	size_t n = xbuf_len(b);
	if (n == 0 || p[n - 1] != '\n' || memchr(p, '\n', n - 1) || memchr(p, '\r', n) ||
	    memchr(p, '\0', n))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char storage[XFER_RECORD_MAX];
	struct xbuf view;
	struct xfer_record r;
	xbuf_view_init(&view, data, size);
	if (xfer_record_decode(&view, &r, storage, sizeof(storage)) < 0)
		return 0;
	struct xfer_session s = {.account = "demo\n",
	                         .addr = "192.0.2.7",
	                         .port = 5555,
	                         .protocol = "sftp",
	                         .session_id = 1};
	struct timespec now = {.tv_sec = 1796151796};
	struct xbuf b = XBUF_NULL;
	xbuf_init(&b, 16 * XFER_RECORD_MAX);
	if (xferlog_format(&s, &r, &now, &b) == 0)
		one_line(&b);
	xbuf_reset(&b);
	if (xferlog_format_json(&s, &r, &now, &b) != 0)
		abort();
	one_line(&b);
	/* and it encodes back to what was decoded */
	xbuf_reset(&b);
	if (xfer_record_encode(&r, &b) != 0 || xbuf_len(&b) != size ||
	    memcmp(xbuf_ptr(&b), data, size))
		abort();
	xbuf_deinit(&b);
	return 0;
}
