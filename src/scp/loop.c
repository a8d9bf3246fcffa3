/* SPDX-License-Identifier: BSD-2-Clause */
/* fd transport for the scp engine (the worker's socket to the network child). Both
 * descriptors are made non-blocking and a write is only ever as large as poll says
 * fits, so the loop never sits in write() while the peer waits for it to read. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include "berth/common.h"
#include "berth/scp_engine.h"

static void
set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	if (fl >= 0)
		(void)fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/* Write what fits now. The number of bytes written, or -1 when the peer is gone. */
static ssize_t
flush_output(struct scp_engine *e, int out_fd)
{
	ssize_t total = 0;
	for (;;) {
		size_t len;
		const uint8_t *p = scp_engine_output(e, &len);
		if (len == 0)
			return total;
		ssize_t n = write(out_fd, p, len);
		if (n > 0) {
			scp_engine_output_consume(e, (size_t)n);
			total += n;
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return total;
		return -1;
	}
}

int
scp_loop_run(struct scp_engine *e, int in_fd, int out_fd)
{
	uint8_t buf[64 * 1024];
	bool in_eof = false;
	set_nonblock(in_fd);
	set_nonblock(out_fd);
	for (;;) {
		if (scp_engine_process(e) < 0)
			return 1;
		ssize_t written = flush_output(e, out_fd);
		if (written < 0)
			return 1; /* nobody to answer: the session is cut short */
		int status;
		if (scp_engine_done(e, &status))
			return status;
		if (written > 0)
			continue; /* room again: let the engine produce before sleeping */
		size_t pending, room = in_eof ? 0 : scp_engine_input_room(e);
		(void)scp_engine_output(e, &pending);
		struct pollfd p[2] = {
		        {.fd = room ? in_fd : -1, .events = POLLIN},
		        {.fd = pending ? out_fd : -1, .events = POLLOUT},
		};
		if (!room && !pending)
			return 1; /* cannot happen: at EOF the engine always finishes */
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return 1;
		}
		if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			ssize_t n = read(in_fd, buf, MIN(room, sizeof(buf)));
			if (n > 0) {
				if (scp_engine_feed(e, buf, (size_t)n) < 0)
					return 1;
			} else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
				scp_engine_feed_eof(e);
				in_eof = true;
			}
		}
	}
}
