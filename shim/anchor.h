/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * shim/anchor.h: the anchors, the shim's own descriptors that carry the
 * kernel locks (DESIGN.md, "How protect keeps a lock: the anchor"), and
 * the kernel lock calls made on them.
 *
 * An anchor is a reopen of the program's file through /proc/self/fd/N,
 * close-on-exec, moved into the band (band.h), holding the union of the
 * holders' ranges as OFD locks; read-only until a write lock needs it
 * for writing. Every close of a descriptor of a file drops the process's
 * classic POSIX locks on it, so the shim's own closes (of the low number
 * the reopen got, of an old anchor) first ask whether the process holds
 * any, which happens only when a lock was taken past the interposer
 * (lckpwdf(), a raw syscall).
 */
#ifndef LOCKSPACE_SHIM_ANCHOR_H
#define LOCKSPACE_SHIM_ANCHOR_H

#include <fcntl.h>
#include <stdint.h>

#include "range.h"

/* A struct flock for [start, end] (end LSR_OFF_MAX: to EOF), SEEK_SET. */
void range_to_flock(struct flock *fl, int type, int64_t start, int64_t end);
/* A lock call of cmd (F_OFD_SETLK, F_SETLK, ...) for type over
 * [start, end] through fd: the kernel's answer, errno kept from it. */
int klock(int fd, int cmd, int type, int64_t start, int64_t end);

/* Each anchor's number lives in one variable, its home (a file's
 * f->anchor, files.h), which the functions below keep up to date; -1
 * there: no anchor. The caller holds what guards the home. */

/* A new anchor at *home (-1 before), reopened from the program's fd,
 * read-only unless rw: 0, or -errno. */
int anchor_open(int *home, int fd, int rw);
/* The read-only anchor at *home becomes one opened for writing, with its
 * read locks (map) moved over first: 0, or -errno (-EDEADLK: a POSIX lock
 * of ours is on the file). */
int anchor_upgrade(int *home, const struct lsr_set *map, int fd);
/* Close the anchor at *home, if there is one. */
void anchor_close(int *home);
/* Does the process hold a classic POSIX lock on fd's file? */
int anchor_own_posix(int fd);
/* Is fl, as F_OFD_GETLK through fd reported it, the process's own POSIX
 * lock (a lock taken past the shim)? */
int anchor_lock_is_own_posix(int fd, const struct flock *fl);

/* A private duplicate of the anchor afd in the band (an F_SETLKW waiter
 * waits on it), FD_OURS with its number at *home: 0 or -errno.
 * table_lock held for writing. */
int anchor_dup_private(int afd, int *home);
/* The program's dup2()/dup3() is about to close fd2, which is ours: move
 * it to another number first and tell its home; a descriptor without a
 * home is given up. 0, or -1 with errno. table_lock for writing. */
int anchor_evict(int fd2);

#endif
