/* SPDX-License-Identifier: BSD-2-Clause */
/* libFuzzer target: the accounts-file stanza editor (berthctl). Invariants: untouched
 * text round-trips byte for byte; after every edit the editor's view equals a fresh
 * parse of its own text; set/unset/add leave the counts they promise. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "berth/acctedit.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)                                                                                   \
	do {                                                                                       \
		if (!(x))                                                                          \
			abort();                                                                   \
	} while (0)

/* The editor's stanzas equal those of a fresh parse of its text. */
static void
check_consistent(const struct acctedit *ed)
{
	size_t len;
	char *t = acctedit_text(ed, &len);
	struct acctedit *fresh = NULL;

	CHECK(strlen(t) == len);
	CHECK(acctedit_new(t, len, &fresh) == 0);
	CHECK(acctedit_stanza_count(fresh) == acctedit_stanza_count(ed));
	for (size_t i = 0; i < acctedit_stanza_count(ed); i++) {
		CHECK(strcmp(acctedit_stanza_kind(fresh, i), acctedit_stanza_kind(ed, i)) == 0);
		CHECK(strcmp(acctedit_stanza_name(fresh, i), acctedit_stanza_name(ed, i)) == 0);
		CHECK(acctedit_stanza_line(fresh, i) == acctedit_stanza_line(ed, i));
	}
	acctedit_free(fresh);
	free(t);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct acctedit *ed = NULL;

	if (acctedit_new((const char *)data, size, &ed) != 0)
		return 0;
	size_t len;
	char *t = acctedit_text(ed, &len);
	CHECK(len == size && memcmp(t, data, size) == 0);
	free(t);

	size_t n = acctedit_stanza_count(ed);
	for (size_t s = 0; s < n && s < 8; s++) {
		CHECK(acctedit_set(ed, s, "Uid", "7") == 0);
		CHECK(acctedit_value_count(ed, s, "uid") == 1);
		CHECK(strcmp(acctedit_value(ed, s, "UID", 0, NULL), "7") == 0);
		CHECK(acctedit_add(ed, s, "AuthorizedKeysFile", "\"/k e y\"") == 0);
		CHECK(acctedit_del(ed, s, "AuthorizedKeysFile", "/k e y") >= 1);
		(void)acctedit_unset(ed, s, "Gid");
		CHECK(acctedit_value_count(ed, s, "Gid") == 0);
		check_consistent(ed);
	}
	size_t s;
	if (acctedit_stanza_add(ed, "Group", "fuzzgroup", &s) == 0) {
		CHECK(strcmp(acctedit_stanza_name(ed, s), "fuzzgroup") == 0);
		check_consistent(ed);
	}
	if (acctedit_stanza_add(ed, "Account", "fuzzacct", &s) == 0) {
		CHECK(acctedit_set(ed, s, "Root", "/srv") == 0);
		check_consistent(ed);
		if (acctedit_stanza_rename(ed, s, "fuzzrenamed") == 0)
			check_consistent(ed);
	}
	if (acctedit_stanza_count(ed) > 0) {
		size_t before = acctedit_stanza_count(ed);
		acctedit_stanza_remove(ed, 0);
		CHECK(acctedit_stanza_count(ed) == before - 1);
		check_consistent(ed);
	}
	acctedit_free(ed);
	return 0;
}
