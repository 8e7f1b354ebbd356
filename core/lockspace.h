/* SPDX-License-Identifier: LGPL-2.1-or-later */
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
 * The kernel lock is a whole-file POSIX lock (fcntl F_SETLK, l_len 0)
 * taken through the process's fcntl(), so that liblockspace-preload.so,
 * when preloaded, sees and keeps it like any lock of the program. All
 * lockspaces of a process share one registry of the files they hold,
 * keyed by (st_dev, st_ino): a file held by one lockspace is busy for
 * every other, even for two shared acquires (a second descriptor could
 * not be closed safely). Descriptors are close-on-exec, except after
 * lockspace_export().
 *
 * A forked child holds none of the kernel locks (POSIX); its copy of a
 * lockspace still lists them, answers busy for them, and may be freed:
 * that closes the child's descriptors and deletes no file.
 *
 * Locks this process took on a resource file by other means than a
 * lockspace are not known here: lockspace_delete_resource() opens and
 * closes the file and would drop them (unless the shim is preloaded).
 *
 * Every function returns 0 or a negative errno unless its comment says
 * otherwise; -EINVAL for a NULL lockspace or a bad argument. All
 * functions are thread-safe; a lockspace's own mutex is held only inside
 * its calls.
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

/* A lockspace over dir (created 0700 if missing; its canonical absolute
 * path is kept, so a later chdir changes nothing), or over absolute paths
 * when dir is NULL. NULL and errno on failure (EINVAL for "", ENOTDIR). */
LOCKSPACE_API struct lockspace *lockspace_new(const char *dir);
/* Releases every lock the lockspace holds (deleting exclusive
 * autocreated files, as lockspace_release does) and closes its
 * descriptors. NULL is ignored. */
LOCKSPACE_API void lockspace_free(struct lockspace *ls);
/* The directory, or NULL for a lockspace over absolute paths. */
LOCKSPACE_API const char *lockspace_dir(const struct lockspace *ls);

/* A resource name, with a directory, is one path component: "", ".",
 * "..", names containing '/' and names longer than NAME_MAX are -EINVAL.
 * Without a directory it must be an absolute path. */

/* Create the resource file (0600), without locking it. -EEXIST if it
 * exists. */
LOCKSPACE_API int lockspace_create_resource(struct lockspace *ls,
					    const char *name);
/* Delete the resource file. -EBUSY if anyone holds it, in this process or
 * another (it is unlinked only under an exclusive lock of our own);
 * -ENOENT if missing. */
LOCKSPACE_API int lockspace_delete_resource(struct lockspace *ls,
					    const char *name);

/* Acquire name for owner (>= 0): exclusive, or shared with
 * LOCKSPACE_SHARED; never blocks. With LOCKSPACE_AUTOCREATE the file is
 * created (0600) when missing, and an exclusive autocreated file is
 * deleted again on release, while still locked; acquire re-checks after
 * locking that the path still names the file it locked, and starts over
 * when it was deleted or replaced. A shared acquire of a resource this
 * lockspace holds shared adds the owner. -EBUSY when held in a
 * conflicting way (by this lockspace, another lockspace of the process,
 * or another process) or when owner already holds it; -ENOENT when
 * missing without LOCKSPACE_AUTOCREATE; -EINVAL for a bad name, unknown
 * flags, or a file that is not a regular file. */
LOCKSPACE_API int lockspace_acquire(struct lockspace *ls, const char *name,
				    pid_t owner, unsigned flags);
/* Release owner's hold on name; the kernel lock goes with the last owner.
 * -ENOENT if not held, -EPERM if held by other owners only. */
LOCKSPACE_API int lockspace_release(struct lockspace *ls, const char *name,
				    pid_t owner);
/* Release everything owner holds (a daemon calls it when a client dies);
 * returns how many holds were released, >= 0. */
LOCKSPACE_API int lockspace_release_owner(struct lockspace *ls, pid_t owner);

/* The state of ls as a string for handing across exec of the program
 * (POSIX locks survive exec on descriptors that stay open, so this clears
 * close-on-exec on the descriptors it lists). Versioned text:
 *   lockspace/1
 *   dir DIR            ("dir -" without a directory)
 *   resource fd=N shared=0|1 autocreate=0|1 owners=P,... spares=N,...
 *            path=PATH (one line per resource)
 *   end
 * with '%', space, control and non-ASCII bytes of strings as %XX. ls
 * stays usable; if the exec fails, free or keep it as before. Caller
 * frees the string. NULL and errno on failure. */
LOCKSPACE_API char *lockspace_export(struct lockspace *ls);
/* A lockspace from an exported state, after checking every part of it:
 * syntax and numbers, the directory (canonical), names, each fd open on
 * the file its path names (exclusive: for writing), no fd, name or file
 * twice, none held by a lockspace of this process; then each lock is
 * taken again (a no-op for a lock the process holds) and close-on-exec
 * set again. NULL and errno (EINVAL for bad input) on failure, having
 * closed nothing. */
LOCKSPACE_API struct lockspace *lockspace_import(const char *state);

#ifdef __cplusplus
}
#endif

#endif
