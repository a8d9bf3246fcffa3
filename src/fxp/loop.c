/* SPDX-License-Identifier: BSD-2-Clause */
/* fd transport for the engine, shared by the drop-in (stdin/stdout) and the daemon's
 * worker (one socketpair fd for both directions).
 *
 * Rules:
 * - The output fd is made non-blocking for the whole run and written with what the
 *   kernel takes: a write never waits, so input keeps being read while replies are
 *   stuck (a client whose reader lags behind its sender must not deadlock us).
 * - O_NONBLOCK lives on the open file description, which fd 0 and 1 share when they are
 *   one socket or one tty; the flags found at start are put back at exit, so a parent
 *   shell's terminal is not left non-blocking.
 * - Input is read while the engine has input room; requests are processed only while
 *   the output queue can take a worst-case reply (backpressure, in the engine).
 * - When the input description is a separate, blocking one (the pipes sshd gives a
 *   subsystem), a read with no output queued blocks in read() itself (one syscall per
 *   request instead of poll + read); with output queued, input is read only through a
 *   per-call non-blocking read after poll said it is readable.
 * - With zero_copy and an output pipe or socket, READ data goes from the file to the fd
 *   through the kernel (vfs_splice_to()): the DATA header is written first, then the
 *   data spliced. If the file shrank meanwhile, zeros fill the promised length so the
 *   framing stays intact (the client sees zeros where the file lost data, and one line
 *   is logged); a file the kernel cannot splice is copied.
 * - A request that must wait for bandwidth (fxp_engine_wait_until()) makes poll time out
 *   at its retry time; input and output keep moving meanwhile. */
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "berth/common.h"
#include "fxp-internal.h"

struct loop {
	struct fxp_engine *e;
	int in_fd, out_fd;
	int in_flags, out_flags; /* as found at start (restored at exit), -1 unknown */
	bool in_blocking;        /* in_fd's description blocks: read() may wait */
	bool in_socket;          /* per-call non-blocking read is recv(MSG_DONTWAIT) */
	bool input_eof;
	bool out_full; /* the last write or splice was short: wait for POLLOUT first */
	bool shrank_logged;
	uint8_t bounce[16384]; /* a file segment the kernel cannot splice, copied */
};

/* Pipe size and socket send buffer asked for with zero-copy output. */
#define ZERO_COPY_BUFFER (1024 * 1024)

/* Sent in place of file data that vanished after its DATA header promised it. */
static const uint8_t zeros[16384];

/* Steps return 0 to go on, LOOP_END for a clean end (EOF, peer gone), or an exit status
 * (1 read/write error, 2 poll error, 11 oversize message, 255 protocol error). */
#define LOOP_END (-1)

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

static int
set_nonblocking(int fd, int flags)
{
	if (flags < 0 || (flags & O_NONBLOCK))
		return 0;
	return fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0 ? -errno : 0;
}

static void
loop_setup(struct loop *l, const struct fxp_loop_opts *opts)
{
	/* Read both before changing either: they may be one description. */
	l->in_flags = fcntl(l->in_fd, F_GETFL);
	l->out_flags = fcntl(l->out_fd, F_GETFL);
	int r = set_nonblocking(l->out_fd, l->out_flags);
	if (r < 0)
		fxp_log(l->e, LOG_LEVEL_ERROR, "cannot make output non-blocking: %s", strerror(-r));
	/* Seen through in_fd now: non-blocking if it shares out_fd's description (a
	 * socketpair or tty on both) or was so already. */
	int now = fcntl(l->in_fd, F_GETFL);
	l->in_blocking = now >= 0 && !(now & O_NONBLOCK);
	struct stat st;
	l->in_socket = fstat(l->in_fd, &st) == 0 && S_ISSOCK(st.st_mode);
	/* Zero-copy READ replies into a pipe (splice) or a socket (sendfile); a tty or a
	 * file keeps the copy path. */
	if (opts && opts->zero_copy && fstat(l->out_fd, &st) == 0 &&
	    (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode))) {
		fxp_engine_set_file_output(l->e, true);
		/* Room for several 255 KiB replies at once, so that a segment rarely
		 * needs a second call (best effort: the kernel caps both; the buffers
		 * hold references to page-cache pages, not copies). */
		if (S_ISFIFO(st.st_mode)) {
			(void)fcntl(l->out_fd, F_SETPIPE_SZ, ZERO_COPY_BUFFER);
		} else {
			int size = ZERO_COPY_BUFFER;
			(void)setsockopt(l->out_fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
		}
	}
}

static void
loop_restore(struct loop *l)
{
	/* Only O_NONBLOCK was touched; when in and out share a description both saved
	 * values are the same original. */
	if (l->out_flags >= 0 && !(l->out_flags & O_NONBLOCK))
		(void)fcntl(l->out_fd, F_SETFL, l->out_flags);
	if (l->in_flags >= 0 && !(l->in_flags & O_NONBLOCK) && !l->in_blocking)
		(void)fcntl(l->in_fd, F_SETFL, l->in_flags);
}

/* A read of a blocking description that must not wait: recv(MSG_DONTWAIT) for sockets,
 * preadv2(RWF_NOWAIT) for pipes and ttys. A kernel or file type without the latter
 * makes the description non-blocking for the rest of the run instead. */
static ssize_t
read_nowait(struct loop *l, void *p, size_t n)
{
	if (l->in_socket)
		return recv(l->in_fd, p, n, MSG_DONTWAIT);
	struct iovec iov = {.iov_base = p, .iov_len = n};
	ssize_t r = preadv2(l->in_fd, &iov, 1, -1, RWF_NOWAIT);
	if (r >= 0 || (errno != EOPNOTSUPP && errno != EINVAL && errno != ENOSYS))
		return r;
	if (set_nonblocking(l->in_fd, l->in_flags) == 0)
		l->in_blocking = false;
	errno = EAGAIN; /* poll again, then read plainly */
	return -1;
}

/* Read what fits into the engine. @may_block: nothing else could make progress. */
static int
read_input(struct loop *l, size_t room, bool may_block)
{
	uint8_t *p;
	if (fxp_engine_feed_reserve(l->e, room, &p) < 0)
		return 255;
	ssize_t n;
	if (may_block || !l->in_blocking)
		n = read(l->in_fd, p, room);
	else
		n = read_nowait(l, p, room);
	int err = errno;
	fxp_engine_feed_commit(l->e, room, n > 0 ? (size_t)n : 0);
	if (n == 0) {
		fxp_log(l->e, LOG_LEVEL_DEBUG1, "read eof");
		l->input_eof = true;
	} else if (n < 0 && err != EAGAIN && err != EINTR) {
		fxp_log(l->e, LOG_LEVEL_ERROR, "read: %s", strerror(err));
		return 1;
	}
	return 0;
}

/* A file segment the kernel could not move: the bytes to write instead, in *ret_p and
 * *ret_len (zeros for data the file lost since its header was sent). 0 or a step result. */
static int
segment_fallback(struct loop *l, const struct fxp_output *o, int r, const void **ret_p,
                 size_t *ret_len)
{
	size_t n = 0;
	if (r == -EINVAL || r == -EOPNOTSUPP || r == -ENOSYS) {
		/* This file or fd cannot be spliced: copy it, and copy later reads. */
		fxp_engine_set_file_output(l->e, false);
		r = vfs_pread(o->file, l->bounce, MIN(o->len, sizeof(l->bounce)), o->off, &n);
	}
	if (r < 0) {
		/* The header is out, the data cannot follow: end the session rather than
		 * send bytes that are not the file's. */
		fxp_log(l->e, LOG_LEVEL_ERROR, "read: %s", strerror(-r));
		return 1;
	}
	if (n > 0) {
		*ret_p = l->bounce;
		*ret_len = n;
		return 0;
	}
	if (!l->shrank_logged) {
		fxp_log(l->e, LOG_LEVEL_ERROR,
		        "file shrank after a read was answered: zeros sent for the missing data");
		l->shrank_logged = true;
	}
	*ret_p = zeros;
	*ret_len = MIN(o->len, sizeof(zeros));
	return 0;
}

/* Send the piece at the head of the output as far as the kernel takes it now; *ret_moved
 * tells how much. */
static int
write_output(struct loop *l, size_t *ret_moved)
{
	struct fxp_output o;
	fxp_engine_output_next(l->e, &o);
	*ret_moved = 0;
	if (o.len == 0 || l->out_full)
		return 0;
	const void *p = o.data;
	size_t len = o.len;
	if (!p) {
		size_t moved = 0;
		int r = vfs_splice_to(o.file, o.off, o.len, l->out_fd, &moved);
		if (r == 0 && moved > 0) {
			fxp_engine_output_consume(l->e, moved);
			*ret_moved = moved;
			l->out_full = moved < o.len;
			return 0;
		}
		if (r == -EAGAIN) {
			l->out_full = true;
			return 0;
		}
		if (r == -EPIPE)
			return LOOP_END;
		if ((r = segment_fallback(l, &o, r, &p, &len)) != 0)
			return r;
	}
	ssize_t n = write(l->out_fd, p, len);
	if (n < 0) {
		l->out_full = errno == EAGAIN;
		if (errno == EINTR || errno == EAGAIN)
			return 0;
		if (errno == EPIPE)
			return LOOP_END;
		fxp_log(l->e, LOG_LEVEL_ERROR, "write: %s", strerror(errno));
		return 1;
	}
	fxp_engine_output_consume(l->e, (size_t)n);
	*ret_moved = (size_t)n;
	/* A short write means the kernel took what fitted: wait for POLLOUT before the
	 * next attempt instead of a write that fails with EAGAIN. */
	l->out_full = (size_t)n < len;
	return 0;
}

/* Process what can be processed and hand the replies to the peer right away, for as
 * long as writing frees room for more. */
static int
pump(struct loop *l)
{
	for (;;) {
		int r = fxp_engine_process(l->e);
		if (r < 0)
			return exit_code_for(r);
		/* Hand over piece after piece (header, file segment, ...) while the peer
		 * takes them. */
		size_t moved, total = 0;
		do {
			if ((r = write_output(l, &moved)) != 0)
				return r;
			total += moved;
		} while (moved > 0 && fxp_engine_output_pending(l->e) > 0);
		/* Stop when nothing more can run, or the peer takes no bytes now. */
		if (total == 0 || !fxp_engine_has_pending(l->e))
			return 0;
	}
}

/* Milliseconds until the engine's waiting request may run (rounded up), or -1. */
static int
wait_timeout(const struct fxp_engine *e)
{
	uint64_t until = fxp_engine_wait_until(e);
	if (!until)
		return -1;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	uint64_t now = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	if (until <= now)
		return 0;
	uint64_t ms = (until - now + 999999) / 1000000;
	return ms > 60000 ? 60000 : (int)ms;
}

static int
loop_run(struct loop *l)
{
	for (;;) {
		int r = pump(l);
		if (r != 0)
			return r;
		size_t pending = fxp_engine_output_pending(l->e);
		/* At EOF, frames held back by backpressure still get answered; an
		 * incomplete trailing frame is dropped. */
		if (l->input_eof && pending == 0 && !fxp_engine_has_pending(l->e))
			return LOOP_END;
		size_t room = l->input_eof ? 0 : fxp_engine_input_room(l->e);
		/* A request waiting for bandwidth: wake up when it may run, serving input
		 * and output meanwhile. */
		int timeout = wait_timeout(l->e);
		if (!room && !pending && timeout < 0) {
			/* Cannot happen: no room means queued output. */
			fxp_log(l->e, LOG_LEVEL_ERROR, "internal error: engine stalled");
			return 255;
		}
		if (pending == 0 && l->in_blocking && timeout < 0) {
			/* Only input can make progress: wait in read() itself. */
			if ((r = read_input(l, room, true)) != 0)
				return r;
			continue;
		}
		struct pollfd pfd[2] = {
		        {.fd = room ? l->in_fd : -1, .events = POLLIN},
		        {.fd = pending ? l->out_fd : -1, .events = POLLOUT},
		};
		if (poll(pfd, 2, timeout) < 0) {
			if (errno == EINTR)
				continue;
			fxp_log(l->e, LOG_LEVEL_ERROR, "poll: %s", strerror(errno));
			return 2;
		}
		/* Errors and hang-ups are left to the read or write to report. */
		if (pfd[0].revents & (POLLIN | POLLHUP | POLLERR | POLLNVAL)) {
			if ((r = read_input(l, room, false)) != 0)
				return r;
		}
		if (pfd[1].revents & (POLLOUT | POLLHUP | POLLERR | POLLNVAL)) {
			l->out_full = false;
			size_t moved;
			if ((r = write_output(l, &moved)) != 0)
				return r;
		}
	}
}

int
fxp_loop_run(struct fxp_engine *e, int in_fd, int out_fd)
{
	return fxp_loop_run_opts(e, in_fd, out_fd, NULL);
}

int
fxp_loop_run_opts(struct fxp_engine *e, int in_fd, int out_fd, const struct fxp_loop_opts *opts)
{
	struct loop l = {.e = e, .in_fd = in_fd, .out_fd = out_fd};
	loop_setup(&l, opts);
	int r = loop_run(&l);
	loop_restore(&l);
	return r == LOOP_END ? 0 : r;
}
