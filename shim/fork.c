/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * shim/fork.c: the fork child starts with an empty table.
 *
 * The child owns none of its parent's locks (POSIX) and must not keep
 * the parent's anchors: its copies hold the parent's OFD locks. Other
 * threads of the parent may have been inside the shim when it forked, so
 * the child trusts none of the locks or lists: it closes the anchors,
 * read from the plain byte array, in runs of consecutive numbers, and
 * starts with an empty table (the old one is left behind, unused).
 *
 * Every way the process makes a child runs this, or makes the child pass
 * through: fork() through pthread_atfork; _Fork(), which runs no atfork
 * handler, and clone() of a child with memory of its own, through their
 * wrappers (interpose.c), in the child before it returns; a clone()
 * child that shares our memory (CLONE_VM, as vfork) or our descriptors
 * (CLONE_FILES) passes through, as guard_passthrough() says. Until the
 * child has closed its copies the parent must not count on a close of an
 * anchor to drop its locks (files.c and anchor.c unlock first).
 */
#include "fork.h"
#include "defs.h"
#include "band.h"
#include "deadlock.h"
#include "fdstate.h"
#include "files.h"
#include "getlk.h"
#include "guard.h"
#include "posixbe.h"
#include "real.h"
#include "wait.h"

#include <pthread.h>
#include <sched.h>

CHILD_CODE static void close_ours(void)
{
	int max = atomic_load(&fd_state_max), run = -1;

	for (int fd = 0; fd <= max + 1; fd++) {
		int ours = fd <= max && fdstate_get(fd) == FD_OURS;

		if (ours && run < 0)
			run = fd;
		if (!ours && run >= 0) {
			if (real_close_range((unsigned)run, (unsigned)fd - 1,
					     0) < 0)
				for (int a = run; a < fd; a++)
					raw_close(a);
			run = -1;
		}
	}
}

CHILD_CODE void fork_child(void)
{
	close_ours();
	guard_atfork_child();
	/* Descriptors of one description in the parent still share it
	 * here: a lock the child takes through one counts the others. */
	fdstate_reset(1);
	files_atfork_child();
	band_reset();
	dl_forget();
	wait_atfork_child();
	getlk_atfork_child();
	posixbe_atfork_child(); /* its kept descriptors went with ours */
	if (atomic_load(&sib_scan.active))
		atomic_store(&sib_scan.active, 0); /* a scan the fork cut short */
}

void fork_init(void)
{
	pthread_atfork(NULL, NULL, fork_child);
}

/* A clone child with memory of its own starts here, on its new stack:
 * c is in its copy of the parent's stack, as it was at the clone. */
struct clone_call {
	int (*fn)(void *);
	void *arg;
	int flags;
};

static int clone_child(void *arg)
{
	const struct clone_call *c = arg;

	if (c->flags & CLONE_FILES) {
		/* Our descriptors are its own: it must change nothing of
		 * them. table_owner is the parent's, so it passes through. */
		atomic_store(&vfork_seen, 1);
	} else {
		fork_child();
	}
	return c->fn(c->arg);
}

int fork_clone(int (*fn)(void *), void *stack, int flags, void *arg,
	       pid_t *ptid, void *tls, pid_t *ctid)
{
	struct clone_call c = {fn, arg, flags};

	if (flags & CLONE_VM) {
		/* Our memory, its own pid (a thread has ours): as vfork. */
		if (!(flags & CLONE_THREAD))
			atomic_store(&vfork_seen, 1);
		return real_clone(fn, stack, flags, arg, ptid, tls, ctid);
	}
	return real_clone(clone_child, stack, flags, &c, ptid, tls, ctid);
}
