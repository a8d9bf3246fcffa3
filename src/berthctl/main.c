/* SPDX-License-Identifier: BSD-2-Clause */
/* berthctl: the admin tool (accounts, groups, keys, configuration check). */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <syslog.h>

#include "config.h"

#include "berth/common.h"
#include "berth/conf.h"
#include "berth/daemon.h"
#include "berth/log.h"
#include "ctl.h"

static int
cmd_check(struct ctl *c, int argc, char **argv)
{
	static const struct option longopts[] = {CTL_COMMON_LONGOPTS, {0}};
	static const struct ctl_command self = {
	        "check", cmd_check, "[-f berthd.conf]",
	        "Check berthd.conf and the accounts file exactly as `berthd -t` does: errors\n"
	        "as file:line on stderr, exit status 1 if there are any, nothing on success."};
	const struct berth_config *cfg;
	int opt;

	optind = 0;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, CTL_COMMON_SHORTOPTS, longopts, NULL)) != -1) {
		if (opt == 'h') {
			printf("usage: berthctl check [-f berthd.conf]\n\n%s\n", self.summary);
			return CTL_OK;
		}
		if (opt == 'A') {
			ctl_err("check: -A does not apply; the accounts file is berthd.conf's "
			        "AccountsFile");
			return CTL_USAGE;
		}
		if (!ctl_common_option(c, opt, optarg)) {
			ctl_err("check: unknown option or missing argument: %s", argv[optind - 1]);
			return CTL_USAGE;
		}
	}
	if (optind < argc || c->accounts_path) {
		if (optind < argc)
			ctl_err("check: unexpected argument \"%s\"", argv[optind]);
		else
			ctl_err("check: -A does not apply; the accounts file is berthd.conf's "
			        "AccountsFile");
		return CTL_USAGE;
	}
	/* The host-key loader logs its own problems, as it does for berthd -t. */
	log_init("berthctl", LOG_LEVEL_INFO, LOG_SINK_STDERR, LOG_AUTH);
	/* Load as berthd does (same messages), not through ctl_config(). */
	const char *path = c->config_path ? c->config_path : BERTH_SYSCONFDIR "/berthd.conf";
	struct berth_errors errs = BERTH_ERRORS_NULL;
	if (berth_config_load(path, &c->cfg, &errs) != 0) {
		berth_errors_print(&errs, stderr);
		berth_errors_free(&errs);
		fprintf(stderr, "berthctl: %s: cannot load configuration\n", path);
		return CTL_ERROR;
	}
	c->have_cfg = true;
	cfg = &c->cfg;
	int r = daemon_check_config(cfg, &errs);
	berth_errors_print(&errs, stderr);
	berth_errors_free(&errs);
	return r != 0 ? CTL_ERROR : CTL_OK;
}

/* The commands. sessions, kick and ban talk to the running daemon over its control
 * socket, reload signals it (PidFile); each handler parses its own options. */
static const struct ctl_command commands[] = {
        {"account", ctl_cmd_account, "add|modify|disable|enable|remove|list|show ...",
         "virtual accounts (Account stanzas of the accounts file)"},
        {"group", ctl_cmd_group, "add|modify|remove|list|show ...",
         "named groups (Group stanzas of the accounts file)"},
        {"key", ctl_cmd_key, "add|list|remove ACCOUNT ...", "an account's authorized keys"},
        {"check", cmd_check, "[-f berthd.conf]",
         "check the configuration and the accounts file (the same as berthd -t)"},
        {"explain", ctl_cmd_explain, "ACCOUNT OPERATION PATH [--to T] [--from ADDR] ...",
         "would the account be allowed this, and which rules (file:line) decide"},
        {"quota", ctl_cmd_quota, "show|rescan ACCOUNT",
         "an account's quota usage (StateDirectory/quota/)"},
        {"sessions", ctl_cmd_sessions, "", "the running berthd's live sessions"},
        {"kick", ctl_cmd_kick, "SESSION|ACCOUNT", "end a session, or every session of an account"},
        {"ban", ctl_cmd_ban, "list|add|remove ADDR[/PREFIX] [DURATION]",
         "the defender's bans in the running berthd"},
        {"reload", ctl_cmd_reload, "[--pid-file FILE] [--timeout SECS]",
         "reload the running berthd (SIGHUP) and print the outcome"},
};

static int
usage(int code)
{
	FILE *f = code ? stderr : stdout;

	fprintf(f, "usage: berthctl [-f berthd.conf | -A accounts] COMMAND ...\n\n");
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		fprintf(f, "  %-8s %s\n           %s\n", commands[i].name, commands[i].args,
		        commands[i].summary);
	fprintf(f,
	        "\n  -f FILE   berthd.conf (default %s)\n"
	        "  -A FILE   work on this accounts file, without berthd.conf\n"
	        "  -V        print the version\n"
	        "\n'berthctl COMMAND --help' lists its subcommands; see berthctl(8).\n",
	        BERTH_SYSCONFDIR "/berthd.conf");
	return code;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
	        CTL_COMMON_LONGOPTS,
	        {"version", no_argument, NULL, 'V'},
	        {0},
	};
	struct ctl c = {0};
	int opt, rc;

	/* Passwords and hashes pass through this process: no core dumps, no ptrace by
	 * other processes of the same user. New files are private. */
	(void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	umask(077);

	opterr = 0;
	while ((opt = getopt_long(argc, argv, "+" CTL_COMMON_SHORTOPTS "V", longopts, NULL)) !=
	       -1) {
		if (opt == 'h')
			return usage(CTL_OK);
		if (opt == 'V') {
			printf("berthctl %s\n", BERTH_VERSION);
			return CTL_OK;
		}
		if (!ctl_common_option(&c, opt, optarg)) {
			ctl_err("unknown option or missing argument: %s", argv[optind - 1]);
			return usage(CTL_USAGE);
		}
	}
	if (optind >= argc)
		return usage(CTL_USAGE);
	rc = -1;
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		if (strcmp(argv[optind], commands[i].name) == 0)
			rc = commands[i].run(&c, argc - optind, argv + optind);
	if (rc < 0) {
		if (strcmp(argv[optind], "help") == 0)
			return usage(CTL_OK);
		ctl_err("unknown command \"%s\"", argv[optind]);
		rc = usage(CTL_USAGE);
	}
	if (c.have_cfg)
		berth_config_free(&c.cfg);
	fflush(stdout);
	return ferror(stdout) ? CTL_ERROR : rc;
}
