/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * core/table.h: the process-wide lock table: per file, which byte ranges
 * are locked, with which type, and which holders took them.
 *
 * POSIX makes a record lock the *process's*: a new request over a range
 * replaces its type, the locks of one process never conflict with each
 * other, and an unlock through any descriptor releases the range. What the
 * table adds is the holder: the open file description a range was taken
 * through, so that closing one description releases only what no other
 * holder still holds. Hence two views of one file:
 *   map:     the typed union of all holders' ranges, canonical as in
 *            range.h; it is exactly what the kernel lock must cover.
 *   holders: per holder, the untyped set of ranges it took.
 * Invariant (lst_file_check): the bytes covered by map are exactly the
 * union of the holders' sets.
 *
 * A file is keyed by (st_dev, st_ino) in an open-addressing table of
 * pointers (8 bytes a slot, at most 3/4 full), not uthash: its handle
 * would add 56 bytes to every file, and its failed allocation exits the
 * program. The caller allocates struct lst_file (it may embed it) and
 * serialises all access: the table has no locks of its own.
 *
 * Most files have one holder. Its set is then exactly the bytes of map
 * (the invariant), so neither it nor a struct lst_holder is stored: only
 * its id, in sole. A second holder writes the first one's set out; a
 * release down to one holder drops it again. Holder ids are not 0. Functions that can fail allocate
 * first and change nothing when they fail; the lst_prepare_*() calls
 * reserve what the matching change needs, so that a caller can reserve,
 * apply the change to the kernel, and then commit without a failure path.
 */
#ifndef LOCKSPACE_TABLE_H
#define LOCKSPACE_TABLE_H

#include <stdint.h>
#include <stddef.h>
#include <sys/types.h>

#include "range.h"

struct lst_key {
	dev_t dev;
	ino_t ino;
};

struct lst_holder {
	uint64_t id;
	struct lsr_set held; /* untyped: ranges stored as LSR_RDLCK */
	struct lst_holder *next;
};

struct lst_file {
	struct lst_key key;
	struct lsr_set map;
	uint64_t sole;              /* the only holder's id, or 0 */
	struct lst_holder *holders; /* NULL with sole, else none or >= 2 */
};

struct lst_table {
	struct lst_file **slot; /* NULL: free; linear probing */
	size_t cap;             /* 0 or a power of two */
	size_t count;
};

/* A range of another holder that conflicts with a request. */
struct lst_conflict {
	int64_t start, end;
	int type;
	uint64_t holder;
};

/* Nodes each lst_lock() needs from the pool. */
#define LST_LOCK_NODES (2 * LSR_APPLY_NODES)

void lst_table_init(struct lst_table *t);
struct lst_file *lst_table_find(const struct lst_table *t, dev_t dev,
				ino_t ino);
/* -ENOMEM, with nothing changed, when the table cannot grow. */
int lst_table_insert(struct lst_table *t, struct lst_file *f);
void lst_table_remove(struct lst_table *t, struct lst_file *f);
size_t lst_table_count(const struct lst_table *t);
/* Iterate: for (i = 0; (f = lst_table_next(t, &i));). The table must not
 * change meanwhile (a removal moves entries). */
struct lst_file *lst_table_next(const struct lst_table *t, size_t *i);
/* Free the slots (the files are the caller's). */
void lst_table_free(struct lst_table *t);

void lst_file_init(struct lst_file *f, dev_t dev, ino_t ino);
/* Drop every range and holder; the file stays in its table. */
void lst_file_clear(struct lst_file *f, struct lsr_pool *pool);
int lst_file_empty(const struct lst_file *f); /* no range, no holder */
/* dst (not in a table) becomes a copy of src's ranges and holders, to be
 * changed without touching src; lst_file_clear() it. -ENOMEM with dst
 * empty. */
int lst_file_copy(struct lst_file *dst, const struct lst_file *src,
		  struct lsr_pool *pool);
int lst_file_check(const struct lst_file *f); /* 0 or -EUCLEAN */

/* The ranges holder id holds (the types in the set mean nothing), or
 * NULL when it is not a holder of f. */
const struct lsr_set *lst_holder_ranges(const struct lst_file *f,
					uint64_t id);
/* Whether holder still holds any byte. */
int lst_holder_holds(const struct lst_file *f, uint64_t id);
/* Whether no holder but id (if any) is left. */
int lst_only_holder(const struct lst_file *f, uint64_t id);

/* Lock [start, end] with type (LSR_RDLCK/LSR_WRLCK) for holder: reserve,
 * then apply. lst_prepare_lock() creates the holder if it is new. */
int lst_prepare_lock(struct lst_file *f, struct lsr_pool *pool, uint64_t id);
void lst_lock(struct lst_file *f, struct lsr_pool *pool, uint64_t id,
	      int64_t start, int64_t end, int type);

/* Unlock [start, end] for every holder (process-wide, as POSIX). */
int lst_prepare_unlock(struct lst_file *f, struct lsr_pool *pool);
void lst_unlock(struct lst_file *f, struct lsr_pool *pool, int64_t start,
		int64_t end);

/* Release one holder (its description was closed): drop it from every
 * range and call fn, after the table changed, for each range now held by
 * nobody, which is what the kernel must unlock. -ENOMEM with nothing
 * changed when it cannot reserve. An unknown holder releases nothing. */
typedef void (*lst_freed_fn)(void *arg, int64_t start, int64_t end);
int lst_release(struct lst_file *f, struct lsr_pool *pool, uint64_t id,
		lst_freed_fn fn, void *arg);

/* For conflicts = fd: find a range held by a holder other than id that
 * conflicts with a request of type over [start, end]. 1 and *out filled
 * when there is one, 0 otherwise. */
int lst_conflict(const struct lst_file *f, uint64_t id, int64_t start,
		 int64_t end, int type, struct lst_conflict *out);

#endif
