/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * common/procfs.c: the readers of /proc that the preload library, the
 * viewer and the tests share (procfs.h says what each one promises).
 */
#include "procfs.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

void pf_close(int fd)
{
	int saved = errno;

	syscall(SYS_close, fd);
	errno = saved;
}

static int pf_open(const char *path, int flags)
{
	return open(path, flags | O_RDONLY | O_CLOEXEC | O_NOCTTY);
}

/* one: the file is one record (fdinfo: seq_file's single_open), so a
 * read shorter than asked is its end, and no read is made to see 0. */
static char *read_all(const char *path, size_t *lenp, int one)
{
	size_t len = 0, cap = 8192;
	int fd = pf_open(path, 0), err;
	char *buf, *nb;
	ssize_t n;

	if (fd < 0)
		return NULL;
	buf = malloc(cap);
	if (!buf) {
		pf_close(fd);
		errno = ENOMEM;
		return NULL;
	}
	for (;;) {
		n = read(fd, buf + len, cap - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
		if (one && len < cap - 1)
			break;
		if (cap - 1 - len >= 4096)
			continue;
		nb = cap < (64u << 20) ? realloc(buf, cap * 2) : NULL;
		if (!nb)
			break; /* the rest is cut: what was read stays valid */
		buf = nb;
		cap *= 2;
	}
	err = n < 0 ? errno : 0;
	pf_close(fd);
	if (err && !len) {
		free(buf);
		errno = err;
		return NULL;
	}
	buf[len] = 0;
	if (lenp)
		*lenp = len;
	return buf;
}

char *pf_read(const char *path, size_t *lenp)
{
	return read_all(path, lenp, 0);
}

static int kind_of(const char *k)
{
	if (!strcmp(k, "POSIX"))
		return PF_POSIX;
	if (!strcmp(k, "OFDLCK"))
		return PF_OFD;
	if (!strcmp(k, "FLOCK"))
		return PF_FLOCK;
	return PF_OTHER;
}

int pf_lock_parse(const char *line, struct pf_lock *l)
{
	char adv[16], end[32];
	unsigned maj, min;
	unsigned long long ino;
	long long start;
	const char *p;
	int pid;

	if (!strncmp(line, "lock:", 5))
		line += 5;
	/* "1: " or "1: -> " */
	p = strchr(line, ':');
	if (!p)
		return -1;
	p++;
	while (*p == ' ' || *p == '\t')
		p++;
	l->waiter = !strncmp(p, "->", 2);
	if (l->waiter)
		p += 2;
	if (sscanf(p, "%11s %15s %11s %d %x:%x:%llu %lld %31s", l->kind_name,
		   adv, l->mode_name, &pid, &maj, &min, &ino, &start,
		   end) != 9)
		return -1;
	l->kind = kind_of(l->kind_name);
	l->type = strcmp(l->mode_name, "WRITE") ? PF_READ : PF_WRITE;
	l->pid = pid;
	l->dev = makedev(maj, min);
	l->ino = ino;
	l->start = start;
	l->end = strcmp(end, "EOF") ? atoll(end) : PF_EOF;
	return 0;
}

int pf_locks_each(const char *path, pf_lock_fn fn, void *arg)
{
	char *buf = read_all(path, NULL, 1), *line, *save = NULL;
	struct pf_lock l;
	int r = 0;

	if (!buf)
		return -1;
	for (line = strtok_r(buf, "\n", &save); line && !r;
	     line = strtok_r(NULL, "\n", &save))
		if (pf_lock_parse(line, &l) == 0)
			r = fn(arg, &l);
	free(buf);
	return r;
}

/* The entries of a directory, by getdents64: no DIR stream (closedir is
 * interposed by the preload library), no allocation. */
struct pf_dirent64 {
	uint64_t d_ino;
	int64_t d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

int pf_dir_numbers(const char *path, pf_num_fn fn, void *arg)
{
	char buf[4096] __attribute__((aligned(8)));
	int fd = pf_open(path, O_DIRECTORY), r = 0;
	long n;

	if (fd < 0)
		return -1;
	while (!r && (n = syscall(SYS_getdents64, fd, buf, sizeof(buf))) > 0) {
		for (long off = 0; off < n && !r;) {
			struct pf_dirent64 *de = (void *)(buf + off);
			const char *s = de->d_name;
			long v = 0;

			off += de->d_reclen;
			if (*s < '0' || *s > '9')
				continue;
			for (; *s >= '0' && *s <= '9' && v < INT_MAX / 10; s++)
				v = v * 10 + (*s - '0');
			if (!*s)
				r = fn(arg, v);
		}
	}
	pf_close(fd);
	return r;
}

/* ---- the locks of a process's descriptors -------------------------------- */

struct fd_list {
	int *fds;
	size_t n, cap;
	int err;
};

static int add_fd(void *arg, long num)
{
	struct fd_list *l = arg;

	if (l->n == l->cap) {
		size_t ncap = l->cap ? l->cap * 2 : 64;
		int *nf = realloc(l->fds, ncap * sizeof(*nf));

		if (!nf) {
			l->err = 1;
			return 1;
		}
		l->fds = nf;
		l->cap = ncap;
	}
	l->fds[l->n++] = (int)num;
	return 0;
}

static int cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;

	return (x > y) - (x < y);
}

struct fd_lock_ctx {
	pf_fd_lock_fn fn;
	void *arg;
	int fd;
	int ret; /* fn's non-zero answer */
};

static int fd_lock_step(void *arg, const struct pf_lock *l)
{
	struct fd_lock_ctx *c = arg;

	c->ret = c->fn(c->arg, c->fd, l);
	return c->ret;
}

int pf_pid_locks_each(pid_t pid, int desc, pf_fd_lock_fn fn, void *arg)
{
	struct fd_list l = {0};
	struct fd_lock_ctx c = {fn, arg, -1, 0};
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/fdinfo", (int)pid);
	if (pf_dir_numbers(path, add_fd, &l) < 0) {
		free(l.fds);
		return -1;
	}
	if (l.n)
		qsort(l.fds, l.n, sizeof(*l.fds), cmp_int);
	/* A descriptor closed meanwhile has no fdinfo: skipped. */
	for (size_t i = 0; i < l.n && !c.ret; i++) {
		c.fd = l.fds[desc ? l.n - 1 - i : i];
		snprintf(path, sizeof(path), "/proc/%d/fdinfo/%d", (int)pid,
			 c.fd);
		pf_locks_each(path, fd_lock_step, &c);
	}
	free(l.fds);
	return c.ret;
}

/* ---- processes ------------------------------------------------------------- */

/*
 * From 1024 up when the limit is above 2048: a fork copies the descriptor
 * table up to its highest open number (one at 18976 cost 90 us a fork on
 * the machine this was measured on, at 1024 5 us), and the numbers below
 * 1024, which select() can use, stay the program's. Else a little below
 * the limit, where a program taking the lowest free numbers arrives last.
 */
int pf_band_start(unsigned long long cur)
{
	if (cur > 2048)
		return 1024;
	if (cur > 256)
		return (int)(cur - cur / 4);
	return cur > 16 ? (int)(cur - 8) : 3;
}

unsigned long long pf_start_time(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long long v = 0;
	ssize_t n;
	int fd, field;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = pf_open(path, 0);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	pf_close(fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	p = strrchr(buf, ')'); /* the command may hold spaces and ')' */
	if (!p)
		return 0;
	for (field = 2; *p && field < 22; p++)
		if (*p == ' ')
			field++;
	if (sscanf(p, "%llu", &v) != 1)
		return 0;
	return v;
}

int pf_runs_shim(pid_t pid)
{
	static const char needle[] = PF_SHIM_NAME;
	const size_t nlen = sizeof(needle) - 1;
	char path[64], buf[8192 + sizeof(needle)];
	size_t keep = 0;
	int fd, found = 0;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	fd = pf_open(path, 0);
	if (fd < 0)
		return 0;
	for (;;) {
		ssize_t n = read(fd, buf + keep, sizeof(buf) - 1 - keep);

		if (n < 0 && errno == EINTR)
			continue;
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
	pf_close(fd);
	return found;
}
