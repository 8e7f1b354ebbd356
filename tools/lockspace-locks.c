/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tools/lockspace-locks.c: list the machine's record locks, as lslocks(8)
 * does, with the holders that lslocks before util-linux 2.40 cannot name.
 *
 * A process under liblockspace-preload holds its record locks on anchors,
 * as OFD locks, which /proc/locks lists with pid -1. The holder is found
 * the way util-linux 2.40 finds it: the "lock:" lines of
 * /proc/PID/fdinfo/FD name each lock held through that descriptor. Waits
 * come from the "->" lines of /proc/locks and from the wait files that the
 * shim publishes before it blocks (shim/deadlock.c; the layout, the
 * format and the checks are in common/waitfile.h). The readers
 * of /proc and of the wait files are the ones the shim uses (common/):
 * one parser per format. Everything read under /proc may vanish while we
 * read it (the process exits); such a process is skipped, never an
 * error.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "procfs.h"
#include "waitfile.h"

#ifndef LOCKSPACE_VERSION
#define LOCKSPACE_VERSION "0.1.0"
#endif

#define EOF_END (-1LL)

/* ---- small helpers ---------------------------------------------------- */

static void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n);
	if (!p) {
		fprintf(stderr, "lockspace-locks: out of memory\n");
		exit(1);
	}
	return p;
}

static char *xstrdup(const char *s)
{
	char *d = strdup(s);

	if (!d) {
		fprintf(stderr, "lockspace-locks: out of memory\n");
		exit(1);
	}
	return d;
}

#define GROW(arr, n, cap)                                                     \
	do {                                                                  \
		if ((n) == (cap)) {                                           \
			(cap) = (cap) ? (cap) * 2 : 16;                       \
			(arr) = xrealloc((arr), (cap) * sizeof(*(arr)));      \
		}                                                             \
	} while (0)

/*
 * All of a file, NUL-terminated, or NULL. /proc/locks is a seq_file that
 * returns about a page per read: read to EOF, not once.
 */
static char *slurp(const char *path)
{
	return pf_read(path, NULL);
}

static int all_digits(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (!isdigit((unsigned char)*s))
			return 0;
	return 1;
}

/* ---- what the kernel says: /proc/locks -------------------------------- */

/* One lock as /proc/locks and fdinfo print it. end is EOF_END for EOF. */
struct klock {
	char kind[12]; /* POSIX, OFDLCK, FLOCK, LEASE, ... */
	char mode[12]; /* READ, WRITE, ... */
	int pid;       /* -1 for an OFD lock */
	unsigned maj, min;
	unsigned long long ino;
	long long start, end;
};

static int klock_same(const struct klock *a, const struct klock *b)
{
	return !strcmp(a->kind, b->kind) && !strcmp(a->mode, b->mode) &&
	       a->pid == b->pid && a->maj == b->maj && a->min == b->min &&
	       a->ino == b->ino && a->start == b->start && a->end == b->end;
}

/* The same lock, whoever the kernel says holds it. */
static int klock_same_nopid(const struct klock *a, const struct klock *b)
{
	struct klock c = *b;

	c.pid = a->pid;
	return klock_same(a, &c);
}

/* A lock line as the common parser read it. */
static void klock_from(struct klock *k, const struct pf_lock *l)
{
	snprintf(k->kind, sizeof(k->kind), "%s", l->kind_name);
	snprintf(k->mode, sizeof(k->mode), "%s", l->mode_name);
	k->pid = (int)l->pid;
	k->maj = major(l->dev);
	k->min = minor(l->dev);
	k->ino = (unsigned long long)l->ino;
	k->start = l->start;
	k->end = l->end == PF_EOF ? EOF_END : l->end;
}

/* A line of /proc/locks; a waiter keeps the lock at the root of its
 * tree, the holder that must let go (the kernel may file a waiter under
 * another waiter whose request it conflicts with). */
struct entry {
	struct klock l;
	int waiting;
	struct klock blk; /* waiting: the holder */
};

static struct entry *ents;
static size_t nents, cap_ents;

static void read_proc_locks(void)
{
	char *buf = slurp("/proc/locks"), *line, *next;
	struct klock root = {0};
	int have_root = 0;

	if (!buf) {
		fprintf(stderr, "lockspace-locks: /proc/locks: %s\n",
			strerror(errno));
		exit(1);
	}
	for (line = buf; line && *line; line = next) {
		struct entry e = {0};
		struct pf_lock pl;

		next = strchr(line, '\n');
		if (next)
			*next++ = 0;
		if (pf_lock_parse(line, &pl) < 0)
			continue;
		klock_from(&e.l, &pl);
		e.waiting = pl.waiter;
		if (e.waiting) {
			/* Entries may move between two reads: a waiter
			 * whose holder was not seen is dropped. */
			if (!have_root)
				continue;
			e.blk = root;
		} else {
			root = e.l;
			have_root = 1;
		}
		/* Entries that moved between two reads show up twice. */
		for (size_t i = 0; i < nents; i++)
			if (ents[i].waiting == e.waiting &&
			    klock_same(&ents[i].l, &e.l) &&
			    (!e.waiting || klock_same(&ents[i].blk, &e.blk)))
				goto dup;
		GROW(ents, nents, cap_ents);
		ents[nents++] = e;
dup:;
	}
	free(buf);
}


/* ---- who has the files open: /proc/PID/fd and fdinfo ------------------ */

/* A descriptor of a locked file, and the locks fdinfo shows on it. */
struct fdref {
	int pid, fd;
	unsigned maj, min;
	unsigned long long ino;
	long long size;
	char *path;
};

struct fdlock {
	int pid, fd;
	struct klock l;
};

static struct fdref *refs;
static size_t nrefs, cap_refs;
static struct fdlock *fdlocks;
static size_t nfdlocks, cap_fdlocks;

struct fdinfo_ctx {
	int pid, fd;
};

static int fdinfo_step(void *arg, const struct pf_lock *l)
{
	const struct fdinfo_ctx *c = arg;
	struct fdlock fl = {.pid = c->pid, .fd = c->fd};

	klock_from(&fl.l, l);
	GROW(fdlocks, nfdlocks, cap_fdlocks);
	fdlocks[nfdlocks++] = fl;
	return 0;
}

static void read_fdinfo(int pid, int fd)
{
	struct fdinfo_ctx c = {pid, fd};
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/fdinfo/%d", pid, fd);
	pf_locks_each(path, fdinfo_step, &c);
}

static int interesting(unsigned maj, unsigned min, unsigned long long ino);

/* The descriptors of pid on a locked file. A process that cannot be
 * read (gone, another user's) is skipped. */
static void scan_pid(int pid)
{
	char path[64], link[4096];
	int fd_dir;
	struct dirent *de;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	fd_dir = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd_dir < 0)
		return;
	d = fdopendir(fd_dir);
	if (!d) {
		close(fd_dir);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		struct fdref r = {.pid = pid};
		struct stat st;
		ssize_t n;

		if (!all_digits(de->d_name))
			continue;
		/* stat follows the link to the open file itself. */
		if (fstatat(fd_dir, de->d_name, &st, 0) < 0)
			continue;
		r.maj = major(st.st_dev);
		r.min = minor(st.st_dev);
		r.ino = (unsigned long long)st.st_ino;
		if (!interesting(r.maj, r.min, r.ino))
			continue;
		n = readlinkat(fd_dir, de->d_name, link, sizeof(link) - 1);
		if (n < 0)
			continue;
		link[n] = 0;
		r.fd = atoi(de->d_name);
		r.size = S_ISREG(st.st_mode) ? (long long)st.st_size : -1;
		r.path = xstrdup(link);
		GROW(refs, nrefs, cap_refs);
		refs[nrefs++] = r;
		read_fdinfo(pid, r.fd);
	}
	closedir(d);
}

static void scan_processes(void)
{
	struct dirent *de;
	DIR *d;

	d = opendir("/proc");
	if (!d)
		return;
	while ((de = readdir(d)) != NULL)
		if (all_digits(de->d_name))
			scan_pid(atoi(de->d_name));
	closedir(d);
}

static const struct fdref *ref_of(int pid, unsigned maj, unsigned min,
				  unsigned long long ino)
{
	const struct fdref *any = NULL;

	for (size_t i = 0; i < nrefs; i++) {
		const struct fdref *r = &refs[i];

		if (r->maj != maj || r->min != min || r->ino != ino)
			continue;
		if (r->pid == pid)
			return r;
		if (!any)
			any = r;
	}
	return pid < 0 ? any : NULL;
}

/* A path of (maj, min, ino) from pid's mappings, or NULL. */
static char *path_from_maps(int pid, unsigned maj, unsigned min,
			    unsigned long long ino)
{
	char path[64], *buf, *line, *next, *res = NULL;

	if (pid <= 0)
		return NULL;
	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	buf = slurp(path);
	for (line = buf; line && *line && !res; line = next) {
		unsigned ma, mi;
		unsigned long long in;
		int off = 0;

		next = strchr(line, '\n');
		if (next)
			*next++ = 0;
		/* "start-end perms offset maj:min inode   path" */
		if (sscanf(line, "%*s %*s %*s %x:%x %llu %n", &ma, &mi, &in,
			   &off) == 3 &&
		    off && ma == maj && mi == min && in == ino && line[off])
			res = xstrdup(line + off);
	}
	free(buf);
	return res;
}

/* ---- processes -------------------------------------------------------- */

struct proc {
	int pid;
	int shim; /* -1 not known yet */
	char *comm;
};

static struct proc *procs;
static size_t nprocs, cap_procs;

static struct proc *proc_get(int pid)
{
	char path[64], *buf;
	struct proc *p;

	for (size_t i = 0; i < nprocs; i++)
		if (procs[i].pid == pid)
			return &procs[i];
	GROW(procs, nprocs, cap_procs);
	p = &procs[nprocs++];
	p->pid = pid;
	p->shim = -1;
	p->comm = NULL;
	if (pid > 0) {
		snprintf(path, sizeof(path), "/proc/%d/comm", pid);
		buf = slurp(path);
		if (buf) {
			buf[strcspn(buf, "\n")] = 0;
			p->comm = buf;
		}
	}
	return p;
}

static const char *comm_of(int pid)
{
	const char *c = pid > 0 ? proc_get(pid)->comm : NULL;

	return c ? c : "(unknown)";
}

/* Does pid run the shim? /proc/PID/maps names the library. */
static int runs_shim(int pid)
{
	struct proc *p;

	if (pid <= 0)
		return 0;
	p = proc_get(pid);
	if (p->shim < 0)
		p->shim = pf_runs_shim(pid);
	return p->shim;
}

/* ---- the shim's wait files -------------------------------------------- */

struct wait {
	int pid, tid;
	unsigned maj, min;
	unsigned long long ino;
	long long start, end;
	char type; /* R or W */
	int used;  /* matched to a line of /proc/locks */
};

struct stale {
	char *path;
	int pid;
	const char *why;
};

static struct wait *waits;
static size_t nwaits, cap_waits;
static struct stale *stales;
static size_t nstales, cap_stales;

static void add_stale(const char *path, int pid, const char *why)
{
	GROW(stales, nstales, cap_stales);
	stales[nstales].path = xstrdup(path);
	stales[nstales].pid = pid;
	stales[nstales].why = why;
	nstales++;
}

static int have_waits_of(int pid)
{
	for (size_t i = 0; i < nwaits; i++)
		if (waits[i].pid == pid)
			return 1;
	return 0;
}

/* A user directory being read: its path (for the stale list) and uid. */
struct wait_dir {
	char path[4200];
	uid_t uid;
	int dfd;
};

static int read_wait_file(void *arg, pid_t pid, int tmp)
{
	struct wait_dir *d = arg;
	struct wf_wait wf[64];
	char path[4300];
	const char *why;
	int n, gone;

	if (tmp || have_waits_of(pid))
		return 0; /* a writer's NAME.tmp; seen in another place */
	n = wf_read(d->dfd, d->uid, pid, wf, 64, &why, &gone);
	if (n < 0) {
		snprintf(path, sizeof(path), "%s/%d", d->path, (int)pid);
		if (strcmp(why, "cannot be opened")) /* not gone meanwhile */
			add_stale(path, pid, why);
		return 0;
	}
	for (int i = 0; i < n; i++) {
		struct wait w = {0};

		w.pid = wf[i].pid;
		w.tid = wf[i].tid;
		w.maj = major(wf[i].dev);
		w.min = minor(wf[i].dev);
		w.ino = (unsigned long long)wf[i].ino;
		w.start = wf[i].start;
		w.end = wf[i].end == INT64_MAX ? EOF_END : wf[i].end;
		w.type = wf[i].type == 2 ? 'W' : 'R';
		GROW(waits, nwaits, cap_waits);
		waits[nwaits++] = w;
	}
	return 0;
}

static const struct wf_place *cur_place;

static int read_wait_dir(void *arg, uid_t uid, int dfd)
{
	const struct wf_place *p = cur_place;
	struct wait_dir d = {.uid = uid, .dfd = dfd};

	(void)arg;
	snprintf(d.path, sizeof(d.path), "%s/%s%u%s%s", p->base, p->prefix,
		 (unsigned)uid, p->sub ? "/" : "", p->sub ? p->sub : "");
	wf_each_entry(dfd, read_wait_file, &d);
	return 0;
}

/*
 * The shim publishes in its user's directory in the first place that
 * works (common/waitfile.h), so a user's waits may be in any of them:
 * read every user directory of every place that passes the checks (the
 * other users' are theirs alone, 0700: as another user, only our own).
 */
static void read_waits(void)
{
	struct wf_place places[WF_PLACES_MAX];
	int n = wf_places(getenv(WF_ENV), places, WF_PLACES_MAX);

	for (int i = 0; i < n; i++) {
		cur_place = &places[i];
		wf_each_dir(&places[i], (uid_t)-1, read_wait_dir, NULL);
	}
}

/* A file that a lock or a wait names. */
static int interesting(unsigned maj, unsigned min, unsigned long long ino)
{
	for (size_t i = 0; i < nents; i++)
		if (ents[i].l.maj == maj && ents[i].l.min == min &&
		    ents[i].l.ino == ino)
			return 1;
	for (size_t i = 0; i < nwaits; i++)
		if (waits[i].maj == maj && waits[i].min == min &&
		    waits[i].ino == ino)
			return 1;
	return 0;
}

static int wait_matches(const struct wait *w, const struct klock *l)
{
	return w->maj == l->maj && w->min == l->min && w->ino == l->ino &&
	       w->start == l->start && w->end == l->end &&
	       (w->type == 'W') == !strcmp(l->mode, "WRITE") &&
	       (l->pid == -1 || l->pid == w->pid);
}

/* ---- the rows --------------------------------------------------------- */

struct row {
	struct klock l; /* l.pid: the holder or waiter, -1 unknown */
	int waiting;
	int tid;     /* from a wait file, else 0 */
	int blocker; /* 0 none, -1 unknown */
	int holder_fd;
	const char *via;
	char *path;
	long long size;
};

static struct row *rows;
static size_t nrows, cap_rows;

static const char *via_of(const struct klock *l, int pid)
{
	if (!strcmp(l->kind, "POSIX"))
		return "posix";
	if (!strcmp(l->kind, "FLOCK"))
		return "flock";
	if (!strcmp(l->kind, "OFDLCK"))
		return runs_shim(pid) ? "anchor" : "ofd";
	if (!strcmp(l->kind, "LEASE"))
		return "lease";
	return "other";
}

/* The pid that holds l, as far as it can be known. For an OFD lock the
 * highest descriptor wins: the shim keeps its anchors at high numbers. */
static int holder_of(const struct klock *l, int *fd)
{
	int pid = -1, best = -1;

	for (size_t i = 0; i < nfdlocks; i++) {
		const struct fdlock *f = &fdlocks[i];

		if (!klock_same_nopid(&f->l, l))
			continue;
		if (l->pid > 0 && f->pid != l->pid)
			continue;
		if (pid < 0 || (f->pid == pid && f->fd > best)) {
			pid = f->pid;
			best = f->fd;
		}
	}
	if (fd)
		*fd = best;
	return pid > 0 ? pid : l->pid;
}

static void row_fill(struct row *r)
{
	const struct fdref *ref;

	ref = ref_of(r->l.pid, r->l.maj, r->l.min, r->l.ino);
	if (!ref)
		r->path = path_from_maps(r->l.pid, r->l.maj, r->l.min,
					 r->l.ino);
	if (!ref)
		ref = ref_of(-1, r->l.maj, r->l.min, r->l.ino);
	if (!r->path && ref)
		r->path = xstrdup(ref->path);
	r->size = ref ? ref->size : -1;
	if (!r->path)
		r->path = xstrdup("(unknown)");
	if (!r->via)
		r->via = via_of(&r->l, r->l.pid);
}

static void add_row(const struct row *r)
{
	GROW(rows, nrows, cap_rows);
	rows[nrows] = *r;
	row_fill(&rows[nrows]);
	nrows++;
}

/* An OFD lock may have several holders (read locks of two shimmed
 * processes print the same line): one row per holder process. */
static void holder_rows(const struct entry *e)
{
	int seen[64], nseen = 0;

	for (size_t i = 0; i < nfdlocks && nseen < 64; i++) {
		const struct fdlock *f = &fdlocks[i];
		struct row r = {.l = e->l};
		int dup = 0;

		if (!klock_same_nopid(&f->l, &e->l))
			continue;
		if (e->l.pid > 0 && f->pid != e->l.pid)
			continue;
		for (int j = 0; j < nseen; j++)
			dup |= seen[j] == f->pid;
		if (dup)
			continue;
		seen[nseen++] = f->pid;
		r.l.pid = f->pid;
		holder_of(&r.l, &r.holder_fd);
		add_row(&r);
		/* A flock lock is one per open file description, which
		 * fork shares: the pid of /proc/locks is the holder. */
		if (e->l.pid > 0)
			break;
	}
	if (!nseen) {
		struct row r = {.l = e->l, .holder_fd = -1};

		add_row(&r);
	}
}

static int conflicts(const struct klock *h, const struct wait *w)
{
	long long he = h->end == EOF_END ? __LONG_LONG_MAX__ : h->end;
	long long we = w->end == EOF_END ? __LONG_LONG_MAX__ : w->end;

	return h->maj == w->maj && h->min == w->min && h->ino == w->ino &&
	       h->start <= we && w->start <= he &&
	       (w->type == 'W' || !strcmp(h->mode, "WRITE"));
}

static void build_rows(void)
{
	size_t nheld;

	for (size_t i = 0; i < nents; i++) {
		const struct entry *e = &ents[i];
		struct row r = {.l = e->l, .holder_fd = -1};

		if (!e->waiting) {
			holder_rows(e);
			continue;
		}
		r.waiting = 1;
		r.blocker = holder_of(&e->blk, NULL);
		for (size_t j = 0; j < nwaits; j++) {
			if (waits[j].used || !wait_matches(&waits[j], &e->l))
				continue;
			waits[j].used = 1;
			r.l.pid = waits[j].pid;
			r.tid = waits[j].tid;
			if (!strcmp(r.l.kind, "OFDLCK"))
				r.via = "anchor";
			break;
		}
		add_row(&r);
	}
	/* A shimmed thread may wait inside its process (another holder of
	 * the process got the range first) or be about to block: its
	 * blocker is a holder of a conflicting lock. */
	nheld = nrows;
	for (size_t j = 0; j < nwaits; j++) {
		const struct wait *w = &waits[j];
		struct row r = {.waiting = 1, .holder_fd = -1, .via = "anchor"};

		if (w->used)
			continue;
		snprintf(r.l.kind, sizeof(r.l.kind), "OFDLCK");
		snprintf(r.l.mode, sizeof(r.l.mode), "%s",
			 w->type == 'W' ? "WRITE" : "READ");
		r.l.pid = w->pid;
		r.l.maj = w->maj;
		r.l.min = w->min;
		r.l.ino = w->ino;
		r.l.start = w->start;
		r.l.end = w->end;
		r.tid = w->tid;
		r.blocker = -1;
		for (size_t i = 0; i < nheld; i++) {
			if (rows[i].waiting || !conflicts(&rows[i].l, w))
				continue;
			if (rows[i].l.pid != w->pid) {
				r.blocker = rows[i].l.pid;
				break;
			}
			r.blocker = w->pid; /* conflicts = fd */
		}
		add_row(&r);
	}
}

/* ---- output ----------------------------------------------------------- */

static int opt_json, opt_noheadings, opt_waits, opt_pid;
static const char *opt_path;

static int row_shown(const struct row *r)
{
	if (opt_pid && r->l.pid != opt_pid)
		return 0;
	if (opt_path && fnmatch(opt_path, r->path, 0))
		return 0;
	return 1;
}

/* lslocks's SIZE: 1-letter suffixes, one decimal. */
static void human_size(long long v, char *buf, size_t len)
{
	static const char suf[] = "BKMGTPE";
	unsigned long long whole = (unsigned long long)v, frac = 0;
	int i = 0;

	if (v < 0) {
		buf[0] = 0;
		return;
	}
	while (whole >= 1024 && i < 6) {
		frac = whole % 1024;
		whole /= 1024;
		i++;
	}
	frac = (frac * 10 + 512) / 1024;
	if (frac >= 10) {
		whole++;
		frac = 0;
	}
	if (frac && i)
		snprintf(buf, len, "%llu.%llu%c", whole, frac, suf[i]);
	else
		snprintf(buf, len, "%llu%c", whole, suf[i]);
}

static void json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

enum { C_COMMAND, C_PID, C_TYPE, C_SIZE, C_MODE, C_START, C_END, C_PATH,
       C_BLOCKER, C_HOLDER_FD, C_VIA, NCOLS };

static const char *const col_name[NCOLS] = {
	"COMMAND", "PID", "TYPE", "SIZE", "MODE", "START", "END", "PATH",
	"BLOCKER", "HOLDER-FD", "VIA",
};
static const int col_right[NCOLS] = {
	[C_PID] = 1, [C_SIZE] = 1, [C_START] = 1, [C_END] = 1,
	[C_BLOCKER] = 1, [C_HOLDER_FD] = 1,
};

static void cells(const struct row *r, char c[NCOLS][64], const char **path)
{
	snprintf(c[C_COMMAND], 64, "%s", comm_of(r->l.pid));
	snprintf(c[C_PID], 64, "%d", r->l.pid);
	snprintf(c[C_TYPE], 64, "%s", r->l.kind);
	human_size(r->size, c[C_SIZE], 64);
	snprintf(c[C_MODE], 64, "%s%s", r->l.mode, r->waiting ? "*" : "");
	snprintf(c[C_START], 64, "%lld", r->l.start);
	if (r->l.end == EOF_END)
		snprintf(c[C_END], 64, "EOF");
	else
		snprintf(c[C_END], 64, "%lld", r->l.end);
	c[C_PATH][0] = 0;
	*path = r->path;
	c[C_BLOCKER][0] = 0;
	if (r->blocker)
		snprintf(c[C_BLOCKER], 64, "%d", r->blocker);
	c[C_HOLDER_FD][0] = 0;
	if (r->holder_fd >= 0)
		snprintf(c[C_HOLDER_FD], 64, "%d", r->holder_fd);
	snprintf(c[C_VIA], 64, "%s", r->via);
}

static void print_cell(int k, int width, const char *s)
{
	if (k == NCOLS - 1)
		printf("%s\n", s);
	else if (col_right[k])
		printf("%*s ", width, s);
	else
		printf("%-*s ", width, s);
}

static void print_table(void)
{
	size_t w[NCOLS];
	char c[NCOLS][64];
	const char *path;

	for (int k = 0; k < NCOLS; k++)
		w[k] = opt_noheadings ? 0 : strlen(col_name[k]);
	for (size_t i = 0; i < nrows; i++) {
		if (!row_shown(&rows[i]))
			continue;
		cells(&rows[i], c, &path);
		for (int k = 0; k < NCOLS; k++) {
			size_t l = k == C_PATH ? strlen(path) : strlen(c[k]);

			if (l > w[k])
				w[k] = l;
		}
	}
	if (!opt_noheadings)
		for (int k = 0; k < NCOLS; k++)
			print_cell(k, (int)w[k], col_name[k]);
	for (size_t i = 0; i < nrows; i++) {
		if (!row_shown(&rows[i]))
			continue;
		cells(&rows[i], c, &path);
		for (int k = 0; k < NCOLS; k++)
			print_cell(k, (int)w[k], k == C_PATH ? path : c[k]);
	}
}

static void print_json(void)
{
	int first = 1;
	char size[64];

	printf("{\n   \"locks\": [");
	for (size_t i = 0; i < nrows; i++) {
		const struct row *r = &rows[i];

		if (!row_shown(r))
			continue;
		printf("%s\n      {", first ? "" : ",");
		first = 0;
		printf("\"command\": ");
		json_str(comm_of(r->l.pid));
		printf(", \"pid\": %d, \"type\": ", r->l.pid);
		json_str(r->l.kind);
		human_size(r->size, size, sizeof(size));
		if (size[0]) {
			printf(", \"size\": ");
			json_str(size);
		} else {
			printf(", \"size\": null");
		}
		printf(", \"mode\": \"%s%s\"", r->l.mode,
		       r->waiting ? "*" : "");
		printf(", \"start\": %lld, \"end\": %lld, \"path\": ",
		       r->l.start, r->l.end);
		json_str(r->path);
		if (r->blocker)
			printf(", \"blocker\": %d", r->blocker);
		else
			printf(", \"blocker\": null");
		if (r->holder_fd >= 0)
			printf(", \"holder-fd\": %d", r->holder_fd);
		else
			printf(", \"holder-fd\": null");
		printf(", \"via\": \"%s\"}", r->via);
	}
	printf("%s]\n}\n", first ? "" : "\n   ");
}

/* ---- --waits: the wait-for graph -------------------------------------- */

/* An edge: row i (a waiter) waits for process rows[i].blocker. */
#define MAX_CHAIN 64

static int out_edges(int pid, size_t *idx, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < nrows && n < max; i++)
		if (rows[i].waiting && rows[i].l.pid == pid &&
		    rows[i].blocker > 0)
			idx[n++] = i;
	return (int)n;
}

static int waited_for(int pid)
{
	for (size_t i = 0; i < nrows; i++)
		if (rows[i].waiting && rows[i].blocker == pid)
			return 1;
	return 0;
}

static int json_chains;

static void print_edge(const struct row *r)
{
	const struct row *h = NULL;
	char end[32];

	for (size_t i = 0; i < nrows && !h; i++)
		if (!rows[i].waiting && rows[i].l.pid == r->blocker &&
		    rows[i].l.maj == r->l.maj && rows[i].l.min == r->l.min &&
		    rows[i].l.ino == r->l.ino)
			h = &rows[i];
	if (r->l.end == EOF_END)
		snprintf(end, sizeof(end), "EOF");
	else
		snprintf(end, sizeof(end), "%lld", r->l.end);
	if (opt_json) {
		printf("%s\n            {\"pid\": %d, \"tid\": %d, ",
		       json_chains++ ? "," : "", r->l.pid, r->tid);
		printf("\"command\": ");
		json_str(comm_of(r->l.pid));
		printf(", \"mode\": \"%s\", \"start\": %lld, \"end\": %lld, "
		       "\"path\": ", r->l.mode, r->l.start, r->l.end);
		json_str(r->path);
		printf(", \"blocker\": %d, \"blocker-command\": ", r->blocker);
		json_str(comm_of(r->blocker));
		if (h && h->holder_fd >= 0)
			printf(", \"holder-fd\": %d", h->holder_fd);
		else
			printf(", \"holder-fd\": null");
		printf(", \"via\": \"%s\"}", h ? h->via : r->via);
		return;
	}
	printf("  %d %s", r->l.pid, comm_of(r->l.pid));
	if (r->tid)
		printf(" tid %d", r->tid);
	printf(" waits %s %lld-%s %s, held by %d %s", r->l.mode,
	       r->l.start, end, r->path, r->blocker, comm_of(r->blocker));
	if (h && h->holder_fd >= 0)
		printf(" (fd %d, %s)", h->holder_fd, h->via);
	else if (h)
		printf(" (%s)", h->via);
	putchar('\n');
}

static int nchains;

static void chain_begin(int cycle)
{
	if (opt_json) {
		printf("%s\n      {\"cycle\": %s, \"chain\": [",
		       nchains ? "," : "", cycle ? "true" : "false");
		json_chains = 0;
	}
	nchains++;
}

static void chain_end(void)
{
	if (opt_json)
		printf("\n         ]}");
}

static int edge_shown(const struct row *r)
{
	return row_shown(r) || (opt_pid && r->blocker == opt_pid);
}

static int path_shown(const size_t *path, int n)
{
	if (!opt_pid && !opt_path)
		return 1;
	for (int i = 0; i < n; i++)
		if (edge_shown(&rows[path[i]]))
			return 1;
	return 0;
}

/* Cycles seen, each as its smallest edge index, to print a cycle once. */
static size_t *cyc_seen;
static size_t ncyc, cap_cyc;

static void print_cycle(const size_t *path, int from, int n)
{
	size_t min = path[from];
	int at = from, len = n - from;

	/* Printed from its smallest pid, remembered by its first edge. */
	for (int i = from; i < n; i++) {
		if (path[i] < min)
			min = path[i];
		if (rows[path[i]].l.pid < rows[path[at]].l.pid)
			at = i;
	}
	for (size_t i = 0; i < ncyc; i++)
		if (cyc_seen[i] == min)
			return;
	GROW(cyc_seen, ncyc, cap_cyc);
	cyc_seen[ncyc++] = min;
	if (!path_shown(path + from, len))
		return;
	chain_begin(1);
	if (!opt_json) {
		printf("cycle:");
		for (int i = 0; i < len; i++)
			printf(" %d ->",
			       rows[path[from + (at - from + i) % len]].l.pid);
		printf(" %d\n", rows[path[at]].l.pid);
	}
	for (int i = 0; i < len; i++)
		print_edge(&rows[path[from + (at - from + i) % len]]);
	chain_end();
}

static void print_chain(const size_t *path, int n, int into_cycle)
{
	if (!path_shown(path, n))
		return;
	chain_begin(0);
	if (!opt_json) {
		printf("chain:");
		for (int i = 0; i < n; i++)
			printf(" %d ->", rows[path[i]].l.pid);
		printf(" %d%s\n", rows[path[n - 1]].blocker,
		       into_cycle ? " (enters a cycle)" : "");
	}
	for (int i = 0; i < n; i++)
		print_edge(&rows[path[i]]);
	chain_end();
}

/* Depth-first from the edges of pid; path holds edge indices. roots: print
 * maximal chains; else look for cycles only. */
static long walk_budget = 100000;

static void walk(int pid, size_t *path, int n, int roots)
{
	size_t out[16];
	int nout = out_edges(pid, out, 16);

	if (--walk_budget < 0)
		return; /* a graph that large is not worth every path */

	if (!nout) {
		if (roots && n)
			print_chain(path, n, 0);
		return;
	}
	for (int i = 0; i < nout; i++) {
		int next = rows[out[i]].blocker, loop = -1;

		for (int j = 0; j < n && loop < 0; j++)
			if (rows[path[j]].l.pid == next)
				loop = j;
		path[n] = out[i];
		if (next == rows[out[i]].l.pid) {
			if (roots)
				print_chain(path, n + 1, 0);
			continue; /* waits inside its own process */
		}
		if (loop >= 0 || n + 1 >= MAX_CHAIN) {
			if (roots)
				print_chain(path, n + 1, loop >= 0);
			else if (loop >= 0)
				print_cycle(path, loop, n + 1);
			continue;
		}
		walk(next, path, n + 1, roots);
	}
}

static void print_waits(void)
{
	size_t path[MAX_CHAIN];

	if (opt_json)
		printf("{\n   \"waits\": [");
	/* Cycles first, then the chains that start at a waiter nobody
	 * waits for. */
	for (size_t i = 0; i < nrows; i++)
		if (rows[i].waiting && rows[i].blocker > 0)
			walk(rows[i].l.pid, path, 0, 0);
	for (size_t i = 0; i < nrows; i++) {
		int dup = 0;

		if (!rows[i].waiting || rows[i].blocker <= 0 ||
		    waited_for(rows[i].l.pid))
			continue;
		for (size_t j = 0; j < i; j++)
			dup |= rows[j].waiting &&
			       rows[j].l.pid == rows[i].l.pid;
		if (!dup)
			walk(rows[i].l.pid, path, 0, 1);
	}
	for (size_t i = 0; i < nrows; i++)
		if (rows[i].waiting && rows[i].blocker <= 0 &&
		    row_shown(&rows[i])) {
			size_t one = i;

			chain_begin(0);
			if (!opt_json)
				printf("chain: %d -> ? (holder unknown)\n",
				       rows[i].l.pid);
			print_edge(&rows[one]);
			chain_end();
		}
	if (opt_json) {
		printf("%s],\n   \"stale\": [", nchains ? "\n   " : "");
		for (size_t i = 0; i < nstales; i++) {
			printf("%s\n      {\"pid\": %d, \"file\": ",
			       i ? "," : "", stales[i].pid);
			json_str(stales[i].path);
			printf(", \"why\": ");
			json_str(stales[i].why);
			printf("}");
		}
		printf("%s]\n}\n", nstales ? "\n   " : "");
		return;
	}
	for (size_t i = 0; i < nstales; i++)
		printf("stale: %s (pid %d: %s)\n", stales[i].path,
		       stales[i].pid, stales[i].why);
}

/* ---- main ------------------------------------------------------------- */

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: lockspace-locks [options]\n"
		"List the record locks of the machine, naming the holders of\n"
		"locks taken under liblockspace-preload (OFD locks on\n"
		"anchors).\n"
		"\n"
		"  -p, --pid PID      only the locks of process PID\n"
		"  -P, --path GLOB    only the locks of files matching GLOB\n"
		"  -J, --json         JSON output (lslocks --json shape)\n"
		"  -w, --waits        only the wait-for chains, cycles marked\n"
		"  -n, --noheadings   no header line\n"
		"  -h, --help         this text\n"
		"  -V, --version      the version\n"
		"\n"
		"Columns: COMMAND PID TYPE SIZE MODE START END PATH BLOCKER\n"
		"HOLDER-FD VIA (anchor, posix, ofd, flock). MODE ends in '*'\n"
		"for a waiter; END is EOF (-1 in JSON) for a lock to the\n"
		"end.\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"pid", required_argument, NULL, 'p'},
		{"path", required_argument, NULL, 'P'},
		{"json", no_argument, NULL, 'J'},
		{"waits", no_argument, NULL, 'w'},
		{"noheadings", no_argument, NULL, 'n'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	char *end;
	int c;

	while ((c = getopt_long(argc, argv, "p:P:JwnhV", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			errno = 0;
			opt_pid = (int)strtol(optarg, &end, 10);
			if (errno || *end || opt_pid <= 0) {
				fprintf(stderr,
					"lockspace-locks: bad pid '%s'\n",
					optarg);
				return 2;
			}
			break;
		case 'P':
			opt_path = optarg;
			break;
		case 'J':
			opt_json = 1;
			break;
		case 'w':
			opt_waits = 1;
			break;
		case 'n':
			opt_noheadings = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("lockspace-locks %s\n", LOCKSPACE_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "lockspace-locks: unexpected argument '%s'\n",
			argv[optind]);
		usage(stderr);
		return 2;
	}
	read_proc_locks();
	read_waits();
	if (nents || nwaits)
		scan_processes();
	build_rows();
	if (opt_waits)
		print_waits();
	else if (opt_json)
		print_json();
	else
		print_table();
	return fflush(stdout) == 0 && !ferror(stdout) ? 0 : 1;
}
