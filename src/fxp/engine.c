/* SPDX-License-Identifier: BSD-2-Clause */
/* SFTP engine core: framing, dispatch with policy bits, reply composition in place in
 * the output queue, and backpressure. No I/O happens here. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>

#include "berth/common.h"
#include "berth/xmem.h"
#include "fxp-internal.h"

void
fxp_log(struct fxp_engine *e, enum log_level level, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_to_callback(e->cfg.log, e->cfg.userdata, (int)level, fmt, ap);
	va_end(ap);
}

static uint32_t
default_max_handles(void)
{
	struct rlimit rl;
	/* OpenSSH's limits@ figure: the fd limit less a little headroom. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur > 5 && rl.rlim_cur != RLIM_INFINITY)
		return (uint32_t)MIN(rl.rlim_cur - 5, (rlim_t)UINT32_MAX);
	return FXP_DEFAULT_MAX_HANDLES;
}

int
fxp_engine_new(const struct fxp_engine_config *cfg, struct fxp_engine **ret)
{
	if (!cfg->vfs)
		return -EINVAL;
	struct fxp_engine *e = xcalloc(1, sizeof(*e));
	e->cfg = *cfg;
	e->user = xstrdup(cfg->user ? cfg->user : "UNKNOWN");
	e->home = xstrdup(cfg->home ? cfg->home : "/");
	e->peer = xstrdup(cfg->peer ? cfg->peer : "UNKNOWN");
	e->cfg.user = e->user;
	e->cfg.home = e->home;
	e->cfg.peer = e->peer;
	xbuf_init(&e->in, FXP_IN_MAX);
	xbuf_init(&e->out, FXP_OUT_MAX);
	handles_init(&e->handles, cfg->max_handles ? cfg->max_handles : default_max_handles());
	*ret = e;
	return 0;
}

void
fxp_engine_free(struct fxp_engine *e)
{
	if (!e)
		return;
	e->files_count = 0; /* unsent segments refer to the files closed next */
	fxp_close_all_handles(e);
	free(e->handles.slots);
	xbuf_deinit(&e->in);
	xbuf_deinit(&e->out);
	free(e->user);
	free(e->home);
	free(e->peer);
	free(e);
}

size_t
fxp_engine_input_room(const struct fxp_engine *e)
{
	/* Input is taken whenever the input queue has room, also while the output is
	 * stuck: processing, not reading, waits for output room. A client whose reader
	 * waits for its sender must be able to finish sending (bounded by FXP_IN_MAX). */
	return xbuf_avail(&e->in);
}

int
fxp_engine_feed(struct fxp_engine *e, const void *data, size_t len)
{
	return xbuf_put(&e->in, data, len);
}

int
fxp_engine_feed_reserve(struct fxp_engine *e, size_t n, uint8_t **ret_ptr)
{
	return xbuf_reserve(&e->in, n, ret_ptr);
}

void
fxp_engine_feed_commit(struct fxp_engine *e, size_t reserved, size_t used)
{
	if (used < reserved)
		(void)xbuf_trim_tail(&e->in, reserved - used);
}

/* Output room left for replies: file segments count as much as the bytes they stand for,
 * so backpressure holds the same number of replies either way. */
static size_t
out_avail(const struct fxp_engine *e)
{
	size_t avail = xbuf_avail(&e->out);
	return avail > e->files_bytes ? avail - e->files_bytes : 0;
}

void
fxp_engine_set_file_output(struct fxp_engine *e, bool on)
{
	e->file_output = on;
}

const uint8_t *
fxp_engine_output(const struct fxp_engine *e, size_t *ret_len)
{
	/* The bytes before the first file segment. */
	*ret_len = e->files_count ? e->files[e->files_head].gap : xbuf_len(&e->out);
	return xbuf_ptr(&e->out);
}

void
fxp_engine_output_next(const struct fxp_engine *e, struct fxp_output *ret)
{
	size_t len;
	const uint8_t *p = fxp_engine_output(e, &len);
	if (len > 0 || e->files_count == 0) {
		*ret = (struct fxp_output){.data = p, .len = len};
		return;
	}
	const struct fxp_out_file *seg = &e->files[e->files_head];
	*ret = (struct fxp_output){.file = seg->file, .off = seg->off, .len = seg->len};
}

size_t
fxp_engine_output_pending(const struct fxp_engine *e)
{
	return xbuf_len(&e->out) + e->files_bytes;
}

void
fxp_engine_output_consume(struct fxp_engine *e, size_t n)
{
	if (e->files_count == 0) {
		(void)xbuf_consume(&e->out, n);
		return;
	}
	struct fxp_out_file *seg = &e->files[e->files_head];
	if (seg->gap > 0) {
		n = MIN(n, seg->gap);
		seg->gap -= n;
		e->files_gap -= n;
		(void)xbuf_consume(&e->out, n);
		return;
	}
	n = MIN(n, (size_t)seg->len);
	seg->off += n;
	seg->len -= (uint32_t)n;
	e->files_bytes -= n;
	if (seg->len == 0) {
		e->files_head = (e->files_head + 1) % FXP_OUT_FILES;
		e->files_count--;
	}
}

int
reply_data_from_file(struct fxp_engine *e, uint32_t id, struct vfs_file *f, uint64_t off,
                     uint32_t len)
{
	if (!e->file_output || len < FXP_FILE_READ_MIN || e->files_count == FXP_OUT_FILES ||
	    !vfs_can_splice(f))
		return 1;
	/* The header promises @len bytes: only a range the file's size covers now. A
	 * file that shrinks before the segment is sent gets zeros from the transport.
	 * Pseudo-files (size 0 under /proc) and reads reaching the end are copied. */
	struct vfs_attr a;
	int r = vfs_fstat(f, &a);
	if (r < 0)
		return r;
	if (!(a.valid & VFS_ATTR_SIZE) || (a.mode & S_IFMT) != S_IFREG || off > a.size ||
	    len > a.size - off)
		return 1;
	size_t pos = reply_begin(e, FXP_DATA, id);
	(void)xbuf_put_u32(&e->out, len);
	(void)xbuf_poke_u32(&e->out, pos, 1 + 4 + 4 + len);
	struct fxp_out_file *seg = &e->files[(e->files_head + e->files_count) % FXP_OUT_FILES];
	*seg = (struct fxp_out_file){
	        .gap = xbuf_len(&e->out) - e->files_gap,
	        .file = f,
	        .off = off,
	        .len = len,
	};
	e->files_gap += seg->gap;
	e->files_bytes += len;
	e->files_count++;
	return 0;
}

size_t
reply_begin(struct fxp_engine *e, uint8_t type, uint32_t id)
{
	size_t pos = xbuf_len(&e->out);
	/* Room for the header is guaranteed by the reserve check before dispatch. */
	(void)xbuf_put_u32(&e->out, 0);
	(void)xbuf_put_u8(&e->out, type);
	(void)xbuf_put_u32(&e->out, id);
	return pos;
}

int
reply_end(struct fxp_engine *e, size_t pos)
{
	size_t len = xbuf_len(&e->out) - pos - 4;
	if (len > FXP_MAX_MSG) {
		reply_abort(e, pos);
		return -ENOBUFS;
	}
	return xbuf_poke_u32(&e->out, pos, (uint32_t)len);
}

void
reply_abort(struct fxp_engine *e, size_t pos)
{
	(void)xbuf_trim_tail(&e->out, xbuf_len(&e->out) - pos);
}

int
send_status_msg(struct fxp_engine *e, uint32_t id, uint32_t status, const char *msg)
{
	if (status != FX_OK && status != FX_EOF)
		fxp_log(e, LOG_LEVEL_INFO, "sent status %s", fxp_status_message(status));
	else
		fxp_log(e, LOG_LEVEL_DEBUG3, "request %u: sent status %u", id, status);
	size_t pos = reply_begin(e, FXP_STATUS, id);
	int r = xbuf_put_u32(&e->out, status);
	/* Message and language tag exist from protocol version 3 on. */
	if (r == 0 && e->client_version >= 3) {
		if ((r = xbuf_put_cstring(&e->out, msg)) == 0)
			r = xbuf_put_cstring(&e->out, "");
	}
	if (r < 0) {
		reply_abort(e, pos);
		return r;
	}
	return reply_end(e, pos);
}

int
send_status(struct fxp_engine *e, uint32_t id, uint32_t status)
{
	return send_status_msg(e, id, status, fxp_status_message(status));
}

int
send_status_errno(struct fxp_engine *e, uint32_t id, int err)
{
	return send_status_msg(e, id, fxp_status_from_errno(err), fxp_errno_message(err));
}

int
send_handle(struct fxp_engine *e, uint32_t id, uint32_t slot)
{
	uint8_t h[FXP_HANDLE_LEN];
	handle_encode(&e->handles, slot, h);
	size_t pos = reply_begin(e, FXP_HANDLE, id);
	int r = xbuf_put_string(&e->out, h, sizeof(h));
	if (r < 0) {
		reply_abort(e, pos);
		return r;
	}
	return reply_end(e, pos);
}

int
send_attrs(struct fxp_engine *e, uint32_t id, const struct vfs_attr *a)
{
	size_t pos = reply_begin(e, FXP_ATTRS, id);
	int r = attr_encode(&e->out, a);
	if (r < 0) {
		reply_abort(e, pos);
		return r;
	}
	return reply_end(e, pos);
}

int
send_name1(struct fxp_engine *e, uint32_t id, const char *name)
{
	static const struct vfs_attr empty = {0};
	size_t pos = reply_begin(e, FXP_NAME, id);
	int r;
	if ((r = xbuf_put_u32(&e->out, 1)) < 0 || (r = xbuf_put_cstring(&e->out, name)) < 0 ||
	    (r = xbuf_put_cstring(&e->out, name)) < 0 || (r = attr_encode(&e->out, &empty)) < 0) {
		reply_abort(e, pos);
		return r;
	}
	return reply_end(e, pos);
}

bool
request_permitted(struct fxp_engine *e, enum fxp_req req, const char *name, bool does_write)
{
	uint64_t bit = UINT64_C(1) << req;
	if (e->cfg.read_only && does_write) {
		fxp_log(e, LOG_LEVEL_VERBOSE, "Refusing %s request in read-only mode", name);
		return false;
	}
	if (e->cfg.denied & bit) {
		fxp_log(e, LOG_LEVEL_VERBOSE, "Refusing denylisted %s request", name);
		return false;
	}
	if (e->cfg.have_allowed) {
		if (e->cfg.allowed & bit) {
			fxp_log(e, LOG_LEVEL_DEBUG2, "Permitting allowlisted %s request", name);
			return true;
		}
		fxp_log(e, LOG_LEVEL_VERBOSE, "Refusing non-allowlisted %s request", name);
		return false;
	}
	return true;
}

static int
process_init(struct fxp_engine *e, struct xbuf *frame)
{
	uint32_t version;
	int r = xbuf_get_u32(frame, &version);
	if (r < 0)
		return FXP_E_MALFORMED;
	if (e->initialized) {
		/* INIT is accepted exactly once; a repeat has no id to answer. */
		fxp_log(e, LOG_LEVEL_ERROR, "Received repeated init request, ignored");
		return 0;
	}
	fxp_log(e, LOG_LEVEL_VERBOSE, "received client version %u", version);
	e->client_version = version;
	e->initialized = true;

	size_t pos = xbuf_len(&e->out);
	(void)xbuf_put_u32(&e->out, 0);
	(void)xbuf_put_u8(&e->out, FXP_VERSION_PKT);
	(void)xbuf_put_u32(&e->out, FXP_VERSION);
	for (size_t i = 0; i < fxp_ext_handlers_count; i++) {
		const struct fxp_handler *h = &fxp_ext_handlers[i];
		if (h->optional && !e->cfg.check_file)
			continue;
		/* Extensions refused by policy are not advertised (OpenSSH compose_extension). */
		if (!request_permitted(e, h->req, h->name, h->does_write))
			continue;
		if ((r = xbuf_put_cstring(&e->out, h->ext_name)) < 0 ||
		    (r = xbuf_put_cstring(&e->out, h->ext_version)) < 0)
			return r;
	}
	return reply_end(e, pos);
}

static int
process_extended(struct fxp_engine *e, uint32_t id, struct xbuf *frame)
{
	const uint8_t *name;
	size_t len;
	if (xbuf_get_string_direct(frame, &name, &len) < 0)
		return send_status(e, id, FX_BAD_MESSAGE);
	for (size_t i = 0; i < fxp_ext_handlers_count; i++) {
		const struct fxp_handler *h = &fxp_ext_handlers[i];
		if (strlen(h->ext_name) != len || memcmp(h->ext_name, name, len) != 0 ||
		    (h->optional && !e->cfg.check_file))
			continue;
		if (!request_permitted(e, h->req, h->name, h->does_write))
			return send_status(e, id, FX_PERMISSION_DENIED);
		return h->fn(e, id, frame);
	}
	fxp_log(e, LOG_LEVEL_ERROR, "Unknown extended request \"%.*s\"", (int)MIN(len, 100),
	        (const char *)name);
	return send_status(e, id, FX_OP_UNSUPPORTED);
}

static int
dispatch(struct fxp_engine *e, struct xbuf *frame)
{
	uint8_t type;
	uint32_t id;
	int r;

	if (xbuf_get_u8(frame, &type) < 0)
		return FXP_E_MALFORMED;
	if (type == FXP_INIT)
		return process_init(e, frame);
	if (!e->initialized) {
		fxp_log(e, LOG_LEVEL_ERROR, "Received %u request before init", type);
		return FXP_E_PROTOCOL;
	}
	if (xbuf_get_u32(frame, &id) < 0)
		return FXP_E_MALFORMED;

	size_t pos = xbuf_len(&e->out);
	if (type == FXP_EXTENDED) {
		r = process_extended(e, id, frame);
	} else {
		const struct fxp_handler *h = NULL;
		for (size_t i = 0; i < fxp_core_handlers_count; i++) {
			if (fxp_core_handlers[i].type == type) {
				h = &fxp_core_handlers[i];
				break;
			}
		}
		if (!h) {
			/* OpenSSH quirk kept on purpose: unknown types get no reply. */
			fxp_log(e, LOG_LEVEL_ERROR, "Unknown message %u", type);
			return 0;
		}
		if (!request_permitted(e, h->req, h->name, h->does_write))
			r = send_status(e, id, FX_PERMISSION_DENIED);
		else
			r = h->fn(e, id, frame);
	}
	if (r == -EBADMSG) {
		/* The frame is isolated in its view, so a malformed body cannot desync
		 * the stream: answer it and keep serving. */
		reply_abort(e, pos);
		fxp_log(e, LOG_LEVEL_ERROR, "bad message from %s local user %s (type %u)", e->peer,
		        e->user, type);
		return send_status(e, id, FX_BAD_MESSAGE);
	}
	if (r == -ENOBUFS) {
		/* A reply that would exceed the message limit. */
		reply_abort(e, pos);
		return send_status(e, id, FX_FAILURE);
	}
	return r;
}

bool
fxp_engine_has_pending(const struct fxp_engine *e)
{
	uint32_t len;
	if (xbuf_peek_u32(&e->in, &len) < 0)
		return false;
	return len > FXP_MAX_MSG || xbuf_len(&e->in) - 4 >= len;
}

static uint64_t
monotonic_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int
fxp_wait_if_throttled(struct fxp_engine *e, int r)
{
	uint64_t at;
	if (r != -EAGAIN || vfs_retry_at(e->cfg.vfs, &at) < 0)
		return r;
	e->wait_until = at ? at : 1;
	return FXP_WAIT;
}

uint64_t
fxp_engine_wait_until(const struct fxp_engine *e)
{
	return e->wait_until;
}

int
fxp_engine_process(struct fxp_engine *e)
{
	if (e->wait_until) {
		/* A request waits for bandwidth: nothing runs before its time. */
		if (monotonic_ns() < e->wait_until)
			return 0;
		e->wait_until = 0;
	}
	for (;;) {
		uint32_t len;
		if (out_avail(e) < FXP_OUT_RESERVE)
			return 0; /* backpressure: wait until the peer drains replies */
		if (xbuf_peek_u32(&e->in, &len) < 0)
			return 0;
		if (len > FXP_MAX_MSG) {
			fxp_log(e, LOG_LEVEL_ERROR, "bad message from %s local user %s", e->peer,
			        e->user);
			return FXP_E_OVERSIZE;
		}
		if (xbuf_len(&e->in) - 4 < len)
			return 0;
		if (len < 5) {
			fxp_log(e, LOG_LEVEL_ERROR, "bad message from %s local user %s", e->peer,
			        e->user);
			return FXP_E_MALFORMED;
		}
		/* While file segments wait, only READs go on: anything else could change or
		 * close a file whose data is still to be sent after it. */
		if (e->files_count > 0 && xbuf_ptr(&e->in)[4] != FXP_READ)
			return 0;
		/* The frame is parsed in a view and consumed only once handled: a request
		 * told to wait (FXP_WAIT) stays queued, whole, for its retry. */
		struct xbuf frame;
		(void)xbuf_peek_view(&e->in, 4, len, &frame);
		int r = dispatch(e, &frame);
		if (r < 0)
			return r;
		if (r == FXP_WAIT)
			return 0;
		(void)xbuf_consume(&e->in, 4 + (size_t)len);
		if (xbuf_len(&frame) > 0)
			fxp_log(e, LOG_LEVEL_DEBUG1, "request has %zu bytes of trailing data",
			        xbuf_len(&frame));
		/* The frame view points into the input queue: release it only now. */
		if (xbuf_len(&e->in) == 0)
			xbuf_reset(&e->in);
	}
}
