/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * shim/lockcmd.c: F_SETLK, F_SETLKW and F_GETLK (lockcmd.h). (Over 600
 * lines: the set and get commands, OFD ones included, share struct req
 * and its resolution in the kernel's order of checks, which is what
 * keeps the errno of a bad request plain glibc's; the waiting and the
 * F_GETLK holder search already live in wait.c and getlk.c.)
 *
 * A request is resolved first, in the kernel's order of checks, so that
 * a bad one fails with the errno plain glibc gives. Then, under the
 * file's mutex, one attempt decides (setlk_try): done here, wait (in the
 * kernel or in the process, wait.h), or pass the call to the kernel
 * unchanged (mode = off, a file that fell back to plain POSIX locks).
 * F_GETLK answers from the table and the anchor, and names the holder of
 * another shimmed process's lock (getlk.h).
 */
#include "lockcmd.h"
#include "anchor.h"
#include "fdstate.h"
#include "files.h"
#include "getlk.h"
#include "log.h"
#include "observe.h"
#include "posixbe.h"
#include "real.h"
#include "uaccess.h"
#include "wait.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

/* A request, resolved as the kernel resolves it. */
struct req {
	int fd, cmd, type; /* LSR_* */
	int64_t start, end;
	struct stat st; /* the descriptor's file, at the call */
	int accmode;
	int tracked;
	int checked;    /* the tracked holder's file was compared with st */
	int stale;      /* tracked, but its number names another file now */
	struct flock fl; /* the caller's struct, copied in */
	pid_t blocker;   /* WAIT_LOCAL: the thread we wait for */
	int in_process;  /* F_GETLK answered with another holder of ours */
	uint64_t blk, req_id; /* WAIT_LOCAL: holders, blocking and ours */
	unsigned gen;    /* WAIT_LOCAL: the generation seen under the mutex */
	unsigned rounds; /* waits in the kernel so far */
	int flush;       /* backend = posix: kept descriptors to close */
	int settle;      /* backend = posix: the map went from empty */
};

static int lsr_type_of(short t)
{
	switch (t) {
	case F_RDLCK:
		return LSR_RDLCK;
	case F_WRLCK:
		return LSR_WRLCK;
	case F_UNLCK:
		return LSR_UNLCK;
	}
	return -1;
}

/* The kernel's order after the copy (EFAULT): for F_GETLK the type, then
 * whence and range (EINVAL, EOVERFLOW), the type, the access mode of the
 * descriptor (EBADF). */
static int resolve(struct req *r)
{
	const struct flock *fl = &r->fl;
	int64_t base = 0;
	int err;

	r->type = lsr_type_of(fl->l_type);
	if (r->cmd == F_GETLK && r->type != LSR_RDLCK && r->type != LSR_WRLCK)
		return -EINVAL;
	switch (fl->l_whence) {
	case SEEK_SET:
		break;
	case SEEK_CUR:
		/* The program's own offset, not the anchor's. */
		base = lseek(r->fd, 0, SEEK_CUR);
		if (base < 0)
			return -errno;
		break;
	case SEEK_END:
		base = r->st.st_size; /* fstat, at the start of the call */
		break;
	default:
		return -EINVAL;
	}
	err = lsr_resolve(base, fl->l_start, fl->l_len, &r->start, &r->end);
	if (err)
		return err;
	if (r->type < 0)
		return -EINVAL;
	if (r->cmd == F_GETLK)
		return 0;
	if (r->type == LSR_RDLCK && r->accmode == O_WRONLY)
		return -EBADF;
	if (r->type == LSR_WRLCK && r->accmode == O_RDONLY)
		return -EBADF;
	return 0;
}

/* ---- falling back to plain POSIX locks ------------------------------------ */

static void note_fallback(struct ls_file *f, const char *why, int err)
{
	if (f->fallback)
		return;
	log_count(LOGC_FALLBACKS, 1);
	log_note("fallback to plain POSIX locks for dev %lu:%lu ino %lu: %s%s%s",
		 (unsigned long)major(f->t.key.dev),
		 (unsigned long)minor(f->t.key.dev),
		 (unsigned long)f->t.key.ino, why, err ? ": " : "",
		 err ? strerror(err) : "");
}

/*
 * Make the file use plain POSIX locks through the program's descriptors
 * from now on: because an anchor cannot be had, or because the process
 * holds POSIX locks on the file taken past the interposer (an OFD lock and
 * a POSIX lock conflict even within one process). The ranges the anchor
 * held move to the program's descriptor. f->mu held.
 */
static void go_fallback(struct ls_file *f, int fd, const char *why, int err)
{
	struct lsr_node *it;

	note_fallback(f, why, err);
	f->fallback = 1;
	while ((it = f->t.map.root) != NULL) {
		int64_t s = it->start, e = it->end;
		int t = it->type;

		if (f->anchor >= 0)
			klock(f->anchor, F_OFD_SETLK, LSR_UNLCK, s, e);
		klock(fd, F_SETLK, t, s, e);
		lsr_set_apply(&f->t.map, files_pool(), s, e, LSR_UNLCK);
	}
	file_clear(f);
}

/* A descriptor of one of f's holders through which a lock of type may
 * be taken (its access mode allows it), or -1. */
static int holder_fd_for(const struct ls_file *f, int type)
{
	for (const struct ls_holder *h = f->ofds; h; h = h->fnext)
		if (type == LSR_WRLCK ? h->accmode != O_RDONLY
				      : h->accmode != O_WRONLY)
			return h->fd;
	return -1;
}

static int posix_step(void *arg, int64_t s, int64_t e, int type)
{
	const struct ls_file *f = arg;
	int fd = holder_fd_for(f, type);

	if (fd < 0 || klock(fd, F_SETLK, type, s, e) < 0)
		log_note("fallback to POSIX locks: the lock %lld-%lld of ino "
			 "%lu is lost", (long long)s, (long long)e,
			 (unsigned long)f->t.key.ino);
	return 0;
}

void lockcmd_map_to_posix(const struct ls_file *f)
{
	lsr_set_visit(&f->t.map, 0, LSR_OFF_MAX, posix_step, (void *)f);
}

void lockcmd_fallback_close(struct ls_file *f, const char *why, int err)
{
	fmu_lock(&f->mu);
	note_fallback(f, why, err);
	f->fallback = 1;
	if (f->anchor >= 0) {
		/* Unlocked first (a fork child may share it), closed before
		 * the POSIX locks are taken: its close would drop them. */
		klock(f->anchor, F_OFD_SETLK, LSR_UNLCK, 0, LSR_OFF_MAX);
		anchor_close(&f->anchor);
	}
	lockcmd_map_to_posix(f);
	file_clear(f);
	files_check_file(f);
	fmu_unlock(&f->mu);
}

/* Is the conflict that refused the anchor's request our own POSIX lock? */
static int refused_by_self(int afd, const struct req *r)
{
	struct flock fl;

	range_to_flock(&fl, r->type, r->start, r->end);
	if (real_fcntl(afd, F_OFD_GETLK, &fl) < 0 || fl.l_type == F_UNLCK)
		return 0;
	return anchor_lock_is_own_posix(afd, &fl);
}

/* ---- F_SETLK and F_SETLKW -------------------------------------------------- */

enum { DONE, WAIT, PASS, WAIT_LOCAL, OBSERVE };

/*
 * The anchor holds exactly the file's map (files.h), so a request the map
 * already answers needs no kernel call: an unlock of bytes nobody holds,
 * a lock of bytes held with that type already. Threads that lock and
 * unlock one file in turn then skip about half their calls, with the
 * file's mutex held for less (issue 24: 4 threads on one file).
 */
struct cover_ctx {
	int64_t start, end;
	int type, yes;
};

static int cover_step(void *arg, int64_t s, int64_t e, int type)
{
	struct cover_ctx *c = arg;

	c->yes = s <= c->start && e >= c->end && type == c->type;
	return 1; /* the first range decides: the map is canonical */
}

static int map_has(const struct ls_file *f, int type, int64_t start,
		   int64_t end)
{
	struct cover_ctx c = {start, end, type, 0};

	return lsr_set_visit(&f->t.map, start, end, cover_step, &c) && c.yes;
}

static int map_touches(const struct ls_file *f, int64_t start, int64_t end)
{
	struct cover_ctx c = {start, end, -1, 0};

	return lsr_set_visit(&f->t.map, start, end, cover_step, &c) != 0;
}

static int unlock_try(struct ls_file *f, struct req *r, int *res)
{
	struct lsr_pool *p = files_pool();

	if (f->anchor < 0)
		return PASS; /* nothing of ours: as plain POSIX */
	if (lst_prepare_unlock(&f->t, p) < 0) {
		*res = -ENOLCK;
		return DONE;
	}
	if (map_touches(f, r->start, r->end) &&
	    klock(f->anchor, F_OFD_SETLK, LSR_UNLCK, r->start, r->end) < 0) {
		*res = -errno;
		return DONE;
	}
	file_unlock(f, r->start, r->end);
	table_changed();
	*res = 0;
	return DONE;
}

/* The anchor f needs for a lock of r->type, opened or upgraded; PASS
 * after a fallback, else 0. */
static int anchor_for(struct ls_file *f, struct req *r)
{
	int err;

	if (f->anchor < 0) {
		/* Opening and closing a descriptor drops POSIX locks
		 * taken past us: check before the first anchor. */
		if (anchor_own_posix(r->fd)) {
			go_fallback(f, r->fd, "the process holds POSIX locks "
				    "taken past the shim", 0);
			return PASS;
		}
		err = anchor_open(&f->anchor, r->fd, r->type == LSR_WRLCK);
		if (err < 0) {
			go_fallback(f, r->fd, "no anchor", -err);
			return PASS;
		}
		f->anchor_rw = r->type == LSR_WRLCK;
	} else if (r->type == LSR_WRLCK && !f->anchor_rw) {
		err = anchor_upgrade(&f->anchor, &f->t.map, r->fd);
		if (err < 0) {
			go_fallback(f, r->fd, "no anchor for writing", -err);
			return PASS;
		}
		f->anchor_rw = 1;
	}
	return 0;
}

/* backend = posix: the kernel decides, through the program's own
 * descriptor, and the table follows (posixbe.h). */
static int posix_try(struct ls_file *f, struct ls_holder *o, struct req *r,
		     int *res)
{
	int was_empty = !f->t.map.root;

	*res = posixbe_set(f, o, r->fd, r->type, r->start, r->end);
	r->settle = was_empty && *res == 0 && f->t.map.root;
	if (*res == -EAGAIN && r->cmd == F_SETLKW)
		return WAIT;
	return DONE;
}

/* One attempt at a set request, f->mu held. Returns DONE with *res set,
 * WAIT when F_SETLKW must wait, PASS to hand the call to the kernel. */
static int setlk_try(struct ls_file *f, struct ls_holder *o, struct req *r,
		     int *res)
{
	struct lsr_pool *p = files_pool();
	int err;

	if (f->fallback || f->pol.mode == MODE_OFF)
		return PASS;
	if (f->pol.mode == MODE_OBSERVE) {
		observe_unseen(f);
		return OBSERVE;
	}
	if (posixbe_file(f))
		observe_unseen(f); /* closes nobody saw (posixbe.h) */
	if (r->type == LSR_UNLCK)
		return posixbe_file(f) ? posix_try(f, o, r, res)
				       : unlock_try(f, r, res);
	if (f->pol.conflicts_fd) {
		struct lst_conflict cf;

		if (lst_conflict(&f->t, o->id, r->start, r->end, r->type,
				 &cf)) {
			if (r->cmd != F_SETLKW) {
				*res = -EAGAIN;
				return DONE;
			}
			r->blocker = holder_tid(f, cf.holder);
			r->blk = cf.holder;
			r->req_id = o->id;
			/* counted before the generation is read, both
			 * under the mutex (guard.h); wait_local uncounts */
			atomic_fetch_add(&table_waiters, 1);
			r->gen = table_generation();
			return WAIT_LOCAL;
		}
	}
	if (posixbe_file(f))
		return posix_try(f, o, r, res);
	if (anchor_for(f, r) == PASS)
		return PASS;
	if (lst_prepare_lock(&f->t, p, o->id) < 0) {
		*res = -ENOLCK;
		return DONE;
	}
	if (map_has(f, r->type, r->start, r->end) ||
	    klock(f->anchor, F_OFD_SETLK, r->type, r->start, r->end) == 0) {
		file_lock(f, o->id, r->start, r->end, r->type);
		log_count(LOGC_LOCKS, 1);
		o->last_tid = my_tid();
		table_changed(); /* a conversion may free readers */
		*res = 0;
		return DONE;
	}
	err = errno;
	if (err == EAGAIN && refused_by_self(f->anchor, r)) {
		go_fallback(f, r->fd, "the process holds POSIX locks taken "
			    "past the shim", 0);
		return PASS;
	}
	if (err == EAGAIN && r->cmd == F_SETLKW)
		return WAIT;
	if (err != EAGAIN && err != ENOLCK && err != EINTR) {
		/* The filesystem refuses OFD locks. */
		go_fallback(f, r->fd, "the filesystem refuses OFD locks", err);
		return PASS;
	}
	*res = -err;
	return DONE;
}

/*
 * A descriptor closed where the shim cannot see it (io_uring's
 * IORING_OP_CLOSE, syscall(SYS_close)) stays tracked, and the kernel
 * may hand its number out again for another file: a lock through it
 * would be applied to the old file. So every lock call compares the
 * file the number names now (r->st, from fstat) with its holder's.
 */
static int names_other_file(const struct ls_holder *o, const struct stat *st)
{
	return o->file->t.key.dev != st->st_dev ||
	       o->file->t.key.ino != st->st_ino;
}

/* The number was closed behind our back: its holder lost it (and if it
 * was the last, what it held goes, as at that close under plain POSIX;
 * its dups made before the first lock cannot be asked about any more:
 * when in doubt, release). Looked at again under the lock: the program
 * may have closed the number (seen) and locked another file through it
 * since the caller looked. */
static void drop_stale(int fd)
{
	struct ls_holder *h;
	struct stat st;
	struct crit c;

	crit_enter(&c, 1);
	h = fdstate_holder(fd);
	if (h && (fstat(fd, &st) < 0 ? errno == EBADF
				     : names_other_file(h, &st))) {
		h = holder_detach(fd);
		if (h)
			holder_release_as(h, PB_UNSEEN);
	}
	crit_leave(&c);
}

/* Find (or, writing, make) the holder of r->fd; NULL with *err, or with
 * r->stale set. */
static struct ls_holder *req_holder(struct req *r, int write, int *err)
{
	struct ls_holder *o;

	if (r->tracked) {
		o = fdstate_holder(r->fd);
		if (!o) {
			*err = EBADF; /* closed meanwhile */
		} else if (!r->checked && names_other_file(o, &r->st)) {
			r->stale = 1;
			return NULL;
		} else {
			r->accmode = o->accmode;
		}
		return o;
	}
	if (!write) {
		*err = EAGAIN;
		return NULL;
	}
	return holder_attach(r->fd, &r->st, r->accmode, err);
}

/* set_cmd() and get_cmd(): the tracked descriptor names another file
 * now (names_other_file): forget it, and ask again as for a new one. */
#define STALE 2

static int set_cmd(struct req *r)
{
	struct crit c;
	struct ls_holder *o = NULL;
	struct ls_file *f, *pinned = NULL;
	int res = 0, what, err = 0, waited = 0;

	for (;;) {
		/* After a grant, pinned is the file it was granted on, still
		 * pinned: the lock is taken for writing to unpin it. */
		crit_enter(&c, !r->tracked || pinned);
		if (pinned && fdstate_holder(r->fd) != o) {
			/* The descriptor went away while it waited. */
			wait_grant_drop(pinned, r->start, r->end);
			crit_leave(&c);
			return -EBADF;
		}
		o = req_holder(r, !r->tracked, &err);
		if (!o) {
			if (pinned)
				wait_grant_drop(pinned, r->start, r->end);
			crit_leave(&c);
			return r->stale ? STALE : -err;
		}
		/* Checked once, at the first attempt: after a wait the
		 * descriptor is the one the wait began with. */
		r->checked = 1;
		r->tracked = 1;
		f = o->file;
		fmu_lock(&f->mu);
		res = waited ? 0 : resolve(r);
		what = res < 0 ? DONE : setlk_try(f, o, r, &res);
		/* The kernel granted the request on the waiter's dup, but
		 * until now the table did not know: a release of another
		 * holder may have unlocked part of it, and another process
		 * taken that part, so that this attempt did not record it.
		 * What is left of the grant must not outlive the call. */
		if (pinned && (what != DONE || res < 0))
			wait_resync(f, r->start, r->end);
		/* wait_anchor() runs with nothing held: the pin keeps f (a
		 * close of the descriptor may release its last holder). */
		if (what == WAIT)
			f->refs++;
		files_check_file(f);
		r->flush = posixbe_flush_due(f);
		fmu_unlock(&f->mu);
		if (pinned)
			file_unpin(pinned);
		pinned = NULL;
		crit_leave(&c);
		if (r->flush)
			posixbe_flush(r->st.st_dev, r->st.st_ino);
		if (r->settle)
			posixbe_settle(r->st.st_dev, r->st.st_ino);
		if (what == DONE)
			return res;
		if (what == PASS)
			return 1;
		if (what == OBSERVE)
			return observe_set(r->fd, r->cmd, &r->fl, r->type,
					   r->start, r->end);
		if (what == WAIT_LOCAL) {
			res = wait_local(r->req_id, r->blk, r->blocker,
					 r->gen);
			if (res < 0)
				return res;
			waited = 1;
			continue;
		}
		if (posixbe_file(f))
			res = posixbe_wait(f, r->fd, r->type, r->start, r->end);
		else
			res = wait_anchor(f, r->type, r->start, r->end,
					  r->rounds++);
		if (res < 0)
			return res;
		/* Granted to the dup: apply it again on the current anchor
		 * (a no-op when that is the same description), unless the
		 * descriptor went away while it waited. */
		waited = 1;
		pinned = f;
	}
}

/* ---- F_GETLK ---------------------------------------------------------------- */

/* F_GETLK: our own locks are on the anchor, where F_OFD_GETLK from the
 * anchor cannot see them; another shimmed process's lock is an OFD lock
 * with l_pid -1, whose holder getlk.c finds. 1: the kernel answers
 * through the program's descriptor. */
static int get_cmd(struct req *r, struct flock *out)
{
	struct ls_file *f = NULL;
	struct ls_holder *o = NULL;
	struct flock fl;
	struct crit c;
	int afd = -1, res;
	dev_t dev = 0;
	ino_t ino = 0;

	crit_enter(&c, 0);
	if (r->tracked) {
		o = fdstate_holder(r->fd);
		if (o && names_other_file(o, &r->st)) {
			crit_leave(&c);
			return STALE;
		}
		f = o ? o->file : NULL;
	} else {
		f = file_find(r->st.st_dev, r->st.st_ino);
	}
	res = resolve(r);
	if (f && res == 0) {
		struct lst_conflict cf;

		fmu_lock(&f->mu);
		if (posixbe_file(f)) {
			observe_unseen(f); /* closes nobody saw */
			r->flush = posixbe_flush_due(f);
		}
		if (f->pol.conflicts_fd && !f->fallback &&
		    f->pol.mode == MODE_PROTECT &&
		    lst_conflict(&f->t, o ? o->id : 0, r->start, r->end,
				 r->type, &cf)) {
			/* Another holder of this process: its pid. */
			range_to_flock(&fl, cf.type, cf.start, cf.end);
			fl.l_pid = getpid();
			fmu_unlock(&f->mu);
			crit_leave(&c);
			if (r->flush)
				posixbe_flush(r->st.st_dev, r->st.st_ino);
			*out = fl;
			r->in_process = 1;
			return 0;
		}
		if (f->anchor >= 0 && !f->fallback) {
			range_to_flock(&fl, r->type, r->start, r->end);
			afd = f->anchor;
			if (real_fcntl(afd, F_OFD_GETLK, &fl) < 0)
				res = -errno;
		}
		fmu_unlock(&f->mu);
	}
	if (f) {
		dev = f->t.key.dev;
		ino = f->t.key.ino;
	}
	crit_leave(&c);
	if (r->flush)
		posixbe_flush(dev, ino);
	if (res < 0)
		return res;
	if (afd < 0)
		return 1; /* nothing of ours on it: the kernel answers */
	if (fl.l_type == F_UNLCK) {
		out->l_type = F_UNLCK;
		return 0;
	}
	if (fl.l_pid == -1)
		fl.l_pid = getlk_find_pid(dev, ino, &fl);
	*out = fl;
	return 0;
}

/* F_GETLK answered by the kernel through the program's descriptor: it
 * may still name another shimmed process's anchor, with l_pid -1. The
 * kernel has checked the pointer by then. */
static int getlk_kernel(int fd, struct flock *ufl)
{
	int r = real_fcntl(fd, F_GETLK, ufl), saved = errno;
	struct stat st;

	if (r == 0 && ufl->l_type != F_UNLCK && ufl->l_pid == -1 &&
	    fstat(fd, &st) == 0)
		ufl->l_pid = getlk_find_pid(st.st_dev, st.st_ino, ufl);
	errno = saved;
	return r;
}

/* ---- F_OFD_GETLK -------------------------------------------------------------
 * The program's own OFD lock query: plain, the process's POSIX locks
 * conflict with it and are reported with the process's pid; here they
 * are the anchor's OFD locks, which the kernel reports with -1. */

struct own_lock {
	int64_t start, end;
	int type;
};

static int own_step(void *arg, int64_t s, int64_t e, int type)
{
	const struct own_lock *w = arg;

	return s == w->start && e == w->end && type == w->type;
}

/* Is the lock fl names (as F_OFD_GETLK reported it) one of our anchor's
 * on fd's file? */
static int is_own_anchor_lock(int fd, const struct flock *fl)
{
	struct own_lock w;
	struct ls_file *f;
	struct stat st;
	struct crit c;
	int r = 0;

	if (fstat(fd, &st) < 0)
		return 0;
	w.start = fl->l_start;
	w.end = fl->l_len == 0 ? LSR_OFF_MAX : fl->l_start + fl->l_len - 1;
	w.type = fl->l_type == F_WRLCK ? LSR_WRLCK : LSR_RDLCK;
	crit_enter(&c, 0);
	f = file_find(st.st_dev, st.st_ino);
	if (f) {
		fmu_lock(&f->mu);
		r = f->anchor >= 0 && !f->fallback &&
		    lsr_set_visit(&f->t.map, w.start, w.end, own_step, &w);
		fmu_unlock(&f->mu);
	}
	crit_leave(&c);
	return r;
}

int lockcmd_ofd_getlk(int fd, struct flock *ufl)
{
	struct stat st;
	int r, saved;

	if (!atomic_load_explicit(&files_active, memory_order_relaxed))
		return real_fcntl(fd, F_OFD_GETLK, ufl);
	if (fdstate_get(fd) == FD_OURS) {
		errno = EBADF;
		return -1;
	}
	r = real_fcntl(fd, F_OFD_GETLK, ufl);
	saved = errno;

	/* The kernel checked the pointer and the request by now. */
	if (r < 0 || guard_passthrough() || ufl->l_type == F_UNLCK ||
	    ufl->l_pid != -1)
		return r;
	if (is_own_anchor_lock(fd, ufl))
		ufl->l_pid = getpid();
	else if (fstat(fd, &st) == 0)
		/* another shimmed process's anchor: plain, its POSIX lock */
		ufl->l_pid = getlk_find_pid(st.st_dev, st.st_ino, ufl);
	errno = saved;
	return r;
}

/* ---- the command ------------------------------------------------------------ */

/*
 * F_SETLK, F_SETLKW, F_GETLK (and their 64-bit names, the same numbers on
 * LP64). The fast answers first: our own descriptor is EBADF to the
 * program; F_GETLK in a process that holds nothing goes to the kernel.
 */
static int lock_cmd(int fd, int cmd, struct flock *ufl, int *in_process)
{
	struct req r;
	int saved = errno, res, st;

	if (guard_passthrough() || config_mode() == MODE_OFF)
		return real_fcntl(fd, cmd, ufl);
	st = fdstate_get(fd);
	if (st == FD_OURS) {
		errno = EBADF;
		return -1;
	}
	if ((unsigned)fd >= fd_state_size)
		return real_fcntl(fd, cmd, ufl);
	if (cmd == F_GETLK && !atomic_load(&files_active))
		return getlk_kernel(fd, ufl);
	if (cmd == F_SETLKW)
		pthread_testcancel();
	memset(&r, 0, sizeof(r));
	r.fd = fd;
	r.cmd = cmd;
	r.tracked = st == FD_TRACKED;
	/* The kernel's fstat: glibc's goes through fstatat with an empty
	 * path, 15 ns more, on every lock call. */
	if (syscall(SYS_FSTAT, fd, &r.st) < 0) {
		int e = errno;

		if (r.tracked && e == EBADF)
			drop_stale(fd); /* closed behind our back */
		errno = e;
		return -1; /* EBADF before anything else */
	}
again:
	if (!r.tracked) {
		int flags;

		if (!S_ISREG(r.st.st_mode) && !S_ISDIR(r.st.st_mode))
			return real_fcntl(fd, cmd, ufl);
		flags = real_fcntl(fd, F_GETFL, NULL);
		if (flags < 0 || (flags & O_PATH))
			return real_fcntl(fd, cmd, ufl);
		r.accmode = flags & O_ACCMODE;
	}
	res = uaccess_copy_in(&r.fl, ufl, sizeof(r.fl));
	if (res == 0 && cmd == F_GETLK) {
		struct flock ans = r.fl;

		res = get_cmd(&r, &ans);
		if (res == 0)
			res = uaccess_copy_out(ufl, &ans, sizeof(ans));
		if (in_process)
			*in_process = r.in_process;
	} else if (res == 0) {
		res = set_cmd(&r);
	}
	if (res == STALE) {
		drop_stale(fd);
		r.tracked = 0;
		r.stale = 0;
		goto again;
	}
	if (res == 1)
		return cmd == F_GETLK ? getlk_kernel(fd, ufl)
				      : real_fcntl(fd, cmd, ufl);
	if (res < 0) {
		errno = -res;
		return -1;
	}
	errno = saved;
	return 0;
}

int lockcmd(int fd, int cmd, struct flock *ufl)
{
	return lock_cmd(fd, cmd, ufl, NULL);
}

int lockcmd_getlk(int fd, struct flock *fl, int *in_process)
{
	*in_process = 0;
	return lock_cmd(fd, F_GETLK, fl, in_process);
}
