/* SPDX-License-Identifier: BSD-2-Clause */
/* SFTP v3 wire constants (draft-ietf-secsh-filexfer-02 + OpenSSH PROTOCOL), under our own
 * names: libssh's <libssh/sftp.h> defines SSH_FXP_* and must never be included here. */
#pragma once

#include <errno.h>
#include <stdint.h>

#define FXP_VERSION 3

/* 256 KiB, as OpenSSH's SFTP_MAX_MSG_LENGTH: the largest frame body we accept. */
#define FXP_MAX_MSG (256 * 1024)
/* READ lengths are clamped to this (OpenSSH: SFTP_MAX_MSG_LENGTH - 1024). */
#define FXP_MAX_READ  (FXP_MAX_MSG - 1024)
#define FXP_MAX_WRITE (FXP_MAX_MSG - 1024)
/* Entries per READDIR reply (OpenSSH). */
#define FXP_READDIR_MAX 100
/* Path strings longer than this are refused (Linux PATH_MAX is 4096; leave room for cwd). */
#define FXP_MAX_PATH 8192
/* Extended attribute pairs in one ATTRS we are willing to skip over. */
#define FXP_MAX_EXTATTRS 256
/* Handles on the wire: 4-byte slot + 4-byte generation. */
#define FXP_HANDLE_LEN 8

enum fxp_type {
	FXP_INIT = 1,
	FXP_VERSION_PKT = 2,
	FXP_OPEN = 3,
	FXP_CLOSE = 4,
	FXP_READ = 5,
	FXP_WRITE = 6,
	FXP_LSTAT = 7,
	FXP_FSTAT = 8,
	FXP_SETSTAT = 9,
	FXP_FSETSTAT = 10,
	FXP_OPENDIR = 11,
	FXP_READDIR = 12,
	FXP_REMOVE = 13,
	FXP_MKDIR = 14,
	FXP_RMDIR = 15,
	FXP_REALPATH = 16,
	FXP_STAT = 17,
	FXP_RENAME = 18,
	FXP_READLINK = 19,
	FXP_SYMLINK = 20,
	FXP_STATUS = 101,
	FXP_HANDLE = 102,
	FXP_DATA = 103,
	FXP_NAME = 104,
	FXP_ATTRS = 105,
	FXP_EXTENDED = 200,
	FXP_EXTENDED_REPLY = 201,
};

enum fxp_status {
	FX_OK = 0,
	FX_EOF = 1,
	FX_NO_SUCH_FILE = 2,
	FX_PERMISSION_DENIED = 3,
	FX_FAILURE = 4,
	FX_BAD_MESSAGE = 5,
	FX_NO_CONNECTION = 6,
	FX_CONNECTION_LOST = 7,
	FX_OP_UNSUPPORTED = 8,
};

enum {
	FXP_ATTR_SIZE = 0x00000001,
	FXP_ATTR_UIDGID = 0x00000002,
	FXP_ATTR_PERMISSIONS = 0x00000004,
	FXP_ATTR_ACMODTIME = 0x00000008,
	FXP_ATTR_EXTENDED = 0x80000000,
};

enum {
	FXF_READ = 0x01,
	FXF_WRITE = 0x02,
	FXF_APPEND = 0x04,
	FXF_CREAT = 0x08,
	FXF_TRUNC = 0x10,
	FXF_EXCL = 0x20,
};

/* statvfs@openssh.com flag bits */
#define FXE_STATVFS_ST_RDONLY 0x1
#define FXE_STATVFS_ST_NOSUID 0x2

/* Request identifiers used by -p/-P/-Q and the dispatch tables: the 18 core requests
 * then the 11 extensions, in OpenSSH's order. */
enum fxp_req {
	FXP_REQ_OPEN,
	FXP_REQ_CLOSE,
	FXP_REQ_READ,
	FXP_REQ_WRITE,
	FXP_REQ_LSTAT,
	FXP_REQ_FSTAT,
	FXP_REQ_SETSTAT,
	FXP_REQ_FSETSTAT,
	FXP_REQ_OPENDIR,
	FXP_REQ_READDIR,
	FXP_REQ_REMOVE,
	FXP_REQ_MKDIR,
	FXP_REQ_RMDIR,
	FXP_REQ_REALPATH,
	FXP_REQ_STAT,
	FXP_REQ_RENAME,
	FXP_REQ_READLINK,
	FXP_REQ_SYMLINK,
	FXP_REQ_POSIX_RENAME,
	FXP_REQ_STATVFS,
	FXP_REQ_FSTATVFS,
	FXP_REQ_HARDLINK,
	FXP_REQ_FSYNC,
	FXP_REQ_LSETSTAT,
	FXP_REQ_LIMITS,
	FXP_REQ_EXPAND_PATH,
	FXP_REQ_COPY_DATA,
	FXP_REQ_HOME_DIRECTORY,
	FXP_REQ_USERS_GROUPS_BY_ID,
	/* berth's own, offered when configured (not in -Q output) */
	FXP_REQ_CHECK_FILE_HANDLE,
	FXP_REQ_CHECK_FILE_NAME,
	FXP_REQ_COUNT,
};

/* The one errno -> SFTP status table (OpenSSH errno_to_portable). */
uint32_t fxp_status_from_errno(int err);
/* Default status text ("Success", "No such file", ...). */
const char *fxp_status_message(uint32_t status);
/* Status text for an errno: a few errnos have their own ("Quota exceeded"), the others
 * the text of their status. */
const char *fxp_errno_message(int err);
