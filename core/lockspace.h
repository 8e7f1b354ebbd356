/*
 * lockspace.h: named lock resources (the lockspace of libvirt's
 * virLockSpace), public API of liblockspace.
 *
 * A lockspace is a directory whose files are lock resources (or, with no
 * directory, resource names are absolute paths). A resource is acquired
 * shared or exclusive by an owner pid with a kernel record lock that other
 * processes see; inside the process a second conflicting acquire answers
 * "busy" (-EBUSY) without opening and closing another descriptor of the
 * file, which would drop the process's POSIX locks on it.
 *
 * Every function returns 0 or a negative errno unless its comment says
 * otherwise. All functions are thread-safe.
 */
#ifndef LOCKSPACE_H
#define LOCKSPACE_H

#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define LOCKSPACE_API __attribute__((visibility("default")))
#else
#define LOCKSPACE_API
#endif

struct lockspace;

#define LOCKSPACE_SHARED (1u << 0)
#define LOCKSPACE_AUTOCREATE (1u << 1)

/* A lockspace over dir (created 0700 if missing), or over absolute paths
 * when dir is NULL. NULL and errno on failure. */
LOCKSPACE_API struct lockspace *lockspace_new(const char *dir);
/* Releases every lock the lockspace holds and closes its descriptors. */
LOCKSPACE_API void lockspace_free(struct lockspace *ls);
/* The directory, or NULL for a lockspace over absolute paths. */
LOCKSPACE_API const char *lockspace_dir(const struct lockspace *ls);

/* Create the resource file (0600). -EEXIST if it exists. */
LOCKSPACE_API int lockspace_create_resource(struct lockspace *ls,
					    const char *name);
/* Delete the resource file. -EBUSY if anyone holds it, in this process or
 * another. */
LOCKSPACE_API int lockspace_delete_resource(struct lockspace *ls,
					    const char *name);

/* Acquire name for owner: exclusive, or shared with LOCKSPACE_SHARED;
 * with LOCKSPACE_AUTOCREATE the file is created when missing. -EBUSY when
 * held in a conflicting way (here or by another process) or when owner
 * already holds it; -ENOENT when missing without LOCKSPACE_AUTOCREATE. */
LOCKSPACE_API int lockspace_acquire(struct lockspace *ls, const char *name,
				    pid_t owner, unsigned flags);
/* Release owner's hold on name. -ENOENT if not held, -EPERM if held by
 * other owners only. */
LOCKSPACE_API int lockspace_release(struct lockspace *ls, const char *name,
				    pid_t owner);
/* Release everything owner holds; returns how many holds were released. */
LOCKSPACE_API int lockspace_release_owner(struct lockspace *ls, pid_t owner);

/* The state of ls as a string for handing across exec (clears
 * close-on-exec on the descriptors it lists). Caller frees. NULL and
 * errno on failure. */
LOCKSPACE_API char *lockspace_export(struct lockspace *ls);
/* A lockspace from an exported state, after checking every part of it.
 * NULL and errno (EINVAL for bad input) on failure. */
LOCKSPACE_API struct lockspace *lockspace_import(const char *state);

#ifdef __cplusplus
}
#endif

#endif
