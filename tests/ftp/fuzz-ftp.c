/* SPDX-License-Identifier: BSD-2-Clause */
/* libFuzzer target over the FTP engine: arbitrary command streams to a pre-login engine
 * (handed over to a logged-in one when the login succeeds, as the daemon does) or
 * straight to a logged-in engine over a scratch jail rebuilt for every input. Actions
 * run in the in-memory driver, with injected -EAGAIN, quota errors and refused data
 * connections.
 *
 * Input: two knob bytes, then the control stream.
 *   knob0 bit 0      logged-in engine (else pre-login, then hand-over)
 *         bits 1-2   data chunk size 1 / 7 / 512 / 4096
 *         bit 3      allow plain login and data, allow CCC
 *         bit 4      inject -EAGAIN on reads and writes
 *         bit 5      quota error after 100 bytes written
 *         bits 6-7   data connection result: ok / refused / TLS not resumed / ok
 *   knob1 bits 0-3   control bytes per feed (0 = all that fit)
 *         bit 4      login refused (and bit 5: attempts exhausted)
 *         bit 6      IPv6 control connection
 *         bit 7      max_line 64 (else the default)
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "berth/ftp_engine.h"
#include "berth/vfs.h"
#include "fake-driver.h"

static char base[64];

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	(void)remove(path);
	return 0;
}

static void
put_file(const char *root, const char *name, const char *content)
{
	char p[256];
	snprintf(p, sizeof(p), "%s/%s", root, name);
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd >= 0) {
		(void)!write(fd, content, strlen(content));
		close(fd);
	}
}

static void
jail_tree(const char *root)
{
	char p[256];
	mkdir(root, 0755);
	snprintf(p, sizeof(p), "%s/dir", root);
	mkdir(p, 0755);
	put_file(root, "file", "line one\nline two\r\nthree\n");
	put_file(root, "dir/inner", "inner\n");
	put_file(root, "cr\rname", "x");
	snprintf(p, sizeof(p), "%s/link", root);
	(void)!symlink("file", p);
	snprintf(p, sizeof(p), "%s/escape", root);
	(void)!symlink("../../../..", p);
}

static void
set_addr(struct sockaddr_storage *ss, bool v6, uint16_t port)
{
	memset(ss, 0, sizeof(*ss));
	if (v6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		s6->sin6_addr = in6addr_loopback;
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	}
}

static void
arm_faults(struct fault_vfs *f, uint8_t knob0)
{
	if (knob0 & 0x10) {
		f->eagain_reads = 3;
		f->eagain_writes = 3;
	}
	if (knob0 & 0x20) {
		f->write_errno = EDQUOT;
		f->write_limit = 100;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	if (!base[0]) {
		snprintf(base, sizeof(base), "/tmp/berth-fuzz-ftp-%d", (int)getpid());
		mkdir(base, 0700);
	}
	char root[128];
	snprintf(root, sizeof(root), "%s/jail", base);
	jail_tree(root);

	uint8_t k0 = data[0], k1 = data[1];
	data += 2;
	size -= 2;
	static const size_t chunks[] = {1, 7, 512, 4096};
	static const int opens[] = {0, -ECONNREFUSED, FTP_DATA_E_NOREUSE, 0};

	struct vfs *posix;
	if (vfs_posix_new(root, "/", 022, &posix) < 0)
		abort();
	struct fault_vfs fault;
	fault_vfs_init(&fault, posix);
	arm_faults(&fault, k0);
	struct ftp_engine_config cfg = {
	        .tls_available = true,
	        .allow_plain_login = k0 & 0x08,
	        .allow_plain_data = k0 & 0x08,
	        .allow_ccc = k0 & 0x08,
	        .user = "fuzz",
	        .group = "fuzz",
	        .uid = getuid(),
	        .gid = getgid(),
	        .max_line = (k1 & 0x80) ? 64 : 0,
	        .hash = true,
	        .userdata = &fault,
	};
	set_addr(&cfg.peer, k1 & 0x40, 40000);
	set_addr(&cfg.local, k1 & 0x40, 21);
	if (k0 & 1) {
		static const struct ftp_session_state st = {
		        .tls = true, .pbsz = true, .prot_p = true, .mlst_facts = FTP_FACTS_ALL};
		cfg.vfs = &fault.base;
		cfg.state = &st;
	}

	struct ftp_engine *e;
	if (ftp_engine_new(&cfg, &e) < 0)
		abort();
	struct fake_driver d;
	fake_init(&d, e);
	d.chunk = chunks[(k0 >> 1) & 3];
	d.feed_chunk = k1 & 0x0f;
	d.open_result = opens[k0 >> 6];
	d.login_result = (k1 & 0x10) ? ((k1 & 0x20) ? FTP_LOGIN_FAILED_END : FTP_LOGIN_FAILED)
	                             : FTP_LOGIN_OK;
	d.upload = data;
	d.upload_len = size;
	(void)fake_run(&d, data, size);

	if (d.handed_off) {
		/* The daemon's hand-over: state and pipelined input go to a new engine. */
		struct xbuf wire = XBUF_NULL;
		xbuf_init(&wire, 64);
		struct ftp_session_state st;
		ftp_engine_export_state(e, &st);
		if (ftp_session_state_put(&wire, &st) < 0 || ftp_session_state_get(&wire, &st) < 0)
			abort();
		xbuf_deinit(&wire);
		size_t n;
		const uint8_t *p = ftp_engine_pending_input(e, &n);
		uint8_t *rest = malloc(n ? n : 1);
		memcpy(rest, p, n);
		ftp_engine_free(e);
		cfg.vfs = &fault.base;
		cfg.state = &st;
		if (ftp_engine_new(&cfg, &e) < 0)
			abort();
		d.e = e;
		d.handed_off = false;
		(void)fake_run(&d, rest, n);
		free(rest);
	}
	fake_deinit(&d);
	ftp_engine_free(e);
	vfs_free(posix);
	nftw(root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}
