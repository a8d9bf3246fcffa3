/* SPDX-License-Identifier: BSD-2-Clause */
/* SFTP v3 ATTRS encoding and decoding. */
#include "fxp-internal.h"

int
attr_decode(struct xbuf *b, struct vfs_attr *ret)
{
	struct vfs_attr a = {0};
	uint32_t flags, v32;
	int r;

	if ((r = xbuf_get_u32(b, &flags)) < 0)
		return r;
	if (flags & FXP_ATTR_SIZE) {
		if ((r = xbuf_get_u64(b, &a.size)) < 0)
			return r;
		a.valid |= VFS_ATTR_SIZE;
	}
	if (flags & FXP_ATTR_UIDGID) {
		if ((r = xbuf_get_u32(b, &a.uid)) < 0 || (r = xbuf_get_u32(b, &a.gid)) < 0)
			return r;
		a.valid |= VFS_ATTR_UIDGID;
	}
	if (flags & FXP_ATTR_PERMISSIONS) {
		if ((r = xbuf_get_u32(b, &a.mode)) < 0)
			return r;
		a.valid |= VFS_ATTR_PERM;
	}
	if (flags & FXP_ATTR_ACMODTIME) {
		if ((r = xbuf_get_u32(b, &v32)) < 0)
			return r;
		a.atime = v32;
		if ((r = xbuf_get_u32(b, &v32)) < 0)
			return r;
		a.mtime = v32;
		a.valid |= VFS_ATTR_TIMES;
	}
	if (flags & FXP_ATTR_EXTENDED) {
		uint32_t count;
		if ((r = xbuf_get_u32(b, &count)) < 0)
			return r;
		if (count > FXP_MAX_EXTATTRS)
			return -EBADMSG;
		/* Extended attributes carry nothing we act on: validate and skip them. */
		for (uint32_t i = 0; i < count; i++) {
			const uint8_t *p;
			size_t n;
			if ((r = xbuf_get_string_direct(b, &p, &n)) < 0 ||
			    (r = xbuf_get_string_direct(b, &p, &n)) < 0)
				return r;
		}
	}
	*ret = a;
	return 0;
}

int
attr_encode(struct xbuf *b, const struct vfs_attr *a)
{
	uint32_t flags = 0;
	int r;

	if (a->valid & VFS_ATTR_SIZE)
		flags |= FXP_ATTR_SIZE;
	if (a->valid & VFS_ATTR_UIDGID)
		flags |= FXP_ATTR_UIDGID;
	if (a->valid & VFS_ATTR_PERM)
		flags |= FXP_ATTR_PERMISSIONS;
	if (a->valid & VFS_ATTR_TIMES)
		flags |= FXP_ATTR_ACMODTIME;
	if ((r = xbuf_put_u32(b, flags)) < 0)
		return r;
	if ((flags & FXP_ATTR_SIZE) && (r = xbuf_put_u64(b, a->size)) < 0)
		return r;
	if ((flags & FXP_ATTR_UIDGID) &&
	    ((r = xbuf_put_u32(b, a->uid)) < 0 || (r = xbuf_put_u32(b, a->gid)) < 0))
		return r;
	if ((flags & FXP_ATTR_PERMISSIONS) && (r = xbuf_put_u32(b, a->mode)) < 0)
		return r;
	/* v3 times are 32-bit; truncation matches OpenSSH. */
	if ((flags & FXP_ATTR_ACMODTIME) && ((r = xbuf_put_u32(b, (uint32_t)a->atime)) < 0 ||
	                                     (r = xbuf_put_u32(b, (uint32_t)a->mtime)) < 0))
		return r;
	return 0;
}
