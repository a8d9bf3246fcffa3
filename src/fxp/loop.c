/* SPDX-License-Identifier: BSD-2-Clause */
/* fd transport for the engine, shared by the drop-in (stdin/stdout) and the daemon's
 * worker (a socketpair). Input is read only while the engine has output room. */
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "berth/common.h"
#include "fxp-internal.h"

static int
exit_code_for(int r)
{
	switch (r) {
	case FXP_E_OVERSIZE:
		return 11;
	default:
		return 255;
	}
}

/* Write what the engine has queued. 0, 1 = peer gone (EPIPE), or -errno. */
static int
flush_output(struct fxp_engine *e, int out_fd)
{
	size_t len;
	const uint8_t *p = fxp_engine_output(e, &len);
	if (len == 0)
		return 0;
	ssize_t n = write(out_fd, p, len);
	if (n < 0) {
		if (errno == EINTR || errno == EAGAIN)
			return 0;
		return errno == EPIPE ? 1 : -errno;
	}
	fxp_engine_output_consume(e, (size_t)n);
	return 0;
}

int
fxp_loop_run(struct fxp_engine *e, int in_fd, int out_fd)
{
	bool input_eof = false;
	for (;;) {
		size_t room = input_eof ? 0 : fxp_engine_input_room(e);
		size_t pending;
		(void)fxp_engine_output(e, &pending);
		if (input_eof && pending == 0)
			return 0;
		struct pollfd pfd[2] = {
			{.fd = room ? in_fd : -1, .events = POLLIN},
			{.fd = pending ? out_fd : -1, .events = POLLOUT},
		};
		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			fxp_log(e, LOG_LEVEL_ERROR, "poll: %s", strerror(errno));
			return 2;
		}
		if (pfd[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			uint8_t *p;
			if (fxp_engine_feed_reserve(e, room, &p) < 0)
				return 255;
			ssize_t n = read(in_fd, p, room);
			fxp_engine_feed_commit(e, room, n > 0 ? (size_t)n : 0);
			if (n == 0) {
				fxp_log(e, LOG_LEVEL_DEBUG1, "read eof");
				input_eof = true;
			} else if (n < 0 && errno != EINTR && errno != EAGAIN) {
				fxp_log(e, LOG_LEVEL_ERROR, "read: %s", strerror(errno));
				return 1;
			}
		}
		if (pfd[1].revents & (POLLOUT | POLLHUP | POLLERR)) {
			int r = flush_output(e, out_fd);
			if (r > 0)
				return 0;
			if (r < 0) {
				fxp_log(e, LOG_LEVEL_ERROR, "write: %s", strerror(-r));
				return 1;
			}
		}
		int r = fxp_engine_process(e);
		if (r < 0)
			return exit_code_for(r);
		/* Answer at once instead of waiting for the next poll round: the peer is
		 * usually waiting for exactly these replies. */
		if (!(pfd[1].revents & POLLOUT)) {
			r = flush_output(e, out_fd);
			if (r > 0)
				return 0;
			if (r < 0) {
				fxp_log(e, LOG_LEVEL_ERROR, "write: %s", strerror(-r));
				return 1;
			}
		}
		/* At EOF, frames still queued behind backpressure are processed once the
		 * output drains; an incomplete trailing frame is dropped. */
		if (input_eof && !fxp_engine_has_pending(e)) {
			(void)fxp_engine_output(e, &pending);
			while (pending > 0) {
				r = flush_output(e, out_fd);
				if (r != 0)
					return r > 0 ? 0 : 1;
				(void)fxp_engine_output(e, &pending);
			}
			return 0;
		}
	}
}
