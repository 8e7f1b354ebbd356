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
#include "shim.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#define SHIM_NAME "liblockspace-preload"

static int read_has(const char *path, const char *needle)
{
	char buf[8192 + 64];
	size_t keep = 0, nlen = strlen(needle);
	int fd = open(path, O_RDONLY | O_CLOEXEC), found = 0;

	if (fd < 0)
		return 0;
	for (;;) {
		ssize_t n = read(fd, buf + keep, sizeof(buf) - 1 - keep);

		if (n <= 0)
			break;
		buf[keep + (size_t)n] = 0;
		if (strstr(buf, needle)) {
			found = 1;
			break;
		}
		/* Keep the tail: the name may cross two reads. */
		keep += (size_t)n;
		if (keep > nlen) {
			memmove(buf, buf + keep - nlen, nlen);
			keep = nlen;
		}
	}
	raw_close(fd);
	return found;
}

static int cmp_desc(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;

	return (x < y) - (x > y);
}

/* The lock F_OFD_GETLK reported, as a lock line would name it. */
struct want {
	int type;
	dev_t dev;
	ino_t ino;
	int64_t start, end;
};

static int is_want(void *arg, const struct proc_lock *l)
{
	const struct want *w = arg;

	return l->ofd && !l->waiter && l->type == w->type &&
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
	char path[64];
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
	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	yes = read_has(path, SHIM_NAME);
	pthread_mutex_lock(&seen_mu);
	seen[h].pid = pid;
	seen[h].yes = yes;
	seen[h].when = now.tv_sec;
	pthread_mutex_unlock(&seen_mu);
	return yes;
}

/* Does one of pid's descriptors hold the lock w? */
static int pid_holds(int pid, const struct want *w)
{
	char path[64];
	int *fds = NULL, n = 0, cap = 0, found = 0;
	struct dirent *de;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/fdinfo", pid);
	d = opendir(path);
	if (!d)
		return 0;
	while ((de = readdir(d)) != NULL) {
		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		if (n == cap) {
			int *nf = realloc(fds, (size_t)(cap ? cap * 2 : 64) *
						       sizeof(*fds));

			if (!nf)
				break;
			fds = nf;
			cap = cap ? cap * 2 : 64;
		}
		fds[n++] = atoi(de->d_name);
	}
	real.closedir ? real.closedir(d) : closedir(d);
	if (n)
		qsort(fds, (size_t)n, sizeof(*fds), cmp_desc);
	for (int i = 0; i < n && !found; i++) {
		snprintf(path, sizeof(path), "/proc/%d/fdinfo/%d", pid, fds[i]);
		found = proc_locks_each(path, is_want, (void *)w) > 0;
	}
	free(fds);
	return found;
}

pid_t getlk_find_pid(dev_t dev, ino_t ino, const struct flock *fl)
{
	struct want w;
	pid_t self = getpid(), pid = -1;
	struct dirent *de;
	int saved = errno;
	DIR *d;

	/* F_OFD_GETLK gave the lock's whole range. */
	w.type = fl->l_type == F_WRLCK ? LSR_WRLCK : LSR_RDLCK;
	w.dev = dev;
	w.ino = ino;
	w.start = fl->l_start;
	w.end = fl->l_len == 0 ? LSR_OFF_MAX : fl->l_start + fl->l_len - 1;
	d = opendir("/proc");
	if (!d)
		goto out;
	while (pid < 0 && (de = readdir(d)) != NULL) {
		int p;

		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		p = atoi(de->d_name);
		if (p == self || !runs_shim(p))
			continue;
		if (pid_holds(p, &w))
			pid = p;
	}
	real.closedir ? real.closedir(d) : closedir(d);
out:
	errno = saved;
	return pid;
}
