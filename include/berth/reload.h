/* SPDX-License-Identifier: BSD-2-Clause */
/* berthd's live reload (SIGHUP, `berthctl reload`) and its status file.
 *
 * The master builds a complete new generation (configuration, libssh bind with the host
 * keys, FTPS TLS context) beside the old one; only when everything loaded does it open
 * the new listeners (reusing the sockets of unchanged addresses) and swap. A refused
 * reload leaves the old generation in force. Every outcome is recorded in the status
 * file (see reload_status_path()) that `berthctl reload` waits for.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <libssh/libssh.h>
#include <libssh/server.h>

#include "berth/conf.h"
#include "berth/daemon.h"

struct tls_server;

/**
 * struct daemon_gen - what the master serves new connections with.
 * @cfg: the configuration (owned).
 * @bind: libssh bind with the host keys (owned until the master takes it).
 * @tls: FTPS server context or NULL (owned until the master takes it).
 */
struct daemon_gen {
	struct berth_config cfg;
	ssh_bind bind;
	struct tls_server *tls;
};

/**
 * reload_build() - load and check a new generation from rt->config_path.
 * @rt: runtime (config path, -p override).
 * @ret: the new generation (free with reload_gen_free()).
 * @errors: every problem, "file:line: message" where a file is concerned.
 *
 * The check that reads the accounts file (hashes) runs in a throw-away child, exactly as
 * `berthd -t` does, so the master's memory never holds a password hash.
 *
 * Return: 0, BERTH_CONF_E_INVALID (see @errors) or -errno.
 */
int reload_build(const struct daemon_runtime *rt, struct daemon_gen **ret,
                 struct berth_errors *errors);

/* reload_gen_free() - free @g (its bind and TLS context if still owned). NULL is fine. */
void reload_gen_free(struct daemon_gen *g);

/**
 * reload_status_path() - the status file belonging to @pid_file: its ".pid" suffix
 * replaced by ".reload" (appended when there is none); /run/berthd/berthd.pid gives
 * /run/berthd/berthd.reload.
 *
 * Return: a heap string, or NULL when @pid_file is NULL (PidFile none).
 */
char *reload_status_path(const char *pid_file);

/**
 * struct reload_status - one record of the status file.
 * @generation: 0 at startup, +1 per SIGHUP.
 * @pid: the master that wrote it.
 * @ok: the generation is in force (false: refused, the previous one stays).
 * @errors: why it was refused ("file:line: message").
 */
struct reload_status {
	uint64_t generation;
	pid_t pid;
	bool ok;
	struct berth_errors errors;
};

/**
 * reload_status_write() - replace @path atomically (temporary file, rename) with:
 *   "generation N\npid P\nresult ok|refused\n" then "error MESSAGE\n" per error.
 *
 * Return: 0 or -errno.
 */
int reload_status_write(const char *path, const struct reload_status *st);

/**
 * reload_status_read() - parse a status file written by reload_status_write().
 *
 * Return: 0, -ENOENT, -EBADMSG (malformed) or -errno; free @ret->errors after 0.
 */
int reload_status_read(const char *path, struct reload_status *ret);

/**
 * struct reload_master - the master's reload bookkeeping (src/daemon/master.c hooks).
 * @rt: runtime.
 * @cfg: the master's pointer to the configuration in force (updated by a swap).
 * @bind: the master's libssh bind variable (replaced by a swap).
 * @tls: the master's FTPS context variable (replaced by a swap).
 * @gen: the generation in force once a reload succeeded (the startup configuration
 *       belongs to main()).
 * @generation: 0 at startup, +1 per reload attempt.
 * @status_path: from the startup PidFile (reload_status_path()), or NULL.
 */
struct reload_master {
	const struct daemon_runtime *rt;
	const struct berth_config **cfg;
	ssh_bind *bind;
	struct tls_server **tls;
	struct daemon_gen *gen;
	uint64_t generation;
	char *status_path;
};

/* reload_master_init() - listeners are open: record generation 0, notify READY=1. */
void reload_master_init(struct reload_master *m, const struct daemon_runtime *rt,
                        const struct berth_config **cfg, ssh_bind *bind, struct tls_server **tls);

/* reload_master_begin() - SIGHUP received: next generation, notify RELOADING=1. */
void reload_master_begin(struct reload_master *m);

/* reload_master_swap() - put @g in force (takes it); the old bind, TLS context and
 * configuration are freed (connection processes have their own copies). */
void reload_master_swap(struct reload_master *m, struct daemon_gen *g);

/* reload_master_end() - log the outcome (each error as file:line), write the status file,
 * notify READY=1 with a STATUS= line. */
void reload_master_end(struct reload_master *m, bool ok, const struct berth_errors *errors);

/* reload_master_stop() - shutting down: notify STOPPING=1, remove the status file, free
 * the reloaded generation (the master frees its bind and TLS variables itself). */
void reload_master_stop(struct reload_master *m);
