/* SPDX-License-Identifier: BSD-2-Clause */
/* berthd master: listeners, accept(), limits, fork per connection. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "berth/common.h"
#include "berth/control.h"
#include "berth/daemon.h"
#include "berth/ftpsd.h"
#include "berth/log.h"
#include "berth/notify.h"
#include "berth/priv.h"
#include "berth/reload.h"
#include "berth/spawner.h"
#include "berth/sshd.h"
#include "berth/tls.h"
#include "berth/xmem.h"

struct conn_slot {
	pid_t pid;
	int startup_fd; /* the monitor's records (control.h), EOF when it exits */
	bool authenticated;
	char addr[INET6_ADDRSTRLEN];  /* shown address */
	char block[INET6_ADDRSTRLEN]; /* PerSourceNetBlockSize key */
	struct conn_live live;        /* account, sessions, defender events (control.c) */
};

static volatile sig_atomic_t got_sigchld;
static volatile sig_atomic_t got_term;
static volatile sig_atomic_t got_hup;
static int wake_pipe[2] = {-1, -1};

static void
on_signal(int sig)
{
	int saved = errno;
	if (sig == SIGCHLD)
		got_sigchld = 1;
	else if (sig == SIGHUP)
		got_hup = 1;
	else
		got_term = 1;
	if (wake_pipe[1] >= 0)
		(void)!write(wake_pipe[1], "x", 1);
	errno = saved;
}

static int
set_cloexec_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	if (fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)
		return -errno;
	return 0;
}

/* What a listening socket serves. */
struct listener_kind {
	enum mon_proto proto;
	bool allow_plain; /* FTPS explicit: plain FTP accepted (allow-plain) */
};

/* Sockets a reload may take over (same address: same socket, no gap); diagnostics of a
 * reload go to its error list instead of the log. */
struct listener_reuse {
	const int *fds;
	size_t n;
	struct berth_errors *errors;
};

static int bind_listeners(const char *host, unsigned portnum, const char *what, int *fds,
                          size_t max, size_t *n, const struct listener_reuse *reuse);

static void __attribute__((format(printf, 2, 3)))
listen_error(const struct listener_reuse *reuse, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (reuse && reuse->errors)
		berth_errors_vadd(reuse->errors, NULL, 0, fmt, ap);
	else
		log_vmsg(LOG_LEVEL_ERROR, fmt, ap);
	va_end(ap);
}

static int
open_listeners(const struct berth_config *s, int *fds, struct listener_kind *kinds, size_t max,
               size_t *ret_n, const struct listener_reuse *reuse)
{
	size_t n = 0;
	for (size_t i = 0; i < s->n_listen; i++) {
		size_t before = n;
		int r = bind_listeners(s->listen[i].host,
		                       s->listen[i].port ? s->listen[i].port : s->port, "", fds,
		                       max, &n, reuse);
		if (r < 0) {
			*ret_n = n;
			return r;
		}
		for (size_t k = before; k < n; k++)
			kinds[k] = (struct listener_kind){.proto = MON_PROTO_SSH};
	}
	for (size_t i = 0; i < s->n_ftps_listen; i++) {
		const struct berth_ftps_listen *l = &s->ftps_listen[i];
		unsigned port = l->port       ? l->port
		                : l->implicit ? BERTH_FTPS_IMPLICIT_PORT
		                              : BERTH_FTPS_PORT;
		size_t before = n;
		int r = bind_listeners(l->host, port,
		                       l->implicit      ? " (FTPS, implicit TLS)"
		                       : l->allow_plain ? " (FTPS, AUTH TLS; plain FTP allowed)"
		                                        : " (FTPS, AUTH TLS)",
		                       fds, max, &n, reuse);
		if (r < 0) {
			*ret_n = n;
			return r;
		}
		for (size_t k = before; k < n; k++)
			kinds[k] = (struct listener_kind){
			        .proto = l->implicit ? MON_PROTO_FTPS_IMPLICIT
			                             : MON_PROTO_FTPS_EXPLICIT,
			        .allow_plain = l->allow_plain && !l->implicit};
	}
	if (n == 0) {
		listen_error(reuse, "no listening sockets");
		return -EADDRNOTAVAIL;
	}
	*ret_n = n;
	return 0;
}

/* An open listener bound to exactly @addr, not yet taken into @fds[0..@n); or -1. */
static int
reusable_listener(const struct listener_reuse *reuse, const struct sockaddr *addr,
                  socklen_t addrlen, const int *fds, size_t n)
{
	for (size_t i = 0; reuse && i < reuse->n; i++) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		if (getsockname(reuse->fds[i], (struct sockaddr *)&ss, &len) < 0 ||
		    len != addrlen || memcmp(&ss, addr, len) != 0)
			continue;
		bool taken = false;
		for (size_t k = 0; k < n && !taken; k++)
			taken = fds[k] == reuse->fds[i];
		if (!taken)
			return reuse->fds[i];
	}
	return -1;
}

/* Listening sockets for @host:@portnum (one per address getaddrinfo returns). */
static int
bind_listeners(const char *host, unsigned portnum, const char *what, int *fds, size_t max,
               size_t *ret_n, const struct listener_reuse *reuse)
{
	size_t n = *ret_n;
	char port[16];
	snprintf(port, sizeof(port), "%u", portnum);
	struct addrinfo hints = {.ai_family = AF_UNSPEC,
	                         .ai_socktype = SOCK_STREAM,
	                         .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
	struct addrinfo *res = NULL;
	hints.ai_flags |= AI_NUMERICHOST;
	int r = getaddrinfo(host, port, &hints, &res);
	if (r != 0) {
		listen_error(reuse, "ListenAddress %s: %s", host, gai_strerror(r));
		return -EINVAL;
	}
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		if (n >= max) {
			freeaddrinfo(res);
			listen_error(reuse, "too many listening sockets");
			*ret_n = n; /* the caller closes what was opened */
			return -E2BIG;
		}
		int fd = reusable_listener(reuse, ai->ai_addr, ai->ai_addrlen, fds, n);
		if (fd >= 0) {
			fds[n++] = fd;
			continue;
		}
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, 0);
		if (fd < 0)
			continue;
		int one = 1;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (ai->ai_family == AF_INET6)
			setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
		char abuf[INET6_ADDRSTRLEN] = "?";
		getnameinfo(ai->ai_addr, ai->ai_addrlen, abuf, sizeof(abuf), NULL, 0,
		            NI_NUMERICHOST);
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 1024) < 0) {
			int e = errno;
			listen_error(reuse, "bind to %s port %s: %s", abuf, port, strerror(e));
			close(fd);
			freeaddrinfo(res);
			*ret_n = n;
			return -e;
		}
		set_cloexec_nonblock(fd);
		log_info("Server listening on %s port %s%s.", abuf, port, what);
		fds[n++] = fd;
	}
	freeaddrinfo(res);
	*ret_n = n;
	return 0;
}

struct limits_view {
	unsigned total, unauth, src_total, src_unauth;
};

/* The per-source key: the address masked to PerSourceNetBlockSize. */
static void
source_block(const struct berth_config *s, const char *addr, char *out, size_t outlen)
{
	unsigned char b[16];
	snprintf(out, outlen, "%s", addr);
	int fam = strchr(addr, ':') ? AF_INET6 : AF_INET;
	if (inet_pton(fam, addr, b) != 1)
		return;
	unsigned bits = fam == AF_INET ? s->per_source_netblock_v4 : s->per_source_netblock_v6;
	unsigned total = fam == AF_INET ? 32 : 128;
	if (bits == 0 || bits > total)
		bits = total;
	for (unsigned i = 0; i < total / 8; i++) {
		unsigned keep = bits > i * 8 ? MIN(8u, bits - i * 8) : 0;
		b[i] &= (unsigned char)(0xff00u >> keep);
	}
	inet_ntop(fam, b, out, (socklen_t)outlen);
}

static void
count_conns(const struct conn_slot *slots, size_t nslots, const char *block, struct limits_view *v)
{
	memset(v, 0, sizeof(*v));
	for (size_t i = 0; i < nslots; i++) {
		if (slots[i].pid <= 0)
			continue;
		bool same = strcmp(slots[i].block, block) == 0;
		v->total++;
		if (same)
			v->src_total++;
		if (!slots[i].authenticated) {
			v->unauth++;
			if (same)
				v->src_unauth++;
		}
	}
}

/* OpenSSH's MaxStartups start:rate:full random early drop; returns a reason or NULL. */
static const char *
refuse_reason(const struct berth_config *s, const struct limits_view *v)
{
	const struct berth_maxstartups *m = &s->max_startups;
	if (s->max_connections && v->total >= s->max_connections)
		return "MaxConnections";
	if (s->per_source_max_connections && v->src_total >= s->per_source_max_connections)
		return "PerSourceMaxConnections";
	if (s->per_source_max_startups && v->src_unauth >= s->per_source_max_startups)
		return "PerSourceMaxStartups";
	if (m->full && v->unauth >= m->full)
		return "MaxStartups";
	if (m->start && v->unauth >= m->start && m->full > m->start) {
		unsigned p =
		        m->rate + (100 - m->rate) * (v->unauth - m->start) / (m->full - m->start);
		if ((unsigned)(random() % 100) < p)
			return "MaxStartups";
	}
	return NULL;
}

static void
reap_children(struct conn_slot *slots, size_t nslots, struct master_ctl *ctl)
{
	for (;;) {
		int status;
		pid_t pid = waitpid(-1, &status, WNOHANG);
		if (pid <= 0)
			break;
		if (spawner_reaped(pid, status))
			continue;
		for (size_t i = 0; i < nslots; i++) {
			if (slots[i].pid != pid)
				continue;
			if (WIFSIGNALED(status))
				log_verbose("connection process %d from %s killed by signal %d",
				            (int)pid, slots[i].addr, WTERMSIG(status));
			slots[i].pid = 0;
			master_ctl_conn_end(ctl, &slots[i].live, slots[i].startup_fd);
			if (slots[i].startup_fd >= 0)
				close(slots[i].startup_fd);
			slots[i].startup_fd = -1;
			break;
		}
	}
}

static _noreturn_ void
run_connection(const struct berth_config *s, const struct daemon_runtime *rt, ssh_bind bind, int fd,
               const struct sockaddr_storage *ss, socklen_t sslen, int startup_fd,
               const struct listener_kind *kind, struct tls_server *tls)
{
	char addr[INET6_ADDRSTRLEN] = "UNKNOWN", port[16] = "0";
	getnameinfo((const struct sockaddr *)ss, sslen, addr, sizeof(addr), port, sizeof(port),
	            NI_NUMERICHOST | NI_NUMERICSERV);
	/* Show IPv4-mapped peers as plain IPv4 so limits and logs agree. */
	const char *shown =
	        strncmp(addr, "::ffff:", 7) == 0 && strchr(addr + 7, '.') ? addr + 7 : addr;
	struct monitor_conn mc = {
	        .cfg = s,
	        .rt = rt,
	        .bind = bind,
	        .fd = fd,
	        .peer_addr = shown,
	        .peer_port = (unsigned)strtoul(port, NULL, 10),
	        .startup_fd = startup_fd,
	        .proto = kind->proto,
	        .ftps_allow_plain = kind->allow_plain,
	        .tls = tls,
	};
	_exit(monitor_connection_run(&mc));
}

/* After a reload: room for the new MaxConnections (live slots stay where they are) and
 * for the new number of listeners in the poll set. */
static void
grow_tables(const struct berth_config *s, struct conn_slot **slots, size_t **pmap, size_t *nslots,
            struct pollfd **pfds, size_t nl)
{
	size_t want = s->max_connections ? s->max_connections : 1000;
	if (want > *nslots) {
		*slots = xreallocarray(*slots, want, sizeof(**slots));
		for (size_t i = *nslots; i < want; i++)
			(*slots)[i] = (struct conn_slot){.pid = 0, .startup_fd = -1};
		*pmap = xreallocarray(*pmap, want, sizeof(**pmap));
		*nslots = want;
	}
	*pfds = xreallocarray(*pfds, *nslots + nl + 1 + MASTER_CTL_MAX_POLLFDS, sizeof(**pfds));
}

static bool
fd_listed(int fd, const int *fds, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (fds[i] == fd)
			return true;
	return false;
}

/* The master's side of a reload (src/daemon/reload.c builds the generation): open the
 * new listener set, taking over the sockets of unchanged addresses, then swap. On any
 * error nothing changes. Connection processes are not touched: each has its own copy of
 * the generation it was forked with. Returns true when the new generation is in force. */
static bool
master_reload(const struct daemon_runtime *rt, struct reload_master *m, int *lfds,
              struct listener_kind *lkinds, size_t *nl, size_t max, struct berth_errors *errs)
{
	struct daemon_gen *g = NULL;
	if (reload_build(rt, &g, errs) != 0)
		return false;
	int nfds[64];
	struct listener_kind nkinds[ARRAY_SIZE(nfds)];
	size_t nn = 0;
	struct listener_reuse reuse = {.fds = lfds, .n = *nl, .errors = errs};
	if (open_listeners(&g->cfg, nfds, nkinds, MIN(max, ARRAY_SIZE(nfds)), &nn, &reuse) < 0) {
		for (size_t i = 0; i < nn; i++)
			if (!fd_listed(nfds[i], lfds, *nl))
				close(nfds[i]);
		reload_gen_free(g);
		return false;
	}
	for (size_t i = 0; i < *nl; i++) {
		if (fd_listed(lfds[i], nfds, nn))
			continue;
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		char abuf[INET6_ADDRSTRLEN] = "?", port[16] = "?";
		if (getsockname(lfds[i], (struct sockaddr *)&ss, &len) == 0)
			getnameinfo((struct sockaddr *)&ss, len, abuf, sizeof(abuf), port,
			            sizeof(port), NI_NUMERICHOST | NI_NUMERICSERV);
		log_info("Server no longer listening on %s port %s.", abuf, port);
		close(lfds[i]);
	}
	memcpy(lfds, nfds, nn * sizeof(*lfds));
	memcpy(lkinds, nkinds, nn * sizeof(*lkinds));
	*nl = nn;
	reload_master_swap(m, g);
	return true;
}

int
daemon_run(const struct berth_config *s, const struct daemon_runtime *rt)
{
	int lfds[64];
	struct listener_kind lkinds[ARRAY_SIZE(lfds)];
	size_t nl = 0;
	/* The FTPS certificate and key are read here, as root, before any fork. */
	struct tls_server *tls = NULL;
	if (ftps_enabled(s)) {
		struct berth_errors errs = BERTH_ERRORS_NULL, warns = BERTH_ERRORS_NULL;
		int r = ftps_server_new(s, &errs, &warns, &tls);
		for (size_t i = 0; i < errs.n; i++)
			log_error("FTPS: %s", errs.msgs[i]);
		for (size_t i = 0; i < warns.n; i++)
			log_info("FTPS: warning: %s", warns.msgs[i]);
		berth_errors_free(&errs);
		berth_errors_free(&warns);
		if (r != 0)
			return r < 0 ? r : -EINVAL;
	}
	int r = open_listeners(s, lfds, lkinds, ARRAY_SIZE(lfds), &nl, NULL);
	if (r < 0) {
		tls_server_free(tls);
		return r;
	}
	ssh_bind bind = NULL;
	r = sshd_bind_new(s, &bind);
	if (r < 0) {
		tls_server_free(tls);
		return r;
	}

	if (pipe2(wake_pipe, O_CLOEXEC | O_NONBLOCK) < 0)
		return -errno;
	struct sigaction sa = {.sa_handler = on_signal};
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	sigaction(SIGCHLD, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	srandom((unsigned)time(NULL) ^ (unsigned)getpid());

	/* Workers are forked from a clean image exec'd now, before any connection (its
	 * children share its relocated libraries and OpenSSL's caches); without it each
	 * session execs its own. */
	int sr = spawner_start((int)log_get_level(), rt->log_stderr, s->syslog_facility);
	if (sr < 0)
		log_error("cannot start the session spawner (sessions start by exec): %s",
		          strerror(-sr));
	struct master_ctl *ctl = master_ctl_new(s); /* defender and control socket */
	size_t nslots = s->max_connections ? s->max_connections : 1000;
	struct conn_slot *slots = xcalloc(nslots, sizeof(*slots));
	for (size_t i = 0; i < nslots; i++)
		slots[i].startup_fd = -1;
	struct pollfd *pfds = xcalloc(nslots + nl + 1 + MASTER_CTL_MAX_POLLFDS, sizeof(*pfds));
	size_t *pmap = xcalloc(nslots, sizeof(*pmap));
	struct reload_master rm;
	reload_master_init(&rm, rt, &s, &bind, &tls);

	while (!got_term) {
		size_t np = 0;
		pfds[np++] = (struct pollfd){.fd = wake_pipe[0], .events = POLLIN};
		for (size_t i = 0; i < nl; i++)
			pfds[np++] = (struct pollfd){.fd = lfds[i], .events = POLLIN};
		size_t nwatch = 0;
		for (size_t i = 0; i < nslots; i++) {
			if (slots[i].pid > 0 && slots[i].startup_fd >= 0) {
				pmap[nwatch++] = i;
				pfds[np++] = (struct pollfd){.fd = slots[i].startup_fd,
				                             .events = POLLIN};
			}
		}
		int ctl_timeout;
		size_t ctl_at = np;
		size_t nctl =
		        master_ctl_pollfds(ctl, pfds + np, MASTER_CTL_MAX_POLLFDS, &ctl_timeout);
		np += nctl;
		int pr = poll(pfds, np, ctl_timeout);
		if (pr < 0 && errno != EINTR) {
			log_error("poll: %m");
			break;
		}
		if (pfds[0].revents & POLLIN) {
			char tmp[64];
			while (read(wake_pipe[0], tmp, sizeof(tmp)) > 0)
				;
		}
		if (got_sigchld) {
			got_sigchld = 0;
			reap_children(slots, nslots, ctl);
		}
		master_ctl_serve(ctl, pfds + ctl_at, nctl);
		if (got_hup) {
			got_hup = 0;
			struct berth_errors errs = BERTH_ERRORS_NULL;
			reload_master_begin(&rm);
			bool ok =
			        master_reload(rt, &rm, lfds, lkinds, &nl, ARRAY_SIZE(lfds), &errs);
			reload_master_end(&rm, ok, &errs);
			berth_errors_free(&errs);
			if (ok)
				master_ctl_reconfigure(ctl, s);
			grow_tables(s, &slots, &pmap, &nslots, &pfds, nl);
			continue; /* the poll set changed */
		}
		for (size_t w = 0; w < nwatch; w++) {
			struct pollfd *p = &pfds[1 + nl + w];
			struct conn_slot *c = &slots[pmap[w]];
			if (!p->revents || c->startup_fd != p->fd)
				continue;
			bool eof;
			master_ctl_conn_input(ctl, &c->live, c->startup_fd, &eof);
			if (c->live.authenticated)
				c->authenticated = true;
			if (eof) {
				/* Monitor gone; count it as authenticated (no longer a startup)
				 * until reaped. */
				close(c->startup_fd);
				c->startup_fd = -1;
				c->authenticated = true;
			}
		}
		for (size_t li = 0; li < nl; li++) {
			if (!(pfds[1 + li].revents & POLLIN))
				continue;
			for (int burst = 0; burst < 64; burst++) {
				struct sockaddr_storage ss;
				socklen_t sslen = sizeof(ss);
				int fd = accept4(lfds[li], (struct sockaddr *)&ss, &sslen,
				                 SOCK_CLOEXEC);
				if (fd < 0) {
					if (errno != EAGAIN && errno != EINTR &&
					    errno != ECONNABORTED)
						log_error("accept: %m");
					break;
				}
				char addr[INET6_ADDRSTRLEN] = "UNKNOWN", port[16] = "0";
				getnameinfo((struct sockaddr *)&ss, sslen, addr, sizeof(addr), port,
				            sizeof(port), NI_NUMERICHOST | NI_NUMERICSERV);
				const char *src =
				        strncmp(addr, "::ffff:", 7) == 0 ? addr + 7 : addr;
				if (master_ctl_refuse(ctl, src, port)) {
					close(fd); /* banned: before any key exchange or TLS */
					continue;
				}
				struct limits_view v;
				char block[INET6_ADDRSTRLEN];
				source_block(s, src, block, sizeof(block));
				count_conns(slots, nslots, block, &v);
				const char *why = refuse_reason(s, &v);
				size_t slot = nslots;
				for (size_t i = 0; !why && i < nslots; i++)
					if (slots[i].pid == 0) {
						slot = i;
						break;
					}
				if (!why && slot == nslots)
					why = "MaxConnections";
				if (why) {
					if (strncmp(why, "PerSource", 9) == 0)
						master_ctl_flood(ctl, src);
					log_info("drop connection #%u from [%s]:%s past %s",
					         v.total, src, port, why);
					close(fd);
					continue;
				}
				spawner_ensure(); /* restarted if it died (at most every 10 s) */
				int sp[2];
				if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0) {
					log_error("socketpair: %m");
					close(fd);
					continue;
				}
				pid_t pid = fork();
				if (pid < 0) {
					log_error("fork: %m");
					close(fd);
					close(sp[0]);
					close(sp[1]);
					continue;
				}
				if (pid == 0) {
					/* Connection process: nothing of the master survives. */
					struct sigaction dfl = {.sa_handler = SIG_DFL};
					sigaction(SIGCHLD, &dfl, NULL);
					sigaction(SIGTERM, &dfl, NULL);
					sigaction(SIGINT, &dfl, NULL);
					close(wake_pipe[0]);
					close(wake_pipe[1]);
					wake_pipe[1] = -1;
					for (size_t i = 0; i < nl; i++)
						close(lfds[i]);
					for (size_t i = 0; i < nslots; i++)
						if (slots[i].startup_fd >= 0)
							close(slots[i].startup_fd);
					close(sp[0]);
					master_ctl_forget(ctl);
					int fl = fcntl(fd, F_GETFL);
					fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
					run_connection(s, rt, bind, fd, &ss, sslen, sp[1],
					               &lkinds[li], tls);
				}
				close(fd);
				close(sp[1]);
				set_cloexec_nonblock(sp[0]);
				slots[slot] = (struct conn_slot){.pid = pid, .startup_fd = sp[0]};
				snprintf(slots[slot].addr, sizeof(slots[slot].addr), "%s", src);
				snprintf(slots[slot].block, sizeof(slots[slot].block), "%s", block);
				master_ctl_conn_start(ctl, &slots[slot].live, pid, src, port,
				                      (int)lkinds[li].proto);
				log_debug("connection from %s port %s: process %d", src, port,
				          (int)pid);
			}
		}
	}
	log_info("Received signal; terminating.");
	reload_master_stop(&rm);
	for (size_t i = 0; i < nl; i++)
		close(lfds[i]);
	/* Established sessions are independent processes: leave them running, like sshd. */
	ssh_bind_free(bind);
	tls_server_free(tls);
	master_ctl_free(ctl);
	free(slots);
	free(pfds);
	free(pmap);
	return 0;
}
