/* SPDX-License-Identifier: BSD-2-Clause */
/* libFuzzer target: virtual accounts file parser (berth-accounts(5)). */
#include <stdint.h>

#include "berth/account.h"
#include "berth/conf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct berth_accounts *db = NULL;
	struct berth_errors errors = BERTH_ERRORS_NULL;

	if (berth_accounts_load_string((const char *)data, size, "fuzz", &db, &errors) == 0)
		berth_accounts_free(db);
	berth_errors_free(&errors);
	return 0;
}
