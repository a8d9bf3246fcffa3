/* SPDX-License-Identifier: BSD-2-Clause */
/* The fd loop over a socketpair: pipelined READs that fill the output queue must all
 * be answered (regression: held-back frames once waited for input that never came). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "berth/common.h"
#include "berth/xmem.h"
#include "fxp-internal.h"

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

/* Read exactly n bytes or fail the test after 10 s of silence (instead of hanging). */
static void
read_exact(int fd, void *p, size_t n)
{
	while (n > 0) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		assert_int_equal(poll(&pfd, 1, 10000), 1);
		ssize_t r = read(fd, p, n);
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

static void
test_pipelined_reads_complete(void **state)
{
	char dir[] = "/tmp/berth-loop-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char *path = xasprintf("%s/big", dir);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	for (int i = 0; i < 64 * 255; i++) {
		char block[1024];
		memset(block, 'a' + i % 26, sizeof(block));
		fwrite(block, 1, sizeof(block), f);
	}
	fclose(f);

	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(sv[0]);
		struct vfs *v;
		if (vfs_posix_new(dir, "/", 0, &v) < 0)
			_exit(100);
		struct fxp_engine_config cfg = {.vfs = v, .user = "t", .home = "/"};
		struct fxp_engine *e;
		if (fxp_engine_new(&cfg, &e) < 0)
			_exit(101);
		int rc = fxp_loop_run(e, sv[1], sv[1]);
		fxp_engine_free(e);
		vfs_free(v);
		_exit(rc);
	}
	close(sv[1]);
	int fd = sv[0];
	_cleanup_xbuf_ struct xbuf b = XBUF_NULL;
	xbuf_init(&b, 1 << 20);
	xbuf_put_u8(&b, FXP_INIT);
	xbuf_put_u32(&b, 3);
	send_frame(fd, &b);
	uint32_t n;
	free(recv_frame(fd, &n));
	xbuf_put_u8(&b, FXP_OPEN);
	xbuf_put_u32(&b, 1);
	xbuf_put_cstring(&b, "big");
	xbuf_put_u32(&b, FXF_READ);
	xbuf_put_u32(&b, 0);
	send_frame(fd, &b);
	_cleanup_free_ uint8_t *h = recv_frame(fd, &n);
	assert_int_equal(h[0], FXP_HANDLE);
	/* 64 outstanding full-size reads, as OpenSSH's client issues them */
	for (uint32_t i = 0; i < 64; i++) {
		xbuf_put_u8(&b, FXP_READ);
		xbuf_put_u32(&b, 100 + i);
		xbuf_put_string(&b, h + 9, 8);
		xbuf_put_u64(&b, (uint64_t)i * FXP_MAX_READ);
		xbuf_put_u32(&b, FXP_MAX_READ);
		send_frame(fd, &b);
	}
	for (uint32_t i = 0; i < 64; i++) {
		uint8_t *r = recv_frame(fd, &n);
		assert_int_equal(r[0], FXP_DATA);
		uint32_t id = (uint32_t)r[1] << 24 | r[2] << 16 | r[3] << 8 | r[4];
		assert_int_equal(id, 100 + i);
		assert_int_equal(n, 1 + 4 + 4 + FXP_MAX_READ);
		free(r);
	}
	shutdown(fd, SHUT_WR);
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	close(fd);
	unlink(path);
	rmdir(dir);
	free(path);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_pipelined_reads_complete),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
