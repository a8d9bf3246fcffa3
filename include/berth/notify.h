/* SPDX-License-Identifier: BSD-2-Clause */
/* The systemd notify protocol (sd_notify(3)) spoken directly, without libsystemd.
 *
 * systemd passes a datagram socket in $NOTIFY_SOCKET: a path ("/run/systemd/notify") or
 * an abstract name ("@..."). Each message is one datagram of NEWLINE-separated
 * VARIABLE=value assignments (READY=1, RELOADING=1, STOPPING=1, STATUS=...,
 * MONOTONIC_USEC=...). Without $NOTIFY_SOCKET every call is a no-op.
 */
#pragma once

#include <stdint.h>

/**
 * berth_notify_init() - take $NOTIFY_SOCKET from the environment (once, at startup) and
 * remove it, so the connection processes and workers never inherit it.
 *
 * Return: 0 (also without $NOTIFY_SOCKET) or -EINVAL for an unusable value (neither an
 * absolute path nor "@abstract", or too long); then notifications stay off.
 */
int berth_notify_init(void);

/**
 * berth_notify() - send @state (e.g. "READY=1\nSTATUS=Serving") as one datagram.
 * @state: the assignments, without a trailing newline requirement.
 *
 * Return: 0 (also when notifications are off) or -errno of socket()/sendto().
 */
int berth_notify(const char *state);

/* berth_notifyf() - berth_notify() with a printf format. */
int berth_notifyf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* berth_notify_monotonic_usec() - CLOCK_MONOTONIC in microseconds (for MONOTONIC_USEC=). */
uint64_t berth_notify_monotonic_usec(void);
