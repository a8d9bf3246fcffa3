/* SPDX-License-Identifier: BSD-2-Clause */
/* berthctl sessions, kick, ban: requests to the running berthd's control socket. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "berth/common.h"
#include "berth/conf.h"
#include "berth/control.h"
#include "berth/xmem.h"
#include "ctl.h"

/* Print tab-separated rows as aligned columns. */
static void
print_table(const char *text)
{
	size_t width[16] = {0};
	for (int pass = 0; pass < 2; pass++) {
		const char *p = text;
		while (*p) {
			const char *eol = strchr(p, '\n');
			size_t len = eol ? (size_t)(eol - p) : strlen(p);
			size_t col = 0, start = 0;
			for (size_t i = 0; i <= len; i++) {
				if (i < len && p[i] != '\t')
					continue;
				size_t w = i - start;
				if (pass == 0 && col < ARRAY_SIZE(width) && w > width[col])
					width[col] = w;
				if (pass == 1) {
					bool last = i == len;
					printf("%.*s", (int)w, p + start);
					if (!last)
						printf("%*s",
						       (int)(col < ARRAY_SIZE(width)
						                     ? width[col] - w + 2
						                     : 2),
						       "");
				}
				col++;
				start = i + 1;
			}
			if (pass == 1)
				putchar('\n');
			p += len + (eol ? 1 : 0);
		}
	}
}

/* Send @line; print the response body (as a table when @table). */
static int
request(struct ctl *c, const char *line, bool table)
{
	const struct berth_config *cfg;
	if (ctl_config(c, &cfg) != 0)
		return CTL_ERROR;
	if (!cfg->control_socket) {
		ctl_err("ControlSocket is none in the configuration: no live state to ask");
		return CTL_ERROR;
	}
	_cleanup_free_ char *resp = NULL;
	int r = control_request(cfg->control_socket, line, &resp);
	if (r == -ENOENT || r == -ECONNREFUSED || r == -ENOTDIR) {
		ctl_err("berthd is not running (no control socket at %s)", cfg->control_socket);
		return CTL_ERROR;
	}
	if (r == -EACCES || r == -EPERM) {
		ctl_err("%s: permission denied (the control socket is root-only)",
		        cfg->control_socket);
		return CTL_ERROR;
	}
	if (r < 0) {
		ctl_err("%s: %s", cfg->control_socket, strerror(-r));
		return CTL_ERROR;
	}
	if (strncmp(resp, "OK\n", 3) == 0) {
		if (table)
			print_table(resp + 3);
		else
			fputs(resp + 3, stdout);
		return CTL_OK;
	}
	if (strncmp(resp, "ERR ", 4) == 0) {
		size_t n = strcspn(resp + 4, "\n");
		ctl_err("%.*s", (int)n, resp + 4);
	} else {
		ctl_err("unexpected answer from berthd");
	}
	return CTL_ERROR;
}

/* Common options; the remaining words in argv[optind..]. */
static int
parse(struct ctl *c, int argc, char **argv, const char *usage_line, const char *help)
{
	static const struct option longopts[] = {CTL_COMMON_LONGOPTS, {0}};
	int opt;
	optind = 0;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "+" CTL_COMMON_SHORTOPTS, longopts, NULL)) != -1) {
		if (opt == 'h') {
			printf("usage: berthctl %s\n\n%s\n", usage_line, help);
			return -CTL_OK - 1;
		}
		if (opt == 'A' || !ctl_common_option(c, opt, optarg)) {
			ctl_err("unknown option or missing argument: %s", argv[optind - 1]);
			return -CTL_USAGE - 1;
		}
	}
	return optind;
}

int
ctl_cmd_sessions(struct ctl *c, int argc, char **argv)
{
	int i = parse(c, argc, argv, "sessions [-f berthd.conf]",
	              "The live sessions of the running berthd: id, account, source, protocol,\n"
	              "start, bytes in (uploaded) and out (downloaded), current file.");
	if (i < 0)
		return -i - 1;
	if (i != argc) {
		ctl_err("sessions: unexpected argument \"%s\"", argv[i]);
		return CTL_USAGE;
	}
	return request(c, "sessions", true);
}

int
ctl_cmd_kick(struct ctl *c, int argc, char **argv)
{
	int i = parse(c, argc, argv, "kick [-f berthd.conf] SESSION|ACCOUNT",
	              "End the connection carrying session SESSION (an id from `berthctl "
	              "sessions`),\nor every connection of ACCOUNT.");
	if (i < 0)
		return -i - 1;
	if (argc - i != 1 || strchr(argv[i], ' ') || strchr(argv[i], '\n')) {
		ctl_err("usage: berthctl kick SESSION|ACCOUNT");
		return CTL_USAGE;
	}
	_cleanup_free_ char *line = xasprintf("kick %s", argv[i]);
	return request(c, line, false);
}

static bool
word_ok(const char *s)
{
	return s[0] && strspn(s, "0123456789abcdefABCDEF.:/") == strlen(s);
}

int
ctl_cmd_ban(struct ctl *c, int argc, char **argv)
{
	int i = parse(c, argc, argv,
	              "ban [-f berthd.conf] list | add ADDR[/PREFIX] [DURATION] | "
	              "remove ADDR[/PREFIX]",
	              "The defender's bans in the running berthd. add bans a source now (DURATION\n"
	              "as 30m, 2h, 1d or forever; default DefenderBanTime); an address without\n"
	              "/PREFIX is grouped like the defender groups it (DefenderIPv6Prefix).");
	if (i < 0)
		return -i - 1;
	int n = argc - i;
	char **a = argv + i;
	if (n == 1 && strcmp(a[0], "list") == 0)
		return request(c, "ban list", true);
	if ((n == 2 || n == 3) && strcmp(a[0], "add") == 0 && word_ok(a[1])) {
		_cleanup_free_ char *line = NULL;
		if (n == 3) {
			uint32_t secs = 0;
			if (strcmp(a[2], "forever") != 0 &&
			    (berth_parse_duration(a[2], &secs) < 0 || secs == 0)) {
				ctl_err("ban add: bad duration \"%s\" (e.g. 30m, 2h, 1d, forever)",
				        a[2]);
				return CTL_USAGE;
			}
			line = xasprintf("ban add %s %u", a[1], secs);
		} else {
			line = xasprintf("ban add %s", a[1]);
		}
		return request(c, line, false);
	}
	if (n == 2 && strcmp(a[0], "remove") == 0 && word_ok(a[1])) {
		_cleanup_free_ char *line = xasprintf("ban remove %s", a[1]);
		return request(c, line, false);
	}
	ctl_err("usage: berthctl ban list | add ADDR[/PREFIX] [DURATION] | remove ADDR[/PREFIX]");
	return CTL_USAGE;
}
