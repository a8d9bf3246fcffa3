/* SPDX-License-Identifier: BSD-2-Clause */
/* Unit tests for the sd_notify(3) sender (path and abstract sockets) and the reload
 * status file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "berth/common.h"
#include "berth/notify.h"
#include "berth/reload.h"

/* A datagram socket bound to @name ("/path" or "@abstract"), as systemd's. */
static int
listen_dgram(const char *name)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	size_t n = strlen(name);
	memcpy(sa.sun_path, name, n);
	if (name[0] == '@')
		sa.sun_path[0] = '\0';
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, len), 0);
	return fd;
}

static void
expect_datagram(int fd, const char *want)
{
	char buf[512];
	ssize_t n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
	assert_true(n >= 0);
	buf[n] = '\0';
	assert_string_equal(buf, want);
}

static void
test_path_socket(void **state)
{
	char dir[] = "/tmp/berth-notify.XXXXXX";
	assert_non_null(mkdtemp(dir));
	char path[128];
	snprintf(path, sizeof(path), "%s/notify", dir);
	int fd = listen_dgram(path);
	setenv("NOTIFY_SOCKET", path, 1);
	assert_int_equal(berth_notify_init(), 0);
	/* Taken from the environment so children never inherit it. */
	assert_null(getenv("NOTIFY_SOCKET"));
	assert_int_equal(berth_notify("READY=1\nSTATUS=Accepting connections"), 0);
	expect_datagram(fd, "READY=1\nSTATUS=Accepting connections");
	assert_int_equal(berth_notifyf("RELOADING=1\nMONOTONIC_USEC=%llu", 42ULL), 0);
	expect_datagram(fd, "RELOADING=1\nMONOTONIC_USEC=42");
	assert_int_equal(berth_notify("STOPPING=1"), 0);
	expect_datagram(fd, "STOPPING=1");
	close(fd);
	unlink(path);
	rmdir(dir);
}

static void
test_abstract_socket(void **state)
{
	char name[64];
	snprintf(name, sizeof(name), "@berth-notify-test-%d", (int)getpid());
	int fd = listen_dgram(name);
	setenv("NOTIFY_SOCKET", name, 1);
	assert_int_equal(berth_notify_init(), 0);
	assert_int_equal(berth_notify("READY=1"), 0);
	expect_datagram(fd, "READY=1");
	close(fd);
	/* Nobody listening any more: the error comes back, nothing crashes. */
	assert_int_equal(berth_notify("READY=1"), -ECONNREFUSED);
}

static void
test_off_and_invalid(void **state)
{
	unsetenv("NOTIFY_SOCKET");
	assert_int_equal(berth_notify_init(), 0);
	assert_int_equal(berth_notify("READY=1"), 0); /* a no-op */
	setenv("NOTIFY_SOCKET", "relative/path", 1);
	assert_int_equal(berth_notify_init(), -EINVAL);
	assert_int_equal(berth_notify("READY=1"), 0);
	char longname[200];
	memset(longname, 'a', sizeof(longname) - 1);
	longname[0] = '/';
	longname[sizeof(longname) - 1] = '\0';
	setenv("NOTIFY_SOCKET", longname, 1);
	assert_int_equal(berth_notify_init(), -EINVAL);
	assert_true(berth_notify_monotonic_usec() > 0);
}

static void
test_status_file(void **state)
{
	char *p = reload_status_path("/run/berthd/berthd.pid");
	assert_string_equal(p, "/run/berthd/berthd.reload");
	free(p);
	p = reload_status_path("/x/pidfile");
	assert_string_equal(p, "/x/pidfile.reload");
	free(p);
	assert_null(reload_status_path(NULL));

	char dir[] = "/tmp/berth-status.XXXXXX";
	assert_non_null(mkdtemp(dir));
	char path[128];
	snprintf(path, sizeof(path), "%s/berthd.reload", dir);
	struct reload_status st = {.generation = 3, .pid = 1234, .ok = false};
	berth_errors_add(&st.errors, "/etc/berth/berthd.conf", 7, "unknown keyword \"Bogus\"");
	berth_errors_add(&st.errors, NULL, 0, "two\nlines");
	assert_int_equal(reload_status_write(path, &st), 0);
	berth_errors_free(&st.errors);
	struct reload_status got;
	assert_int_equal(reload_status_read(path, &got), 0);
	assert_int_equal(got.generation, 3);
	assert_int_equal(got.pid, 1234);
	assert_false(got.ok);
	assert_int_equal(got.errors.n, 2);
	assert_string_equal(got.errors.msgs[0],
	                    "/etc/berth/berthd.conf:7: unknown keyword \"Bogus\"");
	assert_string_equal(got.errors.msgs[1], "two lines");
	berth_errors_free(&got.errors);

	st = (struct reload_status){.generation = 4, .pid = 1234, .ok = true};
	assert_int_equal(reload_status_write(path, &st), 0);
	assert_int_equal(reload_status_read(path, &got), 0);
	assert_true(got.ok);
	assert_int_equal(got.generation, 4);
	assert_int_equal(got.errors.n, 0);

	FILE *f = fopen(path, "w");
	fputs("generation 5\npid 1\n", f); /* no result line */
	fclose(f);
	assert_int_equal(reload_status_read(path, &got), -EBADMSG);
	unlink(path);
	assert_int_equal(reload_status_read(path, &got), -ENOENT);
	rmdir(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_path_socket),
	        cmocka_unit_test(test_abstract_socket),
	        cmocka_unit_test(test_off_and_invalid),
	        cmocka_unit_test(test_status_file),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
