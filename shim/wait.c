/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * shim/wait.c: F_SETLKW waits in the kernel and conflicts = fd's waits
 * in the process (wait.h).
 */
#include "wait.h"
#include "defs.h"
#include "anchor.h"
#include "deadlock.h"
#include "fdstate.h"
#include "files.h"
#include "posixbe.h"
#include "real.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <time.h>
#include <linux/futex.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

/* ---- conflicts = fd ---------------------------------------------------------
 * A request that conflicts with another holder's range waits in-process:
 * it reads the table's generation (guard.h) under the file's mutex, then
 * sleeps on it as a futex with nothing held; every change of the table
 * that may free a range bumps it and wakes the sleepers, who try
 * again. A futex wait returns
 * EINTR on a signal (and restarts under SA_RESTART), as F_SETLKW does.
 * A wait that can never end gets EDEADLK instead, as the kernel gives
 * for POSIX lock owners: when the thread that took the blocking range is
 * the one asking, or waits itself, along a chain of such threads; and
 * when the holders form a cycle (the blocking holder has a request of its
 * own waiting, for a holder that waits ... for the one asking), whichever
 * threads took the ranges. waits_mu is a leaf: nothing is taken under
 * it. */
static pthread_mutex_t waits_mu = PTHREAD_MUTEX_INITIALIZER;
#define NWAITS 64
static struct {
	pid_t tid;       /* the waiting thread; 0: a free slot */
	uint64_t req;    /* the holder it asks through */
	uint64_t blk;    /* the holder it waits for */
	pid_t blk_tid;   /* the thread that last locked through blk */
} waits[NWAITS]; /* waits_mu */

static void unwait(void *arg)
{
	pid_t me = *(pid_t *)arg;

	pthread_mutex_lock(&waits_mu);
	for (size_t i = 0; i < NWAITS; i++)
		if (waits[i].tid == me)
			waits[i].tid = 0;
	pthread_mutex_unlock(&waits_mu);
	atomic_fetch_sub(&table_waiters, 1);
}

/* Would a wait by me, through holder req, for holder blk (last locked
 * through by blk_tid) never end? waits_mu held. */
static int local_cycle(pid_t me, uint64_t req, uint64_t blk, pid_t blk_tid)
{
	pid_t t = blk_tid;
	uint64_t h = blk;
	int steps;

	/* Threads: the one that must let go is me, or waits for me. */
	for (steps = 0; t && steps < 10; steps++) {
		pid_t next = 0;

		if (t == me)
			return 1;
		for (size_t i = 0; i < NWAITS; i++)
			if (waits[i].tid == t)
				next = waits[i].blk_tid;
		t = next;
	}
	/* Holders: blk waits for ... for req. */
	for (steps = 0; h && steps < 10; steps++) {
		uint64_t next = 0;

		if (h == req)
			return 1;
		for (size_t i = 0; i < NWAITS; i++)
			if (waits[i].tid && waits[i].req == h)
				next = waits[i].blk;
		h = next;
	}
	return 0;
}

int wait_local(uint64_t req, uint64_t blk, pid_t blk_tid, unsigned gen)
{
	pid_t me = my_tid();
	int r, oldtype;

	pthread_mutex_lock(&waits_mu);
	if (local_cycle(me, req, blk, blk_tid)) {
		pthread_mutex_unlock(&waits_mu);
		atomic_fetch_sub(&table_waiters, 1); /* counted by the caller */
		return -EDEADLK;
	}
	for (size_t i = 0; i < NWAITS; i++)
		if (!waits[i].tid) {
			waits[i].tid = me;
			waits[i].req = req;
			waits[i].blk = blk;
			waits[i].blk_tid = blk_tid;
			break;
		}
	pthread_mutex_unlock(&waits_mu);
	/* F_SETLKW is a cancellation point, and the futex call is not: the
	 * wait is cancellable asynchronously, but only as the caller's own
	 * state allows (a thread that disabled cancellation is not
	 * cancelled here); its type is put back after. */
	pthread_cleanup_push(unwait, &me);
	pthread_setcanceltype(PTHREAD_CANCEL_ASYNCHRONOUS, &oldtype);
	r = (int)syscall(SYS_futex, &table_gen, FUTEX_WAIT_PRIVATE, gen, NULL,
			 NULL, 0);
	pthread_setcanceltype(oldtype, &oldtype);
	r = r < 0 && errno == EINTR ? -EINTR : 0;
	pthread_cleanup_pop(1);
	return r;
}

/* ---- F_SETLKW in the kernel ------------------------------------------------- */

struct waiter {
	struct ls_file *f;
	int64_t start, end;
	int dupfd;     /* FD_OURS; anchor_evict() moves it */
	int published; /* a wait entry for deadlock.c */
	int granted;   /* the caller unpins f */
};

/* Run on every way out of wait_anchor(), a cancellation's unwinding
 * included. It takes deadlock.c's mutex around calls that are
 * cancellation points (open, write, rename): cancellation is off for
 * all of it, or a cancellation pending as the grant came would unwind
 * from inside with the mutex held, and every later wait would hang. */
static void waiter_done(void *arg)
{
	struct waiter *w = arg;
	struct crit c;
	int cancel;

	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cancel);
	if (w->published)
		dl_wait_end();
	crit_enter(&c, 1);
	/* A grant on the description of an anchor that was reopened
	 * meanwhile is applied again on the current one (set_cmd): the old
	 * description lets go of it here, not at the close, which a fork
	 * child sharing the description would make drop nothing. */
	if (w->granted && w->dupfd >= 0 &&
	    (w->f->anchor < 0 || !same_description(w->dupfd, w->f->anchor)))
		klock(w->dupfd, F_OFD_SETLK, LSR_UNLCK, w->start, w->end);
	if (w->dupfd >= 0) {
		fdstate_clear(w->dupfd);
		raw_close(w->dupfd);
		w->dupfd = -1;
	}
	if (!w->granted)
		file_unpin(w->f);
	crit_leave(&c);
	pthread_setcancelstate(cancel, &cancel);
}

/* Whether every signal with a handler restarts what it interrupts
 * (SA_RESTART), as a kernel wait in F_SETLKW would be restarted. */
static int handlers_restart(void)
{
	for (int sig = 1; sig < NSIG; sig++) {
		struct sigaction sa;

		if (sigaction(sig, NULL, &sa) == 0 &&
		    sa.sa_handler != SIG_DFL && sa.sa_handler != SIG_IGN &&
		    !(sa.sa_flags & SA_RESTART))
			return 0;
	}
	return 1;
}

/*
 * No descriptor number is left for the private dup (the process is at
 * RLIMIT_NOFILE, and the anchor's own number must not be waited on: it
 * may move or close meanwhile). Plain F_SETLKW would wait and succeed:
 * sleep a while (1 ms, doubling up to 32 ms), and have the caller try
 * again, as after a grant. The sleep is the cancellation
 * point; a signal ends it with EINTR unless every handler says
 * SA_RESTART. The caller's pin stays for its next attempt.
 */
static int wait_poll(struct waiter *w, unsigned round)
{
	long ms = round < 5 ? 1L << round : 32;
	struct timespec ts = {0, ms * 1000000L};
	int res, oldtype;

	pthread_cleanup_push(waiter_done, w);
	pthread_setcanceltype(PTHREAD_CANCEL_DEFERRED, &oldtype);
	res = nanosleep(&ts, NULL) < 0 && errno == EINTR &&
			      !handlers_restart()
		      ? -EINTR
		      : 0;
	w->granted = res == 0;
	pthread_cleanup_pop(1);
	pthread_setcanceltype(oldtype, &oldtype);
	return res;
}

/*
 * The kernel grants the dup's description, which is the anchor's unless
 * the anchor was reopened meanwhile; either way the request is then
 * applied again on the current anchor under the mutex, so the table and
 * the kernel agree in the order the mutex gives.
 */
int wait_anchor(struct ls_file *f, int type, int64_t start, int64_t end,
		unsigned round)
{
	struct waiter w = {.f = f, .start = start, .end = end, .dupfd = -1};
	struct crit c;
	int res, oldtype, oldstate;

	crit_enter(&c, 1);
	res = anchor_dup_private(f->anchor, &w.dupfd);
	crit_leave(&c);
	if (res == -EMFILE || res == -ENFILE || res == -EINVAL)
		return wait_poll(&w, round);
	if (res < 0) {
		waiter_done(&w);
		return res;
	}
	/* Plain POSIX would fail a lock-order cycle with EDEADLK; OFD
	 * locks would wait forever (deadlock.c). Not cancelled inside: it
	 * holds deadlock.c's mutex around calls that are cancellation
	 * points, and no cleanup is pushed yet. */
	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &oldstate);
	res = dl_wait_begin(f->t.key.dev, f->t.key.ino, start, end, type);
	pthread_setcancelstate(oldstate, &oldstate);
	if (res < 0) {
		waiter_done(&w);
		return res;
	}
	w.published = 1;
	/* The kernel call is the cancellation point (deferred, as libc's
	 * fcntl makes it); the caller's type is put back after. */
	pthread_cleanup_push(waiter_done, &w);
	pthread_setcanceltype(PTHREAD_CANCEL_DEFERRED, &oldtype);
	res = klock(w.dupfd, F_OFD_SETLKW, type, start, end);
	res = res < 0 ? -errno : 0;
	w.granted = res == 0;
	pthread_cleanup_pop(1);
	pthread_setcanceltype(oldtype, &oldtype);
	return res;
}

/*
 * Make the kernel lock on [start, end] match the table again after a
 * grant that did not count: its descriptor was closed meanwhile, or the
 * attempt that was to record it failed. Bytes the table holds get its
 * type in place and bytes it does not hold are unlocked; never unlock and
 * then relock a byte the table holds, or another process may take it in
 * between.
 */
struct relock_ctx {
	struct ls_file *f;
	int64_t pos, end; /* the first byte not yet done, the last */
	int done;
};

/* The kernel lock of f over [s, e]: on the anchor, or under backend =
 * posix through a descriptor of the file (posixbe.h). */
static void kset(struct ls_file *f, int type, int64_t s, int64_t e)
{
	if (posixbe_file(f))
		posixbe_klock(f, -1, type, s, e);
	else
		klock(f->anchor, F_OFD_SETLK, type, s, e);
}

static int relock_step(void *arg, int64_t s, int64_t e, int type)
{
	struct relock_ctx *c = arg;

	s = s < c->pos ? c->pos : s;
	e = e > c->end ? c->end : e;
	if (s > c->pos)
		kset(c->f, LSR_UNLCK, c->pos, s - 1);
	kset(c->f, type, s, e);
	if (e == c->end)
		c->done = 1;
	else
		c->pos = e + 1;
	return c->done;
}

void wait_resync(struct ls_file *f, int64_t start, int64_t end)
{
	struct relock_ctx c = {f, start, end, 0};

	/* After a fallback the table is empty and the anchor must hold
	 * nothing: the program's own POSIX lock would wait on it. */
	if (f->anchor < 0 && !posixbe_file(f))
		return;
	lsr_set_visit(&f->t.map, start, end, relock_step, &c);
	if (!c.done)
		kset(f, LSR_UNLCK, c.pos, end);
}

void wait_grant_drop(struct ls_file *f, int64_t start, int64_t end)
{
	fmu_lock(&f->mu);
	wait_resync(f, start, end);
	fmu_unlock(&f->mu);
	file_unpin(f);
}

CHILD_CODE void wait_atfork_child(void)
{
	static const pthread_mutex_t init = PTHREAD_MUTEX_INITIALIZER;

	set_bytes(&waits_mu, &init, sizeof(init));
	zero_bytes(waits, sizeof(waits));
}
