/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * common/waitfile.c: writing and reading the deadlock registry's wait
 * files (the format and the trust rules are in waitfile.h).
 */
#include "waitfile.h"
#include "procfs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

int wf_format(char *buf, size_t len, pid_t pid, unsigned long long st,
	      const struct wf_wait *w, int n)
{
	size_t off;
	int k;

	if (len > WF_SIZE_MAX)
		len = WF_SIZE_MAX;
	k = snprintf(buf, len, WF_MAGIC " %llu\n", st);
	if (k < 0 || (size_t)k >= len)
		return -1;
	off = (size_t)k;
	for (int i = 0; i < n; i++) {
		k = snprintf(buf + off, len - off,
			     "%d %d %u:%u:%llu %lld %lld %c\n", (int)pid,
			     (int)w[i].tid, major(w[i].dev), minor(w[i].dev),
			     (unsigned long long)w[i].ino,
			     (long long)w[i].start,
			     w[i].end == INT64_MAX ? -1LL : (long long)w[i].end,
			     w[i].type == 2 ? 'W' : 'R');
		if (k < 0 || (size_t)k >= len - off)
			return -1;
		off += (size_t)k;
	}
	return (int)off;
}

int wf_parse(const char *text, pid_t pid, unsigned long long *st,
	     struct wf_wait *w, int max)
{
	int n = 0;

	if (sscanf(text, WF_MAGIC " %llu", st) != 1)
		return -1;
	for (const char *line = strchr(text, '\n'); line && n < max;
	     line = strchr(line, '\n')) {
		unsigned maj, min;
		unsigned long long ino;
		long long s, e;
		int p, tid;
		char t;

		line++;
		if (sscanf(line, "%d %d %u:%u:%llu %lld %lld %c", &p, &tid,
			   &maj, &min, &ino, &s, &e, &t) != 8 || p != pid ||
		    s < 0 || (e >= 0 && e < s) || (t != 'R' && t != 'W'))
			continue;
		w[n].pid = p;
		w[n].tid = tid;
		w[n].dev = makedev(maj, min);
		w[n].ino = ino;
		w[n].start = s;
		w[n].end = e < 0 ? INT64_MAX : e;
		w[n].type = t == 'W' ? 2 : 1;
		n++;
	}
	return n;
}

int wf_read(const char *path, pid_t pid, struct wf_wait *w, int max,
	    const char **why)
{
	char buf[WF_SIZE_MAX + 1], proc[64];
	unsigned long long st = 0, now;
	struct stat fst, pst;
	ssize_t len;
	int fd, n;

	/* Not a link, and never a FIFO's open that waits for a writer. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK |
				O_NOCTTY);
	if (fd < 0) {
		*why = "cannot be opened";
		return -1;
	}
	if (fstat(fd, &fst) < 0 || !S_ISREG(fst.st_mode)) {
		pf_close(fd);
		*why = "not a regular file";
		return -1;
	}
	len = read(fd, buf, sizeof(buf) - 1);
	pf_close(fd);
	if (len <= 0) {
		*why = "not a wait file";
		return -1;
	}
	buf[len] = 0;
	n = wf_parse(buf, pid, &st, w, max);
	if (n < 0) {
		*why = "not a wait file";
		return -1;
	}
	snprintf(proc, sizeof(proc), "/proc/%d", (int)pid);
	now = pf_start_time(pid);
	if (stat(proc, &pst) < 0 || !now) {
		*why = "not running";
		return -1;
	}
	if (st != now) {
		*why = "another process has the pid";
		return -1;
	}
	/* The directory is shared: an entry counts only when its owner
	 * could be the process it names. */
	if (fst.st_uid != 0 && fst.st_uid != pst.st_uid) {
		*why = "owner is not the process's user";
		return -1;
	}
	return n;
}
