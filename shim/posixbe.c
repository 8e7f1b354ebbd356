/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * shim/posixbe.c: backend = posix, classic POSIX locks with deferred
 * closes (posixbe.h says why and what).
 */
#include "posixbe.h"
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

/* The home of every kept descriptor (fdstate_own): it tells a kept
 * number from an anchor's, whose home is its file's f->anchor. */
static int pb_home = -1;

/* Files of backend = posix whose map holds a range: WATCH_POSIX is set
 * while there is one (config.h), so that closes of descriptors the shim
 * does not track are looked at. */
static atomic_int pb_held;

/* Files with kept descriptors (table_lock for writing): while there is
 * one, every kept number is its own, and no fstat says whose it is. */
static int pb_files_kept;

/* Which they are, for those closes' look without a lock (most closes
 * are of other files): (dev, ino) in a slot, ino 0 a free one. A slot is
 * claimed, dev written, then ino (release); the reader loads ino
 * (acquire), then dev. Past PB_HOT such files every close looks in the
 * table (pb_hot_over). Written under the file's mutex. */
#define PB_HOT 8
static struct {
	atomic_int used;
	_Atomic uint64_t dev, ino;
} pb_hot[PB_HOT];
static atomic_int pb_hot_over;

static void hot_add(const struct ls_file *f)
{
	for (int i = 0; i < PB_HOT; i++) {
		int free_ = 0;

		if (!atomic_compare_exchange_strong(&pb_hot[i].used, &free_,
						    1))
			continue;
		atomic_store_explicit(&pb_hot[i].dev, (uint64_t)f->t.key.dev,
				      memory_order_relaxed);
		atomic_store_explicit(&pb_hot[i].ino, (uint64_t)f->t.key.ino,
				      memory_order_release);
		return;
	}
	atomic_fetch_add(&pb_hot_over, 1);
}

static void hot_remove(const struct ls_file *f)
{
	for (int i = 0; i < PB_HOT; i++)
		if (atomic_load(&pb_hot[i].used) &&
		    atomic_load(&pb_hot[i].ino) == (uint64_t)f->t.key.ino &&
		    atomic_load(&pb_hot[i].dev) == (uint64_t)f->t.key.dev) {
			atomic_store(&pb_hot[i].ino, 0);
			atomic_store(&pb_hot[i].used, 0);
			return;
		}
	atomic_fetch_sub(&pb_hot_over, 1);
}

/* Sequentially consistent: the other half of posixbe_settle() (a close
 * counted as started, then this look; a first lock put in the list, then
 * the look at the count). */
static int hot_has(const struct stat *st)
{
	if (atomic_load(&pb_hot_over) > 0)
		return 1; /* the table will say */
	for (int i = 0; i < PB_HOT; i++)
		if (atomic_load(&pb_hot[i].ino) == (uint64_t)st->st_ino &&
		    atomic_load(&pb_hot[i].dev) == (uint64_t)st->st_dev)
			return 1;
	return 0;
}

/*
 * A close decides, then closes with nothing held: a first lock of the
 * file in another thread between the two would be dropped by it (a close
 * that found nothing to keep). The closes that may drop posix locks are
 * counted, started and done; a lock call that made a file's map go from
 * empty to held waits, with nothing held, for the closes that had started
 * by then, and takes again what they dropped. A close that starts later
 * finds the file in the held list and keeps its descriptor.
 */
static atomic_ulong pb_close_started, pb_close_done;
/* This thread's closes in progress: a signal handler's lock call must not
 * wait for the close it interrupted. */
static __thread unsigned long pb_my_closes;

void posixbe_close_start(void)
{
	pb_my_closes++;
	atomic_fetch_add(&pb_close_started, 1);
}

void posixbe_close_done(void)
{
	atomic_fetch_add(&pb_close_done, 1);
	pb_my_closes--;
}

int posixbe_names_held(int fd, struct stat *st)
{
	return fstat(fd, st) == 0 && hot_has(st);
}

void posixbe_after_close(const struct stat *st, struct pb_key *k)
{
	if (k->dev || !(watching_closes() & WATCH_POSIX) || !hot_has(st))
		return;
	k->dev = st->st_dev;
	k->ino = st->st_ino;
}

int posixbe_is_kept(int fd)
{
	return fdstate_get(fd) == FD_OURS && fdstate_home(fd) == &pb_home;
}

/* Set or clear WATCH_POSIX as pb_held says; looked at again after the
 * change, so that of two threads crossing zero the last one decides. */
static void watch_update(void)
{
	for (;;) {
		int held = atomic_load(&pb_held) > 0;

		if (held)
			atomic_fetch_or(&watch_closes, WATCH_POSIX);
		else
			atomic_fetch_and(&watch_closes, ~WATCH_POSIX);
		if ((atomic_load(&pb_held) > 0) == held)
			return;
	}
}

void posixbe_held_changed(const struct ls_file *f, int delta)
{
	if (delta > 0)
		hot_add(f);
	else
		hot_remove(f);
	atomic_fetch_add(&pb_held, delta);
	watch_update();
}

/* Only what changes is written (a fork child's write copies a page). */
CHILD_CODE void posixbe_atfork_child(void)
{
	if (pb_files_kept)
		pb_files_kept = 0;
	for (int i = 0; i < PB_HOT; i++) {
		if (atomic_load(&pb_hot[i].ino))
			atomic_store(&pb_hot[i].ino, 0);
		if (atomic_load(&pb_hot[i].used))
			atomic_store(&pb_hot[i].used, 0);
	}
	if (atomic_load(&pb_hot_over))
		atomic_store(&pb_hot_over, 0);
	if (atomic_load(&pb_held)) {
		atomic_store(&pb_held, 0);
		watch_update();
	}
}

/* ---- descriptors of a file ------------------------------------------------ */

static int names_file(int fd, const struct ls_file *f)
{
	struct stat st;

	return fstat(fd, &st) == 0 && st.st_dev == f->t.key.dev &&
	       st.st_ino == f->t.key.ino;
}


static void kept_add(struct ls_file *f, int n)
{
	unsigned was = f->pb_kept;

	f->pb_kept = (uint8_t)(was + n);
	pb_files_kept += (was == 0) - (f->pb_kept == 0);
}

int posixbe_each_kept(const struct ls_file *f, int (*fn)(void *, int),
		      void *arg)
{
	int max = atomic_load(&fd_state_max);
	unsigned left = f->pb_kept;

	for (int fd = 0; fd <= max && left; fd++) {
		if (!posixbe_is_kept(fd) ||
		    (pb_files_kept > 1 && !names_file(fd, f)))
			continue;
		left--;
		if (fn(arg, fd))
			return 1;
	}
	return 0;
}

/* A lock of type needs read access, write access, or none (unlock). */
static int access_allows(int accmode, int type)
{
	if (type == LSR_WRLCK)
		return accmode != O_RDONLY;
	if (type == LSR_RDLCK)
		return accmode != O_WRONLY;
	return 1;
}

static int fd_allows(int fd, int type)
{
	int fl = type == LSR_UNLCK ? 0 : real_fcntl(fd, F_GETFL, NULL);

	return fl >= 0 && access_allows(fl & O_ACCMODE, type);
}

struct pick {
	int type, fd;
};

static int pick_kept(void *arg, int fd)
{
	struct pick *p = arg;

	if (!fd_allows(fd, p->type))
		return 0;
	p->fd = fd;
	return 1;
}

/* A descriptor of f's file through which a lock of type can be taken:
 * hint, a holder's, a kept one; -1 when there is none. */
static int fd_for(struct ls_file *f, int hint, int type)
{
	struct pick p = {type, -1};

	if (hint >= 0 && fd_allows(hint, type))
		return hint;
	for (const struct ls_holder *h = f->ofds; h; h = h->fnext)
		if (access_allows(h->accmode, type))
			return h->fd;
	posixbe_each_kept(f, pick_kept, &p);
	return p.fd;
}

int posixbe_klock(struct ls_file *f, int hint, int type, int64_t start,
		  int64_t end)
{
	int fd = fd_for(f, hint, type);

	if (fd < 0) {
		errno = EBADF;
		return -1;
	}
	return klock(fd, F_SETLK, type, start, end);
}

/* ---- the lock calls ------------------------------------------------------- */

int posixbe_set(struct ls_file *f, struct ls_holder *o, int fd, int type,
		int64_t start, int64_t end)
{
	struct lsr_pool *p = files_pool();

	if (type == LSR_UNLCK) {
		/* Through any descriptor, for the whole process, as POSIX:
		 * also what was locked past the shim. */
		if (lst_prepare_unlock(&f->t, p) < 0)
			return -ENOLCK;
		if (klock(fd, F_SETLK, LSR_UNLCK, start, end) < 0)
			return -errno;
		file_unlock(f, start, end);
		table_changed();
		return 0;
	}
	if (lst_prepare_lock(&f->t, p, o->id) < 0)
		return -ENOLCK;
	if (klock(fd, F_SETLK, type, start, end) < 0)
		return -errno;
	file_lock(f, o->id, start, end, type);
	log_count(LOGC_LOCKS, 1);
	o->last_tid = my_tid();
	table_changed(); /* a conversion may free readers */
	return 0;
}

struct pb_waiter {
	struct ls_file *f;
	int published, granted;
};

/* Every way out of posixbe_wait(), a cancellation's unwinding included
 * (deadlock.c's mutex is taken around cancellation points: off). */
static void wait_done(void *arg)
{
	struct pb_waiter *w = arg;
	struct crit c;
	int cancel;

	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cancel);
	if (w->published)
		dl_wait_end();
	if (!w->granted) {
		crit_enter(&c, 1);
		file_unpin(w->f);
		crit_leave(&c);
	}
	pthread_setcancelstate(cancel, &cancel);
}

/*
 * The kernel waits, through the program's own descriptor, as plain
 * F_SETLKW does: it finds lock-order cycles among POSIX lock owners
 * (EDEADLK), and a close of fd meanwhile that really happens ends the
 * wait with EBADF (fcntl_setlk). The wait is published first for the
 * cycles that pass through another process's anchor (deadlock.c).
 */
int posixbe_wait(struct ls_file *f, int fd, int type, int64_t start,
		 int64_t end)
{
	struct pb_waiter w = {f, 0, 0};
	int res, oldtype, oldstate;

	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &oldstate);
	res = dl_wait_begin(f->t.key.dev, f->t.key.ino, start, end, type);
	pthread_setcancelstate(oldstate, &oldstate);
	if (res < 0) {
		wait_done(&w);
		return res;
	}
	w.published = 1;
	pthread_cleanup_push(wait_done, &w);
	pthread_setcanceltype(PTHREAD_CANCEL_DEFERRED, &oldtype);
	res = klock(fd, F_SETLKW, type, start, end);
	res = res < 0 ? -errno : 0;
	w.granted = res == 0;
	pthread_cleanup_pop(1);
	pthread_setcanceltype(oldtype, &oldtype);
	return res;
}

/* ---- closes nobody saw: the cheap look -------------------------------------- */

struct held_ctx {
	int fd, ok, n;
};

/* F_OFD_GETLK asks as another owner would: the process's own POSIX lock
 * over the range is reported with its pid. A write range of ours
 * excludes every other lock over it; over a read range another
 * process's read lock may come first, and then it cannot tell. */
static int held_step(void *arg, int64_t s, int64_t e, int type)
{
	struct held_ctx *c = arg;
	struct flock fl;

	if (++c->n > 8)
		goto cannot_tell;
	range_to_flock(&fl, LSR_WRLCK, s, e);
	if (real_fcntl(c->fd, F_OFD_GETLK, &fl) < 0 ||
	    fl.l_pid != table_owner ||
	    fl.l_type != (type == LSR_WRLCK ? F_WRLCK : F_RDLCK) ||
	    fl.l_start > s ||
	    (fl.l_len != 0 && fl.l_start + fl.l_len - 1 < e))
		goto cannot_tell;
	return 0;
cannot_tell:
	c->ok = 0;
	return 1;
}

int posixbe_all_held(struct ls_file *f)
{
	struct held_ctx c = {fd_for(f, -1, LSR_UNLCK), 1, 0};

	if (c.fd < 0)
		return 0;
	lsr_set_visit(&f->t.map, 0, LSR_OFF_MAX, held_step, &c);
	return c.ok;
}

/* ---- taking locks again ------------------------------------------------------ */

struct retake_ctx {
	struct ls_file *f;
	struct loss ok;
	int failed;
};

static int retake_step(void *arg, int64_t s, int64_t e, int type)
{
	struct retake_ctx *c = arg;

	if (posixbe_klock(c->f, -1, type, s, e) == 0)
		loss_add(&c->ok, -1, s, e, type);
	else
		c->failed++;
	return 0;
}

/*
 * A descriptor of f was really closed, and the kernel dropped every POSIX
 * lock of the process on the file: what the table holds is taken again
 * at once (lock-loss-retaken: it was free for a moment); what another
 * process took meanwhile is lost (lock-loss), and forgotten. f->mu held.
 */
static void retake(struct ls_file *f, const char *func, int fd)
{
	struct retake_ctx c = {.f = f};

	if (!f->t.map.root || posixbe_all_held(f))
		return;
	loss_init(&c.ok);
	lsr_set_visit(&f->t.map, 0, LSR_OFF_MAX, retake_step, &c);
	if (c.ok.n)
		loss_report(&c.ok, f, "lock-loss-retaken", LOGL_NOTICE, func,
			    fd);
	if (c.failed)
		observe_forget_lost(f, "lock-loss", func, fd);
}

/* ---- kept descriptors ------------------------------------------------------- */

/* arg: NULL, or two kept descriptors to leave open (-1: none). */
static int close_kept(void *arg, int fd)
{
	if (arg && (((int *)arg)[0] == fd || ((int *)arg)[1] == fd))
		return 0;
	fdstate_clear(fd);
	raw_close(fd);
	return 0;
}

/* The deferred closes happen. With the map empty they drop nothing the
 * table holds. table_lock for writing. */
static void flush_locked(struct ls_file *f)
{
	if (!f->pb_kept)
		return;
	posixbe_each_kept(f, close_kept, NULL);
	kept_add(f, -(int)f->pb_kept);
}

void posixbe_flush(dev_t dev, ino_t ino)
{
	struct ls_file *f;
	struct crit c;
	int saved = errno;

	crit_enter(&c, 1);
	f = file_find(dev, ino);
	if (f && posixbe_flush_due(f))
		flush_locked(f);
	crit_leave(&c);
	errno = saved;
}

/* More than POSIXBE_KEEP_MAX kept descriptors: they all close at once
 * (the locks drop) and the locks are taken again. table_lock for
 * writing. */
static void over_limit(struct ls_file *f)
{
	static atomic_int noted;
	struct pick w = {LSR_WRLCK, -1}, r = {LSR_RDLCK, -1};
	int spare[2];

	if (f->pb_kept <= POSIXBE_KEEP_MAX)
		return;
	if (!atomic_exchange(&noted, 1))
		log_note("backend = posix: more than %d deferred closes of "
			 "ino %lu: they happen now, and its locks are taken "
			 "again (said once)", POSIXBE_KEEP_MAX,
			 (unsigned long)f->t.key.ino);
	/* One with write access and one with read access stay (one when
	 * it has both): the holders left may not have the access a range's
	 * type needs to be taken again. */
	posixbe_each_kept(f, pick_kept, &w);
	if (w.fd < 0 || !fd_allows(w.fd, LSR_RDLCK))
		posixbe_each_kept(f, pick_kept, &r);
	spare[0] = w.fd;
	spare[1] = r.fd;
	posixbe_each_kept(f, close_kept, spare);
	kept_add(f, (w.fd >= 0) + (r.fd >= 0 && r.fd != w.fd) -
		    (int)f->pb_kept);
	fmu_lock(&f->mu);
	retake(f, "close", -1);
	fmu_unlock(&f->mu);
}

/* fd (its descriptor flags fl) becomes a kept descriptor of f:
 * close-on-exec (exec.c hands it over where that keeps locks), the
 * program's calls on it EBADF. */
static void keep_fl(int fd, int fl, struct ls_file *f)
{
	if (!(fl & FD_CLOEXEC))
		real_fcntl(fd, F_SETFD, (void *)(long)(fl | FD_CLOEXEC));
	fdstate_own(fd, &pb_home);
	kept_add(f, 1);
}

static void keep(int fd, struct ls_file *f)
{
	int fl = real_fcntl(fd, F_GETFD, NULL);

	keep_fl(fd, fl < 0 ? 0 : fl, f);
}

/* fd's descriptor flags when it can be kept (a number the states hold,
 * open), else -1. */
static int can_keep(int fd)
{
	if ((unsigned)fd >= fd_state_size || !fd_state)
		return -1;
	return real_fcntl(fd, F_GETFD, NULL);
}

/* Does a close of a descriptor of holder h (NULL: untracked) drop ranges
 * the contract keeps? Every other holder's, and h's own while it has
 * another descriptor. table_lock for writing (no map changes). */
static int must_keep(const struct ls_file *f, const struct ls_holder *h)
{
	if (!posixbe_file(f) || !f->t.map.root)
		return 0;
	if (!h || h->ndesc > 1)
		return 1;
	for (const struct ls_holder *o = f->ofds; o; o = o->fnext)
		if (o != h && lst_holder_holds(&f->t, o->id))
			return 1;
	return 0;
}

int posixbe_keep_tracked(int fd, struct ls_holder *h)
{
	struct ls_file *f = h->file;
	struct ls_holder *gone;
	int fl;

	if (!must_keep(f, h) || (fl = can_keep(fd)) < 0)
		return 0;
	gone = holder_detach(fd);
	keep_fl(fd, fl, f);
	if (gone)
		holder_release_as(gone, fd);
	over_limit(f);
	return 1;
}

/* The entry of the file fd names (st: its fstat, or NULL to ask). */
static struct ls_file *file_of(int fd, const struct stat *st)
{
	struct stat sb;

	if (!st) {
		if (fstat(fd, &sb) < 0)
			return NULL;
		st = &sb;
	}
	return file_find(st->st_dev, st->st_ino);
}

int posixbe_keep_untracked(int fd, const struct stat *st)
{
	struct ls_file *f = file_of(fd, st);
	int fl;

	if (!f || !must_keep(f, NULL) || (fl = can_keep(fd)) < 0)
		return 0;
	keep_fl(fd, fl, f);
	over_limit(f);
	return 1;
}

void posixbe_will_close(int fd, const struct stat *st, struct pb_key *k)
{
	struct ls_file *f = file_of(fd, st);

	/* Even with nothing held now: another thread may lock before the
	 * close, and the close drops that too (posixbe_closed looks). */
	k->dev = 0;
	if (f && posixbe_file(f)) {
		k->dev = f->t.key.dev;
		k->ino = f->t.key.ino;
	}
}

void posixbe_will_close_tracked(const struct ls_holder *h, struct pb_key *k)
{
	k->dev = 0;
	if (posixbe_file(h->file)) {
		k->dev = h->file->t.key.dev;
		k->ino = h->file->t.key.ino;
	}
}

void posixbe_closed_locked(const struct pb_key *k, const char *func, int fd)
{
	struct ls_file *f;

	if (!k->dev)
		return;
	f = file_find(k->dev, k->ino);
	if (!f || !posixbe_file(f))
		return;
	fmu_lock(&f->mu);
	retake(f, func, fd);
	fmu_unlock(&f->mu);
	if (!f->t.map.root)
		flush_locked(f);
}

/* The counts say how many, not which: a close that started later and is
 * done already counts for an earlier one still running, and the wait may
 * end early (that close takes the locks again itself after it, as every
 * close does); it also ends after a while (a close may block, NFS). */
void posixbe_settle(dev_t dev, ino_t ino)
{
	unsigned long until = atomic_load(&pb_close_started) - pb_my_closes;
	struct pb_key k = {dev, ino};

	if (atomic_load(&pb_close_done) >= until)
		return;
	for (int i = 0; i < 100000 && atomic_load(&pb_close_done) < until; i++)
		sched_yield();
	posixbe_closed(&k, "close", -1);
}

void posixbe_closed(const struct pb_key *k, const char *func, int fd)
{
	struct crit c;
	int saved = errno;

	if (!k->dev)
		return;
	crit_enter(&c, 1);
	posixbe_closed_locked(k, func, fd);
	crit_leave(&c);
	errno = saved;
}

void posixbe_give_up(int fd, int close_it, struct pb_key *k)
{
	struct ls_file *f = file_of(fd, NULL);

	k->dev = 0;
	if (f && posixbe_file(f)) {
		k->dev = f->t.key.dev;
		k->ino = f->t.key.ino;
		if (f->pb_kept)
			kept_add(f, -1);
	}
	fdstate_clear(fd);
	if (close_it) {
		raw_close(fd);
		posixbe_closed_locked(k, "dup", fd);
		k->dev = 0;
	}
}

/* ---- a holder leaves --------------------------------------------------------- */

static void unlock_nothing(void *arg, int64_t start, int64_t end)
{
	(void)arg;
	(void)start;
	(void)end;
}

struct unlock_ctx {
	struct ls_file *f;
	int fd;
};

static void unlock_freed(void *arg, int64_t start, int64_t end)
{
	struct unlock_ctx *u = arg;

	posixbe_klock(u->f, u->fd, LSR_UNLCK, start, end);
}

void posixbe_release(struct ls_file *f, uint64_t id, int how)
{
	struct unlock_ctx u = {f, how};
	int r;

	if (how >= 0)
		r = file_release_cb(f, id, unlock_freed, &u);
	else
		r = file_release_cb(f, id, unlock_nothing, NULL);
	if (r < 0) {
		/* No memory to split: the whole file goes, as plain POSIX
		 * would have at this close. */
		if (how >= 0)
			posixbe_klock(f, how, LSR_UNLCK, 0, LSR_OFF_MAX);
		file_clear(f);
	} else if (how == PB_CLOSED) {
		retake(f, "close", -1);
	} else if (how == PB_UNSEEN) {
		observe_unseen(f);
	}
	if (!f->t.map.root)
		flush_locked(f);
}

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

static int push_fd(int **a, size_t *n, size_t *cap, int v)
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

static int stays(const struct ls_file *f)
{
	for (const struct ls_holder *o = f->ofds; o; o = o->fnext)
		if (o->keep && lst_holder_holds(&f->t, o->id))
			return 1;
	return 0;
}

struct fill {
	struct hf_range *map;
	struct hf_span *spans;
	size_t n;
};

static int fill_step(void *arg, int64_t s, int64_t e, int type)
{
	struct fill *c = arg;

	if (c->map)
		c->map[c->n] = (struct hf_range){s, e, type};
	else
		c->spans[c->n] = (struct hf_span){s, e};
	c->n++;
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
	struct fill c = {0};
	struct ls_holder *o;
	size_t n = 0;

	pf->dev = (uint64_t)f->t.key.dev;
	pf->ino = (uint64_t)f->t.key.ino;
	pf->map = calloc(f->t.map.count ? f->t.map.count : 1,
			 sizeof(*pf->map));
	if (!pf->map)
		return -ENOMEM;
	c.map = pf->map;
	lsr_set_visit(&f->t.map, 0, LSR_OFF_MAX, fill_step, &c);
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
		c = (struct fill){.spans = h->r};
		if (held)
			lsr_set_visit(held, 0, LSR_OFF_MAX, fill_step, &c);
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

			if (push_fd(&h->fds, &h->nfds, &cap, fd) < 0)
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
	if (push_fd(&ex_cleared, &ex_ncleared, &ex_cap, fd) < 0 ||
	    push_fd(&pf->kept, &pf->nk, &g->kcap, fd) < 0)
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
	struct lsr_pool *p = files_pool();
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
	for (size_t j = 0; j < pf->nh; j++) {
		const struct hf_holder *h = &pf->h[j];
		struct ls_holder *o;

		if (!h->nfds)
			continue;
		o = holder_new(f, h->accmode, h->fds[0]);
		if (!o)
			return HANDOFF_NOMEM;
		for (size_t k = 0; k < h->nfds; k++)
			holder_map(o, h->fds[k]);
		for (size_t k = 0; k < h->nr; k++)
			for (size_t m = 0; m < pf->nmap; m++) {
				int64_t s = h->r[k].start, e = h->r[k].end;

				if (pf->map[m].end < s || pf->map[m].start > e)
					continue;
				s = s < pf->map[m].start ? pf->map[m].start : s;
				e = e > pf->map[m].end ? pf->map[m].end : e;
				if (lst_prepare_lock(&f->t, p, o->id))
					return HANDOFF_NOMEM;
				file_lock(f, o->id, s, e, pf->map[m].type);
			}
	}
	for (size_t j = 0; j < pf->nk; j++) {
		if (f->pb_kept == UINT8_MAX) {
			raw_close(pf->kept[j]); /* drops them: taken again */
			continue;
		}
		keep(pf->kept[j], f);
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
		flush_locked(f);
	else
		over_limit(f);
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
