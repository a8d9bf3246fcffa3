/* SPDX-License-Identifier: BSD-2-Clause */
/* libFuzzer target: authorized_keys parser plus the permit check on every entry. */
#include <stdint.h>
#include <stdlib.h>

#include "berth/authkeys.h"
#include "berth/conf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct authkeys_list list = AUTHKEYS_LIST_NULL;
	struct berth_errors errors = BERTH_ERRORS_NULL;

	(void)authkeys_parse((const char *)data, size, "fuzz", &list, &errors);
	for (size_t i = 0; i < list.n; i++) {
		const struct authkeys_entry *e = &list.entries[i];
		const char *why = NULL;

		if (!e->type || !e->blob || e->blob_len == 0)
			abort();
		(void)authkeys_entry_permits(e, "10.1.2.3", 1700000000, &why);
		(void)authkeys_entry_permits(e, "2001:db8::1", 1700000000, &why);
		if (authkeys_find(&list, e->blob, e->blob_len) == NULL)
			abort();
	}
	authkeys_list_free(&list);
	berth_errors_free(&errors);
	return 0;
}
