/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * shim/deadlock.h: EDEADLK between shimmed processes (deadlock.c says
 * how the wait registry works).
 */
#ifndef LOCKSPACE_SHIM_DEADLOCK_H
#define LOCKSPACE_SHIM_DEADLOCK_H

#include <stdint.h>
#include <sys/types.h>

/* Before blocking: publish, then look for a cycle. 0 to go on waiting
 * (dl_wait_end() withdraws the entry), -EDEADLK (entry withdrawn). */
int dl_wait_begin(dev_t dev, ino_t ino, int64_t start, int64_t end, int type);
void dl_wait_end(void);
/* The fork child waits for nothing. */
void dl_forget(void);

#endif
