/* SPDX-License-Identifier: BSD-2-Clause */
/* The worker: the account's exact credentials, the VFS jail, the SFTP engine.
 *
 * The monitor forks, the child drops to the account and then re-executes berthd
 * (/proc/self/exe) in worker mode: the fresh image holds no host keys, no account
 * database and no password hashes, only what is on its command line. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "berth/common.h"
#include "berth/fxp_engine.h"
#include "berth/log.h"
#include "berth/priv.h"
#include "berth/sandbox.h"
#include "berth/scp_engine.h"
#include "berth/vfs.h"
#include "berth/worker.h"
#include "berth/xmem.h"

#define WORKER_FD 3

struct worker_log_ctx {
	const char *user;
	const char *peer;
	const char *port;
};

static void
log_transfer(const struct worker_log_ctx *c, bool upload, const char *path, uint64_t bytes,
             double seconds, bool completed)
{
	log_info("transfer %s user %s from %s port %s: \"%s\" %llu bytes in %.3fs %s",
	         upload ? "upload" : "download", c->user, c->peer, c->port, path,
	         (unsigned long long)bytes, seconds, completed ? "completed" : "aborted");
}

static void
engine_transfer(void *userdata, const struct fxp_transfer *t)
{
	bool upload = t->bytes_written > 0;
	log_transfer(userdata, upload, t->path, upload ? t->bytes_written : t->bytes_read,
	             t->seconds, t->completed);
}

static void
scp_transfer(void *userdata, const struct scp_transfer *t)
{
	log_transfer(userdata, t->upload, t->path, t->bytes, t->seconds, t->completed);
}

int
worker_run(const struct worker_params *p, int fd)
{
	const struct berth_account *a = p->acct;
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
	if (fd != WORKER_FD) {
		if (dup2(fd, WORKER_FD) < 0)
			return 1;
		close(fd);
	} else {
		fcntl(fd, F_SETFD, 0);
	}
	/* Nothing but stdio and the session socket crosses the exec. */
	close_range(WORKER_FD + 1, ~0U, 0);

	char umask_s[16], port_s[16], level_s[16], fac_s[16];
	snprintf(umask_s, sizeof(umask_s), "%o", (unsigned)p->cfg->umask);
	snprintf(port_s, sizeof(port_s), "%u", p->peer_port);
	snprintf(level_s, sizeof(level_s), "%d", (int)log_get_level());
	snprintf(fac_s, sizeof(fac_s), "%d", p->cfg->syslog_facility);
	bool ro = p->cfg->read_only || a->read_only;
	char *argv[] = {
	        (char *)"berthd",
	        (char *)WORKER_ARGV_MARK,
	        a->root,
	        a->start_dir ? a->start_dir : (char *)"/",
	        umask_s,
	        (char *)(ro ? "ro" : "rw"),
	        a->name,
	        (char *)p->peer_addr,
	        port_s,
	        level_s,
	        (char *)(p->log_stderr ? "stderr" : "syslog"),
	        fac_s,
	        p->cfg->deny_requests ? p->cfg->deny_requests : (char *)"-",
	        p->cfg->allow_requests ? p->cfg->allow_requests : (char *)"-",
	        (char *)(p->scp_command ? "scp" : "sftp"),
	        (char *)(p->scp_command ? p->scp_command : "-"),
	        (char *)(p->cfg->seccomp_filter ? "seccomp" : "noseccomp"),
	        NULL,
	};
	char *envp[] = {NULL};
	execve("/proc/self/exe", argv, envp);
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

int
worker_exec_main(int argc, char **argv)
{
	if (argc != 17 || strcmp(argv[1], WORKER_ARGV_MARK) != 0)
		return 2;
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

	struct vfs *v = NULL;
	int r = vfs_posix_new(root, start, um, &v);
	if (r < 0) {
		log_error("cannot open jail %s for %s: %s", root, user, strerror(-r));
		return 1;
	}
	struct worker_log_ctx lc = {.user = user, .peer = peer, .port = port};
	struct fxp_engine_config ec = {
	        .vfs = v,
	        .read_only = ro,
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
		return 1;
	}
	if (strcmp(argv[13], "-") != 0) {
		if (fxp_request_mask_from_names(argv[13], &ec.allowed, &bad) < 0) {
			log_error("AllowRequests: unknown request %s", bad ? bad : "?");
			vfs_free(v);
			return 1;
		}
		ec.have_allowed = true;
	}
	if (scp) {
		int status = run_scp(v, &ec, argv[15], &lc, seccomp);
		vfs_free(v);
		return status;
	}
	struct fxp_engine *e = NULL;
	r = fxp_engine_new(&ec, &e);
	if (r < 0) {
		log_error("sftp engine: %s", strerror(-r));
		vfs_free(v);
		return 1;
	}
	int status = enter_sandbox(seccomp, user) < 0 ? 1 : fxp_loop_run(e, WORKER_FD, WORKER_FD);
	fxp_engine_free(e);
	vfs_free(v);
	return status;
}
