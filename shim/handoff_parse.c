/*
 * shim/handoff_parse.c: the parser of the exec hand-over text. Pure: no
 * descriptor, no process state, so that it can be fuzzed on its own.
 */
#include "handoff.h"

#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "range.h"

int handoff_tok(struct parser *ps, int64_t *v, int64_t lo, int64_t hi)
{
	const char *p = ps->p;
	int neg = 0;
	uint64_t x = 0;

	if (p < ps->end && *p == ' ')
		p++;
	if (p < ps->end && *p == '-') {
		neg = 1;
		p++;
	}
	if (p >= ps->end || *p < '0' || *p > '9') {
		ps->why = "malformed number";
		return -1;
	}
	while (p < ps->end && *p >= '0' && *p <= '9') {
		if (x > (UINT64_MAX - 9) / 10) {
			ps->why = "number out of range";
			return -1;
		}
		x = x * 10 + (uint64_t)(*p++ - '0');
	}
	if (p < ps->end && *p != ' ') {
		ps->why = "malformed number";
		return -1;
	}
	if ((!neg && x > (uint64_t)INT64_MAX) || (neg && x > (uint64_t)INT64_MAX)) {
		ps->why = "number out of range";
		return -1;
	}
	*v = neg ? -(int64_t)x : (int64_t)x;
	if (*v < lo || *v > hi) {
		ps->why = "number out of range";
		return -1;
	}
	ps->p = p;
	return 0;
}

int handoff_word(struct parser *ps, const char *w)
{
	size_t n = strlen(w);
	const char *p = ps->p;

	if (p < ps->end && *p == ' ')
		p++;
	if ((size_t)(ps->end - p) < n || memcmp(p, w, n) ||
	    (p + n < ps->end && p[n] != ' ')) {
		ps->why = "malformed";
		return -1;
	}
	ps->p = p + n;
	return 0;
}

/* A count must be backed by at least that many tokens of input. */
static int count(struct parser *ps, size_t *n, int per)
{
	int64_t v;

	if (handoff_tok(ps, &v, 0, (ps->end - ps->p) / (2 * per) + 1))
		return -1;
	*n = (size_t)v;
	return 0;
}

void handoff_free(struct hf_file *hf, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		/* h is NULL when its allocation failed after nh was read */
		for (size_t j = 0; hf[i].h && j < hf[i].nh; j++) {
			free(hf[i].h[j].fds);
			free(hf[i].h[j].r);
		}
		free(hf[i].h);
		free(hf[i].map);
	}
	free(hf);
}

int handoff_parse(struct parser *ps, pid_t self, int64_t fdmax,
		  struct hf_file **out, size_t *nout, int **dups, size_t *ndups)
{
	int64_t v, pid;
	size_t nf, nd = 0, i, j, k;
	struct hf_file *hf;
	int *d = NULL;

	if (handoff_word(ps, "LSH1") || handoff_tok(ps, &pid, 1, INT_MAX))
		return -1;
	if (pid != self) {
		ps->why = "written by another process";
		return -1;
	}
	if (count(ps, &nf, 6))
		return -1;
	hf = calloc(nf ? nf : 1, sizeof(*hf));
	if (!hf) {
		ps->why = "out of memory";
		return -1;
	}
	for (i = 0; i < nf; i++) {
		struct hf_file *f = &hf[i];
		int64_t dev, ino, a, rw;

		if (handoff_word(ps, "F") || handoff_tok(ps, &dev, 0, INT64_MAX) ||
		    handoff_tok(ps, &ino, 0, INT64_MAX) || handoff_tok(ps, &a, 0, fdmax) ||
		    handoff_tok(ps, &rw, 0, 1) || count(ps, &f->nmap, 3))
			goto bad;
		f->dev = (uint64_t)dev;
		f->ino = (uint64_t)ino;
		f->anchor = (int)a;
		f->rw = (int)rw;
		f->map = calloc(f->nmap ? f->nmap : 1, sizeof(*f->map));
		if (!f->map)
			goto oom;
		for (j = 0; j < f->nmap; j++) {
			int64_t s, e, t;

			if (handoff_tok(ps, &s, 0, LSR_OFF_MAX) ||
			    handoff_tok(ps, &e, s, LSR_OFF_MAX) ||
			    handoff_tok(ps, &t, LSR_RDLCK, LSR_WRLCK))
				goto bad;
			if (j && s <= f->map[j - 1].end) {
				ps->why = "ranges out of order";
				goto bad;
			}
			f->map[j].start = s;
			f->map[j].end = e;
			f->map[j].type = (int)t;
		}
		if (count(ps, &f->nh, 4))
			goto bad;
		f->h = calloc(f->nh ? f->nh : 1, sizeof(*f->h));
		if (!f->h)
			goto oom;
		for (j = 0; j < f->nh; j++) {
			struct hf_holder *h = &f->h[j];
			size_t nfds;

			if (handoff_word(ps, "H") || handoff_tok(ps, &v, 0, O_RDWR) ||
			    count(ps, &nfds, 1))
				goto bad;
			h->accmode = (int)v;
			h->nfds = (int)nfds;
			h->fds = calloc(nfds ? nfds : 1, sizeof(*h->fds));
			if (!h->fds)
				goto oom;
			for (k = 0; k < nfds; k++) {
				if (handoff_tok(ps, &v, 0, fdmax))
					goto bad;
				h->fds[k] = (int)v;
			}
			if (count(ps, &h->nr, 2))
				goto bad;
			h->r = calloc(h->nr ? 2 * h->nr : 1, sizeof(*h->r));
			if (!h->r)
				goto oom;
			for (k = 0; k < h->nr; k++)
				if (handoff_tok(ps, &h->r[2 * k], 0, LSR_OFF_MAX) ||
				    handoff_tok(ps, &h->r[2 * k + 1], h->r[2 * k],
					LSR_OFF_MAX))
					goto bad;
		}
	}
	/* Optional: the descriptors the old image knew as dups (FD_DUP). */
	if (ps->p != ps->end && handoff_word(ps, "D") == 0) {
		if (count(ps, &nd, 1))
			goto bad;
		d = calloc(nd ? nd : 1, sizeof(*d));
		if (!d)
			goto oom;
		for (k = 0; k < nd; k++) {
			if (handoff_tok(ps, &v, 0, fdmax))
				goto bad;
			d[k] = (int)v;
		}
	}
	if (ps->p != ps->end) {
		ps->why = "trailing data";
		goto bad;
	}
	*out = hf;
	*nout = nf;
	*dups = d;
	*ndups = nd;
	return 0;
oom:
	ps->why = "out of memory";
bad:
	free(d);
	handoff_free(hf, nf);
	return -1;
}

