/* SPDX-License-Identifier: BSD-2-Clause */
/* Privilege separation: the per-connection monitor and its request protocol.
 *
 * One monitor process per connection (root when berthd runs as root). It forks the
 * network child, which drops to the privsep user, chroots to an empty directory and
 * parses every network byte. The child can only ask the monitor, over a SOCK_SEQPACKET
 * socketpair, for the few things that need privilege or secrets: password, PAM and
 * public-key decisions, and (once, after authentication) the worker process that runs
 * the SFTP engine as the account. The monitor never parses SSH packets: it compares
 * key blobs byte for byte and hands passwords to crypt(3)/PAM.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <libssh/libssh.h>
#include <libssh/server.h>

#include "berth/conf.h"
#include "berth/daemon.h"

#define MON_MSG_MAX (64 * 1024)

enum mon_req {
	MON_REQ_PUBKEY = 1,        /* user, u8 mon_pk_state, string blob -> result */
	MON_REQ_PASSWORD = 2,      /* user, string password -> result */
	MON_REQ_KBDINT_QUERY = 3,  /* user -> u8 ok, string prompt, u8 echo */
	MON_REQ_KBDINT_ANSWER = 4, /* user, u32 n, n * string -> result */
	MON_REQ_SPAWN_WORKER = 5,  /* [u8 kind, string scp command] -> u8 ok, u32 id + fd */
	MON_REQ_NOTE = 6,          /* u8 level, string: a log line from the network child */
	MON_REQ_SESSION_END = 7,   /* u32 worker id -> u8 known, u32 exit status */
};

/* What the network child knows about a public-key request (MON_REQ_PUBKEY). */
enum mon_pk_state {
	MON_PK_PROBE = 0,         /* no signature: "would this key be accepted?" */
	MON_PK_VERIFIED = 1,      /* libssh verified the signature over this blob */
	MON_PK_BAD_SIGNATURE = 2, /* signed, but it did not verify (or did not parse): a
	                           * failed attempt; the blob may be empty */
};

/* Answer to an authentication request. */
enum mon_auth_result {
	MON_AUTH_DENY = 0,       /* failure; try again with the listed methods */
	MON_AUTH_PK_OK = 1,      /* probe: this key would be accepted */
	MON_AUTH_PARTIAL = 2,    /* method succeeded, more required */
	MON_AUTH_SUCCESS = 3,    /* authenticated */
	MON_AUTH_DISCONNECT = 4, /* too many failures / user name changed: hang up */
};

/* Which front end serves a connection (the listener it came in on). */
enum mon_proto {
	MON_PROTO_SSH = 0,
	MON_PROTO_FTPS_EXPLICIT, /* AUTH TLS on the control connection */
	MON_PROTO_FTPS_IMPLICIT, /* TLS from the first byte */
};

struct tls_server;

/* A connection as the master hands it to the per-connection process. */
struct monitor_conn {
	const struct berth_config *cfg;
	const struct daemon_runtime *rt;
	ssh_bind bind;
	int fd;
	const char *peer_addr;
	unsigned peer_port;
	int startup_fd; /* write 'A' to tell the master we are authenticated */
	enum mon_proto proto;
	bool ftps_allow_plain;  /* FTPS: the listener accepts plain FTP (allow-plain) */
	struct tls_server *tls; /* FTPS: the master's TLS server (key dropped after fork);
	                         * NULL for SSH or without a certificate */
};

/* Fork the network child and serve its requests until it exits. Returns the exit
 * status for the per-connection process. */
int monitor_connection_run(const struct monitor_conn *mc);

/* ---- transport (both sides) ---- */

/* Send one message (and optionally one fd). 0 or -errno. */
int mon_send(int sock, const void *data, size_t len, int fd_to_pass);
/* Receive one message into @buf (at most MON_MSG_MAX). *ret_fd gets a passed fd or -1.
 * Returns the length, 0 on EOF, or -errno. */
ssize_t mon_recv(int sock, void *buf, size_t cap, int *ret_fd);
/* The same with up to MON_MAX_FDS descriptors (the session spawner's requests). A
 * truncated message or more descriptors than @max_fds: -EMSGSIZE, all closed. @flags:
 * extra recvmsg() flags (MSG_DONTWAIT). */
#define MON_MAX_FDS 8
int mon_send_fds(int sock, const void *data, size_t len, const int *fds, size_t nfds);
ssize_t mon_recv_fds(int sock, void *buf, size_t cap, int flags, int *fds, size_t max_fds,
                     size_t *ret_nfds);

/* ---- network-child side ---- */

struct mon_answer {
	enum mon_auth_result result;
	uint32_t methods; /* BERTH_AUTH_* bits allowed next */
};

int mon_ask_pubkey(int sock, const char *user, const uint8_t *blob, size_t len,
                   enum mon_pk_state state, struct mon_answer *ret);
int mon_ask_password(int sock, const char *user, const char *password, struct mon_answer *ret);
#define MON_KBDINT_MAX_PROMPTS 32
enum { MON_PROMPT_SECRET = 0, MON_PROMPT_ECHO = 1, MON_PROMPT_INFO = 2 };

/* One keyboard-interactive step: the auth answer, plus prompts when more input is
 * needed (n > 0). Release with mon_kbdint_clear(). */
struct mon_kbdint {
	struct mon_answer ans;
	uint32_t n;
	char *text[MON_KBDINT_MAX_PROMPTS];
	uint8_t kind[MON_KBDINT_MAX_PROMPTS];
};
void mon_kbdint_clear(struct mon_kbdint *k);
int mon_ask_kbdint_query(int sock, const char *user, struct mon_kbdint *ret);
int mon_ask_kbdint_answer(int sock, const char *user, const char *const *answers, uint32_t n,
                          struct mon_kbdint *ret);
/* What a session's worker runs (MON_REQ_SPAWN_WORKER). */
enum mon_session_kind {
	MON_SESSION_SFTP = 0, /* the sftp subsystem */
	MON_SESSION_SCP = 1,  /* legacy scp -t/-f: the exec command line, parsed by the worker */
	MON_SESSION_FTP = 2,  /* an FTP session whose control connection is plaintext */
	MON_SESSION_FTPS = 3, /* an FTP session over TLS */
};

/* A worker for one session channel (at most MaxSessions at a time): its socket and the
 * id that names it in MON_REQ_SESSION_END. @scp_command is the exec command line of a
 * legacy scp session, NULL for sftp. */
int mon_ask_spawn_worker(int sock, const char *scp_command, int *ret_fd, uint32_t *ret_id);
/* The FTP session's worker (FTPS network child, once, after login): @tls says whether
 * the control connection is TLS (MON_SESSION_FTPS) or plaintext (MON_SESSION_FTP, on an
 * allow-plain listener), for the account's Protocols. */
int mon_ask_ftp_worker(int sock, bool tls, int *ret_fd);
/* The session's worker closed its socket: wait (briefly) for it to exit and return its
 * exit status for the channel's exit-status message. 0, 1 when the monitor does not
 * know it (still running, or not this connection's worker), or -errno. */
int mon_ask_session_end(int sock, uint32_t id, uint32_t *ret_status);
/* Fire-and-forget log line (the network child cannot reach syslog reliably). A level
 * or'ed with MON_NOTE_VIOLATION also reports a protocol violation to the defender. */
#define MON_NOTE_VIOLATION 0x80
void mon_note(int sock, int level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* ---- process helpers ---- */

/* Drop to @uid/@gid with exactly @groups (setgroups before setgid/setuid), then verify
 * with getres[ug]id that no saved id is left behind. 0 or -errno. */
int priv_drop_to(uid_t uid, gid_t gid, const gid_t *groups, size_t ngroups);
/* prctl(PR_SET_NO_NEW_PRIVS) and no core dumps of secrets. */
void priv_harden_process(void);
