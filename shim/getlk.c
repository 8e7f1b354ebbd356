/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * shim/getlk.c: who holds an OFD lock that F_GETLK reported with l_pid -1.
 *
 * Another process under the shim holds its locks on anchors, as OFD locks,
 * which the kernel reports with l_pid = -1; a program that then calls
 * kill(fl.l_pid, ...) would signal every process it may. The holder is
 * found the way util-linux 2.40's lslocks finds it: the "lock:" lines of
 * /proc/PID/fdinfo/FD name the lock (type, dev:ino, range) held through
 * that descriptor. Only processes that run the shim (/proc/PID/maps names
 * our library) are searched, and in each only the descriptors open on
 * the file (a stat of /proc/PID/fd/N each), highest numbers first (the
 * anchors): a genuine OFD lock of a program is reported with -1, as
 * without the shim. This runs only here, never on a lock call.
 *
 * A reader that asks again and again while one writer holds its lock
 * (SQLite's readers while a writer holds RESERVED) must not pay a search
 * each time: the last few answers are kept with a descriptor of ours open
 * on the holder's /proc/PID/fdinfo/FD, and a repeated question is
 * answered by reading that once more (pread at 0 makes the kernel list
 * the locks anew). The descriptor names the process itself, not its
 * number: once the holder has exited the read fails, so a reused pid is
 * never named. A lock that is no longer listed there is searched anew.
 */
#include "getlk.h"
#include "defs.h"
#include "band.h"
#include "fdstate.h"
#include "guard.h"
#include "procfs.h"
#include "range.h"
#include "real.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* The lock F_OFD_GETLK reported, as a lock line would name it. */
struct want {
	int type;
	dev_t dev;
	uint64_t ino;
	int64_t start, end;
};

static int want_eq(const struct want *a, const struct want *b)
{
	return a->type == b->type && a->dev == b->dev && a->ino == b->ino &&
	       a->start == b->start && a->end == b->end;
}

static int is_want(const struct want *w, const struct pf_lock *l)
{
	return l->kind == PF_OFD && !l->waiter && l->type == w->type &&
	       l->dev == w->dev && l->ino == w->ino && l->start == w->start &&
	       l->end == w->end;
}

/* ---- the answers kept ------------------------------------------------------ */

#define KEPT_N 8

/* cache_mu guards kept[], a leaf lock taken with shim_busy raised (a
 * signal handler's F_GETLK on this thread passes through meanwhile). */
static struct {
	struct want w;
	pid_t pid;
	int fd; /* ours (FD_OURS): /proc/pid/fdinfo/N; -1: a free slot */
	unsigned long used;
} kept[KEPT_N] = {[0 ... KEPT_N - 1] = {.fd = -1}};
static unsigned long kept_clock;
static pthread_mutex_t cache_mu = PTHREAD_MUTEX_INITIALIZER;

/* Whether the fdinfo file open at fd lists w: read anew from its start
 * (the raw call: F_GETLK is no cancellation point), line by line, in
 * pieces if it is long. -1 when it cannot be read (the holder is gone). */
static int lists(int fd, const struct want *w)
{
	char buf[4096 + 1];
	size_t keep = 0;
	off_t off = 0;
	long n;

	for (;;) {
		size_t ask = sizeof(buf) - 1 - keep;
		char *line = buf, *nl;
		struct pf_lock l;

		n = syscall(SYS_pread64, fd, buf + keep, ask, off);
		if (n <= 0)
			break;
		off += n;
		keep += (size_t)n;
		buf[keep] = 0;
		while ((nl = strchr(line, '\n')) != NULL) {
			*nl = 0;
			if (pf_lock_parse(line, &l) == 0 && is_want(w, &l))
				return 1;
			line = nl + 1;
		}
		if ((size_t)n < ask)
			return 0; /* a short read: the end (seq_file) */
		keep = (size_t)(buf + keep - line);
		memmove(buf, line, keep);
		if (keep == sizeof(buf) - 1)
			keep = 0; /* no line is that long */
	}
	return n < 0 && !off ? -1 : 0;
}

static void kept_drop(int i)
{
	fdstate_clear(kept[i].fd);
	raw_close(kept[i].fd);
	kept[i].fd = -1;
}

/* The kept answer for w, confirmed by one read, or -1. cache_mu held. */
static pid_t kept_find(const struct want *w)
{
	for (int i = 0; i < KEPT_N; i++) {
		if (kept[i].fd < 0 || !want_eq(&kept[i].w, w))
			continue;
		if (lists(kept[i].fd, w) > 0) {
			kept[i].used = ++kept_clock;
			return kept[i].pid;
		}
		kept_drop(i); /* gone, or holds it no more */
	}
	return -1;
}

/* Keep the answer pid (its descriptor fd holds w). cache_mu held. */
static void kept_add(const struct want *w, pid_t pid, int fd)
{
	char path[64];
	int i, lru = 0, nfd;

	for (i = 0; i < KEPT_N && kept[i].fd >= 0; i++)
		if (kept[i].used < kept[lru].used)
			lru = i;
	if (i == KEPT_N) {
		i = lru;
		kept_drop(i);
	}
	snprintf(path, sizeof(path), "/proc/%d/fdinfo/%d", (int)pid, fd);
	nfd = open(path, O_RDONLY | O_CLOEXEC);
	if (nfd < 0)
		return; /* no descriptor to spare: nothing kept */
	fd = band_move(nfd);
	if (fd < 0) {
		raw_close(nfd);
		return;
	}
	fdstate_own(fd, &kept[i].fd);
	kept[i].fd = fd;
	kept[i].w = *w;
	kept[i].pid = pid;
	kept[i].used = ++kept_clock;
}

CHILD_CODE void getlk_atfork_child(void)
{
	/* The child's copies of the descriptors were closed with the rest
	 * of ours (fork.c). */
	static const pthread_mutex_t init = PTHREAD_MUTEX_INITIALIZER;

	set_bytes(&cache_mu, &init, sizeof(init));
	for (int i = 0; i < KEPT_N; i++)
		if (kept[i].fd != -1)
			kept[i].fd = -1;
}

/* ---- searching ---------------------------------------------------------------- */

/*
 * Which processes run the shim: reading every /proc/PID/maps costs most of
 * a search, so the answer is remembered per pid; a "no" expires after a
 * few seconds, since the pid may come back as a new process. A "yes"
 * only makes the process searched: the lock lines decide.
 */
#define SEEN_SLOTS 512
#define SEEN_NO_TTL 3

static struct {
	pid_t pid;
	int yes;
	time_t when;
} seen[SEEN_SLOTS]; /* cache_mu */

static int runs_shim(pid_t pid)
{
	struct timespec now;
	unsigned h = (unsigned)pid % SEEN_SLOTS;
	int yes;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &now);
	if (seen[h].pid == pid &&
	    (seen[h].yes || now.tv_sec - seen[h].when < SEEN_NO_TTL))
		return seen[h].yes;
	yes = pf_runs_shim(pid);
	seen[h].pid = pid;
	seen[h].yes = yes;
	seen[h].when = now.tv_sec;
	return yes;
}

struct fd_list {
	int fds[256];
	int n;
	pid_t pid;
	const struct want *w;
};

/* pid's descriptors open on the wanted file (a stat of /proc/PID/fd/N
 * costs one call where reading its fdinfo costs three). */
static int add_if_on_file(void *arg, long fd)
{
	struct fd_list *l = arg;
	char path[64];
	struct stat st;

	snprintf(path, sizeof(path), "/proc/%d/fd/%ld", (int)l->pid, fd);
	if (stat(path, &st) == 0 && st.st_dev == l->w->dev &&
	    (uint64_t)st.st_ino == l->w->ino)
		l->fds[l->n++] = (int)fd;
	return l->n == (int)(sizeof(l->fds) / sizeof(l->fds[0]));
}

static int cmp_desc(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;

	return (x < y) - (x > y);
}

struct lock_ctx {
	const struct want *w;
	int found;
};

static int want_step(void *arg, const struct pf_lock *l)
{
	struct lock_ctx *c = arg;

	c->found = is_want(c->w, l);
	return c->found;
}

/* The descriptor of pid that holds w, or -1. */
static int holding_fd(pid_t pid, const struct want *w)
{
	struct fd_list l = {.pid = pid, .w = w};
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	if (pf_dir_numbers(path, add_if_on_file, &l) < 0)
		return -1;
	qsort(l.fds, (size_t)l.n, sizeof(l.fds[0]), cmp_desc);
	for (int i = 0; i < l.n; i++) {
		struct lock_ctx c = {w, 0};

		snprintf(path, sizeof(path), "/proc/%d/fdinfo/%d", (int)pid,
			 l.fds[i]);
		pf_locks_each(path, want_step, &c);
		if (c.found)
			return l.fds[i];
	}
	return -1;
}

struct find_ctx {
	const struct want *w;
	pid_t self, pid;
	int fd;
};

static int find_step(void *arg, long p)
{
	struct find_ctx *c = arg;

	if (p == c->self || p > INT32_MAX || !runs_shim((pid_t)p))
		return 0;
	c->fd = holding_fd((pid_t)p, c->w);
	if (c->fd < 0)
		return 0;
	c->pid = (pid_t)p;
	return 1;
}

pid_t getlk_find_pid(dev_t dev, ino_t ino, const struct flock *fl)
{
	struct want w;
	struct find_ctx c = {.w = &w, .pid = -1};
	int saved = errno, cancel;

	/* F_OFD_GETLK gave the lock's whole range. */
	w.type = fl->l_type == F_WRLCK ? LSR_WRLCK : LSR_RDLCK;
	w.dev = dev;
	w.ino = ino;
	w.start = fl->l_start;
	w.end = fl->l_len == 0 ? LSR_OFF_MAX : fl->l_start + fl->l_len - 1;
	/* F_GETLK is no cancellation point: the opens and reads below
	 * must not act on a pending cancellation, least of all with
	 * cache_mu held. */
	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cancel);
	shim_busy++;
	pthread_mutex_lock(&cache_mu);
	c.pid = kept_find(&w);
	if (c.pid < 0) {
		c.self = getpid();
		pf_dir_numbers("/proc", find_step, &c);
		if (c.pid > 0)
			kept_add(&w, c.pid, c.fd);
	}
	pthread_mutex_unlock(&cache_mu);
	pthread_setcancelstate(cancel, &cancel);
	shim_busy_leave();
	errno = saved;
	return c.pid;
}
