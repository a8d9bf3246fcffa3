/* SPDX-License-Identifier: BSD-2-Clause */
/* `berthd -t` and `berthctl check`: one function, so both check exactly the same. */
#include "berth/conf.h"
#include "berth/daemon.h"
#include "berth/sshd.h"

int
daemon_check_config(const struct berth_config *cfg, struct berth_errors *errors)
{
	/* Config semantics, the accounts file (parsed and checked), key files... */
	if (berth_config_check(cfg, errors) != 0)
		return BERTH_CONF_E_INVALID;
	/* ...then the host keys and algorithm lists, loaded for real as the master would. */
	ssh_bind b = NULL;
	int r = sshd_bind_new(cfg, &b);
	if (b)
		ssh_bind_free(b);
	return r < 0 ? BERTH_CONF_E_INVALID : 0;
}
