/* SPDX-License-Identifier: BSD-2-Clause */
/* ls -l mode strings, shared by the SFTP longnames and the FTP LIST lines. */
#include <sys/stat.h>

#include "berth/lsmode.h"

/* OpenBSD strmode(): 10 mode characters plus a trailing space. */
void
ls_mode_string(uint32_t m, char out[12])
{
	switch (m & S_IFMT) {
	case S_IFDIR:
		out[0] = 'd';
		break;
	case S_IFCHR:
		out[0] = 'c';
		break;
	case S_IFBLK:
		out[0] = 'b';
		break;
	case S_IFREG:
		out[0] = '-';
		break;
	case S_IFLNK:
		out[0] = 'l';
		break;
	case S_IFSOCK:
		out[0] = 's';
		break;
	case S_IFIFO:
		out[0] = 'p';
		break;
	default:
		out[0] = '?';
		break;
	}
	out[1] = (m & S_IRUSR) ? 'r' : '-';
	out[2] = (m & S_IWUSR) ? 'w' : '-';
	switch (m & (S_IXUSR | S_ISUID)) {
	case 0:
		out[3] = '-';
		break;
	case S_IXUSR:
		out[3] = 'x';
		break;
	case S_ISUID:
		out[3] = 'S';
		break;
	default:
		out[3] = 's';
		break;
	}
	out[4] = (m & S_IRGRP) ? 'r' : '-';
	out[5] = (m & S_IWGRP) ? 'w' : '-';
	switch (m & (S_IXGRP | S_ISGID)) {
	case 0:
		out[6] = '-';
		break;
	case S_IXGRP:
		out[6] = 'x';
		break;
	case S_ISGID:
		out[6] = 'S';
		break;
	default:
		out[6] = 's';
		break;
	}
	out[7] = (m & S_IROTH) ? 'r' : '-';
	out[8] = (m & S_IWOTH) ? 'w' : '-';
	switch (m & (S_IXOTH | S_ISVTX)) {
	case 0:
		out[9] = '-';
		break;
	case S_IXOTH:
		out[9] = 'x';
		break;
	case S_ISVTX:
		out[9] = 'T';
		break;
	default:
		out[9] = 't';
		break;
	}
	out[10] = ' ';
	out[11] = '\0';
}
