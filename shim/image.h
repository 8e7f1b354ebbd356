/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * shim/image.h: whether the image an exec will load runs this library.
 *
 * The anchors can go over to a new image only if the shim is there to
 * take them in: in an image without it they would be stray descriptors
 * carrying OFD locks (an unlock there releases nothing, F_GETLK reports
 * its own lock as another's, an upgrade waits on itself). The answer
 * comes from what the exec will load, read before it (image.c says how
 * and what it cannot see); when in doubt, "no": the locks then go over
 * as plain POSIX locks, which an image with the shim takes as locks
 * taken past it (a fallback), never as a wrong table.
 */
#ifndef LOCKSPACE_SHIM_IMAGE_H
#define LOCKSPACE_SHIM_IMAGE_H

#include "exec.h"

/* 1 when the image exec call c with environment envp will load runs
 * this library, else 0. Opens and closes files of its own (the caller
 * holds no lock of ours); errno is kept. */
int image_runs_shim(const struct exec_call *c, char *const envp[]);

#endif
