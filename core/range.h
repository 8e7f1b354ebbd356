/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * core/range.h: the byte-range algebra of POSIX record locks over one set
 * of disjoint ranges, as Linux fs/locks.c posix_lock_inode() applies it for
 * one lock owner.
 *
 * Ranges are inclusive [start, end]; a range that runs "to the end of the
 * file and beyond" has end == LSR_OFF_MAX. A set stores disjoint ranges
 * sorted by start, each with a type; setting a range of type T over a set
 *   - widens T to cover every range of type T that overlaps *or touches* it,
 *   - cuts ranges of another type that overlap it, keeping the pieces that
 *     stick out on the left and/or right (W 0-99 plus R 40-59 gives
 *     W 0-39, R 40-59, W 60-99),
 *   - and with T == LSR_UNLCK only cuts.
 * So the set is always canonical: no two ranges of one type overlap or touch.
 *
 * The set is a treap (a binary search tree on start, heap-ordered on a
 * pseudo-random priority) worked with split and merge: one request costs
 * O(log n + k) for n ranges in the set and k ranges the request removes.
 *
 * Allocation happens before the change, as in the kernel: the caller fills
 * a pool with lsr_pool_fill(); lsr_set_apply() takes at most LSR_APPLY_NODES
 * nodes from it and cannot fail. No function here locks anything: the owner
 * of a set serialises access to it.
 */
#ifndef LOCKSPACE_RANGE_H
#define LOCKSPACE_RANGE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define LSR_OFF_MAX INT64_MAX

enum lsr_type {
	LSR_UNLCK = 0,
	LSR_RDLCK = 1,
	LSR_WRLCK = 2,
};

/* Nodes lsr_set_apply() may take from the pool in the worst case. */
#define LSR_APPLY_NODES 2

struct lsr_node {
	int64_t start;
	int64_t end;
	struct lsr_node *left;
	struct lsr_node *right;
	uint32_t prio;
	uint8_t type;
};

/* Spare nodes. A pool belongs to one thread at a time. */
struct lsr_pool {
	struct lsr_node *free; /* singly linked through ->left */
	unsigned count;
};

/* Invariant: ranges disjoint, no two of one type overlap or touch. */
struct lsr_set {
	struct lsr_node *root;
	size_t count; /* number of ranges */
};

/* Resolve a struct flock's (whence base, l_start, l_len) into an inclusive
 * [start, end], with the kernel's errors: -EINVAL for a negative result,
 * -EOVERFLOW when the sum does not fit in off_t. base is 0 for SEEK_SET,
 * the fd's offset for SEEK_CUR, the file size for SEEK_END. */
int lsr_resolve(int64_t base, int64_t l_start, int64_t l_len, int64_t *start,
		int64_t *end);

/* Built with AddressSanitizer: the shim and the core allocate each object
 * with malloc instead of carving blocks, so that ASan still sees a use
 * after free. */
#if defined(__SANITIZE_ADDRESS__)
#define LS_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define LS_ASAN 1
#endif
#endif

/* Nodes come in blocks and are never given back to malloc: trimming a
 * pool (or clearing a set without one) leaves them for any pool's next
 * fill (range.c). */
int lsr_pool_fill(struct lsr_pool *pool, unsigned want);
void lsr_pool_trim(struct lsr_pool *pool, unsigned keep);

void lsr_set_init(struct lsr_set *set);
/* Gives every node of the set to the pool (or to the spare nodes when pool
 * is NULL). */
void lsr_set_clear(struct lsr_set *set, struct lsr_pool *pool);
/* Set [start, end] to type (LSR_UNLCK removes). Needs LSR_APPLY_NODES nodes
 * in the pool; nodes the request frees go back to the pool. */
void lsr_set_apply(struct lsr_set *set, struct lsr_pool *pool, int64_t start,
		   int64_t end, int type);

/* Call fn for each range overlapping [start, end], in order, with the
 * range's own bounds; stop and return fn's value when it is non-zero. */
typedef int (*lsr_visit_fn)(void *arg, int64_t start, int64_t end, int type);
int lsr_set_visit(const struct lsr_set *set, int64_t start, int64_t end,
		  lsr_visit_fn fn, void *arg);
/* Whether every byte of [start, end] is covered. */
int lsr_set_covers(const struct lsr_set *set, int64_t start, int64_t end);
/* The type covering offset, or LSR_UNLCK. */
int lsr_set_type_at(const struct lsr_set *set, int64_t offset);

#endif
