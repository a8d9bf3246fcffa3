/* SPDX-License-Identifier: BSD-2-Clause */
/* berth-sftp-server: drop-in replacement for OpenSSH's sftp-server (Subsystem sftp).
 * Same command line, same log wording; adds -j to confine the session to a directory. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "berth/account.h"
#include "berth/common.h"
#include "berth/fxp_engine.h"
#include "berth/log.h"
#include "berth/policy.h"
#include "berth/vfs.h"
#include "berth/vfs_policy.h"
#include "berth/xmem.h"

static _noreturn_ void
usage(void)
{
	fprintf(stderr, "usage: berth-sftp-server [-ehR] [-A accounts_file] [-d start_directory] "
	                "[-f log_facility] [-j jail_directory]\n"
	                "\t[-l log_level] [-P denied_requests] [-p allowed_requests] [-u umask]\n"
	                "       berth-sftp-server -Q protocol_feature\n");
	exit(1);
}

/* "~" and "~user" at the start of -d, as OpenSSH's tilde_expand_filename(). */
static char *
tilde_expand(const char *path, const struct passwd *pw)
{
	if (path[0] != '~')
		return xstrdup(path);
	const char *rest = path + 1 + strcspn(path + 1, "/");
	size_t ulen = (size_t)(rest - path - 1);
	const char *home = pw->pw_dir;
	if (ulen > 0) {
		_cleanup_free_ char *name = xstrndup(path + 1, ulen);
		struct passwd *other = getpwnam(name);
		if (!other)
			log_fatal(255, "tilde_expand_filename: No such user %s", name);
		home = other->pw_dir;
	}
	return xasprintf("%s%s", home, rest);
}

/* %d home, %u user, %U numeric uid, %% (OpenSSH percent_expand for -d). */
static char *
percent_expand(const char *s, const struct passwd *pw)
{
	size_t cap = strlen(s) + 1, len = 0;
	char *out = xmalloc(cap);
	for (const char *p = s; *p; p++) {
		char num[24];
		const char *add = NULL;
		char one[2] = {*p, '\0'};
		if (*p == '%') {
			p++;
			switch (*p) {
			case '%':
				add = "%";
				break;
			case 'd':
				add = pw->pw_dir;
				break;
			case 'u':
				add = pw->pw_name;
				break;
			case 'U':
				snprintf(num, sizeof(num), "%lu", (unsigned long)pw->pw_uid);
				add = num;
				break;
			default:
				log_fatal(255, "percent_expand: unknown key %%%c", *p ? *p : '?');
			}
		} else {
			add = one;
		}
		size_t n = strlen(add);
		if (!size_add(len, n + 1, &cap) || cap > 65536)
			log_fatal(255, "percent_expand: string too long");
		out = xreallocarray(out, 1, cap);
		memcpy(out + len, add, n);
		len += n;
		out[len] = '\0';
	}
	return out;
}

static uint64_t
parse_request_list(const char *list, const char *what)
{
	uint64_t mask = 0;
	_cleanup_free_ char *copy = xstrdup(list);
	/* Unknown names are ignored (they never match in OpenSSH either), but said. */
	for (char *save = NULL, *tok = strtok_r(copy, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		uint64_t bit;
		if (fxp_request_mask_from_names(tok, &bit, NULL) < 0) {
			log_error("Unknown %s request \"%s\" ignored", what, tok);
			continue;
		}
		mask |= bit;
	}
	return mask;
}

/* -A: the policy keywords of the user's stanza of a berth-accounts(5) file (or of its
 * Defaults), wrapped around the VFS. */
static struct policy *
load_policy(const char *file, const char *user)
{
	struct berth_accounts *db = NULL;
	struct berth_errors errs = BERTH_ERRORS_NULL;
	int r = berth_accounts_load(file, &db, &errs);
	for (size_t i = 0; i < errs.n; i++)
		log_error("%s", errs.msgs[i]);
	berth_errors_free(&errs);
	if (r != 0)
		log_fatal(255, "cannot use accounts file %s", file);
	struct berth_config cfg;
	struct berth_account *a = NULL;
	berth_config_init_defaults(&cfg);
	struct policy *p = berth_account_lookup(&cfg, db, user, &a) == 0
	                           ? policy_dup(a->policy)
	                           : policy_dup(berth_accounts_defaults_policy(db));
	berth_account_free(a);
	berth_config_free(&cfg);
	berth_accounts_free(db);
	return p;
}

int
main(int argc, char **argv)
{
	const char *start_dir = NULL, *jail = NULL, *denied = NULL, *allowed = NULL;
	const char *accounts = NULL;
	enum log_level level = LOG_LEVEL_ERROR;
	enum log_sink sink = LOG_SINK_SYSLOG;
	int facility = LOG_AUTH;
	bool read_only = false, skipargs = false;
	int ch;

	/* A vanished client must end us with a write error, not a signal. */
	signal(SIGPIPE, SIG_IGN);
	log_init("sftp-server", level, LOG_SINK_STDERR, facility);

	struct passwd *pw = getpwuid(getuid());
	if (!pw) {
		fprintf(stderr, "No user found for uid %lu\n", (unsigned long)getuid());
		return 1;
	}
	/* Keep our own copy: later NSS calls may overwrite getpwuid()'s storage. */
	_cleanup_free_ char *pw_name = xstrdup(pw->pw_name), *pw_dir = xstrdup(pw->pw_dir);
	pw = &(struct passwd){
	        .pw_name = pw_name,
	        .pw_dir = pw_dir,
	        .pw_uid = pw->pw_uid,
	        .pw_gid = pw->pw_gid,
	};

	while (!skipargs && (ch = getopt(argc, argv, "A:d:f:j:l:P:p:Q:u:cehR")) != -1) {
		switch (ch) {
		case 'Q':
			if (strcmp(optarg, "requests") != 0) {
				fprintf(stderr, "Invalid query type\n");
				exit(1);
			}
			fxp_print_request_names(stdout);
			exit(0);
		case 'R':
			read_only = true;
			break;
		case 'c':
			/* Invoked as a shell: "sftp-server -c command". */
			skipargs = true;
			break;
		case 'e':
			sink = LOG_SINK_STDERR;
			break;
		case 'l':
			if (log_level_from_name(optarg, &level) < 0)
				log_error("Invalid log level \"%s\"", optarg);
			break;
		case 'f':
			if (log_facility_from_name(optarg, &facility) < 0)
				log_error("Invalid log facility \"%s\"", optarg);
			break;
		case 'A':
			accounts = optarg;
			break;
		case 'd':
			start_dir = optarg;
			break;
		case 'j':
			jail = optarg;
			break;
		case 'p':
			if (allowed)
				log_fatal(255, "Allowed requests already set");
			allowed = optarg;
			break;
		case 'P':
			if (denied)
				log_fatal(255, "Denied requests already set");
			denied = optarg;
			break;
		case 'u': {
			char *end;
			errno = 0;
			long mask = strtol(optarg, &end, 8);
			if (mask < 0 || mask > 0777 || *end != '\0' || end == optarg ||
			    (mask == 0 && errno != 0))
				log_fatal(255, "Invalid umask \"%s\"", optarg);
			(void)umask((mode_t)mask);
			break;
		}
		case 'h':
		default:
			usage();
		}
	}
	log_init("sftp-server", level, sink, facility);

	_cleanup_free_ char *client_addr = NULL;
	const char *conn = getenv("SSH_CONNECTION");
	if (conn) {
		client_addr = xstrdup(conn);
		char *sp = strchr(client_addr, ' ');
		if (!sp) {
			log_error("Malformed SSH_CONNECTION variable: \"%s\"", conn);
			exit(255);
		}
		*sp = '\0';
	} else {
		client_addr = xstrdup("UNKNOWN");
	}
	log_info("session opened for local user %s from [%s]", pw->pw_name, client_addr);

	/* Without a jail the root is "/" and relative paths start at our cwd, exactly as
	 * OpenSSH; with -j the kernel confines every lookup beneath the jail. */
	char cwdbuf[PATH_MAX];
	const char *cwd = "/";
	if (!jail) {
		if (getcwd(cwdbuf, sizeof(cwdbuf)))
			cwd = cwdbuf;
	}
	struct vfs *vfs;
	int r = vfs_posix_new(jail ? jail : "/", cwd, 0, &vfs);
	if (r < 0)
		log_fatal(255, "cannot open %s \"%s\": %s", jail ? "jail directory" : "root",
		          jail ? jail : "/", strerror(-r));
	/* Without a jail the user's own permissions decide, as with OpenSSH: devices and
	 * FIFOs may be opened. Inside a jail they stay refused. */
	if (!jail && (r = vfs_posix_set_special_files(vfs, true)) < 0)
		log_fatal(255, "vfs: %s", strerror(-r));

	struct policy *pol = NULL;
	if (accounts) {
		pol = load_policy(accounts, pw->pw_name);
		struct vfs_policy_config pc = {
		        .policy = pol, .state_fd = -1, .no_scan = true, .log = log_callback};
		r = vfs_policy_wrap(vfs, &pc, &vfs);
		if (r < 0)
			log_fatal(255, "policy: %s", strerror(-r));
	}
	_cleanup_free_ char *home = NULL;
	if (start_dir) {
		_cleanup_free_ char *t = tilde_expand(start_dir, pw);
		_cleanup_free_ char *dir = percent_expand(t, pw);
		r = vfs_chdir(vfs, dir);
		if (r < 0)
			log_error("chdir to \"%s\" failed: %s", dir, strerror(-r));
	}
	/* "Home" as the client sees it: the real home without a jail, else the start dir. */
	if (jail) {
		if (vfs_realpath(vfs, ".", &home) < 0)
			home = xstrdup("/");
	} else {
		home = xstrdup(pw->pw_dir);
	}

	struct fxp_engine_config cfg = {
	        .vfs = vfs,
	        .read_only = read_only,
	        .user = pw->pw_name,
	        .home = home,
	        .peer = client_addr,
	        .log = log_callback,
	        .check_file = pol != NULL,
	};
	if (denied)
		cfg.denied = parse_request_list(denied, "denied");
	if (allowed) {
		cfg.allowed = parse_request_list(allowed, "allowed");
		cfg.have_allowed = true;
	}
	struct fxp_engine *engine;
	r = fxp_engine_new(&cfg, &engine);
	if (r < 0)
		log_fatal(255, "engine: %s", strerror(-r));
	/* Downloads go from the page cache to stdout without a copy through user space
	 * when stdout is a pipe or a socket (sshd and sftp -D connect one). */
	const struct fxp_loop_opts loop_opts = {.zero_copy = true};
	int status = fxp_loop_run_opts(engine, STDIN_FILENO, STDOUT_FILENO, &loop_opts);
	fxp_engine_free(engine);
	vfs_free(vfs);
	policy_free(pol);
	log_info("session closed for local user %s from [%s]", pw->pw_name, client_addr);
	return status;
}
