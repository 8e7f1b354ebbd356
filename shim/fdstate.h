/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * shim/fdstate.h: what the shim knows of each descriptor number, and the
 * claim protocol that lets close(), dup() and dup2() of a descriptor
 * with no lock skip every lock.
 *
 * One byte per number (fd_state), read with a relaxed load on every
 * close, dup and non-lock fcntl, and a slot beside it (what the byte
 * refers to). The arrays are sized for every number the kernel can hand
 * out (fs.nr_open) and mapped without reserve, so only the pages of
 * numbers in use are touched; a number beyond them is never tracked.
 *
 * Who writes what:
 *   FD_NONE <-> FD_TRACKED, and any change to or from FD_OURS: with
 *     table_lock held for writing (fdstate_set, fdstate_track);
 *   FD_NONE -> FD_DUP and FD_DUP -> FD_NONE: without any lock, by
 *     compare-and-swap (fdstate_mark_dup, fdstate_unmark_dup), so that a
 *     first lock through the same number in another thread (FD_TRACKED,
 *     under the lock, by exchange) is never overwritten;
 *   FD_DUP -> FD_TRACKED: under the lock, by compare-and-swap
 *     (fdstate_adopt_dup), the other side of fdstate_unmark_dup: either
 *     the adoption or the lock-free claim wins, never both.
 * The slot is written before the byte that promises it, under the lock.
 */
#ifndef LOCKSPACE_SHIM_FDSTATE_H
#define LOCKSPACE_SHIM_FDSTATE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "defs.h"

enum {
	FD_NONE = 0,    /* nothing of ours: the fast path */
	FD_TRACKED = 1, /* a program's descriptor of a holder (its slot) */
	FD_OURS = 2,    /* the shim's own (an anchor, a waiter's dup, the
			 * log, the exec hand-over): the program must never
			 * meet it; its slot says where its number is kept */
	FD_DUP = 3,     /* not tracked, but shares its description with
			 * another descriptor (a dup made while untracked) */
};

struct ls_holder;

extern _Atomic(uint8_t) *fd_state;
extern size_t fd_state_size;
extern _Atomic int fd_state_max; /* highest non-zero entry, or -1 */

void fdstate_init(void);

static inline int fdstate_get(int fd)
{
	if ((unsigned)fd >= fd_state_size || !fd_state)
		return FD_NONE;
	return atomic_load_explicit(&fd_state[fd], memory_order_relaxed);
}

/* table_lock held for writing. */
void fdstate_set(int fd, int state);
void fdstate_raise_max(int fd);
/* FD_TRACKED for a first lock through fd (table_lock held for writing),
 * by exchange: the state before. */
int fdstate_track(int fd);

/* The holder of an FD_TRACKED descriptor (NULL otherwise). */
struct ls_holder *fdstate_holder(int fd);
void fdstate_set_holder(int fd, struct ls_holder *h);
/* FD_OURS: the variable that holds the number (an anchor's f->anchor, a
 * waiter's dup), to be told when the number moves (anchor_evict); NULL
 * for one whose number is given up when the program wants it. */
void fdstate_own(int fd, int *home); /* fd becomes FD_OURS */
int *fdstate_home(int fd);
/* fd is no longer anything of ours: FD_NONE, slot cleared. */
void fdstate_clear(int fd);

/* FD_NONE -> FD_DUP, without the lock (dup, dup2, F_DUPFD of a descriptor
 * with nothing of ours). 0 when a first lock through fd came first: the
 * new descriptor must join its holder (closes_dup_raced). */
static inline int fdstate_mark_dup(int fd)
{
	uint8_t st;

	if ((unsigned)fd >= fd_state_size || !fd_state)
		return 1;
	st = atomic_load_explicit(&fd_state[fd], memory_order_relaxed);
	if (st == FD_NONE &&
	    atomic_compare_exchange_strong(&fd_state[fd], &st, FD_DUP)) {
		fdstate_raise_max(fd);
		return 1;
	}
	return st != FD_TRACKED;
}

/* A number the kernel has just handed out: no other thread can lock
 * through it yet, so a plain store does. */
static inline void fdstate_mark_dup_new(int fd)
{
	if ((unsigned)fd >= fd_state_size || !fd_state ||
	    atomic_load_explicit(&fd_state[fd], memory_order_relaxed))
		return;
	atomic_store_explicit(&fd_state[fd], FD_DUP, memory_order_relaxed);
	fdstate_raise_max(fd);
}

/*
 * A sibling scan (holder_track_dups, files.c) reads the numbers in order
 * while other threads dup and close FD_DUP descriptors without the lock:
 * a dup moved from a number not yet read to one already read (dup2 or
 * dup to the lower number, then close the old one) would be missed, and
 * its holder released while the dup still holds the description. So
 * while a scan runs (active), a claim of an FD_DUP descriptor takes the
 * locked path, which waits for the scan; a claim that looked before the
 * scan began and swaps after says so (moved), and the scan goes again.
 * Both sides write, then read (the swap and the flag; the flag and the
 * states), so one of them sees the other, and each such claim makes at
 * most one more pass. Written only while a scan runs: the close path
 * only reads it.
 */
struct sib_scan {
	atomic_int active;
	atomic_uint moved;
} __attribute__((aligned(64)));
extern struct sib_scan sib_scan;

static inline void sib_scan_note(void)
{
	if (unlikely(atomic_load(&sib_scan.active)))
		atomic_fetch_add(&sib_scan.moved, 1);
}

/* Claim fd for a close (or a dup2 over it) that skips the lock:
 * FD_DUP -> FD_NONE by compare-and-swap. 0 when fd is FD_TRACKED (a
 * sibling scan adopted it: the caller must take the tracked path
 * instead), and while a sibling scan runs (the locked path claims it
 * after the scan). */
static inline int fdstate_unmark_dup(int fd)
{
	uint8_t st;

	if ((unsigned)fd >= fd_state_size || !fd_state)
		return 1;
	/* a load first: fclose() of a stream of ours comes here untracked */
	st = atomic_load_explicit(&fd_state[fd], memory_order_relaxed);
	if (st != FD_DUP)
		return st != FD_TRACKED;
	if (unlikely(atomic_load(&sib_scan.active)))
		return 0;
	if (atomic_compare_exchange_strong(&fd_state[fd], &st, FD_NONE)) {
		sib_scan_note();
		return 1;
	}
	return st != FD_TRACKED;
}

/* Under table_lock for writing: FD_DUP -> FD_TRACKED for h (the other
 * side of fdstate_unmark_dup()). 0 when a close claimed fd first. */
int fdstate_adopt_dup(int fd, struct ls_holder *h);

/* Forget every holder; keep_dups (the fork child, whose descriptors
 * share descriptions as the parent's did): every descriptor the shim
 * knew of becomes FD_DUP. Else forget everything. */
void fdstate_reset(int keep_dups);

#endif
