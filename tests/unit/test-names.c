/* SPDX-License-Identifier: BSD-2-Clause */
/* Unit tests for ls -l style longnames. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <cmocka.h>

#include "fxp-internal.h"

static void
test_numeric_format(void **state)
{
	setenv("TZ", "UTC", 1);
	tzset();
	struct vfs_attr a = {.mode = S_IFREG | 04755,
	                     .uid = 1234,
	                     .gid = 56,
	                     .nlink = 1,
	                     .size = 42,
	                     .mtime = 946684800 /* 2000-01-01 */};
	char *s = fxp_longname("file", &a, true);
	assert_string_equal(s, "-rwsr-xr-x    1 1234     56             42 Jan  1  2000 file");
	free(s);
	a.mode = S_IFDIR | 01777;
	s = fxp_longname("tmp", &a, true);
	assert_memory_equal(s, "drwxrwxrwt ", 11);
	free(s);
	a.mode = S_IFLNK | 0777;
	s = fxp_longname("l", &a, true);
	assert_int_equal(s[0], 'l');
	free(s);
}

static void
test_long_names_truncate_safely(void **state)
{
	char name[2048];
	memset(name, 'n', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	struct vfs_attr a = {.mode = S_IFREG | 0644, .nlink = 1};
	char *s = fxp_longname(name, &a, true);
	assert_int_equal(strlen(s), 1023);
	free(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_numeric_format),
	        cmocka_unit_test(test_long_names_truncate_safely),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
