/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * shim/deadlock.c: EDEADLK between shimmed processes.
 *
 * Plain Linux fails one F_SETLKW of a lock-order cycle with EDEADLK. OFD
 * locks get no deadlock detection, so two shimmed processes in a cycle
 * would wait forever. Before a thread blocks, it publishes what it waits
 * for where other shimmed processes can read it, one small file per
 * waiting process (the format and the checks a reader makes are in
 * common/waitfile.h), in the first usable of /run/lockspace, $XDG_RUNTIME_DIR/lockspace and
 * /dev/shm/lockspace ($LOCKSPACE_WAIT_DIR overrides, for tests). Then it
 * follows the chain: which of the other waiting processes holds what it
 * waits for (the lock lines of their /proc/PID/fdinfo), what that process
 * waits for, and so on, at most 10 steps as the kernel does; if the chain
 * comes back to a lock this process holds, it withdraws its entry and
 * fails with EDEADLK. Publishing before checking means that when two
 * processes close a cycle at the same moment, at least one sees it. An
 * entry whose pid is dead or whose start time differs is stale. None of
 * this runs on a path that does not block. dl_mu guards dl_waits and
 * dl_dir; it is a leaf.
 */
#include "deadlock.h"
#include "files.h"
#include "procfs.h"
#include "real.h"
#include "waitfile.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <unistd.h>

#define DL_STEPS 10
#define DL_WAITERS 32

static pthread_mutex_t dl_mu = PTHREAD_MUTEX_INITIALIZER;
static struct wf_wait dl_waits[DL_WAITERS]; /* dl_mu; tid 0: free */
static char dl_dir[256];                    /* dl_mu */

static int try_dir(const char *dir)
{
	struct stat st;

	if (mkdir(dir, 01777) == 0)
		chmod(dir, 01777); /* past the umask: every user waits here */
	if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode) ||
	    access(dir, W_OK | X_OK) < 0)
		return 0;
	snprintf(dl_dir, sizeof(dl_dir), "%s", dir);
	return 1;
}

static int find_dir(void)
{
	const char *v;
	char buf[240];

	if (dl_dir[0])
		return 1;
	v = secure_getenv("LOCKSPACE_WAIT_DIR");
	if (v && *v)
		return try_dir(v);
	if (try_dir("/run/lockspace"))
		return 1;
	v = secure_getenv("XDG_RUNTIME_DIR");
	if (v && *v) {
		snprintf(buf, sizeof(buf), "%s/lockspace", v);
		if (try_dir(buf))
			return 1;
	}
	return try_dir("/dev/shm/lockspace");
}

/* Rewrite this process's entry from dl_waits (dl_mu held). */
static void publish(void)
{
	char path[300], tmp[310], buf[WF_SIZE_MAX];
	struct wf_wait w[DL_WAITERS];
	int fd, n = 0, len;

	if (!find_dir())
		return;
	snprintf(path, sizeof(path), "%s/%d", dl_dir, (int)table_owner);
	for (int i = 0; i < DL_WAITERS; i++)
		if (dl_waits[i].tid)
			w[n++] = dl_waits[i];
	if (!n) {
		unlink(path);
		return;
	}
	len = wf_format(buf, sizeof(buf), table_owner,
			pf_start_time(table_owner), w, n);
	if (len < 0)
		return;
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
		  0644);
	if (fd < 0)
		return;
	if (write(fd, buf, (size_t)len) == len)
		rename(tmp, path);
	else
		unlink(tmp);
	raw_close(fd);
}

/* ---- following the chain ------------------------------------------------- */

static int conflicting(int a, int b)
{
	return a == LSR_WRLCK || b == LSR_WRLCK;
}

/* The pids that have published a wait, other than ours, at most 64. */
struct waiter_list {
	pid_t pids[64];
	int n;
};

static int add_waiter(void *arg, long p)
{
	struct waiter_list *l = arg;

	if (p > 0 && p != table_owner && p <= INT32_MAX)
		l->pids[l->n++] = (pid_t)p;
	return l->n == 64;
}

/* A lock, POSIX or OFD, on (dev, ino) conflicting with type over [s, e]. */
struct conflict_want {
	dev_t dev;
	ino_t ino;
	int64_t s, e;
	int type;
};

static int is_conflict(void *arg, int fd, const struct pf_lock *l)
{
	const struct conflict_want *w = arg;

	(void)fd;
	return (l->kind == PF_POSIX || l->kind == PF_OFD) && !l->waiter &&
	       l->dev == w->dev &&
	       l->ino == w->ino && l->end >= w->s && l->start <= w->e &&
	       conflicting(w->type, l->type);
}

/* Does pid hold, through any of its descriptors, a lock on (dev, ino)
 * that conflicts with type over [s, e]? From /proc/PID/fdinfo: a POSIX
 * lock there is pid's own, an OFD lock is its description's. */
static int pid_holds_conflict(pid_t pid, dev_t dev, ino_t ino, int64_t s,
			      int64_t e, int type)
{
	struct conflict_want w = {dev, ino, s, e, type};

	return pf_pid_locks_each(pid, 0, is_conflict, &w) > 0;
}

/* The waits published by pid (not stale), at most max. */
static int waits_of(const char *dir, pid_t pid, struct wf_wait *w, int max)
{
	char path[300];
	const char *why;
	int n;

	snprintf(path, sizeof(path), "%s/%d", dir, (int)pid);
	n = wf_read(path, pid, w, max, &why);
	return n < 0 ? 0 : n;
}

/* Does a chain of waits starting at "someone needs (dev, ino, s, e,
 * type)" reach a lock of this process? Only processes that wait can be
 * in a cycle: each of them that holds what is needed is followed. */
static int chain_to_us(const char *dir, dev_t dev, ino_t ino, int64_t s,
		       int64_t e, int type, int depth, int *steps)
{
	struct waiter_list l = {.n = 0};

	pf_dir_numbers(dir, add_waiter, &l);
	for (int i = 0; i < l.n; i++) {
		struct wf_wait w[8];
		int nw;

		nw = waits_of(dir, l.pids[i], w, 8);
		if (!nw || !pid_holds_conflict(l.pids[i], dev, ino, s, e, type))
			continue;
		if (++*steps > DL_STEPS)
			return 0;
		for (int j = 0; j < nw; j++) {
			if (files_holds_conflict(w[j].dev, w[j].ino, w[j].start,
						w[j].end, w[j].type))
				return 1;
			if (depth + 1 < DL_STEPS &&
			    chain_to_us(dir, w[j].dev, w[j].ino, w[j].start,
					w[j].end, w[j].type, depth + 1, steps))
				return 1;
		}
	}
	return 0;
}

/* Before blocking: publish, then look for a cycle. 0 to go on waiting
 * (dl_wait_end() withdraws the entry), -EDEADLK (entry withdrawn). */
int dl_wait_begin(dev_t dev, ino_t ino, int64_t start, int64_t end, int type)
{
	pid_t tid = (pid_t)syscall(SYS_gettid);
	int slot = -1, steps = 0, cycle;
	char dir[sizeof(dl_dir)];

	pthread_mutex_lock(&dl_mu);
	for (int i = 0; i < DL_WAITERS && slot < 0; i++)
		if (!dl_waits[i].tid)
			slot = i;
	if (slot >= 0) {
		dl_waits[slot] = (struct wf_wait){table_owner, tid, dev, ino,
						  start, end, type};
		publish();
	}
	memcpy(dir, dl_dir, sizeof(dir));
	pthread_mutex_unlock(&dl_mu);
	if (!dir[0])
		return 0; /* nowhere to publish: as OFD locks, no detection */
	cycle = chain_to_us(dir, dev, ino, start, end, type, 0, &steps);
	if (cycle) {
		dl_wait_end();
		return -EDEADLK;
	}
	return 0;
}

void dl_wait_end(void)
{
	pid_t tid = (pid_t)syscall(SYS_gettid);

	pthread_mutex_lock(&dl_mu);
	for (int i = 0; i < DL_WAITERS; i++)
		if (dl_waits[i].tid == tid) {
			dl_waits[i].tid = 0;
			publish();
		}
	pthread_mutex_unlock(&dl_mu);
}

/* The fork child waits for nothing. */
void dl_forget(void)
{
	dl_mu = (pthread_mutex_t)PTHREAD_MUTEX_INITIALIZER;
	memset(dl_waits, 0, sizeof(dl_waits));
}
