/* SPDX-License-Identifier: BSD-2-Clause */
/* State shared by all sessions of one account: quota usage, bandwidth clocks, and the
 * reservations of unnamed temporary files that vanish with a killed session.
 *
 * One small file per account, StateDirectory/quota/<account>, created and opened by the
 * root monitor and handed to the worker as an open fd (the worker never opens it by
 * name). The worker maps it MAP_SHARED; counters change with atomic compare-and-swap, so
 * concurrent sessions never lose an update and the counters survive restarts. OFD locks
 * (released by the kernel when a process dies) guard the one-time usage scan and mark
 * which session owns which reservation slot, so a SIGKILLed session's temporary bytes
 * are given back by the next session.
 *
 * Concurrent logins (MaxLogins) are counted with OFD locks on the bytes of
 * StateDirectory/sessions/<account>: slot i is taken while byte i is locked.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

struct policy_state;

/* Positive results: policy_login_slot(), policy_state_rescan(). */
enum { POLICY_STATE_FULL = 1, POLICY_STATE_BUSY = 2 };

/**
 * policy_state_file_name() - the file name used for @account under quota/ and sessions/:
 * the name, with bytes outside [A-Za-z0-9._@+-] and a leading '.' as %XX.
 * @account: account name.
 *
 * Return: heap string.
 */
char *policy_state_file_name(const char *account);

/**
 * policy_state_open() - open (creating) StateDirectory/quota/<account>, mode 0600, and
 * the quota/ directory (0700). For the privileged monitor.
 * @state_dir: StateDirectory.
 * @account: account name.
 * @ret_fd: O_RDWR | O_CLOEXEC fd.
 *
 * Return: 0 or -errno.
 */
int policy_state_open(const char *state_dir, const char *account, int *ret_fd);

/**
 * policy_state_invalidate() - mark the usage unknown: the next session recomputes it by
 * walking the jail (`berthctl quota rescan`).
 * @fd: state file.
 *
 * Return: 0 or -errno.
 */
int policy_state_invalidate(int fd);

/**
 * policy_state_map() - map the state file (taking ownership of @fd), or with @fd -1 an
 * anonymous state private to this process (the drop-in).
 * @fd: from policy_state_open(), or -1.
 * @ret: mapping.
 *
 * Return: 0, -EINVAL (not a state file), or -errno.
 */
int policy_state_map(int fd, struct policy_state **ret);

/* Unmap and close; NULL is fine. Returns NULL. */
struct policy_state *policy_state_unmap(struct policy_state *s);

/**
 * policy_state_attach() - start a session: under the state's lock, give back the
 * reservations of sessions that died, compute the usage with @scan if it is unknown,
 * and take a reservation slot for this session.
 * @s: state.
 * @scan: walks the jail; returns 0 with bytes and regular files, or -errno.
 * @ctx: for @scan.
 *
 * Return: 0 or -errno (from locking or @scan).
 */
int policy_state_attach(struct policy_state *s,
                        int (*scan)(void *ctx, uint64_t *bytes, uint64_t *files), void *ctx);

/**
 * policy_state_reserve() - add @bytes and @files to the usage unless that would pass a
 * non-zero limit (atomically, so concurrent sessions cannot both pass).
 * @s: state.
 * @bytes: bytes to add.
 * @files: files to add.
 * @max_bytes: QuotaSize, 0 = none.
 * @max_files: QuotaFiles, 0 = none.
 *
 * Return: 0 or -EDQUOT (nothing added).
 */
int policy_state_reserve(struct policy_state *s, uint64_t bytes, uint64_t files, uint64_t max_bytes,
                         uint64_t max_files);
/**
 * policy_state_touch() - a change reserved earlier has reached the disk (a write landed, a
 * file was created): a policy_state_rescan() walking meanwhile walks again, so it never
 * stores a walk that saw the file before the change while the counter already held it.
 * @s: state.
 */
void policy_state_touch(struct policy_state *s);
/* Give back; the counters never go below zero. */
void policy_state_release(struct policy_state *s, uint64_t bytes, uint64_t files);
/* Current usage. */
void policy_state_usage(const struct policy_state *s, uint64_t *ret_bytes, uint64_t *ret_files);

/**
 * policy_state_volatile() - record (positive) or drop (negative) reservations that belong
 * to this session's unnamed temporary files: they are given back automatically if the
 * session dies before naming or closing them.
 * @s: state.
 * @bytes: change in bytes.
 * @files: change in files.
 */
void policy_state_volatile(struct policy_state *s, int64_t bytes, int64_t files);

/**
 * struct policy_state_rescan_report - what policy_state_rescan() saw and did.
 * @old_valid: the usage was known before.
 * @old_bytes: usage before (bytes).
 * @old_files: usage before (regular files).
 * @stored: the usage was written.
 * @bytes: usage written (as of the walk; changes after it are kept on top).
 * @files: likewise.
 * @moved_bytes: how far sessions moved the byte counter during the walk.
 * @moved_files: likewise for files.
 */
struct policy_state_rescan_report {
	bool old_valid;
	uint64_t old_bytes, old_files;
	bool stored;
	uint64_t bytes, files;
	uint64_t moved_bytes, moved_files;
};

/**
 * policy_state_rescan() - recompute the usage while sessions may be running (`berthctl
 * quota rescan`). Under the state's lock (no session attaches and no other scan runs
 * meanwhile; reservations of dead sessions are given back first), @scan walks the jail.
 * Its result, plus live sessions' unnamed temporary files, is stored only if no session
 * changed the usage during the walk (a generation counter every change bumps, and the
 * counters themselves); changes after the walk are kept on top of it (compare-and-swap),
 * so nothing a running session does afterwards is lost.
 * When the usage moved during the walk (writes in flight), the walk may have seen a file
 * before or after a write: nothing is stored and POLICY_STATE_BUSY returned, unless
 * @store_anyway: then the walk's result is stored plus whatever was added during it (an
 * upload in flight is over-counted by at most what it wrote during the walk, never
 * under-counted; a file deleted during the walk may still be counted).
 * The policy layer reserves before it writes and gives back after it deletes, and
 * tells the state when a reserved change landed (policy_state_touch()), so a change in
 * flight while the walk passes its file disturbs the walk. What the check cannot see:
 * a session stalled between its disk change and the counter update (or the touch) for
 * the whole rest of a walk; its one change in flight is then missing from the usage (a
 * write that landed after the walk passed its file, or a delete given back after the
 * walk had already not counted the file).
 * @s: state (a real file).
 * @scan: walks the jail; 0 with bytes and regular files, or -errno.
 * @ctx: for @scan.
 * @store_anyway: see above.
 * @ret: report (filled on 0 and POLICY_STATE_BUSY).
 *
 * Return: 0 (stored), POLICY_STATE_BUSY, or -errno (locking, @scan).
 */
int policy_state_rescan(struct policy_state *s,
                        int (*scan)(void *ctx, uint64_t *bytes, uint64_t *files), void *ctx,
                        bool store_anyway, struct policy_state_rescan_report *ret);

/**
 * struct policy_state_info - a read-only look at an account's state file.
 * @initialised: a session (or a rescan) has set the file up.
 * @valid: the usage is known (else the next session walks the jail first).
 * @bytes: usage in bytes (QuotaSize), including @temp_bytes.
 * @files: usage in regular files (QuotaFiles), including @temp_files.
 * @temp_bytes: reserved for live sessions' unnamed temporary files (atomic uploads).
 * @temp_files: likewise.
 * @sessions: sessions attached now (holding a reservation slot; at most 64 are tracked).
 * @scanning: a usage walk (a session's first scan, or a rescan) holds the lock now.
 */
struct policy_state_info {
	bool initialised;
	bool valid;
	uint64_t bytes, files;
	uint64_t temp_bytes, temp_files;
	uint32_t sessions;
	bool scanning;
};

/**
 * policy_state_read() - read StateDirectory/quota/<account> without changing anything
 * (opened read-only, never created; `berthctl quota show`, `berthctl explain`).
 * @state_dir: StateDirectory.
 * @account: account name.
 * @ret: what it holds.
 *
 * Return: 0, -ENOENT (no session has needed it yet), or -errno.
 */
int policy_state_read(const char *state_dir, const char *account, struct policy_state_info *ret);

enum policy_state_dir { POLICY_STATE_UP = 0, POLICY_STATE_DOWN = 1 };

/**
 * policy_state_throttle() - bandwidth (GCRA, shared by the account's sessions): may
 * @bytes move now at @rate bytes/s? Charges them when allowed.
 * @s: state.
 * @dir: upload or download clock.
 * @rate: bytes per second (> 0).
 * @bytes: amount about to move.
 * @now_ns: CLOCK_MONOTONIC now.
 * @ret_retry_ns: when refused, the CLOCK_MONOTONIC time to try again.
 *
 * Return: 0 (go) or -EAGAIN.
 */
int policy_state_throttle(struct policy_state *s, enum policy_state_dir dir, uint64_t rate,
                          uint64_t bytes, uint64_t now_ns, uint64_t *ret_retry_ns);

/**
 * policy_login_slot() - take one of @max concurrent-login slots of @account: an OFD lock
 * on one byte of StateDirectory/sessions/<account>, held as long as the returned fd is
 * open in some process (it is released by the kernel when the last one exits).
 * @state_dir: StateDirectory.
 * @account: account name.
 * @max: MaxLogins (> 0).
 * @ret_fd: the fd holding the slot.
 * @ret_slot: the slot number taken.
 *
 * Return: 0, POLICY_STATE_FULL (every slot is taken), or -errno.
 */
int policy_login_slot(const char *state_dir, const char *account, uint32_t max, int *ret_fd,
                      uint32_t *ret_slot);

/**
 * policy_login_count() - how many of the first @max concurrent-login slots of @account
 * are held now (read-only; `berthctl explain` for MaxLogins): a login gets a slot while
 * this is below @max.
 * @state_dir: StateDirectory.
 * @account: account name.
 * @max: MaxLogins.
 * @ret_used: slots held (0 when no login has ever taken one).
 *
 * Return: 0 or -errno.
 */
int policy_login_count(const char *state_dir, const char *account, uint32_t max,
                       uint32_t *ret_used);
