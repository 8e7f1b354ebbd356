/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * shim/fork.h: what a fork child owns (nothing of its parent's locks).
 */
#ifndef LOCKSPACE_SHIM_FORK_H
#define LOCKSPACE_SHIM_FORK_H

/* Register the child's handler (the constructor). */
void fork_init(void);

#endif
