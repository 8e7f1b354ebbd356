/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * shim/deepbind.h: libraries loaded with dlopen(RTLD_DEEPBIND), whose
 * own symbol lookups search the library and its dependencies before the
 * global scope, so that their fcntl(), close(), ... bind to libc past
 * the preloaded shim (ldb loads its tdb backend so).
 *
 * The dlopen wrapper (interpose.c) is a jump with no stack frame: glibc
 * takes the caller's return address for $ORIGIN in the name, for the
 * search path of a name without '/' (the caller's RUNPATH) and for the
 * namespace. Without RTLD_DEEPBIND it jumps to libc's dlopen and nothing
 * else happens. With it, a name that has a '/' and no '$' does not depend
 * on the caller beyond the namespace (ours is the base one, as every
 * caller that reaches our symbol): the shim loads it itself, then points
 * the GOT entries of the objects that this load brought in, for the names
 * the shim exports, at the shim, where the deep lookup had bound them to
 * the very definition the shim forwards to (libc's). A library's own
 * definition of such a name, or another library's, stays bound. Any
 * other deep load keeps its caller and is reported once: its locks are
 * not protected.
 */
#ifndef LOCKSPACE_SHIM_DEEPBIND_H
#define LOCKSPACE_SHIM_DEEPBIND_H

/* libc's dlopen, NULL until the first call resolves it (read by the
 * wrapper's jump; written once, atomically). */
extern void *(*deepbind_real)(const char *, int);
/* Resolve deepbind_real and return it. */
void *(*deepbind_resolve(void))(const char *, int);
/* A dlopen with RTLD_DEEPBIND: 1 when the shim opens it itself
 * (deepbind_open), 0 when the wrapper jumps to libc (reported here). */
int deepbind_route(const char *file, int mode);
/* Open file with mode, then rebind what the load brought in. */
void *deepbind_open(const char *file, int mode);

/* The shim's exports by name (interpose.c), what a rebound GOT entry
 * points at: the addresses as the global scope resolves them. */
struct shim_export {
	const char *name;
	void *fn;
};
extern const struct shim_export shim_exports[];
extern const unsigned shim_nexports;

#endif
