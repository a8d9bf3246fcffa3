/* SPDX-License-Identifier: BSD-2-Clause */
/* The one errno -> SFTP status table (OpenSSH's errno_to_portable()). */
#include <errno.h>

#include "berth/common.h"
#include "berth/fxp.h"

static const struct {
	int err;
	uint32_t status;
} errno_map[] = {
        {0, FX_OK},
        {ENOENT, FX_NO_SUCH_FILE},
        {ENOTDIR, FX_NO_SUCH_FILE},
        {EBADF, FX_NO_SUCH_FILE},
        {ELOOP, FX_NO_SUCH_FILE},
        {EPERM, FX_PERMISSION_DENIED},
        {EACCES, FX_PERMISSION_DENIED},
        {EFAULT, FX_PERMISSION_DENIED},
        {ENAMETOOLONG, FX_BAD_MESSAGE},
        {EINVAL, FX_BAD_MESSAGE},
        /* berth: a request that does not parse (OpenSSH would exit instead) */
        {EBADMSG, FX_BAD_MESSAGE},
        {ENOSYS, FX_OP_UNSUPPORTED},
        /* berth: QuotaSize, QuotaFiles, MaxFileSize (vfs_policy); text below */
        {EDQUOT, FX_FAILURE},
};

/* errnos whose STATUS carries a more telling text than their status's default. */
static const struct {
	int err;
	const char *message;
} errno_messages[] = {
        {EDQUOT, "Quota exceeded"},
};

uint32_t
fxp_status_from_errno(int err)
{
	if (err < 0)
		err = -err;
	for (size_t i = 0; i < ARRAY_SIZE(errno_map); i++)
		if (errno_map[i].err == err)
			return errno_map[i].status;
	return FX_FAILURE;
}

const char *
fxp_status_message(uint32_t status)
{
	static const char *const messages[] = {
	        "Success",               /* FX_OK */
	        "End of file",           /* FX_EOF */
	        "No such file",          /* FX_NO_SUCH_FILE */
	        "Permission denied",     /* FX_PERMISSION_DENIED */
	        "Failure",               /* FX_FAILURE */
	        "Bad message",           /* FX_BAD_MESSAGE */
	        "No connection",         /* FX_NO_CONNECTION */
	        "Connection lost",       /* FX_CONNECTION_LOST */
	        "Operation unsupported", /* FX_OP_UNSUPPORTED */
	};
	return status < ARRAY_SIZE(messages) ? messages[status] : "Unknown error";
}

const char *
fxp_errno_message(int err)
{
	if (err < 0)
		err = -err;
	for (size_t i = 0; i < ARRAY_SIZE(errno_messages); i++)
		if (errno_messages[i].err == err)
			return errno_messages[i].message;
	return fxp_status_message(fxp_status_from_errno(err));
}
