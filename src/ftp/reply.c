/* SPDX-License-Identifier: BSD-2-Clause */
/* The one errno -> FTP reply table (RFC 959 4.2 codes).
 *
 * 5yz for permanent refusals of the named file (550), storage allocation (552, RFC 959
 * "exceeded storage allocation": quota, full disk, file too big) and names the server
 * will not create (553); 4yz for conditions that may pass (450 busy/try later, 451 local
 * error); 426 for a data connection that ended early. */
#include <errno.h>

#include "berth/common.h"
#include "berth/ftp_engine.h"

static const struct {
	int err;
	unsigned code;
	const char *text;
} errno_map[] = {
        {ENOENT, 550, "No such file or directory."},
        {ENOTDIR, 550, "Not a directory."},
        {EISDIR, 550, "Is a directory."},
        {ELOOP, 550, "Too many levels of symbolic links."},
        {EACCES, 550, "Permission denied."},
        {EPERM, 550, "Permission denied."},
        {EROFS, 550, "Permission denied."},
        {EEXIST, 550, "File exists."},
        {ENOTEMPTY, 550, "Directory not empty."},
        {EXDEV, 550, "Cannot move across file systems."},
        {EBADF, 550, "No such file or directory."},
        {EDQUOT, 552, "Quota exceeded."},
        {ENOSPC, 552, "No space left on device."},
        {EFBIG, 552, "File too large."},
        {ENAMETOOLONG, 553, "File name too long."},
        {EINVAL, 553, "File name not allowed."},
        {EILSEQ, 553, "File name not allowed."},
        {EBUSY, 450, "File busy."},
        {ETXTBSY, 450, "File busy."},
        {EAGAIN, 450, "Try again later."},
        {ENOSYS, 502, "Command not implemented."},
        {EOPNOTSUPP, 502, "Command not implemented."},
        {EBADMSG, 501, "Syntax error in parameters or arguments."},
        {ECONNABORTED, 426, "Connection closed; transfer aborted."},
        {ECANCELED, 426, "Connection closed; transfer aborted."},
        {ECONNRESET, 426, "Connection closed; transfer aborted."},
        {EPIPE, 426, "Connection closed; transfer aborted."},
        {ETIMEDOUT, 426, "Connection closed; transfer aborted."},
};

unsigned
ftp_reply_from_errno(int err, const char **ret_text)
{
	if (err < 0)
		err = -err;
	for (size_t i = 0; i < ARRAY_SIZE(errno_map); i++) {
		if (errno_map[i].err == err) {
			if (ret_text)
				*ret_text = errno_map[i].text;
			return errno_map[i].code;
		}
	}
	if (ret_text)
		*ret_text = "Requested action aborted: local error in processing.";
	return 451;
}
