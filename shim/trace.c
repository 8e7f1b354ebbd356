/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * shim/trace.c: the timeline (trace.h), as Chrome trace-event JSON.
 *
 * Longer than the other rooms (about 800 lines) on purpose: the rings,
 * the file and the JSON writer share one invariant, that a record is
 * written by its own thread without a lock and read only by the thread
 * that flushes a full ring or the process's last one, and splitting them
 * would export the ring's layout to another file.
 *
 * What is in it, per process and thread:
 *   - "b"/"e" (nestable async, cat "lock"): each piece of a file's map,
 *     from when the map got it to when it lost it: "W 0-99 /srv/db".
 *     The map is the process's locks (the union of its holders', one
 *     type per byte, as POSIX): a lock over [0, 99] unlocked over
 *     [40, 59] ends the span 0-99 and begins 0-39 and 60-99. A piece
 *     is its own id (pid, file, range, type), so the end needs no memory
 *     of the begin, and spans may overlap freely (async events, not a
 *     thread's stack of slices). Recorded where the map changes
 *     (files.c), by the thread that changes it.
 *   - "X" (cat "wait"): an F_SETLKW that had to wait, from the call to
 *     its answer, on the waiting thread.
 *   - "i" (cat "loss", thread-scoped): each lock-loss (observe),
 *     lock-loss-prevented (protect) and lock-loss-unseen, with the same
 *     fields as the log's event, caller included.
 *   - "M": the names of the process (comm, pid, exe) and of its threads.
 * ts and dur are microseconds of CLOCK_MONOTONIC, one clock for every
 * process of the machine, so the processes of one run share the file.
 *
 * The file is written in the JSON array format, one event a line, every
 * line but the first starting with ",": the first line, "[" and a
 * metadata event, is in place before the file has a name (O_TMPFILE,
 * then linkat), so that processes appending at the same time never
 * need to agree on who goes first. The closing "]" is optional in that
 * format (a process that dies leaves a file that still opens);
 * lockspace-run --trace adds it at the end, for strict JSON readers.
 *
 * Rings: one per thread, found through a thread-local pointer, taken
 * from the list of rings (a free one, or one whose thread is gone:
 * tgkill(.., 0) says ESRCH) or mmap'ed and pushed onto it; never freed.
 * A ring's busy flag is taken with a compare-and-swap by whoever
 * appends to it or writes it out: a signal handler that interrupts its
 * own thread's append, or an exit that finds a thread appending, drops
 * instead of waiting. The paths of the files are kept once each, in an
 * append-only table (a readlink at a file's first change).
 */
#include "trace.h"
#include "band.h"
#include "defs.h"
#include "fdstate.h"
#include "files.h"
#include "guard.h"
#include "lockcmd.h"
#include "log.h"
#include "observe.h"
#include "real.h"
#include "uaccess.h"

#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#ifndef LOCKSPACE_VERSION
#define LOCKSPACE_VERSION "0.1.0"
#endif

#define RING_N 1024        /* records a ring holds */
#define RING_TEXT 16384    /* bytes of the instants' text */
#define PIECES_MAX 64      /* pieces of a map seen at one change */
#define PATHS_N 1024
#define PATHS_ARENA 65536

enum { TR_B, TR_E, TR_WAIT, TR_INSTANT };

struct rec {
	uint64_t ts, dur; /* ns */
	uint64_t dev, ino;
	int64_t start, end;
	int32_t tid;
	uint8_t kind, type;
	int16_t fd;
	int32_t res;         /* TR_WAIT: 0 or an errno */
	uint32_t text, tlen; /* TR_INSTANT: "name\0{args}" in text[] */
};

/* Invariants: rec[0, n) and text[0, tlen) are written; only the holder
 * of busy reads or changes them, or n and tlen; owner is the thread
 * that appends (0: free). */
struct ring {
	struct ring *next; /* written before the ring is published */
	atomic_int owner;
	atomic_int busy;
	unsigned n, tlen;
	char tname[16];
	struct rec rec[RING_N];
	char text[RING_TEXT];
};

atomic_int trace_on;
static struct ring *_Atomic rings;
static __thread struct ring *mine;
static char tr_path[PATH_MAX];
static _Atomic int tr_fd = -1;
static _Atomic uint64_t tr_dev, tr_ino;
static atomic_long dropped;
static atomic_int meta_done; /* this process's name was written */

/* ---- the paths ------------------------------------------------------------- */

static struct {
	uint64_t dev, ino;
	uint32_t off;
	atomic_int ready;
} paths[PATHS_N];
static atomic_uint npaths, arena_len;
static char arena[PATHS_ARENA];

static const char *path_of(uint64_t dev, uint64_t ino)
{
	unsigned n = atomic_load(&npaths);

	for (unsigned i = 0; i < n && i < PATHS_N; i++)
		if (atomic_load_explicit(&paths[i].ready,
					 memory_order_acquire) &&
		    paths[i].dev == dev && paths[i].ino == ino)
			return arena + paths[i].off;
	return NULL;
}

static void path_add(uint64_t dev, uint64_t ino, int fd)
{
	char link[40], p[PATH_MAX];
	unsigned off, i;
	ssize_t n;

	if (fd < 0 || path_of(dev, ino))
		return;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, p, sizeof(p) - 1);
	if (n <= 0)
		return;
	off = atomic_fetch_add(&arena_len, (unsigned)n + 1);
	if (off + (unsigned)n + 1 > PATHS_ARENA)
		return;
	memcpy(arena + off, p, (size_t)n);
	arena[off + n] = 0;
	i = atomic_fetch_add(&npaths, 1);
	if (i >= PATHS_N)
		return;
	paths[i].dev = dev;
	paths[i].ino = ino;
	paths[i].off = off;
	atomic_store_explicit(&paths[i].ready, 1, memory_order_release);
}

/* ---- the rings --------------------------------------------------------------- */

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int gone(pid_t tid)
{
	return syscall(SYS_tgkill, getpid(), tid, 0) < 0 && errno == ESRCH;
}

static struct ring *ring_get(void)
{
	struct ring *r = mine;
	pid_t tid = my_tid();

	if (r && atomic_load(&r->owner) == tid)
		return r;
	for (r = atomic_load(&rings); r; r = r->next) {
		int o = atomic_load(&r->owner);

		if ((o == 0 || (o != tid && gone(o))) &&
		    atomic_compare_exchange_strong(&r->owner, &o, tid))
			goto got;
	}
	r = mmap(NULL, sizeof(*r), PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (r == MAP_FAILED)
		return NULL;
	atomic_store(&r->owner, tid);
	r->next = atomic_load(&rings);
	while (!atomic_compare_exchange_weak(&rings, &r->next, r))
		;
got:
	if (prctl(PR_GET_NAME, r->tname) < 0)
		r->tname[0] = 0;
	mine = r;
	return r;
}

static int ring_take(struct ring *r)
{
	int z = 0;

	return atomic_compare_exchange_strong(&r->busy, &z, 1);
}

static void ring_give(struct ring *r)
{
	atomic_store_explicit(&r->busy, 0, memory_order_release);
}

/* A record to fill in this thread's ring, the ring taken; NULL (counted
 * as dropped) when there is none to be had. */
static struct rec *rec_new(struct ring **rp)
{
	struct ring *r = ring_get();

	if (!r || !ring_take(r)) {
		atomic_fetch_add(&dropped, 1);
		return NULL;
	}
	if (r->n >= RING_N) {
		ring_give(r);
		atomic_fetch_add(&dropped, 1);
		return NULL;
	}
	memset(&r->rec[r->n], 0, sizeof(r->rec[0]));
	r->rec[r->n].tid = my_tid();
	r->rec[r->n].ts = now_ns();
	*rp = r;
	return &r->rec[r->n];
}

static void rec_done(struct ring *r)
{
	r->n++;
	ring_give(r);
}

/* ---- the file ------------------------------------------------------------------ */

/* "[" and the first event, in place before the file has its name. */
static int create_file(void)
{
	char head[256], dir[PATH_MAX], proc[40];
	int n, fd;

	n = snprintf(head, sizeof(head),
		     "[{\"name\":\"lockspace-preload\",\"ph\":\"M\",\"pid\":0,"
		     "\"tid\":0,\"args\":{\"version\":\"%s\",\"clock\":"
		     "\"CLOCK_MONOTONIC\"}}", LOCKSPACE_VERSION);
	snprintf(dir, sizeof(dir), "%s", tr_path);
	fd = open(dirname(dir), O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);
	if (fd >= 0) {
		snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
		if (write(fd, head, (size_t)n) != n ||
		    (linkat(AT_FDCWD, proc, AT_FDCWD, tr_path,
			    AT_SYMLINK_FOLLOW) < 0 && errno != EEXIST)) {
			raw_close(fd);
			fd = -1;
		} else {
			raw_close(fd);
			return open(tr_path, O_WRONLY | O_APPEND | O_CLOEXEC |
					     O_NOFOLLOW | O_NOCTTY |
					     O_NONBLOCK);
		}
	}
	/* No O_TMPFILE here: a window between the creation and the first
	 * line, which another process may write into. */
	fd = open(tr_path, O_WRONLY | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC |
				   O_NOFOLLOW | O_NOCTTY | O_NONBLOCK, 0600);
	if (fd >= 0) {
		if (write(fd, head, (size_t)n) != n) {
			raw_close(fd);
			return -1;
		}
		return fd;
	}
	if (errno != EEXIST)
		return -1;
	return open(tr_path, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW |
				     O_NOCTTY | O_NONBLOCK);
}

/* Our descriptor of the file, in the band, checked as the log's is. */
static int trace_fd(void)
{
	int fd = atomic_load(&tr_fd), nfd, hi;
	struct stat st;

	if (fd >= 0 && fstat(fd, &st) == 0 &&
	    (uint64_t)st.st_dev == atomic_load(&tr_dev) &&
	    (uint64_t)st.st_ino == atomic_load(&tr_ino))
		goto mark;
	nfd = open(tr_path, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW |
				    O_NOCTTY | O_NONBLOCK);
	if (nfd < 0 && errno == ENOENT)
		nfd = create_file();
	if (nfd < 0)
		return -1;
	hi = band_dup(nfd, 0);
	if (hi >= 0) {
		raw_close(nfd);
		nfd = hi;
	}
	if (fstat(nfd, &st) < 0) {
		raw_close(nfd);
		return -1;
	}
	atomic_store(&tr_dev, (uint64_t)st.st_dev);
	atomic_store(&tr_ino, (uint64_t)st.st_ino);
	if (!atomic_compare_exchange_strong(&tr_fd, &fd, nfd)) {
		raw_close(nfd);
		return fd;
	}
	fd = nfd;
mark:
	if (fd_state && fdstate_get(fd) != FD_OURS)
		fdstate_own(fd, NULL);
	return fd;
}

void trace_setup(const char *path)
{
	if (!path || path[0] != '/' || strlen(path) >= sizeof(tr_path))
		return;
	snprintf(tr_path, sizeof(tr_path), "%s", path);
	/* Closes are looked at, as under observe or --report, so that a
	 * prevented loss through a descriptor the shim does not track is
	 * seen too. */
	atomic_fetch_or(&watch_closes, WATCH_EVENTS);
	atomic_store(&trace_on, 1);
}

/* ---- writing it out --------------------------------------------------------------- */

/* s as the inside of a JSON string; '<', '>' and '&' too, so that the
 * events can be put in an HTML page as they are. */
static size_t jesc(char *d, size_t len, const char *s)
{
	size_t o = 0;

	for (; *s && o + 7 < len; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\') {
			d[o++] = '\\';
			d[o++] = (char)c;
		} else if (c < 0x20 || c == '<' || c == '>' || c == '&') {
			o += (size_t)snprintf(d + o, len - o, "\\u%04x", c);
		} else {
			d[o++] = (char)c;
		}
	}
	d[o] = 0;
	return o;
}

struct out {
	int fd;
	char buf[8192];
	size_t n;
};

static void out_flush(struct out *o)
{
	size_t off = 0;

	while (off < o->n) {
		ssize_t w = write(o->fd, o->buf + off, o->n - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	o->n = 0;
}

/* One line (",\n" and an event), whole: written out first when it does
 * not fit. */
static void out_line(struct out *o, const char *line, size_t n)
{
	if (o->n + n + 2 > sizeof(o->buf))
		out_flush(o);
	if (n + 2 > sizeof(o->buf))
		return;
	memcpy(o->buf + o->n, ",\n", 2);
	memcpy(o->buf + o->n + 2, line, n);
	o->n += n + 2;
}

static void range_name(char *d, size_t len, const struct rec *r,
		       const char *path)
{
	char end[24], p[PATH_MAX + 64];

	if (r->end == INT64_MAX)
		snprintf(end, sizeof(end), "EOF");
	else
		snprintf(end, sizeof(end), "%lld", (long long)r->end);
	if (path)
		jesc(p, sizeof(p), path);
	else
		snprintf(p, sizeof(p), "%llu:%llu", (unsigned long long)r->dev,
			 (unsigned long long)r->ino);
	snprintf(d, len, "%c %lld-%s %s", r->type == LSR_WRLCK ? 'W' : 'R',
		 (long long)r->start, end, p);
}

static void range_args(char *d, size_t len, const struct rec *r,
		       const char *path)
{
	char p[PATH_MAX + 64], end[24];

	jesc(p, sizeof(p), path ? path : "");
	if (r->end == INT64_MAX)
		snprintf(end, sizeof(end), "null");
	else
		snprintf(end, sizeof(end), "%lld", (long long)r->end);
	snprintf(d, len, "\"path\":\"%s\",\"dev\":%llu,\"ino\":%llu,"
		 "\"start\":%lld,\"end\":%s,\"type\":\"%c\"", p,
		 (unsigned long long)r->dev, (unsigned long long)r->ino,
		 (long long)r->start, end, r->type == LSR_WRLCK ? 'W' : 'R');
}

static void fmt_rec(struct out *o, const struct ring *ring,
		    const struct rec *r, pid_t pid)
{
	char line[2 * PATH_MAX + 2048], name[PATH_MAX + 128];
	char args[PATH_MAX + 512];
	const char *path = path_of(r->dev, r->ino);
	unsigned long long us = r->ts / 1000;
	unsigned frac = (unsigned)(r->ts % 1000);
	int n = 0;

	switch (r->kind) {
	case TR_B:
	case TR_E: {
		/* The piece is its id. */
		uint64_t id = 1469598103934665603ull;
		uint64_t k[6] = {(uint64_t)pid, r->dev, r->ino,
				 (uint64_t)r->start, (uint64_t)r->end,
				 r->type};

		for (int i = 0; i < 6; i++)
			id = (id ^ k[i]) * 1099511628211ull;
		range_name(name, sizeof(name), r, path);
		range_args(args, sizeof(args), r, path);
		n = snprintf(line, sizeof(line),
			     "{\"name\":\"%s\",\"cat\":\"lock\",\"ph\":\"%c\","
			     "\"id\":\"0x%llx\",\"pid\":%d,\"tid\":%d,"
			     "\"ts\":%llu.%03u,\"args\":{%s}}", name,
			     r->kind == TR_B ? 'b' : 'e',
			     (unsigned long long)id, (int)pid, (int)r->tid, us,
			     frac, args);
		break;
	}
	case TR_WAIT: {
		const char *res = r->res ? strerrorname_np(r->res) : NULL;

		range_name(name, sizeof(name), r, path);
		range_args(args, sizeof(args), r, path);
		n = snprintf(line, sizeof(line),
			     "{\"name\":\"wait %s\",\"cat\":\"wait\","
			     "\"ph\":\"X\",\"pid\":%d,\"tid\":%d,"
			     "\"ts\":%llu.%03u,\"dur\":%llu.%03u,\"args\":{%s,"
			     "\"fd\":%d,\"result\":\"%s\"}}", name, (int)pid,
			     (int)r->tid, us, frac,
			     (unsigned long long)(r->dur / 1000),
			     (unsigned)(r->dur % 1000), args, r->fd,
			     r->res ? (res ? res : "error") : "granted");
		break;
	}
	case TR_INSTANT:
		if (r->text + r->tlen > ring->tlen)
			return;
		n = snprintf(line, sizeof(line),
			     "{\"name\":\"%s\",\"cat\":\"loss\",\"ph\":\"i\","
			     "\"s\":\"t\",\"pid\":%d,\"tid\":%d,"
			     "\"ts\":%llu.%03u,\"args\":{%s}}",
			     ring->text + r->text, (int)pid, (int)r->tid, us,
			     frac,
			     ring->text + r->text + strlen(ring->text +
							   r->text) + 1);
		break;
	}
	if (n > 0 && (size_t)n < sizeof(line))
		out_line(o, line, (size_t)n);
}

static void meta(struct out *o, const struct ring *r, pid_t pid)
{
	char line[1400], comm[64], exe[1024], qc[160], qe[1100], qt[40];
	int n;

	if (!atomic_exchange(&meta_done, 1)) {
		log_program(comm, sizeof(comm), exe, sizeof(exe));
		jesc(qc, sizeof(qc), comm);
		jesc(qe, sizeof(qe), exe);
		n = snprintf(line, sizeof(line),
			     "{\"name\":\"process_name\",\"ph\":\"M\","
			     "\"pid\":%d,\"tid\":%d,\"args\":{\"name\":"
			     "\"%s %d (%s)\"}}", (int)pid, (int)pid, qc,
			     (int)pid, qe);
		if (n > 0 && (size_t)n < sizeof(line))
			out_line(o, line, (size_t)n);
	}
	if (r->tname[0] && atomic_load(&r->owner)) {
		jesc(qt, sizeof(qt), r->tname);
		n = snprintf(line, sizeof(line),
			     "{\"name\":\"thread_name\",\"ph\":\"M\","
			     "\"pid\":%d,\"tid\":%d,\"args\":{\"name\":"
			     "\"%s\"}}", (int)pid, atomic_load(&r->owner), qt);
		if (n > 0 && (size_t)n < sizeof(line))
			out_line(o, line, (size_t)n);
	}
}

/* r taken. */
static void ring_write(struct ring *r)
{
	struct out o;
	pid_t pid = getpid();

	if (!r->n)
		return;
	o.fd = trace_fd();
	o.n = 0;
	if (o.fd >= 0) {
		meta(&o, r, pid);
		for (unsigned i = 0; i < r->n; i++)
			fmt_rec(&o, r, &r->rec[i], pid);
		out_flush(&o);
	}
	r->n = 0;
	r->tlen = 0;
}

/* At a point where nothing of ours is held: this thread's ring, when it
 * is three quarters full. */
static void maybe_write(void)
{
	struct ring *r = mine;

	if (r && r->n >= RING_N * 3 / 4 && ring_take(r)) {
		ring_write(r);
		ring_give(r);
	}
}

void trace_flush(void)
{
	int saved = errno;
	long d;

	if (!trace_active())
		return;
	for (struct ring *r = atomic_load(&rings); r; r = r->next)
		if (ring_take(r)) {
			ring_write(r);
			ring_give(r);
		}
	d = atomic_exchange(&dropped, 0);
	if (d) {
		char line[160];
		struct out o = {.fd = trace_fd()};
		int n = snprintf(line, sizeof(line),
				 "{\"name\":\"lockspace-dropped\",\"ph\":\"M\","
				 "\"pid\":%d,\"tid\":0,\"args\":{\"records\":"
				 "%ld}}", (int)getpid(), d);

		if (o.fd >= 0 && n > 0) {
			out_line(&o, line, (size_t)n);
			out_flush(&o);
		}
	}
	errno = saved;
}

/* Last of the destructors (observe.c's finds the unseen losses first). */
__attribute__((destructor(101))) static void trace_fini(void)
{
	trace_flush();
}

CHILD_CODE void trace_atfork_child(void)
{
	for (struct ring *r = atomic_load(&rings); r; r = r->next) {
		r->n = 0;
		r->tlen = 0;
		atomic_store(&r->busy, 0);
		atomic_store(&r->owner, r == mine ? (int)my_tid() : 0);
	}
	if (atomic_load(&meta_done))
		atomic_store(&meta_done, 0);
	if (atomic_load(&dropped))
		atomic_store(&dropped, 0);
}

/* ---- the events ------------------------------------------------------------------- */

struct piece {
	int64_t s, e;
	int type;
};

struct snap {
	struct piece p[PIECES_MAX];
	int n;
};

static int snap_step(void *arg, int64_t s, int64_t e, int type)
{
	struct snap *sn = arg;

	if (sn->n < PIECES_MAX)
		sn->p[sn->n++] = (struct piece){s, e, type};
	return 0;
}

static int has(const struct snap *sn, const struct piece *p)
{
	for (int i = 0; i < sn->n; i++)
		if (sn->p[i].s == p->s && sn->p[i].e == p->e &&
		    sn->p[i].type == p->type)
			return 1;
	return 0;
}

static void span(const struct ls_file *f, const struct piece *p, int kind)
{
	struct ring *r;
	struct rec *x = rec_new(&r);

	if (!x)
		return;
	x->kind = (uint8_t)kind;
	x->dev = (uint64_t)f->t.key.dev;
	x->ino = (uint64_t)f->t.key.ino;
	x->start = p->s;
	x->end = p->e;
	x->type = (uint8_t)p->type;
	rec_done(r);
}

void trace_change(struct ls_file *f, int64_t start, int64_t end,
		  trace_apply_fn apply, void *arg)
{
	struct snap before = {.n = 0}, after = {.n = 0};
	int64_t ws = start > 0 ? start - 1 : 0;
	int64_t we = end < INT64_MAX ? end + 1 : end;
	int saved = errno;

	/* A piece that touches the range may merge with it. */
	lsr_set_visit(&f->t.map, ws, we, snap_step, &before);
	apply(f, arg);
	lsr_set_visit(&f->t.map, ws, we, snap_step, &after);
	path_add((uint64_t)f->t.key.dev, (uint64_t)f->t.key.ino,
		 f->anchor >= 0 ? f->anchor : f->ofds ? f->ofds->fd : -1);
	for (int i = 0; i < before.n; i++)
		if (!has(&after, &before.p[i]))
			span(f, &before.p[i], TR_E);
	for (int i = 0; i < after.n; i++)
		if (!has(&before, &after.p[i]))
			span(f, &after.p[i], TR_B);
	errno = saved;
}

/* The range of a request, resolved as the kernel does (for the record:
 * the call itself resolves its own). */
static void req_range(int fd, const struct flock *fl, int64_t *s, int64_t *e)
{
	int64_t base = 0, start, len = fl->l_len;
	struct stat st;

	if (fl->l_whence == SEEK_CUR)
		base = lseek(fd, 0, SEEK_CUR);
	else if (fl->l_whence == SEEK_END && fstat(fd, &st) == 0)
		base = st.st_size;
	start = base + fl->l_start;
	if (len > 0) {
		*s = start;
		*e = start + len - 1;
	} else if (len < 0) {
		*s = start + len;
		*e = start - 1;
	} else {
		*s = start;
		*e = INT64_MAX;
	}
}

/*
 * An F_SETLKW is tried as F_SETLK first, while tracing: granted, it did
 * not wait (the same answer, without a wait); refused for a conflict
 * (EAGAIN), it is made as asked and recorded as a wait. Every other
 * answer of F_SETLK is F_SETLKW's too (EINTR and EDEADLK come only from
 * a wait). Cancellation stays: F_SETLKW is a cancellation point.
 */
int trace_lockcmd(int fd, int cmd, struct flock *ufl)
{
	struct flock fl, try;
	struct ring *r;
	struct rec *x;
	struct stat st;
	uint64_t t0;
	int res, err;

	if (cmd != F_SETLKW || uaccess_copy_in(&fl, ufl, sizeof(fl)) < 0 ||
	    (fl.l_type != F_RDLCK && fl.l_type != F_WRLCK)) {
		res = lockcmd(fd, cmd, ufl);
		err = errno;
		maybe_write();
		errno = err;
		return res;
	}
	pthread_testcancel();
	t0 = now_ns();
	try = fl;
	res = lockcmd(fd, F_SETLK, &try);
	if (res == 0 || (errno != EAGAIN && errno != EACCES)) {
		err = errno;
		maybe_write();
		errno = err;
		return res;
	}
	res = lockcmd(fd, F_SETLKW, ufl);
	err = res < 0 ? errno : 0;
	if (fstat(fd, &st) == 0) {
		path_add((uint64_t)st.st_dev, (uint64_t)st.st_ino, fd);
		x = rec_new(&r);
		if (x) {
			x->kind = TR_WAIT;
			x->ts = t0;
			x->dur = now_ns() - t0;
			x->dev = (uint64_t)st.st_dev;
			x->ino = (uint64_t)st.st_ino;
			req_range(fd, &fl, &x->start, &x->end);
			x->type = fl.l_type == F_WRLCK ? LSR_WRLCK : LSR_RDLCK;
			x->fd = (int16_t)fd;
			x->res = err;
			rec_done(r);
		}
	}
	maybe_write();
	errno = err;
	return res;
}

/* "name\0{args}" appended to the ring's text. r taken. */
static int put_text(struct ring *r, struct rec *x, const char *name,
		    const char *args)
{
	size_t a = strlen(name) + 1, b = strlen(args) + 1;

	if (r->tlen + a + b > RING_TEXT)
		return -1;
	x->text = r->tlen;
	x->tlen = (uint32_t)(a + b);
	memcpy(r->text + r->tlen, name, a);
	memcpy(r->text + r->tlen + a, args, b);
	r->tlen += (unsigned)(a + b);
	return 0;
}

/* A logfmt value (maybe quoted) as the inside of a JSON string. */
static void unquote(char *d, size_t len, const char *v)
{
	char tmp[LOG_BT_MAX + 64];
	size_t n = 0;

	if (*v == '"') {
		for (v++; *v && *v != '"' && n + 1 < sizeof(tmp); v++) {
			if (*v == '\\' && v[1])
				v++;
			tmp[n++] = *v;
		}
		tmp[n] = 0;
		v = tmp;
	}
	jesc(d, len, v);
}

void trace_loss(const struct loss *l, const char *event, const char *lost,
		const char *caller, int may_flush)
{
	char p[1100], c[LOG_BT_MAX + 64], lo[1100];
	char args[sizeof(p) + sizeof(c) + sizeof(lo) + 256];
	struct ring *r;
	struct rec *x;
	int saved = errno;

	unquote(p, sizeof(p), l->path[0] ? l->path : "?");
	unquote(c, sizeof(c), caller);
	jesc(lo, sizeof(lo), lost);
	snprintf(args, sizeof(args),
		 "\"path\":\"%s\",\"dev\":%llu,\"ino\":%llu,\"fd\":%d,"
		 "\"func\":\"%s\",\"lost\":\"%s\",\"caller\":\"%s\"", p,
		 (unsigned long long)l->dev, (unsigned long long)l->ino,
		 l->fd, l->func ? l->func : "?", lo, c);
	x = rec_new(&r);
	if (x) {
		x->kind = TR_INSTANT;
		x->dev = (uint64_t)l->dev;
		x->ino = (uint64_t)l->ino;
		if (put_text(r, x, event, args) == 0) {
			rec_done(r);
		} else {
			ring_give(r);
			atomic_fetch_add(&dropped, 1);
		}
	}
	if (may_flush)
		maybe_write();
	errno = saved;
}
