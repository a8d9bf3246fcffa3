/* SPDX-License-Identifier: BSD-2-Clause */
/* libFuzzer target: the scp engine in sink mode (the client uploads) on a scratch jail
 * rebuilt for every input. Input: one byte of knobs (-r, -p, target, feed chunk size),
 * then the raw client byte stream; a few bytes answer as the client would in source
 * mode when knob bit 7 is set, so both directions get exercised. */
#include <fcntl.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "berth/scp_engine.h"
#include "berth/vfs.h"

#include "../fuzz/fuzz-jail.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	const char *root = fuzz_jail_make("scp");

	uint8_t knobs = data[0];
	data++;
	size--;
	static const char *const cmds[] = {
	        "scp -t .",          "scp -r -t .",   "scp -r -p -t dir", "scp -p -t dir/new",
	        "scp -d -t missing", "scp -r -t out", "scp -f dir/file",  "scp -r -p -f dir",
	};
	const char *cmd = cmds[knobs & 7];
	size_t chunk = 1 + ((knobs >> 3) & 15) * 97;

	struct vfs *v = NULL;
	if (vfs_posix_new(root, "/", 022, &v) < 0)
		abort();
	struct scp_engine_config cfg = {.vfs = v, .home = "/", .read_only = knobs & 128};
	struct scp_engine *e = NULL;
	if (scp_engine_new(&cfg, cmd, &e) != 0)
		abort();
	size_t off = 0;
	int status;
	for (unsigned rounds = 0; rounds < 100000; rounds++) {
		if (scp_engine_process(e) < 0)
			abort();
		size_t ol;
		(void)scp_engine_output(e, &ol);
		scp_engine_output_consume(e, ol); /* a peer that reads everything */
		if (scp_engine_done(e, &status))
			break;
		if (off == size) {
			scp_engine_feed_eof(e);
			if (scp_engine_process(e) < 0)
				abort();
			(void)scp_engine_output(e, &ol);
			scp_engine_output_consume(e, ol);
			if (scp_engine_done(e, &status))
				break;
			continue;
		}
		size_t n = scp_engine_input_room(e);
		if (n > chunk)
			n = chunk;
		if (n > size - off)
			n = size - off;
		if (n && scp_engine_feed(e, data + off, n) < 0)
			abort();
		off += n;
	}
	if (!scp_engine_done(e, &status))
		abort(); /* the engine must always finish once the input ended */
	if (status != 0 && status != 1)
		abort();
	scp_engine_free(e);
	vfs_free(v);
	fuzz_jail_remove(root);
	return 0;
}
