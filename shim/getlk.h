/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * shim/getlk.h: who holds an OFD lock that F_GETLK reported with
 * l_pid -1 (getlk.c says how it is found).
 */
#ifndef LOCKSPACE_SHIM_GETLK_H
#define LOCKSPACE_SHIM_GETLK_H

#include <fcntl.h>
#include <sys/types.h>

/* The pid of the shimmed process whose anchor holds the lock fl (its
 * whole range, as F_OFD_GETLK reported it) on (dev, ino), or -1. */
pid_t getlk_find_pid(dev_t dev, ino_t ino, const struct flock *fl);
/* The fork child keeps no answer of its parent's. */
void getlk_atfork_child(void);

#endif
