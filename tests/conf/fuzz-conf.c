/* SPDX-License-Identifier: BSD-2-Clause */
/* libFuzzer target: berthd.conf parser, dump and re-parse of its own output. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "berth/conf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct berth_config cfg;
	struct berth_errors errors = BERTH_ERRORS_NULL;

	/* Include is resolved relative to the cwd; the fuzzer only finds what exists. */
	if (berth_config_load_string((const char *)data, size, "fuzz.conf", &cfg, &errors) == 0) {
		char *out = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&out, &len);
		struct berth_config again;

		if (f) {
			berth_config_dump(&cfg, f);
			fclose(f);
			/* What we print must parse again. */
			if (berth_config_load_string(out, len, "dump", &again, NULL) != 0)
				abort();
			berth_config_free(&again);
			free(out);
		}
		berth_config_free(&cfg);
	}
	berth_errors_free(&errors);
	return 0;
}
