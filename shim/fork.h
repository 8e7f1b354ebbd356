/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * shim/fork.h: what a fork child owns (nothing of its parent's locks).
 */
#ifndef LOCKSPACE_SHIM_FORK_H
#define LOCKSPACE_SHIM_FORK_H

#include <sys/types.h>

/* Register the child's handler (the constructor). */
void fork_init(void);
/* In a child with memory of its own (fork, _Fork, clone): forget the
 * table, close our copies of the parent's descriptors. */
void fork_child(void);
/* clone(): its arguments, as glibc's clone takes them. */
int fork_clone(int (*fn)(void *), void *stack, int flags, void *arg,
	       pid_t *ptid, void *tls, pid_t *ctid);

#endif
