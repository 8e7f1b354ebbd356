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
 * our library) are searched, anchors first (high numbers first): a genuine
 * OFD lock of a program is reported with -1, as without the shim. This
 * runs only here, never on a lock call.
 */
#include "getlk.h"
#include "procfs.h"
#include "range.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* The lock F_OFD_GETLK reported, as a lock line would name it. */
struct want {
	int type;
	dev_t dev;
	ino_t ino;
	int64_t start, end;
};

static int is_want(void *arg, int fd, const struct pf_lock *l)
{
	const struct want *w = arg;

	(void)fd;
	return l->kind == PF_OFD && !l->waiter && l->type == w->type &&
	       l->dev == w->dev && l->ino == w->ino && l->start == w->start &&
	       l->end == w->end;
}

/*
 * Which processes run the shim: reading every /proc/PID/maps costs most of
 * a lookup, so the answer is remembered per pid; a "no" expires after a
 * few seconds, since the pid may come back as a new process.
 */
#define SEEN_SLOTS 4096
#define SEEN_NO_TTL 3

static struct {
	pid_t pid;
	int yes;
	time_t when;
} seen[SEEN_SLOTS];
static pthread_mutex_t seen_mu = PTHREAD_MUTEX_INITIALIZER;

static int runs_shim(pid_t pid)
{
	struct timespec now;
	unsigned h = (unsigned)pid % SEEN_SLOTS;
	int yes;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &now);
	pthread_mutex_lock(&seen_mu);
	if (seen[h].pid == pid &&
	    (seen[h].yes || now.tv_sec - seen[h].when < SEEN_NO_TTL)) {
		yes = seen[h].yes;
		pthread_mutex_unlock(&seen_mu);
		return yes;
	}
	pthread_mutex_unlock(&seen_mu);
	yes = pf_runs_shim(pid);
	pthread_mutex_lock(&seen_mu);
	seen[h].pid = pid;
	seen[h].yes = yes;
	seen[h].when = now.tv_sec;
	pthread_mutex_unlock(&seen_mu);
	return yes;
}

struct find_ctx {
	struct want w;
	pid_t self, pid;
};

/* A process that runs the shim and holds w, anchors first (the highest
 * numbers). */
static int find_step(void *arg, long p)
{
	struct find_ctx *c = arg;

	if (p == c->self || p > INT32_MAX || !runs_shim((pid_t)p))
		return 0;
	if (pf_pid_locks_each((pid_t)p, 1, is_want, &c->w) > 0) {
		c->pid = (pid_t)p;
		return 1;
	}
	return 0;
}

pid_t getlk_find_pid(dev_t dev, ino_t ino, const struct flock *fl)
{
	struct find_ctx c = {.self = getpid(), .pid = -1};
	int saved = errno;

	/* F_OFD_GETLK gave the lock's whole range. */
	c.w.type = fl->l_type == F_WRLCK ? LSR_WRLCK : LSR_RDLCK;
	c.w.dev = dev;
	c.w.ino = ino;
	c.w.start = fl->l_start;
	c.w.end = fl->l_len == 0 ? LSR_OFF_MAX : fl->l_start + fl->l_len - 1;
	pf_dir_numbers("/proc", find_step, &c);
	errno = saved;
	return c.pid;
}
