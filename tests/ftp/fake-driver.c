/* SPDX-License-Identifier: BSD-2-Clause */
/* In-memory FTP driver and fault-injecting VFS for the engine's tests and fuzzer. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "berth/common.h"
#include "berth/xmem.h"
#include "fake-driver.h"

#define RETRY_LIMIT 1000

void
fake_init(struct fake_driver *d, struct ftp_engine *e)
{
	*d = (struct fake_driver){.e = e, .chunk = 4096};
	xbuf_init(&d->replies, 16 << 20);
	xbuf_init(&d->download, 64 << 20);
	struct sockaddr_in *a = (struct sockaddr_in *)&d->announce;
	a->sin_family = AF_INET;
	a->sin_port = htons(50000);
	a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
}

void
fake_deinit(struct fake_driver *d)
{
	xbuf_deinit(&d->replies);
	xbuf_deinit(&d->download);
}

static void
drain(struct fake_driver *d)
{
	size_t n;
	const uint8_t *p = ftp_engine_output(d->e, &n);
	if (n == 0)
		return;
	if (xbuf_put(&d->replies, p, n) < 0)
		xbuf_reset(&d->replies); /* a fuzzer's endless replies: keep memory flat */
	ftp_engine_output_consume(d->e, n);
}

static void
run_send(struct fake_driver *d)
{
	size_t cap = d->chunk ? d->chunk : 1;
	uint8_t *buf = xmalloc(cap);
	int r = 0;
	for (unsigned spins = 0;;) {
		size_t n = 0;
		r = ftp_engine_data_produce(d->e, buf, cap, &n);
		if (r == -EAGAIN) {
			d->n_eagain++;
			if (++spins > RETRY_LIMIT) {
				r = -ETIMEDOUT;
				break;
			}
			continue;
		}
		if (r < 0 || n == 0)
			break;
		if (xbuf_put(&d->download, buf, n) < 0)
			xbuf_reset(&d->download);
	}
	free(buf);
	d->last_done = r;
	for (unsigned spins = 0; ftp_engine_data_done(d->e, r) == -EAGAIN && spins < RETRY_LIMIT;
	     spins++)
		d->n_eagain++;
}

static void
run_recv(struct fake_driver *d)
{
	size_t off = 0, cap = d->chunk ? d->chunk : 1;
	int r = 0;
	unsigned spins = 0;
	while (off < d->upload_len) {
		size_t used = 0, n = MIN(cap, d->upload_len - off);
		r = ftp_engine_data_consume(d->e, d->upload + off, n, &used);
		if (r == -EAGAIN || (r == 0 && used == 0)) {
			d->n_eagain += r == -EAGAIN;
			if (++spins > RETRY_LIMIT) {
				r = -ETIMEDOUT;
				break;
			}
			r = 0;
			continue;
		}
		if (r < 0)
			break;
		off += used;
	}
	d->last_done = r;
	while (ftp_engine_data_done(d->e, r) == -EAGAIN) {
		d->n_eagain++;
		if (++spins > RETRY_LIMIT)
			r = -ETIMEDOUT;
	}
}

static void
execute(struct fake_driver *d, const struct ftp_action *a)
{
	d->n_actions++;
	switch (a->type) {
	case FTP_ACT_START_TLS:
	case FTP_ACT_CCC:
		(void)ftp_engine_tls_done(d->e, d->tls_result);
		break;
	case FTP_ACT_LOGIN:
		snprintf(d->user, sizeof(d->user), "%s", a->user);
		snprintf(d->password, sizeof(d->password), "%s", a->password);
		(void)ftp_engine_login_done(d->e, d->login_result);
		break;
	case FTP_ACT_HANDOFF:
		d->handed_off = true;
		break;
	case FTP_ACT_CLOSE:
		d->closed = true;
		break;
	case FTP_ACT_PASV_LISTEN: {
		struct sockaddr_storage ann = d->announce;
		if (a->family == AF_INET6 && ann.ss_family == AF_INET) {
			struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ann;
			uint16_t port = ((struct sockaddr_in *)&d->announce)->sin_port;
			memset(&ann, 0, sizeof(ann));
			s6->sin6_family = AF_INET6;
			s6->sin6_port = port;
			s6->sin6_addr = in6addr_loopback;
		}
		(void)ftp_engine_pasv_done(d->e, d->pasv_result, (struct sockaddr *)&ann);
		break;
	}
	case FTP_ACT_DATA_OPEN:
		d->last_open = *a;
		(void)ftp_engine_data_open_done(d->e, d->open_result);
		break;
	case FTP_ACT_DATA_SEND:
		run_send(d);
		break;
	case FTP_ACT_DATA_RECV:
		run_recv(d);
		break;
	case FTP_ACT_DATA_ABORT:
		d->last_done = FTP_DATA_E_ABORTED;
		(void)ftp_engine_data_done(d->e, FTP_DATA_E_ABORTED);
		break;
	case FTP_ACT_NONE:
		break;
	}
}

int
fake_run(struct fake_driver *d, const void *data, size_t len)
{
	const uint8_t *p = data;
	size_t off = 0;
	for (unsigned guard = 0; guard < 1000000; guard++) {
		size_t room = ftp_engine_input_room(d->e);
		size_t n = MIN(room, len - off);
		if (d->feed_chunk)
			n = MIN(n, d->feed_chunk);
		if (n > 0) {
			if (ftp_engine_feed(d->e, p + off, n) < 0)
				return -ENOBUFS;
			off += n;
		}
		int r = ftp_engine_process(d->e);
		if (r < 0)
			return r;
		drain(d);
		if (d->closed || d->handed_off)
			return 0;
		struct ftp_action a;
		if (ftp_engine_next_action(d->e, &a)) {
			execute(d, &a);
			drain(d);
			continue;
		}
		if (off == len && n == 0)
			return 0;
	}
	return -ELOOP;
}

int
fake_run_str(struct fake_driver *d, const char *s)
{
	return fake_run(d, s, strlen(s));
}

char *
fake_take_replies(struct fake_driver *d)
{
	char *s = xstrndup((const char *)xbuf_ptr(&d->replies), xbuf_len(&d->replies));
	xbuf_reset(&d->replies);
	return s;
}

/* ---- fault-injecting VFS ---- */

struct fault_file {
	struct vfs_file base;
	struct vfs_file *inner;
};

static struct fault_vfs *
to_fault(struct vfs *v)
{
	return (struct fault_vfs *)v;
}

static int
f_open(struct vfs *v, const char *path, unsigned flags, uint32_t mode, struct vfs_file **ret)
{
	struct vfs_file *in;
	int r = vfs_open(to_fault(v)->inner, path, flags, mode, &in);
	if (r < 0)
		return r;
	struct fault_file *f = xcalloc(1, sizeof(*f));
	f->base.vfs = v;
	f->inner = in;
	*ret = &f->base;
	return 0;
}

static int
f_pread(struct vfs_file *vf, void *buf, size_t len, uint64_t off, size_t *ret_n)
{
	struct fault_vfs *fv = to_fault(vf->vfs);
	if (fv->eagain_reads) {
		fv->eagain_reads--;
		return -EAGAIN;
	}
	return vfs_pread(((struct fault_file *)vf)->inner, buf, len, off, ret_n);
}

static int
f_pwrite(struct vfs_file *vf, const void *buf, size_t len, uint64_t off, size_t *ret_n)
{
	struct fault_vfs *fv = to_fault(vf->vfs);
	if (fv->eagain_writes) {
		fv->eagain_writes--;
		return -EAGAIN;
	}
	if (fv->write_errno) {
		if (fv->written >= fv->write_limit)
			return -fv->write_errno;
		len = (size_t)MIN((uint64_t)len, fv->write_limit - fv->written);
	}
	int r = vfs_pwrite(((struct fault_file *)vf)->inner, buf, len, off, ret_n);
	if (r == 0)
		fv->written += *ret_n;
	return r;
}

static int
f_fstat(struct vfs_file *vf, struct vfs_attr *ret)
{
	return vfs_fstat(((struct fault_file *)vf)->inner, ret);
}

static int
f_fsetattr(struct vfs_file *vf, const struct vfs_attr *a)
{
	return vfs_fsetattr(((struct fault_file *)vf)->inner, a);
}

static int
f_close(struct vfs_file *vf)
{
	int r = vfs_close(((struct fault_file *)vf)->inner);
	free(vf);
	return r;
}

/* Path operations go straight to the inner VFS (directories keep the inner vfs). */
#define INNER(v) (to_fault(v)->inner)
static int
f_stat(struct vfs *v, const char *p, bool follow, struct vfs_attr *ret)
{
	return vfs_stat(INNER(v), p, follow, ret);
}
static int
f_setattr(struct vfs *v, const char *p, bool follow, const struct vfs_attr *a)
{
	return vfs_setattr(INNER(v), p, follow, a);
}
static int
f_opendir(struct vfs *v, const char *p, struct vfs_dir **ret)
{
	return vfs_opendir(INNER(v), p, ret);
}
static int
f_mkdir(struct vfs *v, const char *p, uint32_t mode)
{
	return vfs_mkdir(INNER(v), p, mode);
}
static int
f_rmdir(struct vfs *v, const char *p)
{
	return vfs_rmdir(INNER(v), p);
}
static int
f_remove(struct vfs *v, const char *p)
{
	return vfs_remove(INNER(v), p);
}
static int
f_rename(struct vfs *v, const char *a, const char *b, unsigned flags)
{
	return vfs_rename(INNER(v), a, b, flags);
}
static int
f_readlink(struct vfs *v, const char *p, char **ret)
{
	return vfs_readlink(INNER(v), p, ret);
}
static int
f_realpath(struct vfs *v, const char *p, char **ret)
{
	return vfs_realpath(INNER(v), p, ret);
}
static int
f_chdir(struct vfs *v, const char *p)
{
	return vfs_chdir(INNER(v), p);
}

static int
f_retry_at(struct vfs *v, uint64_t *ret_ns)
{
	struct fault_vfs *f = to_fault(v);
	if (f->no_retry_at)
		return -ENOSYS;
	f->retry_calls++;
	*ret_ns = 123456789ull * 1000000u;
	return 0;
}

static const struct vfs_ops fault_ops = {
        .open = f_open,
        .pread = f_pread,
        .pwrite = f_pwrite,
        .fstat = f_fstat,
        .fsetattr = f_fsetattr,
        .close = f_close,
        .stat = f_stat,
        .setattr = f_setattr,
        .opendir = f_opendir,
        .mkdir = f_mkdir,
        .rmdir = f_rmdir,
        .remove = f_remove,
        .rename = f_rename,
        .readlink = f_readlink,
        .realpath = f_realpath,
        .chdir = f_chdir,
        .retry_at = f_retry_at,
};

void
fault_vfs_init(struct fault_vfs *f, struct vfs *inner)
{
	*f = (struct fault_vfs){.base = {.ops = &fault_ops}, .inner = inner};
}
