/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * shim/lockcmd.h: the lock commands of fcntl (F_SETLK, F_SETLKW, F_GETLK)
 * under the policy of the file: resolved as the kernel resolves them,
 * applied to the table and the anchor, or passed to the kernel.
 */
#ifndef LOCKSPACE_SHIM_LOCKCMD_H
#define LOCKSPACE_SHIM_LOCKCMD_H

#include <fcntl.h>

/* fcntl(fd, cmd, fl) for a lock command, with the kernel's answer and
 * errno. */
int lockcmd(int fd, int cmd, struct flock *fl);
/* F_GETLK that also says whether the answer is another holder of this
 * process (conflicts = fd), which lockf(F_TEST) must call busy. */
int lockcmd_getlk(int fd, struct flock *fl, int *in_process);
struct ls_file;
/* f's locks become plain POSIX locks through its holders' descriptors,
 * for good, and its anchor closes (unlocked first): its number is
 * needed and no other can be had (why, err: for the log). A moment
 * passes between the anchor's unlock and the POSIX locks. table_lock
 * held for writing. */
void lockcmd_fallback_close(struct ls_file *f, const char *why, int err);
/* f's map as plain POSIX locks through its holders' descriptors (one
 * with the access each type needs); a range that cannot be taken is
 * logged as lost. The anchor must be closed already. */
void lockcmd_map_to_posix(const struct ls_file *f);
/* The program's F_OFD_GETLK (the kernel's until a lock was taken): the
 * anchor's locks,
 * which stand for the process's POSIX locks, name its pid, as plain
 * POSIX locks would; another shimmed process's name that process. */
int lockcmd_ofd_getlk(int fd, struct flock *fl);

#endif
