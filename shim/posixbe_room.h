/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * shim/posixbe_room.h: what posixbe.c lends posixbe_exec.c, and nobody
 * else (the backend's interface is posixbe.h).
 */
#ifndef LOCKSPACE_POSIXBE_ROOM_H
#define LOCKSPACE_POSIXBE_ROOM_H

#include "files.h"

/* The deferred closes of f happen (its map empty: they drop nothing the
 * table holds). table_lock for writing. */
void pb_flush_locked(struct ls_file *f);
/* More than POSIXBE_KEEP_MAX kept descriptors of f: all close at once and
 * the locks are taken again. table_lock for writing. */
void pb_over_limit(struct ls_file *f);
/* fd, a descriptor of f, is kept: close-on-exec, the shim's, counted. */
void pb_keep(int fd, struct ls_file *f);

#endif
