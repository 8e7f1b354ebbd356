/*
 * shim/procfs.c: the lock lines of /proc, read and parsed in one place.
 *
 * /proc/locks and /proc/PID/fdinfo/FD are built as they are read: a read
 * in pieces of a list that changes meanwhile skips or repeats entries, and
 * a single fixed buffer cuts a descriptor's list past a few hundred locks.
 * So a file is read to its end into a buffer that grows. A lock line reads
 * (with "lock:\t" before it in fdinfo, " ->" in a waiter's)
 *     1: OFDLCK ADVISORY  WRITE -1 fe:00:1234 0 EOF
 */
#include "shim.h"

#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <unistd.h>

char *proc_read(const char *path, size_t *lenp)
{
	size_t len = 0, cap = 8192;
	char *buf = malloc(cap), *nb;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0 || !buf) {
		if (fd >= 0)
			raw_close(fd);
		free(buf);
		return NULL;
	}
	while ((n = read(fd, buf + len, cap - 1 - len)) > 0) {
		len += (size_t)n;
		if (cap - 1 - len >= 4096)
			continue;
		nb = cap < (64u << 20) ? realloc(buf, cap * 2) : NULL;
		if (!nb)
			break;
		buf = nb;
		cap *= 2;
	}
	raw_close(fd);
	buf[len] = 0;
	if (lenp)
		*lenp = len;
	return buf;
}

int proc_lock_parse(const char *line, struct proc_lock *l)
{
	char kind[16], adv[16], type[16], end[32];
	unsigned maj, min;
	unsigned long ino;
	long long start;
	int pid;

	if (!strncmp(line, "lock:", 5))
		line += 5;
	l->waiter = strstr(line, "->") != NULL;
	if (l->waiter)
		line = strstr(line, "->") + 2;
	if (sscanf(line, "%*d: %15s %15s %15s %d %x:%x:%lu %lld %31s", kind,
		   adv, type, &pid, &maj, &min, &ino, &start, end) != 9)
		return -1;
	l->ofd = !strcmp(kind, "OFDLCK");
	l->posix = !strcmp(kind, "POSIX");
	l->type = strcmp(type, "WRITE") ? LSR_RDLCK : LSR_WRLCK;
	l->pid = pid;
	l->dev = makedev(maj, min);
	l->ino = ino;
	l->start = start;
	l->end = strcmp(end, "EOF") ? atoll(end) : LSR_OFF_MAX;
	return 0;
}

int proc_locks_each(const char *path, proc_lock_fn fn, void *arg)
{
	char *buf = proc_read(path, NULL), *line, *save = NULL;
	struct proc_lock l;
	int r = 0;

	if (!buf)
		return -1;
	for (line = strtok_r(buf, "\n", &save); line && !r;
	     line = strtok_r(NULL, "\n", &save))
		if (proc_lock_parse(line, &l) == 0)
			r = fn(arg, &l);
	free(buf);
	return r;
}
