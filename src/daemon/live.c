/* SPDX-License-Identifier: BSD-2-Clause */
/* Live state producers: the monitor's records to the master, the worker's status page. */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "berth/buf.h"
#include "berth/common.h"
#include "berth/control.h"
#include "berth/priv.h"
#include "berth/vfs.h"

/* ---- monitor -> master ---- */

static void
send_record(int fd, struct xbuf *b, int pass_fd)
{
	if (fd >= 0)
		(void)mon_send(fd, xbuf_ptr(b), xbuf_len(b), pass_fd);
}

void
conn_report_auth(int fd, const char *account)
{
	_cleanup_xbuf_ struct xbuf b = XBUF_NULL;
	xbuf_init(&b, CONN_MSG_MAX);
	if (xbuf_put_u8(&b, CONN_MSG_AUTH) == 0 && xbuf_put_cstring(&b, account) == 0)
		send_record(fd, &b, -1);
}

void
conn_report_event(int fd, enum defender_event ev)
{
	_cleanup_xbuf_ struct xbuf b = XBUF_NULL;
	xbuf_init(&b, CONN_MSG_MAX);
	if (xbuf_put_u8(&b, CONN_MSG_EVENT) == 0 && xbuf_put_u8(&b, (uint8_t)ev) == 0)
		send_record(fd, &b, -1);
}

void
conn_report_session(int fd, uint32_t id, enum live_kind kind, int status_fd)
{
	_cleanup_xbuf_ struct xbuf b = XBUF_NULL;
	xbuf_init(&b, CONN_MSG_MAX);
	if (xbuf_put_u8(&b, CONN_MSG_SESSION) == 0 && xbuf_put_u32(&b, id) == 0 &&
	    xbuf_put_u8(&b, (uint8_t)kind) == 0)
		send_record(fd, &b, status_fd);
}

void
conn_report_end(int fd, uint32_t id)
{
	_cleanup_xbuf_ struct xbuf b = XBUF_NULL;
	xbuf_init(&b, CONN_MSG_MAX);
	if (xbuf_put_u8(&b, CONN_MSG_END) == 0 && xbuf_put_u32(&b, id) == 0)
		send_record(fd, &b, -1);
}

/* ---- the status page ---- */

#define PAGE_LEN 4096
_Static_assert(sizeof(struct live_status) <= PAGE_LEN, "status page too large");

int
live_status_create(void)
{
	int fd = memfd_create("berth-live", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return -errno;
	struct live_status st = {.magic = LIVE_MAGIC};
	/* Sealed at its size: the worker can write its page, never shrink it under the
	 * master's read-only mapping (SIGBUS) nor grow it. */
	if (ftruncate(fd, PAGE_LEN) < 0 || pwrite(fd, &st, sizeof(st), 0) != (ssize_t)sizeof(st) ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	return fd;
}

struct live_worker {
	struct live_status *page;
	struct vfs_file *cur; /* the open file shown as current */
};

static struct live_worker live_worker;
static struct vfs_observer live_observer;

static void
page_begin(struct live_status *p)
{
	atomic_fetch_add_explicit((_Atomic uint32_t *)&p->seq, 1, memory_order_acq_rel);
}

static void
page_end(struct live_status *p)
{
	atomic_fetch_add_explicit((_Atomic uint32_t *)&p->seq, 1, memory_order_release);
}

static void
live_opened(void *ud, struct vfs_file *f, const char *path)
{
	struct live_worker *w = ud;
	w->cur = f;
	page_begin(w->page);
	size_t n = strnlen(path, LIVE_FILE_MAX - 1);
	memcpy(w->page->file, path, n);
	w->page->file[n] = '\0';
	page_end(w->page);
}

static void
live_closed(void *ud, struct vfs_file *f)
{
	struct live_worker *w = ud;
	if (w->cur != f)
		return;
	w->cur = NULL;
	page_begin(w->page);
	w->page->file[0] = '\0';
	page_end(w->page);
}

static void
live_moved(void *ud, bool in, size_t n)
{
	struct live_worker *w = ud;
	page_begin(w->page);
	if (in)
		w->page->bytes_in += n;
	else
		w->page->bytes_out += n;
	page_end(w->page);
}

int
live_status_attach(int fd, struct vfs *top)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode) || st.st_size != PAGE_LEN)
		return -EINVAL;
	void *p = mmap(NULL, PAGE_LEN, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	int e = errno;
	close(fd);
	if (p == MAP_FAILED)
		return -e;
	live_worker = (struct live_worker){.page = p};
	live_observer = (struct vfs_observer){.top = top,
	                                      .opened = live_opened,
	                                      .closed = live_closed,
	                                      .moved = live_moved,
	                                      .userdata = &live_worker};
	vfs_set_observer(&live_observer);
	return 0;
}
