/* SPDX-License-Identifier: BSD-2-Clause */
/* `berthd -t` and `berthctl check`: one function, so both check exactly the same. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "berth/conf.h"
#include "berth/daemon.h"
#include "berth/ftpsd.h"
#include "berth/log.h"
#include "berth/sshd.h"
#include "berth/xmem.h"

/* TransferLog / TransferLogJSON: the directory exists, and the file, if there, is a
 * regular file (the monitor opens it O_NOFOLLOW, a symbolic link would fail). */
static bool
transfer_log_ok(const struct berth_config *cfg, const char *kw, const char *path,
                const struct berth_conf_origin *o, struct berth_errors *errors)
{
	const char *file = o->file ? o->file : (cfg->n_files ? cfg->files[0] : NULL);
	struct stat st;
	char *dir = xstrdup(path);
	char *slash = strrchr(dir, '/'); /* KW_PATH: absolute, so there is one */
	if (slash)
		*(slash == dir ? slash + 1 : slash) = '\0';
	bool ok = true;
	int err = !slash ? EINVAL : stat(dir, &st) < 0 ? errno : S_ISDIR(st.st_mode) ? 0 : ENOTDIR;
	if (err) {
		berth_errors_add(errors, file, o->line, "%s %s: directory %s: %s", kw, path, dir,
		                 strerror(err));
		ok = false;
	} else if (lstat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
		berth_errors_add(errors, file, o->line, "%s %s: not a regular file", kw, path);
		ok = false;
	}
	free(dir);
	return ok;
}

int
daemon_check_config(const struct berth_config *cfg, struct berth_errors *errors)
{
	/* The FTPS certificate and key, loaded as the master would (their problems named
	 * with the file), listeners and PASV networks; reported with everything else. */
	struct berth_errors warnings = BERTH_ERRORS_NULL;
	bool ftps_bad = ftps_config_check(cfg, errors, &warnings) != 0;
	for (size_t i = 0; i < warnings.n; i++)
		log_info("warning: %s", warnings.msgs[i]);
	berth_errors_free(&warnings);
	/* The transfer logs the monitors will append to. */
	bool logs_bad =
	        (cfg->transfer_log && !transfer_log_ok(cfg, "TransferLog", cfg->transfer_log,
	                                               &cfg->origin_transfer_log, errors)) |
	        (cfg->transfer_log_json &&
	         !transfer_log_ok(cfg, "TransferLogJSON", cfg->transfer_log_json,
	                          &cfg->origin_transfer_log_json, errors));
	/* Config semantics, the accounts file (parsed and checked), key files... */
	if (berth_config_check(cfg, errors) != 0 || ftps_bad || logs_bad)
		return BERTH_CONF_E_INVALID;
	/* ...then the host keys and algorithm lists, loaded for real as the master would. */
	ssh_bind b = NULL;
	int r = sshd_bind_new(cfg, &b);
	if (b)
		ssh_bind_free(b);
	return r < 0 ? BERTH_CONF_E_INVALID : 0;
}
