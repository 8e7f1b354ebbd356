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
 * A file is keyed by (st_dev, st_ino) in a uthash table. The caller
 * allocates struct lst_file (it may embed it) and serialises all access:
 * the table has no locks of its own. Functions that can fail allocate
 * first and change nothing when they fail; the lst_prepare_*() calls
 * reserve what the matching change needs, so that a caller can reserve,
 * apply the change to the kernel, and then commit without a failure path.
 */
#ifndef LOCKSPACE_TABLE_H
#define LOCKSPACE_TABLE_H

#include <stdint.h>
#include <sys/types.h>
#include <uthash.h>

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
	UT_hash_handle hh;
	struct lsr_set map;
	struct lst_holder *holders;
};

struct lst_table {
	struct lst_file *files; /* uthash head */
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
void lst_table_insert(struct lst_table *t, struct lst_file *f);
void lst_table_remove(struct lst_table *t, struct lst_file *f);
size_t lst_table_count(const struct lst_table *t);

void lst_file_init(struct lst_file *f, dev_t dev, ino_t ino);
/* Drop every range and holder; the file stays in its table. */
void lst_file_clear(struct lst_file *f, struct lsr_pool *pool);
int lst_file_empty(const struct lst_file *f); /* no range, no holder */
int lst_file_check(const struct lst_file *f); /* 0 or -EUCLEAN */

struct lst_holder *lst_holder_find(const struct lst_file *f, uint64_t id);
/* Whether holder still holds any byte. */
int lst_holder_holds(const struct lst_file *f, uint64_t id);

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
