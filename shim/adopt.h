/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * shim/adopt.h: the new image of an exec takes over what the old one
 * held (adopt.c says how it checks the claim).
 */
#ifndef LOCKSPACE_SHIM_ADOPT_H
#define LOCKSPACE_SHIM_ADOPT_H

#include "files.h"
#include "handoff.h"

/* Constructor time, before main. */
void adopt_handoff(void);
/* The holders hs[0..nh) of a hand-over into lf, their spans taking the
 * types of map[0..nmap): 0, or -1 out of memory. Both backends' files. */
int adopt_holders(struct ls_file *lf, const struct hf_holder *hs, size_t nh,
		  const struct hf_range *map, size_t nmap);

#endif
