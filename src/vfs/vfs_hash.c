/* SPDX-License-Identifier: BSD-2-Clause */
/* vfs_hash_range(): digests of a file's byte range through the VFS (check-file, HASH). */
#include <errno.h>

#include "berth/buf.h"
#include "berth/common.h"
#include "berth/hash.h"
#include "berth/vfs.h"
#include "berth/xmem.h"

#define HASH_CHUNK (256 * 1024)

static int
hash_generic(struct vfs_file *f, enum berth_hash_alg alg, uint64_t off, uint64_t len,
             uint32_t block, struct xbuf *out)
{
	struct vfs_attr a;
	int r = vfs_fstat(f, &a);
	if (r < 0)
		return r;
	if (off > a.size || (off == a.size && a.size != 0))
		return -EINVAL;
	uint64_t avail = a.size - off;
	uint64_t n = len == 0 || len > avail ? avail : len;
	uint64_t blocks = block ? (n + block - 1) / block : 1;
	if (blocks == 0)
		blocks = 1; /* an empty range still has one digest */
	if (blocks > VFS_HASH_RANGE_MAX / berth_hash_len(alg))
		return -EFBIG;
	_cleanup_free_ uint8_t *buf = xmalloc(HASH_CHUNK);
	struct berth_hash *h = berth_hash_new(alg);
	uint8_t md[BERTH_HASH_MAX];
	uint64_t in_block = 0, emitted = 0;
	while (n > 0) {
		size_t want = (size_t)MIN(n, (uint64_t)HASH_CHUNK);
		if (block)
			want = (size_t)MIN((uint64_t)want, block - in_block);
		size_t got = 0;
		r = vfs_pread(f, buf, want, off, &got);
		if (r < 0)
			goto out;
		if (got == 0)
			break; /* shrank under us: hash what there is */
		berth_hash_update(h, buf, got);
		off += got;
		n -= got;
		in_block += got;
		if (block && in_block == block) {
			size_t l = berth_hash_final(h, md);
			if ((r = xbuf_put(out, md, l)) < 0)
				goto out;
			in_block = 0;
			emitted++;
		}
	}
	/* The whole range (block 0), a last partial block, or an empty range. */
	if (!block || in_block > 0 || emitted == 0) {
		size_t l = berth_hash_final(h, md);
		r = xbuf_put(out, md, l);
	}
out:
	berth_hash_free(h);
	return r;
}

int
vfs_hash_range(struct vfs_file *f, enum berth_hash_alg alg, uint64_t off, uint64_t len,
               uint32_t block, struct xbuf *out)
{
	if ((unsigned)alg >= BERTH_HASH_COUNT || (block != 0 && block < 256))
		return -EINVAL;
	if (f->vfs->ops->hash_range)
		return f->vfs->ops->hash_range(f, alg, off, len, block, out);
	return hash_generic(f, alg, off, len, block, out);
}
