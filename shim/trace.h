/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * shim/trace.h: a timeline of the locks, as Chrome trace-event JSON (the
 * format Perfetto and chrome://tracing open), for trace = FILE or
 * lockspace-run --trace FILE (trace.c says what is in it).
 *
 * Off (the default), it costs one relaxed load of trace_on on the lock
 * commands and on the changes of a file's map, and nothing on the fast
 * paths (close, dup, fcntl of a descriptor with no lock). On, each
 * event is a record in a per-thread ring, written out as JSON at exit,
 * before an exec and when the ring is three quarters full at a point
 * where nothing of ours is held; every step is async-signal-safe (no
 * allocation but mmap, no lock: a ring busy in the same thread drops
 * the record and counts it).
 */
#ifndef LOCKSPACE_SHIM_TRACE_H
#define LOCKSPACE_SHIM_TRACE_H

#include <fcntl.h>
#include <stdatomic.h>
#include <stdint.h>

struct ls_file;
struct loss;

extern atomic_int trace_on;

static inline int trace_active(void)
{
	return atomic_load_explicit(&trace_on, memory_order_relaxed);
}

/* log_setup(): the trace file (an absolute path), or NULL for none. */
void trace_setup(const char *path);

/* A change of f's map over [start, end] (apply does it), f->mu held: the
 * pieces of the map that end and begin are recorded as the spans of
 * the locks held. */
typedef void (*trace_apply_fn)(struct ls_file *f, void *arg);
void trace_change(struct ls_file *f, int64_t start, int64_t end,
		  trace_apply_fn apply, void *arg);

/* fcntl's lock commands while tracing (interpose.c): an F_SETLKW that
 * blocks is a wait span. Nothing of ours held. */
int trace_lockcmd(int fd, int cmd, struct flock *fl);

/* A lock loss (observe), a prevented one (protect) or an unseen one:
 * an instant with its caller (a logfmt value, log_caller's). lost: the
 * ranges as the log writes them. may_flush: nothing of ours is held. */
void trace_loss(const struct loss *l, const char *event, const char *lost,
		const char *caller, int may_flush);

/* Write out every ring (before an exec; at exit). */
void trace_flush(void);
/* The fork child: its parent's records are its parent's to write. */
void trace_atfork_child(void);

#endif
