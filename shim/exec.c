/*
 * shim/exec.c: locks survive exec, as POSIX says, although the anchors
 * that carry them are close-on-exec.
 *
 * POSIX keeps a lock taken through a descriptor that survives execve()
 * (not close-on-exec); a wrapper that locks a file and execs the real
 * program relies on it. Before the real exec, with the table locked for
 * writing until it returns:
 *   - holders whose descriptors are all close-on-exec are released (their
 *     description is about to be closed): on a file where every holder
 *     goes, the anchor simply stays close-on-exec; on a file where some
 *     stay, what only the leaving ones held is unlocked on the anchor;
 *   - anchors that still carry ranges lose close-on-exec;
 *   - dups made before their description's first lock (FD_DUP) are
 *     tracked with their holder first: they keep its locks across exec
 *     as they do across a close;
 *   - the table goes to the new image in LOCKSPACE_PRELOAD_HANDOFF (the
 *     format is below; a sealed memfd beyond HANDOFF_ENV_MAX bytes), with
 *     the surviving FD_DUP descriptors of descriptions that took no lock
 *     yet, so that a first lock after exec knows them too. A process that
 *     never took a lock hands over nothing.
 * If the exec fails, every flag and the table are put back and the error
 * is returned unchanged. The new image adopts the anchors in its
 * constructor, before main, after checking each claim against the kernel.
 *
 * Format, version 1 (tokens separated by single spaces):
 *   LSH1 <pid> <nfiles> { F <dev> <ino> <anchor> <rw> <nmap>
 *       { <start> <end> <type> } <nholders>
 *       { H <accmode> <nfds> { <fd> } <nranges> { <start> <end> } } }
 *       [ D <ndups> { <fd> } ]
 * or, for a large table, "LSH1 memfd <fd>" naming a sealed memfd that
 * holds the text. Types are 1 (read) and 2 (write), offsets inclusive.
 */
#include "shim.h"
#include "handoff.h"

#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <linux/kcmp.h>
#include <unistd.h>

#define HANDOFF_VAR "LOCKSPACE_PRELOAD_HANDOFF"
#define HANDOFF_ENV_MAX (120 * 1024)
#define HANDOFF_MAX (64 << 20)

extern char **environ;

/* ---- a growing string ------------------------------------------------------ */

struct sbuf {
	char *p;
	size_t len, cap;
	int err;
};

static void sb_add(struct sbuf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void sb_add(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->err)
		return;
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(b->p ? b->p + b->len : NULL,
			      b->p ? b->cap - b->len : 0, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->err = 1;
			return;
		}
		if (b->p && b->len + (size_t)n < b->cap) {
			b->len += (size_t)n;
			return;
		}
		size_t ncap = b->cap ? b->cap * 2 : 4096;
		while (ncap < b->len + (size_t)n + 1)
			ncap *= 2;
		char *np = realloc(b->p, ncap);
		if (!np) {
			b->err = 1;
			return;
		}
		b->p = np;
		b->cap = ncap;
	}
}

/* ---- before exec ------------------------------------------------------------ */

/* A file some of whose holders leave at exec: the release happens on a
 * copy of its table entry (what the new image is handed), and on the
 * anchor; the entry itself stays as it is, so that a failed exec only has
 * to lock the entry's map on the anchor again. */
struct undo_file {
	struct ls_file *f;
	struct lst_file t; /* the copy, with the leaving holders released */
	int copied;        /* else no holder leaves: f->t is handed */
	int cloexec_cleared;
};

static const struct lst_file *view(const struct undo_file *u)
{
	return u->copied ? &u->t : &u->f->t;
}

struct exec_state {
	int active;
	struct crit c;
	struct undo_file *u;
	size_t nu;
	char **env;
	char *var;
	int memfd;
};

static int relock_step(void *arg, int64_t s, int64_t e, int type)
{
	struct ls_file *f = arg;

	if (prot_ofd_lock(f->anchor, F_OFD_SETLK, type, s, e) < 0)
		log_note("exec failed, and a range released for it was taken "
			 "meanwhile: %lld-%lld", (long long)s, (long long)e);
	return 0;
}

/* Put a file back (exec failed): its entry never changed. */
static void undo_one(struct undo_file *u)
{
	if (u->cloexec_cleared)
		real_fcntl(u->f->anchor, F_SETFD, (void *)(long)FD_CLOEXEC);
	lsr_set_visit(&u->f->t.map, 0, LSR_OFF_MAX, relock_step, u->f);
}

static void undo_free(struct exec_state *es)
{
	for (size_t i = 0; i < es->nu; i++)
		if (es->u[i].copied)
			lst_file_clear(&es->u[i].t, prot_pool());
	free(es->u);
	es->u = NULL;
	es->nu = 0;
}

struct fd_pair {
	struct ls_ofd *o;
	int fd;
};

static int cmp_pair(const void *a, const void *b)
{
	const struct fd_pair *x = a, *y = b;

	if (x->o->file != y->o->file)
		return (uintptr_t)x->o->file < (uintptr_t)y->o->file ? -1 : 1;
	if (x->o != y->o)
		return (uintptr_t)x->o < (uintptr_t)y->o ? -1 : 1;
	return (x->fd > y->fd) - (x->fd < y->fd);
}

static int held_step(void *arg, int64_t s, int64_t e, int type)
{
	(void)type;
	sb_add(arg, " %lld %lld", (long long)s, (long long)e);
	return 0;
}

static int map_step(void *arg, int64_t s, int64_t e, int type)
{
	sb_add(arg, " %lld %lld %d", (long long)s, (long long)e, type);
	return 0;
}

/* Whether f's anchor carries ranges to hand over (t: f's entry, or its
 * copy once the leaving holders went). */
static int handed(const struct ls_file *f, const struct lst_file *t)
{
	return !f->fallback && f->anchor >= 0 && t->map.root;
}

/* A file with a holder staying. When others leave, they are released
 * from a copy of its entry, and what nobody keeps from the anchor. */
static struct undo_file *undo_new(struct exec_state *es, struct ls_file *f,
				  size_t ndrop)
{
	struct undo_file *u;
	struct ls_ofd *o;

	u = realloc(es->u, (es->nu + 1) * sizeof(*u));
	if (!u)
		return NULL;
	es->u = u;
	u = &es->u[es->nu];
	memset(u, 0, sizeof(*u));
	u->f = f;
	if (ndrop && lst_file_copy(&u->t, &f->t, prot_pool()) < 0)
		return NULL;
	u->copied = ndrop != 0;
	es->nu++;
	for (o = f->ofds; o && ndrop; o = o->fnext)
		if (!o->keep && lst_release(&u->t, prot_pool(), o->id,
					    prot_unlock_freed, f) < 0)
			return NULL;
	return u;
}

/* The first of pairs[0..n) (sorted by cmp_pair) on file f, or n. */
static size_t pairs_of(const struct fd_pair *pairs, size_t n,
		       const struct ls_file *f)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if ((uintptr_t)pairs[mid].o->file < (uintptr_t)f)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* One file of the hand-over: its map, then its kept holders with their
 * descriptors (pairs[0..n), one file, sorted by holder). */
static void write_file(struct sbuf *b, const struct ls_file *f,
		       const struct lst_file *t, const struct fd_pair *pairs,
		       size_t n)
{
	size_t nh = 0, i, j;

	for (i = 0; i < n; i++)
		nh += !i || pairs[i].o != pairs[i - 1].o;
	sb_add(b, " F %llu %llu %d %d %zu", (unsigned long long)t->key.dev,
	       (unsigned long long)t->key.ino, f->anchor, f->anchor_rw,
	       t->map.count);
	lsr_set_visit(&t->map, 0, LSR_OFF_MAX, map_step, b);
	sb_add(b, " %zu", nh);
	for (i = 0; i < n; i = j) {
		struct ls_ofd *o = pairs[i].o;
		const struct lsr_set *held = lst_holder_ranges(t, o->id);

		for (j = i; j < n && pairs[j].o == o; j++)
			;
		sb_add(b, " H %d %zu", o->accmode, j - i);
		for (size_t k = i; k < j; k++)
			sb_add(b, " %d", pairs[k].fd);
		sb_add(b, " %zu", held ? held->count : 0);
		if (held)
			lsr_set_visit(held, 0, LSR_OFF_MAX, held_step, b);
	}
}

static int push_dup(int **dups, size_t *nd, size_t *cap, int fd)
{
	if (*nd == *cap) {
		size_t ncap = *cap ? *cap * 2 : 16;
		int *n = realloc(*dups, ncap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		*dups = n;
		*cap = ncap;
	}
	(*dups)[(*nd)++] = fd;
	return 0;
}

/* Release what exec drops, clear close-on-exec on what it keeps, and
 * write the hand-over. prot_lock held for writing. Returns the number of
 * files and FD_DUP descriptors handed over, or -errno. */
static int exec_prepare_locked(struct exec_state *es, struct sbuf *b)
{
	int max = atomic_load(&fd_state_max), nfiles = 0, err = -ENOMEM;
	struct fd_pair *pairs = NULL;
	size_t np = 0, cap = 0, i, j, k, nd = 0, dcap = 0;
	struct lst_file *lf;
	struct ls_ofd *o;
	int *dups = NULL;

	for (i = 0; (lf = lst_table_next(&prot_files, &i));)
		for (o = ((struct ls_file *)lf)->ofds; o; o = o->fnext) {
			o->keep = 0;
			/* For good, whether or not the exec succeeds:
			 * they are its descriptors either way. */
			prot_ofd_track_dups(o);
		}
	for (int fd = 0; fd <= max; fd++) {
		int st = fdstate_get(fd), fl;

		if (st != FD_TRACKED && st != FD_DUP)
			continue;
		fl = real_fcntl(fd, F_GETFD, NULL);
		if (fl < 0 || (fl & FD_CLOEXEC))
			continue;
		if (st == FD_DUP) {
			if (push_dup(&dups, &nd, &dcap, fd) < 0)
				goto out;
			continue;
		}
		if (np == cap) {
			struct fd_pair *n;

			cap = cap ? cap * 2 : 16;
			n = realloc(pairs, cap * sizeof(*n));
			if (!n)
				goto out;
			pairs = n;
		}
		pairs[np].o = fdstate_ofd(fd);
		pairs[np].o->keep = 1;
		pairs[np++].fd = fd;
	}
	/* Files some of whose holders stay: release the others, keep the
	 * anchor open across exec when ranges are left. Files whose
	 * holders all go keep their close-on-exec anchor. */
	for (i = 0; (lf = lst_table_next(&prot_files, &i));) {
		struct ls_file *f = (struct ls_file *)lf;
		size_t nkeep = 0, ndrop = 0;
		struct undo_file *u;

		if (!handed(f, &f->t))
			continue;
		for (o = f->ofds; o; o = o->fnext)
			o->keep ? nkeep++ : ndrop++;
		if (!nkeep)
			continue;
		u = undo_new(es, f, ndrop);
		if (!u)
			goto out;
		if (handed(f, view(u))) {
			real_fcntl(f->anchor, F_SETFD, (void *)0L);
			u->cloexec_cleared = 1;
			nfiles++;
			for (o = f->ofds; o; o = o->fnext)
				if (o->keep)
					o->keep = 2;
		}
	}
	if (np)
		qsort(pairs, np, sizeof(*pairs), cmp_pair);
	/* A holder of a file with nothing left to hand over (it holds no
	 * range) still has descriptors that share its description: they
	 * go as dups, or a first lock after exec would count only one. */
	for (i = 0; i < np; i = j) {
		for (j = i; j < np && pairs[j].o == pairs[i].o; j++)
			;
		if (j - i < 2 || pairs[i].o->keep == 2)
			continue;
		for (k = i; k < j; k++)
			if (push_dup(&dups, &nd, &dcap, pairs[k].fd) < 0)
				goto out;
	}
	sb_add(b, "LSH1 %d %d", (int)getpid(), nfiles);
	for (i = 0; i < es->nu; i++) {
		const struct undo_file *u = &es->u[i];

		if (!u->cloexec_cleared)
			continue; /* nothing left to hand over */
		j = pairs_of(pairs, np, u->f);
		for (k = j; k < np && pairs[k].o->file == u->f; k++)
			;
		write_file(b, u->f, view(u), pairs + j, k - j);
	}
	if (nd) {
		sb_add(b, " D %zu", nd);
		for (i = 0; i < nd; i++)
			sb_add(b, " %d", dups[i]);
	}
	err = b->err ? -ENOMEM : nfiles + (int)nd;
out:
	free(dups);
	free(pairs);
	return err;
}

static void exec_undo(struct exec_state *es)
{
	for (size_t i = 0; i < es->nu; i++)
		undo_one(&es->u[i]);
}

/* The environment for the new image: envp without an older hand-over,
 * plus ours. */
static char **env_with(char *const envp[], char *var)
{
	size_t n = 0, k = 0;
	char **env;

	while (envp && envp[n])
		n++;
	env = malloc((n + 2) * sizeof(*env));
	if (!env)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (strncmp(envp[i], HANDOFF_VAR "=", sizeof(HANDOFF_VAR)))
			env[k++] = envp[i];
	env[k++] = var;
	env[k] = NULL;
	return env;
}

static int put_in_memfd(struct sbuf *b)
{
	int fd = (int)syscall(SYS_memfd_create, "lockspace-handoff",
			      MFD_ALLOW_SEALING);
	int moved;

	if (fd < 0)
		return -errno;
	if (write(fd, b->p, b->len) != (ssize_t)b->len ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW |
					   F_SEAL_WRITE | F_SEAL_SEAL) < 0) {
		raw_close(fd);
		return -EIO;
	}
	/* Keep it out of the program's numbers, and across the exec. */
	moved = anchor_dup_keep(fd, 1);
	raw_close(fd);
	if (moved < 0)
		return moved;
	fdstate_set(moved, FD_ANCHOR);
	return moved;
}

/* 0 with es ready (es->env the environment to use), or -errno. */
static int exec_prepare(struct exec_state *es, char *const envp[])
{
	struct sbuf b = {0};
	int n;

	memset(es, 0, sizeof(*es));
	es->memfd = -1;
	if (prot_passthrough_now() || !atomic_load(&prot_active))
		return 0;
	crit_enter(&es->c, 1);
	es->active = 1;
	n = exec_prepare_locked(es, &b);
	if (n <= 0) {
		free(b.p);
		return n; /* 0: nothing to hand over */
	}
	if (b.len > HANDOFF_ENV_MAX) {
		es->memfd = put_in_memfd(&b);
		free(b.p);
		if (es->memfd < 0)
			return es->memfd;
		b.p = NULL;
		b.len = b.cap = 0;
		sb_add(&b, "LSH1 memfd %d", es->memfd);
		if (b.err)
			return -ENOMEM;
	}
	es->var = malloc(sizeof(HANDOFF_VAR) + b.len + 1);
	if (!es->var) {
		free(b.p);
		return -ENOMEM;
	}
	memcpy(es->var, HANDOFF_VAR "=", sizeof(HANDOFF_VAR));
	memcpy(es->var + sizeof(HANDOFF_VAR), b.p, b.len + 1);
	free(b.p);
	es->env = env_with(envp, es->var);
	return es->env ? 0 : -ENOMEM;
}

/* The exec returned: it failed. Put everything back. */
static void exec_finish(struct exec_state *es)
{
	int saved = errno;

	if (!es->active)
		return;
	exec_undo(es);
	undo_free(es);
	if (es->memfd >= 0) {
		fdstate_set(es->memfd, FD_NONE);
		raw_close(es->memfd);
	}
	free(es->env);
	free(es->var);
	crit_leave(&es->c);
	errno = saved;
}

/* ---- the exec family ---------------------------------------------------------
 * Each public exec function is wrapped (glibc's call each other inside
 * libc, past any interposer); those that use environ become the variant
 * that takes an environment. */

typedef int (*execve_fn)(const char *, char *const[], char *const[]);
typedef int (*fexecve_fn)(int, char *const[], char *const[]);
typedef int (*execveat_fn)(int, const char *, char *const[], char *const[],
			   int);

/* One exec call, whichever function the program called. */
enum exec_kind { X_EXECVE, X_EXECVPE, X_FEXECVE, X_EXECVEAT, X_N };

struct exec_call {
	enum exec_kind kind;
	int dirfd;        /* fexecve, execveat */
	const char *path; /* execve, execvpe, execveat */
	char *const *argv;
	int flags;        /* execveat */
};

static int exec_real(const struct exec_call *c, char *const env[])
{
	static const char *const names[X_N] = {"execve", "execvpe", "fexecve",
					       "execveat"};
	static void *fns[X_N];
	void *fn = __atomic_load_n(&fns[c->kind], __ATOMIC_ACQUIRE);

	if (!fn) {
		fn = dlsym(RTLD_NEXT, names[c->kind]);
		__atomic_store_n(&fns[c->kind], fn, __ATOMIC_RELEASE);
	}
	switch (c->kind) {
	case X_EXECVE:
	case X_EXECVPE:
		return ((execve_fn)fn)(c->path, c->argv, env);
	case X_FEXECVE:
		return ((fexecve_fn)fn)(c->dirfd, c->argv, env);
	default:
		if (fn)
			return ((execveat_fn)fn)(c->dirfd, c->path, c->argv,
						 env, c->flags);
		return (int)syscall(SYS_execveat, c->dirfd, c->path, c->argv,
				    env, c->flags);
	}
}

/* Hand the table over, exec, and put everything back if exec returns. */
static int do_exec(const struct exec_call *c, char *const envp[])
{
	struct exec_state es;
	int r = exec_prepare(&es, envp);

	if (r < 0) {
		exec_finish(&es);
		errno = -r;
		return -1;
	}
	r = exec_real(c, es.env ? es.env : envp);
	exec_finish(&es);
	return r;
}

static int do_execve(const char *path, char *const argv[], char *const envp[])
{
	struct exec_call c = {.kind = X_EXECVE, .path = path, .argv = argv};

	return do_exec(&c, envp);
}

static int do_execvpe(const char *file, char *const argv[],
		      char *const envp[])
{
	struct exec_call c = {.kind = X_EXECVPE, .path = file, .argv = argv};

	return do_exec(&c, envp);
}

SHIM_EXPORT int execve(const char *path, char *const argv[],
		       char *const envp[])
{
	return do_execve(path, argv, envp);
}

SHIM_EXPORT int execv(const char *path, char *const argv[])
{
	return do_execve(path, argv, environ);
}

SHIM_EXPORT int execvpe(const char *file, char *const argv[],
			char *const envp[])
{
	return do_execvpe(file, argv, envp);
}

SHIM_EXPORT int execvp(const char *file, char *const argv[])
{
	return do_execvpe(file, argv, environ);
}

SHIM_EXPORT int fexecve(int fd, char *const argv[], char *const envp[])
{
	struct exec_call c = {.kind = X_FEXECVE, .dirfd = fd, .argv = argv};

	return do_exec(&c, envp);
}

SHIM_EXPORT int execveat(int dirfd, const char *path, char *const argv[],
			 char *const envp[], int flags)
{
	struct exec_call c = {.kind = X_EXECVEAT, .dirfd = dirfd,
			      .path = path, .argv = argv, .flags = flags};

	return do_exec(&c, envp);
}

/* execl, execlp, execle: the arguments into an array, on the stack as
 * glibc does (no allocation between fork and exec). */
#define COUNT_ARGS(ap, n)                                                     \
	do {                                                                  \
		va_list cp;                                                   \
		va_copy(cp, ap);                                              \
		for (n = 1; va_arg(cp, char *); n++)                          \
			;                                                     \
		va_end(cp);                                                   \
	} while (0)

SHIM_EXPORT int execl(const char *path, const char *arg, ...)
{
	va_list ap;
	size_t n;

	va_start(ap, arg);
	COUNT_ARGS(ap, n);
	{
		char *argv[n + 1];

		argv[0] = (char *)arg;
		for (size_t i = 1; i <= n; i++)
			argv[i] = va_arg(ap, char *);
		va_end(ap);
		return do_execve(path, argv, environ);
	}
}

SHIM_EXPORT int execlp(const char *file, const char *arg, ...)
{
	va_list ap;
	size_t n;

	va_start(ap, arg);
	COUNT_ARGS(ap, n);
	{
		char *argv[n + 1];

		argv[0] = (char *)arg;
		for (size_t i = 1; i <= n; i++)
			argv[i] = va_arg(ap, char *);
		va_end(ap);
		return do_execvpe(file, argv, environ);
	}
}

SHIM_EXPORT int execle(const char *path, const char *arg, ...)
{
	va_list ap;
	size_t n;

	va_start(ap, arg);
	COUNT_ARGS(ap, n);
	{
		char *argv[n + 1];
		char *const *envp;

		argv[0] = (char *)arg;
		for (size_t i = 1; i <= n; i++)
			argv[i] = va_arg(ap, char *);
		envp = va_arg(ap, char *const *);
		va_end(ap);
		return do_execve(path, argv, envp);
	}
}

/* ---- in the new image ----------------------------------------------------------- */

/* Counting the anchor's lock lines that are claimed ranges; any other
 * line stops the walk. */
struct holds_ctx {
	const struct hf_file *f;
	size_t seen;
};

static int claimed_step(void *arg, const struct proc_lock *l)
{
	struct holds_ctx *c = arg;
	const struct hf_file *f = c->f;
	size_t lo = 0, hi = f->nmap;

	if (!l->ofd || l->dev != f->dev || l->ino != f->ino)
		return 1;
	/* The claimed map is sorted by start: search it. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (f->map[mid].start < l->start)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == f->nmap || f->map[lo].start != l->start ||
	    f->map[lo].end != l->end || f->map[lo].type != l->type)
		return 1;
	c->seen++;
	return 0;
}

static const char no_memory[] = "out of memory";

/* The anchor really holds exactly the claimed ranges, as OFD locks: NULL,
 * or why not. */
static const char *anchor_holds(const struct hf_file *f)
{
	struct holds_ctx c = {.f = f};
	char path[64];
	int r;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", f->anchor);
	errno = 0;
	r = proc_locks_each(path, claimed_step, &c);
	if (r < 0 && errno == ENOMEM)
		return no_memory;
	if (r || !f->nmap || c.seen != f->nmap)
		return "an anchor does not hold the claimed locks";
	return NULL;
}

static int same_file(int fd, const struct hf_file *f, struct stat *st)
{
	return fstat(fd, st) == 0 && st->st_dev == f->dev &&
	       st->st_ino == f->ino;
}

/* Every claim checked against the kernel before anything is adopted. */
static const char *validate(const struct hf_file *hf, size_t nf)
{
	pid_t pid = getpid();
	struct stat st;

	for (size_t i = 0; i < nf; i++) {
		const struct hf_file *f = &hf[i];
		const char *why;
		int acc;

		if (!same_file(f->anchor, f, &st))
			return "an anchor is not open on its file";
		if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))
			return "an anchor is not a regular file or directory";
		acc = real_fcntl(f->anchor, F_GETFL, NULL) & O_ACCMODE;
		if ((acc == O_RDONLY) != !f->rw)
			return "an anchor's access mode is not the one claimed";
		why = anchor_holds(f);
		if (why)
			return why;
		for (size_t j = 0; j < f->nh; j++)
			for (int k = 0; k < f->h[j].nfds; k++) {
				int fd = f->h[j].fds[k];

				if (fd == f->anchor || !same_file(fd, f, &st))
					return "a descriptor is not open on "
					       "its file";
				if (syscall(SYS_kcmp, pid, pid, KCMP_FILE, fd,
					    f->anchor) == 0)
					return "a descriptor shares the "
					       "anchor's description";
				if ((real_fcntl(fd, F_GETFL, NULL) &
				     O_ACCMODE) != f->h[j].accmode)
					return "a descriptor's access mode is "
					       "not the one claimed";
				if (fdstate_get(fd) != FD_NONE)
					return "a descriptor is claimed twice";
				fdstate_set(fd, FD_ANCHOR); /* mark */
			}
		if (fdstate_get(f->anchor) != FD_NONE)
			return "a descriptor is claimed twice";
		fdstate_set(f->anchor, FD_ANCHOR);
	}
	return NULL;
}

static const char *adopt(const struct hf_file *hf, size_t nf)
{
	struct lsr_pool *p = prot_pool();

	for (size_t i = 0; i < nf; i++) {
		const struct hf_file *f = &hf[i];
		struct ls_file *lf = prot_file_get(f->dev, f->ino, f->anchor);

		if (!lf)
			return "out of memory";
		lf->anchor = f->anchor;
		lf->anchor_rw = f->rw;
		fdstate_set_ofd(f->anchor, (struct ls_ofd *)lf);
		real_fcntl(f->anchor, F_SETFD, (void *)(long)FD_CLOEXEC);
		for (size_t j = 0; j < f->nh; j++) {
			const struct hf_holder *h = &f->h[j];
			struct ls_ofd *o;

			o = prot_ofd_adopt(lf, h->accmode, h->fds[0]);
			if (!o)
				return "out of memory";
			for (int k = 0; k < h->nfds; k++) {
				fdstate_set(h->fds[k], FD_NONE);
				prot_ofd_map(o, h->fds[k]);
			}
			for (size_t k = 0; k < h->nr; k++)
				for (size_t m = 0; m < f->nmap; m++) {
					int64_t s = h->r[2 * k],
						e = h->r[2 * k + 1];

					if (f->map[m].end < s ||
					    f->map[m].start > e)
						continue;
					s = s < f->map[m].start
						    ? f->map[m].start : s;
					e = e > f->map[m].end ? f->map[m].end
							      : e;
					if (lst_prepare_lock(&lf->t, p, o->id))
						return "out of memory";
					lst_lock(&lf->t, p, o->id, s, e,
						 f->map[m].type);
				}
		}
		if (lst_file_check(&lf->t))
			return "holders' ranges do not match the locks";
	}
	return NULL;
}

/* A descriptor of f through which the process may take a lock of type. */
static int posix_fd(const struct hf_file *f, int type)
{
	struct stat st;

	for (size_t j = 0; j < f->nh; j++) {
		int acc = f->h[j].accmode;

		if (f->h[j].nfds && (type == LSR_WRLCK ? acc != O_RDONLY
						       : acc != O_WRONLY) &&
		    same_file(f->h[j].fds[0], f, &st))
			return f->h[j].fds[0];
	}
	return -1;
}

/* One range from the anchor to a plain POSIX lock through fd (-1: no
 * descriptor with the access it needs), or a note that it is lost. */
static void move_to_posix(int anchor, int fd, const struct snap_range *r,
			  uint64_t ino)
{
	prot_ofd_lock(anchor, F_OFD_SETLK, LSR_UNLCK, r->start, r->end);
	if (fd < 0 || prot_ofd_lock(fd, F_SETLK, r->type, r->start, r->end) < 0)
		log_note("exec hand-over without memory: the lock %lld-%lld "
			 "of ino %llu is lost", (long long)r->start,
			 (long long)r->end, (unsigned long long)ino);
}

/*
 * The table could not take the validated hand-over in (out of memory):
 * the anchors' locks become plain POSIX locks of the process, taken
 * through a descriptor of the program, and the anchors close, so that the
 * program can still unlock and close as it could without the shim (and a
 * close drops them as plain POSIX does). Nothing here allocates; each
 * range is free for a moment between the two calls.
 */
static void adopt_as_posix(const struct hf_file *hf, size_t nf)
{
	struct stat st;

	for (size_t i = 0; i < nf; i++) {
		const struct hf_file *f = &hf[i];

		if (!same_file(f->anchor, f, &st))
			continue; /* not an anchor of this file: left alone */
		for (size_t m = 0; m < f->nmap; m++)
			move_to_posix(f->anchor, posix_fd(f, f->map[m].type),
				      &f->map[m], f->ino);
		raw_close(f->anchor);
	}
}

/* One file of a hand-over text that could not be parsed for lack of
 * memory: its anchor's ranges move to plain POSIX locks as in
 * adopt_as_posix(), walking the text twice instead of building the claim.
 * -1 on malformed text. */
static int nomem_file(struct parser *ps, int64_t fdmax)
{
	int64_t dev, ino, a, rw, nmap, nh, acc, nfds, nr, v, s, e, t;
	int fd[2] = {-1, -1}; /* for read, for write locks */
	struct parser map;
	struct hf_file f;
	struct stat st;

	if (handoff_word(ps, "F") || handoff_tok(ps, &dev, 0, INT64_MAX) ||
	    handoff_tok(ps, &ino, 0, INT64_MAX) ||
	    handoff_tok(ps, &a, 0, fdmax) || handoff_tok(ps, &rw, 0, 1) ||
	    handoff_tok(ps, &nmap, 0, INT64_MAX))
		return -1;
	map = *ps;
	for (int64_t i = 0; i < 3 * nmap; i++)
		if (handoff_tok(ps, &v, 0, INT64_MAX))
			return -1;
	f.dev = (uint64_t)dev;
	f.ino = (uint64_t)ino;
	if (handoff_tok(ps, &nh, 0, INT64_MAX))
		return -1;
	for (int64_t j = 0; j < nh; j++) {
		if (handoff_word(ps, "H") || handoff_tok(ps, &acc, 0, O_RDWR) ||
		    handoff_tok(ps, &nfds, 0, INT64_MAX))
			return -1;
		for (int64_t k = 0; k < nfds; k++) {
			if (handoff_tok(ps, &v, 0, fdmax))
				return -1;
			if (k || !same_file((int)v, &f, &st))
				continue;
			if (acc != O_WRONLY && fd[0] < 0)
				fd[0] = (int)v;
			if (acc != O_RDONLY && fd[1] < 0)
				fd[1] = (int)v;
		}
		if (handoff_tok(ps, &nr, 0, INT64_MAX))
			return -1;
		for (int64_t k = 0; k < 2 * nr; k++)
			if (handoff_tok(ps, &v, 0, INT64_MAX))
				return -1;
	}
	if (!same_file((int)a, &f, &st) || fdstate_get((int)a) != FD_NONE)
		return 0; /* not an anchor of this file: left alone */
	for (int64_t i = 0; i < nmap; i++) {
		struct snap_range r;

		if (handoff_tok(&map, &s, 0, LSR_OFF_MAX) ||
		    handoff_tok(&map, &e, s, LSR_OFF_MAX) ||
		    handoff_tok(&map, &t, LSR_RDLCK, LSR_WRLCK))
			return -1;
		r.start = s;
		r.end = e;
		r.type = (int)t;
		move_to_posix((int)a, fd[t == LSR_WRLCK], &r, (uint64_t)ino);
	}
	raw_close((int)a);
	return 0;
}

static void adopt_nomem(const char *text, size_t len, int64_t fdmax)
{
	struct parser ps = {.p = text, .end = text + len};
	int64_t pid, nf;

	if (handoff_word(&ps, "LSH1") || handoff_tok(&ps, &pid, 1, INT_MAX) ||
	    pid != getpid() || handoff_tok(&ps, &nf, 0, INT64_MAX))
		return;
	for (int64_t i = 0; i < nf; i++)
		if (nomem_file(&ps, fdmax) < 0)
			return;
}

/* Descriptors the old image saw dup'ed while their description took no
 * lock: FD_DUP again. A wrong claim costs a kcmp at a holder's last
 * close, nothing more; only open descriptors nobody claimed are marked. */
static void adopt_dups(const int *dups, size_t nd)
{
	for (size_t i = 0; i < nd; i++)
		if (fdstate_get(dups[i]) == FD_NONE &&
		    real_fcntl(dups[i], F_GETFD, NULL) >= 0)
			fdstate_mark_dup_new(dups[i]);
}

/* Only a memfd of ours, sealed as exec_prepare() sealed it, is read and
 * closed: a variable naming any other descriptor must not cost the
 * program that descriptor. */
static int is_handoff_memfd(int fd)
{
	char link[40], target[64];
	ssize_t n;
	int seals = real_fcntl(fd, F_GET_SEALS, NULL);

	if (seals < 0 || !(seals & F_SEAL_WRITE) || !(seals & F_SEAL_SEAL))
		return 0;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, target, sizeof(target) - 1);
	if (n <= 0)
		return 0;
	target[n] = 0;
	return !strncmp(target, "/memfd:lockspace-handoff", 24);
}

/* The memfd's text, mapped (no heap: it may be short), *len bytes. */
static char *map_memfd(int fd, size_t *len)
{
	struct stat st;
	void *p;

	if (fstat(fd, &st) < 0 || st.st_size <= 0 || st.st_size > HANDOFF_MAX)
		return NULL;
	p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (p == MAP_FAILED)
		return NULL;
	*len = (size_t)st.st_size;
	return p;
}

/* Constructor time, before main: take over what the old image held. */
void exec_adopt(void)
{
	const char *v = secure_getenv(HANDOFF_VAR);
	struct parser ps = {0};
	struct hf_file *hf = NULL;
	size_t nf = 0, nd = 0;
	int *dups = NULL;
	char *text = NULL;
	size_t len = 0;
	const char *why;
	struct crit c;
	int64_t mfd;

	if (!v)
		return;
	ps.p = v;
	ps.end = v + strlen(v);
	if (!strncmp(v, "LSH1 memfd ", 11)) {
		ps.p = v + 10;
		if (handoff_tok(&ps, &mfd, 0, (int64_t)fd_state_size - 1) ||
		    ps.p != ps.end) {
			why = "malformed memfd";
			goto bad;
		}
		if (!is_handoff_memfd((int)mfd)) {
			why = "the memfd named is not a hand-over";
			goto bad;
		}
		text = map_memfd((int)mfd, &len);
		raw_close((int)mfd);
		if (!text) {
			why = "unreadable memfd";
			goto bad;
		}
		ps.p = text;
		ps.end = text + len;
	}
	if (handoff_parse(&ps, getpid(), (int64_t)fd_state_size - 1, &hf, &nf,
			  &dups, &nd)) {
		why = ps.why;
		if (!strcmp(why, no_memory))
			adopt_nomem(text ? text : v, text ? len : strlen(v),
				    (int64_t)fd_state_size - 1);
		goto bad;
	}
	crit_enter(&c, 1);
	why = validate(hf, nf);
	if (why && why != no_memory) {
		prot_forget(); /* not ours: the descriptors stay as they are */
	} else if (why || (why = adopt(hf, nf)) != NULL) {
		prot_forget_free();
		adopt_as_posix(hf, nf);
	} else {
		adopt_dups(dups, nd);
	}
	crit_leave(&c);
	handoff_free(hf, nf);
	free(dups);
	if (why)
		goto bad;
	if (text)
		munmap(text, len);
	unsetenv(HANDOFF_VAR);
	return;
bad:
	if (text)
		munmap(text, len);
	unsetenv(HANDOFF_VAR);
	log_note("ignoring the exec hand-over in %s: %s", HANDOFF_VAR, why);
}
