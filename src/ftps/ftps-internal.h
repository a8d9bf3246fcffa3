/* SPDX-License-Identifier: BSD-2-Clause */
/* Shared by the FTPS network child and the worker: the control socket's framing and a
 * few socket helpers. Not a public interface.
 *
 * The control socket is the SOCK_STREAM socketpair the monitor gives the worker and the
 * network child after login. Every message is a frame: u8 type, u32 payload length
 * (big-endian), payload. Control-connection bytes travel as DATA frames in both
 * directions; CCC and CCC_DONE are the only control messages, so the reply "200" to CCC
 * (a DATA frame) always reaches the client over TLS before the TLS shutdown starts.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "berth/buf.h"

enum ftps_msg_type {
	/* network child -> worker, exactly once, first: the hand-over at login.
	 * Payload: ftp_session_state_put() bytes, string TLS resumption blob (empty when
	 * the control connection is not TLS), string pending input (commands pipelined
	 * after PASS). */
	FTPS_MSG_HELLO = 1,
	/* both directions: control-connection bytes (client commands / server replies) */
	FTPS_MSG_DATA = 2,
	/* worker -> network child: after the DATA before it is sent, shut TLS down on the
	 * control connection (close_notify both ways, RFC 4217 12.3); no payload */
	FTPS_MSG_CCC = 3,
	/* network child -> worker: u32 0 (plaintext from now on) or an errno value */
	FTPS_MSG_CCC_DONE = 4,
	/* worker -> network child: send a fresh TLS 1.3 session ticket on the control
	 * connection with the next DATA (before a transfer's final reply), so the client
	 * has an unused session for its next data connection; no payload */
	FTPS_MSG_TICKET = 5,
};

#define FTPS_MSG_HDR   5
#define FTPS_MSG_MAX   (256 * 1024) /* payload; a HELLO is at most ~150 KiB */
#define FTPS_CHUNK     (16 * 1024)  /* control bytes per DATA frame */
#define FTPS_CTL_QUEUE (512 * 1024) /* each direction of the control socket */

/* Append one frame. 0 or -ENOBUFS (nothing appended). */
int ftps_msg_put(struct xbuf *q, uint8_t type, const void *payload, size_t len);

/* Detach the next complete frame of @in: 0 with *@ret_type and a read-only view of its
 * payload (valid until @in is next mutated), 1 when the frame is not complete yet,
 * -EBADMSG for an unknown type or an oversized length. */
int ftps_msg_take(struct xbuf *in, uint8_t *ret_type, struct xbuf *ret_payload);

/* Read what @fd has (at most @max bytes) into the tail of @b. >0 bytes, 0 EOF, -EAGAIN,
 * or -errno. */
ssize_t ftps_read_into(int fd, struct xbuf *b, size_t max);
/* Write from the front of @b. >=0 bytes written (0: would block), or -errno. */
ssize_t ftps_write_from(int fd, struct xbuf *b);

/* CLOCK_MONOTONIC in milliseconds. */
uint64_t ftps_now_ms(void);
/* Milliseconds until @deadline for poll() (0 when past, -1 for deadline 0 = none),
 * capped at one hour. */
int ftps_poll_timeout(uint64_t deadline);
/* The earlier of two deadlines, 0 meaning none. */
uint64_t ftps_deadline_min(uint64_t a, uint64_t b);

/* Numeric address (v4-mapped IPv6 becomes IPv4; "fe80::1%eth0" keeps its interface) into
 * @ret with port 0. -EINVAL if not numeric. */
int ftps_addr_parse(const char *text, struct sockaddr_storage *ret);
/* Same host (family and address; ports ignored); v4-mapped IPv6 equals its IPv4. */
bool ftps_addr_same_host(const struct sockaddr_storage *a, const struct sockaddr_storage *b);
/* Numeric text of @a's address (no port) into @out. */
void ftps_addr_text(const struct sockaddr_storage *a, char *out, size_t outlen);
/* O_NONBLOCK on; 0 or -errno. */
int ftps_set_nonblock(int fd);
