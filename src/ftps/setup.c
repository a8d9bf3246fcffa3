/* SPDX-License-Identifier: BSD-2-Clause */
/* FTPS configuration glue: the TLS server from berthd.conf, the checks of `berthd -t`,
 * the PASV address for a client, and the FTP worker's command-line arguments. */
#include <stdio.h>
#include <string.h>

#include "berth/account.h"
#include "berth/common.h"
#include "berth/conf.h"
#include "berth/ftpsd.h"
#include "berth/tls.h"
#include "berth/xmem.h"

bool
ftps_enabled(const struct berth_config *cfg)
{
	return cfg->n_ftps_listen > 0;
}

/* A listener that cannot be used without TLS: implicit, or explicit without allow-plain. */
static bool
needs_tls(const struct berth_config *cfg)
{
	for (size_t i = 0; i < cfg->n_ftps_listen; i++)
		if (cfg->ftps_listen[i].implicit || !cfg->ftps_listen[i].allow_plain)
			return true;
	return false;
}

int
ftps_server_new(const struct berth_config *cfg, struct berth_errors *errors,
                struct berth_errors *warnings, struct tls_server **ret)
{
	*ret = NULL;
	if (!cfg->ftps_cert_file)
		return 0;
	struct tls_settings s = {
	        .cert_file = cfg->ftps_cert_file,
	        .key_file = cfg->ftps_key_file,
	        .ciphers = cfg->ftps_ciphers,
	        .ciphersuites = cfg->ftps_ciphersuites,
	        .tls13_only = cfg->ftps_tls13_only,
	};
	return tls_server_new(&s, errors, warnings, ret);
}

static const char *
origin_file(const struct berth_config *cfg, const struct berth_conf_origin *o)
{
	if (o->file)
		return o->file;
	return cfg->n_files ? cfg->files[0] : "(defaults)";
}

static uint16_t
listen_port(const struct berth_ftps_listen *l)
{
	return l->port ? l->port : l->implicit ? BERTH_FTPS_IMPLICIT_PORT : BERTH_FTPS_PORT;
}

int
ftps_config_check(const struct berth_config *cfg, struct berth_errors *errors,
                  struct berth_errors *warnings)
{
	bool bad = false;
	const struct berth_conf_origin *lo = &cfg->origin_ftps_listen;
	const struct berth_conf_origin *co = &cfg->origin_ftps_cert;
	const struct berth_conf_origin *po = &cfg->origin_ftps_passive;

	if (ftps_enabled(cfg) && needs_tls(cfg) && !cfg->ftps_cert_file) {
		berth_errors_add(errors, origin_file(cfg, lo), lo->line,
		                 "FTPS listeners need FTPSCertificateFile (only an allow-plain "
		                 "FTPSListenAddress works without TLS)");
		bad = true;
	}
	if (cfg->ftps_cert_file) {
		struct tls_server *srv = NULL;
		struct berth_errors tls_errors = BERTH_ERRORS_NULL;
		int r = ftps_server_new(cfg, &tls_errors, warnings, &srv);
		for (size_t i = 0; i < tls_errors.n; i++)
			berth_errors_add(errors, origin_file(cfg, co), co->line,
			                 "FTPSCertificateFile: %s", tls_errors.msgs[i]);
		if (r != 0 && tls_errors.n == 0)
			berth_errors_add(errors, origin_file(cfg, co), co->line,
			                 "FTPSCertificateFile %s: %s", cfg->ftps_cert_file,
			                 r < 0 ? strerror(-r) : "unusable");
		if (r != 0)
			bad = true;
		berth_errors_free(&tls_errors);
		tls_server_free(srv);
	}
	for (size_t i = 0; i < cfg->n_ftps_listen; i++) {
		const struct berth_ftps_listen *a = &cfg->ftps_listen[i];
		for (size_t j = 0; j < i; j++) {
			const struct berth_ftps_listen *b = &cfg->ftps_listen[j];
			if (listen_port(a) == listen_port(b) && strcmp(a->host, b->host) == 0) {
				berth_errors_add(errors, origin_file(cfg, lo), lo->line,
				                 "FTPS listener %s port %u given twice", a->host,
				                 listen_port(a));
				bad = true;
			}
		}
		for (size_t j = 0; j < cfg->n_listen; j++) {
			uint16_t sp = cfg->listen[j].port ? cfg->listen[j].port : cfg->port;
			if (sp == listen_port(a) && strcmp(a->host, cfg->listen[j].host) == 0) {
				berth_errors_add(errors, origin_file(cfg, lo), lo->line,
				                 "FTPS listener %s port %u is also a ListenAddress",
				                 a->host, sp);
				bad = true;
			}
		}
	}
	for (size_t i = 0; i < cfg->n_ftps_passive_for; i++) {
		if (berth_match_addr_list("0.0.0.0", cfg->ftps_passive_for[i].networks) ==
		    -EINVAL) {
			berth_errors_add(errors, origin_file(cfg, po), po->line,
			                 "FTPSPassiveAddressFor: malformed address pattern \"%s\"",
			                 cfg->ftps_passive_for[i].networks);
			bad = true;
		}
	}
	return bad ? BERTH_CONF_E_INVALID : 0;
}

const char *
ftps_passive_address(const struct berth_config *cfg, const char *peer)
{
	for (size_t i = 0; i < cfg->n_ftps_passive_for; i++)
		if (berth_match_addr_list(peer, cfg->ftps_passive_for[i].networks) == 1)
			return cfg->ftps_passive_for[i].address;
	return cfg->ftps_passive_address;
}

void
ftps_worker_args(const struct berth_config *cfg, const char *peer_addr, const char *local_addr,
                 bool allow_plain, char *out[FTPS_WORKER_NARGS])
{
	const char *announce = ftps_passive_address(cfg, peer_addr);
	char flags[64];
	snprintf(flags, sizeof(flags), "%s%s%s", allow_plain ? ",plain" : "",
	         cfg->ftps_allow_clear_data ? ",cleardata" : "", cfg->ftps_allow_ccc ? ",ccc" : "");
	out[0] = xstrdup(local_addr);
	out[1] = xstrdup(flags[0] ? flags + 1 : "-");
	out[2] = xasprintf("%u-%u", cfg->ftps_passive_min, cfg->ftps_passive_max);
	out[3] = xstrdup(announce ? announce : "-");
	out[4] = xasprintf("%u", cfg->ftps_data_timeout);
	out[5] = xasprintf("%u", cfg->idle_timeout);
	out[6] = xasprintf("%u", cfg->stall_timeout);
	out[7] = xasprintf("%u", cfg->ftps_max_line);
}

void
ftps_worker_args_free(char *out[FTPS_WORKER_NARGS])
{
	for (size_t i = 0; i < FTPS_WORKER_NARGS; i++) {
		free(out[i]);
		out[i] = NULL;
	}
}
