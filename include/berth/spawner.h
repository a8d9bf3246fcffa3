/* SPDX-License-Identifier: BSD-2-Clause */
/* The session spawner: one clean berthd image, exec'd by the master at start-up, that
 * forks every session worker (see src/priv/spawner.c and docs/DESIGN.md). */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define SPAWNER_ARGV_MARK "--internal-spawner"

/* The worker's descriptors, in the order they become fds 3..7 (worker.c). */
enum {
	SPAWN_FD_SESSION,
	SPAWN_FD_POLICY,
	SPAWN_FD_STATE,
	SPAWN_FD_LIVE,
	SPAWN_FD_AUDIT,
	SPAWN_NFDS,
};

#define SPAWN_MAX_ARGS   64
#define SPAWN_MAX_GROUPS 4096
#define SPAWN_MSG_MAX    (64 * 1024)

struct spawn_request {
	bool privileged; /* become uid/gid/groups (else run as the spawner's own user) */
	uid_t uid;
	gid_t gid;
	const gid_t *groups;
	size_t n_groups;
	char *const *argv;   /* the worker's argv (worker_exec_main), NULL-terminated */
	int fds[SPAWN_NFDS]; /* -1 = none; SPAWN_FD_SESSION is required */
};

/* Master: fork and exec the spawner (log settings for its own messages). Monitors
 * forked afterwards inherit the request socket. 0, or -errno (sessions then start by
 * exec, as before). */
int spawner_start(int log_level, bool log_stderr, int facility);
/* Master: @pid was reaped; true if it was the spawner (it is restarted by the next
 * spawner_ensure()). */
bool spawner_reaped(pid_t pid, int status);
/* Master: start the spawner again if it is gone and the last start is 10 s old. */
void spawner_ensure(void);
/* Close this process's request socket (the network child must never hold it). */
void spawner_forget(void);

/* Monitor: start a worker through the spawner. On success *ret_pid is the worker and
 * *ret_exit_fd the socket that reports its wait status (spawner_exit_status()); closing
 * it kills the worker. -EPIPE/-ENOTCONN/-EBADF when there is no spawner (no request was
 * made: the caller may fork and exec the worker itself); other -errno: refused. */
int spawner_spawn(const struct spawn_request *r, pid_t *ret_pid, int *ret_exit_fd);
/* Monitor: 1 with *ret_status (a wait status) once the worker exited, 0 while it runs,
 * waiting at most @wait_ms (-1: until it exits). A spawner that died reports SIGKILL
 * (its workers die with it). */
int spawner_exit_status(int exit_fd, int wait_ms, int *ret_status);

/* main() of the spawner (argv[1] == SPAWNER_ARGV_MARK). */
int spawner_main(int argc, char **argv);
