/* SPDX-License-Identifier: BSD-2-Clause */
/* State shared by the network child's two halves: KEX and authentication (session.c)
 * and the session channels with their workers (channels.c). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <libssh/callbacks.h>
#include <libssh/libssh.h>

#include "berth/conf.h"
#include "berth/priv.h"
#include "berth/sshd.h"

struct chan;

/* One connection in the network child. */
struct net {
	const struct sshd_conn *c;
	ssh_session session;
	ssh_event event;
	char *user; /* pinned by the first auth request */
	bool authenticated;
	bool hangup;                  /* policy says close now */
	const void *bad_sig_answered; /* key of a bad-signature request already answered */
	struct ssh_server_callbacks_struct scb;
	struct ssh_channel_callbacks_struct ccb; /* shared by every session channel */
	/* Session channels; one the client closed stays until its worker has finished,
	 * but no longer counts toward MaxSessions. */
	struct chan *chans[2 * BERTH_MAX_SESSIONS_PER_CONN];
	size_t n_chans;
	size_t rr;            /* round-robin start of the next pump round */
	time_t last_activity; /* IdleTimeout: last byte moved or channel event */
};

#define NOTE(n, lvl, ...) mon_note((n)->c->mon_fd, (lvl), __VA_ARGS__)

/* CLOCK_MONOTONIC seconds. */
time_t net_now(void);
/* The client hung up or libssh gave up on the session. */
bool net_session_dead(struct net *n);

/* channels.c */

/* Fill n->ccb: the request callbacks every session channel gets at open. */
void net_channel_callbacks_init(struct net *n);
/* channel_open_request_session_function: accept up to MaxSessions channels. */
ssh_channel net_channel_open(ssh_session session, void *userdata);
/* After authentication: serve every channel until the client leaves, IdleTimeout, or a
 * fatal peer error. Returns the process exit status. */
int net_serve(struct net *n);
/* Close the worker sockets of all channels (the libssh channels go with the session). */
void net_channels_close(struct net *n);
