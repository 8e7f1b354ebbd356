/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * core/range.c: POSIX range algebra on a treap (see range.h for the rules).
 *
 * One request works on three pieces of the tree: split at the request's
 * start and just past its end, the middle holds every range that starts
 * inside the request or touches its right edge, and the largest range of
 * the left part is the only other one that can overlap or touch its left
 * edge. The request replaces all of them with at most three ranges (a
 * left piece, the request itself, a right piece); everything is merged
 * back. Comparisons are written so that none can overflow: offsets are
 * int64_t up to LSR_OFF_MAX.
 */
#include "range.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>

/* The kernel's flock_to_posix_lock(): base + l_start must fit, the start
 * must not be negative, l_len > 0 counts forward from the start, l_len < 0
 * counts back from it (the range is [start + l_len, start - 1]), l_len == 0
 * runs to the largest offset. */
int lsr_resolve(int64_t base, int64_t l_start, int64_t l_len, int64_t *start,
		int64_t *end)
{
	int64_t s, e;

	if (base < 0)
		return -EINVAL;
	if (l_start > LSR_OFF_MAX - base)
		return -EOVERFLOW;
	s = base + l_start;
	if (s < 0)
		return -EINVAL;
	if (l_len > 0) {
		if (l_len - 1 > LSR_OFF_MAX - s)
			return -EOVERFLOW;
		e = s + (l_len - 1);
	} else if (l_len < 0) {
		e = s - 1;
		if (l_len < -s) /* s + l_len < 0, written without overflow */
			return -EINVAL;
		s += l_len;
	} else {
		e = LSR_OFF_MAX;
	}
	*start = s;
	*end = e;
	return 0;
}

/* A node's treap priority is a hash of its address: no shared random state
 * (sets of different files are changed by different threads at once), and
 * malloc's addresses are not related to the ranges' offsets. */
static uint32_t node_prio(const struct lsr_node *n)
{
	uint64_t x = (uint64_t)(uintptr_t)n;

	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return (uint32_t)x;
}

/*
 * Nodes come from malloc in blocks of NODE_BLOCK: one malloc a node would
 * add 8 bytes of header to each 40-byte node, in every locked file. A node
 * that leaves the pools goes to a process-wide spare list instead of
 * free(), and blocks are never given back. The list is lock-free (pushes
 * by compare-and-swap; a pool takes the whole list by exchange, so no
 * pop can meet a reused head), hence safe in a fork child. Under LS_ASAN
 * (range.h), one malloc a node.
 */
#define NODE_BLOCK 64

#ifndef LS_ASAN
static _Atomic(struct lsr_node *) spare; /* linked through ->left */

/* Every block, so that leak checkers see each one referenced from its
 * start (valgrind counts a block only pointed into as possibly lost). */
struct node_block {
	struct node_block *next;
	struct lsr_node n[NODE_BLOCK];
};
static _Atomic(struct node_block *) blocks;

/* Give back the chain first .. last (linked through ->left). */
static void spare_push(struct lsr_node *first, struct lsr_node *last)
{
	struct lsr_node *head = atomic_load(&spare);

	do
		last->left = head;
	while (!atomic_compare_exchange_weak(&spare, &head, first));
}
#endif

static void pool_add(struct lsr_pool *pool, struct lsr_node *n)
{
	n->left = pool->free;
	pool->free = n;
	pool->count++;
}

int lsr_pool_fill(struct lsr_pool *pool, unsigned want)
{
	while (pool->count < want) {
#ifdef LS_ASAN
		struct lsr_node *n = malloc(sizeof(*n));

		if (!n)
			return -ENOMEM;
		n->prio = node_prio(n);
		pool_add(pool, n);
#else
		struct lsr_node *n = atomic_exchange(&spare, NULL), *next;

		if (!n) {
			struct node_block *b = malloc(sizeof(*b));

			if (!b)
				return -ENOMEM;
			b->next = atomic_load(&blocks);
			while (!atomic_compare_exchange_weak(&blocks, &b->next,
							     b))
				;
			n = b->n;
			for (unsigned i = 0; i < NODE_BLOCK; i++) {
				n[i].prio = node_prio(&n[i]);
				n[i].left = i + 1 < NODE_BLOCK ? &n[i + 1] : NULL;
			}
		}
		for (; n; n = next) {
			next = n->left;
			pool_add(pool, n);
		}
#endif
	}
	return 0;
}

void lsr_pool_trim(struct lsr_pool *pool, unsigned keep)
{
#ifdef LS_ASAN
	while (pool->count > keep) {
		struct lsr_node *n = pool->free;

		pool->free = n->left;
		pool->count--;
		free(n);
	}
#else
	struct lsr_node *first = pool->free, *last = NULL;

	if (pool->count <= keep)
		return;
	while (pool->count > keep) {
		last = pool->free;
		pool->free = last->left;
		pool->count--;
	}
	spare_push(first, last);
#endif
}

static struct lsr_node *pool_get(struct lsr_pool *pool)
{
	struct lsr_node *n = pool->free;

	/* Callers reserve first: running dry here is a bug, not ENOMEM. */
	if (!n)
		abort();
	pool->free = n->left;
	pool->count--;
	n->left = n->right = NULL;
	return n;
}

static void pool_put(struct lsr_pool *pool, struct lsr_node *n)
{
	n->right = NULL;
	if (pool) {
		pool_add(pool, n);
		return;
	}
#ifdef LS_ASAN
	free(n);
#else
	spare_push(n, n);
#endif
}

void lsr_set_init(struct lsr_set *set)
{
	set->root = NULL;
	set->count = 0;
}

static void free_tree(struct lsr_node *n, struct lsr_pool *pool)
{
	while (n) {
		struct lsr_node *right = n->right;

		free_tree(n->left, pool);
		pool_put(pool, n);
		n = right;
	}
}

void lsr_set_clear(struct lsr_set *set, struct lsr_pool *pool)
{
	free_tree(set->root, pool);
	lsr_set_init(set);
}

/* Split t into the nodes with start < key and those with start >= key. */
static void split(struct lsr_node *t, int64_t key, struct lsr_node **lo,
		  struct lsr_node **hi)
{
	if (!t) {
		*lo = *hi = NULL;
	} else if (t->start < key) {
		split(t->right, key, &t->right, hi);
		*lo = t;
	} else {
		split(t->left, key, lo, &t->left);
		*hi = t;
	}
}

/* Every start in a is below every start in b. */
static struct lsr_node *merge(struct lsr_node *a, struct lsr_node *b)
{
	if (!a)
		return b;
	if (!b)
		return a;
	if (a->prio >= b->prio) {
		a->right = merge(a->right, b);
		return a;
	}
	b->left = merge(a, b->left);
	return b;
}

static struct lsr_node *max_node(struct lsr_node *t)
{
	while (t && t->right)
		t = t->right;
	return t;
}

/* Remove the largest node of t (its rightmost) and return the new root. */
static struct lsr_node *drop_max(struct lsr_node *t)
{
	if (!t->right)
		return t->left;
	t->right = drop_max(t->right);
	return t;
}

/* What one request gathers while it walks the ranges it touches. */
struct apply_ctx {
	struct lsr_pool *pool;
	struct lsr_set *set;
	int64_t start, end; /* the request */
	int type;
	int64_t new_start, new_end; /* the request, widened by merges */
	struct lsr_node *right;     /* piece or touching range after it */
};

static void absorb(struct apply_ctx *c, struct lsr_node *n)
{
	if (n->type == c->type) {
		/* Same type, overlapping or touching: widen the request. */
		if (n->end > c->new_end)
			c->new_end = n->end;
		if (n->start < c->new_start)
			c->new_start = n->start;
		pool_put(c->pool, n);
		c->set->count--;
	} else if (n->start > c->end) {
		/* Touches the right edge with another type: keep as is. */
		n->left = n->right = NULL;
		c->right = n;
	} else if (n->end > c->end) {
		/* Sticks out on the right: keep that piece. */
		n->start = c->end + 1;
		n->left = n->right = NULL;
		c->right = n;
	} else {
		pool_put(c->pool, n);
		c->set->count--;
	}
}

static void absorb_tree(struct apply_ctx *c, struct lsr_node *n)
{
	while (n) {
		struct lsr_node *right = n->right;

		absorb_tree(c, n->left);
		absorb(c, n);
		n = right;
	}
}

static struct lsr_node *append(struct lsr_node *t, struct lsr_node *n)
{
	n->left = n->right = NULL;
	return merge(t, n);
}

void lsr_set_apply(struct lsr_set *set, struct lsr_pool *pool, int64_t start,
		   int64_t end, int type)
{
	struct apply_ctx c = {
		.pool = pool,
		.set = set,
		.start = start,
		.end = end,
		.type = type,
		.new_start = start,
		.new_end = end,
	};
	struct lsr_node *lo, *mid, *hi, *lp, *left = NULL;

	split(set->root, start, &lo, &mid);
	/* mid: ranges starting in [start, end + 1]; end + 1 may not exist. */
	if (end < LSR_OFF_MAX - 1)
		split(mid, end + 2, &mid, &hi);
	else
		hi = NULL;

	lp = max_node(lo);
	if (lp && start > 0 && lp->end >= start - 1) {
		lo = drop_max(lo);
		if (lp->type == type) {
			c.new_start = lp->start;
			if (lp->end > c.new_end)
				c.new_end = lp->end;
			pool_put(pool, lp);
			set->count--;
		} else if (lp->end < start) {
			left = lp; /* touches, another type: unchanged */
		} else {
			if (lp->end > end) {
				struct lsr_node *r = pool_get(pool);

				r->start = end + 1;
				r->end = lp->end;
				r->type = lp->type;
				c.right = r;
				set->count++;
			}
			lp->end = start - 1;
			left = lp;
		}
	}
	absorb_tree(&c, mid);

	if (left)
		lo = append(lo, left);
	if (type != LSR_UNLCK) {
		struct lsr_node *n = pool_get(pool);

		n->start = c.new_start;
		n->end = c.new_end;
		n->type = (uint8_t)type;
		lo = append(lo, n);
		set->count++;
	}
	if (c.right)
		lo = append(lo, c.right);
	set->root = merge(lo, hi);
}

static int visit(const struct lsr_node *n, int64_t start, int64_t end,
		 lsr_visit_fn fn, void *arg)
{
	int r;

	while (n) {
		if (n->start > end) {
			n = n->left;
			continue;
		}
		if (n->end < start) {
			n = n->right;
			continue;
		}
		r = visit(n->left, start, end, fn, arg);
		if (r)
			return r;
		r = fn(arg, n->start, n->end, n->type);
		if (r)
			return r;
		n = n->right;
	}
	return 0;
}

int lsr_set_visit(const struct lsr_set *set, int64_t start, int64_t end,
		  lsr_visit_fn fn, void *arg)
{
	return visit(set->root, start, end, fn, arg);
}

struct cover_ctx {
	int64_t next; /* first byte not yet seen covered */
	int done;     /* covered through LSR_OFF_MAX */
};

static int cover_step(void *arg, int64_t start, int64_t end, int type)
{
	struct cover_ctx *c = arg;

	(void)type;
	if (start > c->next)
		return 1; /* a gap */
	if (end == LSR_OFF_MAX)
		c->done = 1;
	else if (end + 1 > c->next)
		c->next = end + 1;
	return 0;
}

int lsr_set_covers(const struct lsr_set *set, int64_t start, int64_t end)
{
	struct cover_ctx c = {.next = start};

	if (lsr_set_visit(set, start, end, cover_step, &c))
		return 0;
	return c.done || c.next > end;
}

int lsr_set_type_at(const struct lsr_set *set, int64_t offset)
{
	const struct lsr_node *n = set->root;

	while (n) {
		if (offset < n->start)
			n = n->left;
		else if (offset > n->end)
			n = n->right;
		else
			return n->type;
	}
	return LSR_UNLCK;
}
