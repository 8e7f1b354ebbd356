/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * shim/wait.h: the ways a lock request waits.
 *
 * F_SETLKW that the kernel refuses for now waits on a private dup of
 * the anchor with nothing of ours held (wait_anchor), then is applied
 * again on the current anchor. Under conflicts = fd, a request that
 * conflicts with another holder of this process waits in-process
 * (wait_local) for a change of the table (table_changed, guard.h).
 */
#ifndef LOCKSPACE_SHIM_WAIT_H
#define LOCKSPACE_SHIM_WAIT_H

#include <stdint.h>

#include "files.h"

/* ---- conflicts = fd: waiting for another holder of this process ------ */
/* Wait, through holder req, for holder blk (which thread blk_tid last
 * locked through) to let go: 0 to try again, -EINTR, or -EDEADLK when
 * the wait could never end. The caller counted itself in table_waiters
 * and read gen (table_generation) under the file's mutex; this uncounts
 * it. Nothing of ours held. */
int wait_local(uint64_t req, uint64_t blk, pid_t blk_tid, unsigned gen);

/* ---- F_SETLKW: waiting in the kernel ----------------------------------- */
/* Wait for the kernel to grant type over [start, end] of f, on a private
 * dup of its anchor, with nothing held. The caller pinned f (refs)
 * before it let go of the locks; a failed wait (-errno: -EINTR,
 * -EDEADLK, ...) unpins it, a granted one (0) leaves the pin to the
 * caller (wait_grant_drop or file_unpin). When no descriptor number is
 * left for the dup, it sleeps instead (longer with each round, the
 * count of waits of this request) and returns 0: the caller tries
 * again as after a grant. */
int wait_anchor(struct ls_file *f, int type, int64_t start, int64_t end,
		unsigned round);
/* Make the kernel lock on [start, end] of f match the table again after
 * a grant that did not count. f->mu held. */
void wait_resync(struct ls_file *f, int64_t start, int64_t end);
/* A grant of f that no attempt recorded goes (resync), and f's pin with
 * it. table_lock held for writing. */
void wait_grant_drop(struct ls_file *f, int64_t start, int64_t end);

/* The fork child waits for nothing. */
void wait_atfork_child(void);

#endif
