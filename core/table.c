/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * core/table.c: the lock table (see table.h for its model and invariant).
 */
#include "table.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void lst_table_init(struct lst_table *t)
{
	t->slot = NULL;
	t->cap = 0;
	t->count = 0;
}

void lst_table_free(struct lst_table *t)
{
	free(t->slot);
	lst_table_init(t);
}

static size_t key_hash(dev_t dev, ino_t ino)
{
	uint64_t x = (uint64_t)ino * 0x9e3779b97f4a7c15ULL ^ (uint64_t)dev;

	x ^= x >> 29;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 32;
	return (size_t)x;
}

static size_t home(const struct lst_table *t, const struct lst_file *f)
{
	return key_hash(f->key.dev, f->key.ino) & (t->cap - 1);
}

struct lst_file *lst_table_find(const struct lst_table *t, dev_t dev,
				ino_t ino)
{
	size_t i;

	if (!t->count)
		return NULL;
	for (i = key_hash(dev, ino) & (t->cap - 1); t->slot[i];
	     i = (i + 1) & (t->cap - 1))
		if (t->slot[i]->key.ino == ino && t->slot[i]->key.dev == dev)
			return t->slot[i];
	return NULL;
}

static void place(struct lst_table *t, struct lst_file *f)
{
	size_t i = home(t, f);

	while (t->slot[i])
		i = (i + 1) & (t->cap - 1);
	t->slot[i] = f;
}

/* Move every entry into cap slots; -ENOMEM changes nothing. */
static int resize(struct lst_table *t, size_t cap)
{
	struct lst_table n = {.cap = cap, .count = t->count};
	size_t i;

	n.slot = calloc(cap, sizeof(*n.slot));
	if (!n.slot)
		return -ENOMEM;
	for (i = 0; i < t->cap; i++)
		if (t->slot[i])
			place(&n, t->slot[i]);
	free(t->slot);
	*t = n;
	return 0;
}

int lst_table_insert(struct lst_table *t, struct lst_file *f)
{
	if (4 * (t->count + 1) > 3 * t->cap &&
	    resize(t, t->cap ? 2 * t->cap : 16))
		return -ENOMEM;
	place(t, f);
	t->count++;
	return 0;
}

/* Linear probing without tombstones: after emptying slot i, each later
 * entry of the run moves back into the hole when its home is not
 * between the hole and itself. */
void lst_table_remove(struct lst_table *t, struct lst_file *f)
{
	size_t mask = t->cap - 1, i, j, k;

	if (!t->count)
		return; /* no slot at all yet */
	for (i = home(t, f); t->slot[i] != f; i = (i + 1) & mask)
		if (!t->slot[i])
			return; /* not in the table */
	for (j = (i + 1) & mask; t->slot[j]; j = (j + 1) & mask) {
		k = home(t, t->slot[j]);
		if (i <= j ? i < k && k <= j : i < k || k <= j)
			continue;
		t->slot[i] = t->slot[j];
		i = j;
	}
	t->slot[i] = NULL;
	/* Shrink below 1/8 full; on failure it stays as it is. */
	if (--t->count * 8 < t->cap && t->cap > 16)
		(void)resize(t, t->cap / 2);
}

size_t lst_table_count(const struct lst_table *t)
{
	return t->count;
}

struct lst_file *lst_table_next(const struct lst_table *t, size_t *i)
{
	while (*i < t->cap)
		if (t->slot[(*i)++])
			return t->slot[*i - 1];
	return NULL;
}

void lst_file_init(struct lst_file *f, dev_t dev, ino_t ino)
{
	memset(f, 0, sizeof(*f));
	f->key.dev = dev;
	f->key.ino = ino;
	lsr_set_init(&f->map);
}

void lst_file_clear(struct lst_file *f, struct lsr_pool *pool)
{
	struct lst_holder *h = f->holders;

	while (h) {
		struct lst_holder *next = h->next;

		lsr_set_clear(&h->held, pool);
		free(h);
		h = next;
	}
	f->holders = NULL;
	f->sole = 0;
	lsr_set_clear(&f->map, pool);
}

int lst_file_empty(const struct lst_file *f)
{
	return !f->map.root && !f->holders && !f->sole;
}

static struct lst_holder *holder_find(const struct lst_file *f, uint64_t id)
{
	struct lst_holder *h;

	for (h = f->holders; h; h = h->next)
		if (h->id == id)
			return h;
	return NULL;
}

const struct lsr_set *lst_holder_ranges(const struct lst_file *f,
					uint64_t id)
{
	const struct lst_holder *h;

	if (f->sole)
		return f->sole == id ? &f->map : NULL;
	h = holder_find(f, id);
	return h ? &h->held : NULL;
}

int lst_holder_holds(const struct lst_file *f, uint64_t id)
{
	const struct lsr_set *set = lst_holder_ranges(f, id);

	return set && set->root;
}

int lst_only_holder(const struct lst_file *f, uint64_t id)
{
	return f->sole == id || (!f->sole && !f->holders);
}

static int copy_step(void *arg, int64_t start, int64_t end, int type)
{
	void **a = arg;

	(void)type;
	lsr_set_apply(a[0], a[1], start, end, LSR_RDLCK);
	return 0;
}

static int copy_typed_step(void *arg, int64_t start, int64_t end, int type)
{
	void **a = arg;

	lsr_set_apply(a[0], a[1], start, end, type);
	return 0;
}

static struct lst_holder *holder_new(uint64_t id, struct lst_holder *next)
{
	struct lst_holder *h = malloc(sizeof(*h));

	if (h) {
		h->id = id;
		lsr_set_init(&h->held);
		h->next = next;
	}
	return h;
}

int lst_file_copy(struct lst_file *dst, const struct lst_file *src,
		  struct lsr_pool *pool)
{
	const struct lst_holder *h;
	struct lst_holder **tail = &dst->holders;
	size_t need = src->map.count + LSR_APPLY_NODES;

	lst_file_init(dst, src->key.dev, src->key.ino);
	for (h = src->holders; h; h = h->next)
		need += h->held.count;
	if (lsr_pool_fill(pool, (unsigned)need))
		return -ENOMEM;
	for (h = src->holders; h; h = h->next) {
		*tail = holder_new(h->id, NULL);
		if (!*tail) {
			lst_file_clear(dst, pool);
			return -ENOMEM;
		}
		lsr_set_visit(&h->held, 0, LSR_OFF_MAX, copy_step,
			      (void *[]){&(*tail)->held, pool});
		tail = &(*tail)->next;
	}
	lsr_set_visit(&src->map, 0, LSR_OFF_MAX, copy_typed_step,
		      (void *[]){&dst->map, pool});
	dst->sole = src->sole;
	return 0;
}

int lst_prepare_lock(struct lst_file *f, struct lsr_pool *pool, uint64_t id)
{
	struct lst_holder *first, *second;

	if (!id)
		abort(); /* 0 means "no holder" in f->sole */
	if (f->sole == id || holder_find(f, id) || (!f->sole && !f->holders)) {
		if (lsr_pool_fill(pool, LST_LOCK_NODES))
			return -ENOMEM;
		if (!f->sole && !f->holders)
			f->sole = id;
		return 0;
	}
	if (!f->sole) {
		if (lsr_pool_fill(pool, LST_LOCK_NODES))
			return -ENOMEM;
		first = holder_new(id, f->holders);
		if (!first)
			return -ENOMEM;
		f->holders = first;
		return 0;
	}
	/* A second holder: the first one's set is written out from the map
	 * (at most one node a range, the lock's nodes left over). */
	if (lsr_pool_fill(pool, LST_LOCK_NODES + f->map.count))
		return -ENOMEM;
	second = holder_new(id, NULL);
	first = holder_new(f->sole, second);
	if (!first || !second) {
		free(first);
		free(second);
		return -ENOMEM;
	}
	lsr_set_visit(&f->map, 0, LSR_OFF_MAX, copy_step,
		      (void *[]){&first->held, pool});
	f->holders = first;
	f->sole = 0;
	return 0;
}

void lst_lock(struct lst_file *f, struct lsr_pool *pool, uint64_t id,
	      int64_t start, int64_t end, int type)
{
	struct lst_holder *h = f->sole == id ? NULL : holder_find(f, id);

	/* lst_prepare_lock() made the holder; without it this is a bug. */
	if (f->sole != id && !h)
		abort();
	lsr_set_apply(&f->map, pool, start, end, type);
	if (h)
		lsr_set_apply(&h->held, pool, start, end, LSR_RDLCK);
}

static unsigned holder_count(const struct lst_file *f)
{
	const struct lst_holder *h;
	unsigned n = 0;

	for (h = f->holders; h; h = h->next)
		n++;
	return n;
}

int lst_prepare_unlock(struct lst_file *f, struct lsr_pool *pool)
{
	unsigned need = LSR_APPLY_NODES * (1 + holder_count(f));

	return lsr_pool_fill(pool, need) ? -ENOMEM : 0;
}

void lst_unlock(struct lst_file *f, struct lsr_pool *pool, int64_t start,
		int64_t end)
{
	struct lst_holder *h;

	lsr_set_apply(&f->map, pool, start, end, LSR_UNLCK);
	for (h = f->holders; h; h = h->next)
		lsr_set_apply(&h->held, pool, start, end, LSR_UNLCK);
}

/* ---- releasing one holder ------------------------------------------- */

struct first_ctx {
	int64_t start, end;
	int found;
};

static int first_step(void *arg, int64_t start, int64_t end, int type)
{
	struct first_ctx *c = arg;

	(void)type;
	c->start = start;
	c->end = end;
	c->found = 1;
	return 1;
}

/* The first range of set overlapping [start, end], clipped to it. */
static int first_in(const struct lsr_set *set, int64_t start, int64_t end,
		    int64_t *s, int64_t *e)
{
	struct first_ctx c = {0};

	lsr_set_visit(set, start, end, first_step, &c);
	if (!c.found)
		return 0;
	*s = c.start < start ? start : c.start;
	*e = c.end > end ? end : c.end;
	return 1;
}

/*
 * Within [start, end], the first run of bytes held by holders other than
 * skip: *s is its first byte, *e the last byte of the unbroken run that
 * the others cover together from there (a run may pass from one holder's
 * range to another's).
 */
static int others_cover(const struct lst_file *f, const struct lst_holder *skip,
			int64_t start, int64_t end, int64_t *s, int64_t *e)
{
	const struct lst_holder *h;
	int64_t best = 0, run, hs, he;
	int found = 0, grew;

	for (h = f->holders; h; h = h->next) {
		if (h == skip || !first_in(&h->held, start, end, &hs, &he))
			continue;
		if (!found || hs < best)
			best = hs;
		found = 1;
	}
	if (!found)
		return 0;
	/* Extend the run while some holder covers the byte after it. */
	run = best - 1;
	do {
		grew = 0;
		for (h = f->holders; h && run < end; h = h->next) {
			if (h == skip)
				continue;
			if (first_in(&h->held, run + 1, end, &hs, &he) &&
			    hs == run + 1) {
				run = he;
				grew = 1;
			}
		}
	} while (grew && run < end);
	*s = best;
	*e = run;
	return 1;
}

struct release_ctx {
	struct lst_file *f;
	struct lst_holder *h;
	struct lsr_pool *pool;
	unsigned pieces;
	int apply;
	lst_freed_fn fn;
	void *arg;
};

static void freed_piece(struct release_ctx *c, int64_t s, int64_t e)
{
	c->pieces++;
	if (!c->apply)
		return;
	lsr_set_apply(&c->f->map, c->pool, s, e, LSR_UNLCK);
	if (c->fn)
		c->fn(c->arg, s, e);
}

/* One range of the released holder: the parts no other holder covers. */
static int release_step(void *arg, int64_t start, int64_t end, int type)
{
	struct release_ctx *c = arg;
	int64_t pos = start, s, e;

	(void)type;
	for (;;) {
		if (!others_cover(c->f, c->h, pos, end, &s, &e)) {
			freed_piece(c, pos, end);
			return 0;
		}
		if (s > pos)
			freed_piece(c, pos, s - 1);
		if (e == end)
			return 0;
		pos = e + 1;
	}
}

/* The only holder goes: every byte of the map is freed, each run of
 * touching ranges at once. */
static int release_sole(struct lst_file *f, struct lsr_pool *pool,
			lst_freed_fn fn, void *arg)
{
	int64_t s, e, ns, ne;

	if (lsr_pool_fill(pool, LSR_APPLY_NODES))
		return -ENOMEM;
	while (first_in(&f->map, 0, LSR_OFF_MAX, &s, &e)) {
		while (e < LSR_OFF_MAX &&
		       first_in(&f->map, e + 1, e + 1, &ns, &ne))
			first_in(&f->map, e + 1, LSR_OFF_MAX, &ns, &e);
		lsr_set_apply(&f->map, pool, s, e, LSR_UNLCK);
		if (fn)
			fn(arg, s, e);
	}
	f->sole = 0;
	return 0;
}

int lst_release(struct lst_file *f, struct lsr_pool *pool, uint64_t id,
		lst_freed_fn fn, void *arg)
{
	struct lst_holder **pp, *h;
	struct release_ctx c = {
		.f = f, .pool = pool, .fn = fn, .arg = arg};

	if (f->sole)
		return f->sole == id ? release_sole(f, pool, fn, arg) : 0;
	for (pp = &f->holders; *pp && (*pp)->id != id; pp = &(*pp)->next)
		;
	h = *pp;
	if (!h)
		return 0;
	c.h = h;
	/* Count first, reserve, then change: no failure after a change. */
	lsr_set_visit(&h->held, 0, LSR_OFF_MAX, release_step, &c);
	if (lsr_pool_fill(pool, LSR_APPLY_NODES * (c.pieces + 1)))
		return -ENOMEM;
	c.apply = 1;
	c.pieces = 0;
	lsr_set_visit(&h->held, 0, LSR_OFF_MAX, release_step, &c);
	*pp = h->next;
	lsr_set_clear(&h->held, pool);
	free(h);
	h = f->holders;
	if (h && !h->next) { /* the one left: its set is the map's again */
		f->sole = h->id;
		f->holders = NULL;
		lsr_set_clear(&h->held, pool);
		free(h);
	}
	return 0;
}

/* ---- conflicts between holders -------------------------------------- */

struct conflict_ctx {
	const struct lst_file *f;
	int type;
	uint64_t holder;
	struct lst_conflict *out;
	int64_t rs, re; /* the request */
	int64_t cs, ce; /* the other holder's range, clipped to the request */
};

static int map_step(void *arg, int64_t start, int64_t end, int type)
{
	struct conflict_ctx *c = arg;

	if (c->type != LSR_WRLCK && type != LSR_WRLCK)
		return 0; /* read against read */
	c->out->start = start < c->cs ? c->cs : start;
	c->out->end = end > c->ce ? c->ce : end;
	c->out->type = type;
	c->out->holder = c->holder;
	return 1;
}

static int held_step(void *arg, int64_t start, int64_t end, int type)
{
	struct conflict_ctx *c = arg;

	(void)type;
	c->cs = start > c->rs ? start : c->rs;
	c->ce = end < c->re ? end : c->re;
	return lsr_set_visit(&c->f->map, c->cs, c->ce, map_step, c);
}

int lst_conflict(const struct lst_file *f, uint64_t id, int64_t start,
		 int64_t end, int type, struct lst_conflict *out)
{
	const struct lst_holder *h;
	struct conflict_ctx c = {
		.f = f, .type = type, .out = out, .rs = start, .re = end};

	if (f->sole) {
		c.holder = f->sole;
		return f->sole != id &&
		       lsr_set_visit(&f->map, start, end, held_step, &c);
	}
	for (h = f->holders; h; h = h->next) {
		if (h->id == id)
			continue;
		c.holder = h->id;
		if (lsr_set_visit(&h->held, start, end, held_step, &c))
			return 1;
	}
	return 0;
}

/* ---- consistency ---------------------------------------------------- */

struct check_ctx {
	const struct lst_file *f;
	int bad;
};

static int map_covered_step(void *arg, int64_t start, int64_t end, int type)
{
	struct check_ctx *c = arg;
	int64_t pos = start, s, e;

	(void)type;
	while (pos <= end) {
		if (!others_cover(c->f, NULL, pos, end, &s, &e) || s != pos) {
			c->bad = 1;
			return 1;
		}
		if (e == end)
			break;
		pos = e + 1;
	}
	return 0;
}

static int held_in_map_step(void *arg, int64_t start, int64_t end, int type)
{
	struct check_ctx *c = arg;

	(void)type;
	if (!lsr_set_covers(&c->f->map, start, end)) {
		c->bad = 1;
		return 1;
	}
	return 0;
}

int lst_file_check(const struct lst_file *f)
{
	struct check_ctx c = {.f = f};
	const struct lst_holder *h;

	lsr_set_visit(&f->map, 0, LSR_OFF_MAX, map_covered_step, &c);
	if (f->sole)
		return f->holders ? -EUCLEAN : 0;
	if (f->holders && !f->holders->next)
		return -EUCLEAN; /* one holder is kept in f->sole */
	for (h = f->holders; h && !c.bad; h = h->next)
		lsr_set_visit(&h->held, 0, LSR_OFF_MAX, held_in_map_step, &c);
	return c.bad ? -EUCLEAN : 0;
}
