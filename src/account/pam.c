/* SPDX-License-Identifier: BSD-2-Clause */
/* PAM in a helper process: the blocking conversation is relayed over a socketpair
 * (OpenSSH auth-pam.c pattern), so the daemon drives it as a state machine. The helper
 * keeps the PAM handle for pam_open_session/pam_close_session after authentication. */
#include <poll.h>
#include <security/pam_appl.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>

#include "berth/account.h"
#include "berth/buf.h"
#include "berth/common.h"
#include "berth/xmem.h"

#define PAM_MSG_MAX     65536
#define PAM_PROMPTS_MAX 32
#define PAM_TEXT_MAX    4096

/* Wire message types (helper <-> daemon), one SOCK_SEQPACKET record each. */
enum {
	MSG_PROMPTS = 1,  /* helper: u32 n, n * (u8 style, string text) */
	MSG_ANSWERS,      /* daemon: u32 n, n * (u8 present, string answer) */
	MSG_RESULT,       /* helper: u32 result (BERTH_PAM_SUCCESS / _E_*) */
	MSG_OPEN_SESSION, /* daemon: no body; helper answers MSG_RESULT */
	MSG_END,          /* daemon: no body; helper closes the session, pam_end, exits */
};

enum pam_state {
	ST_RUNNING,  /* waiting for the helper's next event */
	ST_PROMPTED, /* a batch is outstanding */
	ST_DONE,     /* final result received */
};

struct berth_pam {
	pid_t pid;
	int fd;
	enum pam_state state;
	size_t pending_n;
	int result;
};

void
berth_pam_prompts_free(struct berth_pam_prompts *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n; i++)
		free(p->v[i].text);
	free(p->v);
	*p = (struct berth_pam_prompts){0};
}

static int
send_buf(int fd, const struct xbuf *b)
{
	ssize_t n;

	do
		n = send(fd, xbuf_ptr(b), xbuf_len(b), MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return (size_t)n == xbuf_len(b) ? 0 : -EIO;
}

/* Receive one record into @b (owned, wiped by the caller's deinit). */
static int
recv_buf(int fd, struct xbuf *b)
{
	uint8_t *p;
	ssize_t n;
	int r;

	xbuf_reset(b);
	r = xbuf_reserve(b, PAM_MSG_MAX, &p);
	if (r < 0)
		return r;
	do
		n = recv(fd, p, PAM_MSG_MAX, MSG_TRUNC);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		r = -errno;
		(void)xbuf_trim_tail(b, PAM_MSG_MAX);
		return r;
	}
	if (n == 0) {
		(void)xbuf_trim_tail(b, PAM_MSG_MAX);
		return -EPIPE;
	}
	if ((size_t)n > PAM_MSG_MAX) {
		(void)xbuf_trim_tail(b, PAM_MSG_MAX);
		return -EPROTO;
	}
	return xbuf_trim_tail(b, PAM_MSG_MAX - (size_t)n);
}

/* ---- helper (child) side ---- */

struct helper {
	int fd;
};

static int
helper_conv(int num_msg, const struct pam_message **msg, struct pam_response **resp, void *data)
{
	struct helper *h = data;
	_cleanup_xbuf_ struct xbuf b = XBUF_NULL;
	struct pam_response *out = NULL;
	uint32_t n;
	uint8_t type;

	*resp = NULL;
	if (num_msg <= 0 || num_msg > PAM_PROMPTS_MAX)
		return PAM_CONV_ERR;
	xbuf_init(&b, PAM_MSG_MAX);
	if (xbuf_put_u8(&b, MSG_PROMPTS) < 0 || xbuf_put_u32(&b, (uint32_t)num_msg) < 0)
		return PAM_CONV_ERR;
	for (int i = 0; i < num_msg; i++) {
		const char *text = msg[i]->msg ? msg[i]->msg : "";
		size_t len = strnlen(text, PAM_TEXT_MAX);

		if (xbuf_put_u8(&b, (uint8_t)msg[i]->msg_style) < 0 ||
		    xbuf_put_string(&b, text, len) < 0)
			return PAM_CONV_ERR;
	}
	if (send_buf(h->fd, &b) < 0 || recv_buf(h->fd, &b) < 0)
		return PAM_CONV_ERR;
	if (xbuf_get_u8(&b, &type) < 0 || type != MSG_ANSWERS || xbuf_get_u32(&b, &n) < 0 ||
	    n != (uint32_t)num_msg)
		return PAM_CONV_ERR;
	out = xcalloc((size_t)num_msg, sizeof(*out));
	for (int i = 0; i < num_msg; i++) {
		uint8_t present;
		char *s = NULL;

		if (xbuf_get_u8(&b, &present) < 0 || xbuf_get_cstring(&b, &s, PAM_TEXT_MAX) < 0)
			goto fail;
		if (present && (msg[i]->msg_style == PAM_PROMPT_ECHO_OFF ||
		                msg[i]->msg_style == PAM_PROMPT_ECHO_ON))
			out[i].resp = s;
		else
			freezero(s, strlen(s));
	}
	*resp = out;
	return PAM_SUCCESS;
fail:
	for (int i = 0; i < num_msg; i++)
		if (out[i].resp)
			freezero(out[i].resp, strlen(out[i].resp));
	free(out);
	return PAM_CONV_ERR;
}

static void
helper_send_result(int fd, uint32_t result)
{
	_cleanup_xbuf_ struct xbuf b = XBUF_NULL;

	xbuf_init(&b, 16);
	if (xbuf_put_u8(&b, MSG_RESULT) == 0 && xbuf_put_u32(&b, result) == 0)
		(void)send_buf(fd, &b);
}

static _noreturn_ void
helper_main(int fd, const char *service, const char *user, const char *rhost, uint32_t flags)
{
	struct helper h = {.fd = fd};
	struct pam_conv conv = {helper_conv, &h};
	pam_handle_t *ph = NULL;
	bool session = false;
	uint32_t result;
	int r;

	r = pam_start(service, user, &conv, &ph);
	if (r != PAM_SUCCESS) {
		helper_send_result(fd, BERTH_PAM_E_AUTH);
		_exit(1);
	}
	if (rhost)
		(void)pam_set_item(ph, PAM_RHOST, rhost);
	(void)pam_set_item(ph, PAM_TTY, "ssh"); /* what OpenSSH passes; some modules need one */
	r = PAM_SUCCESS;
	if (flags & BERTH_PAM_AUTHENTICATE)
		r = pam_authenticate(ph, PAM_DISALLOW_NULL_AUTHTOK);
	if (r != PAM_SUCCESS) {
		result = BERTH_PAM_E_AUTH;
	} else if (flags & BERTH_PAM_ACCOUNT) {
		r = pam_acct_mgmt(ph, PAM_DISALLOW_NULL_AUTHTOK);
		if (r == PAM_SUCCESS)
			result = BERTH_PAM_SUCCESS;
		else if (r == PAM_NEW_AUTHTOK_REQD)
			result = BERTH_PAM_E_NEW_AUTHTOK; /* no password change over SFTP */
		else
			result = BERTH_PAM_E_ACCOUNT;
	} else {
		result = BERTH_PAM_SUCCESS;
	}
	helper_send_result(fd, result);
	if (result != BERTH_PAM_SUCCESS) {
		(void)pam_end(ph, r);
		_exit(0);
	}

	/* Authenticated: serve session requests until END or the daemon goes away. */
	for (;;) {
		_cleanup_xbuf_ struct xbuf b = XBUF_NULL;
		uint8_t type;

		xbuf_init(&b, PAM_MSG_MAX);
		if (recv_buf(fd, &b) < 0 || xbuf_get_u8(&b, &type) < 0)
			break;
		if (type == MSG_OPEN_SESSION && !session) {
			r = pam_setcred(ph, PAM_ESTABLISH_CRED);
			if (r == PAM_SUCCESS)
				r = pam_open_session(ph, 0);
			session = r == PAM_SUCCESS;
			helper_send_result(fd, session ? BERTH_PAM_SUCCESS : BERTH_PAM_E_SESSION);
		} else if (type == MSG_END) {
			break;
		} else {
			helper_send_result(fd, BERTH_PAM_E_SESSION);
		}
	}
	if (session) {
		(void)pam_close_session(ph, 0);
		(void)pam_setcred(ph, PAM_DELETE_CRED);
	}
	(void)pam_end(ph, PAM_SUCCESS);
	_exit(0);
}

/* ---- daemon side ---- */

int
berth_pam_start(const char *service, const char *user, const char *rhost, uint32_t flags,
                struct berth_pam **ret)
{
	int sv[2];
	pid_t pid;

	if (!service || !user || !(flags & (BERTH_PAM_AUTHENTICATE | BERTH_PAM_ACCOUNT)))
		return -EINVAL;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		int r = -errno;
		close(sv[0]);
		close(sv[1]);
		return r;
	}
	if (pid == 0) {
		close(sv[0]);
		/* Default signal dispositions: the daemon's handlers make no sense here. */
		signal(SIGPIPE, SIG_IGN);
		signal(SIGCHLD, SIG_DFL);
		helper_main(sv[1], service, user, rhost, flags);
	}
	close(sv[1]);
	struct berth_pam *p = xcalloc(1, sizeof(*p));
	p->pid = pid;
	p->fd = sv[0];
	p->state = ST_RUNNING;
	*ret = p;
	return 0;
}

int
berth_pam_fd(const struct berth_pam *p)
{
	return p->fd;
}

int
berth_pam_next(struct berth_pam *p, struct berth_pam_prompts *ret_prompts)
{
	_cleanup_xbuf_ struct xbuf b = XBUF_NULL;
	struct berth_pam_prompts pr = {0};
	uint8_t type;
	uint32_t n, result;
	int r;

	if (p->state != ST_RUNNING)
		return -EINVAL;
	xbuf_init(&b, PAM_MSG_MAX);
	r = recv_buf(p->fd, &b);
	if (r < 0)
		return r;
	if (xbuf_get_u8(&b, &type) < 0)
		return -EPROTO;
	if (type == MSG_RESULT) {
		if (xbuf_get_u32(&b, &result) < 0 || result < BERTH_PAM_SUCCESS ||
		    result > BERTH_PAM_E_SESSION)
			return -EPROTO;
		p->state = ST_DONE;
		p->result = (int)result;
		return (int)result;
	}
	if (type != MSG_PROMPTS || xbuf_get_u32(&b, &n) < 0 || n == 0 || n > PAM_PROMPTS_MAX)
		return -EPROTO;
	pr.v = xcalloc(n, sizeof(*pr.v));
	for (uint32_t i = 0; i < n; i++) {
		uint8_t style;
		char *text = NULL;

		if (xbuf_get_u8(&b, &style) < 0 || xbuf_get_cstring(&b, &text, PAM_TEXT_MAX) < 0) {
			berth_pam_prompts_free(&pr);
			return -EPROTO;
		}
		pr.v[i].text = text;
		pr.n = i + 1;
		pr.v[i].echo = style == PAM_PROMPT_ECHO_ON;
		pr.v[i].info = style == PAM_TEXT_INFO || style == PAM_ERROR_MSG;
		if (!pr.v[i].info && style != PAM_PROMPT_ECHO_OFF && style != PAM_PROMPT_ECHO_ON) {
			berth_pam_prompts_free(&pr);
			return -EPROTO;
		}
	}
	p->state = ST_PROMPTED;
	p->pending_n = n;
	*ret_prompts = pr;
	return BERTH_PAM_PROMPTS;
}

static void
wipe_answers(char **answers, size_t n)
{
	for (size_t i = 0; answers && i < n; i++) {
		if (answers[i])
			freezero(answers[i], strlen(answers[i]));
		answers[i] = NULL;
	}
}

int
berth_pam_answer(struct berth_pam *p, char **answers, size_t n)
{
	_cleanup_xbuf_ struct xbuf b = XBUF_NULL;
	int r = -EINVAL;

	if (p->state != ST_PROMPTED || n != p->pending_n)
		goto out;
	xbuf_init(&b, PAM_MSG_MAX);
	if ((r = xbuf_put_u8(&b, MSG_ANSWERS)) < 0 || (r = xbuf_put_u32(&b, (uint32_t)n)) < 0)
		goto out;
	for (size_t i = 0; i < n; i++) {
		const char *a = answers[i] ? answers[i] : "";
		size_t len = strlen(a);

		if (len > PAM_TEXT_MAX) {
			r = -EINVAL;
			goto out;
		}
		if ((r = xbuf_put_u8(&b, answers[i] ? 1 : 0)) < 0 ||
		    (r = xbuf_put_string(&b, a, len)) < 0)
			goto out;
	}
	r = send_buf(p->fd, &b);
	if (r == 0) {
		p->state = ST_RUNNING;
		p->pending_n = 0;
	}
out:
	wipe_answers(answers, n);
	return r; /* b is wiped by its cleanup */
}

int
berth_pam_password(const char *service, const char *user, const char *rhost, const char *password,
                   struct berth_pam **ret)
{
	struct berth_pam *p = NULL;
	int r;

	r = berth_pam_start(service, user, rhost, BERTH_PAM_AUTHENTICATE | BERTH_PAM_ACCOUNT, &p);
	if (r < 0)
		return r;
	for (;;) {
		struct berth_pam_prompts pr = {0};
		char **answers;

		r = berth_pam_next(p, &pr);
		if (r != BERTH_PAM_PROMPTS)
			break;
		answers = xcalloc(pr.n, sizeof(char *));
		for (size_t i = 0; i < pr.n; i++) {
			if (pr.v[i].info)
				continue;
			answers[i] = xstrdup(pr.v[i].echo ? "" : password);
		}
		r = berth_pam_answer(p, answers, pr.n);
		free(answers);
		berth_pam_prompts_free(&pr);
		if (r < 0)
			break;
	}
	if (r == BERTH_PAM_SUCCESS) {
		*ret = p;
		return r;
	}
	berth_pam_end(p);
	return r;
}

static int
send_type(struct berth_pam *p, uint8_t type)
{
	_cleanup_xbuf_ struct xbuf b = XBUF_NULL;
	int r;

	xbuf_init(&b, 8);
	r = xbuf_put_u8(&b, type);
	return r < 0 ? r : send_buf(p->fd, &b);
}

int
berth_pam_open_session(struct berth_pam *p)
{
	_cleanup_xbuf_ struct xbuf b = XBUF_NULL;
	uint8_t type;
	uint32_t result;
	int r;

	if (p->state != ST_DONE || p->result != BERTH_PAM_SUCCESS)
		return -EINVAL;
	r = send_type(p, MSG_OPEN_SESSION);
	if (r < 0)
		return r;
	xbuf_init(&b, PAM_MSG_MAX);
	r = recv_buf(p->fd, &b);
	if (r < 0)
		return r;
	if (xbuf_get_u8(&b, &type) < 0 || type != MSG_RESULT || xbuf_get_u32(&b, &result) < 0)
		return -EPROTO;
	return result == BERTH_PAM_SUCCESS ? 0 : BERTH_PAM_E_SESSION;
}

struct berth_pam *
berth_pam_end(struct berth_pam *p)
{
	int status;

	if (!p)
		return NULL;
	if (p->state == ST_DONE && p->result == BERTH_PAM_SUCCESS)
		(void)send_type(p, MSG_END);
	/* Closing our end makes a helper blocked in a conversation fail with PAM_CONV_ERR. */
	close(p->fd);
	for (int i = 0; i < 50; i++) { /* up to 5 s for pam_close_session */
		pid_t w = waitpid(p->pid, &status, WNOHANG);
		if (w == p->pid || (w < 0 && errno != EINTR))
			goto reaped;
		struct timespec ts = {0, 100 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	(void)kill(p->pid, SIGKILL);
	while (waitpid(p->pid, &status, 0) < 0 && errno == EINTR)
		;
reaped:
	free(p);
	return NULL;
}
