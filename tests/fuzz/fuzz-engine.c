/* SPDX-License-Identifier: BSD-2-Clause */
/* libFuzzer target over the whole SFTP engine, on a scratch jail that is rebuilt for
 * every input. Input: one byte of knobs (read-only mode, feed chunk size), then the raw
 * client byte stream (an INIT frame is prepended so requests reach the handlers). */
#include <fcntl.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "berth/fxp_engine.h"
#include "berth/vfs.h"

#include "fuzz-jail.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	const char *root = fuzz_jail_make("sftp");

	uint8_t knobs = data[0];
	data++;
	size--;
	struct vfs *v;
	if (vfs_posix_new(root, "/", 022, &v) < 0)
		abort();
	struct fxp_engine_config cfg = {
	        .vfs = v,
	        .read_only = knobs & 1,
	        .user = "fuzz",
	        .home = "/",
	        .max_handles = 16,
	        .numeric_ids = true,
	};
	struct fxp_engine *e;
	if (fxp_engine_new(&cfg, &e) < 0)
		abort();
	static const uint8_t init[] = {0, 0, 0, 5, 1, 0, 0, 0, 3};
	(void)fxp_engine_feed(e, init, sizeof(init));
	size_t chunk = (size_t)(knobs >> 1) + 1;
	size_t off = 0;
	int r = fxp_engine_process(e);
	while (r == 0 && off < size) {
		size_t room = fxp_engine_input_room(e);
		size_t n = size - off < chunk ? size - off : chunk;
		if (n > room)
			n = room;
		if (n > 0) {
			if (fxp_engine_feed(e, data + off, n) < 0)
				abort(); /* room said it fits */
			off += n;
		}
		r = fxp_engine_process(e);
		size_t out;
		(void)fxp_engine_output(e, &out);
		/* Drain in halves so the backpressure path is exercised too. */
		fxp_engine_output_consume(e, n == 0 ? out : out / 2);
	}
	fxp_engine_free(e);
	vfs_free(v);
	fuzz_jail_remove(root);
	return 0;
}
