/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * shim/deadlock.c: EDEADLK between shimmed processes.
 *
 * Plain Linux fails one F_SETLKW of a lock-order cycle with EDEADLK. OFD
 * locks get no deadlock detection, so two shimmed processes in a cycle
 * would wait forever. Before a thread blocks, it publishes what it waits
 * for in its user's directory of the wait registry, one file per waiting
 * process (common/waitfile.h: the places, the format, and the checks that
 * keep other users out). Then it follows the chain: which of the other
 * waiting processes holds what it waits for (the lock lines of their
 * /proc/PID/fdinfo), what that process waits for, and so on, at most 10
 * steps as the kernel does; if the chain comes back to a lock this
 * process holds, it withdraws its entry and fails with EDEADLK.
 * Publishing before checking means that when two processes close a cycle
 * at the same moment, at least one sees it.
 *
 * Only processes whose fdinfo we can read can be followed: those of our
 * own user (and, as root, of every user). So a reader lists its own
 * user's directories, which no other user can write, and root lists every
 * user's too. An entry is believed only as waitfile.h says; one whose
 * process is gone is removed by the reader that finds it (a waiter killed
 * with SIGKILL leaves its entry behind). A failure to publish is logged
 * once; with nowhere to publish, this process's waits are not seen by
 * others (as for OFD locks) but it still looks for cycles itself.
 *
 * None of this runs on a path that does not block. dl_mu guards dl_waits
 * and dl; it is a leaf, and nothing under it is a cancellation point
 * (cancellation is off, whoever the caller) or runs a signal handler's
 * lock call back into us (shim_busy).
 */
#include "deadlock.h"
#include "defs.h"
#include "files.h"
#include "guard.h"
#include "log.h"
#include "procfs.h"
#include "real.h"
#include "waitfile.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <unistd.h>

#define DL_STEPS 10
#define DL_WAITERS 32
#define DL_FOLLOW 4 /* waiting holders listed at a time in one step */
#define DL_WAITS 8  /* waits of one process followed */

static pthread_mutex_t dl_mu = PTHREAD_MUTEX_INITIALIZER;
static struct wf_wait dl_waits[DL_WAITERS]; /* dl_mu; tid 0: free */

/* The registry as this process sees it (dl_mu). The places are read
 * once and never change after n is set; id caches each place's checked
 * user directory. */
static struct {
	struct wf_place p[WF_PLACES_MAX];
	struct wf_dirid id[WF_PLACES_MAX];
	int n;                 /* places; -1 before the first wait */
	int pub;               /* the place that holds our entry, or -1 */
	uid_t pub_uid;         /* the user whose directory that is */
	unsigned logged;       /* places whose trouble was logged */
	int off_logged;        /* "detection is off" was logged */
	pid_t st_pid;          /* the process st is the start time of */
	unsigned long long st;
} dl = {.n = -1, .pub = -1};

static void lock_dl(int *cancel)
{
	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, cancel);
	shim_busy++;
	pthread_mutex_lock(&dl_mu);
}

static void unlock_dl(int cancel)
{
	int ignored;

	pthread_mutex_unlock(&dl_mu);
	pthread_setcancelstate(cancel, &ignored);
	shim_busy_leave();
}

/* dl_mu held. */
static void read_places(void)
{
	if (dl.n < 0)
		dl.n = wf_places(secure_getenv(WF_ENV), dl.p, WF_PLACES_MAX);
}

static void place_path(int i, uid_t uid, char *buf, size_t len)
{
	const struct wf_place *p = &dl.p[i];

	snprintf(buf, len, "%s/%s%u%s%s", p->base, p->prefix, (unsigned)uid,
		 p->sub ? "/" : "", p->sub ? p->sub : "");
}

/* Whether strerror(err) says more than the reason itself. */
static int news(int err)
{
	return err && err != EPERM && err != ELOOP && err != ENOTDIR;
}

/* Once per place: why its user directory was not used (a missing place
 * is not news: most systems lack one or two). dl_mu held. */
static void note_place(int i, uid_t uid, const char *why, int err)
{
	char path[300], owner[32] = "";
	struct stat st;

	if (err == ENOENT || (dl.logged & (1u << i)))
		return;
	dl.logged |= 1u << i;
	place_path(i, uid, path, sizeof(path));
	if (fstatat(AT_FDCWD, path, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    st.st_uid != uid)
		snprintf(owner, sizeof(owner), " (owner uid %u)",
			 (unsigned)st.st_uid);
	log_note("deadlock registry: not using %s: %s%s%s%s", path, why, owner,
		 news(err) ? ": " : "", news(err) ? strerror(err) : "");
}

/*
 * Remove our entry from the place that holds it (dl_mu held): on the way
 * from a grant back to the program, so one unlink by path. The path
 * names the directory that passed the checks when we wrote there: its
 * parent lets no one but its owner, us and root rename it, and in it
 * only we can make or remove entries. Only when that fails does the
 * checked open run.
 */
static void unpublish(void)
{
	char path[sizeof(dl.p[0].base) + 64];
	const char *why;
	int fd, n;

	if (dl.pub < 0)
		return;
	place_path(dl.pub, dl.pub_uid, path, sizeof(path));
	n = (int)strlen(path);
	snprintf(path + n, sizeof(path) - (size_t)n, "/%d", (int)table_owner);
	if (!dl.id[dl.pub].ok || unlink(path) < 0) {
		fd = wf_dir_open(&dl.p[dl.pub], dl.pub_uid, 0, &dl.id[dl.pub],
				 &why);
		if (fd >= 0) {
			wf_remove(fd, table_owner, 0);
			pf_close(fd);
		}
	}
	dl.pub = -1;
}

/*
 * Rewrite this process's entry from dl_waits, in the first place that
 * takes it (dl_mu held). When none does, the old entry goes too: an
 * entry must never claim a wait that is over.
 */
static void publish(uid_t uid)
{
	char buf[WF_SIZE_MAX];
	struct wf_wait w[DL_WAITERS];
	const char *why = "no place";
	int n = 0, len, err = 0;

	for (int i = 0; i < DL_WAITERS; i++)
		if (dl_waits[i].tid)
			w[n++] = dl_waits[i];
	if (!n || dl.pub_uid != uid)
		unpublish();
	if (!n)
		return;
	if (dl.st_pid != table_owner) {
		dl.st = pf_start_time(table_owner);
		dl.st_pid = table_owner;
	}
	len = wf_format(buf, sizeof(buf), table_owner, dl.st, w, n);
	for (int i = 0; len > 0 && i < dl.n; i++) {
		int fd = wf_dir_open(&dl.p[i], uid, 1, &dl.id[i], &why);

		if (fd < 0) {
			err = errno;
			note_place(i, uid, why, err);
			continue;
		}
		err = -wf_write(fd, table_owner, buf, (size_t)len);
		pf_close(fd);
		if (!err) {
			if (dl.pub != i)
				unpublish();
			dl.pub = i;
			dl.pub_uid = uid;
			return;
		}
		why = "cannot write the entry";
		note_place(i, uid, why, err);
	}
	unpublish();
	if (!dl.off_logged) {
		dl.off_logged = 1;
		log_note("deadlock registry: cannot publish this process's "
			 "waits (%s%s%s): other processes cannot see its "
			 "lock-order cycles",
			 why, news(err) ? ": " : "", news(err) ? strerror(err) : "");
	}
}

/* ---- following the chain ------------------------------------------------- */

static int conflicting(int a, int b)
{
	return a == LSR_WRLCK || b == LSR_WRLCK;
}

/* A lock, POSIX or OFD, on (dev, ino) conflicting with type over [s, e]. */
struct need {
	dev_t dev;
	ino_t ino;
	int64_t s, e;
	int type;
};

static int is_conflict(void *arg, int fd, const struct pf_lock *l)
{
	const struct need *w = arg;

	(void)fd;
	return (l->kind == PF_POSIX || l->kind == PF_OFD) && !l->waiter &&
	       l->dev == w->dev &&
	       l->ino == w->ino && l->end >= w->s && l->start <= w->e &&
	       conflicting(w->type, l->type);
}

/* Does pid hold, through any of its descriptors, a lock conflicting with
 * what is needed? From /proc/PID/fdinfo: a POSIX lock there is pid's
 * own, an OFD lock is its description's. */
static int pid_holds_conflict(pid_t pid, const struct need *n)
{
	return pf_pid_locks_each(pid, 0, is_conflict, (void *)n) > 0;
}

/* The view of the registry one chain search works from. */
struct view {
	const struct wf_place *p;
	struct wf_dirid id[WF_PLACES_MAX]; /* copies: the cache is dl_mu's */
	int n;
	uid_t uid;
};

/*
 * One step: the waiting processes that hold what is needed, with their
 * waits. A process's waits are read before its holds: a wait for a lock
 * this process holds cannot end while we look, so "it waits for what we
 * hold" is still true when "it holds what we need" is read. Read the
 * other way round, a process that let go of what we need and then asked
 * for a lock of ours would look like a cycle. DL_FOLLOW at a time (the
 * stack stays small): with more, the step is listed again past them.
 */
struct step {
	const struct need *need;
	int dfd, own;
	uid_t uid;
	int skip, seen, more;
	struct {
		pid_t pid;
		int nw;
		struct need w[DL_WAITS];
	} next[DL_FOLLOW];
	int nnext;
};

static int on_entry(void *arg, pid_t pid, int tmp)
{
	struct step *s = arg;
	struct wf_wait w[DL_WAITS];
	const char *why;
	int gone, n;

	if (pid == table_owner)
		return 0;
	if (tmp) {
		/* A writer killed between its write and its rename. */
		if (s->own && kill(pid, 0) < 0 && errno == ESRCH)
			wf_remove(s->dfd, pid, 1);
		return 0;
	}
	n = wf_read(s->dfd, s->uid, pid, w, DL_WAITS, &why, &gone);
	if (n < 0 && gone && s->own)
		wf_remove(s->dfd, pid, 1); /* stale: whoever finds it */
	if (n <= 0 || !pid_holds_conflict(pid, s->need) || ++s->seen <= s->skip)
		return 0;
	if (s->nnext == DL_FOLLOW) {
		s->more = 1;
		return 1;
	}
	s->next[s->nnext].pid = pid;
	s->next[s->nnext].nw = n;
	for (int i = 0; i < n; i++)
		s->next[s->nnext].w[i] = (struct need){w[i].dev, w[i].ino,
						       w[i].start, w[i].end,
						       w[i].type};
	s->nnext++;
	return 0;
}

static int on_dir(void *arg, uid_t uid, int dfd)
{
	struct step *s = arg;

	s->dfd = dfd;
	s->uid = uid;
	s->own = 0;
	return wf_each_entry(dfd, on_entry, s);
}

/* The waiting processes that hold what n needs, past the first skip. */
static void list_step(struct view *v, struct step *s)
{
	for (int i = 0; i < v->n && !s->more; i++) {
		const char *why;
		int fd = wf_dir_open(&v->p[i], v->uid, 0, &v->id[i], &why);

		if (fd >= 0) {
			s->dfd = fd;
			s->uid = v->uid;
			s->own = 1;
			wf_each_entry(fd, on_entry, s);
			pf_close(fd);
		}
		if (v->uid == 0 && !s->more)
			wf_each_dir(&v->p[i], 0, on_dir, s);
	}
}

/* Does a chain of waits starting at "someone needs n" reach a lock of
 * this process? Only processes that wait can be in a cycle: each of
 * them that holds what is needed is followed. */
static int chain_to_us(struct view *v, const struct need *n, int depth,
		       int *steps)
{
	struct step s = {.need = n};

	do {
		s.seen = s.more = s.nnext = 0;
		list_step(v, &s);
		for (int i = 0; i < s.nnext; i++) {
			if (++*steps > DL_STEPS)
				return 0;
			for (int j = 0; j < s.next[i].nw; j++) {
				const struct need *m = &s.next[i].w[j];

				if (files_holds_conflict(m->dev, m->ino, m->s,
							 m->e, m->type))
					return 1;
				if (depth + 1 < DL_STEPS &&
				    chain_to_us(v, m, depth + 1, steps))
					return 1;
			}
		}
		s.skip += s.nnext;
	} while (s.more);
	return 0;
}

static void wait_end(pid_t tid)
{
	int cancel;

	lock_dl(&cancel);
	for (int i = 0; i < DL_WAITERS; i++)
		if (dl_waits[i].tid == tid) {
			dl_waits[i].tid = 0;
			publish(dl.pub >= 0 ? dl.pub_uid : geteuid());
		}
	unlock_dl(cancel);
}

/* Before blocking: publish, then look for a cycle. 0 to go on waiting
 * (dl_wait_end() withdraws the entry), -EDEADLK (entry withdrawn). */
int dl_wait_begin(dev_t dev, ino_t ino, int64_t start, int64_t end, int type)
{
	pid_t tid = (pid_t)syscall(SYS_gettid);
	struct need n = {dev, ino, start, end, type};
	struct view v = {.uid = geteuid()};
	int slot = -1, steps = 0, cycle, cancel, ignored, err = errno;

	lock_dl(&cancel);
	read_places();
	for (int i = 0; i < DL_WAITERS && slot < 0; i++)
		if (!dl_waits[i].tid)
			slot = i;
	if (slot >= 0) {
		dl_waits[slot] = (struct wf_wait){table_owner, tid, dev, ino,
						  start, end, type};
		publish(v.uid);
	}
	v.p = dl.p;
	v.n = dl.n;
	memcpy(v.id, dl.id, sizeof(v.id));
	unlock_dl(cancel);

	/* The search opens and reads files (cancellation points) with our
	 * entry published and no cleanup pushed: not cancelled inside. */
	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cancel);
	cycle = chain_to_us(&v, &n, 0, &steps);
	if (cycle)
		wait_end(tid);
	pthread_setcancelstate(cancel, &ignored);
	errno = err;
	return cycle ? -EDEADLK : 0;
}

void dl_wait_end(void)
{
	int err = errno;

	wait_end((pid_t)syscall(SYS_gettid));
	errno = err;
}

/* The fork child waits for nothing, and has published nothing. */
CHILD_CODE void dl_forget(void)
{
	static const pthread_mutex_t init = PTHREAD_MUTEX_INITIALIZER;

	set_bytes(&dl_mu, &init, sizeof(init));
	zero_bytes(dl_waits, sizeof(dl_waits));
	if (dl.pub != -1)
		dl.pub = -1;
	if (dl.st_pid)
		dl.st_pid = 0;
}
