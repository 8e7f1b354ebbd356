/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * shim/files.h: the lock table of the process: one entry per locked file,
 * the holders (open file descriptions) that took its ranges, and the
 * descriptors that refer to each holder.
 *
 * POSIX drops all of a process's locks on a file when the process closes
 * any descriptor of it. Here no descriptor of the program carries a
 * kernel lock: each locked file has an anchor (anchor.h) carrying the
 * union of the ranges as OFD locks, and the core table (core/table.h)
 * remembers which holder took which range. A holder's ranges go when its
 * last descriptor closes, and a range is unlocked on the anchor only when
 * no holder is left on it.
 */
#ifndef LOCKSPACE_SHIM_FILES_H
#define LOCKSPACE_SHIM_FILES_H

#include <stdatomic.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "config.h"
#include "guard.h"
#include "table.h"

/*
 * struct ls_file: one locked file. Invariants (files_check_file):
 *   - under protect, anchor >= 0 exactly when the file has a held range,
 *     or a holder whose descriptors are open, or a waiter (refs counts
 *     holders and pins); the anchor's OFD locks are exactly t.map,
 *     unless fallback is set, when t.map is empty and the program's own
 *     descriptors carry plain POSIX locks. Under observe there is no
 *     anchor and t.map follows what the kernel granted.
 *   - anchor_rw: the anchor was opened for writing; set only once a write
 *     lock was asked for through a descriptor with write access.
 *   - fallback, once set, stays for the life of the process (its note
 *     is given once), and the entry with it.
 *   - refs >= the number of holders on ofds.
 *   - under backend = posix (posixbe.h) there is no anchor: the kernel
 *     locks are the process's POSIX locks, taken through the program's
 *     descriptors, and t.map follows what the kernel granted; pb_kept
 *     descriptors of the file are kept open for deferred closes.
 * Locks: table_lock for reading keeps the file and its holders alive;
 * the file's mu guards anchor, anchor_rw, fallback and t; refs and ofds
 * change only with table_lock held for writing. Order: table_lock, then
 * mu; never block in the kernel holding either. 72 bytes: one is
 * allocated for every locked file (bench row 7).
 */
struct ls_file {
	struct lst_file t;
	struct fmu mu;
	int anchor;
	unsigned refs;       /* holders, including one being released, and
			      * F_SETLKW waiters (pins) */
	struct policy pol;   /* from the path, when the entry is made */
	/* Flags, a byte each (bit-fields would share a memory location
	 * between fields that different locks guard). */
	uint8_t anchor_rw;
	uint8_t fallback;
	uint8_t pb_kept;     /* backend = posix: kept descriptors (table_lock
			      * for writing; posixbe.h) */
	struct ls_holder *ofds; /* the holders, linked through fnext */
};

/*
 * struct ls_holder: one open file description of the program, as far as
 * the shim has seen it. Invariants:
 *   - ndesc is the number of descriptors whose fdstate is FD_TRACKED
 *     with this holder in their slot, and fd is one of them; the holder
 *     is freed (holder_release) when the last of them closes.
 *   - siblings: descriptors marked FD_DUP may share the description
 *     (dups made before its first lock); the sibling scan looks for
 *     them before the last tracked descriptor goes.
 * Locks: table_lock for writing for every field but last_tid (the
 * file's mu) and keep (exec.c's scratch, under table_lock for writing).
 */
struct ls_holder {
	struct ls_file *file;
	uint64_t id;
	struct ls_holder *fnext; /* the other holders of the file */
	unsigned ndesc;
	int fd;
	pid_t last_tid;   /* thread that last locked through it */
	uint8_t accmode;  /* O_RDONLY, O_WRONLY or O_RDWR */
	uint8_t keep;     /* exec.c scratch: has a descriptor kept (1),
			   * and goes over with its file's ranges (2);
			   * has one that closes on exec (4) */
	uint8_t siblings;
};

extern struct lst_table files_table; /* table_lock */
extern atomic_int files_active;      /* a holder was ever made */
/* A descriptor arrived that may share its description with one of ours
 * without our having seen it made (received over a socket, taken with
 * pidfd_getfd): it is marked FD_DUP, and from then on every holder's
 * last close looks among the FD_DUP descriptors (the sibling scan), not
 * only those of holders that had dups before their first lock. */
extern atomic_int files_copies_arrived;

/* This thread's spare range nodes (range.h: allocate before changing). */
struct lsr_pool *files_pool(void);

/* The entry of (dev, ino), made with the policy of fd's path if new;
 * NULL when there is no memory. table_lock held for writing. */
struct ls_file *file_get(dev_t dev, ino_t ino, int fd);
/* The entry of (dev, ino), or NULL. table_lock held. */
struct ls_file *file_find(dev_t dev, ino_t ino);
/* The file whose anchor is fd, or NULL (a walk of the table: for the
 * rare path that must take the number back). table_lock held. */
struct ls_file *file_of_anchor(int fd);
/* Close the anchor and forget the file once nothing needs it.
 * table_lock held for writing. */
void file_maybe_retire(struct ls_file *f);
/* A pin (an F_SETLKW waiter) goes. table_lock held for writing. */
void file_unpin(struct ls_file *f);

/* The changes of a file's map, with f->mu held: the table's own calls,
 * plus the summary's count of files with held ranges. */
void file_lock(struct ls_file *f, uint64_t id, int64_t start, int64_t end,
	       int type);
void file_unlock(struct ls_file *f, int64_t start, int64_t end);
/* 0, or -ENOMEM when the holder's ranges cannot be split: then nothing
 * changed. */
int file_release(struct ls_file *f, uint64_t id);
/* The same, with fn called for each range nobody holds any more instead
 * of file_unlock_freed (posixbe.c). */
int file_release_cb(struct ls_file *f, uint64_t id, lst_freed_fn fn,
		    void *arg);
/* lst_release()'s callback: unlock a range nobody holds any more on the
 * anchor of f (a struct ls_file *). */
void file_unlock_freed(void *f, int64_t start, int64_t end);
void file_clear(struct ls_file *f);
/* Whether this process holds a range of (dev, ino) that conflicts with a
 * request of type over [start, end] (deadlock.c). */
int files_holds_conflict(dev_t dev, ino_t ino, int64_t start, int64_t end,
			 int type);

/* The holder of fd for its first lock (st, accmode: fd's), made or
 * found (kcmp) and fd tracked; NULL with *err. table_lock for writing. */
struct ls_holder *holder_attach(int fd, const struct stat *st, int accmode,
				int *err);
/* A new holder of f through fd (or handed over by exec), not yet mapped
 * to any descriptor. table_lock held for writing. */
struct ls_holder *holder_new(struct ls_file *f, int accmode, int fd);
/* fd refers to h too. table_lock held for writing. */
void holder_map(struct ls_holder *h, int fd);
/* Track h's untracked dups (FD_DUP) that share its description: the
 * sibling scan, when h had dups before its first lock or copies arrived
 * (files_copies_arrived). table_lock held for writing. */
void holder_track_dups(struct ls_holder *h);
/* One of h's descriptors is about to close: if it is the last one the
 * shim tracks, the sibling scan first (its dups made before the first
 * lock keep the lock alive). table_lock held for writing. */
void holder_before_close(struct ls_holder *h);
/* fd goes away: forget that it refers to its holder. Returns the holder
 * when fd was its last descriptor, unlinked from its file (the caller
 * releases it after the real close), else NULL. table_lock held for
 * writing. */
struct ls_holder *holder_detach(int fd);
/* The holder's description is gone: release its ranges, and maybe the
 * anchor. table_lock held for writing. */
void holder_release(struct ls_holder *h);
/* The same, saying how it went for backend = posix: a kept descriptor,
 * PB_CLOSED (holder_release) or PB_UNSEEN (posixbe.h). */
void holder_release_as(struct ls_holder *h, int how);
/* The thread that last locked through holder id of f (conflicts = fd's
 * deadlock check), or 0. f->mu held. */
pid_t holder_tid(struct ls_file *f, uint64_t id);
/* Whether fd1 and fd2 of this process share one open file description. */
int same_description(int fd1, int fd2);

/* Forget the table: what was there is left behind, unused (another
 * thread may have been changing it: the fork child). */
void files_forget(void);
/* The fork child: an empty table, the descriptor states left as they
 * are (fdstate_reset() says what they become). */
void files_atfork_child(void);
/* Free every entry and holder, then forget (table_lock held for
 * writing; the anchors are the caller's). */
void files_forget_free(void);

#ifndef NDEBUG
/* Check the invariants stated above (f->mu held). */
void files_check_file(const struct ls_file *f);
/* A test hook (tests/unit/test_files.c): called by the sibling scan
 * before it looks at each number. */
extern void (*files_scan_hook)(int fd);
#else
static inline void files_check_file(const struct ls_file *f)
{
	(void)f;
}
#endif

#endif
