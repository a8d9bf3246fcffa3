/* SPDX-License-Identifier: BSD-2-Clause */
/* berthd master: defender hooks, live connections and the root-only control socket. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "berth/buf.h"
#include "berth/common.h"
#include "berth/control.h"
#include "berth/log.h"
#include "berth/priv.h"
#include "berth/xmem.h"

#define CTL_MAX_CLIENTS (MASTER_CTL_MAX_POLLFDS - 1)
#define CTL_REQ_MAX     1024
#define CTL_TIMEOUT_MS  5000
#define CTL_MAX_ARGS    8

struct ctl_client {
	int fd; /* -1 = free */
	uint64_t deadline;
	char in[CTL_REQ_MAX];
	size_t inlen;
	char *out; /* response being written, or NULL while reading */
	size_t outlen, outoff;
};

struct master_ctl {
	const struct berth_config *cfg;
	char *cfg_sig;        /* ctl_config_signature(cfg): rebuild the defender when it changes */
	char *cfg_socket;     /* cfg->control_socket ("" for none) */
	struct defender *def; /* NULL: Defender no */
	char *state_path;
	int lfd;
	char *sock_path;
	dev_t sock_dev;
	ino_t sock_ino;
	struct ctl_client cl[CTL_MAX_CLIENTS];
	struct conn_live head; /* list of registered connections */
};

static uint64_t
now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ---- defender ---- */

static void
save_state(struct master_ctl *c)
{
	int r = defender_save(c->def, c->state_path, time(NULL));
	if (r < 0)
		log_error("defender: cannot write %s: %s", c->state_path, strerror(-r));
}

void
defender_config_from(const struct berth_config *s, struct defender_config *ret)
{
	*ret = (struct defender_config){
	        .threshold = s->defender_threshold,
	        .score = {[DEFENDER_AUTH_FAILURE] = s->defender_score_auth,
	                  [DEFENDER_INVALID_USER] = s->defender_score_invalid,
	                  [DEFENDER_NO_AUTH] = s->defender_score_noauth,
	                  [DEFENDER_VIOLATION] = s->defender_score_violation,
	                  [DEFENDER_FLOOD] = s->defender_score_flood},
	        .observation = s->defender_observation,
	        .ban_time = s->defender_ban_time,
	        .ban_factor = s->defender_ban_factor,
	        .ban_time_max = s->defender_ban_time_max,
	        .allow_from = s->defender_allow_from,
	        .v4_prefix = s->defender_v4_prefix,
	        .v6_prefix = s->defender_v6_prefix,
	        .max_entries = s->defender_max_sources,
	};
}

static void
defender_setup(struct master_ctl *c)
{
	const struct berth_config *s = c->cfg;
	struct defender_config dc;
	defender_config_from(s, &dc);
	if (!s->defender)
		return;
	if (defender_new(&dc, &c->def) < 0) {
		log_error("defender: invalid settings; defender off");
		return;
	}
	c->state_path = defender_state_path(s->state_directory);
	int r = defender_load(c->def, c->state_path, time(NULL));
	if (r < 0)
		log_error("defender: cannot read %s: %s; starting without its bans", c->state_path,
		          strerror(-r));
}

bool
master_ctl_refuse(struct master_ctl *c, const char *addr, const char *port)
{
	int64_t until;
	if (!c || !c->def)
		return false;
	if (defender_expire(c->def, time(NULL)))
		save_state(c);
	if (!defender_banned(c->def, addr, time(NULL), &until))
		return false;
	char when[64];
	defender_format_until(until, when, sizeof(when));
	log_info("refused connection from %s port %s: banned until %s", addr, port, when);
	return true;
}

static void
score(struct master_ctl *c, const char *addr, enum defender_event ev, uint32_t times)
{
	for (uint32_t i = 0; c->def && i < times; i++) {
		int64_t until;
		if (defender_event(c->def, addr, ev, time(NULL), &until) != 1)
			continue;
		char key[DEFENDER_KEY_MAX], when[64];
		if (defender_key(c->def, addr, key, sizeof(key)) < 0)
			snprintf(key, sizeof(key), "%s", addr);
		defender_format_until(until, when, sizeof(when));
		log_info("defender: banned %s until %s (score reached %u; last event: %s from %s)",
		         key, when, c->cfg->defender_threshold, defender_event_name(ev), addr);
		save_state(c);
		break;
	}
}

void
master_ctl_flood(struct master_ctl *c, const char *addr)
{
	if (c)
		score(c, addr, DEFENDER_FLOOD, 1);
}

/* ---- connections ---- */

void
master_ctl_conn_start(struct master_ctl *c, struct conn_live *lc, pid_t pid, const char *addr,
                      const char *port, int proto)
{
	*lc = (struct conn_live){.pid = pid, .proto = proto, .start = time(NULL)};
	snprintf(lc->addr, sizeof(lc->addr), "%s", addr);
	lc->port = (unsigned)strtoul(port, NULL, 10);
	if (!c)
		return;
	lc->next = c->head.next;
	lc->prev = &c->head;
	c->head.next->prev = lc;
	c->head.next = lc;
}

static void
session_drop(struct conn_session *s)
{
	if (s->page)
		munmap((void *)s->page, 4096);
	s->page = NULL;
}

static void
conn_record(struct master_ctl *c, struct conn_live *lc, const uint8_t *msg, size_t len, int fd)
{
	struct xbuf b;
	uint8_t type, u8;
	uint32_t id;
	xbuf_view_init(&b, msg, len);
	if (xbuf_get_u8(&b, &type) < 0)
		goto out;
	switch (type) {
	case CONN_MSG_AUTH: {
		const uint8_t *p;
		size_t n;
		if (xbuf_get_string_direct(&b, &p, &n) < 0)
			break;
		lc->authenticated = true;
		snprintf(lc->account, sizeof(lc->account), "%.*s", (int)MIN(n, 127u), p);
		/* A login that succeeded forgives its connection's earlier failures. */
		lc->pending[DEFENDER_AUTH_FAILURE] = lc->pending[DEFENDER_INVALID_USER] = 0;
		break;
	}
	case CONN_MSG_EVENT:
		if (xbuf_get_u8(&b, &u8) < 0 || u8 >= DEFENDER_N_EVENTS)
			break;
		if (u8 == DEFENDER_VIOLATION && c)
			score(c, lc->addr, DEFENDER_VIOLATION, 1);
		else if (lc->pending[u8] < 10000)
			lc->pending[u8]++;
		break;
	case CONN_MSG_SESSION:
		if (xbuf_get_u32(&b, &id) < 0 || xbuf_get_u8(&b, &u8) < 0 ||
		    lc->nsess >= ARRAY_SIZE(lc->sess))
			break;
		struct conn_session *s = &lc->sess[lc->nsess++];
		*s = (struct conn_session){.id = id, .kind = u8, .start = time(NULL)};
		if (fd >= 0) {
			struct stat st;
			void *p = MAP_FAILED;
			if (fstat(fd, &st) == 0 && st.st_size == 4096)
				p = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
			if (p != MAP_FAILED)
				s->page = p;
		}
		break;
	case CONN_MSG_END:
		if (xbuf_get_u32(&b, &id) < 0)
			break;
		for (size_t i = 0; i < lc->nsess; i++) {
			if (lc->sess[i].id != id)
				continue;
			session_drop(&lc->sess[i]);
			lc->sess[i] = lc->sess[--lc->nsess];
			break;
		}
		break;
	default:
		break;
	}
out:
	if (fd >= 0)
		close(fd);
}

/* The connection is over: what it did counts now. */
static void
conn_finish(struct master_ctl *c, struct conn_live *lc)
{
	if (lc->finished)
		return;
	lc->finished = true;
	if (!c)
		return;
	if (!lc->authenticated)
		lc->pending[DEFENDER_NO_AUTH]++;
	for (unsigned ev = 0; ev < DEFENDER_N_EVENTS; ev++)
		if (lc->pending[ev])
			score(c, lc->addr, (enum defender_event)ev, lc->pending[ev]);
	memset(lc->pending, 0, sizeof(lc->pending));
}

void
master_ctl_conn_input(struct master_ctl *c, struct conn_live *lc, int fd, bool *ret_eof)
{
	*ret_eof = false;
	for (int i = 0; i < 64; i++) {
		uint8_t msg[CONN_MSG_MAX];
		int pfd;
		ssize_t n = mon_recv(fd, msg, sizeof(msg), &pfd);
		if (n == -EAGAIN || n == -EWOULDBLOCK)
			return;
		if (n == -EMSGSIZE)
			continue;
		if (n <= 0) {
			*ret_eof = true;
			conn_finish(c, lc);
			return;
		}
		conn_record(c, lc, msg, (size_t)n, pfd);
	}
}

void
master_ctl_conn_end(struct master_ctl *c, struct conn_live *lc, int fd)
{
	bool eof = false;
	if (fd >= 0)
		master_ctl_conn_input(c, lc, fd, &eof);
	conn_finish(c, lc);
	for (size_t i = 0; i < lc->nsess; i++)
		session_drop(&lc->sess[i]);
	lc->nsess = 0;
	if (lc->next) {
		lc->next->prev = lc->prev;
		lc->prev->next = lc->next;
	}
	lc->next = lc->prev = NULL;
	lc->pid = 0;
}

/* ---- the control socket ---- */

/* Create the socket: a live daemon's socket is never taken over; a stale one is
 * replaced. */
static void
control_listen(struct master_ctl *c)
{
	const char *path = c->cfg->control_socket;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (!path)
		return;
	if (strlen(path) >= sizeof(sa.sun_path)) {
		log_error("ControlSocket %s: path too long; no control socket", path);
		return;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	_cleanup_free_ char *dir = xstrdup(path);
	char *slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		if (mkdir(dir, 0755) < 0 && errno != EEXIST)
			log_error("ControlSocket: mkdir %s: %m", dir);
	}
	struct stat st;
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			log_error("ControlSocket %s exists and is not a socket; no control socket",
			          path);
			return;
		}
		int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (probe >= 0 && connect(probe, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
			close(probe);
			log_error(
			        "ControlSocket %s: another berthd answers there; no control socket",
			        path);
			return;
		}
		if (probe >= 0)
			close(probe);
		(void)unlink(path); /* stale: nobody listens */
	}
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		log_error("ControlSocket: socket: %m");
		return;
	}
	mode_t old = umask(0177);
	int r = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (r < 0 || chmod(path, 0600) < 0 || listen(fd, 16) < 0 || lstat(path, &st) < 0) {
		log_error("ControlSocket %s: %m; no control socket", path);
		close(fd);
		return;
	}
	if (geteuid() == 0 && lchown(path, 0, 0) < 0)
		log_error("ControlSocket %s: chown: %m", path);
	c->lfd = fd;
	c->sock_path = xstrdup(path);
	c->sock_dev = st.st_dev;
	c->sock_ino = st.st_ino;
	log_verbose("control socket %s", path);
}

/* Close and remove our control socket (not one a later daemon created). */
static void
control_unlisten(struct master_ctl *c)
{
	if (c->lfd >= 0) {
		struct stat st;
		if (lstat(c->sock_path, &st) == 0 && st.st_dev == c->sock_dev &&
		    st.st_ino == c->sock_ino)
			unlink(c->sock_path);
		close(c->lfd);
	}
	c->lfd = -1;
	free(c->sock_path);
	c->sock_path = NULL;
}

/* What the defender was built from, as one string: a reload
 * compares it (the old berth_config is already freed by then). */
static char *
ctl_config_signature(const struct berth_config *cfg)
{
	struct defender_config d;
	defender_config_from(cfg, &d);
	char scores[DEFENDER_N_EVENTS * 12 + 1] = "";
	for (size_t i = 0; i < DEFENDER_N_EVENTS; i++)
		snprintf(scores + strlen(scores), sizeof(scores) - strlen(scores), "%" PRIu32 ",",
		         d.score[i]);
	return xasprintf("%d|%" PRIu32 "|%s|%" PRIu32 "|%" PRIu32 "|%" PRIu32 "|%" PRIu32
	                 "|%s|%" PRIu32 "|%" PRIu32 "|%zu|%s",
	                 cfg->defender, d.threshold, scores, d.observation, d.ban_time,
	                 d.ban_factor, d.ban_time_max, d.allow_from ? d.allow_from : "",
	                 d.v4_prefix, d.v6_prefix, d.max_entries, cfg->state_directory);
}

void
master_ctl_reconfigure(struct master_ctl *c, const struct berth_config *cfg)
{
	char *sig = ctl_config_signature(cfg);
	bool defender_same = strcmp(c->cfg_sig, sig) == 0;
	bool socket_same =
	        strcmp(c->cfg_socket, cfg->control_socket ? cfg->control_socket : "") == 0;
	free(c->cfg_sig);
	c->cfg_sig = sig;
	free(c->cfg_socket);
	c->cfg_socket = xstrdup(cfg->control_socket ? cfg->control_socket : "");
	c->cfg = cfg; /* the previous configuration is gone: nothing may point into it */
	if (!defender_same) {
		/* The bans are in the state file; scores below the threshold start over. */
		if (c->def)
			save_state(c);
		defender_free(c->def);
		c->def = NULL;
		free(c->state_path);
		c->state_path = NULL;
		defender_setup(c);
		log_info("defender: settings reloaded%s", c->def ? "" : " (defender off)");
	}
	if (!socket_same) {
		control_unlisten(c);
		control_listen(c);
	}
}

struct master_ctl *
master_ctl_new(const struct berth_config *cfg)
{
	struct master_ctl *c = xcalloc(1, sizeof(*c));
	c->cfg = cfg;
	c->cfg_sig = ctl_config_signature(cfg);
	c->cfg_socket = xstrdup(cfg->control_socket ? cfg->control_socket : "");
	c->lfd = -1;
	c->head.next = c->head.prev = &c->head;
	for (size_t i = 0; i < CTL_MAX_CLIENTS; i++)
		c->cl[i].fd = -1;
	defender_setup(c);
	control_listen(c);
	return c;
}

static void
client_close(struct ctl_client *cl)
{
	if (cl->fd >= 0)
		close(cl->fd);
	free(cl->out);
	*cl = (struct ctl_client){.fd = -1};
}

void
master_ctl_free(struct master_ctl *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < CTL_MAX_CLIENTS; i++)
		client_close(&c->cl[i]);
	control_unlisten(c);
	if (c->def)
		save_state(c);
	for (struct conn_live *lc = c->head.next; lc != &c->head;) {
		struct conn_live *next = lc->next;
		for (size_t i = 0; i < lc->nsess; i++)
			session_drop(&lc->sess[i]);
		lc->nsess = 0;
		lc->next = lc->prev = NULL;
		lc = next;
	}
	free(c->sock_path);
	free(c->state_path);
	free(c->cfg_sig);
	free(c->cfg_socket);
	defender_free(c->def);
	free(c);
}

void
master_ctl_forget(struct master_ctl *c)
{
	if (!c)
		return;
	if (c->lfd >= 0)
		close(c->lfd);
	c->lfd = -1;
	for (size_t i = 0; i < CTL_MAX_CLIENTS; i++)
		if (c->cl[i].fd >= 0)
			close(c->cl[i].fd);
}

/* ---- commands ---- */

static const char *const kind_names[] = {"sftp", "scp", "ftp", "ftps"};

/* Untrusted text (a file name the worker wrote): printable ASCII, the rest as \xHH. */
static void
put_escaped(FILE *f, const char *s, size_t max)
{
	for (size_t i = 0; i < max && s[i]; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (ch <= 0x20 || ch >= 0x7f || ch == '\\')
			fprintf(f, "\\x%02x", ch);
		else
			fputc(ch, f);
	}
}

/* A consistent copy of a status page (the worker may be writing it). */
static void
read_page(const struct live_status *p, struct live_status *out)
{
	for (int tries = 0; tries < 100; tries++) {
		uint32_t s1 = __atomic_load_n(&p->seq, __ATOMIC_ACQUIRE);
		memcpy(out, (const void *)p, sizeof(*out));
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		uint32_t s2 = __atomic_load_n(&p->seq, __ATOMIC_ACQUIRE);
		if (s1 == s2 && !(s1 & 1))
			break;
	}
	out->file[LIVE_FILE_MAX - 1] = '\0';
}

static int
cmd_sessions(struct master_ctl *c, char **argv, size_t argc, FILE *out)
{
	(void)argv;
	if (argc != 1) {
		fprintf(out, "usage: sessions");
		return -1;
	}
	fprintf(out, "ID\tACCOUNT\tSOURCE\tPROTOCOL\tSTART\tBYTES_IN\tBYTES_OUT\tFILE\n");
	for (struct conn_live *lc = c->head.prev; lc != &c->head; lc = lc->prev) {
		for (size_t i = 0; i < lc->nsess; i++) {
			const struct conn_session *s = &lc->sess[i];
			struct live_status st = {0};
			if (s->page)
				read_page(s->page, &st);
			char when[32];
			struct tm tm;
			time_t t = s->start;
			gmtime_r(&t, &tm);
			strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
			fprintf(out,
			        "%" PRIu32 "\t%s\t%s%s%s:%u\t%s\t%s\t%" PRIu64 "\t%" PRIu64 "\t",
			        s->id, lc->account, strchr(lc->addr, ':') ? "[" : "", lc->addr,
			        strchr(lc->addr, ':') ? "]" : "", lc->port,
			        s->kind < ARRAY_SIZE(kind_names) ? kind_names[s->kind] : "?", when,
			        st.bytes_in, st.bytes_out);
			if (st.file[0])
				put_escaped(out, st.file, LIVE_FILE_MAX);
			else
				fputc('-', out);
			fputc('\n', out);
		}
	}
	return 0;
}

static int
cmd_kick(struct master_ctl *c, char **argv, size_t argc, FILE *out)
{
	if (argc != 2) {
		fprintf(out, "usage: kick SESSION|ACCOUNT");
		return -1;
	}
	char *end;
	unsigned long id = strtoul(argv[1], &end, 10);
	bool numeric = *end == '\0' && argv[1][0] != '\0';
	unsigned n = 0;
	for (struct conn_live *lc = c->head.next; lc != &c->head; lc = lc->next) {
		bool hit = lc->authenticated && strcmp(lc->account, argv[1]) == 0;
		for (size_t i = 0; !hit && numeric && i < lc->nsess; i++)
			hit = lc->sess[i].id == id;
		if (!hit || lc->pid <= 0)
			continue;
		/* The monitor is our child (not reaped yet, so its pid is still its own); its
		 * network child and workers die with it (PR_SET_PDEATHSIG). */
		if (kill(lc->pid, SIGKILL) == 0) {
			n++;
			log_info("kicked connection of %s from %s port %u (berthctl kick %s)",
			         lc->account[0] ? lc->account : "(not logged in)", lc->addr,
			         lc->port, argv[1]);
		}
	}
	if (n == 0) {
		fprintf(out, "no session or account \"%s\"", argv[1]);
		return -1;
	}
	fprintf(out, "kicked %u connection%s\n", n, n == 1 ? "" : "s");
	return 0;
}

static int
cmd_ban(struct master_ctl *c, char **argv, size_t argc, FILE *out)
{
	time_t now = time(NULL);
	if (!c->def) {
		fprintf(out, "the defender is off (Defender no)");
		return -1;
	}
	if (argc == 2 && strcmp(argv[1], "list") == 0) {
		struct defender_ban *v;
		size_t n;
		defender_expire(c->def, now);
		defender_bans(c->def, now, &v, &n);
		fprintf(out, "SOURCE\tUNTIL\tBANS\n");
		for (size_t i = 0; i < n; i++) {
			char when[64];
			defender_format_until(v[i].until, when, sizeof(when));
			fprintf(out, "%s\t%s\t%" PRIu32 "\n", v[i].key, when, v[i].bans);
		}
		free(v);
		return 0;
	}
	if ((argc == 3 || argc == 4) && strcmp(argv[1], "add") == 0) {
		uint32_t secs = c->cfg->defender_ban_time;
		if (argc == 4) {
			char *end;
			unsigned long v = strtoul(argv[3], &end, 10);
			if (*end || argv[3][0] == '\0' || v > UINT32_MAX) {
				fprintf(out, "bad duration \"%s\"", argv[3]);
				return -1;
			}
			secs = (uint32_t)v;
		}
		char key[DEFENDER_KEY_MAX], when[64];
		int64_t until;
		int r = defender_ban_add(c->def, argv[2], secs, now, key, &until);
		if (r < 0) {
			fprintf(out, "cannot ban \"%s\": %s", argv[2],
			        r == -EINVAL ? "not a numeric address or ADDR/PREFIX"
			                     : strerror(-r));
			return -1;
		}
		defender_format_until(until, when, sizeof(when));
		log_info("defender: banned %s until %s (berthctl ban add)", key, when);
		save_state(c);
		fprintf(out, "banned %s until %s\n", key, when);
		return 0;
	}
	if (argc == 3 && strcmp(argv[1], "remove") == 0) {
		int r = defender_ban_remove(c->def, argv[2], now);
		if (r < 0) {
			fprintf(out, "%s is not banned", argv[2]);
			return -1;
		}
		log_info("defender: ban of %s lifted (berthctl ban remove)", argv[2]);
		save_state(c);
		fprintf(out, "lifted the ban of %s\n", argv[2]);
		return 0;
	}
	fprintf(out,
	        "usage: ban list | ban add ADDR[/PREFIX] [SECONDS] | ban remove ADDR[/PREFIX]");
	return -1;
}

static int
cmd_ping(struct master_ctl *c, char **argv, size_t argc, FILE *out)
{
	(void)c;
	(void)argv;
	(void)argc;
	fprintf(out, "berthd %d\n", (int)getpid());
	return 0;
}

/* The command table: one row per command; `reload` can be added as one more. */
static const struct {
	const char *name;
	int (*run)(struct master_ctl *c, char **argv, size_t argc, FILE *out);
} commands[] = {
        {"ping", cmd_ping},
        {"sessions", cmd_sessions},
        {"kick", cmd_kick},
        {"ban", cmd_ban},
};

/* Run one request line; the response is "OK\n" + body, or "ERR message\n". */
static void
run_request(struct master_ctl *c, struct ctl_client *cl, char *line)
{
	char *argv[CTL_MAX_ARGS];
	size_t argc = 0;
	char *save = NULL;
	for (char *w = strtok_r(line, " \t", &save); w && argc < CTL_MAX_ARGS;
	     w = strtok_r(NULL, " \t", &save))
		argv[argc++] = w;
	char *body = NULL;
	size_t blen = 0;
	FILE *f = open_memstream(&body, &blen);
	int r = -1;
	if (!f) {
		client_close(cl);
		return;
	}
	bool found = false;
	for (size_t i = 0; argc > 0 && i < ARRAY_SIZE(commands); i++) {
		if (strcmp(argv[0], commands[i].name) == 0) {
			found = true;
			r = commands[i].run(c, argv, argc, f);
		}
	}
	if (!found)
		fprintf(f, "unknown command");
	fclose(f);
	cl->out = r == 0 ? xasprintf("OK\n%s", body) : xasprintf("ERR %s\n", body);
	cl->outlen = strlen(cl->out);
	cl->outoff = 0;
	free(body);
}

static void
client_accept(struct master_ctl *c)
{
	for (int burst = 0; burst < 16; burst++) {
		int fd = accept4(c->lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd < 0)
			return;
		struct ucred cred;
		socklen_t len = sizeof(cred);
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || cred.uid != 0) {
			static const char deny[] = "ERR permission denied (root only)\n";
			(void)!write(fd, deny, sizeof(deny) - 1);
			log_info("control socket: refused a client with uid %ld",
			         (long)(len == sizeof(cred) ? (long)cred.uid : -1L));
			close(fd);
			continue;
		}
		struct ctl_client *cl = NULL;
		for (size_t i = 0; i < CTL_MAX_CLIENTS && !cl; i++)
			if (c->cl[i].fd < 0)
				cl = &c->cl[i];
		if (!cl) {
			static const char busy[] = "ERR busy\n";
			(void)!write(fd, busy, sizeof(busy) - 1);
			close(fd);
			continue;
		}
		*cl = (struct ctl_client){.fd = fd, .deadline = now_ms() + CTL_TIMEOUT_MS};
	}
}

static void
client_io(struct master_ctl *c, struct ctl_client *cl, short revents)
{
	if (!cl->out && (revents & (POLLIN | POLLHUP | POLLERR))) {
		ssize_t n = read(cl->fd, cl->in + cl->inlen, sizeof(cl->in) - 1 - cl->inlen);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0) {
			client_close(cl);
			return;
		}
		cl->inlen += (size_t)n;
		cl->in[cl->inlen] = '\0';
		char *nl = memchr(cl->in, '\n', cl->inlen);
		if (!nl) {
			if (cl->inlen == sizeof(cl->in) - 1)
				client_close(cl); /* request too long */
			return;
		}
		*nl = '\0';
		run_request(c, cl, cl->in);
		if (cl->fd < 0)
			return;
	}
	if (cl->out) {
		ssize_t n = write(cl->fd, cl->out + cl->outoff, cl->outlen - cl->outoff);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0) {
			client_close(cl);
			return;
		}
		cl->outoff += (size_t)n;
		if (cl->outoff == cl->outlen)
			client_close(cl);
	}
}

size_t
master_ctl_pollfds(struct master_ctl *c, struct pollfd *p, size_t max, int *timeout_ms)
{
	size_t n = 0;
	*timeout_ms = -1;
	if (!c || c->lfd < 0 || max == 0)
		return 0;
	p[n++] = (struct pollfd){.fd = c->lfd, .events = POLLIN};
	uint64_t now = now_ms();
	for (size_t i = 0; i < CTL_MAX_CLIENTS && n < max; i++) {
		struct ctl_client *cl = &c->cl[i];
		if (cl->fd < 0)
			continue;
		if (now >= cl->deadline) {
			client_close(cl); /* too slow: never blocks the accept loop */
			continue;
		}
		int left = (int)(cl->deadline - now);
		if (*timeout_ms < 0 || left < *timeout_ms)
			*timeout_ms = left;
		p[n++] = (struct pollfd){.fd = cl->fd, .events = cl->out ? POLLOUT : POLLIN};
	}
	return n;
}

void
master_ctl_serve(struct master_ctl *c, const struct pollfd *p, size_t n)
{
	if (!c || n == 0)
		return;
	for (size_t k = 1; k < n; k++) {
		if (!p[k].revents)
			continue;
		for (size_t i = 0; i < CTL_MAX_CLIENTS; i++)
			if (c->cl[i].fd == p[k].fd)
				client_io(c, &c->cl[i], p[k].revents);
	}
	if (p[0].revents & POLLIN)
		client_accept(c);
}

/* ---- berthctl side ---- */

int
control_request(const char *path, const char *line, char **ret)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	struct timeval tv = {.tv_sec = 10};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	_cleanup_free_ char *req = xasprintf("%s\n", line);
	size_t len = strlen(req), off = 0;
	while (off < len) {
		ssize_t n = send(fd, req + off, len - off, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EPIPE || errno == ECONNRESET))
			break; /* refused before it read the request: its answer is waiting */
		if (n <= 0) {
			int e = n < 0 ? errno : EIO;
			close(fd);
			return -e;
		}
		off += (size_t)n;
	}
	size_t cap = 4096, have = 0;
	char *buf = xmalloc(cap);
	for (;;) {
		if (have + 1 >= cap) {
			if (cap >= (16u << 20))
				break;
			cap *= 2;
			buf = xreallocarray(buf, cap, 1);
		}
		ssize_t n = read(fd, buf + have, cap - 1 - have);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == ECONNRESET && have > 0)
			break; /* it closed with our request unread, after its answer */
		if (n < 0) {
			int e = errno;
			free(buf);
			close(fd);
			return -e;
		}
		if (n == 0)
			break;
		have += (size_t)n;
	}
	close(fd);
	buf[have] = '\0';
	*ret = buf;
	return 0;
}
