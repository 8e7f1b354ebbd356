/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * shim/closes.c: descriptors going away, and dups (closes.h).
 * (Over 600 lines: close, fclose, closedir, freopen, close_range and
 * the copies made elsewhere all go through one loss report, struct loss,
 * and one release of the leaving holders under the table's lock; split,
 * both would have to become another room's interface.)
 */
#include "closes.h"
#include "anchor.h"
#include "files.h"
#include "lockcmd.h"
#include "observe.h"
#include "posixbe.h"
#include "procfs.h"
#include "real.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- close, fclose, closedir, freopen ------------------------------------ */

static void release_after(struct ls_holder *h)
{
	struct crit c;

	if (!h)
		return;
	crit_enter(&c, 1);
	holder_release(h);
	crit_leave(&c);
}

/* How one close goes under backend = posix (posixbe.h): whether it may be
 * deferred, whether it was, and the file whose locks a close that
 * happens drops (to be taken again after it). */
struct close_how {
	int may_keep, kept;
	struct pb_key pk;
	int looked;      /* st is the fstat of the descriptor, before */
	struct stat st;
	int counted;     /* posixbe_close_start() */
	/* A descriptor of a posix file that really closes: table_lock stays
	 * held for writing across the close (freopen's: its open too) and
	 * the locks taken again after it, so that no lock call of another
	 * thread comes between the decision and the close (which would drop
	 * what it took), nor finds the locks dropped (and calls it
	 * unseen). */
	int locked;
	struct crit c;
};

static struct ls_holder *close_begin(int fd, struct loss *l, const char *func,
				     void *caller, struct close_how *how)
{
	struct ls_holder *h = NULL;
	struct crit c;

	loss_init(l);
	how->kept = 0;
	how->pk.dev = 0;
	how->looked = 0;
	how->locked = 0;
	how->counted = (watching_closes() & WATCH_POSIX) ||
		       fdstate_get(fd) == FD_TRACKED;
	if (how->counted)
		posixbe_close_start();
	/* A descriptor adopted as a sibling between the look and the claim
	 * is tracked; one that a sibling scan kept from being claimed is
	 * claimed here, after the scan. */
	if (fdstate_get(fd) == FD_TRACKED || !fdstate_unmark_dup(fd)) {
		int tracked;

		crit_enter(&c, 1);
		tracked = fdstate_get(fd) == FD_TRACKED;
		if (tracked) {
			holder_before_close(fdstate_holder(fd));
			loss_tracked(l, fdstate_holder(fd), fd, func, caller);
			if (how->may_keep &&
			    posixbe_keep_tracked(fd, fdstate_holder(fd))) {
				how->kept = 1;
			} else {
				/* posix: what another thread locks before
				 * the close drops it is taken again after */
				posixbe_will_close_tracked(fdstate_holder(fd),
							   &how->pk);
				h = holder_detach(fd);
			}
		} else if (fdstate_get(fd) == FD_DUP) {
			fdstate_set(fd, FD_NONE);
		}
		if (tracked && !how->kept && how->pk.dev) {
			how->c = c;
			how->locked = 1;
			return h;
		}
		crit_leave(&c);
		if (tracked)
			return h;
	}
	if ((watching_closes() & WATCH_POSIX) &&
	    (how->looked = posixbe_names_held(fd, &how->st) ? 2 : 1) == 2) {
		/* A descriptor of a locked file the shim does not track: its
		 * close drops the process's POSIX locks all the same. */
		crit_enter(&c, 1);
		if (how->may_keep && posixbe_keep_untracked(fd, &how->st))
			how->kept = 1;
		else
			posixbe_will_close(fd, &how->st, &how->pk);
		if (!how->kept && how->pk.dev) {
			if (watching_events())
				loss_untracked_locked(l, fd, func, caller);
			how->c = c;
			how->locked = 1;
			return h;
		}
		crit_leave(&c);
	}
	if (watching_events())
		loss_untracked(l, fd, func, caller);
	return h;
}

static void close_end(struct ls_holder *h, struct loss *l, int closed,
		      struct close_how *how, const char *func, int fd)
{
	int saved = errno;

	if (how->locked) {
		if (h)
			holder_release(h);
		if (closed)
			posixbe_closed_locked(&how->pk, func, fd);
		crit_leave(&how->c);
	} else {
		release_after(h);
		if (closed && how->looked == 1)
			posixbe_after_close(&how->st, &how->pk);
		if (closed)
			posixbe_closed(&how->pk, func, fd);
	}
	if (how->counted)
		posixbe_close_done();
	loss_finish(l, closed);
	errno = saved;
}

static int close_seen(int fd, void *caller);

int closes_close(int fd, void *caller)
{
	if (guard_passthrough())
		return guard_keep_close(fd) ? 0 : real_close(fd);
	pthread_testcancel();
	return close_seen(fd, caller);
}

static int close_seen(int fd, void *caller)
{
	struct close_how how = {.may_keep = 1};
	struct ls_holder *h;
	struct loss l;
	int r;

	h = close_begin(fd, &l, "close", caller, &how);
	if (how.kept) {
		/* Deferred (posixbe.h): as after a close, for the program. */
		close_end(NULL, &l, 1, &how, "close", fd);
		return 0;
	}
	r = real_close(fd);
	close_end(h, &l, r == 0 || errno != EBADF, &how, "close", fd);
	return r;
}

/* The closes a signal handler made inside the shim (guard.h), now that
 * this thread has left it; a handler that lands here closes for itself
 * (shim_busy is 0). */
void guard_drain_closes(void)
{
	int saved = errno, cancel, ignored;

	/* Not a cancellation point: the call that leaves the shim may be
	 * none, and may be between two steps of its own. */
	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cancel);
	for (int fd; (fd = guard_next_close()) >= 0;)
		close_seen(fd, NULL);
	pthread_setcancelstate(cancel, &ignored);
	errno = saved;
}

/* A stream's close (fclose, closedir) around the real one, which closes
 * fd inside libc; keep_fn frees the stream and leaves fd open (a close
 * that was deferred), or closes it after all (1). */
static int close_stream(void *stream, int fd, const char *func,
			void *caller, int (*real_fn)(void *),
			int (*keep_fn)(void *, int, int *))
{
	struct close_how how = {.may_keep = 1};
	struct ls_holder *h;
	struct loss l;
	struct crit c;
	int r;

	if (guard_passthrough())
		return real_fn(stream);
	h = close_begin(fd, &l, func, caller, &how);
	if (how.kept && keep_fn(stream, fd, &r)) {
		/* It closed after all: the kept number is no longer ours. */
		crit_enter(&c, 1);
		posixbe_give_up(fd, 0, &how.pk);
		crit_leave(&c);
	} else if (!how.kept) {
		r = real_fn(stream);
	}
	close_end(h, &l, 1, &how, func, fd);
	return r;
}

static int fclose_stream(void *f)
{
	return real_fclose(f);
}

static int closedir_stream(void *d)
{
	return real_closedir(d);
}

/*
 * glibc's fclose() leaves the descriptor open when the stream says so
 * (_IO_FLAGS2_NOCLOSE in _flags2, which its freopen() sets for a moment
 * for the same purpose): the flush and the freeing still happen, and the
 * kept descriptor's close comes later (posixbe.h). A stream that is not
 * a file's (_IO_IS_FILEBUF) has no descriptor to close.
 */
#define GLIBC_IO_IS_FILEBUF 0x2000
#define GLIBC_IO_FLAGS2_NOCLOSE 32

static int fclose_keep(void *stream, int fd, int *r)
{
	FILE *fp = stream;
	int keeps = (fp->_flags & GLIBC_IO_IS_FILEBUF) && fp->_fileno == fd;

	if (keeps)
		fp->_flags2 |= GLIBC_IO_FLAGS2_NOCLOSE;
	*r = real_fclose(fp);
	return !keeps;
}

/*
 * glibc's closedir() frees the DIR and closes the descriptor its first
 * member holds (struct __dirstream): a descriptor of /dev/null takes its
 * place there, and is what closedir() closes. Without one, the directory
 * closes, and its locks are taken again (posixbe_closed).
 */
static int closedir_keep(void *stream, int fd, int *r)
{
	DIR *d = stream;
	int *first = (int *)(void *)d, null = -1;

	if (*first == fd && dirfd(d) == fd)
		null = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (null >= 0)
		*first = null;
	*r = real_closedir(d);
	return null < 0;
}

int closes_fclose(FILE *fp, int fd, void *caller)
{
	return close_stream(fp, fd, "fclose", caller, fclose_stream,
			    fclose_keep);
}

int closes_closedir(DIR *d, int fd, void *caller)
{
	return close_stream(d, fd, "closedir", caller, closedir_stream,
			    closedir_keep);
}

/* freopen() closes the old descriptor inside libc (glibc's dup3 of the
 * new one over it): that close cannot be deferred. */
FILE *closes_freopen(const char *path, const char *mode, FILE *fp, int fd,
		     int wide, void *caller)
{
	FILE *(*reopen)(const char *, const char *, FILE *) =
		wide ? real_freopen64 : real_freopen;
	struct close_how how = {.may_keep = 0};
	struct ls_holder *h;
	struct loss l;
	FILE *r;

	if (guard_passthrough())
		return reopen(path, mode, fp);
	h = close_begin(fd, &l, "freopen", caller, &how);
	r = reopen(path, mode, fp);
	close_end(h, &l, 1, &how, "freopen", fd);
	return r;
}

/* backend = posix: any stream fcloseall() closed on a locked file dropped
 * its locks; they are taken again (posixbe.h). table_lock for writing. */
static void fcloseall_posix(void)
{
	struct lst_file *lf;
	size_t i;

	for (i = 0; (lf = lst_table_next(&files_table, &i));) {
		struct pb_key k = {lf->key.dev, lf->key.ino};

		posixbe_closed_locked(&k, "fcloseall", -1);
	}
}

/* fcloseall() closes every stream inside libc: afterwards, every tracked
 * descriptor that is no longer open on its holder's file was one. */
int closes_fcloseall(void)
{
	int r = real_fcloseall(), saved = errno, max;
	struct crit c;

	if (guard_passthrough())
		return r;
	crit_enter(&c, 1);
	max = atomic_load(&fd_state_max);
	for (int fd = 0; fd <= max; fd++) {
		struct ls_holder *h = fdstate_holder(fd);
		struct stat st;

		if (!h)
			continue;
		if (fstat(fd, &st) == 0 && st.st_dev == h->file->t.key.dev &&
		    st.st_ino == h->file->t.key.ino)
			continue;
		h = holder_detach(fd);
		if (h)
			holder_release(h);
	}
	if (watching_closes() & WATCH_POSIX)
		fcloseall_posix();
	crit_leave(&c);
	errno = saved;
	return r;
}

/* ---- dups -------------------------------------------------------------------- */

/* r is a new descriptor of fd's description: fd's holder counts it,
 * unless it counts it already (dup2 of a descriptor over another of its
 * own holder closes nothing). table_lock held for writing. */
static void dup_track(int fd, int r)
{
	struct ls_holder *h = fdstate_holder(fd);

	if (r >= 0 && h && fdstate_holder(r) != h)
		holder_map(h, r);
}

void closes_dup_raced(int fd, int r)
{
	struct crit c;
	int saved = errno;

	crit_enter(&c, 1);
	/* fd may have been closed and its number reused meanwhile */
	if (fdstate_get(fd) == FD_TRACKED && same_description(fd, r))
		dup_track(fd, r);
	else
		fdstate_mark_dup_new(r);
	crit_leave(&c);
	errno = saved;
}

/* ---- numbers: ours must not take the program's ------------------------ */

/*
 * The program needs number n, which is ours. What lives there moves to
 * another number (anchor_evict: its home is told); when no other number
 * can be had (the budget rule of DESIGN.md), an anchor's file falls back
 * to plain POSIX locks and the anchor closes; the log's descriptor is
 * given up (it reopens when it next writes); a kept descriptor of
 * backend = posix is given up, and its file's locks are taken again
 * after its close (*pk, posixbe.h). close_it: n is closed too (else the
 * caller's dup2 closes it). 0, or -1 with errno when n stays ours.
 * table_lock held for writing.
 */
static int free_number(int n, int close_it, struct pb_key *pk)
{
	int *home = fdstate_home(n), err;
	struct ls_file *f;

	pk->dev = 0;
	if (posixbe_is_kept(n)) {
		posixbe_give_up(n, close_it, pk);
		return 0;
	}
	if (!home) {
		fdstate_clear(n);
	} else if (anchor_evict(n) < 0) {
		err = errno;
		f = file_of_anchor(n);
		if (!f || (err != EMFILE && err != ENFILE && err != EINVAL)) {
			errno = err;
			return -1; /* a waiter's dup stays where it waits */
		}
		lockcmd_fallback_close(f, "no descriptor number left for the "
				       "anchor", EMFILE);
		return 0;
	}
	if (close_it)
		raw_close(n);
	return 0;
}

/* cmd: F_DUPFD, F_DUPFD_CLOEXEC, or -1 for dup(). */
static int dup_again(int fd, int cmd, int min)
{
	return cmd >= 0 ? real_fcntl(fd, cmd, (void *)(long)min)
			: real_dup(fd);
}

/* closes_dup_number() with table_lock held for writing; *err: errno. */
static int dup_number_locked(int fd, int cmd, int min, int r, int *err)
{
	int lo = band_lowest(), max = atomic_load(&fd_state_max), n;
	struct pb_key pk;

	if (r >= 0) {
		for (n = min > lo ? min : lo; n < r; n++)
			if (fdstate_get(n) == FD_OURS)
				break;
		/* r goes back: its close must not drop a POSIX lock */
		if (n >= r || anchor_own_posix(r))
			return r;
		raw_close(r);
	} else {
		if (*err != EMFILE)
			return r;
		for (n = min > 0 ? min : 0; n <= max; n++)
			if (fdstate_get(n) == FD_OURS)
				break;
		if (n > max)
			return r;
	}
	free_number(n, 1, &pk);
	r = dup_again(fd, cmd, min);
	*err = errno;
	return r;
}

int closes_dup_number(int fd, int cmd, int min, int r)
{
	int err = errno;
	struct crit c;

	if ((r < 0 && err != EMFILE) || guard_passthrough())
		return r;
	crit_enter(&c, 1);
	r = dup_number_locked(fd, cmd, min, r, &err);
	crit_leave(&c);
	errno = err;
	return r;
}

int closes_dup_placed(int fd, int cmd, int min, int r)
{
	r = closes_dup_number(fd, cmd, min, r);
	if (r >= 0)
		closes_dup_made(fd, r);
	return r;
}

int closes_dup(int fd)
{
	struct crit c;
	int r, saved;

	if (guard_passthrough())
		return real_dup(fd);
	crit_enter(&c, 1);
	r = real_dup(fd);
	saved = errno;
	if (closes_dup_misplaced(r))
		r = dup_number_locked(fd, -1, 0, r, &saved);
	dup_track(fd, r);
	crit_leave(&c);
	errno = saved;
	return r;
}

int closes_dupfd(int fd, int cmd, int arg)
{
	struct crit c;
	int r, saved;

	if (guard_passthrough())
		return real_fcntl(fd, cmd, (void *)(long)arg);
	crit_enter(&c, 1);
	r = real_fcntl(fd, cmd, (void *)(long)arg);
	saved = errno;
	if (closes_dup_misplaced(r))
		r = dup_number_locked(fd, cmd, arg, r, &saved);
	dup_track(fd, r);
	crit_leave(&c);
	errno = saved;
	return r;
}

static int dup_real(int fd, int fd2, int flags, int is_dup3)
{
	return is_dup3 ? real_dup3(fd, fd2, flags) : real_dup2(fd, fd2);
}

static inline int untracked(int fd)
{
	int st = fdstate_get(fd);

	return st == FD_NONE || st == FD_DUP;
}

/* ---- copies made elsewhere ---------------------------------------------- */

/* A received descriptor is marked a dup (FD_DUP, a number the kernel has
 * just handed out: no lock is needed) when it is a file one can lock;
 * the sibling scan at a holder's last close asks kcmp whether it shares
 * the holder's description (files_copies_arrived). */
void closes_received(int fd)
{
	struct stat st;
	int saved = errno;

	if (fd < 0 || fdstate_get(fd) != FD_NONE || fstat(fd, &st) < 0 ||
	    (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))) {
		errno = saved;
		return;
	}
	fdstate_mark_dup_new(fd);
	atomic_store(&files_copies_arrived, 1);
	errno = saved;
}

void closes_received_msg(const struct msghdr *msg)
{
	struct cmsghdr *c;

	if (!msg->msg_control || msg->msg_controllen < sizeof(struct cmsghdr))
		return;
	for (c = CMSG_FIRSTHDR((struct msghdr *)msg); c;
	     c = CMSG_NXTHDR((struct msghdr *)msg, c)) {
		size_t n;
		int fd;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < n; i++) {
			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(fd));
			closes_received(fd);
		}
	}
}

/* dup2/dup3 with a lock of ours on either side (or events asked for). */
static int dup_over_locked(int fd, int fd2, int flags, int is_dup3,
			   void *caller)
{
	const char *func = is_dup3 ? "dup3" : "dup2";
	struct ls_holder *gone = NULL, *h;
	struct pb_key pk = {0, 0};
	struct loss l;
	struct crit c;
	int r, saved;

	if (guard_passthrough())
		return dup_real(fd, fd2, flags, is_dup3);
	if (fdstate_get(fd) == FD_OURS) {
		errno = EBADF;
		return -1;
	}
	if (fd == fd2)
		return dup_real(fd, fd2, flags, is_dup3);
	loss_init(&l);
	if (fdstate_get(fd2) == FD_NONE && watching_events())
		loss_untracked(&l, fd2, func, caller);
	crit_enter(&c, 1);
	if (fdstate_get(fd2) == FD_OURS && free_number(fd2, 0, &pk) < 0) {
		saved = errno;
		crit_leave(&c);
		errno = saved;
		return -1;
	}
	/* backend = posix: closing fd2 drops the process's locks on its
	 * file, whichever description it is; they are taken again after. */
	if (fdstate_get(fd2) != FD_OURS && !pk.dev &&
	    (watching_closes() & WATCH_POSIX))
		posixbe_will_close(fd2, NULL, &pk);
	h = fdstate_holder(fd2);
	if (h && fdstate_holder(fd) == h)
		h = NULL; /* a dup of its own description: nothing closes */
	if (h) {
		holder_before_close(h);
		loss_tracked(&l, h, fd2, func, caller);
	}
	r = dup_real(fd, fd2, flags, is_dup3);
	saved = errno;
	if (r >= 0) {
		/* fd2 was closed by the kernel: its holder loses it. */
		if (h)
			gone = holder_detach(fd2);
		if (fdstate_get(fd) == FD_TRACKED) {
			dup_track(fd, fd2);
		} else {
			fdstate_mark_dup(fd);
			fdstate_mark_dup(fd2);
		}
		if (gone)
			holder_release(gone);
		/* before another thread can look (and call it unseen) */
		posixbe_closed_locked(&pk, func, fd2);
	}
	crit_leave(&c);
	loss_finish(&l, r >= 0);
	errno = saved;
	return r;
}

/*
 * Without a lock of ours on either side, fd2 is claimed first as close()
 * claims it; a failed call gives it its mark back, and a sibling scan
 * that ran meanwhile goes again (sib_scan, fdstate.h).
 */
int closes_dup_over(int fd, int fd2, int flags, int is_dup3, void *caller)
{
	int r, was;

	if (likely(untracked(fd) && untracked(fd2) && !watching_closes())) {
		was = fdstate_get(fd2) == FD_DUP;
		if (fd == fd2 || fdstate_unmark_dup(fd2)) {
			r = dup_real(fd, fd2, flags, is_dup3);
			if (fd == fd2)
				return r;
			if (r < 0) {
				if (was) {
					fdstate_mark_dup(fd2);
					sib_scan_note();
				}
			} else if (likely(fdstate_mark_dup(fd))) {
				fdstate_mark_dup(fd2);
			} else {
				closes_dup_raced(fd, fd2);
			}
			return r;
		}
	}
	return dup_over_locked(fd, fd2, flags, is_dup3, caller);
}

/* ---- close_range and closefrom ------------------------------------------ */

/* Events asked for: the descriptors in [first, last] the shim does not
 * track are closed too, and one of them may be a locked file's. Only the
 * open ones, from /proc/self/fd. table_lock held. */
struct watch_ctx {
	unsigned first, last;
	struct loss *loss;
	int nloss, max;
	const char *func;
	void *caller;
};

static int watch_step(void *arg, long fd)
{
	struct watch_ctx *w = arg;
	struct loss *l = &w->loss[w->nloss];

	/* unsigned: last is ~0U for closefrom(), -1 in a 32-bit long */
	if ((unsigned long)fd < w->first || (unsigned long)fd > w->last ||
	    fdstate_get((int)fd) != FD_NONE)
		return 0;
	loss_init(l);
	loss_untracked_locked(l, (int)fd, w->func, w->caller);
	w->nloss += l->active;
	return w->nloss == w->max;
}

#define NLOSS 4

/* backend = posix: an open descriptor in [first, last] the shim does not
 * track may be a locked file's: kept (posixbe.h), and skipped below. */
static int keep_step(void *arg, long fd)
{
	const struct watch_ctx *w = arg;
	int st;

	/* unsigned, as in watch_step */
	if ((unsigned long)fd < w->first || (unsigned long)fd > w->last)
		return 0;
	st = fdstate_get((int)fd);
	if (st == FD_NONE || st == FD_DUP)
		posixbe_keep_untracked((int)fd, NULL);
	return 0;
}

int closes_close_range(unsigned first, unsigned last, int flags,
		       const char *func, void *caller)
{
	struct watch_ctx w = {first, last, NULL, 0, NLOSS, func, caller};
	struct ls_holder *gone = NULL;
	unsigned max, lo, fd;
	struct loss loss[NLOSS];
	int r = 0, saved;
	struct crit c;

	if (guard_passthrough() || !atomic_load(&files_active) ||
	    (flags & CLOSE_RANGE_CLOEXEC) || first > last)
		return real_close_range(first, last, flags);
	if (atomic_load(&fd_state_max) < 0)
		return real_close_range(first, last, flags);
	w.loss = loss;
	crit_enter(&c, 1);
	if (watching_closes() & WATCH_POSIX)
		pf_dir_numbers("/proc/self/fd", keep_step, &w);
	max = (unsigned)atomic_load(&fd_state_max);
	if (watching_events())
		pf_dir_numbers("/proc/self/fd", watch_step, &w);
	lo = first;
	for (fd = first; fd <= last && fd <= max; fd++) {
		int st = fdstate_get((int)fd);

		if (st == FD_TRACKED) {
			struct ls_holder *h = fdstate_holder((int)fd);

			holder_before_close(h);
			if (w.nloss < NLOSS) {
				loss_init(&loss[w.nloss]);
				loss_tracked(&loss[w.nloss], h, (int)fd, func,
					     caller);
				w.nloss += loss[w.nloss].active;
			}
			if (posixbe_keep_tracked((int)fd, h)) {
				st = FD_OURS; /* deferred: skipped below */
			} else {
				h = holder_detach((int)fd);
				if (h) {
					h->fnext = gone;
					gone = h;
				}
			}
		} else if (st == FD_DUP) {
			fdstate_set((int)fd, FD_NONE);
		}
		if (st == FD_OURS) {
			/* Ours stay: close the run before this one. */
			if (fd > lo && real_close_range(lo, fd - 1, flags) < 0)
				r = -1;
			lo = fd + 1;
		}
	}
	if (lo <= last && lo >= first && real_close_range(lo, last, flags) < 0)
		r = -1;
	saved = errno;
	while (gone) {
		struct ls_holder *next = gone->fnext;

		holder_release(gone);
		gone = next;
	}
	crit_leave(&c);
	for (int i = 0; i < w.nloss; i++)
		loss_finish(&loss[i], r == 0);
	errno = saved;
	return r;
}

void closes_closefrom(int lowfd, void *caller)
{
	int saved = errno;

	if (lowfd < 0)
		lowfd = 0;
	closes_close_range((unsigned)lowfd, ~0U, 0, "closefrom", caller);
	errno = saved;
}
