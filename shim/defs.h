/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * shim/defs.h: what every file of the preload library uses: the export
 * marker and branch hints. The rooms of the library, and which header
 * owns what, are listed in shim/README.
 */
#ifndef LOCKSPACE_SHIM_DEFS_H
#define LOCKSPACE_SHIM_DEFS_H

#include <assert.h>

#define SHIM_EXPORT __attribute__((visibility("default")))
#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

#endif
