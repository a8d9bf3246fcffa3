/* SPDX-License-Identifier: BSD-2-Clause */
/* sd_notify(3) without libsystemd: one SOCK_DGRAM datagram to $NOTIFY_SOCKET. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "berth/common.h"
#include "berth/notify.h"
#include "berth/xmem.h"

static struct sockaddr_un notify_addr;
static socklen_t notify_len; /* 0: notifications off */

int
berth_notify_init(void)
{
	const char *e = getenv("NOTIFY_SOCKET");
	notify_len = 0;
	if (!e || !*e)
		return 0;
	size_t n = strlen(e);
	int r = 0;
	memset(&notify_addr, 0, sizeof(notify_addr));
	notify_addr.sun_family = AF_UNIX;
	if ((e[0] != '/' && e[0] != '@') || n >= sizeof(notify_addr.sun_path)) {
		r = -EINVAL;
	} else {
		memcpy(notify_addr.sun_path, e, n);
		/* Abstract: a leading NUL and no terminator counted in the length. */
		if (e[0] == '@')
			notify_addr.sun_path[0] = '\0';
		notify_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n +
		                         (e[0] == '/' ? 1 : 0));
	}
	unsetenv("NOTIFY_SOCKET");
	return r;
}

int
berth_notify(const char *state)
{
	if (!notify_len)
		return 0;
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	int r = 0;
	if (sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&notify_addr,
	           notify_len) < 0)
		r = -errno;
	close(fd);
	return r;
}

int
berth_notifyf(const char *fmt, ...)
{
	if (!notify_len)
		return 0;
	va_list ap;
	va_start(ap, fmt);
	_cleanup_free_ char *s = NULL;
	int n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -ENOMEM;
	return berth_notify(s);
}

uint64_t
berth_notify_monotonic_usec(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}
