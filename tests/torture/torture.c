/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* tests/torture/torture.c: randomized lock torture with the kernel as
 * judge (issue 8, part 2). A standalone program ("an unmodified program":
 * no header of ours), run plain or under the shim.
 *
 *   torture [--seed N] [--seconds N] [--procs N] [--threads N]
 *           [--files N] [--expect-loss] [--no-fork] [--fork-rate PCT]
 *           [--kept N] [--dir DIR] [--verbose]
 *
 * The controller (this process) starts --procs workers (fork + exec of
 * itself). Each worker runs --threads threads that do random open, fopen,
 * dup, F_DUPFD_CLOEXEC, F_SETLK, F_SETLKW (with a per-thread timer, so a
 * wait ends with EINTR), unlock, close, fclose, dup2 over a descriptor and
 * fork on --files small files, and keeps a model of what the process
 * should hold under the contract of DESIGN.md:
 *   - per file, the type of each byte (process-wide, the latest request
 *     sets it);
 *   - per open file description (holder), the bytes it holds; a byte is
 *     locked while any holder holds it;
 *   - an unlock through any descriptor releases the bytes for every holder;
 *     the last close of a holder releases what only it held; exec closes
 *     the close-on-exec descriptors first.
 * Bytes 0..62 are cells 0..62; cell 63 is [63, EOF] (l_len 0 runs there).
 *
 * Now and then the controller pauses every worker (a pipe protocol: each
 * thread parks between operations; a F_SETLKW in progress ends within its
 * timer), reads each worker's model, and compares it with the kernel: the
 * "lock:" lines of /proc/PID/fdinfo/FD over every descriptor of the
 * worker (POSIX locks of that pid, and OFD locks, which is what the shim's
 * anchors hold). Lost: the model holds a byte the kernel does not (or with
 * another type); phantom: the kernel holds a byte the model does not.
 * Descriptors in /proc/PID/fd must be the model's, the worker's own pipes
 * and stdio, and at most one other per file (the shim's anchor), and that
 * only while the file has a held byte or an open descriptor that locked.
 * At some pauses a worker execs itself, handing its model over in argv;
 * the locks taken through descriptors that survive must survive.
 *
 * Every call runs outside the worker's mutex. Concurrent lock calls of
 * one process run on disjoint byte ranges (a reservation per call), and a
 * close (or dup2 over a descriptor) that is its holder's last reserves
 * what it frees, so their order cannot change the result: the model
 * stays exact without serializing the shim. A descriptor in a lock call
 * or being dup'ed is not closed meanwhile, one being closed is not used.
 *
 * --kept N: the shim runs with backend = posix, whose deferred closes
 * keep descriptors of a file while it holds a byte: up to N other
 * descriptors of such a file are allowed, and none once it holds
 * nothing. (Its locks are free for a moment at a dup2 over a descriptor
 * of their file: with other processes, or fork children probing, that
 * moment is seen as a lost lock; run it with --procs 1 --no-fork.)
 *
 * --no-fork leaves out fork: its child asks F_GETLK, for which the shim
 * searches /proc with malloc, and a fork child of a threaded program may
 * only do that with a fork-safe allocator (glibc's is; AddressSanitizer's
 * deadlocks there). --fork-rate PCT adds forks, PCT in a hundred
 * operations, on top of the usual one: each fork child probes every held
 * byte, so this hunts for moments where the kernel holds less than the
 * process.
 *
 * Exit 0: no lost lock, no phantom, no leak, no hang (with --expect-loss:
 * no phantom and at least one lost lock, i.e. a plain run shows that the
 * checker sees a loss). Exit 1: a check failed; 2: a hang (watchdog);
 * 3: usage or setup. The seed is printed first; --seed N repeats the
 * operation streams (thread interleavings differ).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CELLS 64
#define MAXFILES 8
#define MAXFDS 12
#define MAXTHREADS 16
#define MAXHOLDERS 64
#define MAXRES MAXTHREADS

static uint64_t rng_next(uint64_t *s)
{
	/* splitmix64 */
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static unsigned rnd(uint64_t *s, unsigned n)
{
	return (unsigned)(rng_next(s) % n);
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000;
}

static char g_dir[256];
static int g_nfiles = 3;

static void file_path(int i, char *buf, size_t len)
{
	snprintf(buf, len, "%s/f%d", g_dir, i);
}

/* ---- the worker's model -------------------------------------------- */

struct holder {
	int used;
	int file;
	int acc;	/* O_RDONLY, O_WRONLY, O_RDWR */
	int nfds;	/* descriptors of the process that share it */
	int locked;	/* a lock call went through it */
	uint64_t held;
};

struct fdent {
	int used;
	int fd;
	int holder;
	int cloexec;
	int busy;	/* lock calls and dups through it outside the mutex */
	int closing;	/* a close or a dup2 over it runs outside the mutex */
	FILE *fp;
};

struct pfile {
	uint64_t rd, wr;	/* invariant: disjoint, union of held */
	int going;		/* a holder's last close runs */
};

struct resv {
	int used, file;
	uint64_t mask;
};

static struct {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct holder h[MAXHOLDERS];
	struct fdent f[MAXFDS];
	struct pfile file[MAXFILES];
	struct resv res[MAXRES];
	int pausing, parked, nthreads, stop, nthr;
	int cin, cout;	/* pipes from and to the controller */
	int id, gen;
	uint64_t seed;
	long ops, eintr, eagain, edeadlk, ebadf;
	int exact;	/* under the shim in protect: the model is the truth */
} W = { .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER };

static void die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "torture[%d]: ", (int)getpid());
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (seed %" PRIu64 ")\n", W.seed);
	_exit(1);
}

static int holder_new(int file, int acc)
{
	for (int i = 0; i < MAXHOLDERS; i++)
		if (!W.h[i].used) {
			W.h[i] = (struct holder){ .used = 1, .file = file,
						  .acc = acc };
			return i;
		}
	return -1;
}

static int fd_slot(void)
{
	for (int i = 0; i < MAXFDS; i++)
		if (!W.f[i].used)
			return i;
	return -1;
}

static int fd_count(void)
{
	int n = 0;

	for (int i = 0; i < MAXFDS; i++)
		n += W.f[i].used;
	return n;
}

static void model_lock(int h, uint64_t m, int type)
{
	struct pfile *pf = &W.file[W.h[h].file];

	if (type == F_UNLCK) {
		pf->rd &= ~m;
		pf->wr &= ~m;
		for (int i = 0; i < MAXHOLDERS; i++)
			if (W.h[i].used && W.h[i].file == W.h[h].file)
				W.h[i].held &= ~m;
		return;
	}
	if (type == F_RDLCK) {
		pf->rd |= m;
		pf->wr &= ~m;
	} else {
		pf->wr |= m;
		pf->rd &= ~m;
	}
	W.h[h].held |= m;
}

/* What the other holders of h's file hold. */
static uint64_t held_by_others(int h)
{
	uint64_t other = 0;

	for (int i = 0; i < MAXHOLDERS; i++)
		if (i != h && W.h[i].used && W.h[i].file == W.h[h].file)
			other |= W.h[i].held;
	return other;
}

/* Holder h has no descriptor left: what only it held is free. */
static void model_release(int h)
{
	struct pfile *pf = &W.file[W.h[h].file];
	uint64_t other = held_by_others(h);

	pf->rd &= other;
	pf->wr &= other;
	W.h[h].used = 0;
}

/* A descriptor of holder h is gone. */
static void model_fd_gone(int h)
{
	if (--W.h[h].nfds == 0)
		model_release(h);
}

/* The last operations of the process, for the report of a fork child
 * that sees a gap: which calls ran around the byte, in which order. Each
 * is written under W.mu, a lock call twice (as it starts and as it ends,
 * with the result). */
struct ev {
	long seq;
	char op;	/* o open, d dup, c close, 2 dup2, L lock, l done, f fork */
	signed char thr, cmd, type;
	int fd, fd2, holder, file, r;
	uint64_t m;
};
#define NEV 256
static struct ev g_ev[NEV];
static long g_nev;
static __thread int t_idx;

static void ev_add(char op, int fd, int fd2, int holder, int file, int cmd,
		   int type, uint64_t m, int r)
{
	g_ev[g_nev % NEV] = (struct ev){ g_nev, op, (signed char)t_idx,
					 (signed char)cmd, (signed char)type,
					 fd, fd2, holder, file, r, m };
	g_nev++;
}

static void ev_dump(int file)
{
	long first = g_nev > NEV ? g_nev - NEV : 0;

	fprintf(stderr, "torture[%d]: the last operations, for the gap on f%d "
		"(r: result or -errno; m: cells; c: descriptors left):\n",
		(int)getpid(), file);
	for (long n = first; n < g_nev; n++) {
		const struct ev *e = &g_ev[n % NEV];

		fprintf(stderr, "  #%ld t%d %c f%d fd %d", e->seq, e->thr,
			e->op, e->file, e->fd);
		if (e->op == 'd' || e->op == '2')
			fprintf(stderr, " -> %d", e->fd2);
		fprintf(stderr, " h%d", e->holder);
		if (e->op == 'L' || e->op == 'l')
			fprintf(stderr, " %s %s m %016" PRIx64,
				e->cmd == F_SETLKW ? "SETLKW" : "SETLK",
				e->type == F_UNLCK ? "U" :
				e->type == F_RDLCK ? "R" : "W", e->m);
		if (e->op != 'L')
			fprintf(stderr, " r %d", e->r);
		fprintf(stderr, "\n");
	}
	fprintf(stderr, "  model f%d: rd %016" PRIx64 " wr %016" PRIx64 "\n",
		file, W.file[file].rd, W.file[file].wr);
}

static int resv_conflict(int file, uint64_t m)
{
	for (int i = 0; i < MAXRES; i++)
		if (W.res[i].used && W.res[i].file == file &&
		    (W.res[i].mask & m))
			return 1;
	return 0;
}

static int resv_take(int file, uint64_t m)
{
	for (int i = 0; i < MAXRES; i++)
		if (!W.res[i].used) {
			W.res[i] = (struct resv){ 1, file, m };
			return i;
		}
	return -1;
}

/* A descriptor of holder h starts to go (close, or dup2 over it), outside
 * the mutex: when it is h's last, the cells only h holds are reserved,
 * for the kernel frees them during the call. One such last close per file
 * at a time: two holders' last closes together free what both held, in
 * whichever order the shim sees them. Returns the reservation (-1: none),
 * or -2 when a call in flight holds some of them (the caller does
 * something else). *last: it is h's last descriptor. */
static int going_begin(int h, int *last)
{
	struct pfile *pf = &W.file[W.h[h].file];
	uint64_t m;
	int ri = -1;

	*last = W.h[h].nfds == 1;
	if (*last) {
		if (pf->going)
			return -2;
		m = (pf->rd | pf->wr) & ~held_by_others(h);
		if (m && resv_conflict(W.h[h].file, m))
			return -2;
		if (m && (ri = resv_take(W.h[h].file, m)) < 0)
			return -2;
		pf->going = 1;
	}
	W.h[h].nfds--;
	return ri;
}

/* The descriptor is gone (with W.mu held again). */
static void going_end(int h, int last, int ri)
{
	if (ri >= 0)
		W.res[ri].used = 0;
	if (last) {
		W.file[W.h[h].file].going = 0;
		model_release(h);
	}
}

/* A random range: its flock fields and its cells. */
static uint64_t pick_range(uint64_t *s, struct flock *fl)
{
	unsigned start = rnd(s, 63), len, k = rnd(s, 10);

	memset(fl, 0, sizeof(*fl));
	fl->l_whence = SEEK_SET;
	if (k == 0) {		/* to EOF */
		fl->l_start = start;
		fl->l_len = 0;
		return ~0ULL << start;
	}
	len = 1 + rnd(s, k < 3 ? 16 : 4);
	if (start + len > 63)
		len = 63 - start;
	if (k == 1 && start >= len) {	/* negative l_len: [start-len, start) */
		fl->l_start = start;
		fl->l_len = -(off_t)len;
		return ((1ULL << len) - 1) << (start - len);
	}
	fl->l_start = start;
	fl->l_len = len;
	return ((1ULL << len) - 1) << start;
}

/* ---- worker operations ------------------------------------------------
 * Called with W.mu held; the calls themselves run without it, on
 * descriptors marked busy or closing, so that every thread of the process
 * may be inside the shim at once. A slot whose descriptor is not made yet
 * has fd -1. */

static void op_open(uint64_t *s)
{
	static const int accs[] = { O_RDONLY, O_WRONLY, O_RDWR, O_RDWR };
	int slot = fd_slot(), file = (int)rnd(s, (unsigned)g_nfiles);
	int acc = accs[rnd(s, 4)], cloexec = rnd(s, 4) == 0, h, fd;
	char path[300];
	FILE *fp = NULL;

	if (slot < 0)
		return;
	W.f[slot] = (struct fdent){ .used = 1, .fd = -1 };
	file_path(file, path, sizeof(path));
	pthread_mutex_unlock(&W.mu);
	if (rnd(s, 3) == 0) {
		static const char *const modes[] = { "r", "w", "r+" };
		char mode[8];

		snprintf(mode, sizeof(mode), "%s%s", modes[acc == O_RDONLY ? 0 :
			 acc == O_WRONLY ? 1 : 2], cloexec ? "e" : "");
		/* "w" truncates: harmless, locks do not care about size. */
		fp = fopen(path, mode);
		fd = fp ? fileno(fp) : -1;
	} else {
		fd = open(path, acc | (cloexec ? O_CLOEXEC : 0));
	}
	if (fd < 0)
		die("open %s: %s", path, strerror(errno));
	pthread_mutex_lock(&W.mu);
	h = holder_new(file, acc);
	if (h < 0)
		die("out of holders");
	W.h[h].nfds = 1;
	W.f[slot] = (struct fdent){ .used = 1, .fd = fd, .holder = h,
				    .cloexec = cloexec, .fp = fp };
	ev_add('o', fd, -1, h, file, 0, 0, 0, 0);
}

static int pick_fd(uint64_t *s, int idle)
{
	int c[MAXFDS], n = 0;

	for (int i = 0; i < MAXFDS; i++)
		if (W.f[i].used && W.f[i].fd >= 0 && !W.f[i].closing &&
		    (!idle || !W.f[i].busy))
			c[n++] = i;
	return n ? c[rnd(s, (unsigned)n)] : -1;
}

static void op_dup(uint64_t *s)
{
	int src = pick_fd(s, 0), slot = fd_slot(), fd, cloexec = 0, sfd;

	if (src < 0 || slot < 0)
		return;
	/* counted at once: a close of another descriptor of the holder
	 * meanwhile is not its last */
	W.h[W.f[src].holder].nfds++;
	W.f[slot] = (struct fdent){ .used = 1, .fd = -1 };
	W.f[src].busy++;
	sfd = W.f[src].fd;
	pthread_mutex_unlock(&W.mu);
	if (rnd(s, 2)) {
		fd = dup(sfd);
	} else {
		cloexec = 1;
		fd = fcntl(sfd, F_DUPFD_CLOEXEC, 3);
	}
	if (fd < 0)
		die("dup: %s", strerror(errno));
	pthread_mutex_lock(&W.mu);
	W.f[src].busy--;
	W.f[slot] = (struct fdent){ .used = 1, .fd = fd,
				    .holder = W.f[src].holder,
				    .cloexec = cloexec };
	ev_add('d', W.f[src].fd, fd, W.f[src].holder,
	       W.h[W.f[src].holder].file, 0, 0, 0, 0);
}

static void op_close(uint64_t *s)
{
	int i = pick_fd(s, 1), h, r, ri, last, fd;
	FILE *fp;

	if (i < 0)
		return;
	h = W.f[i].holder;
	ri = going_begin(h, &last);
	if (ri == -2)
		return;
	W.f[i].closing = 1;
	fd = W.f[i].fd;
	fp = W.f[i].fp;
	ev_add('c', fd, -1, h, W.h[h].file, 0, 0, 0, W.h[h].nfds);
	pthread_mutex_unlock(&W.mu);
	r = fp ? fclose(fp) : close(fd);
	if (r != 0)
		die("close fd %d: %s", fd, strerror(errno));
	pthread_mutex_lock(&W.mu);
	W.f[i] = (struct fdent){ 0 };
	going_end(h, last, ri);
}

/* dup2(src, dst) with dst another of our descriptors: dst is closed first,
 * its holder loses that descriptor. A stream's descriptor is never the
 * target (the FILE would close a stranger's descriptor later). */
static void op_dup2(uint64_t *s)
{
	int src = pick_fd(s, 0), dst = pick_fd(s, 1), hd, ri, last, sfd, dfd;
	int cloexec;

	if (src < 0 || dst < 0 || src == dst || W.f[dst].fp)
		return;
	if (W.f[src].holder == W.f[dst].holder)
		return;
	hd = W.f[dst].holder;
	ri = going_begin(hd, &last);
	if (ri == -2)
		return;
	W.f[dst].closing = 1;
	W.f[src].busy++;
	W.h[W.f[src].holder].nfds++;
	ev_add('2', W.f[src].fd, W.f[dst].fd, W.f[src].holder,
	       W.h[W.f[src].holder].file, 0, 0, 0, 0);
	ev_add('c', W.f[dst].fd, -1, hd, W.h[hd].file, 0, 0, 0,
	       W.h[hd].nfds);
	sfd = W.f[src].fd;
	dfd = W.f[dst].fd;
	pthread_mutex_unlock(&W.mu);
	if (rnd(s, 2)) {
		if (dup2(sfd, dfd) < 0)
			die("dup2: %s", strerror(errno));
		cloexec = 0;
	} else {
		if (dup3(sfd, dfd, O_CLOEXEC) < 0)
			die("dup3: %s", strerror(errno));
		cloexec = 1;
	}
	pthread_mutex_lock(&W.mu);
	W.f[src].busy--;
	W.f[dst].cloexec = cloexec;
	W.f[dst].closing = 0;
	W.f[dst].holder = W.f[src].holder;
	going_end(hd, last, ri);
}

/* A held byte of the parent, seen from its fork child: probed with the
 * type that any lock on it must conflict with (a write lock for a read
 * byte, a read lock for a write byte). */
static void child_probe(int fd, int file, int cell, pid_t parent)
{
	int wr = (int)(W.file[file].wr >> cell & 1);
	struct flock fl;

	memset(&fl, 0, sizeof(fl));
	fl.l_type = wr ? F_RDLCK : F_WRLCK;
	fl.l_whence = SEEK_SET;
	fl.l_start = cell;
	fl.l_len = 1;
	if (fcntl(fd, F_GETLK, &fl) < 0)
		die("child F_GETLK: %s", strerror(errno));
	if (fl.l_type == F_UNLCK) {
		ev_dump(file);
		die("fork child: F_GETLK (%s) sees no lock at byte %d of f%d "
		    "that the parent holds (%s)", wr ? "read" : "write", cell,
		    file, wr ? "write" : "read");
	}
	if (wr && (fl.l_type != F_WRLCK ||
		   (fl.l_pid != parent && fl.l_pid != -1))) {
		ev_dump(file);
		die("fork child: byte %d of f%d, write-locked by the parent "
		    "%d, has a %s lock of pid %d", cell, file, (int)parent,
		    fl.l_type == F_WRLCK ? "write" : "read", (int)fl.l_pid);
	}
}

/* fork: the child owns none of the parent's locks (it sees them as
 * another process's), closes some inherited descriptors, which must not
 * touch the parent's locks, and exits. The forking thread holds W.mu, so
 * the parent's model only changes within other threads' reservations:
 * every held byte outside them must be locked in the kernel at this very
 * moment, which the child probes (a gap that heals before the next pause
 * is seen only here). */
static void op_fork(uint64_t *s)
{
	pid_t parent = getpid(), c;
	uint64_t cs = rng_next(s);
	int st;

	ev_add('f', -1, -1, -1, -1, 0, 0, 0, 0);
	c = fork();
	if (c < 0)
		return;
	if (c == 0) {
		int probed[MAXFILES] = { 0 };

		for (int i = 0; i < MAXFDS; i++) {
			int file;
			uint64_t m;

			/* a descriptor made or going meanwhile: the
			 * child's copy may be either */
			if (!W.f[i].used || W.f[i].fd < 0 || W.f[i].closing)
				continue;
			file = W.h[W.f[i].holder].file;
			m = W.file[file].rd | W.file[file].wr;
			for (int r = 0; r < MAXRES; r++)
				if (W.res[r].used && W.res[r].file == file)
					m &= ~W.res[r].mask;
			if (W.exact && !probed[file]) {
				probed[file] = 1;
				for (; m; m &= m - 1)
					child_probe(W.f[i].fd, file,
						    __builtin_ctzll(m), parent);
			}
			if (rnd(&cs, 2)) {
				if (W.f[i].fp)
					fclose(W.f[i].fp);
				else
					close(W.f[i].fd);
			}
		}
		_exit(0);
	}
	while (waitpid(c, &st, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(st) || WEXITSTATUS(st))
		die("fork child failed (status %#x)", st);
}

/* Workers: fork at all (--no-fork), and how many more forks, in percent
 * of operations (--fork-rate), from the environment. */
static int g_fork = 1;
static unsigned g_fork_extra;

static __thread timer_t t_timer;
static __thread int t_has_timer;

static void on_alarm(int sig)
{
	(void)sig;
}

/* A lock call through a descriptor, outside W.mu, over a reserved range.
 * Called and returns with W.mu held. */
static void op_lock(uint64_t *s, int cmd, int type)
{
	int i = pick_fd(s, 1), h, r, e, ri, bad;
	struct flock fl;
	uint64_t m;

	if (i < 0)
		return;
	h = W.f[i].holder;
	m = pick_range(s, &fl);
	fl.l_type = (short)type;
	if (resv_conflict(W.h[h].file, m))
		return;
	ri = resv_take(W.h[h].file, m);
	if (ri < 0)
		return;
	W.f[i].busy++;
	bad = (type == F_RDLCK && W.h[h].acc == O_WRONLY) ||
	      (type == F_WRLCK && W.h[h].acc == O_RDONLY);
	W.h[h].locked = 1;
	ev_add('L', W.f[i].fd, -1, h, W.h[h].file, cmd, type, m, 0);
	pthread_mutex_unlock(&W.mu);

	if (cmd == F_SETLKW) {
		/* Periodic: a signal that lands before the call blocks
		 * (in the shim or in libc) must not leave it waiting. */
		struct itimerspec its = {
			.it_value = { 0, (long)(10 + rnd(s, 140)) * 1000000L },
			.it_interval = { 0, 20 * 1000000L } };
		sigset_t ss;

		sigemptyset(&ss);
		sigaddset(&ss, SIGALRM);
		timer_settime(t_timer, 0, &its, NULL);
		pthread_sigmask(SIG_UNBLOCK, &ss, NULL);
		r = fcntl(W.f[i].fd, cmd, &fl);
		e = errno;
		pthread_sigmask(SIG_BLOCK, &ss, NULL);
		memset(&its, 0, sizeof(its));
		timer_settime(t_timer, 0, &its, NULL);
		{
			struct timespec z = { 0, 0 };

			while (sigtimedwait(&ss, NULL, &z) > 0)
				;
		}
	} else {
		r = fcntl(W.f[i].fd, cmd, &fl);
		e = errno;
	}

	pthread_mutex_lock(&W.mu);
	W.res[ri].used = 0;
	W.f[i].busy--;
	W.ops++;
	ev_add('l', W.f[i].fd, -1, h, W.h[h].file, cmd, type, m,
	       r == 0 ? 0 : -e);
	if (r == 0) {
		if (bad)
			die("lock type %d through fd %d opened %d succeeded",
			    type, W.f[i].fd, W.h[h].acc);
		model_lock(h, m, type);
		return;
	}
	if (e == EBADF && bad) {
		W.ebadf++;
		return;
	}
	if (type != F_UNLCK && (e == EAGAIN || e == EACCES) &&
	    cmd == F_SETLK) {
		W.eagain++;
		return;
	}
	if (type != F_UNLCK && e == EINTR && cmd == F_SETLKW) {
		W.eintr++;
		return;
	}
	if (type != F_UNLCK && e == EDEADLK && cmd == F_SETLKW) {
		W.edeadlk++;
		return;
	}
	die("fcntl(fd %d, %s, %s %lld %lld): %s", W.f[i].fd,
	    cmd == F_SETLK ? "F_SETLK" : "F_SETLKW",
	    type == F_UNLCK ? "U" : type == F_RDLCK ? "R" : "W",
	    (long long)fl.l_start, (long long)fl.l_len, strerror(e));
}

static void park(void)
{
	W.parked++;
	pthread_cond_broadcast(&W.cv);
	while (W.pausing && !W.stop)
		pthread_cond_wait(&W.cv, &W.mu);
	W.parked--;
}

static void *worker_thread(void *arg)
{
	uint64_t s = (uint64_t)(uintptr_t)arg;
	struct sigevent sev;

	memset(&sev, 0, sizeof(sev));
	sev.sigev_notify = SIGEV_THREAD_ID;
	sev.sigev_signo = SIGALRM;
	sev._sigev_un._tid = (pid_t)syscall(SYS_gettid);
	if (timer_create(CLOCK_MONOTONIC, &sev, &t_timer) < 0)
		die("timer_create: %s", strerror(errno));
	t_has_timer = 1;
	pthread_mutex_lock(&W.mu);
	t_idx = W.nthr++;
	while (!W.stop) {
		unsigned k = rnd(&s, 100);

		if (W.pausing) {
			park();
			continue;
		}
		if (g_fork_extra && g_fork && rnd(&s, 100) < g_fork_extra) {
			op_fork(&s);
			continue;
		}
		if (k < 12 && fd_count() < MAXFDS)
			op_open(&s);
		else if (k < 18)
			op_dup(&s);
		else if (k < 42)
			op_lock(&s, F_SETLK, rnd(&s, 2) ? F_RDLCK : F_WRLCK);
		else if (k < 54)
			op_lock(&s, F_SETLKW, rnd(&s, 2) ? F_RDLCK : F_WRLCK);
		else if (k < 68)
			op_lock(&s, F_SETLK, F_UNLCK);
		else if (k < 80 && fd_count() > 2)
			op_close(&s);
		else if (k < 85)
			op_dup2(&s);
		else if (k < 86 && g_fork)
			op_fork(&s);
		else {
			/* let the others in */
			pthread_mutex_unlock(&W.mu);
			sched_yield();
			pthread_mutex_lock(&W.mu);
		}
	}
	W.parked++;
	pthread_cond_broadcast(&W.cv);
	pthread_mutex_unlock(&W.mu);
	return NULL;
}

/* ---- worker: the control protocol and exec ----------------------------- */

static void send_str(const char *str)
{
	size_t len = strlen(str), off = 0;

	while (off < len) {
		ssize_t n = write(W.cout, str + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			_exit(1);
		off += (size_t)n;
	}
}

/* The model, one line each: "file I RD WR", "fd FD FILE LOCKED", then
 * "end". LOCKED: its holder took a lock (the anchor may live on). */
static void send_model(void)
{
	char buf[256];

	for (int i = 0; i < g_nfiles; i++) {
		int locked = 0;

		for (int j = 0; j < MAXHOLDERS; j++)
			if (W.h[j].used && W.h[j].file == i && W.h[j].locked)
				locked = 1;
		snprintf(buf, sizeof(buf), "file %d %" PRIx64 " %" PRIx64
			 " %d\n", i, W.file[i].rd, W.file[i].wr, locked);
		send_str(buf);
	}
	for (int i = 0; i < MAXFDS; i++)
		if (W.f[i].used) {
			snprintf(buf, sizeof(buf), "fd %d %d\n", W.f[i].fd,
				 W.h[W.f[i].holder].file);
			send_str(buf);
		}
	snprintf(buf, sizeof(buf), "stats %ld %ld %ld %ld %ld\nend\n", W.ops,
		 W.eagain, W.eintr, W.edeadlk, W.ebadf);
	send_str(buf);
}

static int read_cmd(void)
{
	char c;
	ssize_t n;

	do
		n = read(W.cin, &c, 1);
	while (n < 0 && errno == EINTR);
	return n == 1 ? c : -1;
}

/* The state for the next image: close-on-exec descriptors are gone at
 * exec (their holders may lose their last one), the rest survive with
 * their holders. FILE streams do not survive: their descriptors do. */
static char *encode_state(void)
{
	size_t cap = 16384, len = 0;
	char *b = malloc(cap);

	if (!b)
		die("malloc");
	for (int i = 0; i < MAXFDS; i++)
		if (W.f[i].used && W.f[i].cloexec) {
			W.f[i].used = 0;
			model_fd_gone(W.f[i].holder);
		}
	len += (size_t)snprintf(b + len, cap - len, "%d,%d,%" PRIu64 ",%ld,%ld,"
				"%ld,%ld,%ld", W.id, W.gen + 1, W.seed,
				W.ops, W.eagain, W.eintr, W.edeadlk, W.ebadf);
	for (int i = 0; i < g_nfiles; i++)
		len += (size_t)snprintf(b + len, cap - len,
					";F%" PRIx64 ",%" PRIx64,
					W.file[i].rd, W.file[i].wr);
	for (int i = 0; i < MAXHOLDERS; i++)
		if (W.h[i].used)
			len += (size_t)snprintf(b + len, cap - len,
						";H%d,%d,%d,%d,%d,%" PRIx64, i,
						W.h[i].file, W.h[i].acc,
						W.h[i].nfds, W.h[i].locked,
						W.h[i].held);
	for (int i = 0; i < MAXFDS; i++)
		if (W.f[i].used)
			len += (size_t)snprintf(b + len, cap - len,
						";D%d,%d", W.f[i].fd,
						W.f[i].holder);
	return b;
}

static void decode_state(char *st)
{
	char *tok, *save = NULL;
	int nf = 0, slot = 0;

	tok = strtok_r(st, ";", &save);
	if (!tok || sscanf(tok, "%d,%d,%" SCNu64 ",%ld,%ld,%ld,%ld,%ld",
			   &W.id, &W.gen, &W.seed, &W.ops, &W.eagain,
			   &W.eintr, &W.edeadlk, &W.ebadf) != 8)
		die("bad state");
	while ((tok = strtok_r(NULL, ";", &save))) {
		if (tok[0] == 'F' && nf < MAXFILES) {
			sscanf(tok + 1, "%" SCNx64 ",%" SCNx64,
			       &W.file[nf].rd, &W.file[nf].wr);
			nf++;
		} else if (tok[0] == 'H') {
			int i, file, acc, nfds, locked;
			uint64_t held;

			if (sscanf(tok + 1, "%d,%d,%d,%d,%d,%" SCNx64, &i,
				   &file, &acc, &nfds, &locked, &held) != 6 ||
			    i < 0 || i >= MAXHOLDERS)
				die("bad holder");
			W.h[i] = (struct holder){ 1, file, acc, nfds, locked,
						  held };
		} else if (tok[0] == 'D' && slot < MAXFDS) {
			int fd, h;

			if (sscanf(tok + 1, "%d,%d", &fd, &h) != 2)
				die("bad fd");
			W.f[slot++] = (struct fdent){ .used = 1, .fd = fd,
						      .holder = h };
		}
	}
}

static int worker_main(int argc, char **argv)
{
	pthread_t th[MAXTHREADS];
	struct sigaction sa;
	sigset_t ss;
	int c;

	/* --worker DIR NFILES NTHREADS CIN COUT STATE */
	if (argc < 8)
		return 3;
	snprintf(g_dir, sizeof(g_dir), "%s", argv[2]);
	g_nfiles = atoi(argv[3]);
	W.nthreads = atoi(argv[4]);
	W.cin = atoi(argv[5]);
	W.cout = atoi(argv[6]);
	decode_state(argv[7]);
	g_fork = !getenv("TORTURE_NO_FORK");
	if (getenv("TORTURE_FORK_RATE"))
		g_fork_extra = (unsigned)atoi(getenv("TORTURE_FORK_RATE"));
	{
		const char *pre = getenv("LD_PRELOAD");
		const char *mode = getenv("LOCKSPACE_PRELOAD_MODE");

		W.exact = pre && strstr(pre, "lockspace-preload") &&
			  !(mode && strcmp(mode, "protect"));
	}

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;	/* no SA_RESTART: F_SETLKW gets EINTR */
	sigaction(SIGALRM, &sa, NULL);
	sigemptyset(&ss);
	sigaddset(&ss, SIGALRM);
	pthread_sigmask(SIG_BLOCK, &ss, NULL);
	signal(SIGPIPE, SIG_IGN);

	/* Paused until the controller says go: it checks the handed-over
	 * state first. */
	W.pausing = 1;
	for (int t = 0; t < W.nthreads; t++) {
		uint64_t s = W.seed ^ ((uint64_t)W.id << 48) ^
			     ((uint64_t)W.gen << 32) ^ ((uint64_t)t << 24);

		rng_next(&s);
		if (pthread_create(&th[t], NULL, worker_thread,
				   (void *)(uintptr_t)s))
			die("pthread_create");
	}
	pthread_mutex_lock(&W.mu);
	for (;;) {
		while (W.parked < W.nthreads)
			pthread_cond_wait(&W.cv, &W.mu);
		send_model();
		pthread_mutex_unlock(&W.mu);
		c = read_cmd();
		pthread_mutex_lock(&W.mu);
		if (c == 'R') {
			W.pausing = 0;
			pthread_cond_broadcast(&W.cv);
			pthread_mutex_unlock(&W.mu);
			c = read_cmd();
			pthread_mutex_lock(&W.mu);
			W.pausing = 1;
			if (c == 'P')
				continue;
		}
		if (c == 'E') {
			char *st = encode_state(), a3[16], a4[16], a5[16],
			     a6[16];
			char *args[] = { argv[0], "--worker", g_dir, a3, a4,
					 a5, a6, st, NULL };

			snprintf(a3, sizeof(a3), "%d", g_nfiles);
			snprintf(a4, sizeof(a4), "%d", W.nthreads);
			snprintf(a5, sizeof(a5), "%d", W.cin);
			snprintf(a6, sizeof(a6), "%d", W.cout);
			execv("/proc/self/exe", args);
			die("exec: %s", strerror(errno));
		}
		/* 'Q', EOF, anything else: stop. */
		W.stop = 1;
		pthread_cond_broadcast(&W.cv);
		pthread_mutex_unlock(&W.mu);
		for (int t = 0; t < W.nthreads; t++)
			pthread_join(th[t], NULL);
		_exit(0);
	}
}

/* ---- the controller and checker ----------------------------------------- */

struct wk {
	pid_t pid;
	int to, from;	/* our ends */
	int wcin, wcout;	/* its ends, as numbers in the worker */
	char buf[65536];
	size_t len;
	uint64_t rd[MAXFILES], wr[MAXFILES];
	int locked[MAXFILES];
	int fds[MAXFDS * 2], fdfile[MAXFDS * 2], nfds;
	long stats[5];
};

static uint64_t g_seed;
static int g_procs = 3, g_threads = 4, g_verbose, g_expect_loss;
static long g_lost, g_phantom, g_leak, g_checks, g_execs;
static int g_kept; /* --kept N */

static void fail_dump(struct wk *w, int n, const char *why)
{
	fprintf(stderr, "torture: %s (seed %" PRIu64 ")\n", why, g_seed);
	for (int i = 0; i < n; i++) {
		char cmd[512];

		if (w[i].pid <= 0)
			continue;
		fprintf(stderr, "--- worker %d pid %d\n", i, (int)w[i].pid);
		snprintf(cmd, sizeof(cmd),
			 "for t in /proc/%d/task/*; do echo \"$t $(cat $t/wchan"
			 " 2>/dev/null) $(cut -d' ' -f3 $t/stat)\";"
			 " cat $t/stack 2>/dev/null | head -8; done;"
			 " grep -H . /proc/%d/fdinfo/* 2>/dev/null |"
			 " grep lock: ; ls -l /proc/%d/fd", (int)w[i].pid,
			 (int)w[i].pid, (int)w[i].pid);
		if (system(cmd) < 0)
			perror("system");
	}
	fprintf(stderr, "--- /proc/locks\n");
	if (system("head -100 /proc/locks") < 0)
		perror("system");
}

static void kill_all(struct wk *w, int n)
{
	for (int i = 0; i < n; i++)
		if (w[i].pid > 0) {
			kill(w[i].pid, SIGKILL);
			waitpid(w[i].pid, NULL, 0);
			w[i].pid = -1;
		}
}

static void send_cmd(struct wk *w, char c)
{
	if (write(w->to, &c, 1) != 1)
		fprintf(stderr, "torture: worker %d: write: %s\n",
			(int)w->pid, strerror(errno));
}

/* Reads the worker's model up to "end" within timeout_ms: 0, or -1. */
static int read_model(struct wk *w, int timeout_ms)
{
	long end = now_ms() + timeout_ms;
	char *line, *save = NULL, *e;

	w->len = 0;
	for (;;) {
		struct pollfd p = { .fd = w->from, .events = POLLIN };
		long left = end - now_ms();
		ssize_t n;

		w->buf[w->len] = 0;
		if ((e = strstr(w->buf, "end\n")) &&
		    (e == w->buf || e[-1] == '\n'))
			break;
		if (left <= 0 || poll(&p, 1, (int)left) <= 0)
			return -1;
		n = read(w->from, w->buf + w->len, sizeof(w->buf) - 1 - w->len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -2;
		w->len += (size_t)n;
	}
	w->nfds = 0;
	for (line = strtok_r(w->buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		int i, fd, f, l;
		uint64_t rd, wr;

		if (sscanf(line, "file %d %" SCNx64 " %" SCNx64 " %d", &i, &rd,
			   &wr, &l) == 4 && i >= 0 && i < MAXFILES) {
			w->rd[i] = rd;
			w->wr[i] = wr;
			w->locked[i] = l;
		} else if (sscanf(line, "fd %d %d", &fd, &f) == 2 &&
			   w->nfds < MAXFDS * 2) {
			w->fds[w->nfds] = fd;
			w->fdfile[w->nfds++] = f;
		} else {
			sscanf(line, "stats %ld %ld %ld %ld %ld", &w->stats[0],
			       &w->stats[1], &w->stats[2], &w->stats[3],
			       &w->stats[4]);
		}
	}
	return 0;
}

static int file_index(const char *target)
{
	size_t n = strlen(g_dir);

	if (strncmp(target, g_dir, n) || target[n] != '/' ||
	    target[n + 1] != 'f')
		return -1;
	return atoi(target + n + 2);
}

static uint64_t cells(long long start, const char *end)
{
	long long e = strcmp(end, "EOF") ? atoll(end) : 63;

	if (e > 63)
		e = 63;
	if (start > 63 || e < start)
		return 0;
	return (e - start == 63 ? ~0ULL : ((1ULL << (e - start + 1)) - 1))
	       << start;
}

/* Kernel locks of worker w, per file; anchors (descriptors of our files
 * that the model does not know) per file; unknown descriptors. */
static int check_worker(struct wk *w, int idx, int shim)
{
	uint64_t krd[MAXFILES] = { 0 }, kwr[MAXFILES] = { 0 };
	int anchors[MAXFILES] = { 0 }, bad = 0;
	char path[128], target[512];
	struct dirent *d;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)w->pid);
	dir = opendir(path);
	if (!dir)
		return 1;
	while ((d = readdir(dir))) {
		int fd, known = -1, fi, pfd;
		char buf[65536], *line, *save = NULL;
		size_t len = 0;
		ssize_t n;

		if (d->d_name[0] == '.')
			continue;
		fd = atoi(d->d_name);
		snprintf(path, sizeof(path), "/proc/%d/fd/%d", (int)w->pid, fd);
		n = readlink(path, target, sizeof(target) - 1);
		if (n < 0)
			continue;
		target[n] = 0;
		for (int i = 0; i < w->nfds; i++)
			if (w->fds[i] == fd)
				known = i;
		fi = file_index(target);
		if (known >= 0) {
			if (fi != w->fdfile[known]) {
				fprintf(stderr, "torture: worker %d fd %d is "
					"%s, model says f%d\n", idx, fd, target,
					w->fdfile[known]);
				g_leak++;
				bad = 1;
			}
		} else if (fd <= 2 || fd == w->wcin || fd == w->wcout) {
			continue;
		} else if (fi >= 0) {
			anchors[fi]++;
		} else {
			fprintf(stderr, "torture: worker %d: unknown fd %d -> "
				"%s\n", idx, fd, target);
			g_leak++;
			bad = 1;
		}
		if (fi < 0)
			continue;
		/* fdinfo is built in one go at open (single_open): reading
		 * it in pieces is consistent. */
		snprintf(path, sizeof(path), "/proc/%d/fdinfo/%d", (int)w->pid,
			 fd);
		pfd = open(path, O_RDONLY | O_CLOEXEC);
		if (pfd < 0)
			continue;
		while (len < sizeof(buf) - 1 &&
		       (n = read(pfd, buf + len, sizeof(buf) - 1 - len)) > 0)
			len += (size_t)n;
		close(pfd);
		buf[len] = 0;
		for (line = strtok_r(buf, "\n", &save); line;
		     line = strtok_r(NULL, "\n", &save)) {
			char kind[16], adv[16], type[16], end[32];
			long long start;
			int lpid;
			uint64_t m;

			if (strncmp(line, "lock:", 5) ||
			    sscanf(line + 5, "%*d: %15s %15s %15s %d %*s %lld "
				   "%31s", kind, adv, type, &lpid, &start,
				   end) != 6)
				continue;
			if (!strcmp(kind, "POSIX") && lpid != w->pid)
				continue;
			if (strcmp(kind, "POSIX") && strcmp(kind, "OFDLCK"))
				continue;
			m = cells(start, end);
			if (!strcmp(type, "WRITE"))
				kwr[fi] |= m;
			else
				krd[fi] |= m;
		}
	}
	closedir(dir);
	for (int f = 0; f < g_nfiles; f++) {
		uint64_t lost = (w->rd[f] & ~krd[f]) | (w->wr[f] & ~kwr[f]);
		uint64_t phantom = (krd[f] & ~w->rd[f]) | (kwr[f] & ~w->wr[f]);
		int open_fds = 0;

		for (int i = 0; i < w->nfds; i++)
			open_fds += w->fdfile[i] == f;
		if (lost) {
			g_lost++;
			if (!g_expect_loss || g_verbose)
				fprintf(stderr, "torture: LOST worker %d f%d "
					"cells %016" PRIx64 " (model r %016"
					PRIx64 " w %016" PRIx64 ", kernel r %016"
					PRIx64 " w %016" PRIx64 ")\n", idx, f,
					lost, w->rd[f], w->wr[f], krd[f],
					kwr[f]);
			bad = 1;
		}
		if (phantom) {
			g_phantom++;
			fprintf(stderr, "torture: PHANTOM worker %d f%d cells "
				"%016" PRIx64 " (model r %016" PRIx64 " w %016"
				PRIx64 ", kernel r %016" PRIx64 " w %016" PRIx64
				")\n", idx, f, phantom, w->rd[f], w->wr[f],
				krd[f], kwr[f]);
			bad = 1;
		}
		int held = !!(w->rd[f] | w->wr[f]);
		int allowed = g_kept ? (held ? g_kept : 0) : (shim ? 1 : 0);

		if (anchors[f] > allowed ||
		    (!g_kept && anchors[f] && !held &&
		     !(open_fds && w->locked[f]))) {
			g_leak++;
			fprintf(stderr, "torture: LEAK worker %d f%d: %d "
				"descriptors beyond the model (held %d, open "
				"fds %d, locked %d)\n", idx, f, anchors[f],
				!!(w->rd[f] | w->wr[f]), open_fds,
				w->locked[f]);
			bad = 1;
		}
	}
	return bad;
}

static int start_worker(struct wk *w, int idx, const char *self)
{
	int a[2], b[2];
	pid_t pid;

	if (pipe(a) < 0 || pipe(b) < 0)
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		char st[128], s3[16], s4[16], s5[16], s6[16];
		char *args[] = { (char *)self, "--worker", g_dir, s3, s4, s5,
				 s6, st, NULL };

		if (dup2(a[0], 100) < 0 || dup2(b[1], 101) < 0)
			_exit(127);
		close_range(3, 99, 0);
		close_range(102, ~0U, 0);
		snprintf(s3, sizeof(s3), "%d", g_nfiles);
		snprintf(s4, sizeof(s4), "%d", g_threads);
		snprintf(s5, sizeof(s5), "%d", 100);
		snprintf(s6, sizeof(s6), "%d", 101);
		snprintf(st, sizeof(st), "%d,0,%" PRIu64 ",0,0,0,0,0", idx,
			 g_seed);
		execv(self, args);
		_exit(127);
	}
	close(a[0]);
	close(b[1]);
	memset(w, 0, sizeof(*w));
	w->pid = pid;
	w->to = a[1];
	w->from = b[0];
	w->wcin = 100;
	w->wcout = 101;
	fcntl(w->to, F_SETFD, FD_CLOEXEC);
	fcntl(w->from, F_SETFD, FD_CLOEXEC);
	return 0;
}

/* Two workers must never both hold a conflicting byte. */
static int check_cross(struct wk *w, int n)
{
	int bad = 0;

	for (int f = 0; f < g_nfiles; f++)
		for (int i = 0; i < n; i++)
			for (int j = i + 1; j < n; j++) {
				uint64_t c = (w[i].wr[f] & (w[j].rd[f] |
							    w[j].wr[f])) |
					     (w[j].wr[f] & w[i].rd[f]);

				if (c && !g_expect_loss) {
					fprintf(stderr, "torture: CONFLICT f%d"
						" workers %d and %d cells %016"
						PRIx64 "\n", f, i, j, c);
					g_phantom++;
					bad = 1;
				}
			}
	return bad;
}

static void usage(void)
{
	fprintf(stderr, "usage: torture [--seed N] [--seconds N] [--procs N]"
		" [--threads N] [--files N] [--expect-loss] [--no-fork]"
		" [--fork-rate PCT] [--kept N] [--dir DIR] [--verbose]\n");
	exit(3);
}

int main(int argc, char **argv)
{
	const char *pre = getenv("LD_PRELOAD"), *mode;
	char self[4096], mk[300];
	struct wk *w;
	int *execd;
	uint64_t cs;
	double seconds = 10;
	long end, rounds = 0;
	int shim, bad = 0, r;
	ssize_t n;

	if (argc > 1 && !strcmp(argv[1], "--worker"))
		return worker_main(argc, argv);
	g_seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 20);
	g_dir[0] = 0;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "--expect-loss")) {
			g_expect_loss = 1;
			continue;
		}
		if (!strcmp(a, "--verbose")) {
			g_verbose = 1;
			continue;
		}
		if (!strcmp(a, "--kept") && i + 1 < argc) {
			g_kept = atoi(argv[++i]);
			continue;
		}
		if (!strcmp(a, "--no-fork")) {
			/* the workers (exec'ed) learn it from the environment */
			setenv("TORTURE_NO_FORK", "1", 1);
			continue;
		}
		if (!v)
			usage();
		i++;
		if (!strcmp(a, "--fork-rate"))
			setenv("TORTURE_FORK_RATE", v, 1);
		else if (!strcmp(a, "--seed"))
			g_seed = strtoull(v, NULL, 0);
		else if (!strcmp(a, "--seconds"))
			seconds = atof(v);
		else if (!strcmp(a, "--procs"))
			g_procs = atoi(v);
		else if (!strcmp(a, "--threads"))
			g_threads = atoi(v);
		else if (!strcmp(a, "--files"))
			g_nfiles = atoi(v);
		else if (!strcmp(a, "--dir"))
			snprintf(g_dir, sizeof(g_dir), "%s", v);
		else
			usage();
	}
	if (g_procs < 1 || g_procs > 64 || g_threads < 1 ||
	    g_threads > MAXTHREADS || g_nfiles < 1 || g_nfiles > MAXFILES)
		usage();
	mode = getenv("LOCKSPACE_PRELOAD_MODE");
	shim = pre && strstr(pre, "lockspace-preload") &&
	       !(mode && strcmp(mode, "protect"));
	printf("torture: seed %" PRIu64 " seconds %g procs %d threads %d "
	       "files %d shim %s%s\n", g_seed, seconds, g_procs, g_threads,
	       g_nfiles, pre && strstr(pre, "lockspace-preload") ?
	       (mode ? mode : "protect") : "no",
	       g_expect_loss ? " expect-loss" : "");
	fflush(stdout);
	cs = g_seed;
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n < 0)
		return 3;
	self[n] = 0;
	if (!g_dir[0]) {
		snprintf(g_dir, sizeof(g_dir), "/tmp/lockspace-torture-XXXXXX");
		if (!mkdtemp(g_dir))
			return 3;
	}
	for (int i = 0; i < g_nfiles; i++) {
		int fd;

		file_path(i, mk, sizeof(mk));
		fd = open(mk, O_CREAT | O_RDWR, 0600);
		if (fd < 0)
			return 3;
		close(fd);
	}
	w = calloc((size_t)g_procs, sizeof(*w));
	execd = calloc((size_t)g_procs, sizeof(*execd));
	signal(SIGPIPE, SIG_IGN);
	for (int i = 0; i < g_procs; i++)
		if (start_worker(&w[i], i, self) < 0)
			return 3;
	end = now_ms() + (long)(seconds * 1000);
	for (;;) {
		/* Paused now: check. */
		for (int i = 0; i < g_procs; i++) {
			r = read_model(&w[i], 20000);
			if (r < 0) {
				fail_dump(w, g_procs, r == -1 ?
					  "HANG: a worker did not pause within"
					  " 20 s" : "a worker died");
				kill_all(w, g_procs);
				return r == -1 ? 2 : 1;
			}
		}
		g_checks++;
		for (int i = 0; i < g_procs; i++)
			bad |= check_worker(&w[i], i, shim);
		bad |= check_cross(w, g_procs);
		if ((bad && !g_expect_loss) || g_phantom || g_leak)
			break;
		if (now_ms() >= end)
			break;
		rounds++;
		/* Resume, run a while, pause; or exec a worker: the new image
		 * starts paused and sends its model. */
		for (int i = 0; i < g_procs; i++) {
			execd[i] = rnd(&cs, 8) == 0;
			g_execs += execd[i];
			send_cmd(&w[i], execd[i] ? 'E' : 'R');
		}
		{
			struct timespec ts = { 0, (long)(20 + rnd(&cs, 250)) *
						  1000000L };

			nanosleep(&ts, NULL);
		}
		for (int i = 0; i < g_procs; i++)
			if (!execd[i])
				send_cmd(&w[i], 'P');
	}
	{
		long ops = 0, eagain = 0, eintr = 0, edl = 0, ebadf = 0;

		for (int i = 0; i < g_procs; i++) {
			ops += w[i].stats[0];
			eagain += w[i].stats[1];
			eintr += w[i].stats[2];
			edl += w[i].stats[3];
			ebadf += w[i].stats[4];
		}
		printf("torture: %ld checks, %ld execs, %ld lock calls (%ld "
		       "EAGAIN, %ld EINTR, %ld EDEADLK, %ld EBADF); lost %ld, "
		       "phantom %ld, leaks %ld\n", g_checks, g_execs, ops,
		       eagain, eintr, edl, ebadf, g_lost, g_phantom, g_leak);
	}
	if (bad && !g_expect_loss)
		fail_dump(w, g_procs, "FAILED");
	for (int i = 0; i < g_procs; i++)
		send_cmd(&w[i], 'Q');
	for (int i = 0; i < g_procs; i++) {
		int st;

		if (waitpid(w[i].pid, &st, 0) == w[i].pid &&
		    (!WIFEXITED(st) || WEXITSTATUS(st))) {
			fprintf(stderr, "torture: worker %d exit status %#x\n",
				i, st);
			bad = 1;
		}
	}
	for (int i = 0; i < g_nfiles; i++) {
		file_path(i, mk, sizeof(mk));
		unlink(mk);
	}
	rmdir(g_dir);
	free(w);
	free(execd);
	if (g_expect_loss) {
		if (g_phantom || g_leak || !g_lost) {
			printf("torture: FAIL (expect-loss: want lost > 0, no "
			       "phantom, no leak; seed %" PRIu64 ")\n", g_seed);
			return 1;
		}
		printf("torture: OK (losses seen, as plain POSIX must)\n");
		return 0;
	}
	printf("torture: %s (seed %" PRIu64 ")\n", bad ? "FAIL" : "OK", g_seed);
	return bad ? 1 : 0;
}
