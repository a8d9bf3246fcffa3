/* SPDX-License-Identifier: BSD-2-Clause */
/* Monitor socketpair transport and the network child's request helpers. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>
#include <grp.h>

#include "berth/buf.h"
#include "berth/common.h"
#include "berth/priv.h"
#include "berth/xmem.h"

int
mon_send_fds(int sock, const void *data, size_t len, const int *fds, size_t nfds)
{
	struct iovec iov = {.iov_base = (void *)data, .iov_len = len};
	union {
		char buf[CMSG_SPACE(sizeof(int) * MON_MAX_FDS)];
		struct cmsghdr align;
	} u;
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
	if (len > MON_MSG_MAX || nfds > MON_MAX_FDS)
		return -EMSGSIZE;
	if (nfds > 0) {
		memset(&u, 0, sizeof(u));
		mh.msg_control = u.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
	}
	for (;;) {
		ssize_t n = sendmsg(sock, &mh, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		return (size_t)n == len ? 0 : -EIO;
	}
}

int
mon_send(int sock, const void *data, size_t len, int fd_to_pass)
{
	return mon_send_fds(sock, data, len, &fd_to_pass, fd_to_pass >= 0 ? 1 : 0);
}

ssize_t
mon_recv_fds(int sock, void *buf, size_t cap, int flags, int *fds, size_t max_fds, size_t *ret_nfds)
{
	struct iovec iov = {.iov_base = buf, .iov_len = cap};
	union {
		char buf[CMSG_SPACE(sizeof(int) * MON_MAX_FDS)];
		struct cmsghdr align;
	} u;
	struct msghdr mh = {.msg_iov = &iov,
	                    .msg_iovlen = 1,
	                    .msg_control = u.buf,
	                    .msg_controllen = sizeof(u.buf)};
	*ret_nfds = 0;
	ssize_t n;
	do
		n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC | flags);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	size_t got = 0;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < k; i++) {
			int fd;
			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (got < max_fds)
				fds[got++] = fd;
			else
				close(fd); /* more than the caller takes: never leaked */
		}
	}
	if (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC) || got > max_fds) {
		for (size_t i = 0; i < got; i++)
			close(fds[i]);
		return -EMSGSIZE;
	}
	*ret_nfds = got;
	return n;
}

ssize_t
mon_recv(int sock, void *buf, size_t cap, int *ret_fd)
{
	int fds[MON_MAX_FDS];
	size_t nfds;
	*ret_fd = -1;
	ssize_t n = mon_recv_fds(sock, buf, cap, 0, fds, ARRAY_SIZE(fds), &nfds);
	if (n < 0)
		return n;
	/* One descriptor at most in the monitor protocol: extra ones are dropped. */
	for (size_t i = 0; i < nfds; i++) {
		if (i == 0)
			*ret_fd = fds[0];
		else
			close(fds[i]);
	}
	return n;
}

/* Send @req, wait for the reply, parse an auth answer. */
static int
transact(int sock, struct xbuf *req, struct xbuf *reply_storage, uint8_t *buf, size_t cap)
{
	int r = mon_send(sock, xbuf_ptr(req), xbuf_len(req), -1);
	if (r < 0)
		return r;
	int fd;
	ssize_t n = mon_recv(sock, buf, cap, &fd);
	if (fd >= 0)
		close(fd);
	if (n <= 0)
		return n == 0 ? -ECONNRESET : (int)n;
	xbuf_view_init(reply_storage, buf, (size_t)n);
	return 0;
}

static int
parse_answer(struct xbuf *rep, struct mon_answer *ret)
{
	uint8_t res;
	uint32_t methods;
	if (xbuf_get_u8(rep, &res) < 0 || xbuf_get_u32(rep, &methods) < 0 ||
	    res > MON_AUTH_DISCONNECT)
		return -EBADMSG;
	ret->result = (enum mon_auth_result)res;
	ret->methods = methods;
	return 0;
}

int
mon_ask_pubkey(int sock, const char *user, const uint8_t *blob, size_t len, enum mon_pk_state state,
               struct mon_answer *ret)
{
	_cleanup_xbuf_ struct xbuf req = XBUF_NULL;
	struct xbuf rep;
	uint8_t buf[256];
	xbuf_init(&req, MON_MSG_MAX);
	if (xbuf_put_u8(&req, MON_REQ_PUBKEY) < 0 || xbuf_put_cstring(&req, user) < 0 ||
	    xbuf_put_u8(&req, (uint8_t)state) < 0 || xbuf_put_string(&req, blob, len) < 0)
		return -ENOBUFS;
	int r = transact(sock, &req, &rep, buf, sizeof(buf));
	return r < 0 ? r : parse_answer(&rep, ret);
}

int
mon_ask_password(int sock, const char *user, const char *password, struct mon_answer *ret)
{
	_cleanup_xbuf_ struct xbuf req = XBUF_NULL;
	struct xbuf rep;
	uint8_t buf[256];
	xbuf_init(&req, MON_MSG_MAX);
	if (xbuf_put_u8(&req, MON_REQ_PASSWORD) < 0 || xbuf_put_cstring(&req, user) < 0 ||
	    xbuf_put_cstring(&req, password) < 0)
		return -ENOBUFS;
	int r = transact(sock, &req, &rep, buf, sizeof(buf));
	xbuf_deinit(&req); /* wipe the password copy early */
	return r < 0 ? r : parse_answer(&rep, ret);
}

void
mon_kbdint_clear(struct mon_kbdint *k)
{
	for (uint32_t i = 0; i < k->n && i < MON_KBDINT_MAX_PROMPTS; i++)
		free(k->text[i]);
	memset(k, 0, sizeof(*k));
}

static int
parse_kbdint(struct xbuf *rep, struct mon_kbdint *ret)
{
	struct mon_kbdint k = {0};
	uint8_t more;
	if (parse_answer(rep, &k.ans) < 0 || xbuf_get_u8(rep, &more) < 0)
		return -EBADMSG;
	if (more) {
		uint32_t n;
		if (xbuf_get_u32(rep, &n) < 0 || n == 0 || n > MON_KBDINT_MAX_PROMPTS)
			return -EBADMSG;
		for (uint32_t i = 0; i < n; i++) {
			if (xbuf_get_cstring(rep, &k.text[i], 1024) < 0 ||
			    xbuf_get_u8(rep, &k.kind[i]) < 0) {
				k.n = i + 1;
				mon_kbdint_clear(&k);
				return -EBADMSG;
			}
		}
		k.n = n;
	}
	*ret = k;
	return 0;
}

int
mon_ask_kbdint_query(int sock, const char *user, struct mon_kbdint *ret)
{
	_cleanup_xbuf_ struct xbuf req = XBUF_NULL;
	struct xbuf rep;
	uint8_t *buf = xmalloc(MON_MSG_MAX);
	xbuf_init(&req, MON_MSG_MAX);
	int r = -ENOBUFS;
	if (xbuf_put_u8(&req, MON_REQ_KBDINT_QUERY) == 0 && xbuf_put_cstring(&req, user) == 0)
		r = transact(sock, &req, &rep, buf, MON_MSG_MAX);
	if (r == 0)
		r = parse_kbdint(&rep, ret);
	free(buf);
	return r;
}

int
mon_ask_kbdint_answer(int sock, const char *user, const char *const *answers, uint32_t n,
                      struct mon_kbdint *ret)
{
	_cleanup_xbuf_ struct xbuf req = XBUF_NULL;
	struct xbuf rep;
	xbuf_init(&req, MON_MSG_MAX);
	if (xbuf_put_u8(&req, MON_REQ_KBDINT_ANSWER) < 0 || xbuf_put_cstring(&req, user) < 0 ||
	    xbuf_put_u32(&req, n) < 0)
		return -ENOBUFS;
	for (uint32_t i = 0; i < n; i++)
		if (xbuf_put_cstring(&req, answers[i] ? answers[i] : "") < 0)
			return -ENOBUFS;
	uint8_t *buf = xmalloc(MON_MSG_MAX);
	int r = transact(sock, &req, &rep, buf, MON_MSG_MAX);
	xbuf_deinit(&req);
	if (r == 0)
		r = parse_kbdint(&rep, ret);
	free(buf);
	return r;
}

static int spawn_request(int sock, const struct xbuf *req, int *ret_fd, uint32_t *ret_id);

int
mon_ask_spawn_worker(int sock, const char *scp_command, int *ret_fd, uint32_t *ret_id)
{
	_cleanup_xbuf_ struct xbuf req = XBUF_NULL;
	xbuf_init(&req, MON_MSG_MAX);
	if (xbuf_put_u8(&req, MON_REQ_SPAWN_WORKER) < 0 ||
	    (scp_command &&
	     (xbuf_put_u8(&req, MON_SESSION_SCP) < 0 || xbuf_put_cstring(&req, scp_command) < 0)))
		return -ENOBUFS;
	return spawn_request(sock, &req, ret_fd, ret_id);
}

int
mon_ask_ftp_worker(int sock, bool tls, int *ret_fd)
{
	uint8_t req[2] = {MON_REQ_SPAWN_WORKER, tls ? MON_SESSION_FTPS : MON_SESSION_FTP};
	struct xbuf v;
	uint32_t id;
	xbuf_view_init(&v, req, sizeof(req));
	return spawn_request(sock, &v, ret_fd, &id);
}

/* Send a SPAWN_WORKER request and take the worker's socket from the answer. */
static int
spawn_request(int sock, const struct xbuf *req, int *ret_fd, uint32_t *ret_id)
{
	uint8_t buf[16];
	int r = mon_send(sock, xbuf_ptr(req), xbuf_len(req), -1);
	if (r < 0)
		return r;
	int fd;
	ssize_t n = mon_recv(sock, buf, sizeof(buf), &fd);
	if (n <= 0)
		return n == 0 ? -ECONNRESET : (int)n;
	struct xbuf rep;
	uint8_t ok;
	uint32_t id;
	xbuf_view_init(&rep, buf, (size_t)n);
	if (xbuf_get_u8(&rep, &ok) < 0 || ok != 1 || xbuf_get_u32(&rep, &id) < 0 || fd < 0) {
		if (fd >= 0)
			close(fd);
		return -EPERM;
	}
	*ret_fd = fd;
	*ret_id = id;
	return 0;
}

int
mon_ask_session_end(int sock, uint32_t id, uint32_t *ret_status)
{
	_cleanup_xbuf_ struct xbuf req = XBUF_NULL;
	struct xbuf rep;
	uint8_t buf[16], known;
	uint32_t status;
	xbuf_init(&req, 16);
	if (xbuf_put_u8(&req, MON_REQ_SESSION_END) < 0 || xbuf_put_u32(&req, id) < 0)
		return -ENOBUFS;
	int r = transact(sock, &req, &rep, buf, sizeof(buf));
	if (r < 0)
		return r;
	if (xbuf_get_u8(&rep, &known) < 0 || xbuf_get_u32(&rep, &status) < 0)
		return -EBADMSG;
	if (!known)
		return 1;
	*ret_status = status;
	return 0;
}

void
mon_note(int sock, int level, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	_cleanup_xbuf_ struct xbuf req = XBUF_NULL;
	xbuf_init(&req, MON_MSG_MAX);
	if (xbuf_put_u8(&req, MON_REQ_NOTE) < 0 || xbuf_put_u8(&req, (uint8_t)level) < 0 ||
	    xbuf_put_cstring(&req, line) < 0)
		return;
	(void)mon_send(sock, xbuf_ptr(&req), xbuf_len(&req), -1);
}

int
priv_drop_to(uid_t uid, gid_t gid, const gid_t *groups, size_t ngroups)
{
	if (setgroups(ngroups, groups) < 0)
		return -errno;
	if (setresgid(gid, gid, gid) < 0)
		return -errno;
	if (setresuid(uid, uid, uid) < 0)
		return -errno;
	uid_t ru, eu, su;
	gid_t rg, eg, sg;
	if (getresuid(&ru, &eu, &su) < 0 || getresgid(&rg, &eg, &sg) < 0)
		return -errno;
	if (ru != uid || eu != uid || su != uid || rg != gid || eg != gid || sg != gid)
		return -EPERM;
	/* Regaining root must be impossible. */
	if (uid != 0 && (setuid(0) == 0 || seteuid(0) == 0))
		return -EPERM;
	return 0;
}

void
priv_harden_process(void)
{
	(void)prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
	(void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	struct rlimit rl = {0, 0};
	(void)setrlimit(RLIMIT_CORE, &rl);
}
