/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * shim/handoff.c: writing and reading the exec hand-over (handoff.h).
 */
#include "handoff.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "range.h"

const char HANDOFF_NOMEM[] = "out of memory";

/* ---- writing ---------------------------------------------------------------- */

struct sbuf {
	char *p;
	size_t len, cap;
	int err;
};

static void sb_add(struct sbuf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void sb_add(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->err)
		return;
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(b->p ? b->p + b->len : NULL,
			      b->p ? b->cap - b->len : 0, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->err = 1;
			return;
		}
		if (b->p && b->len + (size_t)n < b->cap) {
			b->len += (size_t)n;
			return;
		}
		size_t ncap = b->cap ? b->cap * 2 : 4096;
		while (ncap < b->len + (size_t)n + 1)
			ncap *= 2;
		char *np = realloc(b->p, ncap);
		if (!np) {
			b->err = 1;
			return;
		}
		b->p = np;
		b->cap = ncap;
	}
}

static void emit_map(struct sbuf *b, const struct hf_range *map, size_t n)
{
	for (size_t j = 0; j < n; j++)
		sb_add(b, " %lld %lld %d", (long long)map[j].start,
		       (long long)map[j].end, map[j].type);
}

static void emit_holders(struct sbuf *b, const struct hf_holder *h, size_t n)
{
	sb_add(b, " %zu", n);
	for (size_t j = 0; j < n; j++) {
		const struct hf_holder *o = &h[j];

		sb_add(b, " H %d %zu", o->accmode, o->nfds);
		for (size_t k = 0; k < o->nfds; k++)
			sb_add(b, " %d", o->fds[k]);
		sb_add(b, " %zu", o->nr);
		for (size_t k = 0; k < o->nr; k++)
			sb_add(b, " %lld %lld", (long long)o->r[k].start,
			       (long long)o->r[k].end);
	}
}

char *handoff_emit(const struct handoff *h, size_t *len)
{
	struct sbuf b = {0};

	sb_add(&b, HANDOFF_MAGIC " %d %zu", (int)h->pid, h->nf);
	for (size_t i = 0; i < h->nf; i++) {
		const struct hf_file *f = &h->f[i];

		sb_add(&b, " F %llu %llu %d %d %zu", (unsigned long long)f->dev,
		       (unsigned long long)f->ino, f->anchor, f->rw, f->nmap);
		emit_map(&b, f->map, f->nmap);
		emit_holders(&b, f->h, f->nh);
	}
	if (h->nd) {
		sb_add(&b, " D %zu", h->nd);
		for (size_t i = 0; i < h->nd; i++)
			sb_add(&b, " %d", h->dups[i]);
	}
	if (h->np)
		sb_add(&b, " P %zu", h->np);
	for (size_t i = 0; i < h->np; i++) {
		const struct hf_pfile *f = &h->p[i];

		sb_add(&b, " Q %llu %llu %zu", (unsigned long long)f->dev,
		       (unsigned long long)f->ino, f->nmap);
		emit_map(&b, f->map, f->nmap);
		emit_holders(&b, f->h, f->nh);
		sb_add(&b, " %zu", f->nk);
		for (size_t k = 0; k < f->nk; k++)
			sb_add(&b, " %d", f->kept[k]);
	}
	if (b.err) {
		free(b.p);
		return NULL;
	}
	*len = b.len;
	return b.p;
}

/* ---- the pull parser -------------------------------------------------------- */

void hp_init(struct hp *ps, const char *text, size_t len, int64_t fdmax)
{
	ps->p = text;
	ps->end = text + len;
	ps->fdmax = fdmax;
	ps->why = NULL;
}

static int fail(struct hp *ps, const char *why)
{
	if (!ps->why)
		ps->why = why;
	return -1;
}

/* One token of digits, with an optional '-', into *neg and *x. */
static int tok(struct hp *ps, int *neg, uint64_t *x)
{
	const char *p = ps->p;

	*neg = 0;
	*x = 0;
	if (p < ps->end && *p == ' ')
		p++;
	if (p < ps->end && *p == '-') {
		*neg = 1;
		p++;
	}
	if (p >= ps->end || *p < '0' || *p > '9')
		return fail(ps, "malformed number");
	while (p < ps->end && *p >= '0' && *p <= '9') {
		uint64_t d = (uint64_t)(*p++ - '0');

		if (*x > (UINT64_MAX - d) / 10)
			return fail(ps, "number out of range");
		*x = *x * 10 + d;
	}
	if (p < ps->end && *p != ' ')
		return fail(ps, "malformed number");
	ps->p = p;
	return 0;
}

/* A signed number in [lo, hi]. */
static int num(struct hp *ps, int64_t *v, int64_t lo, int64_t hi)
{
	const char *p = ps->p;
	uint64_t x;
	int neg;

	if (tok(ps, &neg, &x))
		return -1;
	if (x > (uint64_t)INT64_MAX || (neg ? -(int64_t)x : (int64_t)x) < lo ||
	    (neg ? -(int64_t)x : (int64_t)x) > hi) {
		ps->p = p;
		return fail(ps, "number out of range");
	}
	*v = neg ? -(int64_t)x : (int64_t)x;
	return 0;
}

/* An unsigned 64-bit number (dev, ino). */
static int u64(struct hp *ps, uint64_t *v)
{
	const char *p = ps->p;
	int neg;

	if (tok(ps, &neg, v))
		return -1;
	if (neg) {
		ps->p = p;
		return fail(ps, "number out of range");
	}
	return 0;
}

static int word(struct hp *ps, const char *w)
{
	size_t n = strlen(w);
	const char *p = ps->p;

	if (p < ps->end && *p == ' ')
		p++;
	if ((size_t)(ps->end - p) < n || memcmp(p, w, n) ||
	    (p + n < ps->end && p[n] != ' '))
		return fail(ps, "malformed");
	ps->p = p + n;
	return 0;
}

int hp_count(struct hp *ps, size_t *n, int per)
{
	int64_t v;

	/* Each counted element takes at least per tokens of two bytes. */
	if (num(ps, &v, 0, (ps->end - ps->p) / (2 * per) + 1))
		return -1;
	*n = (size_t)v;
	return 0;
}

int hp_header(struct hp *ps, pid_t self, size_t *nfiles)
{
	int64_t pid;

	if (word(ps, HANDOFF_MAGIC) || num(ps, &pid, 1, INT_MAX))
		return -1;
	if (pid != self)
		return fail(ps, "written by another process");
	return hp_count(ps, nfiles, 6);
}

int hp_file(struct hp *ps, struct hf_file *f)
{
	int64_t a, rw;

	if (word(ps, "F") || u64(ps, &f->dev) || u64(ps, &f->ino) ||
	    num(ps, &a, 0, ps->fdmax) || num(ps, &rw, 0, 1) ||
	    hp_count(ps, &f->nmap, 3))
		return -1;
	f->anchor = (int)a;
	f->rw = (int)rw;
	return 0;
}

int hp_range(struct hp *ps, const struct hf_range *prev, struct hf_range *r)
{
	int64_t s, e, t;

	if (num(ps, &s, 0, LSR_OFF_MAX) || num(ps, &e, s, LSR_OFF_MAX) ||
	    num(ps, &t, LSR_RDLCK, LSR_WRLCK))
		return -1;
	if (prev && s <= prev->end)
		return fail(ps, "ranges out of order");
	r->start = s;
	r->end = e;
	r->type = (int)t;
	return 0;
}

int hp_holder(struct hp *ps, int *accmode, size_t *nfds)
{
	int64_t v;

	if (word(ps, "H") || num(ps, &v, 0, O_RDWR) || hp_count(ps, nfds, 1))
		return -1;
	*accmode = (int)v;
	return 0;
}

int hp_fd(struct hp *ps, int *fd)
{
	int64_t v;

	if (num(ps, &v, 0, ps->fdmax))
		return -1;
	*fd = (int)v;
	return 0;
}

int hp_span(struct hp *ps, struct hf_span *s)
{
	return num(ps, &s->start, 0, LSR_OFF_MAX) ||
	       num(ps, &s->end, s->start, LSR_OFF_MAX) ? -1 : 0;
}

int hp_dups(struct hp *ps, size_t *nd)
{
	struct hp look = *ps;

	*nd = 0;
	if (ps->p == ps->end || word(&look, "D"))
		return 0; /* no dups; anything else is trailing data */
	*ps = look;
	return hp_count(ps, nd, 1);
}

int hp_posix(struct hp *ps, size_t *np)
{
	struct hp look = *ps;

	*np = 0;
	if (ps->p == ps->end || word(&look, "P"))
		return 0;
	*ps = look;
	return hp_count(ps, np, 5);
}

int hp_pfile(struct hp *ps, struct hf_pfile *f)
{
	if (word(ps, "Q") || u64(ps, &f->dev) || u64(ps, &f->ino) ||
	    hp_count(ps, &f->nmap, 3))
		return -1;
	return 0;
}

int hp_end(struct hp *ps)
{
	return ps->p == ps->end ? 0 : fail(ps, "trailing data");
}

/* ---- reading into the struct ------------------------------------------------ */

void handoff_free(struct handoff *h)
{
	for (size_t i = 0; h->f && i < h->nf; i++) {
		struct hf_file *f = &h->f[i];

		/* h is NULL when its allocation failed after nh was read */
		for (size_t j = 0; f->h && j < f->nh; j++) {
			free(f->h[j].fds);
			free(f->h[j].r);
		}
		free(f->h);
		free(f->map);
	}
	free(h->f);
	free(h->dups);
	for (size_t i = 0; h->p && i < h->np; i++) {
		struct hf_pfile *f = &h->p[i];

		for (size_t j = 0; f->h && j < f->nh; j++) {
			free(f->h[j].fds);
			free(f->h[j].r);
		}
		free(f->h);
		free(f->map);
		free(f->kept);
	}
	free(h->p);
	memset(h, 0, sizeof(*h));
}

static void *alloc(size_t n, size_t size)
{
	return calloc(n ? n : 1, size);
}

static int parse_holder(struct hp *ps, struct hf_holder *o)
{
	if (hp_holder(ps, &o->accmode, &o->nfds))
		return -1;
	o->fds = alloc(o->nfds, sizeof(*o->fds));
	if (!o->fds)
		return fail(ps, HANDOFF_NOMEM);
	for (size_t k = 0; k < o->nfds; k++)
		if (hp_fd(ps, &o->fds[k]))
			return -1;
	if (hp_count(ps, &o->nr, 2))
		return -1;
	o->r = alloc(o->nr, sizeof(*o->r));
	if (!o->r)
		return fail(ps, HANDOFF_NOMEM);
	for (size_t k = 0; k < o->nr; k++)
		if (hp_span(ps, &o->r[k]))
			return -1;
	return 0;
}

/* A map of *nmap ranges (counted already) and the holders after it;
 * *nmap and *nh count what is filled, for handoff_free. */
static int parse_map_holders(struct hp *ps, struct hf_range **map,
			     size_t *nmap, struct hf_holder **h, size_t *nh)
{
	size_t want = *nmap, nwant;

	*nmap = 0;
	*map = alloc(want, sizeof(**map));
	if (!*map)
		return fail(ps, HANDOFF_NOMEM);
	for (; *nmap < want; (*nmap)++)
		if (hp_range(ps, *nmap ? &(*map)[*nmap - 1] : NULL,
			     &(*map)[*nmap]))
			return -1;
	if (hp_count(ps, &nwant, 4))
		return -1;
	*h = alloc(nwant, sizeof(**h));
	if (!*h)
		return fail(ps, HANDOFF_NOMEM);
	for (; *nh < nwant; (*nh)++)
		if (parse_holder(ps, &(*h)[*nh])) {
			(*nh)++; /* its arrays are freed too */
			return -1;
		}
	return 0;
}

static int parse_file(struct hp *ps, struct hf_file *f)
{
	if (hp_file(ps, f))
		return -1;
	return parse_map_holders(ps, &f->map, &f->nmap, &f->h, &f->nh);
}

static int parse_pfile(struct hp *ps, struct hf_pfile *f)
{
	size_t nk;

	if (hp_pfile(ps, f) ||
	    parse_map_holders(ps, &f->map, &f->nmap, &f->h, &f->nh) ||
	    hp_count(ps, &nk, 1))
		return -1;
	f->kept = alloc(nk, sizeof(*f->kept));
	if (!f->kept)
		return fail(ps, HANDOFF_NOMEM);
	for (; f->nk < nk; f->nk++)
		if (hp_fd(ps, &f->kept[f->nk]))
			return -1;
	return 0;
}

int handoff_parse(const char *text, size_t len, pid_t self, int64_t fdmax,
		  struct handoff *out, const char **why)
{
	struct hp ps;
	size_t nf, np;

	memset(out, 0, sizeof(*out));
	hp_init(&ps, text, len, fdmax);
	if (hp_header(&ps, self, &nf))
		goto bad;
	out->pid = self;
	out->f = alloc(nf, sizeof(*out->f));
	if (!out->f) {
		fail(&ps, HANDOFF_NOMEM);
		goto bad;
	}
	for (; out->nf < nf; out->nf++)
		if (parse_file(&ps, &out->f[out->nf])) {
			out->nf++;
			goto bad;
		}
	if (hp_dups(&ps, &out->nd))
		goto bad;
	out->dups = alloc(out->nd, sizeof(*out->dups));
	if (!out->dups) {
		fail(&ps, HANDOFF_NOMEM);
		goto bad;
	}
	for (size_t k = 0; k < out->nd; k++)
		if (hp_fd(&ps, &out->dups[k]))
			goto bad;
	if (hp_posix(&ps, &np))
		goto bad;
	out->p = alloc(np, sizeof(*out->p));
	if (!out->p) {
		fail(&ps, HANDOFF_NOMEM);
		goto bad;
	}
	for (; out->np < np; out->np++)
		if (parse_pfile(&ps, &out->p[out->np])) {
			out->np++;
			goto bad;
		}
	if (hp_end(&ps))
		goto bad;
	return 0;
bad:
	*why = ps.why;
	handoff_free(out);
	return -1;
}

/* ---- building one ---------------------------------------------------------- */

int hf_push_int(int **a, size_t *n, size_t *cap, int v)
{
	if (*n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 16;
		int *na = realloc(*a, ncap * sizeof(*na));

		if (!na)
			return -ENOMEM;
		*a = na;
		*cap = ncap;
	}
	(*a)[(*n)++] = v;
	return 0;
}

int hf_fill_step(void *arg, int64_t s, int64_t e, int type)
{
	struct hf_fill *c = arg;

	if (c->map)
		c->map[c->n] = (struct hf_range){s, e, type};
	else
		c->spans[c->n] = (struct hf_span){s, e};
	c->n++;
	return 0;
}
