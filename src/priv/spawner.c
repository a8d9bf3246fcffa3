/* SPDX-License-Identifier: BSD-2-Clause */
/* The session spawner: forks every session worker from one clean berthd image.
 *
 * A worker used to be a fresh execve() of berthd per session, so each one relocated
 * libcrypto, libssl, libssh and the rest again (about 700 KiB of private pages per
 * session) and built OpenSSL's algorithm caches again. The spawner is that fresh image,
 * exec'd once by the master before the first connection: it never holds a key, a hash
 * or a network byte, only spawn requests from the monitors (root, like it). For each it
 * forks; the child becomes the account exactly as the exec'd worker did and calls
 * worker_exec_main(), and what it does not write stays shared with the spawner.
 *
 * Requests come on one SOCK_SEQPACKET socket that the master and every monitor hold
 * (each message is atomic). Each carries the worker's descriptors and its own "exit
 * socket": the spawner answers the pid on it, later the wait status, and kills the
 * worker when the monitor closes its end (the monitor died or was kicked), which is
 * what PR_SET_PDEATHSIG did while the monitor was the parent. The spawner exits when
 * no process holds the request socket any more and its last worker is gone, so
 * sessions outlive a master restart as before. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "berth/buf.h"
#include "berth/common.h"
#include "berth/log.h"
#include "berth/priv.h"
#include "berth/spawner.h"
#include "berth/tls.h"
#include "berth/worker.h"
#include "berth/xmem.h"

#define REQUEST_FD      3 /* the spawner's end of the request socket, after exec */
#define SPAWN_VERSION   1
#define REPLY_PID       'P'   /* + u32 pid */
#define REPLY_FAILED    'E'   /* + u32 errno */
#define REPLY_EXITED    'X'   /* + u32 wait status */
#define REPLY_WAIT_MS   30000 /* the pid comes right after a fork */
#define RESTART_AFTER_S 10
#define TITLE_ROOM      3072 /* the argv area a worker's title is written into */

/* ---- master and monitor side ---- */

static int client_fd = -1; /* the request socket, inherited by monitors */
static pid_t spawner_pid;
static time_t started_at;
static struct {
	int level;
	bool log_stderr;
	int facility;
} start_opts;

int
spawner_start(int log_level, bool log_stderr, int facility)
{
	start_opts.level = log_level;
	start_opts.log_stderr = log_stderr;
	start_opts.facility = facility;
	started_at = time(NULL);
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	char level_s[16], fac_s[16];
	snprintf(level_s, sizeof(level_s), "%d", log_level);
	snprintf(fac_s, sizeof(fac_s), "%d", facility);
	/* Room for the workers' titles (their argv, for ps and tests), blank here. */
	static char room[TITLE_ROOM];
	memset(room, ' ', sizeof(room) - 1);
	room[sizeof(room) - 1] = '\0';
	pid_t pid = fork();
	if (pid < 0) {
		int e = errno;
		close(sv[0]);
		close(sv[1]);
		return -e;
	}
	if (pid == 0) {
		if (sv[1] == REQUEST_FD ? fcntl(sv[1], F_SETFD, 0) < 0
		                        : dup2(sv[1], REQUEST_FD) < 0)
			_exit(127);
		close_range(REQUEST_FD + 1, ~0U, 0);
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		char *argv[] = {(char *)"berthd",
		                (char *)SPAWNER_ARGV_MARK,
		                level_s,
		                (char *)(log_stderr ? "stderr" : "syslog"),
		                fac_s,
		                room,
		                NULL};
		char *envp[] = {NULL};
		execve("/proc/self/exe", argv, envp);
		_exit(127);
	}
	close(sv[1]);
	if (client_fd >= 0)
		close(client_fd);
	client_fd = sv[0];
	spawner_pid = pid;
	return 0;
}

bool
spawner_reaped(pid_t pid, int status)
{
	if (pid <= 0 || pid != spawner_pid)
		return false;
	if (WIFSIGNALED(status))
		log_error("session spawner %d killed by signal %d; sessions start by exec until "
		          "it is back",
		          (int)pid, WTERMSIG(status));
	else
		log_error("session spawner %d exited with status %d; sessions start by exec "
		          "until it is back",
		          (int)pid, WEXITSTATUS(status));
	spawner_pid = 0;
	if (client_fd >= 0)
		close(client_fd);
	client_fd = -1;
	return true;
}

void
spawner_ensure(void)
{
	if (spawner_pid > 0 || started_at == 0 || time(NULL) < started_at + RESTART_AFTER_S)
		return;
	int r = spawner_start(start_opts.level, start_opts.log_stderr, start_opts.facility);
	if (r < 0)
		log_error("cannot restart the session spawner: %s", strerror(-r));
	else
		log_info("session spawner restarted (process %d)", (int)spawner_pid);
}

void
spawner_forget(void)
{
	if (client_fd >= 0)
		close(client_fd);
	client_fd = -1;
	spawner_pid = 0;
}

/* One reply from the spawner on @fd: 1 with the type and value, 0 if none came within
 * @wait_ms, -EPIPE at end of file. */
static int
read_reply(int fd, int wait_ms, uint8_t *ret_type, uint32_t *ret_value)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	int pr;
	while ((pr = poll(&p, 1, wait_ms)) < 0 && errno == EINTR)
		;
	if (pr < 0)
		return -errno;
	if (pr == 0)
		return 0;
	uint8_t msg[5];
	ssize_t n;
	do
		n = recv(fd, msg, sizeof(msg), MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EAGAIN ? 0 : -errno;
	if (n == 0)
		return -EPIPE;
	if (n != sizeof(msg))
		return -EBADMSG;
	*ret_type = msg[0];
	*ret_value = get_u32_be(msg + 1);
	return 1;
}

int
spawner_spawn(const struct spawn_request *r, pid_t *ret_pid, int *ret_exit_fd)
{
	if (client_fd < 0)
		return -EBADF;
	if (r->fds[SPAWN_FD_SESSION] < 0 || r->n_groups > SPAWN_MAX_GROUPS)
		return -EINVAL;
	_cleanup_xbuf_ struct xbuf b = XBUF_NULL;
	xbuf_init(&b, SPAWN_MSG_MAX);
	uint8_t present = 0;
	for (int i = 0; i < SPAWN_NFDS; i++)
		if (r->fds[i] >= 0)
			present |= (uint8_t)(1u << i);
	size_t argc = 0;
	while (r->argv[argc])
		argc++;
	int e = xbuf_put_u8(&b, SPAWN_VERSION);
	e = e ?: xbuf_put_u8(&b, r->privileged);
	e = e ?: xbuf_put_u8(&b, present);
	e = e ?: xbuf_put_u32(&b, (uint32_t)r->uid);
	e = e ?: xbuf_put_u32(&b, (uint32_t)r->gid);
	e = e ?: xbuf_put_u32(&b, (uint32_t)r->n_groups);
	for (size_t i = 0; !e && i < r->n_groups; i++)
		e = xbuf_put_u32(&b, (uint32_t)r->groups[i]);
	e = e ?: xbuf_put_u32(&b, (uint32_t)argc);
	for (size_t i = 0; !e && i < argc; i++)
		e = xbuf_put_cstring(&b, r->argv[i]);
	if (e < 0 || argc > SPAWN_MAX_ARGS)
		return -E2BIG;

	int sv[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	int fds[1 + SPAWN_NFDS];
	size_t nfds = 0;
	fds[nfds++] = sv[1];
	for (int i = 0; i < SPAWN_NFDS; i++)
		if (r->fds[i] >= 0)
			fds[nfds++] = r->fds[i];
	int s = mon_send_fds(client_fd, xbuf_ptr(&b), xbuf_len(&b), fds, nfds);
	close(sv[1]);
	if (s < 0) {
		close(sv[0]);
		/* A spawner that is gone took no request: the caller may exec. */
		return s == -ECONNREFUSED || s == -ECONNRESET || s == -ENOTCONN ? -EPIPE : s;
	}
	uint8_t type;
	uint32_t value;
	int rr = read_reply(sv[0], REPLY_WAIT_MS, &type, &value);
	if (rr <= 0 || type != REPLY_PID || value == 0 || value > INT32_MAX) {
		/* Closing the exit socket kills a worker that might still start. */
		close(sv[0]);
		if (rr == 1 && type == REPLY_FAILED)
			return value > 0 && value < 4096 ? -(int)value : -EIO;
		return rr < 0 ? -EIO : -ETIMEDOUT;
	}
	*ret_pid = (pid_t)value;
	*ret_exit_fd = sv[0];
	return 0;
}

int
spawner_exit_status(int exit_fd, int wait_ms, int *ret_status)
{
	uint8_t type;
	uint32_t value;
	int r = read_reply(exit_fd, wait_ms, &type, &value);
	if (r == 0)
		return 0;
	if (r < 0 || type != REPLY_EXITED) {
		*ret_status = SIGKILL; /* the spawner died: so did its workers (PDEATHSIG) */
		return 1;
	}
	*ret_status = (int)value;
	return 1;
}

/* ---- the spawner process ---- */

struct child {
	pid_t pid;
	int exit_fd;
	bool killed; /* the monitor closed its end: SIGKILL sent, waiting to reap */
};

static struct {
	struct child *v;
	size_t n, cap;
	struct pollfd *pfd; /* the poll set (here, not on the stack: reachable in a child) */
	size_t pcap;
	struct rlimit nofile; /* as inherited: what each worker gets back */
	char *title;          /* the argv area (for each worker's ps title) */
	size_t title_len;     /* its bytes, the final NUL included */
	pid_t self;
} sp;

static void
reply(int fd, uint8_t type, uint32_t value)
{
	uint8_t msg[5] = {type};
	put_u32_be(msg + 1, value);
	/* A monitor that went away cannot be told: nothing to do about it. */
	(void)!send(fd, msg, sizeof(msg), MSG_NOSIGNAL | MSG_DONTWAIT);
}

/* Write @argv into the argv area, NUL-separated like a real one, cut to fit: what
 * /proc/PID/cmdline and ps show (the worker's own argv array is separate). */
static void
set_title(char *const *argv)
{
	memset(sp.title, 0, sp.title_len);
	size_t at = 0;
	for (size_t i = 0; argv[i] && at + 1 < sp.title_len; i++) {
		size_t n = MIN(strlen(argv[i]), sp.title_len - 1 - at);
		memcpy(sp.title + at, argv[i], n);
		at += n + 1;
	}
}

struct parsed {
	bool privileged;
	uid_t uid;
	gid_t gid;
	gid_t *groups;
	size_t n_groups;
	char **argv;
	size_t argc;
	int fds[SPAWN_NFDS];
	int exit_fd;
};

static void
parsed_free(struct parsed *q)
{
	free(q->groups);
	for (size_t i = 0; q->argv && i < q->argc; i++)
		free(q->argv[i]);
	free(q->argv);
	for (int i = 0; i < SPAWN_NFDS; i++)
		if (q->fds[i] >= 0)
			close(q->fds[i]);
	if (q->exit_fd >= 0)
		close(q->exit_fd);
}

/* Inside a view of exactly the message: version, flags, ids, groups, argv. @nfds: the
 * descriptors that came with it (the exit socket first); *@ret_present: which of the
 * worker's they are. Takes no descriptor. */
static int
parse_request(const uint8_t *msg, size_t len, size_t nfds, struct parsed *q, uint8_t *ret_present)
{
	struct xbuf b;
	xbuf_view_init(&b, msg, len);
	uint8_t version, priv, present;
	uint32_t uid, gid, ng, argc;
	if (xbuf_get_u8(&b, &version) < 0 || version != SPAWN_VERSION ||
	    xbuf_get_u8(&b, &priv) < 0 || priv > 1 || xbuf_get_u8(&b, &present) < 0 ||
	    present >= (1u << SPAWN_NFDS) || !(present & (1u << SPAWN_FD_SESSION)) ||
	    xbuf_get_u32(&b, &uid) < 0 || xbuf_get_u32(&b, &gid) < 0 || xbuf_get_u32(&b, &ng) < 0 ||
	    ng > SPAWN_MAX_GROUPS)
		return -EBADMSG;
	size_t want = 1;
	for (int i = 0; i < SPAWN_NFDS; i++)
		want += (present >> i) & 1u;
	if (nfds != want)
		return -EBADMSG;
	*ret_present = present;
	q->privileged = priv;
	q->uid = (uid_t)uid;
	q->gid = (gid_t)gid;
	q->groups = xcalloc(ng ? ng : 1, sizeof(*q->groups));
	for (uint32_t i = 0; i < ng; i++) {
		uint32_t g;
		if (xbuf_get_u32(&b, &g) < 0)
			return -EBADMSG;
		q->groups[q->n_groups++] = (gid_t)g;
	}
	if (xbuf_get_u32(&b, &argc) < 0 || argc < 2 || argc > SPAWN_MAX_ARGS)
		return -EBADMSG;
	q->argv = xcalloc(argc + 1, sizeof(*q->argv));
	for (uint32_t i = 0; i < argc; i++) {
		if (xbuf_get_cstring(&b, &q->argv[i], SPAWN_MSG_MAX) < 0)
			return -EBADMSG;
		q->argc++;
	}
	/* Only a worker: the one entry point the child may call. */
	if (xbuf_len(&b) != 0 || !WORKER_IS_MARK(q->argv[1]))
		return -EBADMSG;
	return 0;
}

/* The forked child: become the worker (what worker_run() does before its exec). */
static _noreturn_ void
run_child(struct parsed *q, int request_fd, int sigfd)
{
	/* glibc's syslog descriptor must not outlive the renumbering below unnoticed. */
	closelog();
	close(request_fd);
	close(sigfd);
	sigset_t none;
	sigemptyset(&none);
	signal(SIGCHLD, SIG_DFL);
	signal(SIGPIPE, SIG_DFL); /* as an exec'd worker starts */
	sigprocmask(SIG_SETMASK, &none, NULL);
	log_set_ident("berthd");
	/* A worker never runs as root: worker_exec_main() refuses uid 0 itself. */
	if (q->privileged) {
		int r = priv_drop_to(q->uid, q->gid, q->groups, q->n_groups);
		if (r < 0) {
			log_error("cannot switch to uid %u gid %u for %s: %s", (unsigned)q->uid,
			          (unsigned)q->gid, q->argc > 6 ? q->argv[6] : "?", strerror(-r));
			_exit(1);
		}
	}
	(void)setrlimit(RLIMIT_NOFILE, &sp.nofile);
	priv_harden_process();
	/* The spawner's death kills the worker (set after the uid change, which clears
	 * it); the monitor's is handled through the exit socket. */
	(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != sp.self)
		_exit(1);
	if (worker_place_fds(q->fds) < 0) /* also closes the exit socket and the others' */
		_exit(1);
	set_title(q->argv);
	/* exit(), not _exit(): what an exec'd worker's return from main() did (stdio, leak
	 * checks under ASan). */
	exit(worker_exec_main((int)q->argc, q->argv));
}

/* One request; false once every holder of the request socket is gone. */
static bool
handle_request(int request_fd, int sigfd)
{
	static uint8_t msg[SPAWN_MSG_MAX];
	int fds[1 + SPAWN_NFDS];
	size_t nfds;
	ssize_t n = mon_recv_fds(request_fd, msg, sizeof(msg), MSG_DONTWAIT, fds, ARRAY_SIZE(fds),
	                         &nfds);
	if (n == 0)
		return false; /* end of file: the master and every monitor are gone */
	if (n == -EMSGSIZE) {
		/* Its descriptors are closed: the monitor sees end of file and refuses. */
		log_error("session spawner: a request was cut short (too large, or out of "
		          "descriptors)");
		return true;
	}
	if (n < 0)
		return n == -EAGAIN || n == -ENOBUFS || n == -ENOMEM;
	struct parsed q = {.exit_fd = -1, .fds = {-1, -1, -1, -1, -1}};
	uint8_t present = 0;
	int r = nfds == 0 ? -EBADMSG : parse_request(msg, (size_t)n, nfds, &q, &present);
	if (r < 0) {
		if (nfds > 0)
			reply(fds[0], REPLY_FAILED, EBADMSG); /* the exit socket comes first */
		for (size_t i = 0; i < nfds; i++)
			close(fds[i]);
		log_error("session spawner: malformed request");
		parsed_free(&q);
		explicit_bzero(msg, sizeof(msg));
		return true;
	}
	/* The descriptors are the request's from here on (parsed_free closes them). */
	q.exit_fd = fds[0];
	for (int i = 0, k = 1; i < SPAWN_NFDS; i++)
		q.fds[i] = (present >> i) & 1u ? fds[k++] : -1;
	explicit_bzero(msg, (size_t)n);
	pid_t pid = fork();
	if (pid == 0)
		run_child(&q, request_fd, sigfd);
	if (pid < 0) {
		reply(q.exit_fd, REPLY_FAILED, (uint32_t)errno);
		parsed_free(&q);
		return true;
	}
	reply(q.exit_fd, REPLY_PID, (uint32_t)pid);
	if (sp.n == sp.cap) {
		sp.cap = sp.cap ? 2 * sp.cap : 16;
		sp.v = xreallocarray(sp.v, sp.cap, sizeof(*sp.v));
	}
	sp.v[sp.n++] = (struct child){.pid = pid, .exit_fd = q.exit_fd};
	q.exit_fd = -1; /* kept in the table */
	parsed_free(&q);
	return true;
}

static void
reap(void)
{
	for (;;) {
		int st;
		pid_t pid = waitpid(-1, &st, WNOHANG);
		if (pid <= 0)
			return;
		for (size_t i = 0; i < sp.n; i++) {
			if (sp.v[i].pid != pid)
				continue;
			reply(sp.v[i].exit_fd, REPLY_EXITED, (uint32_t)st);
			close(sp.v[i].exit_fd);
			sp.v[i] = sp.v[--sp.n];
			break;
		}
	}
}

int
spawner_main(int argc, char **argv)
{
	if (argc != 6)
		return 2;
	log_init("berthd", (enum log_level)atoi(argv[2]),
	         strcmp(argv[3], "stderr") == 0 ? LOG_SINK_STDERR : LOG_SINK_SYSLOG, atoi(argv[4]));
	sp.self = getpid();
	sp.title = argv[0];
	sp.title_len = (size_t)(argv[argc - 1] + strlen(argv[argc - 1]) + 1 - argv[0]);
	char *own_copy[3] = {xstrdup(argv[0]), xstrdup(argv[1]), NULL};
	set_title(own_copy);
	free(own_copy[0]);
	free(own_copy[1]);
	(void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	signal(SIGPIPE, SIG_IGN);
	/* One exit socket per live session: raise the soft limit to the hard one (systemd's
	 * LimitNOFILE sets both; a shell's 1024 would cap sessions). Workers get the
	 * inherited limit back. */
	if (getrlimit(RLIMIT_NOFILE, &sp.nofile) == 0) {
		struct rlimit raised = {sp.nofile.rlim_max, sp.nofile.rlim_max};
		(void)setrlimit(RLIMIT_NOFILE, &raised);
	} else {
		sp.nofile = (struct rlimit){1024, 1024};
	}
	int flags = fcntl(REQUEST_FD, F_GETFD);
	if (flags < 0)
		return 2;
	(void)fcntl(REQUEST_FD, F_SETFD, flags | FD_CLOEXEC);
	sigset_t chld;
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, NULL);
	int sigfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sigfd < 0) {
		log_error("session spawner: signalfd: %m");
		return 1;
	}
	/* What every worker would build alone, once, in pages they all share. */
	if (tls_data_prepare() == 0)
		tls_data_prewarm();

	bool open_requests = true;
	while (open_requests || sp.n > 0) {
		size_t need = 2 + sp.n;
		if (need > sp.pcap) {
			sp.pcap = 2 * need;
			sp.pfd = xreallocarray(sp.pfd, sp.pcap, sizeof(*sp.pfd));
		}
		struct pollfd *p = sp.pfd;
		nfds_t np = 0;
		p[np++] = (struct pollfd){.fd = sigfd, .events = POLLIN};
		p[np++] = (struct pollfd){.fd = open_requests ? REQUEST_FD : -1, .events = POLLIN};
		for (size_t i = 0; i < sp.n; i++)
			p[np++] = (struct pollfd){.fd = sp.v[i].killed ? -1 : sp.v[i].exit_fd,
			                          .events = 0}; /* only its hang-up */
		int pr = poll(p, np, -1);
		if (pr < 0 && errno != EINTR) {
			log_error("session spawner: poll: %m");
			break;
		}
		if (pr <= 0)
			continue;
		/* Hang-ups first: the table is indexed as polled. */
		for (size_t i = 0; i < sp.n; i++)
			if (p[2 + i].revents & (POLLHUP | POLLERR)) {
				kill(sp.v[i].pid, SIGKILL); /* not reaped yet: still our child */
				sp.v[i].killed = true;
			}
		if (p[0].revents & POLLIN) {
			struct signalfd_siginfo si;
			while (read(sigfd, &si, sizeof(si)) > 0)
				;
			reap();
		}
		/* Queued requests first; end of file once the master and all monitors are
		 * gone. */
		if (p[1].revents & POLLIN)
			open_requests = handle_request(REQUEST_FD, sigfd);
		else if (p[1].revents & (POLLHUP | POLLERR))
			open_requests = false;
	}
	free(sp.pfd);
	return 0;
}
