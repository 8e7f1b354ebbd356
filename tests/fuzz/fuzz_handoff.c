/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* tests/fuzz/fuzz_handoff.c: libFuzzer target over the exec hand-over
 * (shim/handoff.c): the parser, and the round trip through the writer.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE \
 *	-Ishim -Icore -o build/fuzz/fuzz_handoff tests/fuzz/fuzz_handoff.c
 *   build/fuzz/fuzz_handoff -dict=tests/fuzz/handoff.dict \
 *	tests/fuzz/corpus_handoff
 *
 * The text must name pid FUZZ_PID and descriptors up to FUZZ_FDMAX. Beyond
 * "no crash": a refusal gives a reason; an accepted text gives files whose
 * anchors and descriptors are in [0, FUZZ_FDMAX], whose map is sorted,
 * disjoint, with start <= end and a lock type, and whose holders have
 * as many descriptors and ranges as they claim, each range with
 * start <= end, and whose dups are in [0, FUZZ_FDMAX]; files under
 * backend = posix the same, their kept descriptors in [0, FUZZ_FDMAX].
 * No text has more
 * files, map entries, holder entries or dups than it has bytes for.
 * Round trip: what was accepted, written again (handoff_emit), parses to
 * the same hand-over, and writing that gives the same text again.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../shim/handoff.c"

#define FUZZ_PID 4242
#define FUZZ_FDMAX 65535

/* The map and holders of a file. */
static void check_body(const struct hf_file *f, size_t size)
{
	size_t j, k;

	if (f->nmap > size || f->nh > size || (f->nmap && !f->map) ||
	    (f->nh && !f->h))
		abort();
	for (j = 0; j < f->nmap; j++) {
		const struct hf_range *m = &f->map[j];

		if (m->start < 0 || m->start > m->end ||
		    (m->type != LSR_RDLCK && m->type != LSR_WRLCK))
			abort();
		if (j && m->start <= f->map[j - 1].end)
			abort();
	}
	for (j = 0; j < f->nh; j++) {
		const struct hf_holder *h = &f->h[j];

		if (h->accmode < 0 || h->accmode > O_RDWR || h->nfds > size ||
		    h->nr > size || !h->fds || !h->r)
			abort();
		for (k = 0; k < h->nfds; k++)
			if (h->fds[k] < 0 || h->fds[k] > FUZZ_FDMAX)
				abort();
		for (k = 0; k < h->nr; k++)
			if (h->r[k].start < 0 || h->r[k].start > h->r[k].end)
				abort();
	}
}

static void check_file(const struct hf_file *f, size_t size)
{
	if (f->anchor < 0 || f->anchor > FUZZ_FDMAX ||
	    (f->rw != 0 && f->rw != 1))
		abort();
	check_body(f, size);
}

static void check_map_holders(const struct hf_range *map, size_t nmap,
			      const struct hf_holder *hs, size_t nh,
			      size_t size)
{
	struct hf_file f = {0};

	f.nmap = nmap;
	f.map = (struct hf_range *)map;
	f.nh = nh;
	f.h = (struct hf_holder *)hs;
	check_body(&f, size);
}

/* A file under backend = posix: as a file, and its kept descriptors. */
static void check_pfile(const struct hf_pfile *f, size_t size)
{
	check_map_holders(f->map, f->nmap, f->h, f->nh, size);
	if (f->nk > size || !f->kept)
		abort();
	for (size_t k = 0; k < f->nk; k++)
		if (f->kept[k] < 0 || f->kept[k] > FUZZ_FDMAX)
			abort();
}

static int same_holders(const struct hf_holder *a, const struct hf_holder *b,
			size_t n)
{
	for (size_t j = 0; j < n; j++) {
		const struct hf_holder *h = &a[j], *g = &b[j];

		if (h->accmode != g->accmode || h->nfds != g->nfds ||
		    h->nr != g->nr ||
		    memcmp(h->fds, g->fds, h->nfds * sizeof(*h->fds)) ||
		    memcmp(h->r, g->r, h->nr * sizeof(*h->r)))
			return 0;
	}
	return 1;
}

static int same_map(const struct hf_range *a, const struct hf_range *b,
		    size_t n)
{
	for (size_t j = 0; j < n; j++) /* not memcmp: padding */
		if (a[j].start != b[j].start || a[j].end != b[j].end ||
		    a[j].type != b[j].type)
			return 0;
	return 1;
}

static int same_pfiles(const struct handoff *a, const struct handoff *b)
{
	if (a->np != b->np)
		return 0;
	for (size_t i = 0; i < a->np; i++) {
		const struct hf_pfile *x = &a->p[i], *y = &b->p[i];

		if (x->dev != y->dev || x->ino != y->ino ||
		    x->nmap != y->nmap || x->nh != y->nh || x->nk != y->nk ||
		    !same_map(x->map, y->map, x->nmap) ||
		    !same_holders(x->h, y->h, x->nh) ||
		    memcmp(x->kept, y->kept, x->nk * sizeof(*x->kept)))
			return 0;
	}
	return 1;
}

static int same_handoff(const struct handoff *a, const struct handoff *b)
{
	if (a->pid != b->pid || a->nf != b->nf || a->nd != b->nd ||
	    memcmp(a->dups, b->dups, a->nd * sizeof(*a->dups)) ||
	    !same_pfiles(a, b))
		return 0;
	for (size_t i = 0; i < a->nf; i++) {
		const struct hf_file *x = &a->f[i], *y = &b->f[i];

		if (x->dev != y->dev || x->ino != y->ino ||
		    x->anchor != y->anchor || x->rw != y->rw ||
		    x->nmap != y->nmap || x->nh != y->nh)
			return 0;
		for (size_t j = 0; j < x->nmap; j++) /* not memcmp: padding */
			if (x->map[j].start != y->map[j].start ||
			    x->map[j].end != y->map[j].end ||
			    x->map[j].type != y->map[j].type)
				return 0;
		for (size_t j = 0; j < x->nh; j++) {
			const struct hf_holder *h = &x->h[j], *g = &y->h[j];

			if (h->accmode != g->accmode || h->nfds != g->nfds ||
			    h->nr != g->nr ||
			    memcmp(h->fds, g->fds, h->nfds * sizeof(*h->fds)) ||
			    memcmp(h->r, g->r, h->nr * sizeof(*h->r)))
				return 0;
		}
	}
	return 1;
}

/* Emit h, parse it back, compare, and emit again: the same text. */
static void round_trip(const struct handoff *h)
{
	struct handoff back;
	const char *why = NULL;
	size_t len, len2;
	char *text, *again;

	text = handoff_emit(h, &len);
	if (!text)
		return; /* no memory */
	if (handoff_parse(text, len, FUZZ_PID, FUZZ_FDMAX, &back, &why))
		abort();
	if (!same_handoff(h, &back))
		abort();
	again = handoff_emit(&back, &len2);
	if (again && (len2 != len || memcmp(text, again, len)))
		abort();
	free(again);
	free(text);
	handoff_free(&back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct handoff h;
	const char *why = NULL;
	size_t i;

	if (handoff_parse((const char *)data, size, FUZZ_PID, FUZZ_FDMAX, &h,
			  &why)) {
		if (!why || !why[0])
			abort();
		return 0;
	}
	if (h.nf > size || !h.f || h.nd > size || !h.dups)
		abort();
	for (i = 0; i < h.nf; i++)
		check_file(&h.f[i], size);
	for (i = 0; i < h.nd; i++)
		if (h.dups[i] < 0 || h.dups[i] > FUZZ_FDMAX)
			abort();
	if (h.np > size || !h.p)
		abort();
	for (i = 0; i < h.np; i++)
		check_pfile(&h.p[i], size);
	round_trip(&h);
	handoff_free(&h);
	return 0;
}
