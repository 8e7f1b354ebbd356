/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * shim/posixbe_exec.c: backend = posix across exec (posixbe.h): what the
 * old image hands over, and the new image's check and adoption of it.
 */
#include "posixbe.h"
#include "posixbe_room.h"
#include "adopt.h"
#include "defs.h"
#include "anchor.h"
#include "deadlock.h"
#include "fdstate.h"
#include "handoff.h"
#include "log.h"
#include "observe.h"
#include "procfs.h"
#include "real.h"
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- across exec ------------------------------------------------------------
 * POSIX keeps a lock across exec, but the exec closes the close-on-exec
 * descriptors, and each such close of a descriptor of a locked file drops
 * every lock of the process on it: the kept descriptors (close-on-exec
 * for an image without the shim, where they would be leaks), and the
 * program's own close-on-exec descriptors of the file. Into an image
 * that runs the shim, where a holder whose descriptor survives holds a
 * range, those descriptors lose close-on-exec and go over as the new
 * image's kept descriptors; it releases what only the leaving holders
 * held, as for an anchor (adopt.c). */

/* Descriptors whose close-on-exec was taken for the exec: put back if it
 * fails. table_lock for writing from before to after the exec. */
static int *ex_cleared;
static size_t ex_ncleared, ex_cap;

static int stays(const struct ls_file *f)
{
	for (const struct ls_holder *o = f->ofds; o; o = o->fnext)
		if (o->keep && lst_holder_holds(&f->t, o->id))
			return 1;
	return 0;
}

/* The files that go over, sorted by address, each with the index of its
 * entry in ho->p. */
struct going {
	const struct ls_file *f;
	size_t i;
	size_t kcap;
};

static int cmp_going(const void *a, const void *b)
{
	const struct going *x = a, *y = b;

	return ((uintptr_t)x->f > (uintptr_t)y->f) -
	       ((uintptr_t)x->f < (uintptr_t)y->f);
}

static struct going *going_find(struct going *g, size_t n,
				const struct ls_file *f)
{
	struct going key = {f, 0, 0};

	return bsearch(&key, g, n, sizeof(*g), cmp_going);
}

/* f's map and the holders that stay, their descriptors to come. */
static int describe_pfile(struct ls_file *f, struct hf_pfile *pf)
{
	struct hf_fill c = {0};
	struct ls_holder *o;
	size_t n = 0;

	pf->dev = (uint64_t)f->t.key.dev;
	pf->ino = (uint64_t)f->t.key.ino;
	pf->map = calloc(f->t.map.count ? f->t.map.count : 1,
			 sizeof(*pf->map));
	if (!pf->map)
		return -ENOMEM;
	c.map = pf->map;
	lsr_set_visit(&f->t.map, 0, LSR_OFF_MAX, hf_fill_step, &c);
	pf->nmap = c.n;
	/* One entry per holder, in f->ofds's order (holder_index); those
	 * that leave stay empty (no descriptor: the new image skips them). */
	for (o = f->ofds; o; o = o->fnext)
		n++;
	pf->h = calloc(n ? n : 1, sizeof(*pf->h));
	if (!pf->h)
		return -ENOMEM;
	for (o = f->ofds; o; o = o->fnext) {
		const struct lsr_set *held = lst_holder_ranges(&f->t, o->id);
		struct hf_holder *h = &pf->h[pf->nh++];

		if (!o->keep)
			continue;
		h->accmode = o->accmode;
		h->nr = held ? held->count : 0;
		h->r = calloc(h->nr ? h->nr : 1, sizeof(*h->r));
		if (!h->r)
			return -ENOMEM;
		c = (struct hf_fill){.spans = h->r};
		if (held)
			lsr_set_visit(held, 0, LSR_OFF_MAX, hf_fill_step, &c);
	}
	return 0;
}

/* The index in pf->h of holder o (describe_pfile's order). */
static size_t holder_index(const struct ls_file *f, const struct ls_holder *o)
{
	size_t i = 0;

	for (const struct ls_holder *h = f->ofds; h != o; h = h->fnext)
		i++;
	return i;
}

struct open_ctx {
	struct handoff *ho;
	struct going *g;
	size_t ng;
	int err;
};

/*
 * One open descriptor: a holder's that survives the exec is one of its
 * holder's; one of a file that goes over that would close at exec (a
 * kept one, the program's close-on-exec one, tracked or not) loses
 * close-on-exec and goes as kept.
 */
static int open_step(void *arg, long n)
{
	struct open_ctx *c = arg;
	int fd = (int)n, fl = real_fcntl(fd, F_GETFD, NULL), st;
	struct ls_holder *o = fdstate_holder(fd);
	struct hf_pfile *pf;
	struct going *g;
	struct stat sb;

	st = fdstate_get(fd);
	if (fl < 0 || (st == FD_OURS && !posixbe_is_kept(fd)))
		return 0; /* an anchor, the log */
	if (o && !(fl & FD_CLOEXEC)) {
		g = going_find(c->g, c->ng, o->file);
		if (g) {
			struct hf_holder *h =
				&c->ho->p[g->i].h[holder_index(o->file, o)];
			size_t cap = h->nfds; /* grows one at a time */

			if (hf_push_int(&h->fds, &h->nfds, &cap, fd) < 0)
				goto nomem;
		}
		return 0;
	}
	if (!(fl & FD_CLOEXEC) || fstat(fd, &sb) < 0)
		return 0;
	g = going_find(c->g, c->ng, file_find(sb.st_dev, sb.st_ino));
	if (!g)
		return 0;
	pf = &c->ho->p[g->i];
	if (hf_push_int(&ex_cleared, &ex_ncleared, &ex_cap, fd) < 0 ||
	    hf_push_int(&pf->kept, &pf->nk, &g->kcap, fd) < 0)
		goto nomem;
	real_fcntl(fd, F_SETFD, (void *)(long)(fl & ~FD_CLOEXEC));
	return 0;
nomem:
	c->err = -ENOMEM;
	return 1;
}

int posixbe_exec_prepare(struct handoff *ho)
{
	struct open_ctx c = {.ho = ho};
	struct lst_file *lf;
	size_t i, n = 0;
	int err = 0;

	ex_ncleared = 0;
	for (i = 0; (lf = lst_table_next(&files_table, &i));) {
		struct ls_file *f = (struct ls_file *)lf;

		n += posixbe_file(f) && f->t.map.root && stays(f);
	}
	if (!n)
		return 0;
	c.g = calloc(n, sizeof(*c.g));
	ho->p = calloc(n, sizeof(*ho->p));
	if (!c.g || !ho->p) {
		err = -ENOMEM;
		goto out;
	}
	for (i = 0; (lf = lst_table_next(&files_table, &i));) {
		struct ls_file *f = (struct ls_file *)lf;
		struct ls_holder *o;

		if (!posixbe_file(f) || !f->t.map.root || !stays(f))
			continue;
		c.g[c.ng].f = f;
		c.g[c.ng++].i = ho->np;
		err = describe_pfile(f, &ho->p[ho->np++]);
		if (err)
			goto out;
		for (o = f->ofds; o; o = o->fnext)
			if (o->keep)
				o->keep = 2; /* goes over: no dup list */
	}
	qsort(c.g, c.ng, sizeof(*c.g), cmp_going);
	if (pf_dir_numbers("/proc/self/fd", open_step, &c) < 0)
		err = -errno;
	else
		err = c.err;
out:
	free(c.g);
	return err;
}

void posixbe_exec_undo(void)
{
	for (size_t i = 0; i < ex_ncleared; i++)
		real_fcntl(ex_cleared[i], F_SETFD, (void *)(long)FD_CLOEXEC);
	ex_ncleared = 0;
}

void posixbe_exec_convert(void)
{
	struct lst_file *lf;
	size_t i;

	for (i = 0; (lf = lst_table_next(&files_table, &i));) {
		struct ls_file *f = (struct ls_file *)lf;

		if (posixbe_file(f) && f->pb_kept && f->t.map.root)
			log_note("exec into an image without the shim: the %u "
				 "deferred closes of ino %lu happen at the "
				 "exec, and its locks go, as plain POSIX "
				 "dropped them at the program's close",
				 (unsigned)f->pb_kept,
				 (unsigned long)f->t.key.ino);
	}
}

/* ---- in the new image -------------------------------------------------------- */

static int same_file(int fd, uint64_t dev, uint64_t ino)
{
	struct stat st;

	return fstat(fd, &st) == 0 && (uint64_t)st.st_dev == dev &&
	       (uint64_t)st.st_ino == ino;
}

static int cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;

	return (x > y) - (x < y);
}

/* The process's own POSIX locks listed in a descriptor's fdinfo. */
struct own_locks {
	struct lsr_set k;
	pid_t self;
	int lines, err;
};

static int own_lock_step(void *arg, const struct pf_lock *l)
{
	struct own_locks *c = arg;
	struct lsr_pool *p = files_pool();

	c->lines++;
	if (l->kind != PF_POSIX || l->waiter || l->pid != c->self)
		return 0;
	if (lsr_pool_fill(p, LSR_APPLY_NODES) < 0) {
		c->err = 1;
		return 1;
	}
	lsr_set_apply(&c->k, p, l->start, l->end, l->type);
	return 0;
}

static int fdinfo_step(struct own_locks *c, int fd)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	return pf_locks_each(path, own_lock_step, c) < 0;
}

struct match {
	const struct hf_range *m;
	int ok;
};

static int match_step(void *arg, int64_t s, int64_t e, int type)
{
	struct match *c = arg;

	c->ok = s == c->m->start && e == c->m->end && type == c->m->type;
	return 1;
}

/* The process holds exactly pf's map as POSIX locks: from the fdinfo of
 * the descriptors named (a POSIX lock is listed under the description it
 * was taken through); where the kernel lists no lock at all (a FUSE
 * filesystem), one F_OFD_GETLK per range, which sees the process's POSIX
 * locks as another owner would. */
static const char *map_held(const struct hf_pfile *pf, const int *fds,
			    size_t n)
{
	struct own_locks c = {.self = getpid()};
	const char *why = NULL;

	lsr_set_init(&c.k);
	for (size_t i = 0; i < n && !c.err; i++)
		if (fdinfo_step(&c, fds[i]))
			c.err = 1;
	if (c.err) {
		why = HANDOFF_NOMEM;
	} else if (!c.lines) {
		for (size_t j = 0; j < pf->nmap && !why; j++) {
			const struct hf_range *m = &pf->map[j];
			struct flock fl;

			range_to_flock(&fl, LSR_WRLCK, m->start, m->end);
			if (real_fcntl(fds[0], F_OFD_GETLK, &fl) < 0 ||
			    fl.l_pid != c.self || fl.l_start != m->start ||
			    fl.l_type != (m->type == LSR_WRLCK ? F_WRLCK
							       : F_RDLCK))
				why = "a file's POSIX locks are not the ones "
				      "claimed";
		}
	} else if (c.k.count != pf->nmap) {
		why = "a file's POSIX locks are not the ones claimed";
	} else {
		for (size_t j = 0; j < pf->nmap && !why; j++) {
			struct match m = {&pf->map[j], 0};

			lsr_set_visit(&c.k, pf->map[j].start, pf->map[j].start,
				      match_step, &m);
			if (!m.ok)
				why = "a file's POSIX locks are not the ones "
				      "claimed";
		}
	}
	lsr_set_clear(&c.k, files_pool());
	return why;
}

const char *posixbe_validate(const struct handoff *ho)
{
	const char *why = NULL;
	size_t n = 0, k = 0;
	int *all;

	for (size_t i = 0; i < ho->nf; i++) {
		n++;
		for (size_t j = 0; j < ho->f[i].nh; j++)
			n += ho->f[i].h[j].nfds;
	}
	for (size_t i = 0; i < ho->np; i++) {
		n += ho->p[i].nk;
		for (size_t j = 0; j < ho->p[i].nh; j++)
			n += ho->p[i].h[j].nfds;
	}
	if (!ho->np)
		return NULL;
	all = malloc((n ? n : 1) * sizeof(*all));
	if (!all)
		return HANDOFF_NOMEM;
	for (size_t i = 0; i < ho->nf; i++) {
		all[k++] = ho->f[i].anchor;
		for (size_t j = 0; j < ho->f[i].nh; j++)
			for (size_t m = 0; m < ho->f[i].h[j].nfds; m++)
				all[k++] = ho->f[i].h[j].fds[m];
	}
	for (size_t i = 0; i < ho->np && !why; i++) {
		const struct hf_pfile *pf = &ho->p[i];
		size_t first = k;
		struct stat st;

		for (size_t j = 0; j < pf->nh; j++)
			for (size_t m = 0; m < pf->h[j].nfds; m++) {
				int fd = pf->h[j].fds[m];

				all[k++] = fd;
				if ((real_fcntl(fd, F_GETFL, NULL) &
				     O_ACCMODE) != pf->h[j].accmode)
					why = "a descriptor's access mode is "
					      "not the one claimed";
			}
		for (size_t j = 0; j < pf->nk; j++)
			all[k++] = pf->kept[j];
		for (size_t j = first; j < k && !why; j++)
			if (!same_file(all[j], pf->dev, pf->ino) ||
			    fstat(all[j], &st) < 0 ||
			    (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)))
				why = "a descriptor is not open on its file";
		if (!why && k == first)
			why = "a file under backend = posix has no descriptor";
		if (!why)
			why = map_held(pf, all + first, k - first);
	}
	if (!why) {
		qsort(all, k, sizeof(*all), cmp_int);
		for (size_t i = 0; i < k && !why; i++)
			if ((i && all[i] == all[i - 1]) ||
			    fdstate_get(all[i]) != FD_NONE)
				why = "a descriptor is claimed twice";
	}
	free(all);
	return why;
}

/* The map's ranges no holder that stayed holds were the leaving holders':
 * they go now, the exec having succeeded. f->mu held. */
struct leave_ctx {
	struct ls_file *f;
	int64_t pos, end;
	int done;
};

static int leave_step(void *arg, int64_t s, int64_t e, int type)
{
	struct leave_ctx *g = arg;

	(void)type;
	s = s < g->pos ? g->pos : s;
	e = e > g->end ? g->end : e;
	if (s > g->pos)
		posixbe_klock(g->f, -1, LSR_UNLCK, g->pos, s - 1);
	if (e == g->end)
		g->done = 1;
	else
		g->pos = e + 1;
	return g->done;
}

static const char *adopt_pfile(const struct hf_pfile *pf)
{
	int first = pf->nk ? pf->kept[0] : -1;
	struct ls_file *f;

	for (size_t j = 0; j < pf->nh; j++)
		if (pf->h[j].nfds) {
			first = pf->h[j].fds[0];
			break;
		}
	f = file_get(pf->dev, pf->ino, first);
	if (!f)
		return HANDOFF_NOMEM;
	if (f->pol.mode != MODE_PROTECT) {
		/* Under off or observe the closes the exec would have made
		 * happen: the locks go, as plain POSIX. */
		for (size_t j = 0; j < pf->nk; j++)
			raw_close(pf->kept[j]);
		file_maybe_retire(f);
		return NULL;
	}
	/* The locks are POSIX locks now, whatever this image's backend for
	 * the path: moving them to an anchor would free them for a
	 * moment. */
	f->pol.backend = BACKEND_POSIX;
	if (adopt_holders(f, pf->h, pf->nh, pf->map, pf->nmap))
		return HANDOFF_NOMEM;
	for (size_t j = 0; j < pf->nk; j++) {
		if (f->pb_kept == UINT8_MAX) {
			raw_close(pf->kept[j]); /* drops them: taken again */
			continue;
		}
		pb_keep(pf->kept[j], f);
	}
	fmu_lock(&f->mu);
	for (size_t m = 0; m < pf->nmap; m++) {
		struct leave_ctx g = {f, pf->map[m].start, pf->map[m].end, 0};

		lsr_set_visit(&f->t.map, g.pos, g.end, leave_step, &g);
		if (!g.done)
			posixbe_klock(f, -1, LSR_UNLCK, g.pos, g.end);
	}
	fmu_unlock(&f->mu);
	if (!f->t.map.root)
		pb_flush_locked(f);
	else
		pb_over_limit(f);
	if (lst_file_check(&f->t))
		return "holders' ranges do not match the locks";
	return NULL;
}

const char *posixbe_adopt(const struct handoff *ho)
{
	const char *why = NULL;

	for (size_t i = 0; i < ho->np && !why; i++)
		why = adopt_pfile(&ho->p[i]);
	return why;
}

void posixbe_adopt_as_posix(const struct handoff *ho)
{
	for (size_t i = 0; i < ho->np; i++)
		for (size_t j = 0; j < ho->p[i].nk; j++) {
			int fd = ho->p[i].kept[j];

			if (!same_file(fd, ho->p[i].dev, ho->p[i].ino))
				continue;
			fdstate_clear(fd);
			raw_close(fd);
		}
}

int posixbe_nomem_pfiles(struct hp *ps)
{
	struct hf_range prev, r;
	struct hf_pfile pf;
	struct hf_span sp;
	size_t np, nh, nfds, nr, nk;
	int acc, fd;

	if (hp_posix(ps, &np))
		return -1;
	for (size_t i = 0; i < np; i++) {
		if (hp_pfile(ps, &pf))
			return -1;
		for (size_t j = 0; j < pf.nmap; j++, prev = r)
			if (hp_range(ps, j ? &prev : NULL, &r))
				return -1;
		if (hp_count(ps, &nh, 4))
			return -1;
		for (size_t j = 0; j < nh; j++) {
			if (hp_holder(ps, &acc, &nfds))
				return -1;
			for (size_t k = 0; k < nfds; k++)
				if (hp_fd(ps, &fd))
					return -1;
			if (hp_count(ps, &nr, 2))
				return -1;
			for (size_t k = 0; k < nr; k++)
				if (hp_span(ps, &sp))
					return -1;
		}
		if (hp_count(ps, &nk, 1))
			return -1;
		for (size_t k = 0; k < nk; k++) {
			if (hp_fd(ps, &fd))
				return -1;
			/* as the exec would have: the locks go */
			if (same_file(fd, pf.dev, pf.ino) &&
			    fdstate_get(fd) == FD_NONE)
				raw_close(fd);
		}
	}
	return 0;
}
