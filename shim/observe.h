/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * shim/observe.h: telling the user where a lock would be (or was) lost
 * (observe.c says how), and mode = observe's lock requests.
 */
#ifndef LOCKSPACE_SHIM_OBSERVE_H
#define LOCKSPACE_SHIM_OBSERVE_H

#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "files.h"

/* Ranges a close drops under plain POSIX that the contract keeps. Gathered
 * before the real close, reported (and, in observe mode, forgotten) after
 * it by loss_finish(). */
#define LOSS_MAX 16
struct loss {
	int active, observe;
	dev_t dev;
	ino_t ino;
	int fd;
	const char *func;
	void *caller;
	size_t n, more;
	struct {
		int fd;
		int type;
		int64_t start, end;
	} r[LOSS_MAX];
	char path[256];
};

/* l starts empty. */
void loss_init(struct loss *l);
/* Before the close of fd, a descriptor of holder h: table_lock held. */
void loss_tracked(struct loss *l, struct ls_holder *h, int fd,
		  const char *func, void *caller);
/* Before the close of an untracked fd: takes the locks itself, or, for
 * loss_untracked_locked, with table_lock held. */
void loss_untracked(struct loss *l, int fd, const char *func, void *caller);
void loss_untracked_locked(struct loss *l, int fd, const char *func,
			   void *caller);
/* After the real close (closed: it closed something), nothing held. */
void loss_finish(struct loss *l, int closed);

/* f->mu held, observe mode or backend = posix (posixbe.h): what the
 * table holds and the kernel does not was lost by a close the shim did
 * not see. Forget it, and say so (lock-loss-unseen). */
void observe_unseen(struct ls_file *f);
/* The same comparison whatever the mode, for a close the shim saw (func,
 * fd): what the kernel no longer holds is forgotten and reported as
 * event. The count of ranges lost. f->mu held. */
int observe_forget_lost(struct ls_file *f, const char *event,
			const char *func, int fd);
/* Add a range to l (past LOSS_MAX, counted). */
void loss_add(struct loss *l, int fd, int64_t s, int64_t e, int type);
/* Write l as event of f (func, fd: the close; -1 none) at level, f->mu
 * held. */
void loss_report(struct loss *l, const struct ls_file *f, const char *event,
		 int level, const char *func, int fd);
/* mode = observe: fl (the caller's request, type over [start, end]
 * resolved) goes to the kernel through fd; the table follows. 0 or
 * -errno. Nothing held. */
int observe_set(int fd, int cmd, const struct flock *fl, int type,
		int64_t start, int64_t end);

#endif
