/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * shim/posixbe.c: backend = posix, classic POSIX locks with deferred
 * closes (posixbe.h says why and what). Across exec: posixbe_exec.c.
 * (Somewhat over 600 lines: the lock calls, the kept descriptors and a
 * holder's leaving share the file's kept list and its hot list, which
 * are this file's own.)
 */
#include "posixbe.h"
#include "posixbe_room.h"
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
	int first, r, err;

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
	/* A file's first range: it is held (hot, WATCH_POSIX) before the
	 * kernel grants it, so that a close from then on looks in the table
	 * (close() passes descriptors of files not held straight to the
	 * kernel): a signal handler's close landing between the grant and
	 * the table's record is kept for this thread's leaving of the shim
	 * (guard.h), and another thread's close that starts then is counted
	 * and keeps its descriptor. */
	first = !f->t.map.root;
	if (first)
		posixbe_held_changed(f, 1);
	r = klock(fd, F_SETLK, type, start, end);
	err = errno;
	if (r == 0)
		file_lock(f, o->id, start, end, type); /* counts it again */
	if (first)
		posixbe_held_changed(f, -1);
	if (r < 0)
		return -err;
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
void pb_flush_locked(struct ls_file *f)
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
		pb_flush_locked(f);
	crit_leave(&c);
	errno = saved;
}

/* More than POSIXBE_KEEP_MAX kept descriptors: they all close at once
 * (the locks drop) and the locks are taken again. table_lock for
 * writing. */
void pb_over_limit(struct ls_file *f)
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

void pb_keep(int fd, struct ls_file *f)
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
	pb_over_limit(f);
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
	pb_over_limit(f);
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
		pb_flush_locked(f);
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
		pb_flush_locked(f);
}
