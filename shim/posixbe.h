/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * shim/posixbe.h: backend = posix (issue 20). The kernel lock stays a
 * classic POSIX lock of the process, taken through the program's own
 * descriptor, so that every process sees its real pid (F_GETLK,
 * /proc/locks, lslocks, fuser, apt's "held by process N"); the table
 * follows what the kernel granted, as under observe.
 *
 * POSIX drops every lock of the process on a file at the close of *any*
 * descriptor of it, whichever description, whichever number, a dup of
 * the locking one included: the kernel's filp_close() unlocks the whole
 * file for the closing process (locks_remove_posix). So a close that
 * would drop ranges other holders still need cannot be let through, and
 * its number cannot be freed either (freeing a number *is* that close):
 * the descriptor is kept, open, at its number, as the shim's own
 * (FD_OURS: every call of the program on it is EBADF, close_range skips
 * it, a fork child closes it, it is close-on-exec), and it is really
 * closed when the file's last range goes (an unlock, a holder's last
 * close). SQLite's unix VFS keeps such descriptors on the inode
 * (unixInodeInfo's pUnused) and Samba in its pending-close database; both
 * close them when the inode's locks are gone.
 *
 * What cannot be deferred is let through, and what the table still holds
 * is taken again at once through a descriptor that stays (a moment in
 * which another process can take it; logged as lock-loss-retaken, or
 * lock-loss when it was taken): dup2/dup3 over a descriptor of the file,
 * freopen and fcloseall (their closes are inside libc), a kept
 * descriptor whose number the program needs (dup at the descriptor
 * limit), more than POSIXBE_KEEP_MAX kept descriptors of one file (a
 * program that opens and closes a locked file again and again would
 * otherwise run out of numbers). Closes nobody sees (inside libc:
 * getpwnam, a closedir's internal descriptor; syscall(SYS_close)) drop
 * the locks as plain POSIX does: the next lock call on the file, and
 * exit, find it (observe.c) and log lock-loss-unseen.
 *
 * Kept descriptors: FD_OURS with their home at posixbe_home (so that
 * their number is told from an anchor's), counted per file in
 * f->pb_kept, found by a walk of the descriptor states (fstat says which
 * file). They change with table_lock held for writing; a file keeps
 * them only while its map is not empty, apart from the moment between
 * an unlock under table_lock for reading and the flush that follows it
 * (lockcmd.c).
 */
#ifndef LOCKSPACE_SHIM_POSIXBE_H
#define LOCKSPACE_SHIM_POSIXBE_H

#include <stdint.h>
#include <sys/types.h>

#include "files.h"

/* Kept descriptors of one file before they are given up at once. */
#define POSIXBE_KEEP_MAX 32

/* Whether f's locks are the posix backend's. */
static inline int posixbe_file(const struct ls_file *f)
{
	return f->pol.backend == BACKEND_POSIX && f->pol.mode == MODE_PROTECT;
}

/* Whether fd is a descriptor the posix backend kept for a deferred
 * close. */
int posixbe_is_kept(int fd);

/* ---- the lock calls (lockcmd.c), f->mu held ------------------------- */
/* F_SETLK of type (LSR_UNLCK too) over [start, end] through fd, for
 * holder o: the kernel's answer, 0 or -errno (-EAGAIN: held elsewhere);
 * the table follows. */
int posixbe_set(struct ls_file *f, struct ls_holder *o, int fd, int type,
		int64_t start, int64_t end);
/* F_SETLKW's wait, in the kernel, through fd, with nothing of ours held:
 * f is pinned (refs), and a failed wait (-errno: -EINTR, -EDEADLK, ...)
 * unpins it; 0: granted, the caller applies the request again and
 * unpins. Waits are published for deadlock.c (the kernel finds cycles
 * among POSIX locks, the registry those through anchors). */
int posixbe_wait(struct ls_file *f, int fd, int type, int64_t start,
		 int64_t end);
/* A lock call of type over [start, end] on f's file through one of its
 * descriptors that allows it (hint first, when >= 0): the kernel's
 * answer, errno kept (EBADF: no descriptor for it). */
int posixbe_klock(struct ls_file *f, int hint, int type, int64_t start,
		  int64_t end);
/* Whether the kernel still holds every range of f's map for the process,
 * as far as one F_OFD_GETLK per range can tell (0: it cannot tell, or
 * it does not): the cheap look before observe.c's walk of fdinfo. */
int posixbe_all_held(struct ls_file *f);
/* fn for each kept descriptor of f (stops at a non-zero return). */
int posixbe_each_kept(const struct ls_file *f, int (*fn)(void *, int),
		      void *arg);
/* After a lock call under table_lock for reading emptied the map of a
 * file that keeps descriptors: close them (takes the locks). */
void posixbe_flush(dev_t dev, ino_t ino);
/* Whether f's map is empty while it keeps descriptors (a flush is due). */
static inline int posixbe_flush_due(const struct ls_file *f)
{
	return posixbe_file(f) && f->pb_kept && !f->t.map.root;
}

/* ---- the table (files.c) ----------------------------------------------- */
/* How a holder's description went (posixbe_release, holder_release_as):
 * a descriptor number >= 0 is its last descriptor, kept (no close
 * happened); PB_CLOSED: a descriptor of the file was really closed where
 * the shim saw it; PB_UNSEEN: closed past the interposer, found later. */
enum { PB_CLOSED = -1, PB_UNSEEN = -2 };
/* Holder id of f leaves (how: as above) and its ranges go. Kept: what
 * only it held is unlocked in the kernel through the kept descriptor.
 * Closed: the kernel dropped every lock of ours on the file, and what
 * other holders still hold is taken again at once. Unseen: what other
 * holders held is reported lost and forgotten (lock-loss-unseen). Then,
 * with an empty map, the kept descriptors close. Without memory to
 * split, the whole file goes, as plain POSIX would at that close. f->mu
 * and table_lock for writing held. */
void posixbe_release(struct ls_file *f, uint64_t id, int how);
/* The map of f went from empty to held (+1) or back (-1). f->mu held. */
void posixbe_held_changed(const struct ls_file *f, int delta);

/* ---- closes (closes.c) -------------------------------------------------- */
/* Around a close that may drop posix locks (the close paths past the
 * fast one): counted for posixbe_settle(). */
void posixbe_close_start(void);
void posixbe_close_done(void);
/* A lock call made the map of (dev, ino) go from empty to held: wait,
 * with nothing held, for the closes that had started, and take again
 * what they dropped. */
void posixbe_settle(dev_t dev, ino_t ino);
/* The file a close is about to drop the locks of: 0 dev: none. */
struct pb_key {
	dev_t dev;
	ino_t ino;
};
/* Whether fd may name a file of backend = posix that holds a range: an
 * fstat (into *st), and no lock (the close paths' first look, WATCH_POSIX
 * set). */
struct stat;
int posixbe_names_held(int fd, struct stat *st);
/* After the real close of a descriptor whose file held nothing when
 * posixbe_names_held() looked (st: its fstat): another thread may have
 * locked the file meanwhile, and the close dropped that; then *k names it
 * (for posixbe_closed). No lock. */
void posixbe_after_close(const struct stat *st, struct pb_key *k);
/* fd, tracked with holder h, is about to close: when the close would
 * drop ranges that must stay, fd is kept instead (1: fd is detached from
 * h, and h released when it was its last descriptor); 0: let it close.
 * table_lock held for writing. */
int posixbe_keep_tracked(int fd, struct ls_holder *h);
/* The same for fd the shim does not track (st: its fstat, or NULL). */
int posixbe_keep_untracked(int fd, const struct stat *st);
/* The close of fd cannot be kept (dup2 over it, freopen), or need not
 * be: *k names its file when that is under backend = posix (for
 * posixbe_closed after the close), else k->dev is 0 (st: fd's fstat, or
 * NULL). table_lock held for writing. */
void posixbe_will_close(int fd, const struct stat *st, struct pb_key *k);
/* The same for a tracked descriptor of holder h that closes. */
void posixbe_will_close_tracked(const struct ls_holder *h, struct pb_key *k);
/* A descriptor of k's file was really closed: what the table holds is
 * taken again at once (func, fd: for the log). Takes the locks; with
 * _locked, table_lock is held for writing. */
void posixbe_closed(const struct pb_key *k, const char *func, int fd);
void posixbe_closed_locked(const struct pb_key *k, const char *func, int fd);
/* The program needs number fd, which is a kept descriptor: it closes
 * (close_it) or is left to the caller's dup2 to close; in both cases the
 * locks drop and *k says whose to take again (posixbe_closed).
 * table_lock held for writing. */
void posixbe_give_up(int fd, int close_it, struct pb_key *k);

/* ---- exec (exec.c, adopt.c) ---------------------------------------------- */
struct handoff;
struct hp;
/* Before exec into an image that runs the shim (table_lock for writing,
 * the holders' keep set by exec.c): the files whose ranges a holder that
 * stays holds go into ho->p; every descriptor of such a file that would
 * close at exec (kept ones, the program's close-on-exec ones) loses
 * close-on-exec and goes as a kept one. 0 or -errno. */
int posixbe_exec_prepare(struct handoff *ho);
/* The exec failed: close-on-exec back where it was taken. */
void posixbe_exec_undo(void);
/* Before exec into an image without the shim: the note that the kept
 * descriptors close there (the locks go, as at the program's close). */
void posixbe_exec_convert(void);
/* In the new image (adopt.c, table_lock for writing): NULL when the
 * files under backend = posix of the hand-over hold (their descriptors
 * open on them, the process holds exactly the claimed POSIX locks, no
 * descriptor claimed twice, also with the anchors' claims), else why
 * not. */
const char *posixbe_validate(const struct handoff *ho);
/* Take them in and let the leaving holders' ranges go: NULL, or why not
 * (HANDOFF_NOMEM). */
const char *posixbe_adopt(const struct handoff *ho);
/* Without the table: the kept descriptors close, as the exec would have
 * closed them (the locks go, as plain POSIX). From the struct, or read
 * from the text past the D part (-1: malformed). */
void posixbe_adopt_as_posix(const struct handoff *ho);
int posixbe_nomem_pfiles(struct hp *ps);

/* ---- children ----------------------------------------------------------- */
/* The fork child holds nothing (fork.c closes the kept descriptors with
 * every FD_OURS one). */
void posixbe_atfork_child(void);

#endif
