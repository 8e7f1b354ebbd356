/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * shim/adopt.c: in the new image of an exec, before main: the hand-over
 * the old image left in LOCKSPACE_PRELOAD_HANDOFF (exec.c) is parsed
 * (handoff.h), every claim is checked against the kernel (the anchor is
 * open on the file and really holds the claimed ranges as OFD locks,
 * each descriptor is open on its file with the claimed access mode and
 * is not the anchor's description), and only then taken into the table.
 * A claim that does not hold is ignored, and its descriptors are left as
 * they are: a variable the program set must not cost it a descriptor.
 * The anchor comes with every range it carried before the exec, the
 * leaving holders' too (exec.c unlocks nothing before an exec that may
 * fail); those go once the hand-over is in. Without memory, the locks of
 * the holders that stayed become plain POSIX locks through the program's
 * own descriptors. (Somewhat over 600 lines: the check, the adoption and
 * the out-of-memory walk all read one hand-over, and each is short.)
 */
#include "adopt.h"
#include "anchor.h"
#include "config.h"
#include "exec.h"
#include "fdstate.h"
#include "files.h"
#include "handoff.h"
#include "log.h"
#include "posixbe.h"
#include "procfs.h"
#include "real.h"

#include <errno.h>
#include <limits.h>
#include <linux/close_range.h>
#include <linux/kcmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* ---- checking the claim ------------------------------------------------------ */

/* Counting the anchor's lock lines that are claimed ranges; any other
 * line stops the walk. */
struct holds_ctx {
	const struct hf_file *f;
	size_t seen;
};

static int claimed_step(void *arg, const struct pf_lock *l)
{
	struct holds_ctx *c = arg;
	const struct hf_file *f = c->f;
	size_t lo = 0, hi = f->nmap;

	if (l->kind != PF_OFD || l->dev != f->dev || l->ino != f->ino)
		return 1;
	/* The claimed map is sorted by start: search it. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (f->map[mid].start < l->start)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == f->nmap || f->map[lo].start != l->start ||
	    f->map[lo].end != l->end || f->map[lo].type != l->type)
		return 1;
	c->seen++;
	return 0;
}

/*
 * Where the kernel does not list the locks (a FUSE filesystem that handles
 * locks itself, GlusterFS: /proc/self/fdinfo and /proc/locks have no line
 * for them), the claim is checked range by range with the lock calls
 * instead: the process's own F_GETLK (which sees every lock but its own
 * POSIX ones) finds a lock of the claimed type over exactly the claimed
 * range, and F_OFD_GETLK through the anchor finds nothing in the way
 * there, so the lock is the anchor's description's (a lock of any other
 * would be in its way). Trusted beyond that: that the anchor holds
 * nothing but the claimed ranges (what fdinfo would have shown), and for
 * a read range, which reader holds it, when another process holds a read
 * lock on exactly the same bytes (read locks are not in each other's
 * way). Each is a hand-over the program's own environment would have to
 * forge.
 */
static int holds_by_getlk(int anchor, const struct hf_range *m)
{
	struct flock fl;

	range_to_flock(&fl, LSR_WRLCK, m->start, m->end);
	if (real_fcntl(anchor, F_GETLK, &fl) < 0 ||
	    fl.l_type != (m->type == LSR_WRLCK ? F_WRLCK : F_RDLCK) ||
	    fl.l_start != m->start ||
	    fl.l_len != (m->end == LSR_OFF_MAX ? 0 : m->end - m->start + 1))
		return 0;
	range_to_flock(&fl, m->type == LSR_WRLCK ? LSR_WRLCK : LSR_RDLCK,
		       m->start, m->end);
	return real_fcntl(anchor, F_OFD_GETLK, &fl) == 0 &&
	       fl.l_type == F_UNLCK;
}

/* The anchor really holds exactly the claimed ranges, as OFD locks: NULL,
 * or why not. */
static const char *anchor_holds(const struct hf_file *f)
{
	struct holds_ctx c = {.f = f};
	char path[64];
	int r;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", f->anchor);
	errno = 0;
	r = pf_locks_each(path, claimed_step, &c);
	if (r < 0 && errno == ENOMEM)
		return HANDOFF_NOMEM;
	if (!r && !c.seen && f->nmap) {
		/* no lock line at all: the kernel does not list them */
		for (size_t i = 0; i < f->nmap; i++)
			if (!holds_by_getlk(f->anchor, &f->map[i]))
				return "an anchor does not hold the claimed "
				       "locks";
		return NULL;
	}
	if (r || !f->nmap || c.seen != f->nmap)
		return "an anchor does not hold the claimed locks";
	return NULL;
}

static int same_file(int fd, const struct hf_file *f, struct stat *st)
{
	return fstat(fd, st) == 0 && (uint64_t)st->st_dev == f->dev &&
	       (uint64_t)st->st_ino == f->ino;
}

static int cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;

	return (x > y) - (x < y);
}

/* No descriptor is claimed twice (as two anchors, by two holders, or
 * as an anchor and a holder's), nor is one already the shim's. */
static const char *claimed_once(const struct handoff *ho)
{
	size_t n = 0, k = 0;
	const char *why = NULL;
	int *all;

	for (size_t i = 0; i < ho->nf; i++) {
		n++;
		for (size_t j = 0; j < ho->f[i].nh; j++)
			n += ho->f[i].h[j].nfds;
	}
	all = malloc((n ? n : 1) * sizeof(*all));
	if (!all)
		return HANDOFF_NOMEM;
	for (size_t i = 0; i < ho->nf; i++) {
		all[k++] = ho->f[i].anchor;
		for (size_t j = 0; j < ho->f[i].nh; j++)
			for (size_t m = 0; m < ho->f[i].h[j].nfds; m++)
				all[k++] = ho->f[i].h[j].fds[m];
	}
	qsort(all, n, sizeof(*all), cmp_int);
	for (size_t i = 0; i < n && !why; i++)
		if ((i && all[i] == all[i - 1]) ||
		    fdstate_get(all[i]) != FD_NONE)
			why = "a descriptor is claimed twice";
	free(all);
	return why;
}

static const char *validate(const struct handoff *ho)
{
	pid_t pid = getpid();
	struct stat st;

	for (size_t i = 0; i < ho->nf; i++) {
		const struct hf_file *f = &ho->f[i];
		const char *why;
		int acc;

		if (!same_file(f->anchor, f, &st))
			return "an anchor is not open on its file";
		if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))
			return "an anchor is not a regular file or directory";
		acc = real_fcntl(f->anchor, F_GETFL, NULL) & O_ACCMODE;
		if ((acc == O_RDONLY) != !f->rw)
			return "an anchor's access mode is not the one claimed";
		why = anchor_holds(f);
		if (why)
			return why;
		for (size_t j = 0; j < f->nh; j++)
			for (size_t k = 0; k < f->h[j].nfds; k++) {
				int fd = f->h[j].fds[k];

				if (fd == f->anchor || !same_file(fd, f, &st))
					return "a descriptor is not open on "
					       "its file";
				if (syscall(SYS_kcmp, pid, pid, KCMP_FILE, fd,
					    f->anchor) == 0)
					return "a descriptor shares the "
					       "anchor's description";
				if ((real_fcntl(fd, F_GETFL, NULL) &
				     O_ACCMODE) != f->h[j].accmode)
					return "a descriptor's access mode is "
					       "not the one claimed";
			}
	}
	return claimed_once(ho);
}

/* ---- taking it in -------------------------------------------------------------- */

int adopt_holders(struct ls_file *lf, const struct hf_holder *hs, size_t nh,
		  const struct hf_range *map, size_t nmap)
{
	struct lsr_pool *p = files_pool();

	for (size_t j = 0; j < nh; j++) {
		const struct hf_holder *h = &hs[j];
		struct ls_holder *o;

		if (!h->nfds)
			continue;
		o = holder_new(lf, h->accmode, h->fds[0]);
		if (!o)
			return -1;
		for (size_t k = 0; k < h->nfds; k++)
			holder_map(o, h->fds[k]);
		/* The holder's spans take the map's types. */
		for (size_t k = 0; k < h->nr; k++)
			for (size_t m = 0; m < nmap; m++) {
				int64_t s = h->r[k].start, e = h->r[k].end;

				if (map[m].end < s || map[m].start > e)
					continue;
				s = s < map[m].start ? map[m].start : s;
				e = e > map[m].end ? map[m].end : e;
				if (lst_prepare_lock(&lf->t, p, o->id))
					return -1;
				file_lock(lf, o->id, s, e, map[m].type);
			}
	}
	return 0;
}

static const char *adopt_file(const struct hf_file *f)
{
	struct ls_file *lf = file_get(f->dev, f->ino, f->anchor);

	if (!lf)
		return HANDOFF_NOMEM;
	lf->anchor = f->anchor;
	lf->anchor_rw = (uint8_t)f->rw;
	fdstate_own(f->anchor, &lf->anchor); /* close-on-exec: adopt() */
	if (adopt_holders(lf, f->h, f->nh, f->map, f->nmap))
		return HANDOFF_NOMEM;
	if (lst_file_check(&lf->t))
		return "holders' ranges do not match the locks";
	return NULL;
}

static void file_as_posix(const struct hf_file *f);

/* Whether the file of f's anchor is under mode = protect here: the new
 * image may run the shim with mode = off or observe (its environment,
 * its configuration), where its lock calls go to the kernel through its
 * own descriptors and would meet the anchor's locks. */
static int protected_file(const struct hf_file *f)
{
	char link[40], path[PATH_MAX];
	struct policy pol;
	ssize_t n = -1;

	if (config_has_rules()) {
		snprintf(link, sizeof(link), "/proc/self/fd/%d", f->anchor);
		n = readlink(link, path, sizeof(path) - 1);
		path[n > 0 ? n : 0] = 0;
	}
	config_policy(n > 0 ? path : NULL, &pol);
	return pol.mode == MODE_PROTECT;
}

/* The anchors at a[0..n) close-on-exec again, as every anchor is: one
 * close_range() per run of consecutive numbers (they were made one after
 * the other in the band, so a hand-over of 100 files is mostly one run),
 * F_SETFD where that fails (a kernel before 5.11). a is sorted here. */
static void anchors_cloexec(int *a, size_t n)
{
	qsort(a, n, sizeof(*a), cmp_int);
	for (size_t i = 0, j; i < n; i = j) {
		for (j = i + 1; j < n && a[j] == a[j - 1] + 1; j++)
			;
		if (j - i > 1 &&
		    real_close_range((unsigned)a[i], (unsigned)a[j - 1],
				     CLOSE_RANGE_CLOEXEC) == 0)
			continue;
		for (size_t k = i; k < j; k++)
			real_fcntl(a[k], F_SETFD, (void *)(long)FD_CLOEXEC);
	}
}

static const char *adopt(const struct handoff *ho)
{
	int *cloexec = malloc((ho->nf ? ho->nf : 1) * sizeof(*cloexec));
	const char *why = NULL;
	size_t n = 0;

	for (size_t i = 0; i < ho->nf && !why; i++) {
		if (protected_file(&ho->f[i])) {
			why = adopt_file(&ho->f[i]);
			if (cloexec)
				cloexec[n++] = ho->f[i].anchor;
			else
				real_fcntl(ho->f[i].anchor, F_SETFD,
					   (void *)(long)FD_CLOEXEC);
		} else {
			file_as_posix(&ho->f[i]);
		}
	}
	if (cloexec)
		anchors_cloexec(cloexec, n);
	free(cloexec);
	return why;
}

/* The gaps of held over [pos, end], unlocked on the anchor. */
struct gap_ctx {
	int anchor;
	int64_t pos, end;
	int done;
};

static int gap_step(void *arg, int64_t s, int64_t e, int type)
{
	struct gap_ctx *g = arg;

	(void)type;
	s = s < g->pos ? g->pos : s;
	e = e > g->end ? g->end : e;
	if (s > g->pos)
		klock(g->anchor, F_OFD_SETLK, LSR_UNLCK, g->pos, s - 1);
	if (e == g->end)
		g->done = 1;
	else
		g->pos = e + 1;
	return g->done;
}

/*
 * The old image handed the anchor over with every range it carried
 * (exec.c: nothing is unlocked before an exec that may fail); the ranges
 * of the map that no holder that stayed holds were the leaving holders',
 * and go now, the exec having succeeded. table_lock held for writing.
 */
static void release_leavers(const struct handoff *ho)
{
	for (size_t i = 0; i < ho->nf; i++) {
		const struct hf_file *f = &ho->f[i];
		struct ls_file *lf = file_find(f->dev, f->ino);

		if (!lf || lf->anchor != f->anchor)
			continue;
		fmu_lock(&lf->mu);
		for (size_t m = 0; m < f->nmap; m++) {
			struct gap_ctx g = {f->anchor, f->map[m].start,
					    f->map[m].end, 0};

			lsr_set_visit(&lf->t.map, g.pos, g.end, gap_step, &g);
			if (!g.done)
				klock(f->anchor, F_OFD_SETLK, LSR_UNLCK, g.pos,
				      g.end);
		}
		fmu_unlock(&lf->mu);
	}
}

/* Descriptors the old image saw dup'ed while their description took no
 * lock: FD_DUP again. A wrong claim costs a kcmp at a holder's last
 * close, nothing more; only open descriptors nobody claimed are marked. */
static void adopt_dups(const struct handoff *ho)
{
	for (size_t i = 0; i < ho->nd; i++)
		if (fdstate_get(ho->dups[i]) == FD_NONE &&
		    real_fcntl(ho->dups[i], F_GETFD, NULL) >= 0)
			fdstate_mark_dup_new(ho->dups[i]);
}

/* ---- without memory -------------------------------------------------------------- */

/* A descriptor of f through which the process may take a lock of type. */
static int posix_fd(const struct hf_file *f, int type)
{
	struct stat st;

	for (size_t j = 0; j < f->nh; j++) {
		int acc = f->h[j].accmode;

		if (f->h[j].nfds && (type == LSR_WRLCK ? acc != O_RDONLY
						       : acc != O_WRONLY) &&
		    same_file(f->h[j].fds[0], f, &st))
			return f->h[j].fds[0];
	}
	return -1;
}

/* The anchor lets go of everything and closes, before any POSIX lock is
 * taken on its file: its close would drop them. */
static void anchor_away(int anchor)
{
	klock(anchor, F_OFD_SETLK, LSR_UNLCK, 0, LSR_OFF_MAX);
	raw_close(anchor);
}

/* What a holder that stayed held of a range of the map, as a plain POSIX
 * lock of the map's type through fd (-1: no descriptor with the access it
 * needs), or a note that it is lost. */
static void span_to_posix(int fd, const struct hf_range *r,
			  const struct hf_span *sp, uint64_t ino)
{
	int64_t s = sp->start > r->start ? sp->start : r->start;
	int64_t e = sp->end < r->end ? sp->end : r->end;

	if (s > e)
		return;
	if (fd < 0 || klock(fd, F_SETLK, r->type, s, e) < 0)
		log_note("exec hand-over as POSIX locks: the lock %lld-%lld "
			 "of ino %llu is lost", (long long)s, (long long)e,
			 (unsigned long long)ino);
}

/*
 * The table could not take the validated hand-over in (out of memory):
 * the locks of the holders that stayed become plain POSIX locks of the
 * process, taken through a descriptor of the program, and the anchors
 * close, so that the program can still unlock and close as it could
 * without the shim (and a close drops them as plain POSIX does); what
 * only the leaving holders held goes. Nothing here allocates; the ranges
 * are free for a moment between the anchor's unlock and the POSIX locks.
 */
static void file_as_posix(const struct hf_file *f)
{
	struct stat st;

	if (!same_file(f->anchor, f, &st))
		return; /* not an anchor of this file: left alone */
	anchor_away(f->anchor);
	for (size_t m = 0; m < f->nmap; m++)
		for (size_t j = 0; j < f->nh; j++)
			for (size_t k = 0; f->h[j].nfds && k < f->h[j].nr; k++)
				span_to_posix(posix_fd(f, f->map[m].type),
					      &f->map[m], &f->h[j].r[k],
					      f->ino);
}

static void adopt_as_posix(const struct handoff *ho)
{
	for (size_t i = 0; i < ho->nf; i++)
		file_as_posix(&ho->f[i]);
}

/* One file of a hand-over text that could not be parsed for lack of
 * memory: as adopt_as_posix(), read with the same grammar in passes
 * instead of built: the holders once for their descriptors, then again
 * for each range of the map. -1 on malformed text. */
static int nomem_file(struct hp *ps)
{
	int fd[2] = {-1, -1}; /* for read, for write locks */
	struct hf_range prev, r;
	struct hf_span sp;
	struct hf_file f;
	struct stat st;
	size_t nh, nfds, nr;
	struct hp map, holders, hs;
	int acc, v;

	if (hp_file(ps, &f))
		return -1;
	map = *ps;
	for (size_t i = 0; i < f.nmap; i++, prev = r)
		if (hp_range(ps, i ? &prev : NULL, &r))
			return -1;
	if (hp_count(ps, &nh, 4))
		return -1;
	holders = *ps;
	for (size_t j = 0; j < nh; j++) {
		if (hp_holder(ps, &acc, &nfds))
			return -1;
		for (size_t k = 0; k < nfds; k++) {
			if (hp_fd(ps, &v))
				return -1;
			if (k || !same_file(v, &f, &st))
				continue;
			if (acc != O_WRONLY && fd[0] < 0)
				fd[0] = v;
			if (acc != O_RDONLY && fd[1] < 0)
				fd[1] = v;
		}
		if (hp_count(ps, &nr, 2))
			return -1;
		for (size_t k = 0; k < nr; k++)
			if (hp_span(ps, &sp))
				return -1;
	}
	if (!same_file(f.anchor, &f, &st) || fdstate_get(f.anchor) != FD_NONE)
		return 0; /* not an anchor of this file: left alone */
	anchor_away(f.anchor);
	for (size_t i = 0; i < f.nmap; i++, prev = r) {
		if (hp_range(&map, i ? &prev : NULL, &r))
			return -1;
		hs = holders;
		for (size_t j = 0; j < nh; j++) {
			if (hp_holder(&hs, &acc, &nfds))
				return -1;
			for (size_t k = 0; k < nfds; k++)
				if (hp_fd(&hs, &v))
					return -1;
			if (hp_count(&hs, &nr, 2))
				return -1;
			for (size_t k = 0; k < nr; k++) {
				if (hp_span(&hs, &sp))
					return -1;
				if (nfds)
					span_to_posix(fd[r.type == LSR_WRLCK],
						      &r, &sp, f.ino);
			}
		}
	}
	return 0;
}

static void adopt_nomem(const char *text, size_t len, int64_t fdmax)
{
	struct hp ps;
	size_t nf, nd;
	int fd;

	hp_init(&ps, text, len, fdmax);
	if (hp_header(&ps, getpid(), &nf))
		return;
	for (size_t i = 0; i < nf; i++)
		if (nomem_file(&ps) < 0)
			return;
	if (hp_dups(&ps, &nd))
		return;
	for (size_t i = 0; i < nd; i++)
		if (hp_fd(&ps, &fd))
			return;
	posixbe_nomem_pfiles(&ps); /* backend = posix's files */
}

/* ---- where the text is ------------------------------------------------------------ */

/* Only a memfd of ours, sealed as exec.c sealed it, is read and closed:
 * a variable naming any other descriptor must not cost the program that
 * descriptor. The reader maps the memfd's size and parses it in place:
 * every seal that keeps the mapping whole and unchanged is required (a
 * memfd that another process could shrink would end the new image with
 * SIGBUS before main). */
#define HANDOFF_SEALS (F_SEAL_SHRINK | F_SEAL_WRITE | F_SEAL_SEAL)

static int is_handoff_memfd(int fd)
{
	char link[40], target[64];
	ssize_t n;
	int seals = real_fcntl(fd, F_GET_SEALS, NULL);

	if (seals < 0 || (seals & HANDOFF_SEALS) != HANDOFF_SEALS)
		return 0;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, target, sizeof(target) - 1);
	if (n <= 0)
		return 0;
	target[n] = 0;
	return !strncmp(target, "/memfd:" HANDOFF_MEMFD_NAME,
			sizeof("/memfd:" HANDOFF_MEMFD_NAME) - 1);
}

/* The memfd's text, mapped (no heap: it may be short), *len bytes. */
static char *map_memfd(int fd, size_t *len)
{
	struct stat st;
	void *p;

	if (fstat(fd, &st) < 0 || st.st_size <= 0 || st.st_size > HANDOFF_MAX)
		return NULL;
	p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (p == MAP_FAILED)
		return NULL;
	*len = (size_t)st.st_size;
	return p;
}

/* "LSH1 memfd N": the text from the memfd (mapped, *mapped set), or
 * NULL with *why. */
static const char *from_memfd(const char *v, int64_t fdmax, size_t *len,
			      char **mapped, const char **why)
{
	const char *num = v + sizeof(HANDOFF_MAGIC " memfd") - 1;
	struct hp ps;
	int mfd;

	hp_init(&ps, num, strlen(num), fdmax);
	if (hp_fd(&ps, &mfd) || hp_end(&ps)) {
		*why = "malformed memfd";
		return NULL;
	}
	if (!is_handoff_memfd(mfd)) {
		*why = "the memfd named is not a hand-over";
		return NULL;
	}
	*mapped = map_memfd(mfd, len);
	raw_close(mfd);
	if (!*mapped)
		*why = "unreadable memfd";
	return *mapped;
}

void adopt_handoff(void)
{
	const char *v = secure_getenv(HANDOFF_VAR), *text, *why;
	int64_t fdmax = (int64_t)fd_state_size - 1;
	struct handoff ho;
	char *mapped = NULL;
	struct crit c;
	size_t len;

	if (!v)
		return;
	config_ensure(); /* the files it takes in get their policy */
	text = v;
	len = strlen(v);
	if (!strncmp(v, HANDOFF_MAGIC " memfd ", sizeof(HANDOFF_MAGIC) + 6)) {
		text = from_memfd(v, fdmax, &len, &mapped, &why);
		if (!text)
			goto bad;
	}
	if (handoff_parse(text, len, getpid(), fdmax, &ho, &why)) {
		if (why == HANDOFF_NOMEM)
			adopt_nomem(text, len, fdmax);
		goto bad;
	}
	crit_enter(&c, 1);
	why = validate(&ho);
	if (!why)
		why = posixbe_validate(&ho); /* backend = posix's files */
	if (why && why != HANDOFF_NOMEM) {
		/* not ours: the descriptors stay as they are */
	} else if (why || (why = adopt(&ho)) != NULL ||
		   (why = posixbe_adopt(&ho)) != NULL) {
		files_forget_free();
		adopt_as_posix(&ho);
		posixbe_adopt_as_posix(&ho);
	} else {
		release_leavers(&ho);
		adopt_dups(&ho);
	}
	crit_leave(&c);
	handoff_free(&ho);
	if (why)
		goto bad;
	if (mapped)
		munmap(mapped, len);
	unsetenv(HANDOFF_VAR);
	return;
bad:
	if (mapped)
		munmap(mapped, len);
	unsetenv(HANDOFF_VAR);
	log_note("ignoring the exec hand-over in %s: %s", HANDOFF_VAR, why);
}
