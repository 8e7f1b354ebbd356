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
 * fork(): the child holds none of the parent's kernel locks (POSIX), so
 * it starts with none of its holds either: a pthread_atfork handler
 * empties the registry and every lockspace, closing the child's copies of
 * their descriptors (that drops nothing of the parent's, whose locks are
 * the parent process's, and nothing of the child's, which has none yet;
 * kept, any later close of them, or exec's close-on-exec, would drop the
 * child's own locks on those files). Each lockspace stays usable in the
 * child, with its directory and no resources: the parent is another
 * process to it (a shared acquire of what the parent holds shared
 * succeeds, an exclusive one is -EBUSY), release of what the parent
 * holds is -ENOENT, free deletes none of the parent's files. Every
 * lockspace is locked across fork, so a call in another thread is never
 * caught half-done. After _Fork(), clone() without the handlers, or in a
 * vfork() child (the parent's memory), do not call this API.
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
 * Without a directory it must be an absolute path.
 *
 * A resource is a regular file, and its name is never followed: the
 * directory may be shared with other users, and a symlink planted there
 * would lead to another file. A name that is a symlink (the last
 * component, for an absolute path) is -ELOOP, anything else that is not
 * a regular file (FIFO, directory, device, socket) -EINVAL, both found
 * with lstat(2) before anything is opened; opens use O_NOFOLLOW and
 * O_NONBLOCK (a name swapped in meanwhile neither is followed nor
 * blocks) and are checked again with fstat(2); files are created with
 * O_CREAT | O_EXCL. Directories above the last component are followed. */

/* Create the resource file (0600), without locking it. -EEXIST if the
 * name exists (a dangling symlink too). */
LOCKSPACE_API int lockspace_create_resource(struct lockspace *ls,
					    const char *name);
/* Delete the resource file. -EBUSY if anyone holds it, in this process or
 * another (it is unlinked only under an exclusive lock of our own);
 * -ENOENT if missing; -ELOOP or -EINVAL, deleting nothing, for a name
 * that is not a regular file. */
LOCKSPACE_API int lockspace_delete_resource(struct lockspace *ls,
					    const char *name);

/* Acquire name for owner (>= 0): exclusive, or shared with
 * LOCKSPACE_SHARED; never blocks. With LOCKSPACE_AUTOCREATE the file is
 * created (0600) when missing, and an exclusive autocreated file is
 * deleted again on release, while still locked, if the name still names
 * the file it locked (dev, ino by lstat; a writer of the directory who
 * renames another file over it just between that check and the unlink
 * loses it: Linux has no unlink-if-this-file). Acquire re-checks after
 * locking that the path still names the file it locked, and starts over
 * when it was deleted or replaced. A shared acquire of a resource this
 * lockspace holds shared adds the owner. -EBUSY when held in a
 * conflicting way (by this lockspace, another lockspace of the process,
 * or another process), when another process holds a lease on it, or when
 * owner already holds it; -ENOENT when missing without
 * LOCKSPACE_AUTOCREATE; -EINVAL for a bad name, unknown flags, or a file
 * that is not a regular file; -ELOOP for a symlink. */
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
 * the regular file its path names (not through a symlink; exclusive: for
 * writing), no fd, name or file twice, none held by a lockspace of this
 * process; then each lock is taken again (a no-op for a lock the process
 * holds; a shared resource over a write lock of the process downgrades
 * it) and close-on-exec set again.
 *
 * All or nothing: on failure the process's locks, the registry and the
 * descriptors (none closed, close-on-exec unchanged) are exactly as
 * before the call. A new lock is given back, a write lock is never left
 * downgraded nor a read lock upgraded, and locks the process held on
 * part of a file by other means are restored range by range. To know
 * what it holds (F_GETLK never reports the caller's own locks), import
 * reads the lock lines of /proc/thread-self/fdinfo (or /proc/self) for
 * every descriptor of the process open on each file, so it needs /proc
 * (a state with no resource does not). The downgrades come last, when
 * nothing can be refused any more: no other process can conflict with a
 * read lock where this one holds a write lock; only the kernel running
 * out of lock memory (ENOLCK) could still fail one, and then the write
 * lock is taken back if no other process took a read lock meanwhile.
 *
 * NULL and errno on failure: EINVAL for bad input or a file held by a
 * lockspace of this process, EBUSY when another process holds one of the
 * files in a conflicting way, ENOENT or EACCES without a readable /proc,
 * EIO when /proc says what the kernel cannot hold, ENOMEM. */
LOCKSPACE_API struct lockspace *lockspace_import(const char *state);

#ifdef __cplusplus
}
#endif

#endif
