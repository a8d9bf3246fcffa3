/* SPDX-License-Identifier: BSD-2-Clause */
/* berthctl: work inside an account's jail as the account (a forked child with exactly
 * the account's uid, gid and groups, as a session's worker has them). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "berth/account.h"
#include "berth/buf.h"
#include "berth/common.h"
#include "berth/priv.h"
#include "berth/vfs.h"
#include "berth/xmem.h"
#include "ctl.h"

enum { CHILD_RAN = 0, CHILD_SETUP_FAILED = 1 };

/* The child: become the account, open the jail, run @fn, send the answer, exit. */
static _noreturn_ void
child(int sock, const struct berth_config *cfg, const struct berth_account *a,
      int (*fn)(struct vfs *v, void *ctx, struct xbuf *out), void *ctx)
{
	_cleanup_xbuf_ struct xbuf msg = XBUF_NULL, out = XBUF_NULL;
	uint32_t status = CHILD_RAN, err = 0;
	const char *stage = "";
	struct vfs *v = NULL;
	int r = 0;

	xbuf_init(&msg, MON_MSG_MAX);
	xbuf_init(&out, CTL_AS_ACCOUNT_MAX);
	if (geteuid() == 0 && (r = priv_drop_to(a->uid, a->gid, a->groups, a->n_groups)) < 0)
		stage = "cannot switch to the account's uid, gid and groups";
	if (r == 0) {
		priv_harden_process();
		r = vfs_posix_new(a->root, a->start_dir ? a->start_dir : "/", cfg->umask, &v);
		if (r < 0)
			stage = "cannot open the jail";
	}
	if (r < 0) {
		status = CHILD_SETUP_FAILED;
	} else {
		r = fn(v, ctx, &out);
		if (r < 0)
			xbuf_reset(&out);
	}
	err = r < 0 ? (uint32_t)-r : 0;
	vfs_free(v);
	if (xbuf_put_u32(&msg, status) < 0 || xbuf_put_u32(&msg, err) < 0 ||
	    xbuf_put_cstring(&msg, stage) < 0 || xbuf_put(&msg, xbuf_ptr(&out), xbuf_len(&out)) < 0)
		_exit(1);
	_exit(mon_send(sock, xbuf_ptr(&msg), xbuf_len(&msg), -1) < 0 ? 1 : 0);
}

int
ctl_as_account(const struct berth_config *cfg, const struct berth_account *a,
               int (*fn)(struct vfs *v, void *ctx, struct xbuf *out), void *ctx, struct xbuf *ret)
{
	if (geteuid() == 0 && a->uid == 0) {
		ctl_err("%s runs as uid 0; berthd never runs a session as root", a->name);
		return 1;
	}
	if (geteuid() != 0 && geteuid() != a->uid) {
		ctl_err("only root can act as %s (uid %u)", a->name, (unsigned)a->uid);
		return 1;
	}
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		ctl_err("socketpair: %s", strerror(errno));
		return 1;
	}
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		ctl_err("fork: %s", strerror(errno));
		close(sv[0]);
		close(sv[1]);
		return 1;
	}
	if (pid == 0) {
		close(sv[0]);
		child(sv[1], cfg, a, fn, ctx);
	}
	close(sv[1]);
	static uint8_t buf[MON_MSG_MAX];
	int fd = -1;
	ssize_t n = mon_recv(sv[0], buf, sizeof(buf), &fd);
	close(sv[0]);
	if (fd >= 0)
		close(fd);
	int status;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	struct xbuf msg;
	uint32_t kind, err;
	_cleanup_free_ char *stage = NULL;
	xbuf_view_init(&msg, buf, n > 0 ? (size_t)n : 0);
	if (n <= 0 || xbuf_get_u32(&msg, &kind) < 0 || xbuf_get_u32(&msg, &err) < 0 ||
	    xbuf_get_cstring(&msg, &stage, 256) < 0 || err > 4095) {
		ctl_err("the process acting as %s ended without an answer", a->name);
		return 1;
	}
	if (kind != CHILD_RAN) {
		ctl_err("%s (uid %u, jail %s): %s: %s", a->name, (unsigned)a->uid, a->root, stage,
		        strerror((int)err));
		return 1;
	}
	if (err == 0 && xbuf_put(ret, xbuf_ptr(&msg), xbuf_len(&msg)) < 0) {
		ctl_err("the answer of the process acting as %s is too long", a->name);
		return 1;
	}
	return -(int)err;
}
