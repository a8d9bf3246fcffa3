/* SPDX-License-Identifier: BSD-2-Clause */
/* FTP engine internals shared by the src/ftp/ files; not a public interface. */
#pragma once

#include <time.h>

#include "berth/buf.h"
#include "berth/ftp_engine.h"
#include "berth/log.h"
#include "berth/vfs.h"

/* Output: a command is handled only while the queue can take a worst-case reply
 * (OUT_RESERVE); the largest replies (STAT of a directory, HELP, FEAT) stay below it. */
#define FTP_OUT_RESERVE  (64 * 1024)
#define FTP_OUT_MAX      (4 * FTP_OUT_RESERVE)
#define FTP_STAT_MAX     (FTP_OUT_RESERVE - 4096) /* STAT <dir> stops listing here */
#define FTP_MAX_LINE_CAP 65536                    /* largest configurable max_line */
/* TYPE A conversion and listing lines: bounded staging per transfer. */
#define FTP_STAGE_MAX (64 * 1024)
#define FTP_RAW_CHUNK (16 * 1024)
/* Default -EAGAIN back-off when cfg.retry_at gives no time. */
#define FTP_RETRY_MS 10

enum xfer_kind {
	XFER_NONE = 0,
	XFER_RETR,
	XFER_STOR, /* STOR, STOU, APPE */
	XFER_LIST,
	XFER_NLST,
	XFER_MLSD,
};

enum data_mode {
	DATA_NONE = 0,
	DATA_PASV, /* PASV/EPSV answered: the driver holds a listener */
	DATA_PORT, /* PORT/EPRT accepted: port_addr */
};

/* One transfer, from the transfer command being accepted to its final reply. */
struct ftp_xfer {
	enum xfer_kind kind;
	bool ascii;
	bool aborting; /* ABOR received while the data action was outstanding */
	bool opened;   /* the data connection was established */
	bool cr;       /* TYPE A: download: last byte sent was CR; upload: CR held back */
	struct vfs_file *file;
	struct vfs_dir *dir;
	char *path;    /* absolute client path (files), or the listed path as given */
	char *dirpath; /* listings: path to join entry names to */
	bool list_all; /* LIST -a: dot files, "." and ".." */
	bool prefix;   /* NLST <dir>: names as "dir/name" */
	bool dir_eof;
	bool parent_w; /* MLSD: the listed directory is writable by the account */
	time_t now;    /* listings: "recent" in LIST dates is relative to the start */
	uint64_t off, start_off, bytes;
	struct xbuf stage; /* listing line(s) or converted upload bytes not yet written */
	uint8_t *raw;      /* TYPE A download: file bytes not yet converted */
	size_t raw_off, raw_len;
	int error; /* first local (VFS) error */
	struct timespec t0;
	bool closed;                    /* the file was closed: @report is valid */
	struct vfs_close_report report; /* from vfs_close_ex() (digest, published) */
};

struct ftp_engine {
	struct ftp_engine_config cfg;
	char *user, *group; /* owned copies */
	struct ftp_session_state st;
	bool logged_in; /* phase: cfg.vfs != NULL */
	struct xbuf in, out;
	uint32_t max_line;

	/* input filter */
	uint8_t iac;     /* 0 data, 1 after IAC, 2 after IAC WILL/WONT/DO/DONT */
	bool discarding; /* inside an overlong line: drop up to its LF */
	bool drop_input; /* START_TLS outstanding, or finished: feed() discards */
	uint32_t n_commands, n_junk;
	bool violated; /* closed for too many invalid or pre-login commands */

	/* actions */
	struct ftp_action act;
	enum ftp_action_type pending;     /* ready to hand out */
	enum ftp_action_type outstanding; /* handed out, not yet completed */
	bool finished;                    /* CLOSE or HANDOFF queued: no more commands */
	bool quit_after_xfer;

	/* pre-login */
	char *login_user; /* USER argument awaiting PASS */
	char *password;   /* while LOGIN is outstanding */

	/* logged-in */
	char *rnfr;
	uint64_t rest;
	bool epsv_all;
	enum data_mode data_mode;
	bool pasv_is_epsv;
	struct sockaddr_storage port_addr;
	struct ftp_xfer xfer;
	uint64_t wake_ms;
};

/* engine.c */
void ftp_log(struct ftp_engine *e, enum log_level level, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
/* One reply line "CODE text\r\n"; CR, LF and NUL in the text are replaced (defence in
 * depth: callers pass only checked names). */
void reply(struct ftp_engine *e, unsigned code, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
/* Multi-line replies (RFC 959 4.2): "CODE-text", lines, "CODE text". Lines given to
 * reply_mid() are sent as they are after the same replacement, so callers prefix the
 * leading space RFC 2389/3659 want. */
void reply_first(struct ftp_engine *e, unsigned code, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
void reply_mid(struct ftp_engine *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Reply with the errno table's code and text. */
void reply_errno(struct ftp_engine *e, int err);
void set_action(struct ftp_engine *e, enum ftp_action_type type);
uint64_t ftp_now_ms(void);
/* True when @s has no CR or LF, so it may appear in a reply or listing line. */
bool ftp_name_safe(const char *s);
/* "SHA-256", "SHA-512", "SHA-1", "MD5" (draft-bryan-ftpext-hash names). */
const char *ftp_hash_name(uint32_t algo);

/* cmds.c: logged-in commands; each queues its reply and returns 0 or -errno (fatal) */
struct ftp_cmd {
	const char *verb;
	unsigned flags;
	int (*fn)(struct ftp_engine *e, char *arg);
};
enum {
	CMD_PRELOGIN = 0x1,  /* allowed before login */
	CMD_POSTLOGIN = 0x2, /* allowed after login */
	CMD_ARG = 0x4,       /* needs an argument (501 without) */
	CMD_URGENT = 0x8,    /* handled while a data action is outstanding */
	CMD_HELP = 0x10,     /* listed by HELP */
};
extern const struct ftp_cmd ftp_cmds[];
extern const size_t ftp_cmds_count;
const struct ftp_cmd *ftp_cmd_find(const char *verb);

int cmd_auth(struct ftp_engine *e, char *arg);
int cmd_pbsz(struct ftp_engine *e, char *arg);
int cmd_prot(struct ftp_engine *e, char *arg);
int cmd_ccc(struct ftp_engine *e, char *arg);
int cmd_user(struct ftp_engine *e, char *arg);
int cmd_pass(struct ftp_engine *e, char *arg);
int cmd_quit(struct ftp_engine *e, char *arg);
int cmd_feat(struct ftp_engine *e, char *arg);
int cmd_syst(struct ftp_engine *e, char *arg);
int cmd_noop(struct ftp_engine *e, char *arg);
int cmd_help(struct ftp_engine *e, char *arg);
int cmd_opts(struct ftp_engine *e, char *arg);
int cmd_host(struct ftp_engine *e, char *arg);
int cmd_stat(struct ftp_engine *e, char *arg);
int cmd_rein(struct ftp_engine *e, char *arg);
int cmd_abor(struct ftp_engine *e, char *arg);

/* data.c: data-connection commands and transfers */
int cmd_pasv(struct ftp_engine *e, char *arg);
int cmd_epsv(struct ftp_engine *e, char *arg);
int cmd_port(struct ftp_engine *e, char *arg);
int cmd_eprt(struct ftp_engine *e, char *arg);
int cmd_retr(struct ftp_engine *e, char *arg);
int cmd_stor(struct ftp_engine *e, char *arg);
int cmd_stou(struct ftp_engine *e, char *arg);
int cmd_appe(struct ftp_engine *e, char *arg);
int cmd_list(struct ftp_engine *e, char *arg);
int cmd_nlst(struct ftp_engine *e, char *arg);
int cmd_mlsd(struct ftp_engine *e, char *arg);
bool xfer_active(const struct ftp_engine *e);
/* End a transfer without a reply (session end): close, report as aborted. */
void xfer_kill(struct ftp_engine *e, const char *reason);

/* list.c: listing lines */
struct list_ctx {
	const struct ftp_engine *e;
	time_t now;
	bool parent_w;
};
/* "ls -l" line for @name (symlink target appended when known and safe), with CRLF. */
int list_line_ls(struct xbuf *b, const struct list_ctx *c, const char *name,
                 const struct vfs_attr *a, const char *link_target);
/* MLSx facts "fact=v;...; " then @name and CRLF; @type_override "cdir"/"pdir" or NULL. */
int list_line_mlsx(struct xbuf *b, const struct list_ctx *c, const char *name,
                   const struct vfs_attr *a, const char *type_override);
/* The account's access bits (rwx as 4|2|1) to an object with @a. */
unsigned list_access(const struct ftp_engine *e, const struct vfs_attr *a);
/* Time as YYYYMMDDHHMMSS (UTC) into @out[15]. */
void ftp_time14(int64_t t, char out[15]);
char *path_join(const char *dir, const char *name);
/* LIST-style options ("-la") before a path are skipped ('a' noted in *@ret_all); returns
 * the path, or NULL when only options were given. No globbing anywhere. */
const char *list_options(const char *arg, bool *ret_all);
