/* SPDX-License-Identifier: BSD-2-Clause */
/* berthctl reload: SIGHUP to the PidFile's berthd, then wait for its status file. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

#include "berth/common.h"
#include "berth/file.h"
#include "berth/notify.h"
#include "berth/reload.h"
#include "berth/xmem.h"
#include "ctl.h"

#define RELOAD_DEFAULT_TIMEOUT 30

static const char reload_help[] =
        "Send SIGHUP to the berthd whose PID is in PidFile and wait for its answer:\n"
        "\"reload ok (generation N)\" and exit 0, or every error as file:line and exit 1\n"
        "(the running configuration then stays in force). Exit 1 also when berthd is not\n"
        "running or does not answer within the timeout.\n"
        "\n"
        "  -f FILE          berthd.conf (its PidFile names the daemon; when the file\n"
        "                   does not load, the default PidFile)\n"
        "  --pid-file FILE  the running berthd's PID file instead\n"
        "  --timeout SECS   how long to wait for the outcome (default 30)\n";

/* The master's PID from @path; -ENOENT, -ESRCH (stale) or -EBADMSG. */
static int
read_pid(const char *path, pid_t *ret)
{
	_cleanup_free_ char *text = NULL;
	size_t len;
	int r = read_small_file(path, 64, true, &text, &len);
	if (r < 0)
		return r;
	char *end;
	long pid = strtol(text, &end, 10);
	if (end == text || (*end && *end != '\n') || pid <= 1)
		return -EBADMSG;
	if (kill((pid_t)pid, 0) < 0 && errno == ESRCH)
		return -ESRCH;
	/* A recycled PID belongs to some other program. */
	char comm_path[64], comm[32] = "";
	snprintf(comm_path, sizeof(comm_path), "/proc/%ld/comm", pid);
	int fd = open(comm_path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		ssize_t n = read(fd, comm, sizeof(comm) - 1);
		close(fd);
		if (n > 0 && strncmp(comm, "berthd", 6) != 0)
			return -ESRCH;
	}
	*ret = (pid_t)pid;
	return 0;
}

/* CLOCK_MONOTONIC in milliseconds. */
static uint64_t
now_ms(void)
{
	return berth_notify_monotonic_usec() / 1000u;
}

int
ctl_cmd_reload(struct ctl *c, int argc, char **argv)
{
	static const struct option longopts[] = {CTL_COMMON_LONGOPTS,
	                                         {"timeout", required_argument, NULL, 'w'},
	                                         {"pid-file", required_argument, NULL, 'p'},
	                                         {0}};
	static const struct ctl_command self = {
	        "reload", ctl_cmd_reload, "[-f berthd.conf] [--pid-file FILE] [--timeout SECS]",
	        ""};
	long timeout = RELOAD_DEFAULT_TIMEOUT;
	const char *pid_file = NULL;
	int opt;

	optind = 0;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, CTL_COMMON_SHORTOPTS, longopts, NULL)) != -1) {
		if (opt == 'h') {
			printf("usage: berthctl reload %s\n\n%s", self.args, reload_help);
			return CTL_OK;
		}
		if (opt == 'w') {
			char *end;
			timeout = strtol(optarg, &end, 10);
			if (*end || end == optarg || timeout <= 0 || timeout > 3600) {
				ctl_err("reload: bad --timeout %s (1..3600 seconds)", optarg);
				return CTL_USAGE;
			}
			continue;
		}
		if (opt == 'p') {
			pid_file = optarg;
			continue;
		}
		if (opt == 'A' || !ctl_common_option(c, opt, optarg)) {
			ctl_err("reload: unknown option or missing argument: %s", argv[optind - 1]);
			return CTL_USAGE;
		}
	}
	if (optind < argc) {
		ctl_err("reload: unexpected argument \"%s\"", argv[optind]);
		return CTL_USAGE;
	}
	/* The PidFile of berthd.conf; a file that does not load (the very thing a reload
	 * reports) falls back to the default PidFile, or --pid-file. */
	if (!pid_file) {
		const char *path =
		        c->config_path ? c->config_path : BERTH_SYSCONFDIR "/berthd.conf";
		struct berth_errors errs = BERTH_ERRORS_NULL;
		if (berth_config_load(path, &c->cfg, &errs) == 0) {
			c->have_cfg = true;
			pid_file = c->cfg.pid_file;
			if (!pid_file) {
				ctl_err("reload: PidFile is none in %s; name the running berthd "
				        "with "
				        "--pid-file, or send it SIGHUP",
				        path);
				return CTL_ERROR;
			}
		} else {
			berth_config_init_defaults(&c->cfg);
			c->have_cfg = true;
			pid_file = c->cfg.pid_file;
			ctl_warn(
			        "%s does not load; signalling the berthd of the default PidFile %s "
			        "(it reports the errors)",
			        path, pid_file);
		}
		berth_errors_free(&errs);
	}
	pid_t pid;
	int r = read_pid(pid_file, &pid);
	if (r == -ENOENT) {
		ctl_err("reload: berthd is not running (no PID file %s)", pid_file);
		return CTL_ERROR;
	}
	if (r == -ESRCH) {
		ctl_err("reload: berthd is not running (stale PID file %s)", pid_file);
		return CTL_ERROR;
	}
	if (r < 0) {
		ctl_err("reload: PID file %s: %s", pid_file,
		        r == -EBADMSG ? "no PID in it" : strerror(-r));
		return CTL_ERROR;
	}
	_cleanup_free_ char *status_path = reload_status_path(pid_file);
	struct reload_status before;
	uint64_t last = 0;
	if (reload_status_read(status_path, &before) == 0) {
		if (before.pid == pid)
			last = before.generation;
		berth_errors_free(&before.errors);
	}
	if (kill(pid, SIGHUP) < 0) {
		ctl_err("reload: cannot signal berthd (PID %d): %s", (int)pid, strerror(errno));
		return CTL_ERROR;
	}
	uint64_t deadline = now_ms() + (uint64_t)timeout * 1000u;
	for (;;) {
		struct reload_status st;
		if (reload_status_read(status_path, &st) == 0) {
			if (st.pid == pid && st.generation > last) {
				int rc = st.ok ? CTL_OK : CTL_ERROR;
				if (st.ok) {
					printf("reload ok (generation %" PRIu64 ")\n",
					       st.generation);
				} else {
					fprintf(stderr,
					        "berthctl: reload refused (generation %" PRIu64
					        "); the running configuration stays in force:\n",
					        st.generation);
					berth_errors_print(&st.errors, stderr);
				}
				berth_errors_free(&st.errors);
				return rc;
			}
			berth_errors_free(&st.errors);
		}
		if (kill(pid, 0) < 0 && errno == ESRCH) {
			ctl_err("reload: berthd (PID %d) exited", (int)pid);
			return CTL_ERROR;
		}
		if (now_ms() >= deadline) {
			ctl_err("reload: no answer from berthd (PID %d) in %ld s; see its log "
			        "(status file %s)",
			        (int)pid, timeout, status_path);
			return CTL_ERROR;
		}
		/* Polling the status file; the daemon replaces it atomically. */
		usleep(20 * 1000);
	}
}
