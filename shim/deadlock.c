/*
 * shim/deadlock.c: EDEADLK between shimmed processes.
 *
 * Plain Linux fails one F_SETLKW of a lock-order cycle with EDEADLK. OFD
 * locks get no deadlock detection, so two shimmed processes in a cycle
 * would wait forever. Before a thread blocks, it publishes what it waits
 * for where other shimmed processes can read it, one small file per
 * waiting process:
 *
 *   <dir>/<pid>:  lockspace-wait 1 <starttime of pid, /proc/PID/stat #22>
 *                 <pid> <tid> <maj>:<min>:<ino> <start> <end|-1> <R|W>
 *                 ... one line per waiting thread
 *
 * in the first usable of /run/lockspace, $XDG_RUNTIME_DIR/lockspace and
 * /dev/shm/lockspace ($LOCKSPACE_WAIT_DIR overrides, for tests). Then it
 * follows the chain: which of the other waiting processes holds what it
 * waits for (the lock lines of their /proc/PID/fdinfo), what that process
 * waits for, and so on, at most 10 steps as the kernel does; if the chain
 * comes back to a lock this process holds, it withdraws its entry and
 * fails with EDEADLK. Publishing before checking means that when two
 * processes close a cycle at the same moment, at least one sees it. An
 * entry whose pid is dead or whose start time differs is stale. None of
 * this runs on a path that does not block.
 */
#include "shim.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <unistd.h>

#define DL_STEPS 10
#define DL_WAITERS 32

struct dl_wait {
	pid_t tid;
	dev_t dev;
	ino_t ino;
	int64_t start, end;
	int type;
};

static pthread_mutex_t dl_mu = PTHREAD_MUTEX_INITIALIZER;
static struct dl_wait dl_waits[DL_WAITERS]; /* dl_mu; tid 0: free */
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

/* Field 22 of /proc/PID/stat, or 0. */
static unsigned long long start_time(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long long v = 0;
	ssize_t n;
	int fd, field;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	raw_close(fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	p = strrchr(buf, ')'); /* the command may hold spaces */
	if (!p)
		return 0;
	for (field = 2; *p && field < 22; p++)
		if (*p == ' ')
			field++;
	sscanf(p, "%llu", &v);
	return v;
}

/* Rewrite this process's entry from dl_waits (dl_mu held). */
static void publish(void)
{
	char path[300], tmp[310], buf[4096];
	size_t off = 0;
	int fd, any = 0;

	if (!find_dir())
		return;
	snprintf(path, sizeof(path), "%s/%d", dl_dir, (int)prot_owner);
	off += (size_t)snprintf(buf, sizeof(buf), "lockspace-wait 1 %llu\n",
				start_time(prot_owner));
	for (int i = 0; i < DL_WAITERS; i++) {
		const struct dl_wait *w = &dl_waits[i];

		if (!w->tid || off + 128 > sizeof(buf))
			continue;
		any = 1;
		off += (size_t)snprintf(buf + off, sizeof(buf) - off,
					"%d %d %u:%u:%lu %lld %lld %c\n",
					(int)prot_owner, (int)w->tid,
					major(w->dev), minor(w->dev),
					(unsigned long)w->ino,
					(long long)w->start,
					w->end == LSR_OFF_MAX ? -1LL
							      : (long long)w->end,
					w->type == LSR_WRLCK ? 'W' : 'R');
	}
	if (!any) {
		unlink(path);
		return;
	}
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
		  0644);
	if (fd < 0)
		return;
	if (write(fd, buf, off) == (ssize_t)off)
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

/* The pids that have published a wait, other than ours, at most max. */
static int list_waiters(pid_t *pids, int max)
{
	struct dirent *de;
	DIR *d = opendir(dl_dir);
	int n = 0;

	if (!d)
		return 0;
	while (n < max && (de = readdir(d)) != NULL) {
		char *end;
		long p = strtol(de->d_name, &end, 10);

		if (*end || p <= 0 || p == prot_owner)
			continue;
		pids[n++] = (pid_t)p;
	}
	real.closedir ? real.closedir(d) : closedir(d);
	return n;
}

/* A lock, POSIX or OFD, on (dev, ino) conflicting with type over [s, e]. */
struct conflict_want {
	dev_t dev;
	ino_t ino;
	int64_t s, e;
	int type;
};

static int is_conflict(void *arg, const struct proc_lock *l)
{
	const struct conflict_want *w = arg;

	return (l->posix || l->ofd) && !l->waiter && l->dev == w->dev &&
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
	char path[300];
	struct dirent *de;
	int found = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/fdinfo", (int)pid);
	d = opendir(path);
	if (!d)
		return 0;
	while (!found && (de = readdir(d)) != NULL) {
		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/fdinfo/%s", (int)pid,
			 de->d_name);
		found = proc_locks_each(path, is_conflict, &w) > 0;
	}
	real.closedir ? real.closedir(d) : closedir(d);
	return found;
}

/* The waits published by pid (not stale), at most max. */
static int waits_of(pid_t pid, struct dl_wait *w, int max)
{
	char path[300], buf[4096];
	unsigned long long st = 0;
	int fd, n = 0;
	ssize_t len;

	snprintf(path, sizeof(path), "%s/%d", dl_dir, (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return 0;
	len = read(fd, buf, sizeof(buf) - 1);
	raw_close(fd);
	if (len <= 0)
		return 0;
	buf[len] = 0;
	if (sscanf(buf, "lockspace-wait 1 %llu", &st) != 1 ||
	    st != start_time(pid))
		return 0; /* stale: the process is gone or another */
	for (char *line = strchr(buf, '\n'); line && n < max;
	     line = strchr(line, '\n')) {
		unsigned maj, min;
		unsigned long ino;
		long long s, e;
		int p, tid;
		char t;

		line++;
		if (sscanf(line, "%d %d %u:%u:%lu %lld %lld %c", &p, &tid,
			   &maj, &min, &ino, &s, &e, &t) != 8 || p != pid)
			continue;
		w[n].tid = tid;
		w[n].dev = makedev(maj, min);
		w[n].ino = ino;
		w[n].start = s;
		w[n].end = e < 0 ? LSR_OFF_MAX : e;
		w[n].type = t == 'W' ? LSR_WRLCK : LSR_RDLCK;
		n++;
	}
	return n;
}

/* Does a chain of waits starting at "someone needs (dev, ino, s, e,
 * type)" reach a lock of this process? Only processes that wait can be
 * in a cycle: each of them that holds what is needed is followed. */
static int chain_to_us(dev_t dev, ino_t ino, int64_t s, int64_t e, int type,
		       int depth, int *steps)
{
	pid_t pids[64];
	int np = list_waiters(pids, 64);

	for (int i = 0; i < np; i++) {
		struct dl_wait w[8];
		int nw;

		nw = waits_of(pids[i], w, 8);
		if (!nw || !pid_holds_conflict(pids[i], dev, ino, s, e, type))
			continue;
		if (++*steps > DL_STEPS)
			return 0;
		for (int j = 0; j < nw; j++) {
			if (prot_holds_conflict(w[j].dev, w[j].ino, w[j].start,
						w[j].end, w[j].type))
				return 1;
			if (depth + 1 < DL_STEPS &&
			    chain_to_us(w[j].dev, w[j].ino, w[j].start,
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

	pthread_mutex_lock(&dl_mu);
	for (int i = 0; i < DL_WAITERS && slot < 0; i++)
		if (!dl_waits[i].tid)
			slot = i;
	if (slot >= 0) {
		dl_waits[slot] = (struct dl_wait){tid, dev, ino, start, end,
						  type};
		publish();
	}
	pthread_mutex_unlock(&dl_mu);
	if (!dl_dir[0])
		return 0; /* nowhere to publish: as OFD locks, no detection */
	cycle = chain_to_us(dev, ino, start, end, type, 0, &steps);
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
