/* SPDX-License-Identifier: BSD-2-Clause */
/* Engine tests: feed exact bytes, assert exact replies. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "berth/common.h"
#include "berth/policy.h"
#include "berth/vfs_policy.h"
#include "berth/xmem.h"
#include "fxp-internal.h"

struct fixture {
	char dir[64];
	struct vfs *v;
	struct fxp_engine *e;
	struct fxp_engine_config cfg;
};

static struct fixture *
fixture_new(bool read_only, uint64_t denied)
{
	struct fixture *fx = xcalloc(1, sizeof(*fx));
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/berth-engine-XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	assert_int_equal(vfs_posix_new(fx->dir, "/", 0, &fx->v), 0);
	fx->cfg = (struct fxp_engine_config){.vfs = fx->v,
	                                     .read_only = read_only,
	                                     .denied = denied,
	                                     .user = "tester",
	                                     .home = "/",
	                                     .max_handles = 8};
	assert_int_equal(fxp_engine_new(&fx->cfg, &fx->e), 0);
	return fx;
}

static void
fixture_free(struct fixture *fx)
{
	fxp_engine_free(fx->e);
	vfs_free(fx->v);
	char *cmd = xasprintf("rm -rf '%s'", fx->dir);
	assert_int_equal(system(cmd), 0);
	free(cmd);
	free(fx);
}

/* Frame builder: body is assembled in b, then wrapped with its length. */
static void
frame_feed(struct fixture *fx, struct xbuf *body)
{
	_cleanup_xbuf_ struct xbuf f = XBUF_NULL;
	xbuf_init(&f, 1 << 20);
	assert_int_equal(xbuf_put_u32(&f, (uint32_t)xbuf_len(body)), 0);
	assert_int_equal(xbuf_put(&f, xbuf_ptr(body), xbuf_len(body)), 0);
	assert_int_equal(fxp_engine_feed(fx->e, xbuf_ptr(&f), xbuf_len(&f)), 0);
	xbuf_reset(body);
}

static void
send_init(struct fixture *fx)
{
	_cleanup_xbuf_ struct xbuf b = XBUF_NULL;
	xbuf_init(&b, 1 << 20);
	xbuf_put_u8(&b, FXP_INIT);
	xbuf_put_u32(&b, 3);
	frame_feed(fx, &b);
	assert_int_equal(fxp_engine_process(fx->e), 0);
	size_t len;
	fxp_engine_output(fx->e, &len);
	fxp_engine_output_consume(fx->e, len);
}

/* Take one reply off the output: returns its body in a heap copy. */
static uint8_t *
take_reply(struct fixture *fx, size_t *ret_len)
{
	size_t len;
	const uint8_t *p = fxp_engine_output(fx->e, &len);
	if (len < 4)
		return NULL;
	uint32_t n = (uint32_t)p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3];
	assert_true(len >= 4 + (size_t)n);
	uint8_t *copy = xmalloc(n);
	memcpy(copy, p + 4, n);
	fxp_engine_output_consume(fx->e, 4 + n);
	*ret_len = n;
	return copy;
}

static uint32_t
expect_status(struct fixture *fx, uint32_t id)
{
	size_t n;
	_cleanup_free_ uint8_t *r = take_reply(fx, &n);
	assert_non_null(r);
	struct xbuf v;
	xbuf_view_init(&v, r, n);
	uint8_t type;
	uint32_t rid, status;
	assert_int_equal(xbuf_get_u8(&v, &type), 0);
	assert_int_equal(type, FXP_STATUS);
	assert_int_equal(xbuf_get_u32(&v, &rid), 0);
	assert_int_equal(rid, id);
	assert_int_equal(xbuf_get_u32(&v, &status), 0);
	char *msg, *lang;
	assert_int_equal(xbuf_get_cstring(&v, &msg, 1000), 0);
	assert_true(msg[0] != '\0');
	assert_int_equal(xbuf_get_cstring(&v, &lang, 1000), 0);
	assert_string_equal(lang, "");
	free(msg);
	free(lang);
	return status;
}

static void
test_init_version_exact(void **state)
{
	struct fixture *fx = fixture_new(false, 0);
	static const uint8_t init[] = {0, 0, 0, 5, FXP_INIT, 0, 0, 0, 3};
	assert_int_equal(fxp_engine_feed(fx->e, init, sizeof(init)), 0);
	assert_int_equal(fxp_engine_process(fx->e), 0);
	size_t n;
	_cleanup_free_ uint8_t *r = take_reply(fx, &n);
	assert_non_null(r);
	_cleanup_xbuf_ struct xbuf want = XBUF_NULL;
	xbuf_init(&want, 4096);
	xbuf_put_u8(&want, FXP_VERSION_PKT);
	xbuf_put_u32(&want, 3);
	static const char *ext[][2] = {
	        {"posix-rename@openssh.com", "1"},
	        {"statvfs@openssh.com", "2"},
	        {"fstatvfs@openssh.com", "2"},
	        {"hardlink@openssh.com", "1"},
	        {"fsync@openssh.com", "1"},
	        {"lsetstat@openssh.com", "1"},
	        {"limits@openssh.com", "1"},
	        {"expand-path@openssh.com", "1"},
	        {"copy-data", "1"},
	        {"home-directory", "1"},
	        {"users-groups-by-id@openssh.com", "1"},
	};
	for (size_t i = 0; i < ARRAY_SIZE(ext); i++) {
		xbuf_put_cstring(&want, ext[i][0]);
		xbuf_put_cstring(&want, ext[i][1]);
	}
	assert_int_equal(n, xbuf_len(&want));
	assert_memory_equal(r, xbuf_ptr(&want), n);
	fixture_free(fx);
}

static void
test_request_before_init_is_fatal(void **state)
{
	struct fixture *fx = fixture_new(false, 0);
	static const uint8_t req[] = {0, 0, 0, 9, FXP_REALPATH, 0, 0, 0, 1, 0, 0, 0, 0};
	assert_int_equal(fxp_engine_feed(fx->e, req, sizeof(req)), 0);
	assert_int_equal(fxp_engine_process(fx->e), FXP_E_PROTOCOL);
	fixture_free(fx);
}

static void
test_framing_limits(void **state)
{
	struct fixture *fx = fixture_new(false, 0);
	send_init(fx);
	static const uint8_t huge[] = {0, 4, 0, 1, FXP_OPEN};
	assert_int_equal(fxp_engine_feed(fx->e, huge, sizeof(huge)), 0);
	assert_int_equal(fxp_engine_process(fx->e), FXP_E_OVERSIZE);
	fixture_free(fx);

	fx = fixture_new(false, 0);
	send_init(fx);
	static const uint8_t tiny[] = {0, 0, 0, 2, FXP_OPEN, 0};
	assert_int_equal(fxp_engine_feed(fx->e, tiny, sizeof(tiny)), 0);
	assert_int_equal(fxp_engine_process(fx->e), FXP_E_MALFORMED);
	fixture_free(fx);

	/* exactly the limit is accepted (as a malformed WRITE body here) */
	fx = fixture_new(false, 0);
	send_init(fx);
	_cleanup_xbuf_ struct xbuf b = XBUF_NULL;
	xbuf_init(&b, 1 << 20);
	xbuf_put_u8(&b, 250); /* unknown type: no reply */
	xbuf_put_u32(&b, 7);
	uint8_t *p;
	xbuf_reserve(&b, FXP_MAX_MSG - 5, &p);
	memset(p, 0, FXP_MAX_MSG - 5);
	frame_feed(fx, &b);
	assert_int_equal(fxp_engine_process(fx->e), 0);
	size_t len;
	fxp_engine_output(fx->e, &len);
	assert_int_equal(len, 0);
	fixture_free(fx);
}

static void
test_pipelined_and_partial_frames(void **state)
{
	struct fixture *fx = fixture_new(false, 0);
	_cleanup_xbuf_ struct xbuf all = XBUF_NULL, b = XBUF_NULL;
	xbuf_init(&all, 1 << 20);
	xbuf_init(&b, 1 << 20);
	/* INIT, unknown type 99, REALPATH ".", STAT "/nope" in one stream */
	const uint8_t init[] = {0, 0, 0, 5, FXP_INIT, 0, 0, 0, 3};
	xbuf_put(&all, init, sizeof(init));
	const uint8_t unk[] = {0, 0, 0, 5, 99, 0, 0, 0, 42};
	xbuf_put(&all, unk, sizeof(unk));
	xbuf_put_u32(&all, 1 + 4 + 4 + 1);
	xbuf_put_u8(&all, FXP_REALPATH);
	xbuf_put_u32(&all, 10);
	xbuf_put_cstring(&all, ".");
	xbuf_put_u32(&all, 1 + 4 + 4 + 5);
	xbuf_put_u8(&all, FXP_STAT);
	xbuf_put_u32(&all, 11);
	xbuf_put_cstring(&all, "/nope");
	/* feed one byte at a time: partial frames must wait */
	const uint8_t *p = xbuf_ptr(&all);
	for (size_t i = 0; i < xbuf_len(&all); i++) {
		assert_int_equal(fxp_engine_feed(fx->e, p + i, 1), 0);
		assert_int_equal(fxp_engine_process(fx->e), 0);
	}
	size_t n;
	_cleanup_free_ uint8_t *version = take_reply(fx, &n);
	assert_int_equal(version[0], FXP_VERSION_PKT);
	_cleanup_free_ uint8_t *name = take_reply(fx, &n);
	assert_non_null(name);
	struct xbuf v;
	xbuf_view_init(&v, name, n);
	uint8_t type;
	uint32_t id, count;
	char *s;
	xbuf_get_u8(&v, &type);
	xbuf_get_u32(&v, &id);
	assert_int_equal(type, FXP_NAME);
	assert_int_equal(id, 10); /* the unknown type 99 got no reply */
	xbuf_get_u32(&v, &count);
	assert_int_equal(count, 1);
	assert_int_equal(xbuf_get_cstring(&v, &s, 100), 0);
	assert_string_equal(s, "/");
	free(s);
	assert_int_equal(expect_status(fx, 11), FX_NO_SUCH_FILE);
	fixture_free(fx);
}

static uint32_t
open_file(struct fixture *fx, uint32_t id, const char *path, uint32_t pflags, uint8_t handle[8])
{
	_cleanup_xbuf_ struct xbuf b = XBUF_NULL;
	xbuf_init(&b, 1 << 20);
	xbuf_put_u8(&b, FXP_OPEN);
	xbuf_put_u32(&b, id);
	xbuf_put_cstring(&b, path);
	xbuf_put_u32(&b, pflags);
	xbuf_put_u32(&b, 0);
	frame_feed(fx, &b);
	assert_int_equal(fxp_engine_process(fx->e), 0);
	size_t n;
	const uint8_t *p = fxp_engine_output(fx->e, &n);
	if (p[4] == FXP_STATUS)
		return expect_status(fx, id);
	_cleanup_free_ uint8_t *r = take_reply(fx, &n);
	assert_int_equal(r[0], FXP_HANDLE);
	assert_int_equal(n, 1 + 4 + 4 + 8);
	memcpy(handle, r + 9, 8);
	return FX_OK;
}

static void
put_handle_req(struct xbuf *b, uint8_t type, uint32_t id, const uint8_t handle[8])
{
	xbuf_put_u8(b, type);
	xbuf_put_u32(b, id);
	xbuf_put_string(b, handle, 8);
}

static void
test_write_read_close(void **state)
{
	struct fixture *fx = fixture_new(false, 0);
	send_init(fx);
	uint8_t h[8];
	assert_int_equal(open_file(fx, 1, "f", FXF_WRITE | FXF_CREAT | FXF_READ, h), FX_OK);
	_cleanup_xbuf_ struct xbuf b = XBUF_NULL;
	xbuf_init(&b, 1 << 20);
	put_handle_req(&b, FXP_WRITE, 2, h);
	xbuf_put_u64(&b, 0);
	xbuf_put_cstring(&b, "hello world");
	frame_feed(fx, &b);
	/* READ of 0xffffffff is clamped, and short reads are normal */
	put_handle_req(&b, FXP_READ, 3, h);
	xbuf_put_u64(&b, 6);
	xbuf_put_u32(&b, 0xffffffff);
	frame_feed(fx, &b);
	put_handle_req(&b, FXP_READ, 4, h);
	xbuf_put_u64(&b, 11);
	xbuf_put_u32(&b, 10);
	frame_feed(fx, &b);
	assert_int_equal(fxp_engine_process(fx->e), 0);
	assert_int_equal(expect_status(fx, 2), FX_OK);
	size_t n;
	_cleanup_free_ uint8_t *data = take_reply(fx, &n);
	static const uint8_t want[] = {FXP_DATA, 0, 0, 0, 3, 0, 0, 0, 5, 'w', 'o', 'r', 'l', 'd'};
	assert_int_equal(n, sizeof(want));
	assert_memory_equal(data, want, sizeof(want));
	assert_int_equal(expect_status(fx, 4), FX_EOF);
	/* close, then the handle is dead */
	put_handle_req(&b, FXP_CLOSE, 5, h);
	frame_feed(fx, &b);
	put_handle_req(&b, FXP_READ, 6, h);
	xbuf_put_u64(&b, 0);
	xbuf_put_u32(&b, 10);
	frame_feed(fx, &b);
	put_handle_req(&b, FXP_CLOSE, 7, h);
	frame_feed(fx, &b);
	assert_int_equal(fxp_engine_process(fx->e), 0);
	assert_int_equal(expect_status(fx, 5), FX_OK);
	assert_int_equal(expect_status(fx, 6), FX_FAILURE);
	assert_int_equal(expect_status(fx, 7), FX_NO_SUCH_FILE);
	fixture_free(fx);
}

static void
test_malformed_body_answers_bad_message(void **state)
{
	struct fixture *fx = fixture_new(false, 0);
	send_init(fx);
	_cleanup_xbuf_ struct xbuf b = XBUF_NULL;
	xbuf_init(&b, 1 << 20);
	/* path string claims more bytes than the frame holds */
	xbuf_put_u8(&b, FXP_STAT);
	xbuf_put_u32(&b, 21);
	xbuf_put_u32(&b, 0xfffffffc);
	xbuf_put(&b, "abc", 3);
	frame_feed(fx, &b);
	/* NUL inside a path */
	xbuf_put_u8(&b, FXP_LSTAT);
	xbuf_put_u32(&b, 22);
	xbuf_put_string(&b, "a\0b", 3);
	frame_feed(fx, &b);
	/* the stream continues */
	xbuf_put_u8(&b, FXP_STAT);
	xbuf_put_u32(&b, 23);
	xbuf_put_cstring(&b, "/");
	frame_feed(fx, &b);
	assert_int_equal(fxp_engine_process(fx->e), 0);
	assert_int_equal(expect_status(fx, 21), FX_BAD_MESSAGE);
	assert_int_equal(expect_status(fx, 22), FX_BAD_MESSAGE);
	size_t n;
	_cleanup_free_ uint8_t *attrs = take_reply(fx, &n);
	assert_int_equal(attrs[0], FXP_ATTRS);
	fixture_free(fx);
}

static void
test_read_only_and_denylist(void **state)
{
	struct fixture *fx = fixture_new(true, UINT64_C(1) << FXP_REQ_REALPATH);
	static const uint8_t init[] = {0, 0, 0, 5, FXP_INIT, 0, 0, 0, 3};
	fxp_engine_feed(fx->e, init, sizeof(init));
	assert_int_equal(fxp_engine_process(fx->e), 0);
	size_t n;
	_cleanup_free_ uint8_t *ver = take_reply(fx, &n);
	/* write extensions are not advertised in read-only mode */
	assert_null(memmem(ver, n, "posix-rename", 12));
	assert_null(memmem(ver, n, "copy-data", 9));
	assert_non_null(memmem(ver, n, "statvfs@openssh.com", 19));
	uint8_t h[8];
	const uint32_t bad[] = {FXF_WRITE, FXF_READ | FXF_CREAT, FXF_READ | FXF_TRUNC,
	                        FXF_READ | FXF_APPEND};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		assert_int_equal(open_file(fx, 30 + (uint32_t)i, "x", bad[i], h),
		                 FX_PERMISSION_DENIED);
	struct stat st;
	char *x = xasprintf("%s/x", fx->dir);
	assert_int_equal(stat(x, &st), -1);
	free(x);
	_cleanup_xbuf_ struct xbuf b = XBUF_NULL;
	xbuf_init(&b, 1 << 20);
	xbuf_put_u8(&b, FXP_MKDIR);
	xbuf_put_u32(&b, 40);
	xbuf_put_cstring(&b, "d");
	xbuf_put_u32(&b, 0);
	frame_feed(fx, &b);
	xbuf_put_u8(&b, FXP_REALPATH);
	xbuf_put_u32(&b, 41);
	xbuf_put_cstring(&b, ".");
	frame_feed(fx, &b);
	xbuf_put_u8(&b, FXP_EXTENDED);
	xbuf_put_u32(&b, 42);
	xbuf_put_cstring(&b, "hardlink@openssh.com");
	xbuf_put_cstring(&b, "a");
	xbuf_put_cstring(&b, "b");
	frame_feed(fx, &b);
	xbuf_put_u8(&b, FXP_EXTENDED);
	xbuf_put_u32(&b, 43);
	xbuf_put_cstring(&b, "no-such@example.com");
	frame_feed(fx, &b);
	assert_int_equal(fxp_engine_process(fx->e), 0);
	assert_int_equal(expect_status(fx, 40), FX_PERMISSION_DENIED);
	assert_int_equal(expect_status(fx, 41), FX_PERMISSION_DENIED);
	assert_int_equal(expect_status(fx, 42), FX_PERMISSION_DENIED);
	assert_int_equal(expect_status(fx, 43), FX_OP_UNSUPPORTED);
	fixture_free(fx);
}

static void
test_handle_exhaustion_and_recovery(void **state)
{
	struct fixture *fx = fixture_new(false, 0);
	send_init(fx);
	uint8_t h[8][8], extra[8];
	for (int round = 0; round < 3; round++) {
		for (uint32_t i = 0; i < 8; i++)
			assert_int_equal(
			        open_file(fx, i, "/", 0, h[i]) == FX_OK ||
			                open_file(fx, i, "f", FXF_WRITE | FXF_CREAT, h[i]) == FX_OK,
			        1);
		assert_int_equal(open_file(fx, 99, "f", FXF_WRITE | FXF_CREAT, extra), FX_FAILURE);
		_cleanup_xbuf_ struct xbuf b = XBUF_NULL;
		xbuf_init(&b, 1 << 20);
		for (uint32_t i = 0; i < 8; i++) {
			put_handle_req(&b, FXP_CLOSE, 100 + i, h[i]);
			frame_feed(fx, &b);
		}
		assert_int_equal(fxp_engine_process(fx->e), 0);
		for (uint32_t i = 0; i < 8; i++)
			assert_int_equal(expect_status(fx, 100 + i), FX_OK);
		assert_int_equal(fx->e->handles.nused, 0);
	}
	fixture_free(fx);
}

/* A file of @kib KiB; KiB number i is filled with 'a' + i % 26. */
static void
make_big_file(struct fixture *fx, const char *name, size_t kib)
{
	char *path = xasprintf("%s/%s", fx->dir, name);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	for (size_t i = 0; i < kib; i++) {
		char block[1024];
		memset(block, 'a' + (int)(i % 26), sizeof(block));
		assert_int_equal(fwrite(block, 1, sizeof(block), f), sizeof(block));
	}
	assert_int_equal(fclose(f), 0);
	free(path);
}

static void
test_backpressure_bounds_output(void **state)
{
	struct fixture *fx = fixture_new(false, 0);
	send_init(fx);
	/* a 1 MiB file, then full-size READs (padded to 16 KiB, so that the input queue
	 * fills after about 64 of them) that nobody drains */
	make_big_file(fx, "big", 1024);
	uint8_t h[8];
	assert_int_equal(open_file(fx, 1, "big", FXF_READ, h), FX_OK);
	_cleanup_xbuf_ struct xbuf b = XBUF_NULL;
	xbuf_init(&b, 1 << 20);
	static const uint8_t pad[16384];
	uint32_t sent = 0;
	for (uint32_t i = 0; i < 10000; i++) {
		if (fxp_engine_input_room(fx->e) < 64 + sizeof(pad))
			break;
		put_handle_req(&b, FXP_READ, 1000 + i, h);
		xbuf_put_u64(&b, 0);
		xbuf_put_u32(&b, FXP_MAX_READ);
		xbuf_put(&b, pad, sizeof(pad)); /* trailing bytes are ignored */
		frame_feed(fx, &b);
		sent++;
		assert_int_equal(fxp_engine_process(fx->e), 0);
		size_t out;
		fxp_engine_output(fx->e, &out);
		assert_true(out <= FXP_OUT_MAX);
	}
	assert_true(sent < 10000);
	/* input is taken while the output is stuck, up to the input queue's bound */
	assert_true(fxp_engine_input_room(fx->e) < 64 + sizeof(pad));
	put_handle_req(&b, FXP_READ, 1000 + sent, h);
	xbuf_put_u64(&b, 0);
	xbuf_put_u32(&b, FXP_MAX_READ);
	xbuf_put(&b, pad, sizeof(pad));
	xbuf_put(&b, pad, sizeof(pad)); /* larger than the room left */
	assert_int_equal(fxp_engine_feed(fx->e, xbuf_ptr(&b), xbuf_len(&b)), -ENOBUFS);
	xbuf_reset(&b);
	assert_int_equal(fxp_engine_process(fx->e), 0);
	assert_true(fxp_engine_has_pending(fx->e));
	size_t out_now;
	fxp_engine_output(fx->e, &out_now);
	assert_true(out_now <= FXP_OUT_MAX);
	/* draining the output lets the rest through, in order */
	uint32_t got = 0;
	for (;;) {
		size_t n;
		uint8_t *r = take_reply(fx, &n);
		if (!r) {
			assert_int_equal(fxp_engine_process(fx->e), 0);
			r = take_reply(fx, &n);
			if (!r)
				break;
		}
		assert_int_equal(r[0], FXP_DATA);
		uint32_t id = (uint32_t)r[1] << 24 | r[2] << 16 | r[3] << 8 | r[4];
		assert_int_equal(id, 1000 + got);
		got++;
		free(r);
	}
	assert_int_equal(got, sent);
	fixture_free(fx);
}

/* Zero-copy output (fxp_engine_set_file_output): a big READ becomes a DATA header in the
 * bytes and a file segment; small reads, reads reaching the end of file and
 * non-regular files are copied as before. */
static void
feed_read(struct fixture *fx, uint32_t id, const uint8_t h[8], uint64_t off, uint32_t len)
{
	_cleanup_xbuf_ struct xbuf b = XBUF_NULL;
	xbuf_init(&b, 4096);
	put_handle_req(&b, FXP_READ, id, h);
	xbuf_put_u64(&b, off);
	xbuf_put_u32(&b, len);
	frame_feed(fx, &b);
}

/* The next piece must be the 13-byte DATA header of @id promising @len bytes. */
static void
expect_data_header(struct fixture *fx, uint32_t id, uint32_t len)
{
	struct fxp_output o;
	fxp_engine_output_next(fx->e, &o);
	assert_non_null(o.data);
	assert_true(o.len >= 13);
	const uint8_t *p = o.data;
	assert_int_equal((uint32_t)p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3], 9 + len);
	assert_int_equal(p[4], FXP_DATA);
	assert_int_equal((uint32_t)p[5] << 24 | p[6] << 16 | p[7] << 8 | p[8], id);
	assert_int_equal((uint32_t)p[9] << 24 | p[10] << 16 | p[11] << 8 | p[12], len);
	fxp_engine_output_consume(fx->e, 13);
}

static void
test_file_output_segments(void **state)
{
	struct fixture *fx = fixture_new(false, 0);
	send_init(fx);
	make_big_file(fx, "big", 1024);
	uint8_t h[8];
	assert_int_equal(open_file(fx, 1, "big", FXF_READ, h), FX_OK);
	fxp_engine_set_file_output(fx->e, true);

	/* 64 KiB at 128 KiB: header, then a segment of the file */
	feed_read(fx, 2, h, 128 * 1024, 65536);
	assert_int_equal(fxp_engine_process(fx->e), 0);
	assert_int_equal(fxp_engine_output_pending(fx->e), 13 + 65536);
	size_t bytes;
	fxp_engine_output(fx->e, &bytes);
	assert_int_equal(bytes, 13); /* only what precedes the segment */
	expect_data_header(fx, 2, 65536);
	struct fxp_output o;
	fxp_engine_output_next(fx->e, &o);
	assert_null(o.data);
	assert_non_null(o.file);
	assert_int_equal(o.off, 128 * 1024);
	assert_int_equal(o.len, 65536);
	fxp_engine_output_consume(fx->e, 1000); /* a partial move */
	fxp_engine_output_next(fx->e, &o);
	assert_int_equal(o.off, 128 * 1024 + 1000);
	assert_int_equal(o.len, 65536 - 1000);
	fxp_engine_output_consume(fx->e, o.len);
	assert_int_equal(fxp_engine_output_pending(fx->e), 0);

	/* copied: below 16 KiB, and a read that reaches the end of the file */
	feed_read(fx, 3, h, 0, 4096);
	feed_read(fx, 4, h, 1024 * 1024 - 100, 65536);
	assert_int_equal(fxp_engine_process(fx->e), 0);
	size_t n;
	_cleanup_free_ uint8_t *r3 = take_reply(fx, &n);
	assert_int_equal(r3[0], FXP_DATA);
	assert_int_equal(n, 9 + 4096);
	assert_int_equal(r3[9], 'a');
	_cleanup_free_ uint8_t *r4 = take_reply(fx, &n);
	assert_int_equal(r4[0], FXP_DATA);
	assert_int_equal(n, 9 + 100); /* short, as the copy path answers */
	assert_int_equal(fxp_engine_output_pending(fx->e), 0);

	/* bytes before, between and after segments keep their order */
	feed_read(fx, 5, h, 0, 32768);
	feed_read(fx, 6, h, 0, 100); /* copied: between the two segments */
	feed_read(fx, 7, h, 32768, 32768);
	assert_int_equal(fxp_engine_process(fx->e), 0);
	expect_data_header(fx, 5, 32768);
	fxp_engine_output_next(fx->e, &o);
	assert_int_equal(o.len, 32768);
	assert_null(o.data);
	fxp_engine_output_consume(fx->e, o.len);
	_cleanup_free_ uint8_t *r6 = take_reply(fx, &n);
	assert_int_equal(n, 9 + 100);
	assert_int_equal(r6[0], FXP_DATA);
	expect_data_header(fx, 7, 32768);
	fxp_engine_output_next(fx->e, &o);
	assert_int_equal(o.off, 32768);
	fxp_engine_output_consume(fx->e, o.len);
	assert_int_equal(fxp_engine_output_pending(fx->e), 0);
	fixture_free(fx);
}

/* Segments count against output room, and nothing but READs passes them. */
static void
test_file_output_backpressure_and_order(void **state)
{
	struct fixture *fx = fixture_new(false, 0);
	send_init(fx);
	make_big_file(fx, "big", 12 * 1024);
	uint8_t h[8];
	assert_int_equal(open_file(fx, 1, "big", FXF_READ, h), FX_OK);
	fxp_engine_set_file_output(fx->e, true);
	for (uint32_t i = 0; i < 40; i++)
		feed_read(fx, 100 + i, h, (uint64_t)i * FXP_MAX_READ, FXP_MAX_READ);
	_cleanup_xbuf_ struct xbuf b = XBUF_NULL;
	xbuf_init(&b, 4096);
	put_handle_req(&b, FXP_CLOSE, 200, h);
	frame_feed(fx, &b);
	assert_int_equal(fxp_engine_process(fx->e), 0);
	/* the same number of replies as copied ones would hold: output stays bounded */
	size_t pending = fxp_engine_output_pending(fx->e);
	assert_true(pending <= FXP_OUT_MAX);
	assert_true(pending >= FXP_OUT_MAX - FXP_OUT_RESERVE);
	assert_true(fxp_engine_has_pending(fx->e));
	/* drain piece by piece; the CLOSE is answered only after every segment */
	uint32_t next = 100;
	bool closed = false;
	for (;;) {
		struct fxp_output o;
		fxp_engine_output_next(fx->e, &o);
		if (o.len == 0) {
			if (!fxp_engine_has_pending(fx->e))
				break;
			assert_int_equal(fxp_engine_process(fx->e), 0);
			continue;
		}
		if (o.data && o.data[4] == FXP_STATUS) {
			assert_int_equal(next, 140); /* after all 40 reads */
			assert_int_equal(expect_status(fx, 200), FX_OK);
			closed = true;
			continue;
		}
		expect_data_header(fx, next, FXP_MAX_READ);
		fxp_engine_output_next(fx->e, &o);
		assert_null(o.data);
		assert_int_equal(o.off, (uint64_t)(next - 100) * FXP_MAX_READ);
		/* the handle is still open while its segments wait */
		assert_int_equal(fx->e->handles.nused, 1);
		fxp_engine_output_consume(fx->e, o.len);
		next++;
	}
	assert_true(closed);
	assert_int_equal(fx->e->handles.nused, 0);
	fixture_free(fx);
}

/* Freeing the engine with segments queued closes their files once (ASan watches). */
static void
test_file_output_freed_with_segments(void **state)
{
	struct fixture *fx = fixture_new(false, 0);
	send_init(fx);
	make_big_file(fx, "big", 256);
	uint8_t h[8];
	assert_int_equal(open_file(fx, 1, "big", FXF_READ, h), FX_OK);
	fxp_engine_set_file_output(fx->e, true);
	feed_read(fx, 2, h, 0, 65536);
	assert_int_equal(fxp_engine_process(fx->e), 0);
	assert_int_equal(fxp_engine_output_pending(fx->e), 13 + 65536);
	fixture_free(fx);
}

static void
test_extensions(void **state)
{
	struct fixture *fx = fixture_new(false, 0);
	send_init(fx);
	_cleanup_xbuf_ struct xbuf b = XBUF_NULL;
	xbuf_init(&b, 1 << 20);
	xbuf_put_u8(&b, FXP_EXTENDED);
	xbuf_put_u32(&b, 1);
	xbuf_put_cstring(&b, "limits@openssh.com");
	frame_feed(fx, &b);
	assert_int_equal(fxp_engine_process(fx->e), 0);
	size_t n;
	_cleanup_free_ uint8_t *r = take_reply(fx, &n);
	_cleanup_xbuf_ struct xbuf want = XBUF_NULL;
	xbuf_init(&want, 1024);
	xbuf_put_u8(&want, FXP_EXTENDED_REPLY);
	xbuf_put_u32(&want, 1);
	xbuf_put_u64(&want, 262144);
	xbuf_put_u64(&want, 261120);
	xbuf_put_u64(&want, 261120);
	xbuf_put_u64(&want, 8);
	assert_int_equal(n, xbuf_len(&want));
	assert_memory_equal(r, xbuf_ptr(&want), n);

	/* expand-path: "~" is the working directory, ~other is refused */
	xbuf_put_u8(&b, FXP_EXTENDED);
	xbuf_put_u32(&b, 2);
	xbuf_put_cstring(&b, "expand-path@openssh.com");
	xbuf_put_cstring(&b, "~/y");
	frame_feed(fx, &b);
	xbuf_put_u8(&b, FXP_EXTENDED);
	xbuf_put_u32(&b, 3);
	xbuf_put_cstring(&b, "expand-path@openssh.com");
	xbuf_put_cstring(&b, "~root/x");
	frame_feed(fx, &b);
	assert_int_equal(fxp_engine_process(fx->e), 0);
	_cleanup_free_ uint8_t *name = take_reply(fx, &n);
	assert_int_equal(name[0], FXP_NAME);
	assert_int_equal(expect_status(fx, 3), FX_NO_SUCH_FILE);
	fixture_free(fx);
}

static void
test_check_file(void **state)
{
	/* Off by default (OpenSSH's extension list exactly), unknown then. */
	struct fixture *fx = fixture_new(false, 0);
	send_init(fx);
	_cleanup_xbuf_ struct xbuf b = XBUF_NULL;
	xbuf_init(&b, 1 << 20);
	xbuf_put_u8(&b, FXP_EXTENDED);
	xbuf_put_u32(&b, 1);
	xbuf_put_cstring(&b, "check-file-name");
	xbuf_put_cstring(&b, "/f");
	xbuf_put_cstring(&b, "sha256");
	xbuf_put_u64(&b, 0);
	xbuf_put_u64(&b, 0);
	xbuf_put_u32(&b, 0);
	frame_feed(fx, &b);
	assert_int_equal(fxp_engine_process(fx->e), 0);
	assert_int_equal(expect_status(fx, 1), FX_OP_UNSUPPORTED);
	fxp_engine_free(fx->e);

	fx->cfg.check_file = true;
	assert_int_equal(fxp_engine_new(&fx->cfg, &fx->e), 0);
	send_init(fx);
	char *p = xasprintf("%s/f", fx->dir);
	FILE *f = fopen(p, "w");
	fputs("abc", f);
	fclose(f);
	free(p);
	static const uint8_t sha256_abc[32] = {0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea,
	                                       0x41, 0x41, 0x40, 0xde, 0x5d, 0xae, 0x22, 0x23,
	                                       0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17, 0x7a, 0x9c,
	                                       0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad};
	xbuf_put_u8(&b, FXP_EXTENDED);
	xbuf_put_u32(&b, 2);
	xbuf_put_cstring(&b, "check-file-name");
	xbuf_put_cstring(&b, "/f");
	xbuf_put_cstring(&b, "crc32,sha256,md5");
	xbuf_put_u64(&b, 0);
	xbuf_put_u64(&b, 0);
	xbuf_put_u32(&b, 0);
	frame_feed(fx, &b);
	assert_int_equal(fxp_engine_process(fx->e), 0);
	size_t n;
	_cleanup_free_ uint8_t *r = take_reply(fx, &n);
	_cleanup_xbuf_ struct xbuf want = XBUF_NULL;
	xbuf_init(&want, 1024);
	xbuf_put_u8(&want, FXP_EXTENDED_REPLY);
	xbuf_put_u32(&want, 2);
	xbuf_put_cstring(&want, "check-file");
	xbuf_put_cstring(&want, "sha256");
	xbuf_put(&want, sha256_abc, sizeof(sha256_abc));
	assert_int_equal(n, xbuf_len(&want));
	assert_memory_equal(r, xbuf_ptr(&want), n);

	/* No common algorithm; block size below 256; missing file. */
	const struct {
		const char *path, *algs;
		uint32_t block, status;
	} bad[] = {
	        {"/f", "crc32", 0, FX_FAILURE},
	        {"/f", "sha256", 100, FX_BAD_MESSAGE},
	        {"/nope", "sha256", 0, FX_NO_SUCH_FILE},
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		xbuf_put_u8(&b, FXP_EXTENDED);
		xbuf_put_u32(&b, 10 + (uint32_t)i);
		xbuf_put_cstring(&b, "check-file-name");
		xbuf_put_cstring(&b, bad[i].path);
		xbuf_put_cstring(&b, bad[i].algs);
		xbuf_put_u64(&b, 0);
		xbuf_put_u64(&b, 0);
		xbuf_put_u32(&b, bad[i].block);
		frame_feed(fx, &b);
		assert_int_equal(fxp_engine_process(fx->e), 0);
		assert_int_equal(expect_status(fx, 10 + (uint32_t)i), bad[i].status);
	}
	fixture_free(fx);
}

static void
read_req(struct fixture *fx, struct xbuf *b, uint32_t id, const uint8_t *h, size_t hl)
{
	xbuf_put_u8(b, FXP_READ);
	xbuf_put_u32(b, id);
	xbuf_put_string(b, h, hl);
	xbuf_put_u64(b, 0);
	xbuf_put_u32(b, 200000);
	frame_feed(fx, b);
}

static void
test_bandwidth_wait(void **state)
{
	/* An engine over the policy layer with DownloadBandwidth: the second read must wait;
	 * it stays queued (no reply, nothing lost) and runs once its time has come. */
	struct fixture *fx = fixture_new(false, 0);
	char *p = xasprintf("%s/f", fx->dir);
	FILE *f = fopen(p, "w");
	for (int i = 0; i < 200000; i++)
		fputc('x', f);
	fclose(f);
	free(p);
	fxp_engine_free(fx->e);
	struct policy *pol = policy_new();
	const char *err;
	assert_int_equal(policy_set_keyword(pol, "DownloadBandwidth", "1M", "t", 1, &err), 0);
	struct vfs_policy_config pc = {.policy = pol, .state_fd = -1};
	assert_int_equal(vfs_policy_wrap(fx->v, &pc, &fx->v), 0);
	fx->cfg.vfs = fx->v;
	assert_int_equal(fxp_engine_new(&fx->cfg, &fx->e), 0);
	send_init(fx);
	_cleanup_xbuf_ struct xbuf b = XBUF_NULL;
	xbuf_init(&b, 1 << 20);
	xbuf_put_u8(&b, FXP_OPEN);
	xbuf_put_u32(&b, 1);
	xbuf_put_cstring(&b, "/f");
	xbuf_put_u32(&b, FXF_READ);
	xbuf_put_u32(&b, 0);
	frame_feed(fx, &b);
	assert_int_equal(fxp_engine_process(fx->e), 0);
	size_t n;
	_cleanup_free_ uint8_t *hr = take_reply(fx, &n);
	assert_int_equal(hr[0], FXP_HANDLE);
	const uint8_t *h = hr + 9; /* type, id, string length */
	read_req(fx, &b, 2, h, 8);
	read_req(fx, &b, 3, h, 8);
	assert_int_equal(fxp_engine_process(fx->e), 0);
	_cleanup_free_ uint8_t *d1 = take_reply(fx, &n);
	assert_int_equal(d1[0], FXP_DATA);
	/* 200000 bytes at 1 MiB/s: the second read waits ~90 ms past the burst. */
	assert_true(fxp_engine_wait_until(fx->e) != 0);
	assert_true(fxp_engine_has_pending(fx->e));
	size_t len;
	fxp_engine_output(fx->e, &len);
	assert_int_equal(len, 0);
	/* Processing again before its time changes nothing; after it, the read runs. */
	for (int i = 0; i < 100000 && fxp_engine_wait_until(fx->e); i++) {
		assert_int_equal(fxp_engine_process(fx->e), 0);
		fxp_engine_output(fx->e, &len);
		if (len)
			break;
		usleep(1000);
	}
	_cleanup_free_ uint8_t *d2 = take_reply(fx, &n);
	assert_non_null(d2);
	assert_int_equal(d2[0], FXP_DATA);
	assert_false(fxp_engine_has_pending(fx->e));
	fixture_free(fx);
	policy_free(pol);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_init_version_exact),
	        cmocka_unit_test(test_request_before_init_is_fatal),
	        cmocka_unit_test(test_framing_limits),
	        cmocka_unit_test(test_pipelined_and_partial_frames),
	        cmocka_unit_test(test_write_read_close),
	        cmocka_unit_test(test_malformed_body_answers_bad_message),
	        cmocka_unit_test(test_read_only_and_denylist),
	        cmocka_unit_test(test_handle_exhaustion_and_recovery),
	        cmocka_unit_test(test_backpressure_bounds_output),
	        cmocka_unit_test(test_file_output_segments),
	        cmocka_unit_test(test_file_output_backpressure_and_order),
	        cmocka_unit_test(test_file_output_freed_with_segments),
	        cmocka_unit_test(test_extensions),
	        cmocka_unit_test(test_check_file),
	        cmocka_unit_test(test_bandwidth_wait),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
