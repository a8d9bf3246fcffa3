/* SPDX-License-Identifier: BSD-2-Clause */
/* The fd loop over a socketpair and over pipes: pipelined READs that fill the output
 * queue must all be answered (regression: held-back frames once waited for input that
 * never came), and a peer that sends a burst before it reads anything must not deadlock
 * the loop (regression: a blocking write of the whole output queue while the peer was
 * blocked sending, issue 9 item 1). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "berth/common.h"
#include "berth/xmem.h"
#include "fxp-internal.h"

/* BERTH_TIMEOUT_SCALE (default 1; 3 for sanitizer builds) stretches every wait. */
static int
timeout_ms(int base)
{
	const char *s = getenv("BERTH_TIMEOUT_SCALE");
	double scale = s ? strtod(s, NULL) : 1.0;
	if (!(scale >= 1.0) || scale > 100.0)
		scale = 1.0;
	return (int)(base * scale);
}

static void
write_all(int fd, const void *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		assert_true(w > 0);
		p = (const uint8_t *)p + w;
		n -= (size_t)w;
	}
}

/* Write all of n bytes to a non-blocking fd, reading nothing meanwhile; fail the test
 * after 10 s without progress (the peer stopped reading: a deadlock, not a hang). */
static void
write_all_or_fail(int fd, const void *p, size_t n)
{
	while (n > 0) {
		struct pollfd pfd = {.fd = fd, .events = POLLOUT};
		int r = poll(&pfd, 1, timeout_ms(10000));
		if (r == 0)
			fail_msg("peer stopped reading with %zu bytes of the burst unsent", n);
		assert_int_equal(r, 1);
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EAGAIN)
			continue;
		assert_true(w > 0);
		p = (const uint8_t *)p + w;
		n -= (size_t)w;
	}
}

/* Read exactly n bytes or fail the test after 10 s of silence (instead of hanging). */
static void
read_exact(int fd, void *p, size_t n)
{
	while (n > 0) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		assert_int_equal(poll(&pfd, 1, timeout_ms(10000)), 1);
		ssize_t r = read(fd, p, n);
		if (r < 0 && errno == EAGAIN)
			continue;
		assert_true(r > 0);
		p = (uint8_t *)p + r;
		n -= (size_t)r;
	}
}

static void
send_frame(int fd, struct xbuf *body)
{
	uint8_t len[4] = {(uint8_t)(xbuf_len(body) >> 24), (uint8_t)(xbuf_len(body) >> 16),
	                  (uint8_t)(xbuf_len(body) >> 8), (uint8_t)xbuf_len(body)};
	write_all(fd, len, 4);
	write_all(fd, xbuf_ptr(body), xbuf_len(body));
	xbuf_reset(body);
}

static uint8_t *
recv_frame(int fd, uint32_t *ret_len)
{
	uint8_t len[4];
	read_exact(fd, len, 4);
	uint32_t n = (uint32_t)len[0] << 24 | len[1] << 16 | len[2] << 8 | len[3];
	uint8_t *p = xmalloc(n);
	read_exact(fd, p, n);
	*ret_len = n;
	return p;
}

/* The server under test runs in a child; a failed assertion in the parent must not
 * leave it behind. */
static pid_t server_pid = -1;

static int
kill_server(void **state)
{
	(void)state;
	if (server_pid > 0) {
		kill(server_pid, SIGKILL);
		(void)waitpid(server_pid, NULL, 0);
		server_pid = -1;
	}
	return 0;
}

/* A jail with one file "big" of @blocks 4 KiB blocks; block i is filled with i & 0xff. */
static char *
make_jail(int blocks)
{
	char *dir = xstrdup("/tmp/berth-loop-XXXXXX");
	assert_non_null(mkdtemp(dir));
	_cleanup_free_ char *path = xasprintf("%s/big", dir);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	for (int i = 0; i < blocks; i++) {
		uint8_t block[4096];
		memset(block, i, sizeof(block));
		assert_int_equal(fwrite(block, 1, sizeof(block), f), sizeof(block));
	}
	assert_int_equal(fclose(f), 0);
	return dir;
}

static void
remove_jail(char *dir)
{
	_cleanup_free_ char *path = xasprintf("%s/big", dir);
	unlink(path);
	rmdir(dir);
	free(dir);
}

/* Fork the loop on (in_fd, out_fd); the child closes @peer_a and @peer_b (the test's
 * ends). Exit status 90: the loop changed an fd's O_NONBLOCK for good. */
static void
spawn_server_opts(const char *dir, int in_fd, int out_fd, int peer_a, int peer_b,
                  const struct fxp_loop_opts *opts)
{
	server_pid = fork();
	assert_true(server_pid >= 0);
	if (server_pid > 0)
		return;
	close(peer_a);
	if (peer_b >= 0)
		close(peer_b);
	struct vfs *v;
	if (vfs_posix_new(dir, "/", 0, &v) < 0)
		_exit(100);
	struct fxp_engine_config cfg = {.vfs = v, .user = "t", .home = "/"};
	struct fxp_engine *e;
	if (fxp_engine_new(&cfg, &e) < 0)
		_exit(101);
	int in_before = fcntl(in_fd, F_GETFL), out_before = fcntl(out_fd, F_GETFL);
	int rc = fxp_loop_run_opts(e, in_fd, out_fd, opts);
	fxp_engine_free(e);
	vfs_free(v);
	if (fcntl(in_fd, F_GETFL) != in_before || fcntl(out_fd, F_GETFL) != out_before)
		_exit(90);
	_exit(rc);
}

static const struct fxp_loop_opts zero_copy = {.zero_copy = true};

static void
spawn_server(const char *dir, int in_fd, int out_fd, int peer_a, int peer_b)
{
	spawn_server_opts(dir, in_fd, out_fd, peer_a, peer_b, NULL);
}

static void
open_big(int wfd, int rfd, uint8_t handle[8])
{
	_cleanup_xbuf_ struct xbuf b = XBUF_NULL;
	xbuf_init(&b, 1 << 20);
	xbuf_put_u8(&b, FXP_INIT);
	xbuf_put_u32(&b, 3);
	send_frame(wfd, &b);
	uint32_t n;
	free(recv_frame(rfd, &n));
	xbuf_put_u8(&b, FXP_OPEN);
	xbuf_put_u32(&b, 1);
	xbuf_put_cstring(&b, "big");
	xbuf_put_u32(&b, FXF_READ);
	xbuf_put_u32(&b, 0);
	send_frame(wfd, &b);
	_cleanup_free_ uint8_t *h = recv_frame(rfd, &n);
	assert_int_equal(h[0], FXP_HANDLE);
	assert_int_equal(n, 1 + 4 + 4 + 8);
	memcpy(handle, h + 9, 8);
}

#define BURST_REQS   96
#define BURST_PAD    8192 /* each READ frame padded: the burst is 768 KiB */
#define BURST_READ   65536
#define BURST_ROUNDS 10

/* Each round: send 96 pipelined 64 KiB READs (768 KiB of frames, more than any socket or
 * pipe buffer holds) without reading a byte, then read the 6 MiB of replies in small
 * pieces. A loop that stops reading while its output is stuck deadlocks in round 1. */
static void
run_bursts(int wfd, int rfd, const uint8_t handle[8])
{
	_cleanup_xbuf_ struct xbuf burst = XBUF_NULL;
	xbuf_init(&burst, BURST_REQS * BURST_PAD);
	static const uint8_t zeros[BURST_PAD];
	uint32_t id = 1000;
	for (unsigned round = 0; round < BURST_ROUNDS; round++) {
		xbuf_reset(&burst);
		for (uint32_t i = 0; i < BURST_REQS; i++) {
			uint64_t off = (uint64_t)((round * BURST_REQS + i) % 16) * BURST_READ;
			assert_int_equal(xbuf_put_u32(&burst, BURST_PAD - 4), 0);
			xbuf_put_u8(&burst, FXP_READ);
			xbuf_put_u32(&burst, id + i);
			xbuf_put_string(&burst, handle, 8);
			xbuf_put_u64(&burst, off);
			xbuf_put_u32(&burst, BURST_READ);
			/* trailing bytes inside a frame are ignored by the engine */
			assert_int_equal(xbuf_put(&burst, zeros, BURST_PAD - 33), 0);
		}
		assert_int_equal(xbuf_len(&burst), BURST_REQS * BURST_PAD);
		write_all_or_fail(wfd, xbuf_ptr(&burst), xbuf_len(&burst));
		for (uint32_t i = 0; i < BURST_REQS; i++) {
			uint8_t hdr[13];
			read_exact(rfd, hdr, sizeof(hdr));
			uint32_t len = (uint32_t)hdr[0] << 24 | hdr[1] << 16 | hdr[2] << 8 | hdr[3];
			uint32_t rid = (uint32_t)hdr[5] << 24 | hdr[6] << 16 | hdr[7] << 8 | hdr[8];
			uint32_t dlen =
			        (uint32_t)hdr[9] << 24 | hdr[10] << 16 | hdr[11] << 8 | hdr[12];
			assert_int_equal(hdr[4], FXP_DATA);
			assert_int_equal(rid, id + i);
			assert_int_equal(dlen, BURST_READ);
			assert_int_equal(len, 9 + BURST_READ);
			uint64_t off = (uint64_t)((round * BURST_REQS + i) % 16) * BURST_READ;
			for (uint32_t got = 0; got < BURST_READ; got += 4096) {
				uint8_t piece[4096];
				read_exact(rfd, piece, sizeof(piece));
				assert_int_equal(piece[0], (uint8_t)((off + got) / 4096));
				assert_int_equal(piece[4095], (uint8_t)((off + got) / 4096));
			}
		}
		id += BURST_REQS;
	}
}

static void
finish_server(int wfd, int rfd)
{
	if (wfd == rfd)
		assert_int_equal(shutdown(wfd, SHUT_WR), 0);
	else
		close(wfd);
	uint8_t c;
	struct pollfd pfd = {.fd = rfd, .events = POLLIN};
	assert_int_equal(poll(&pfd, 1, timeout_ms(10000)), 1);
	assert_int_equal(read(rfd, &c, 1), 0); /* EOF, no stray bytes */
	int status;
	assert_int_equal(waitpid(server_pid, &status, 0), server_pid);
	server_pid = -1;
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	close(rfd);
}

/* 64 outstanding full-size reads, as OpenSSH's client issues them, all answered. */
static void
test_pipelined_reads_complete(void **state)
{
	(void)state;
	char *dir = make_jail(4080); /* 64 * FXP_MAX_READ bytes */
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	spawn_server(dir, sv[1], sv[1], sv[0], -1);
	close(sv[1]);
	int fd = sv[0];
	uint8_t h[8];
	open_big(fd, fd, h);
	_cleanup_xbuf_ struct xbuf b = XBUF_NULL;
	xbuf_init(&b, 1 << 20);
	for (uint32_t i = 0; i < 64; i++) {
		xbuf_put_u8(&b, FXP_READ);
		xbuf_put_u32(&b, 100 + i);
		xbuf_put_string(&b, h, 8);
		xbuf_put_u64(&b, (uint64_t)i * FXP_MAX_READ);
		xbuf_put_u32(&b, FXP_MAX_READ);
		send_frame(fd, &b);
	}
	for (uint32_t i = 0; i < 64; i++) {
		uint32_t n;
		uint8_t *r = recv_frame(fd, &n);
		assert_int_equal(r[0], FXP_DATA);
		uint32_t id = (uint32_t)r[1] << 24 | r[2] << 16 | r[3] << 8 | r[4];
		assert_int_equal(id, 100 + i);
		assert_int_equal(n, 1 + 4 + 4 + FXP_MAX_READ);
		free(r);
	}
	finish_server(fd, fd);
	remove_jail(dir);
}

/* The burst pattern over one socket for both directions (the daemon's worker; a
 * supervisor that connects a subsystem with a socketpair). */
static void
bursts_over_socketpair(const struct fxp_loop_opts *opts)
{
	char *dir = make_jail(256);
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	spawn_server_opts(dir, sv[1], sv[1], sv[0], -1, opts);
	close(sv[1]);
	assert_int_equal(fcntl(sv[0], F_SETFL, O_NONBLOCK), 0);
	uint8_t h[8];
	open_big(sv[0], sv[0], h);
	run_bursts(sv[0], sv[0], h);
	finish_server(sv[0], sv[0]);
	remove_jail(dir);
}

/* ... and over two pipes, as sshd connects a subsystem: the loop's input stays a
 * blocking description and is read without waiting while output is queued. */
static void
bursts_over_pipes(const struct fxp_loop_opts *opts)
{
	char *dir = make_jail(256);
	int to_srv[2], from_srv[2];
	assert_int_equal(pipe(to_srv), 0);
	assert_int_equal(pipe(from_srv), 0);
	spawn_server_opts(dir, to_srv[0], from_srv[1], to_srv[1], from_srv[0], opts);
	close(to_srv[0]);
	close(from_srv[1]);
	assert_int_equal(fcntl(to_srv[1], F_SETFL, O_NONBLOCK), 0);
	assert_int_equal(fcntl(from_srv[0], F_SETFL, O_NONBLOCK), 0);
	uint8_t h[8];
	open_big(to_srv[1], from_srv[0], h);
	run_bursts(to_srv[1], from_srv[0], h);
	finish_server(to_srv[1], from_srv[0]);
	remove_jail(dir);
}

static void
test_burst_socketpair(void **state)
{
	(void)state;
	bursts_over_socketpair(NULL);
}

static void
test_burst_pipes(void **state)
{
	(void)state;
	bursts_over_pipes(NULL);
}

/* A non-blocking description handed to the loop stays non-blocking afterwards. */
static void
test_flags_kept_when_nonblocking(void **state)
{
	(void)state;
	char *dir = make_jail(256);
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
	spawn_server(dir, sv[1], sv[1], sv[0], -1);
	close(sv[1]);
	uint8_t h[8];
	open_big(sv[0], sv[0], h);
	finish_server(sv[0], sv[0]);
	remove_jail(dir);
}

/* READ data spliced into a pipe (sshd's pipes) and sent with sendfile into a socket
 * (sftp -D, the daemon's socketpair): the same bytes as the copy path. */
static void
test_zero_copy_pipes(void **state)
{
	(void)state;
	bursts_over_pipes(&zero_copy);
}

static void
test_zero_copy_socketpair(void **state)
{
	(void)state;
	bursts_over_socketpair(&zero_copy);
}

static size_t
bytes_in_pipe(int fd)
{
	int n = 0;
	assert_int_equal(ioctl(fd, FIONREAD, &n), 0);
	return (size_t)n;
}

/* True while @pid is asleep in poll(): it has done all it can with what it has. */
static bool
asleep_in_poll(pid_t pid)
{
	char path[64], buf[256];
	snprintf(path, sizeof(path), "/proc/%d/syscall", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return false;
	bool in_poll = false;
	if (fgets(buf, sizeof(buf), f)) {
		long nr = strtol(buf, NULL, 10);
#ifdef SYS_poll
		in_poll = nr == SYS_poll;
#endif
		in_poll = in_poll || nr == SYS_ppoll;
	}
	fclose(f);
	return in_poll;
}

#define SHRINK_REQS 64
#define SHRINK_READ 65536

/* The file shrinks while DATA headers for its data are already out: the promised
 * lengths are kept (zeros where the file lost data), READs processed after the
 * truncation see the new size, and the session goes on. */
static void
test_zero_copy_file_shrinks(void **state)
{
	(void)state;
	char *dir = make_jail(2048); /* 8 MiB */
	_cleanup_free_ char *path = xasprintf("%s/big", dir);
	int to_srv[2], from_srv[2];
	assert_int_equal(pipe(to_srv), 0);
	assert_int_equal(pipe(from_srv), 0);
	spawn_server_opts(dir, to_srv[0], from_srv[1], to_srv[1], from_srv[0], &zero_copy);
	close(to_srv[0]);
	close(from_srv[1]);
	assert_int_equal(fcntl(from_srv[0], F_SETFL, O_NONBLOCK), 0);
	uint8_t h[8];
	open_big(to_srv[1], from_srv[0], h);
	_cleanup_xbuf_ struct xbuf b = XBUF_NULL;
	xbuf_init(&b, 1 << 16);
	for (uint32_t i = 0; i < SHRINK_REQS; i++) {
		xbuf_put_u8(&b, FXP_READ);
		xbuf_put_u32(&b, 500 + i);
		xbuf_put_string(&b, h, 8);
		xbuf_put_u64(&b, (uint64_t)i * SHRINK_READ);
		xbuf_put_u32(&b, SHRINK_READ);
		send_frame(to_srv[1], &b);
	}
	/* Wait until the server has filled our pipe and queued what it may: asleep in
	 * poll with our pipe holding data, twice in a row (no timing assumptions). */
	int confirmed = 0;
	for (int tries = 0; confirmed < 2; tries++) {
		assert_true(tries < timeout_ms(10000));
		struct pollfd pfd = {.fd = from_srv[0], .events = POLLIN};
		(void)poll(&pfd, 1, 1);
		confirmed = asleep_in_poll(server_pid) && bytes_in_pipe(from_srv[0]) > 0
		                    ? confirmed + 1
		                    : 0;
	}
	/* Replies wholly or partly in the pipe keep their data; cut the file two replies
	 * further, so that the first segments still queued lose theirs. */
	size_t in_pipe = bytes_in_pipe(from_srv[0]);
	uint64_t cut = ((uint64_t)in_pipe / (SHRINK_READ + 13) + 2) * SHRINK_READ;
	assert_int_equal(truncate(path, (off_t)cut), 0);

	uint32_t zero_blocks = 0, eofs = 0;
	for (uint32_t i = 0; i < SHRINK_REQS; i++) {
		uint64_t off = (uint64_t)i * SHRINK_READ;
		uint8_t hdr[9];
		read_exact(from_srv[0], hdr, sizeof(hdr));
		uint32_t len = (uint32_t)hdr[0] << 24 | hdr[1] << 16 | hdr[2] << 8 | hdr[3];
		uint32_t rid = (uint32_t)hdr[5] << 24 | hdr[6] << 16 | hdr[7] << 8 | hdr[8];
		assert_int_equal(rid, 500 + i);
		if (hdr[4] == FXP_STATUS) {
			uint8_t rest[64];
			assert_true(len - 5 <= sizeof(rest));
			read_exact(from_srv[0], rest, len - 5);
			assert_int_equal(rest[3], FX_EOF);
			assert_true(off >= cut);
			eofs++;
			continue;
		}
		assert_int_equal(hdr[4], FXP_DATA);
		uint8_t dlen[4];
		read_exact(from_srv[0], dlen, 4);
		assert_int_equal(len, 9 + SHRINK_READ); /* the promised length, always */
		for (uint32_t got = 0; got < SHRINK_READ; got += 4096) {
			uint8_t piece[4096];
			read_exact(from_srv[0], piece, sizeof(piece));
			uint8_t want = (uint8_t)((off + got) / 4096);
			if (off + got < cut) {
				assert_int_equal(piece[0], want);
				assert_int_equal(piece[4095], want);
			} else {
				assert_int_equal(piece[0] | piece[2048] | piece[4095], 0);
				zero_blocks++;
			}
		}
	}
	assert_true(zero_blocks > 0); /* queued segments that lost their data */
	assert_true(eofs > 0);        /* READs processed after the truncation */
	/* the session goes on */
	xbuf_put_u8(&b, FXP_READ);
	xbuf_put_u32(&b, 999);
	xbuf_put_string(&b, h, 8);
	xbuf_put_u64(&b, 0);
	xbuf_put_u32(&b, SHRINK_READ);
	send_frame(to_srv[1], &b);
	uint32_t n;
	_cleanup_free_ uint8_t *r = recv_frame(from_srv[0], &n);
	assert_int_equal(r[0], FXP_DATA);
	assert_int_equal(n, 9 + SHRINK_READ);
	assert_int_equal(r[9], 0);
	finish_server(to_srv[1], from_srv[0]);
	remove_jail(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_teardown(test_pipelined_reads_complete, kill_server),
	        cmocka_unit_test_teardown(test_burst_socketpair, kill_server),
	        cmocka_unit_test_teardown(test_burst_pipes, kill_server),
	        cmocka_unit_test_teardown(test_flags_kept_when_nonblocking, kill_server),
	        cmocka_unit_test_teardown(test_zero_copy_pipes, kill_server),
	        cmocka_unit_test_teardown(test_zero_copy_socketpair, kill_server),
	        cmocka_unit_test_teardown(test_zero_copy_file_shrinks, kill_server),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
