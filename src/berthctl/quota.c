/* SPDX-License-Identifier: BSD-2-Clause */
/* berthctl quota show|rescan ACCOUNT: the per-account usage in StateDirectory/quota/. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "berth/account.h"
#include "berth/buf.h"
#include "berth/common.h"
#include "berth/conf.h"
#include "berth/policy.h"
#include "berth/policy_state.h"
#include "berth/vfs.h"
#include "berth/vfs_policy.h"
#include "berth/xmem.h"
#include "ctl.h"

#define RESCAN_WAIT_DEFAULT 30 /* seconds of retrying while sessions write */
#define RESCAN_WAIT_MAX     86400
#define RESCAN_PAUSE_MS     200 /* between walks that sessions disturbed */

enum { O_WAIT = 256 };

struct quota_req {
	const char *account;
	uint32_t wait;
	const struct berth_config *cfg;
	struct berth_accounts *db;
	struct berth_account *a;
};

static void
req_free(struct quota_req *q)
{
	berth_account_free(q->a);
	berth_accounts_free(q->db);
}

/* ACCOUNT and the options of one subcommand, and the account looked up; -1 after
 * --help. */
static int
parse(struct ctl *c, const struct ctl_command *cmd, int argc, char **argv, struct quota_req *q)
{
	static const struct option longopts[] = {
	        CTL_COMMON_LONGOPTS,
	        {"wait", required_argument, NULL, O_WAIT},
	        {0},
	};
	bool rescan = strcmp(cmd->name, "rescan") == 0;
	int opt;
	optind = 0;
	opterr = 0;
	q->wait = RESCAN_WAIT_DEFAULT;
	while ((opt = getopt_long(argc, argv, CTL_COMMON_SHORTOPTS, longopts, NULL)) != -1) {
		if (opt == 'h') {
			ctl_usage(
			        CTL_OK, "quota", cmd,
			        rescan ? "  --wait SECONDS  how long to walk again while sessions "
			                 "change the usage\n                  (default 30)\n"
			               : NULL);
			return -1;
		}
		if (ctl_common_option(c, opt, optarg))
			continue;
		char *end;
		unsigned long w;
		if (opt == O_WAIT && rescan && (w = strtoul(optarg, &end, 10), !*end) &&
		    optarg[0] >= '0' && optarg[0] <= '9' && w <= RESCAN_WAIT_MAX) {
			q->wait = (uint32_t)w;
			continue;
		}
		ctl_err("quota %s: unknown option, bad value or missing argument: %s", cmd->name,
		        argv[optind - 1]);
		return ctl_usage(CTL_USAGE, "quota", cmd, NULL);
	}
	if (argc - optind != 1) {
		ctl_err("quota %s: expected ACCOUNT", cmd->name);
		return ctl_usage(CTL_USAGE, "quota", cmd, NULL);
	}
	q->account = argv[optind];
	if (!berth_account_name_valid(q->account)) {
		ctl_err("invalid account name \"%s\"", q->account);
		return CTL_USAGE;
	}
	return ctl_account(c, q->account, &q->cfg, &q->db, &q->a);
}

/* "quota-size 4194304 (QuotaSize 4M at accounts:12)" or "quota-size none". */
static void
print_limit(const char *label, const struct policy *p, enum policy_key key)
{
	const struct policy_value *v = &p->values[key];
	uint64_t n = policy_get(p, key);
	if (!n) {
		printf("%s none\n", label);
		return;
	}
	printf("%s %llu (%s", label, (unsigned long long)n, v->text ? v->text : "?");
	if (v->origin.file && v->origin.line)
		printf(" at %s:%u", v->origin.file, v->origin.line);
	else if (v->origin.file)
		printf(" at %s", v->origin.file);
	printf(")\n");
}

static bool
has_quota(const struct policy *p)
{
	return policy_get(p, POLICY_QUOTA_BYTES) || policy_get(p, POLICY_QUOTA_FILES);
}

static int
quota_show(struct ctl *c, int argc, char **argv)
{
	static const struct ctl_command self = {"show", quota_show, "ACCOUNT",
	                                        "The account's limits and the usage recorded in "
	                                        "StateDirectory/quota/ (read only)."};
	struct quota_req q = {0};
	int rc = parse(c, &self, argc, argv, &q);
	if (rc != CTL_OK)
		return rc < 0 ? CTL_OK : rc;
	const struct berth_config *cfg = q.cfg;
	const struct berth_account *a = q.a;
	const struct policy *p = a->policy;
	_cleanup_free_ char *name = policy_state_file_name(a->name);
	printf("account %s\nstate %s/quota/%s\n", a->name, cfg->state_directory, name);
	print_limit("quota-size", p, POLICY_QUOTA_BYTES);
	print_limit("quota-files", p, POLICY_QUOTA_FILES);
	print_limit("max-file-size", p, POLICY_MAX_FILE_SIZE);
	struct policy_state_info u;
	int r = policy_state_read(cfg->state_directory, a->name, &u);
	if (r == -ENOENT) {
		printf("usage none (%s)\n", has_quota(p)
		                                    ? "no session has counted it yet"
		                                    : "not counted: no QuotaSize or QuotaFiles");
	} else if (r < 0) {
		ctl_err("%s/quota/%s: %s", cfg->state_directory, name, strerror(-r));
		rc = CTL_ERROR;
	} else {
		if (!u.initialised)
			printf("usage unknown (not set up yet)\n");
		else if (!u.valid)
			printf("usage unknown (the next session, or berthctl quota rescan, walks "
			       "the jail)\n");
		else if (!has_quota(p))
			printf("usage stale (no QuotaSize or QuotaFiles: sessions do not count)\n");
		else
			printf("usage valid\n");
		if (u.initialised)
			printf("bytes %llu\nfiles %llu\nuploading-bytes %llu\nuploading-files "
			       "%llu\n",
			       (unsigned long long)u.bytes, (unsigned long long)u.files,
			       (unsigned long long)u.temp_bytes, (unsigned long long)u.temp_files);
		printf("sessions %u\n", u.sessions);
		if (u.scanning)
			printf("scanning yes\n");
	}
	req_free(&q);
	return rc;
}

/* ---- rescan ---- */

/* In the child, as the account: the walk a session's first attach makes. */
static int
scan_fn(struct vfs *v, void *ctx, struct xbuf *out)
{
	(void)ctx;
	uint64_t bytes, files;
	v->no_symlinks = true;
	int r = vfs_policy_scan(v, &bytes, &files);
	if (r < 0)
		return r;
	if (xbuf_put_u64(out, bytes) < 0 || xbuf_put_u64(out, files) < 0)
		return -ENOBUFS;
	return 0;
}

struct scan_ctx {
	const struct berth_config *cfg;
	const struct berth_account *a;
	unsigned walks;
};

/* policy_state_rescan()'s walk: a child process as the account each time. */
static int
scan_as_account(void *ctx, uint64_t *ret_bytes, uint64_t *ret_files)
{
	struct scan_ctx *sc = ctx;
	_cleanup_xbuf_ struct xbuf out = XBUF_NULL;
	xbuf_init(&out, CTL_AS_ACCOUNT_MAX);
	int r = ctl_as_account(sc->cfg, sc->a, scan_fn, NULL, &out);
	if (r > 0)
		return -ECHILD; /* printed */
	if (r < 0) {
		ctl_err("walking the jail of %s (%s): %s", sc->a->name, sc->a->root, strerror(-r));
		return -ECHILD;
	}
	if (xbuf_get_u64(&out, ret_bytes) < 0 || xbuf_get_u64(&out, ret_files) < 0)
		return -EBADMSG;
	sc->walks++;
	return 0;
}

static uint64_t
now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int
quota_rescan(struct ctl *c, int argc, char **argv)
{
	static const struct ctl_command self = {
	        "rescan", quota_rescan, "ACCOUNT [--wait SECONDS]",
	        "Walk the account's jail as the account and store its usage (sessions may run)."};
	struct quota_req q = {0};
	int rc = parse(c, &self, argc, argv, &q);
	if (rc != CTL_OK)
		return rc < 0 ? CTL_OK : rc;
	const struct berth_config *cfg = q.cfg;
	const struct berth_account *a = q.a;
	struct policy_state *st = NULL;
	rc = CTL_ERROR;
	if (!has_quota(a->policy)) {
		ctl_err("%s has no QuotaSize or QuotaFiles: berthd does not count its usage",
		        a->name);
		goto out;
	}
	int fd, r = policy_state_open(cfg->state_directory, a->name, &fd);
	if (r < 0) {
		ctl_err("%s/quota: %s", cfg->state_directory, strerror(-r));
		goto out;
	}
	if ((r = policy_state_map(fd, &st)) < 0) {
		close(fd);
		ctl_err("the state file of %s: %s", a->name, strerror(-r));
		goto out;
	}
	struct scan_ctx sc = {cfg, a, 0};
	struct policy_state_rescan_report rep;
	uint64_t deadline = now_ms() + (uint64_t)q.wait * 1000u;
	for (;;) {
		/* The last walk stores its result even if sessions disturbed it. */
		bool last = now_ms() >= deadline;
		r = policy_state_rescan(st, scan_as_account, &sc, last, &rep);
		if (r != POLICY_STATE_BUSY || last)
			break;
		struct timespec pause = {0, RESCAN_PAUSE_MS * 1000000L};
		nanosleep(&pause, NULL);
	}
	if (r < 0) {
		if (r != -ECHILD)
			ctl_err("rescan of %s: %s", a->name, strerror(-r));
		goto out;
	}
	printf("%s: %llu bytes in %llu files", a->name, (unsigned long long)rep.bytes,
	       (unsigned long long)rep.files);
	if (rep.old_valid)
		printf(" (recorded before: %llu bytes in %llu files)",
		       (unsigned long long)rep.old_bytes, (unsigned long long)rep.old_files);
	else
		printf(" (recorded before: unknown)");
	if (sc.walks > 1)
		printf("; %u walks, sessions changed the usage during %u of them", sc.walks,
		       sc.walks - (r == 0));
	printf("\n");
	if (r == POLICY_STATE_BUSY)
		ctl_warn("sessions of %s kept changing the usage during %u walks in %u s; stored "
		         "the last walk plus what was added during it (it may count up to %llu "
		         "bytes and %llu files too many); run it again when the account is idle",
		         a->name, sc.walks, q.wait, (unsigned long long)rep.moved_bytes,
		         (unsigned long long)rep.moved_files);
	rc = CTL_OK;
out:
	policy_state_unmap(st);
	req_free(&q);
	return rc;
}

int
ctl_cmd_quota(struct ctl *c, int argc, char **argv)
{
	static const struct ctl_command table[] = {
	        {"show", quota_show, "ACCOUNT", "limits and recorded usage (read only)"},
	        {"rescan", quota_rescan, "ACCOUNT [--wait SECONDS]",
	         "walk the jail as the account and store the usage"},
	};
	return ctl_dispatch(c, "quota", table, ARRAY_SIZE(table), argc - 1, argv + 1);
}
