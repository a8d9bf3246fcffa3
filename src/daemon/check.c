/* SPDX-License-Identifier: BSD-2-Clause */
/* `berthd -t` and `berthctl check`: one function, so both check exactly the same. */
#include "berth/conf.h"
#include "berth/daemon.h"
#include "berth/ftpsd.h"
#include "berth/log.h"
#include "berth/sshd.h"

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
	/* Config semantics, the accounts file (parsed and checked), key files... */
	if (berth_config_check(cfg, errors) != 0 || ftps_bad)
		return BERTH_CONF_E_INVALID;
	/* ...then the host keys and algorithm lists, loaded for real as the master would. */
	ssh_bind b = NULL;
	int r = sshd_bind_new(cfg, &b);
	if (b)
		ssh_bind_free(b);
	return r < 0 ? BERTH_CONF_E_INVALID : 0;
}
