/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * common/waitfile.c: the deadlock registry's places, user directories
 * and wait files, written and read (the layout and the trust rules are
 * in waitfile.h). Like procfs.c, nothing here calls a function the
 * preload library interposes: descriptors are closed with pf_close(),
 * directories read with getdents64.
 */
#include "waitfile.h"
#include "procfs.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
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

/* ---- places and user directories ----------------------------------------- */

int wf_places(const char *env, struct wf_place *p, int max)
{
	int n = 0;

	if (!env || !*env) {
		static const struct {
			const char *base, *prefix, *sub;
			int make_base;
		} builtin[] = {
			{"/run/user", "", "lockspace", 0},
			{"/run/lockspace", "", NULL, 1},
			{"/dev/shm", "lockspace-", NULL, 0},
		};

		for (size_t i = 0; i < sizeof(builtin) / sizeof(builtin[0]) &&
				   n < max; i++, n++) {
			snprintf(p[n].base, sizeof(p[n].base), "%s",
				 builtin[i].base);
			p[n].prefix = builtin[i].prefix;
			p[n].sub = builtin[i].sub;
			p[n].make_base = builtin[i].make_base;
		}
		return n;
	}
	for (const char *s = env; *s && n < max;) {
		size_t len = strcspn(s, ":");

		/* Only absolute paths that fit: a relative one would depend
		 * on the working directory of each process. */
		if (*s == '/' && len < sizeof(p[n].base)) {
			memcpy(p[n].base, s, len);
			p[n].base[len] = 0;
			p[n].prefix = "";
			p[n].sub = NULL;
			p[n].make_base = 0;
			n++;
		}
		s += len;
		if (*s == ':')
			s++;
	}
	return n;
}

static int open_dir_at(int at, const char *name)
{
	return openat(at, name,
		      O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

/* Why name (in at) cannot be used as a directory, from the errno of its
 * open with O_NOFOLLOW | O_DIRECTORY (ENOTDIR for a link too); errno
 * is kept. */
static const char *open_why(int at, const char *name)
{
	int err = errno;
	struct stat st;

	if (err == ELOOP || (err == ENOTDIR &&
			     fstatat(at, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
			     S_ISLNK(st.st_mode))) {
		errno = ELOOP;
		return "a symbolic link";
	}
	errno = err;
	if (err == ENOENT)
		return "missing";
	return err == ENOTDIR ? "not a directory" : "cannot be opened";
}

/* A parent no one else can rename a user directory out of (or into):
 * owned by root or uid, sticky when group or others may write it. */
static const char *parent_why(const struct stat *st, uid_t uid)
{
	if (st->st_uid != 0 && st->st_uid != uid)
		return "parent owned by another user";
	if ((st->st_mode & (S_IWGRP | S_IWOTH)) && !(st->st_mode & S_ISVTX))
		return "parent writable by others and not sticky";
	return NULL;
}

/* A user directory only uid (and root) can change entries in. */
static const char *dir_why(const struct stat *st, uid_t uid)
{
	if (!S_ISDIR(st->st_mode))
		return "not a directory";
	if (st->st_uid != uid)
		return "owned by another user";
	if (st->st_mode & (S_IWGRP | S_IWOTH))
		return "writable by others";
	return NULL;
}

static void dir_name(const struct wf_place *p, uid_t uid, char *buf,
		     size_t len)
{
	snprintf(buf, len, "%s%u", p->prefix, (unsigned)uid);
}

/* The base of p, opened and checked; made (root, mode 1777) when p says
 * so. -1 with *why and errno. */
static int open_base(const struct wf_place *p, uid_t uid, int create,
		     struct stat *st, const char **why)
{
	int fd = open_dir_at(AT_FDCWD, p->base), made = 0;

	if (fd < 0 && errno == ENOENT && create && p->make_base &&
	    geteuid() == 0) {
		made = mkdir(p->base, 01777) == 0;
		fd = open_dir_at(AT_FDCWD, p->base);
	}
	if (fd < 0) {
		*why = open_why(AT_FDCWD, p->base);
		return -1;
	}
	if (fstat(fd, st) < 0) {
		*why = "cannot be opened";
		goto bad;
	}
	/* Past the umask: every user may make its directory here. */
	if (made && st->st_uid == 0 && (st->st_mode & 07777) != 01777 &&
	    fchmod(fd, 01777) == 0)
		st->st_mode = (st->st_mode & ~07777) | 01777;
	*why = parent_why(st, uid);
	if (*why) {
		errno = EPERM;
		goto bad;
	}
	return fd;
bad:
	pf_close(fd);
	return -1;
}

int wf_dir_open(const struct wf_place *p, uid_t uid, int create,
		struct wf_dirid *id, const char **why)
{
	char name[WF_NAME_MAX], path[sizeof(p->base) + 64];
	struct stat bst, pst, st;
	int bfd, pfd, fd;

	dir_name(p, uid, name, sizeof(name));
	if (id && id->ok) {
		/* The directory that passed last time, if the path still
		 * names it: its entries are still only uid's to change. */
		snprintf(path, sizeof(path), "%s/%s%s%s", p->base, name,
			 p->sub ? "/" : "", p->sub ? p->sub : "");
		fd = open_dir_at(AT_FDCWD, path);
		if (fd >= 0 && fstat(fd, &st) == 0 && st.st_dev == id->dev &&
		    st.st_ino == id->ino && !dir_why(&st, uid))
			return fd;
		if (fd >= 0)
			pf_close(fd);
		id->ok = 0;
	}
	bfd = open_base(p, uid, create, &bst, why);
	if (bfd < 0)
		return -1;
	pfd = bfd;
	pst = bst;
	if (p->sub) {
		/* /run/user/<uid>: uid's own, made by root (logind). */
		pfd = open_dir_at(bfd, name);
		if (pfd < 0) {
			*why = open_why(bfd, name);
			pf_close(bfd);
			return -1;
		}
		if (fstat(pfd, &pst) < 0 || (*why = dir_why(&pst, uid))) {
			if (!*why)
				*why = "cannot be opened";
			errno = EPERM;
			goto bad;
		}
		snprintf(name, sizeof(name), "%s", p->sub);
	}
	fd = open_dir_at(pfd, name);
	if (fd < 0 && errno == ENOENT && create) {
		if (mkdirat(pfd, name, 0700) < 0 && errno != EEXIST) {
			*why = "cannot be made"; /* no inode, no access */
			goto bad;
		}
		fd = open_dir_at(pfd, name);
	}
	if (fd < 0) {
		*why = open_why(pfd, name);
		goto bad;
	}
	if (fstat(fd, &st) < 0) {
		*why = "cannot be opened";
		goto bad_fd;
	}
	*why = dir_why(&st, uid);
	if (!*why && st.st_dev != pst.st_dev)
		*why = "on another filesystem than its parent";
	if (*why) {
		errno = EPERM;
		goto bad_fd;
	}
	if (create && (st.st_mode & 0700) != 0700)
		fchmod(fd, 0700); /* a umask that took our own access */
	if (id) {
		id->dev = st.st_dev;
		id->ino = st.st_ino;
		id->ok = 1;
	}
	if (pfd != bfd)
		pf_close(pfd);
	pf_close(bfd);
	return fd;
bad_fd:
	pf_close(fd);
bad:
	if (pfd != bfd)
		pf_close(pfd);
	pf_close(bfd);
	return -1;
}

/* getdents64's records: no DIR stream (closedir is interposed). */
struct wf_dirent64 {
	uint64_t d_ino;
	int64_t d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

/* The number that s starts with, and where it ends: -1 when s does not
 * start with a digit or the number is too large. */
static long number(const char *s, const char **end)
{
	long v = 0;

	if (*s < '0' || *s > '9')
		return -1;
	for (; *s >= '0' && *s <= '9'; s++) {
		if (v > (INT_MAX - 9) / 10)
			return -1;
		v = v * 10 + (*s - '0');
	}
	*end = s;
	return v;
}

/* fn(arg, name) for each entry of dfd, until it returns non-zero. */
typedef int (*name_fn)(void *arg, const char *name);
static int each_name(int dfd, name_fn fn, void *arg)
{
	char buf[4096] __attribute__((aligned(8)));
	long n;
	int r = 0;

	while (!r && (n = syscall(SYS_getdents64, dfd, buf, sizeof(buf))) > 0)
		for (long off = 0; off < n && !r;) {
			struct wf_dirent64 *de = (void *)(buf + off);

			off += de->d_reclen;
			r = fn(arg, de->d_name);
		}
	return r;
}

struct entry_ctx {
	wf_entry_fn fn;
	void *arg;
};

static int entry_step(void *arg, const char *name)
{
	struct entry_ctx *c = arg;
	const char *end;
	long pid = number(name, &end);

	if (pid <= 0)
		return 0;
	if (!*end)
		return c->fn(c->arg, (pid_t)pid, 0);
	if (!strcmp(end, ".tmp"))
		return c->fn(c->arg, (pid_t)pid, 1);
	return 0;
}

int wf_each_entry(int dfd, wf_entry_fn fn, void *arg)
{
	struct entry_ctx c = {fn, arg};

	return each_name(dfd, entry_step, &c);
}

struct dir_ctx {
	const struct wf_place *p;
	long skip;
	wf_dir_fn fn;
	void *arg;
};

static int dir_step(void *arg, const char *name)
{
	struct dir_ctx *c = arg;
	size_t plen = strlen(c->p->prefix);
	const char *end, *why;
	long uid;
	int fd, r;

	if (strncmp(name, c->p->prefix, plen))
		return 0;
	uid = number(name + plen, &end);
	if (uid < 0 || *end || uid == c->skip)
		return 0;
	fd = wf_dir_open(c->p, (uid_t)uid, 0, NULL, &why);
	if (fd < 0)
		return 0;
	r = c->fn(c->arg, (uid_t)uid, fd);
	pf_close(fd);
	return r;
}

int wf_each_dir(const struct wf_place *p, uid_t skip, wf_dir_fn fn,
		void *arg)
{
	struct dir_ctx c = {p, skip == (uid_t)-1 ? -1L : (long)skip, fn, arg};
	int fd = open_dir_at(AT_FDCWD, p->base), r;

	if (fd < 0)
		return -1;
	r = each_name(fd, dir_step, &c);
	pf_close(fd);
	return r;
}

/* ---- entries ------------------------------------------------------------------- */

int wf_read(int dfd, uid_t uid, pid_t pid, struct wf_wait *w, int max,
	    const char **why, int *gone)
{
	char buf[WF_SIZE_MAX + 1], name[WF_NAME_MAX];
	unsigned long long st = 0, now;
	struct stat fst, pst;
	ssize_t len;
	int fd, n;

	*gone = 0;
	snprintf(name, sizeof(name), "/proc/%d", (int)pid);
	if (stat(name, &pst) < 0) {
		*gone = errno == ENOENT;
		*why = "not running";
		return -1;
	}
	if (pst.st_uid != uid) {
		*why = "the process runs as another user";
		return -1;
	}
	snprintf(name, sizeof(name), "%d", (int)pid);
	/* Not a link, and never a FIFO's open that waits for a writer. */
	fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW |
				       O_NONBLOCK | O_NOCTTY);
	if (fd < 0) {
		*why = "cannot be opened";
		return -1;
	}
	if (fstat(fd, &fst) < 0 || !S_ISREG(fst.st_mode)) {
		pf_close(fd);
		*why = "not a regular file";
		return -1;
	}
	if (fst.st_uid != uid || fst.st_nlink != 1) {
		pf_close(fd);
		*why = fst.st_uid != uid ? "owner is not the directory's user"
					 : "has other links";
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
	now = pf_start_time(pid);
	if (!now) {
		*gone = 1;
		*why = "not running";
		return -1;
	}
	if (st != now) {
		*why = "another process has the pid";
		return -1;
	}
	return n;
}

int wf_write(int dfd, pid_t pid, const char *text, size_t len)
{
	char tmp[WF_NAME_MAX], name[WF_NAME_MAX];
	size_t done = 0;
	int fd = -1, err = 0;

	snprintf(name, sizeof(name), "%d", (int)pid);
	snprintf(tmp, sizeof(tmp), "%d.tmp", (int)pid);
	for (int tries = 0; fd < 0 && tries < 2; tries++) {
		fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
					      O_CLOEXEC | O_NOCTTY,
			    0600);
		/* Only uid writes here: a <pid>.tmp is a killed writer's,
		 * an earlier process with our pid. */
		if (fd < 0 && (errno != EEXIST || unlinkat(dfd, tmp, 0) < 0))
			return -errno;
	}
	if (fd < 0)
		return -EEXIST;
	while (done < len) {
		ssize_t n = write(fd, text + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			err = n < 0 ? errno : ENOSPC;
			break;
		}
		done += (size_t)n;
	}
	pf_close(fd);
	if (!err && renameat(dfd, tmp, dfd, name) < 0)
		err = errno;
	if (err) {
		unlinkat(dfd, tmp, 0);
		return -err;
	}
	return 0;
}

int wf_remove(int dfd, pid_t pid, int tmp)
{
	char name[WF_NAME_MAX];
	int r;

	snprintf(name, sizeof(name), "%d.tmp", (int)pid);
	if (tmp)
		unlinkat(dfd, name, 0);
	snprintf(name, sizeof(name), "%d", (int)pid);
	r = unlinkat(dfd, name, 0);
	return r < 0 ? -errno : 0;
}
