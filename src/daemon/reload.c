/* SPDX-License-Identifier: BSD-2-Clause */
/* Live reload: build a complete new generation beside the old one; the status file. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "berth/account.h"
#include "berth/common.h"
#include "berth/file.h"
#include "berth/ftpsd.h"
#include "berth/log.h"
#include "berth/notify.h"
#include "berth/reload.h"
#include "berth/sshd.h"
#include "berth/tls.h"
#include "berth/xmem.h"

#define STATUS_MAX (256u * 1024u)

static int
load_config(const struct daemon_runtime *rt, struct berth_config *cfg, struct berth_errors *errors)
{
	if (!rt->config_path) {
		berth_errors_add(
		        errors, NULL, 0,
		        "no configuration file to reload (quickstart mode); restart instead");
		return BERTH_CONF_E_INVALID;
	}
	int r = berth_config_load(rt->config_path, cfg, errors);
	if (r != 0) {
		if (!errors->n)
			berth_errors_add(errors, rt->config_path, 0, "cannot load configuration");
		return r < 0 ? r : BERTH_CONF_E_INVALID;
	}
	if (rt->port_override)
		cfg->port = rt->port_override;
	return 0;
}

/* `berthd -t` in a child: the accounts file (with its hashes) is only read there. The
 * diagnostics come back one per line through a pipe. */
static int
check_in_child(const struct daemon_runtime *rt, struct berth_errors *errors)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	pid_t pid = fork();
	if (pid < 0) {
		int e = errno;
		close(p[0]);
		close(p[1]);
		return -e;
	}
	if (pid == 0) {
		close(p[0]);
		struct berth_errors errs = BERTH_ERRORS_NULL;
		struct berth_config cfg;
		int r = load_config(rt, &cfg, &errs);
		if (r == 0) {
			r = daemon_check_config(&cfg, &errs);
			if (r != 0 && !errs.n)
				berth_errors_add(&errs, rt->config_path, 0,
				                 "host keys or algorithms rejected (see the log)");
			/* What this reload validated becomes what monitors fall back to. */
			int k = r == 0 && cfg.accounts_file
			                ? berth_accounts_keep_last_good(cfg.accounts_file,
			                                                cfg.state_directory)
			                : 0;
			if (k < 0)
				log_error("StateDirectory %s: cannot keep the last good accounts "
				          "file: %s",
				          cfg.state_directory, strerror(-k));
		}
		FILE *f = fdopen(p[1], "w");
		for (size_t i = 0; f && i < errs.n; i++) {
			/* One message per line, whatever it contains. */
			for (const char *c = errs.msgs[i]; *c; c++)
				fputc(*c == '\n' ? ' ' : *c, f);
			fputc('\n', f);
		}
		if (f)
			fflush(f);
		_exit(r != 0 ? 1 : 0);
	}
	close(p[1]);
	FILE *f = fdopen(p[0], "r");
	if (!f) {
		close(p[0]);
	} else {
		char *line = NULL;
		size_t cap = 0;
		ssize_t n;
		while ((n = getline(&line, &cap, f)) > 0) {
			if (line[n - 1] == '\n')
				line[n - 1] = '\0';
			berth_errors_add(errors, NULL, 0, "%s", line);
		}
		free(line);
		fclose(f);
	}
	int status;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	if (!errors->n)
		berth_errors_add(errors, rt->config_path, 0, "configuration check failed");
	return BERTH_CONF_E_INVALID;
}

int
reload_build(const struct daemon_runtime *rt, struct daemon_gen **ret, struct berth_errors *errors)
{
	*ret = NULL;
	int r = check_in_child(rt, errors);
	if (r != 0)
		return r;
	struct daemon_gen *g = xcalloc(1, sizeof(*g));
	r = load_config(rt, &g->cfg, errors);
	if (r != 0) {
		free(g);
		return r;
	}
	if (ftps_enabled(&g->cfg)) {
		struct berth_errors warns = BERTH_ERRORS_NULL;
		r = ftps_server_new(&g->cfg, errors, &warns, &g->tls);
		for (size_t i = 0; i < warns.n; i++)
			log_info("FTPS: warning: %s", warns.msgs[i]);
		berth_errors_free(&warns);
		if (r != 0) {
			if (!errors->n)
				berth_errors_add(errors, g->cfg.ftps_cert_file, 0,
				                 "cannot load the FTPS certificate");
			reload_gen_free(g);
			return r < 0 ? r : BERTH_CONF_E_INVALID;
		}
	}
	r = sshd_bind_new(&g->cfg, &g->bind);
	if (r < 0) {
		berth_errors_add(errors, rt->config_path, 0,
		                 "host keys or algorithms rejected (see the log)");
		reload_gen_free(g);
		return BERTH_CONF_E_INVALID;
	}
	*ret = g;
	return 0;
}

void
reload_gen_free(struct daemon_gen *g)
{
	if (!g)
		return;
	if (g->bind)
		ssh_bind_free(g->bind);
	tls_server_free(g->tls);
	berth_config_free(&g->cfg);
	free(g);
}

char *
reload_status_path(const char *pid_file)
{
	if (!pid_file)
		return NULL;
	size_t n = strlen(pid_file);
	if (n > 4 && strcmp(pid_file + n - 4, ".pid") == 0)
		return xasprintf("%.*s.reload", (int)(n - 4), pid_file);
	return xasprintf("%s.reload", pid_file);
}

int
reload_status_write(const char *path, const struct reload_status *st)
{
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	if (!f)
		return -errno;
	fprintf(f, "generation %" PRIu64 "\npid %d\nresult %s\n", st->generation, (int)st->pid,
	        st->ok ? "ok" : "refused");
	for (size_t i = 0; i < st->errors.n; i++) {
		fputs("error ", f);
		for (const char *c = st->errors.msgs[i]; *c; c++)
			fputc(*c == '\n' ? ' ' : *c, f);
		fputc('\n', f);
	}
	if (fclose(f) != 0)
		return -ENOMEM;
	return write_file_atomic(path, text, len, 0644);
}

int
reload_status_read(const char *path, struct reload_status *ret)
{
	memset(ret, 0, sizeof(*ret));
	_cleanup_free_ char *text = NULL;
	size_t len;
	int r = read_small_file(path, STATUS_MAX, true, &text, &len);
	if (r < 0)
		return r;
	unsigned seen = 0;
	for (char *line = text, *next; line && *line; line = next) {
		next = strchr(line, '\n');
		if (!next) {
			berth_errors_free(&ret->errors);
			return -EBADMSG; /* torn write: rename() makes this impossible */
		}
		*next++ = '\0';
		char *end;
		if (strncmp(line, "generation ", 11) == 0) {
			ret->generation = strtoull(line + 11, &end, 10);
			seen |= *end ? 0 : 1;
		} else if (strncmp(line, "pid ", 4) == 0) {
			ret->pid = (pid_t)strtol(line + 4, &end, 10);
			seen |= *end ? 0 : 2;
		} else if (strncmp(line, "result ", 7) == 0) {
			ret->ok = strcmp(line + 7, "ok") == 0;
			seen |= 4;
		} else if (strncmp(line, "error ", 6) == 0) {
			berth_errors_add(&ret->errors, NULL, 0, "%s", line + 6);
		}
	}
	if (seen != 7) {
		berth_errors_free(&ret->errors);
		return -EBADMSG;
	}
	return 0;
}

static void
record(struct reload_master *m, bool ok, const struct berth_errors *errors)
{
	if (!m->status_path)
		return;
	struct reload_status st = {
	        .generation = m->generation,
	        .pid = getpid(),
	        .ok = ok,
	};
	if (errors)
		st.errors = *errors;
	int r = reload_status_write(m->status_path, &st);
	if (r < 0)
		log_error("reload status file %s: %s", m->status_path, strerror(-r));
}

void
reload_master_init(struct reload_master *m, const struct daemon_runtime *rt,
                   const struct berth_config **cfg, ssh_bind *bind, struct tls_server **tls)
{
	*m = (struct reload_master){.rt = rt, .cfg = cfg, .bind = bind, .tls = tls};
	m->status_path = reload_status_path((*cfg)->pid_file);
	record(m, true, NULL);
	berth_notify("READY=1\nSTATUS=Accepting connections");
}

void
reload_master_begin(struct reload_master *m)
{
	m->generation++;
	log_info("Received SIGHUP; reloading %s (generation %" PRIu64 ").",
	         m->rt->config_path ? m->rt->config_path : "the configuration", m->generation);
	berth_notifyf("RELOADING=1\nSTATUS=Reloading the configuration\nMONOTONIC_USEC=%" PRIu64,
	              berth_notify_monotonic_usec());
}

void
reload_master_swap(struct reload_master *m, struct daemon_gen *g)
{
	if (*m->bind)
		ssh_bind_free(*m->bind);
	tls_server_free(*m->tls);
	*m->bind = g->bind;
	*m->tls = g->tls;
	g->bind = NULL;
	g->tls = NULL;
	*m->cfg = &g->cfg;
	reload_gen_free(m->gen);
	m->gen = g;
	/* LogLevel and SyslogFacility follow the file; the log sink stays (restart). */
	log_init("berthd", m->rt->debug ? LOG_LEVEL_DEBUG1 : (enum log_level)g->cfg.log_level,
	         m->rt->log_stderr ? LOG_SINK_STDERR : LOG_SINK_SYSLOG, g->cfg.syslog_facility);
}

void
reload_master_end(struct reload_master *m, bool ok, const struct berth_errors *errors)
{
	if (ok) {
		log_info("Reload complete (generation %" PRIu64 ").", m->generation);
	} else {
		for (size_t i = 0; errors && i < errors->n; i++)
			log_error("reload: %s", errors->msgs[i]);
		log_error("Reload refused (generation %" PRIu64 "); the previous configuration "
		          "stays in force.",
		          m->generation);
	}
	record(m, ok, errors);
	berth_notifyf("READY=1\nSTATUS=%s (generation %" PRIu64 ")",
	              ok ? "Accepting connections; reloaded" : "Reload refused; old configuration",
	              m->generation);
}

void
reload_master_stop(struct reload_master *m)
{
	berth_notify("STOPPING=1\nSTATUS=Stopping");
	if (m->status_path)
		unlink(m->status_path);
	free(m->status_path);
	m->status_path = NULL;
	reload_gen_free(m->gen);
	m->gen = NULL;
}
