/* SPDX-License-Identifier: BSD-2-Clause */
/* Handle table: a handle is slot + generation, so a closed handle can never be reused
 * and a forged one never matches; lookups check bounds (slot < nslots), type and
 * generation. */
#include <stdlib.h>
#include <string.h>

#include "berth/common.h"
#include "berth/xmem.h"
#include "fxp-internal.h"

void
handles_init(struct handle_table *t, uint32_t max)
{
	*t = (struct handle_table){.max = max};
}

int
handle_new(struct handle_table *t, enum handle_type type, char *path, unsigned vfs_flags, void *obj)
{
	uint32_t slot;
	if (t->nused >= t->max) {
		free(path); /* ownership was passed to us either way */
		return -EMFILE;
	}
	for (slot = 0; slot < t->nslots; slot++)
		if (t->slots[slot].type == HANDLE_UNUSED)
			break;
	if (slot == t->nslots) {
		uint32_t grow = t->nslots ? t->nslots * 2 : 16;
		if (grow > t->max)
			grow = t->max;
		t->slots = xreallocarray(t->slots, grow, sizeof(*t->slots));
		memset(t->slots + t->nslots, 0, (size_t)(grow - t->nslots) * sizeof(*t->slots));
		t->nslots = grow;
	}
	struct fxp_handle *h = &t->slots[slot];
	uint32_t generation = h->generation + 1;
	*h = (struct fxp_handle){
	        .type = type,
	        .generation = generation,
	        .path = path,
	        .vfs_flags = vfs_flags,
	};
	if (type == HANDLE_FILE)
		h->file = obj;
	else
		h->dir = obj;
	clock_gettime(CLOCK_MONOTONIC, &h->opened);
	t->nused++;
	return (int)slot;
}

void
handle_encode(const struct handle_table *t, uint32_t slot, uint8_t out[FXP_HANDLE_LEN])
{
	uint32_t g = t->slots[slot].generation;
	uint8_t tmp[FXP_HANDLE_LEN] = {slot >> 24, slot >> 16, slot >> 8, slot,
	                               g >> 24,    g >> 16,    g >> 8,    g};
	memcpy(out, tmp, sizeof(tmp));
}

int
handle_get(struct handle_table *t, struct xbuf *b, enum handle_type type, struct fxp_handle **ret,
           uint32_t *ret_slot)
{
	const uint8_t *p;
	size_t n;
	int r = xbuf_get_string_direct(b, &p, &n);
	if (r < 0)
		return r;
	if (n != FXP_HANDLE_LEN)
		return 1;
	uint32_t slot = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
	uint32_t gen = (uint32_t)p[4] << 24 | (uint32_t)p[5] << 16 | (uint32_t)p[6] << 8 | p[7];
	if (slot >= t->nslots)
		return 1;
	struct fxp_handle *h = &t->slots[slot];
	if (h->type == HANDLE_UNUSED || h->generation != gen)
		return 1;
	if (type != HANDLE_UNUSED && h->type != type)
		return 1;
	*ret = h;
	if (ret_slot)
		*ret_slot = slot;
	return 0;
}

void
handle_release(struct handle_table *t, struct fxp_handle *h)
{
	free(h->path);
	uint32_t generation = h->generation;
	*h = (struct fxp_handle){.generation = generation};
	t->nused--;
}
