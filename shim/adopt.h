/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * shim/adopt.h: the new image of an exec takes over what the old one
 * held (adopt.c says how it checks the claim).
 */
#ifndef LOCKSPACE_SHIM_ADOPT_H
#define LOCKSPACE_SHIM_ADOPT_H

/* Constructor time, before main. */
void adopt_handoff(void);

#endif
