/* SPDX-License-Identifier: BSD-2-Clause */
/* berth_config_check(): semantic checks for `berthd -t` (files, accounts, method chains). */
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "berth/account.h"
#include "berth/common.h"
#include "berth/conf.h"
#include "berth/fxp_engine.h"
#include "berth/xmem.h"

static const char *
ofile(const struct berth_config *cfg, const struct berth_conf_origin *o)
{
	if (o->file)
		return o->file;
	return cfg->n_files ? cfg->files[0] : "(defaults)";
}

int
berth_config_check(const struct berth_config *cfg, struct berth_errors *errors)
{
	bool bad = false;
	uint32_t enabled = berth_config_enabled_methods(cfg);

	/* Listen addresses were parsed at load; catch duplicates here. */
	for (size_t i = 0; i < cfg->n_listen; i++) {
		for (size_t j = 0; j < i; j++) {
			uint16_t pi = cfg->listen[i].port ? cfg->listen[i].port : cfg->port;
			uint16_t pj = cfg->listen[j].port ? cfg->listen[j].port : cfg->port;
			if (pi == pj && strcmp(cfg->listen[i].host, cfg->listen[j].host) == 0) {
				berth_errors_add(errors, ofile(cfg, &cfg->origin_listen),
				                 cfg->origin_listen.line,
				                 "ListenAddress %s port %u given twice",
				                 cfg->listen[i].host, pi);
				bad = true;
			}
		}
	}
	for (size_t i = 0; i < cfg->n_host_keys; i++) {
		const char *k = cfg->host_keys[i];
		struct stat st;

		if (stat(k, &st) < 0) {
			berth_errors_add(errors, ofile(cfg, &cfg->origin_host_keys),
			                 cfg->origin_host_keys.line, "HostKey %s: %s", k,
			                 strerror(errno));
			bad = true;
		} else if (!S_ISREG(st.st_mode)) {
			berth_errors_add(errors, ofile(cfg, &cfg->origin_host_keys),
			                 cfg->origin_host_keys.line,
			                 "HostKey %s: not a regular file", k);
			bad = true;
		} else if (access(k, R_OK) < 0) {
			berth_errors_add(errors, ofile(cfg, &cfg->origin_host_keys),
			                 cfg->origin_host_keys.line, "HostKey %s: not readable: %s",
			                 k, strerror(errno));
			bad = true;
		} else if (st.st_mode & 077) {
			berth_errors_add(errors, ofile(cfg, &cfg->origin_host_keys),
			                 cfg->origin_host_keys.line,
			                 "HostKey %s: permissions %04o are too open (must not be "
			                 "accessible by group or others)",
			                 k, (unsigned)(st.st_mode & 07777));
			bad = true;
		}
	}
	if (enabled == 0) {
		berth_errors_add(errors, cfg->n_files ? cfg->files[0] : NULL, 0,
		                 "every authentication method is disabled");
		bad = true;
	}
	for (size_t c = 0; c < cfg->auth_methods.n_chains; c++) {
		for (size_t m = 0; m < cfg->auth_methods.chains[c].n; m++) {
			uint8_t meth = cfg->auth_methods.chains[c].methods[m];
			if (!(meth & enabled)) {
				berth_errors_add(errors, ofile(cfg, &cfg->origin_auth_methods),
				                 cfg->origin_auth_methods.line,
				                 "AuthenticationMethods: method \"%s\" is disabled",
				                 berth_auth_method_name(meth));
				bad = true;
			}
		}
	}
	if (cfg->allow_requests || cfg->deny_requests) {
		const char *lists[2] = {cfg->allow_requests, cfg->deny_requests};
		const char *names[2] = {"AllowRequests", "DenyRequests"};
		for (size_t i = 0; i < 2; i++) {
			uint64_t mask;
			const char *badname = NULL;
			if (lists[i] &&
			    fxp_request_mask_from_names(lists[i], &mask, &badname) < 0) {
				berth_errors_add(errors, cfg->n_files ? cfg->files[0] : NULL, 0,
				                 "%s: unknown request name \"%s\"", names[i],
				                 badname ? badname : lists[i]);
				bad = true;
			}
		}
	}
	if (cfg->accounts_file) {
		struct berth_accounts *db = NULL;
		int r = berth_accounts_load(cfg->accounts_file, &db, errors);

		if (r != 0) {
			if (r < 0)
				berth_errors_add(errors, ofile(cfg, &cfg->origin_accounts_file),
				                 cfg->origin_accounts_file.line,
				                 "AccountsFile %s could not be loaded",
				                 cfg->accounts_file);
			bad = true;
		} else {
			if (berth_accounts_check(db, errors) != 0)
				bad = true;
			if (berth_accounts_count(db) == 0 && !cfg->system_accounts) {
				berth_errors_add(errors, cfg->accounts_file, 0,
				                 "no accounts defined and SystemAccounts is no: "
				                 "nobody can log in");
				bad = true;
			}
		}
		berth_accounts_free(db);
	} else if (!cfg->system_accounts) {
		berth_errors_add(errors, ofile(cfg, &cfg->origin_accounts_file),
		                 cfg->origin_accounts_file.line,
		                 "AccountsFile none and SystemAccounts no: nobody can log in");
		bad = true;
	}
	if (cfg->system_accounts && cfg->use_pam) {
		_cleanup_free_ char *p = xasprintf("/etc/pam.d/%s", cfg->pam_service_name);
		_cleanup_free_ char *vendor = xasprintf("/usr/lib/pam.d/%s", cfg->pam_service_name);
		if (access(p, R_OK) < 0 && access(vendor, R_OK) < 0) {
			berth_errors_add(
			        errors, cfg->n_files ? cfg->files[0] : NULL, 0,
			        "PAMServiceName %s: %s not found (install conf/pam.d-berthd there)",
			        cfg->pam_service_name, p);
			bad = true;
		}
	}
	return bad ? BERTH_CONF_E_INVALID : 0;
}
