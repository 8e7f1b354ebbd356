/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * shim/exec.c: locks survive exec, as POSIX says, although the anchors
 * that carry them are close-on-exec.
 *
 * POSIX keeps a lock taken through a descriptor that survives execve()
 * (not close-on-exec); a wrapper that locks a file and execs the real
 * program relies on it. A failed exec must change nothing anyone can
 * see, so nothing is unlocked before it. With the table locked for
 * writing until the exec returns:
 *   - holders whose descriptors are all close-on-exec leave (their
 *     description is about to be closed): on a file where no holder that
 *     stays holds a range, the anchor simply stays close-on-exec, and the
 *     exec drops its locks; on a file where one does, the anchor loses
 *     close-on-exec and goes over with every range it carries, and the
 *     new image unlocks those that only leaving holders held (adopt.c);
 *   - dups made before their description's first lock (FD_DUP) are
 *     tracked with their holder first: they keep its locks across exec
 *     as they do across a close;
 *   - the table goes to the new image in LOCKSPACE_PRELOAD_HANDOFF (a
 *     struct handoff, handoff.h; a sealed memfd beyond HANDOFF_ENV_MAX
 *     bytes), with the surviving FD_DUP descriptors of descriptions that
 *     took no lock yet, so that a first lock after exec knows them too.
 *     A process that never took a lock hands over nothing.
 * If the exec fails, every flag and the table are put back and the error
 * is returned unchanged. The new image adopts the anchors in its
 * constructor, before main, after checking each claim against the kernel.
 *
 * The new image's side is adopt.c.
 */
#include "exec.h"
#include "anchor.h"
#include "band.h"
#include "fdstate.h"
#include "files.h"
#include "handoff.h"
#include "image.h"
#include "lockcmd.h"
#include "log.h"
#include "posixbe.h"
#include "real.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

extern char **environ;

/* ---- before exec ------------------------------------------------------------ */

/* A file whose anchor goes over to the new image: it lost close-on-exec,
 * which a failed exec gives back. Nothing else changes before the exec:
 * what only leaving holders held stays locked on the anchor until the
 * new image has taken the hand-over in (adopt.c unlocks it there), so
 * that a failed exec finds everything as it was, and another process
 * never sees those ranges free while the exec may still fail. */
struct undo_file {
	struct ls_file *f;
	int cloexec_cleared;
	int converted; /* its anchor closed, its map taken as POSIX locks */
};

struct exec_state {
	int active;
	struct crit c;
	struct undo_file *u;
	size_t nu;
	char **env;
	char *var;
	int memfd; /* FD_OURS while it exists */
};

static int relock_step(void *arg, int64_t s, int64_t e, int type)
{
	struct ls_file *f = arg;

	if (klock(f->anchor, F_OFD_SETLK, type, s, e) < 0)
		log_note("exec failed, and a range it had made a POSIX lock "
			 "was taken meanwhile: %lld-%lld", (long long)s,
			 (long long)e);
	return 0;
}

/* Put a file back (exec failed): its entry never changed. A converted
 * one gets an anchor again: opening it drops the POSIX locks (the
 * reopen closes a descriptor of the file), then the map is locked on
 * it; without one, the file stays on POSIX locks, for good. */
static void undo_one(struct undo_file *u)
{
	struct ls_file *f = u->f;
	int err;

	if (u->cloexec_cleared)
		real_fcntl(f->anchor, F_SETFD, (void *)(long)FD_CLOEXEC);
	if (!u->converted)
		return;
	fmu_lock(&f->mu);
	err = f->ofds ? anchor_open(&f->anchor, f->ofds->fd, f->anchor_rw)
		      : -EBADF;
	if (err == 0)
		lsr_set_visit(&f->t.map, 0, LSR_OFF_MAX, relock_step, f);
	fmu_unlock(&f->mu);
	if (err < 0)
		lockcmd_fallback_close(f, "no anchor after a failed exec",
				       -err);
}

static void undo_free(struct exec_state *es)
{
	free(es->u);
	es->u = NULL;
	es->nu = 0;
}

/* Whether one of f's holders that stay holds a range: then its anchor
 * goes over, with every range it carries (the leaving holders' too). */
static int keeps_ranges(const struct ls_file *f)
{
	if (f->fallback || f->anchor < 0 || !f->t.map.root)
		return 0;
	for (const struct ls_holder *o = f->ofds; o; o = o->fnext) {
		const struct lsr_set *held;

		if (!o->keep)
			continue;
		held = lst_holder_ranges(&f->t, o->id);
		if (held && held->count)
			return 1;
	}
	return 0;
}

static struct undo_file *undo_new(struct exec_state *es, struct ls_file *f)
{
	struct undo_file *u;

	u = realloc(es->u, (es->nu + 1) * sizeof(*u));
	if (!u)
		return NULL;
	es->u = u;
	u = &es->u[es->nu++];
	u->f = f;
	u->cloexec_cleared = 0;
	u->converted = 0;
	return u;
}

/* A descriptor that survives exec, and its holder. */
struct fd_pair {
	struct ls_holder *o;
	int fd;
};

static int cmp_pair(const void *a, const void *b)
{
	const struct fd_pair *x = a, *y = b;

	if (x->o->file != y->o->file)
		return (uintptr_t)x->o->file < (uintptr_t)y->o->file ? -1 : 1;
	if (x->o != y->o)
		return (uintptr_t)x->o < (uintptr_t)y->o ? -1 : 1;
	return (x->fd > y->fd) - (x->fd < y->fd);
}

/* The first of pairs[0..n) (sorted by cmp_pair) on file f, or n. */
static size_t pairs_of(const struct fd_pair *pairs, size_t n,
		       const struct ls_file *f)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if ((uintptr_t)pairs[mid].o->file < (uintptr_t)f)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* One file of the hand-over: its whole map (what the anchor carries,
 * which the new image checks against the kernel) and its kept holders
 * with their descriptors and ranges (pairs[0..n), one file, sorted by
 * holder). The map's ranges no kept holder holds are the leaving
 * holders': the new image unlocks them. */
static int describe_file(struct hf_file *hf, const struct ls_file *f,
			 const struct fd_pair *pairs, size_t n)
{
	const struct lst_file *t = &f->t;
	struct hf_fill c = {0};
	size_t i, j;

	hf->dev = (uint64_t)t->key.dev;
	hf->ino = (uint64_t)t->key.ino;
	hf->anchor = f->anchor;
	hf->rw = f->anchor_rw;
	hf->map = calloc(t->map.count ? t->map.count : 1, sizeof(*hf->map));
	if (!hf->map)
		return -ENOMEM;
	c.map = hf->map;
	lsr_set_visit(&t->map, 0, LSR_OFF_MAX, hf_fill_step, &c);
	hf->nmap = c.n;
	for (i = 0; i < n; i++)
		hf->nh += !i || pairs[i].o != pairs[i - 1].o;
	hf->h = calloc(hf->nh ? hf->nh : 1, sizeof(*hf->h));
	if (!hf->h)
		return -ENOMEM;
	for (i = 0, hf->nh = 0; i < n; i = j) {
		struct hf_holder *h = &hf->h[hf->nh++];
		const struct lsr_set *held = lst_holder_ranges(t, pairs[i].o->id);

		for (j = i; j < n && pairs[j].o == pairs[i].o; j++)
			;
		h->accmode = pairs[i].o->accmode;
		h->nfds = j - i;
		h->fds = calloc(h->nfds, sizeof(*h->fds));
		h->nr = held ? held->count : 0;
		h->r = calloc(h->nr ? h->nr : 1, sizeof(*h->r));
		if (!h->fds || !h->r)
			return -ENOMEM;
		for (size_t k = i; k < j; k++)
			h->fds[k - i] = pairs[k].fd;
		c = (struct hf_fill){.spans = h->r};
		if (held)
			lsr_set_visit(held, 0, LSR_OFF_MAX, hf_fill_step, &c);
	}
	return 0;
}

/* Before any exec: a tracked number closed behind our back (and maybe
 * reused for another file) must not be claimed as its holder's
 * descriptor (the new image would refuse the whole hand-over); the dups
 * made before a first lock become their holder's descriptors, for good,
 * whether or not the exec succeeds (they are its descriptors either
 * way); keep is cleared. table_lock held for writing. */
static void exec_scan(void)
{
	int max = atomic_load(&fd_state_max);
	struct lst_file *lf;
	struct ls_holder *o;
	size_t i;

	for (int fd = 0; fd <= max; fd++) {
		struct ls_holder *h = fdstate_holder(fd);
		struct stat st;

		if (!h || (fstat(fd, &st) == 0 &&
			   st.st_dev == h->file->t.key.dev &&
			   st.st_ino == h->file->t.key.ino))
			continue;
		h = holder_detach(fd);
		if (h)
			holder_release_as(h, PB_UNSEEN);
	}
	for (i = 0; (lf = lst_table_next(&files_table, &i));)
		for (o = ((struct ls_file *)lf)->ofds; o; o = o->fnext) {
			o->keep = 0;
			holder_track_dups(o);
		}
}

/*
 * The new image will not run the shim (image.h): it must find plain
 * POSIX locks on its own descriptors, and nothing of ours open. On a
 * file where a holder leaves (a descriptor of it closes on exec), plain
 * POSIX drops every lock of the process at that close: the anchor stays
 * close-on-exec, and the exec drops its locks. On a file whose holders
 * all stay, the anchor is unlocked and closed (its close at exec would
 * drop POSIX locks on the file) and the map becomes POSIX locks through
 * the holders' descriptors, which survive the exec; a failed exec puts
 * an anchor back (undo_one). Each range is free for a moment between the
 * two. table_lock held for writing; 0 or -ENOMEM.
 */
static int exec_convert_locked(struct exec_state *es)
{
	int max = atomic_load(&fd_state_max);
	struct lst_file *lf;
	struct ls_holder *o;
	size_t i;

	exec_scan();
	posixbe_exec_convert(); /* backend = posix: a note */
	for (int fd = 0; fd <= max; fd++) {
		int fl;

		o = fdstate_holder(fd);
		if (!o)
			continue;
		fl = real_fcntl(fd, F_GETFD, NULL);
		if (fl >= 0)
			o->keep |= fl & FD_CLOEXEC ? 4 : 1;
	}
	for (i = 0; (lf = lst_table_next(&files_table, &i));) {
		struct ls_file *f = (struct ls_file *)lf;
		struct undo_file *u;
		int leaves = 0;

		if (f->fallback || f->anchor < 0 || !f->t.map.root ||
		    !f->ofds)
			continue;
		/* a descriptor of the file that closes at exec */
		for (o = f->ofds; o; o = o->fnext)
			leaves |= !(o->keep & 1) || (o->keep & 4);
		if (leaves)
			continue;
		u = undo_new(es, f);
		if (!u)
			return -ENOMEM;
		u->converted = 1;
		fmu_lock(&f->mu);
		klock(f->anchor, F_OFD_SETLK, LSR_UNLCK, 0, LSR_OFF_MAX);
		anchor_close(&f->anchor);
		lockcmd_map_to_posix(f);
		fmu_unlock(&f->mu);
	}
	return 0;
}

/* Clear close-on-exec on what exec keeps, and describe it in ho.
 * table_lock held for writing. Returns the number of files and FD_DUP
 * descriptors handed over, or -errno. */
static int exec_prepare_locked(struct exec_state *es, struct handoff *ho)
{
	int max = atomic_load(&fd_state_max), err = -ENOMEM;
	struct fd_pair *pairs = NULL;
	size_t np = 0, cap = 0, i, j, k, e, dcap = 0;
	struct lst_file *lf;
	struct ls_holder *o;

	exec_scan();
	for (int fd = 0; fd <= max; fd++) {
		int st = fdstate_get(fd), fl;

		if (st != FD_TRACKED && st != FD_DUP)
			continue;
		fl = real_fcntl(fd, F_GETFD, NULL);
		if (fl < 0 || (fl & FD_CLOEXEC))
			continue;
		if (st == FD_DUP) {
			if (hf_push_int(&ho->dups, &ho->nd, &dcap, fd) < 0)
				goto out;
			continue;
		}
		if (np == cap) {
			struct fd_pair *n;

			cap = cap ? cap * 2 : 16;
			n = realloc(pairs, cap * sizeof(*n));
			if (!n)
				goto out;
			pairs = n;
		}
		pairs[np].o = fdstate_holder(fd);
		pairs[np].o->keep = 1;
		pairs[np++].fd = fd;
	}
	/* Files where a holder that stays holds a range: the anchor stays
	 * open across exec. The others keep their close-on-exec anchor, and
	 * the exec drops its locks. */
	for (i = 0; (lf = lst_table_next(&files_table, &i));) {
		struct ls_file *f = (struct ls_file *)lf;
		struct undo_file *u;

		if (!keeps_ranges(f))
			continue;
		u = undo_new(es, f);
		if (!u)
			goto out;
		real_fcntl(f->anchor, F_SETFD, (void *)0L);
		u->cloexec_cleared = 1;
		ho->nf++;
		for (o = f->ofds; o; o = o->fnext)
			if (o->keep)
				o->keep = 2;
	}
	/* backend = posix's files, whose locks are the process's
	 * (posixbe.h): before the dups, which leave out their holders. */
	err = posixbe_exec_prepare(ho);
	if (err < 0)
		goto out;
	err = -ENOMEM;
	if (np)
		qsort(pairs, np, sizeof(*pairs), cmp_pair);
	/* A holder of a file with nothing left to hand over (it holds no
	 * range) still has descriptors that share its description: they
	 * go as dups, or a first lock after exec would count only one. */
	for (i = 0; i < np; i = j) {
		for (j = i; j < np && pairs[j].o == pairs[i].o; j++)
			;
		if (j - i < 2 || pairs[i].o->keep == 2)
			continue;
		for (k = i; k < j; k++)
			if (hf_push_int(&ho->dups, &ho->nd, &dcap,
					pairs[k].fd) < 0)
				goto out;
	}
	ho->pid = getpid();
	ho->f = calloc(ho->nf ? ho->nf : 1, sizeof(*ho->f));
	if (!ho->f) {
		ho->nf = 0;
		goto out;
	}
	for (i = 0, k = 0; i < es->nu; i++) {
		const struct undo_file *u = &es->u[i];

		if (!u->cloexec_cleared)
			continue; /* nothing left to hand over */
		j = pairs_of(pairs, np, u->f);
		for (e = j; e < np && pairs[e].o->file == u->f; e++)
			;
		if (describe_file(&ho->f[k++], u->f, pairs + j, e - j) < 0)
			goto out;
	}
	err = (int)(ho->nf + ho->nd + ho->np);
out:
	free(pairs);
	return err;
}

static void exec_undo(struct exec_state *es)
{
	for (size_t i = 0; i < es->nu; i++)
		undo_one(&es->u[i]);
	posixbe_exec_undo();
}

/* The environment for the new image: envp without an older hand-over,
 * plus ours. */
static char **env_with(char *const envp[], char *var)
{
	size_t n = 0, k = 0;
	char **env;

	while (envp && envp[n])
		n++;
	env = malloc((n + 2) * sizeof(*env));
	if (!env)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (strncmp(envp[i], HANDOFF_VAR "=", sizeof(HANDOFF_VAR)))
			env[k++] = envp[i];
	env[k++] = var;
	env[k] = NULL;
	return env;
}

/* The text in a sealed memfd of ours, in the band and kept across exec:
 * its number, or -errno. */
static int put_in_memfd(struct exec_state *es, const char *text, size_t len)
{
	int fd = (int)syscall(SYS_memfd_create, HANDOFF_MEMFD_NAME,
			      MFD_ALLOW_SEALING);
	int moved;

	if (fd < 0)
		return -errno;
	if (write(fd, text, len) != (ssize_t)len ||
	    real_fcntl(fd, F_ADD_SEALS,
		       (void *)(long)(F_SEAL_SHRINK | F_SEAL_GROW |
				      F_SEAL_WRITE | F_SEAL_SEAL)) < 0) {
		raw_close(fd);
		return -EIO;
	}
	moved = band_dup(fd, 1);
	raw_close(fd);
	if (moved < 0)
		return moved;
	es->memfd = moved;
	fdstate_own(moved, &es->memfd);
	return moved;
}

/* 0 with es ready (es->env the environment to use, NULL: envp), or
 * -errno. */
static int exec_prepare(struct exec_state *es, const struct exec_call *c,
			char *const envp[])
{
	struct handoff ho = {0};
	size_t len = 0;
	char *text;
	int n, shim;

	memset(es, 0, sizeof(*es));
	es->memfd = -1;
	if (guard_passthrough() || !atomic_load(&files_active))
		return 0;
	shim = image_runs_shim(c, envp);
	crit_enter(&es->c, 1);
	es->active = 1;
	if (!shim)
		return exec_convert_locked(es);
	n = exec_prepare_locked(es, &ho);
	text = n > 0 ? handoff_emit(&ho, &len) : NULL;
	handoff_free(&ho);
	if (n <= 0)
		return n; /* 0: nothing to hand over */
	if (!text)
		return -ENOMEM;
	if (len > HANDOFF_ENV_MAX) {
		char name[64];
		int mfd = put_in_memfd(es, text, len);

		free(text);
		if (mfd < 0)
			return mfd;
		len = (size_t)snprintf(name, sizeof(name),
				       HANDOFF_MAGIC " memfd %d", mfd);
		text = strdup(name);
		if (!text)
			return -ENOMEM;
	}
	es->var = malloc(sizeof(HANDOFF_VAR) + len + 1);
	if (!es->var) {
		free(text);
		return -ENOMEM;
	}
	memcpy(es->var, HANDOFF_VAR "=", sizeof(HANDOFF_VAR));
	memcpy(es->var + sizeof(HANDOFF_VAR), text, len + 1);
	free(text);
	es->env = env_with(envp, es->var);
	return es->env ? 0 : -ENOMEM;
}

/* The exec returned: it failed. Put everything back. */
static void exec_finish(struct exec_state *es)
{
	int saved = errno;

	if (!es->active)
		return;
	exec_undo(es);
	undo_free(es);
	if (es->memfd >= 0) {
		fdstate_clear(es->memfd);
		raw_close(es->memfd);
	}
	free(es->env);
	free(es->var);
	crit_leave(&es->c);
	errno = saved;
}

static int exec_real(const struct exec_call *c, char *const env[])
{
	switch (c->kind) {
	case X_EXECVE:
		return real_execve(c->path, c->argv, env);
	case X_EXECVPE:
		return real_execvpe(c->path, c->argv, env);
	case X_FEXECVE:
		return real_fexecve(c->dirfd, c->argv, env);
	default:
		return real_execveat(c->dirfd, c->path, c->argv, env, c->flags);
	}
}

int exec_run(const struct exec_call *c, char *const envp[])
{
	struct exec_state es;
	int r = exec_prepare(&es, c, envp);

	if (r < 0) {
		exec_finish(&es);
		errno = -r;
		return -1;
	}
	r = exec_real(c, es.env ? es.env : envp);
	exec_finish(&es);
	return r;
}
