/* SPDX-License-Identifier: BSD-2-Clause */
/* berthd's live state: the monitor -> master connection channel, the per-session status
 * page, the defender hooks of the accept loop and the root-only control socket.
 *
 * Channel: each connection's monitor (root, trusted) holds one end of a SOCK_SEQPACKET
 * socketpair whose other end the master polls (the former startup pipe). The monitor
 * sends small typed records (conn_report_*()); the master never reads a network byte.
 *
 * Status page: per session the monitor creates a sealed one-page memfd (struct
 * live_status), hands it to the worker (fd LIVE_FD across the exec) and to the master
 * (with CONN_MSG_SESSION). The worker writes only its own page; the master maps it
 * read-only and treats every byte as untrusted (bounded, escaped when printed).
 */
#pragma once

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "berth/conf.h"
#include "berth/defender.h"

/* ---- monitor -> master records ---- */

enum conn_msg {
	CONN_MSG_AUTH = 'A',    /* authenticated: string account */
	CONN_MSG_EVENT = 'D',   /* u8 enum defender_event */
	CONN_MSG_SESSION = 'S', /* u32 session id, u8 enum live_kind; fd: the status page */
	CONN_MSG_END = 'E',     /* u32 session id */
};
#define CONN_MSG_MAX 512

enum live_kind {
	LIVE_SFTP = 0,
	LIVE_SCP = 1,
	LIVE_FTP = 2,
	LIVE_FTPS = 3,
};

/* Monitor side; all best effort (the master may be gone: sessions outlive it). */
void conn_report_auth(int fd, const char *account);
void conn_report_event(int fd, enum defender_event ev);
void conn_report_session(int fd, uint32_t id, enum live_kind kind, int status_fd);
void conn_report_end(int fd, uint32_t id);

/* ---- the status page ---- */

#define LIVE_FD       6 /* the worker's status page after exec */
#define LIVE_FILE_MAX 512
#define LIVE_MAGIC    0x6c697665u

struct live_status {
	uint32_t magic;
	uint32_t seq; /* odd while the worker writes */
	uint64_t bytes_in, bytes_out;
	char file[LIVE_FILE_MAX]; /* current file (client path), "" = none */
};

/* Monitor: a sealed (no shrink, no grow) memfd holding an empty page. fd or -errno. */
int live_status_create(void);
/* Worker: map LIVE_FD (if present) and report VFS traffic of @top into it. Closes the
 * fd. 0, or -errno (the session runs without a status page). */
struct vfs;
int live_status_attach(int fd, struct vfs *top);

/* ---- master ---- */

struct conn_session {
	uint32_t id;
	enum live_kind kind;
	time_t start;
	const struct live_status *page; /* mapped read-only, or NULL */
};

/* The master's view of one connection (embedded in its slot). */
struct conn_live {
	struct conn_live *next, *prev; /* registered connections */
	pid_t pid;                     /* the connection's monitor */
	char addr[64];
	unsigned port;
	int proto; /* enum mon_proto */
	time_t start;
	bool authenticated, finished;
	char account[128];
	uint32_t pending[DEFENDER_N_EVENTS]; /* failures, scored when it ends unauthenticated */
	struct conn_session sess[BERTH_MAX_SESSIONS_PER_CONN];
	size_t nsess;
};

struct master_ctl;

/* The defender settings of @cfg (Defender* keywords). */
void defender_config_from(const struct berth_config *cfg, struct defender_config *ret);

/* Defender (loaded from StateDirectory/defender) and control socket. Never fails hard:
 * problems are logged and that part is off. */
struct master_ctl *master_ctl_new(const struct berth_config *cfg);
void master_ctl_free(struct master_ctl *c);
/* After a reload put @cfg in force: the defender is rebuilt (bans kept through its state
 * file) only if its settings changed, the control socket moves only if its path did. */
void master_ctl_reconfigure(struct master_ctl *c, const struct berth_config *cfg);
/* In a forked connection process: close the master's control fds (nothing else). */
void master_ctl_forget(struct master_ctl *c);

/* Right after accept(): a banned source is logged and true returned (caller closes). */
bool master_ctl_refuse(struct master_ctl *c, const char *addr, const char *port);
/* A connection refused by a per-source limit (DefenderScoreFlood). */
void master_ctl_flood(struct master_ctl *c, const char *addr);

void master_ctl_conn_start(struct master_ctl *c, struct conn_live *lc, pid_t pid, const char *addr,
                           const char *port, int proto);
/* The connection's channel is readable: read its records. *ret_eof when it closed. */
void master_ctl_conn_input(struct master_ctl *c, struct conn_live *lc, int fd, bool *ret_eof);
/* Its monitor was reaped: drain @fd (may be -1), score, unregister. */
void master_ctl_conn_end(struct master_ctl *c, struct conn_live *lc, int fd);

/* The accept loop's poll set: the control socket and its clients (at most @max), and
 * the poll timeout they need (ms, -1 = none). After poll(), master_ctl_serve(). */
size_t master_ctl_pollfds(struct master_ctl *c, struct pollfd *p, size_t max, int *timeout_ms);
void master_ctl_serve(struct master_ctl *c, const struct pollfd *p, size_t n);
#define MASTER_CTL_MAX_POLLFDS 17

/* ---- berthctl side ---- */

/* Send one request line to the control socket at @path and return the whole response
 * (heap, caller frees). 0, or -ENOENT / -ECONNREFUSED when no daemon listens there, or
 * another -errno. */
int control_request(const char *path, const char *line, char **ret);
