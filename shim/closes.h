/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * shim/closes.h: every way a descriptor is made or goes away, past the
 * fast path of interpose.c: close, fclose, closedir, freopen, fcloseall,
 * dup, F_DUPFD, dup2, dup3, close_range, closefrom.
 *
 * Close in two steps: before the real close, take the descriptor out of
 * the table (so that a number the kernel hands out again never counts
 * for the old holder) and gather what plain POSIX would drop here
 * (observe.h); after it, release the holder (so that fclose()'s flush
 * still runs under the lock) and report. caller is the program's return
 * address, for the report.
 */
#ifndef LOCKSPACE_SHIM_CLOSES_H
#define LOCKSPACE_SHIM_CLOSES_H

#include <dirent.h>
#include <stdio.h>

#include "band.h"
#include "fdstate.h"

int closes_close(int fd, void *caller);
int closes_fclose(FILE *f, int fd, void *caller);
int closes_closedir(DIR *d, int fd, void *caller);
/* wide: freopen64 (O_LARGEFILE on i386). */
FILE *closes_freopen(const char *path, const char *mode, FILE *f, int fd,
		     int wide, void *caller);
int closes_fcloseall(void);

/* dup() and F_DUPFD* of a tracked descriptor. */
int closes_dup(int fd);
int closes_dupfd(int fd, int cmd, int arg);
/*
 * A dup of untracked fd (dup: cmd -1, or F_DUPFD or F_DUPFD_CLOEXEC with
 * minimum min) gave r, or -1 with errno. Plain POSIX hands out the
 * lowest number >= min that is free: when one of ours holds a lower one
 * (band_above) or the last one free (EMFILE), ours moves away, or its
 * file falls back to POSIX locks when no other number can be had, and
 * the program gets the number it would have had.
 */
int closes_dup_number(int fd, int cmd, int min, int r);
/* closes_dup_number(), then closes_dup_made() for what it gives: the
 * fast paths' one call on that branch. */
int closes_dup_placed(int fd, int cmd, int min, int r)
	__attribute__((cold));
/* Whether r may be misplaced: any failure goes to closes_dup_placed(),
 * which looks at errno there (reading it here would cost the fast path
 * a call). */
static inline int closes_dup_misplaced(int r)
{
	return r < 0 || band_above(r);
}
/* A dup made without the lock, r of untracked fd, whose first lock won
 * the race to mark it: r joins fd's holder as a dup under the lock
 * would. */
void closes_dup_raced(int fd, int r);

/* r is a new number the kernel chose for a dup of untracked fd, made
 * without the lock: both are marked as dups (FD_DUP), unless a first
 * lock through fd won the race. */
static inline void closes_dup_made(int fd, int r)
{
	if (likely(fdstate_mark_dup(fd)))
		fdstate_mark_dup_new(r);
	else
		closes_dup_raced(fd, r);
}
/* fd arrived from outside (recvmsg's SCM_RIGHTS, pidfd_getfd): it may
 * be a copy of a description of ours that we did not see made. */
void closes_received(int fd);
/* The SCM_RIGHTS descriptors of a message recvmsg filled. */
struct msghdr;
void closes_received_msg(const struct msghdr *msg);
/* dup2() and dup3() (is_dup3), which close fd2 when it is open. */
int closes_dup_over(int fd, int fd2, int flags, int is_dup3, void *caller);
/* close_range() (func names the call in reports) and closefrom(). */
int closes_close_range(unsigned first, unsigned last, int flags,
		       const char *func, void *caller);
void closes_closefrom(int lowfd, void *caller);

#endif
