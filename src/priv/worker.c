/* SPDX-License-Identifier: BSD-2-Clause */
/* The worker: the account's exact credentials, the VFS jail, the SFTP engine.
 *
 * The spawner (spawner.c, a clean berthd image exec'd once by the master) forks it on
 * the monitor's request; the child drops to the account and calls worker_exec_main().
 * Without a spawner the monitor forks, the child drops to the account and re-executes
 * berthd (/proc/self/exe) in worker mode. Either way the image holds no host keys, no
 * account database and no password hashes, only what is on its command line. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <syslog.h>
#include <unistd.h>

#include "berth/audit.h"
#include "berth/buf.h"
#include "berth/common.h"
#include "berth/control.h"
#include "berth/ftpsd.h"
#include "berth/fxp_engine.h"
#include "berth/log.h"
#include "berth/policy.h"
#include "berth/priv.h"
#include "berth/sandbox.h"
#include "berth/spawner.h"
#include "berth/scp_engine.h"
#include "berth/vfs.h"
#include "berth/vfs_policy.h"
#include "berth/worker.h"
#include "berth/xmem.h"

#define WORKER_FD 3
#define POLICY_FD 4 /* the encoded policy, read once at start */
#define STATE_FD  5 /* the account's shared state file, when it has one */
/* LIVE_FD (6, control.h): the session's status page, when there is one */
#define AUDIT_FD 7 /* transfer records to the monitor, when a transfer log is on */
_Static_assert(AUDIT_FD == WORKER_FD + WORKER_NFDS - 1 && LIVE_FD == WORKER_FD + 3, "fds 3..7");

struct worker_log_ctx {
	const char *user;
	const char *peer;
	const char *port;
};

/* @sha256 and @unpublished (the reason an atomic upload was not published) may be NULL. */
static void
log_transfer(const struct worker_log_ctx *c, bool upload, const char *path, uint64_t bytes,
             double seconds, bool completed, const char *sha256, const char *unpublished)
{
	log_info("transfer %s user %s from %s port %s: \"%s\" %llu bytes in %.3fs %s%s%s%s%s",
	         upload ? "upload" : "download", c->user, c->peer, c->port, path,
	         (unsigned long long)bytes, seconds, completed ? "completed" : "aborted",
	         sha256 ? " sha256 " : "", sha256 ? sha256 : "",
	         unpublished ? " not published: " : "", unpublished ? unpublished : "");
}

static void
engine_transfer(void *userdata, const struct fxp_transfer *t)
{
	/* An upload has a digest (UploadChecksum) or wrote bytes. */
	bool upload = t->bytes_written > 0 || (t->sha256 && t->bytes_read == 0);
	log_transfer(userdata, upload, t->path, upload ? t->bytes_written : t->bytes_read,
	             t->seconds, t->completed, t->sha256,
	             t->published ? NULL : (t->reason ? t->reason : "?"));
	audit_worker_transfer(upload, t->path, upload ? t->bytes_written : t->bytes_read,
	                      t->seconds, t->completed && t->published,
	                      !t->completed ? "session ended before the client closed the file"
	                                    : (t->reason ? t->reason : "not published"),
	                      t->sha256);
}

static void
scp_transfer(void *userdata, const struct scp_transfer *t)
{
	log_transfer(userdata, t->upload, t->path, t->bytes, t->seconds, t->completed, t->sha256,
	             NULL);
	audit_worker_transfer(t->upload, t->path, t->bytes, t->seconds, t->completed,
	                      "cut short (peer gone, write error or session end)", t->sha256);
}

/* The worker's argv (worker_exec_main) for @p, pointing into @wa and @p. */
static void
worker_argv_fill(const struct worker_params *p, struct worker_argv *wa)
{
	const struct berth_account *a = p->acct;
	snprintf(wa->umask_s, sizeof(wa->umask_s), "%o", (unsigned)p->cfg->umask);
	snprintf(wa->port_s, sizeof(wa->port_s), "%u", p->peer_port);
	snprintf(wa->level_s, sizeof(wa->level_s), "%d", (int)log_get_level());
	snprintf(wa->fac_s, sizeof(wa->fac_s), "%d", p->cfg->syslog_facility);
	bool ro = p->cfg->read_only || a->read_only;
	char *argv[WORKER_ARGC + 1] = {
	        (char *)"berthd",
	        (char *)(p->ftps_args ? WORKER_FTP_ARGV_MARK : WORKER_ARGV_MARK),
	        a->root,
	        a->start_dir ? a->start_dir : (char *)"/",
	        wa->umask_s,
	        (char *)(ro ? "ro" : "rw"),
	        a->name,
	        (char *)p->peer_addr,
	        wa->port_s,
	        wa->level_s,
	        (char *)(p->log_stderr ? "stderr" : "syslog"),
	        wa->fac_s,
	        p->cfg->deny_requests ? p->cfg->deny_requests : (char *)"-",
	        p->cfg->allow_requests ? p->cfg->allow_requests : (char *)"-",
	        (char *)(p->scp_command ? "scp" : "sftp"),
	        (char *)(p->scp_command ? p->scp_command : "-"),
	        (char *)(p->cfg->seccomp_filter ? "seccomp" : "noseccomp"),
	        (char *)(p->state_fd >= 0 ? "state" : "-"),
	        NULL,
	};
	memset(wa->argv, 0, sizeof(wa->argv));
	memcpy(wa->argv, argv, sizeof(argv));
	/* An FTP session: the FTP driver's arguments at the end. */
	for (size_t i = 0; p->ftps_args && i < FTPS_WORKER_NARGS; i++)
		wa->argv[WORKER_ARGC + i] = p->ftps_args[i];
}

int
worker_place_fds(const int want[WORKER_NFDS])
{
	/* Session socket, policy, state file, status page and record socket become fds 3,
	 * 4, 5, 6, 7: move them out of the way first so no dup2 clobbers another. */
	int fds[WORKER_NFDS];
	for (int i = 0; i < WORKER_NFDS; i++) {
		fds[i] = want[i];
		if (fds[i] >= 0 && (fds[i] = fcntl(fds[i], F_DUPFD, WORKER_FD + WORKER_NFDS)) < 0)
			return -errno;
	}
	for (int i = 0; i < WORKER_NFDS; i++)
		if (fds[i] >= 0 && dup2(fds[i], WORKER_FD + i) < 0)
			return -errno;
	/* Nothing but stdio, the session socket, the policy (and the state file, the
	 * status page and the record socket when there are) is left: an absent one's
	 * number is closed too. */
	for (int i = 1; i < WORKER_NFDS; i++)
		if (fds[i] < 0)
			close(WORKER_FD + i);
	close_range(WORKER_FD + WORKER_NFDS, ~0U, 0);
	return 0;
}

static void
worker_fds(const struct worker_params *p, int fd, int fds[WORKER_NFDS])
{
	fds[0] = fd;
	fds[1] = p->policy_fd;
	fds[2] = p->state_fd;
	fds[3] = p->has_live_fd ? p->live_fd : -1;
	fds[4] = p->has_audit_fd ? p->audit_fd : -1;
}

int
worker_spawn(const struct worker_params *p, int fd, pid_t *ret_pid, int *ret_exit_fd)
{
	struct worker_argv wa;
	worker_argv_fill(p, &wa);
	struct spawn_request r = {
	        .privileged = p->privileged,
	        .uid = p->acct->uid,
	        .gid = p->acct->gid,
	        .groups = p->acct->groups,
	        .n_groups = p->acct->n_groups,
	        .argv = wa.argv,
	};
	_Static_assert(SPAWN_NFDS == WORKER_NFDS, "one descriptor order");
	worker_fds(p, fd, r.fds);
	return spawner_spawn(&r, ret_pid, ret_exit_fd);
}

int
worker_run(const struct worker_params *p, int fd)
{
	const struct berth_account *a = p->acct;
	pid_t monitor_pid = getppid();
	log_set_ident("berthd");
	if (p->privileged) {
		if (a->uid == 0) {
			log_error("refusing to run a session as uid 0 for %s", a->name);
			return 1;
		}
		int r = priv_drop_to(a->uid, a->gid, a->groups, a->n_groups);
		if (r < 0) {
			log_error("cannot switch to uid %u gid %u for %s: %s", (unsigned)a->uid,
			          (unsigned)a->gid, a->name, strerror(-r));
			return 1;
		}
	}
	priv_harden_process();
	/* berthctl kick kills the monitor: the session goes with it (set after the uid
	 * change, which clears it). */
	(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != monitor_pid)
		return 1;
	int fds[WORKER_NFDS];
	worker_fds(p, fd, fds);
	if (worker_place_fds(fds) < 0)
		return 1;
	struct worker_argv wa;
	worker_argv_fill(p, &wa);
	char *envp[] = {NULL};
	execve("/proc/self/exe", wa.argv, envp);
	log_error("cannot start the worker: exec: %m");
	return 1;
}

/* Requests an scp session needs, as SFTP request names (DenyRequests/AllowRequests
 * apply to scp as a whole: refused if any of these is). */
#define SCP_SINK_REQUESTS   "open,write,close,fsetstat,setstat,stat,mkdir"
#define SCP_SOURCE_REQUESTS "open,read,close,stat,opendir,readdir"

static bool
scp_permitted(const struct fxp_engine_config *ec)
{
	uint64_t sink = 0, source = 0;
	const char *bad = NULL;
	if (fxp_request_mask_from_names(SCP_SINK_REQUESTS, &sink, &bad) < 0 ||
	    fxp_request_mask_from_names(SCP_SOURCE_REQUESTS, &source, &bad) < 0)
		return false;
	uint64_t need = sink | source;
	if (ec->denied & need)
		return false;
	return !ec->have_allowed || (ec->allowed & need) == need;
}

/* The seccomp allow-list, right before the first byte from the client is read. */
static int
enter_sandbox(bool on, const char *user)
{
	if (!on)
		return 0;
	int r = sandbox_install(SANDBOX_WORKER);
	if (r < 0)
		log_error("seccomp filter for the worker of %s: %s (SeccompFilter no disables it)",
		          user, strerror(-r));
	return r;
}

/* The legacy scp protocol on the session socket (src/scp), same VFS and jail. */
static int
run_scp(struct vfs *v, const struct fxp_engine_config *ec, const char *cmdline,
        struct worker_log_ctx *lc, bool seccomp)
{
	if (!scp_permitted(ec)) {
		static const char msg[] = "\1scp: not permitted by this server's request policy\n";
		log_info("refused scp for %s: DenyRequests/AllowRequests", lc->user);
		(void)!write(WORKER_FD, msg, sizeof(msg) - 1);
		return 1;
	}
	struct scp_engine_config sc = {
	        .vfs = v,
	        .read_only = ec->read_only,
	        .home = ec->home,
	        .log = log_callback,
	        .transfer = scp_transfer,
	        .userdata = lc,
	};
	struct scp_engine *e = NULL;
	if (scp_engine_new(&sc, cmdline, &e) != 0) {
		log_error("not an scp command: %s", cmdline);
		return 1;
	}
	if (enter_sandbox(seccomp, lc->user) < 0) {
		scp_engine_free(e);
		return 1;
	}
	int status = scp_loop_run(e, WORKER_FD, WORKER_FD);
	scp_engine_free(e);
	return status;
}

/* The policy the monitor compiled for this account, from fd 4 (read to EOF, bounded,
 * decoded inside a view of exactly what was read). */
static int
read_policy(struct policy **ret)
{
	_cleanup_xbuf_ struct xbuf b = XBUF_NULL;
	xbuf_init(&b, POLICY_CODEC_MAX);
	for (;;) {
		uint8_t *p;
		size_t room = MIN(xbuf_avail(&b), (size_t)65536);
		if (room == 0)
			return -EFBIG;
		if (xbuf_reserve(&b, room, &p) < 0)
			return -ENOMEM;
		ssize_t n = read(POLICY_FD, p, room);
		(void)xbuf_trim_tail(&b, room - (n > 0 ? (size_t)n : 0));
		if (n == 0)
			break;
		if (n < 0 && errno != EINTR)
			return -errno;
	}
	close(POLICY_FD);
	struct xbuf view;
	xbuf_view_init(&view, xbuf_ptr(&b), xbuf_len(&b));
	return policy_decode(&view, ret);
}

int
worker_exec_main(int argc, char **argv)
{
	bool ftp = argc == WORKER_ARGC + FTPS_WORKER_NARGS &&
	           strcmp(argv[1], WORKER_FTP_ARGV_MARK) == 0;
	if (!ftp && (argc != WORKER_ARGC || strcmp(argv[1], WORKER_ARGV_MARK) != 0))
		return 2;
	/* The status page, if the monitor passed one (checked before anything else can
	 * take fd LIVE_FD). */
	bool live = fcntl(LIVE_FD, F_GET_SEALS) >= 0;
	bool seccomp = strcmp(argv[16], "noseccomp") != 0;
	bool scp = strcmp(argv[14], "scp") == 0;
	const char *root = argv[2], *start = argv[3], *user = argv[6], *peer = argv[7],
	           *port = argv[8];
	bool ro = strcmp(argv[5], "ro") == 0;
	mode_t um = (mode_t)strtoul(argv[4], NULL, 8) & 0777;
	int level = atoi(argv[9]), facility = atoi(argv[11]);
	log_init("berthd", (enum log_level)level,
	         strcmp(argv[10], "stderr") == 0 ? LOG_SINK_STDERR : LOG_SINK_SYSLOG, facility);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGXFSZ, SIG_IGN);
	/* The monitor made us the account before exec; a session never runs as root. */
	if (getuid() == 0 || geteuid() == 0) {
		log_error("worker for %s would run as root: refusing", user);
		return 1;
	}

	struct policy *pol = NULL;
	int r = read_policy(&pol);
	if (r < 0) {
		log_error("worker for %s: cannot read its policy: %s", user, strerror(-r));
		return 1;
	}
	struct vfs *posix = NULL, *v = NULL;
	r = vfs_posix_new(root, start, um, &posix);
	if (r < 0) {
		log_error("cannot open jail %s for %s: %s", root, user, strerror(-r));
		policy_free(pol);
		return 1;
	}
	/* Every rule below all protocols: the engines only map the errors. */
	struct vfs_policy_config pc = {
	        .policy = pol,
	        .state_fd = strcmp(argv[17], "state") == 0 ? STATE_FD : -1,
	        .log = log_callback,
	};
	r = vfs_policy_wrap(posix, &pc, &v);
	if (r < 0) {
		log_error("policy for %s: %s", user, strerror(-r));
		policy_free(pol);
		return 1;
	}
	if (live && (r = live_status_attach(LIVE_FD, v)) < 0)
		log_verbose("worker for %s: no live status: %s", user, strerror(-r));
	/* Transfer records for the monitor's transfer logs (fd 7 when they are on). */
	audit_worker_init(AUDIT_FD);
	r = audit_worker_wrap(&v);
	if (r < 0) {
		log_error("transfer records for %s: %s", user, strerror(-r));
		vfs_free(v);
		policy_free(pol);
		return 1;
	}
	if (ftp) {
		struct ftps_worker_session fs = {.user = user,
		                                 .peer_addr = peer,
		                                 .peer_port = port,
		                                 .read_only = ro,
		                                 .seccomp = seccomp};
		int status = ftps_worker_main(v, &fs, argv + 18, WORKER_FD);
		vfs_free(v);
		policy_free(pol);
		return status;
	}
	struct worker_log_ctx lc = {.user = user, .peer = peer, .port = port};
	(void)ro; /* ReadOnly is in the policy, enforced by the policy layer */
	struct fxp_engine_config ec = {
	        .vfs = v,
	        .check_file = true,
	        .user = user,
	        .home = start,
	        .peer = peer,
	        .numeric_ids = true,
	        .log = log_callback,
	        .transfer = engine_transfer,
	        .userdata = &lc,
	};
	const char *bad = NULL;
	if (strcmp(argv[12], "-") != 0 &&
	    fxp_request_mask_from_names(argv[12], &ec.denied, &bad) < 0) {
		log_error("DenyRequests: unknown request %s", bad ? bad : "?");
		vfs_free(v);
		policy_free(pol);
		return 1;
	}
	if (strcmp(argv[13], "-") != 0) {
		if (fxp_request_mask_from_names(argv[13], &ec.allowed, &bad) < 0) {
			log_error("AllowRequests: unknown request %s", bad ? bad : "?");
			vfs_free(v);
			policy_free(pol);
			return 1;
		}
		ec.have_allowed = true;
	}
	if (scp) {
		int status = run_scp(v, &ec, argv[15], &lc, seccomp);
		vfs_free(v);
		policy_free(pol);
		return status;
	}
	struct fxp_engine *e = NULL;
	r = fxp_engine_new(&ec, &e);
	if (r < 0) {
		log_error("sftp engine: %s", strerror(-r));
		vfs_free(v);
		policy_free(pol);
		return 1;
	}
	int status = enter_sandbox(seccomp, user) < 0 ? 1 : fxp_loop_run(e, WORKER_FD, WORKER_FD);
	fxp_engine_free(e);
	vfs_free(v);
	policy_free(pol);
	return status;
}
