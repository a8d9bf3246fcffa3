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

/* Process what can be processed and hand the replies to the peer right away, for as
 * long as writing frees room for more. 0, 1 = peer gone, or an exit status. */
static int
work(struct fxp_engine *e, int out_fd)
{
	for (;;) {
		int r = fxp_engine_process(e);
		if (r < 0)
			return exit_code_for(r);
		size_t before, after;
		(void)fxp_engine_output(e, &before);
		if (before == 0)
			return 0;
		r = flush_output(e, out_fd);
		if (r > 0)
			return -1; /* peer gone: a clean end */
		if (r < 0) {
			fxp_log(e, LOG_LEVEL_ERROR, "write: %s", strerror(-r));
			return 1;
		}
		(void)fxp_engine_output(e, &after);
		/* Stop when nothing more can run, or the peer is not taking bytes now. */
		if (!fxp_engine_has_pending(e) || after == before)
			return 0;
	}
}

int
fxp_loop_run(struct fxp_engine *e, int in_fd, int out_fd)
{
	bool input_eof = false;
	for (;;) {
		int r = work(e, out_fd);
		if (r != 0)
			return r < 0 ? 0 : r;
		size_t pending;
		(void)fxp_engine_output(e, &pending);
		/* At EOF, frames held back by backpressure still get answered; an
		 * incomplete trailing frame is dropped. */
		if (input_eof && pending == 0 && !fxp_engine_has_pending(e))
			return 0;
		size_t room = input_eof ? 0 : fxp_engine_input_room(e);
		struct pollfd pfd[2] = {
		        {.fd = room ? in_fd : -1, .events = POLLIN},
		        {.fd = pending ? out_fd : -1, .events = POLLOUT},
		};
		if (!room && !pending) {
			/* Cannot happen: no room means queued output. */
			fxp_log(e, LOG_LEVEL_ERROR, "internal error: engine stalled");
			return 255;
		}
		if (pending == 0) {
			/* Only input can make progress: block in read() itself and save a
			 * poll() per request round trip (non-blocking fds fall back). */
			pfd[0].revents = POLLIN;
		} else if (poll(pfd, 2, -1) < 0) {
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
			} else if (n < 0 && errno == EAGAIN) {
				struct pollfd in = {.fd = in_fd, .events = POLLIN};
				(void)poll(&in, 1, -1);
			} else if (n < 0 && errno != EINTR) {
				fxp_log(e, LOG_LEVEL_ERROR, "read: %s", strerror(errno));
				return 1;
			}
		}
		if (pfd[1].revents & (POLLOUT | POLLHUP | POLLERR)) {
			r = flush_output(e, out_fd);
			if (r > 0)
				return 0;
			if (r < 0) {
				fxp_log(e, LOG_LEVEL_ERROR, "write: %s", strerror(-r));
				return 1;
			}
		}
	}
}
