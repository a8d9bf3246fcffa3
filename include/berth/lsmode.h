/* SPDX-License-Identifier: BSD-2-Clause */
/* ls -l mode strings (OpenBSD strmode()), shared by the protocol engines' listings. */
#pragma once

#include <stdint.h>

/* The 10 mode characters of `ls -l` for @mode (type and permission bits, setuid/setgid/
 * sticky included), a trailing space and a NUL. */
void ls_mode_string(uint32_t mode, char out[12]);
