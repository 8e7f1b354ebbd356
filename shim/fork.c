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
 */
#include "fork.h"
#include "band.h"
#include "deadlock.h"
#include "fdstate.h"
#include "files.h"
#include "getlk.h"
#include "guard.h"
#include "real.h"
#include "wait.h"

#include <pthread.h>

static void close_ours(void)
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

static void atfork_child(void)
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
	atomic_store(&sib_scan.active, 0); /* a scan the fork cut short */
}

void fork_init(void)
{
	pthread_atfork(NULL, NULL, atfork_child);
}
