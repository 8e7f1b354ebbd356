/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * shim/files.c: the table of locked files, their holders, and the
 * sibling scan (files.h states the invariants and the locks).
 */
#include "files.h"
#include "defs.h"
#include "trace.h"
#include "anchor.h"
#include "fdstate.h"
#include "log.h"
#include "posixbe.h"
#include "real.h"

#include <errno.h>
#include <limits.h>
#include <linux/kcmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

struct lst_table files_table;
atomic_int files_active;
atomic_int files_copies_arrived;
static uint64_t next_holder_id = 1; /* table_lock written */

/* ---- this thread's range nodes ------------------------------------------ */

static __thread struct lsr_pool pool;
static pthread_key_t pool_key;
static pthread_once_t pool_once = PTHREAD_ONCE_INIT;

static void pool_dtor(void *p)
{
	lsr_pool_trim(p, 0);
}

static void pool_key_init(void)
{
	pthread_key_create(&pool_key, pool_dtor);
}

struct lsr_pool *files_pool(void)
{
	if (!pool.count && !pool.free) {
		pthread_once(&pool_once, pool_key_init);
		pthread_setspecific(pool_key, &pool);
	}
	return &pool;
}

/* ---- blocks of objects --------------------------------------------------- */

/* Files and holders come from blocks of SLAB_N, not one malloc each: a
 * malloc chunk adds 8 to 23 bytes of header and rounding to every object
 * (bench row 7). A freed object goes on its free list for the next one;
 * blocks are not given back. table_lock held for writing. Under LS_ASAN
 * (range.h), plain calloc and free. */
#define SLAB_N 64

struct slab {
	size_t size;
	void *free; /* linked through the first word */
};

static struct slab file_slab = {sizeof(struct ls_file), NULL};
static struct slab holder_slab = {sizeof(struct ls_holder), NULL};

static void *slab_get(struct slab *s)
{
#ifdef LS_ASAN
	return calloc(1, s->size);
#else
	void *p = s->free;

	if (!p) {
		char *b = malloc(SLAB_N * s->size);

		if (!b)
			return NULL;
		for (size_t i = SLAB_N; i-- > 0;) {
			*(void **)(b + i * s->size) = s->free;
			s->free = b + i * s->size;
		}
		p = s->free;
	}
	s->free = *(void **)p;
	memset(p, 0, s->size);
	return p;
#endif
}

static void slab_put(struct slab *s, void *p)
{
#ifdef LS_ASAN
	(void)s;
	free(p);
#else
	*(void **)p = s->free;
	s->free = p;
#endif
}

/* ---- files ----------------------------------------------------------------- */

/* The policy of a new file, from its path (through fd). */
static void file_policy(struct ls_file *f, int fd)
{
	char link[40], path[PATH_MAX];
	ssize_t n = -1;

	/* The path is looked up only when a section of the configuration
	 * could match it. */
	if (config_has_rules()) {
		snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
		n = readlink(link, path, sizeof(path) - 1);
		path[n > 0 ? n : 0] = 0;
	}
	config_policy(n > 0 ? path : NULL, &f->pol);
}

struct ls_file *file_find(dev_t dev, ino_t ino)
{
	return (struct ls_file *)lst_table_find(&files_table, dev, ino);
}

struct ls_file *file_get(dev_t dev, ino_t ino, int fd)
{
	struct ls_file *f = file_find(dev, ino);

	if (f)
		return f;
	f = slab_get(&file_slab);
	if (!f)
		return NULL;
	lst_file_init(&f->t, dev, ino);
	f->anchor = -1;
	if (lst_table_insert(&files_table, &f->t) < 0) {
		slab_put(&file_slab, f);
		return NULL;
	}
	file_policy(f, fd);
	log_count(LOGC_FILES, 1);
	return f;
}

struct ls_file *file_of_anchor(int fd)
{
	struct lst_file *lf;
	size_t i;

	for (i = 0; (lf = lst_table_next(&files_table, &i));)
		if (((struct ls_file *)lf)->anchor == fd)
			return (struct ls_file *)lf;
	return NULL;
}

void file_maybe_retire(struct ls_file *f)
{
	if (f->t.map.root || f->refs)
		return;
	if (f->anchor >= 0) {
		/* Closing it would drop a POSIX lock taken past us. */
		if (anchor_own_posix(f->anchor))
			return;
		anchor_close(&f->anchor);
	}
	if (f->fallback)
		return; /* remember the fallback while the process lives */
	lst_table_remove(&files_table, &f->t);
	lst_file_clear(&f->t, files_pool());
	slab_put(&file_slab, f);
}

void file_unpin(struct ls_file *f)
{
	assert(f->refs > 0);
	f->refs--;
	file_maybe_retire(f);
}

/* The at-exit summary counts files with held ranges (and their peak):
 * derived from the map before and after each change. */
static void count_held(const struct ls_file *f, int had)
{
	int has = f->t.map.root != NULL;

	if (has != had)
		log_count(LOGC_HELD, has ? 1 : -1);
}

/* The changes of the map, each through a struct change, so that a trace
 * (trace.h) can see the map before and after it. */
struct change {
	uint64_t id;
	int64_t start, end;
	int type, res;
	lst_freed_fn freed; /* do_release's callback */
	void *freed_arg;
};

static void do_lock(struct ls_file *f, void *arg)
{
	struct change *c = arg;

	lst_lock(&f->t, files_pool(), c->id, c->start, c->end, c->type);
}

static void do_unlock(struct ls_file *f, void *arg)
{
	struct change *c = arg;

	lst_unlock(&f->t, files_pool(), c->start, c->end);
}

static void do_release(struct ls_file *f, void *arg)
{
	struct change *c = arg;

	c->res = lst_release(&f->t, files_pool(), c->id, c->freed,
			     c->freed_arg);
}

static void do_clear(struct ls_file *f, void *arg)
{
	(void)arg;
	lst_file_clear(&f->t, files_pool());
}

static void change(struct ls_file *f, trace_apply_fn fn, struct change *c)
{
	int had = f->t.map.root != NULL;

	if (unlikely(trace_active()))
		trace_change(f, c->start, c->end, fn, c);
	else
		fn(f, c);
	count_held(f, had);
	if (posixbe_file(f) && had != (f->t.map.root != NULL))
		posixbe_held_changed(f, had ? -1 : 1);
}

void file_lock(struct ls_file *f, uint64_t id, int64_t start, int64_t end,
	       int type)
{
	struct change c = {id, start, end, type, 0, NULL, NULL};

	change(f, do_lock, &c);
}

void file_unlock(struct ls_file *f, int64_t start, int64_t end)
{
	struct change c = {0, start, end, 0, 0, NULL, NULL};

	change(f, do_unlock, &c);
}

void file_unlock_freed(void *arg, int64_t start, int64_t end)
{
	struct ls_file *f = arg;

	if (f->anchor >= 0 && !f->fallback)
		klock(f->anchor, F_OFD_SETLK, LSR_UNLCK, start, end);
}

int file_release_cb(struct ls_file *f, uint64_t id, lst_freed_fn fn,
		    void *arg)
{
	struct change c = {id, 0, LSR_OFF_MAX, 0, 0, fn, arg};

	change(f, do_release, &c);
	return c.res;
}

int file_release(struct ls_file *f, uint64_t id)
{
	return file_release_cb(f, id, file_unlock_freed, f);
}

void file_clear(struct ls_file *f)
{
	struct change c = {0, 0, LSR_OFF_MAX, 0, 0, NULL, NULL};

	change(f, do_clear, &c);
}

static int hc_step(void *arg, int64_t s, int64_t e, int type)
{
	(void)s;
	(void)e;
	return *(int *)arg == LSR_WRLCK || type == LSR_WRLCK;
}

int files_holds_conflict(dev_t dev, ino_t ino, int64_t start, int64_t end,
			 int type)
{
	struct ls_file *f;
	struct crit c;
	int r = 0;

	crit_enter(&c, 0);
	f = file_find(dev, ino);
	if (f) {
		fmu_lock(&f->mu);
		r = lsr_set_visit(&f->t.map, start, end, hc_step, &type);
		fmu_unlock(&f->mu);
	}
	crit_leave(&c);
	return r;
}

/* ---- holders ---------------------------------------------------------------- */

int same_description(int fd1, int fd2)
{
	pid_t pid = table_owner;

	return syscall(SYS_kcmp, pid, pid, KCMP_FILE, fd1, fd2) == 0;
}

struct ls_holder *holder_new(struct ls_file *f, int accmode, int fd)
{
	struct ls_holder *h = slab_get(&holder_slab);

	if (!h)
		return NULL;
	h->file = f;
	h->id = next_holder_id++;
	h->accmode = (uint8_t)accmode;
	h->fd = fd;
	h->fnext = f->ofds;
	f->ofds = h;
	f->refs++;
	atomic_store(&files_active, 1);
	return h;
}

/* A descriptor not seen being made (inherited, received over a socket)
 * may share its description with a known holder: ask kcmp. */
struct ls_holder *holder_attach(int fd, const struct stat *st, int accmode,
				int *err)
{
	int was_dup = fdstate_get(fd) == FD_DUP;
	struct ls_holder *h = fdstate_holder(fd);
	struct ls_file *f;

	if (h)
		return h;
	f = file_get(st->st_dev, st->st_ino, fd);
	if (!f) {
		*err = ENOLCK;
		return NULL;
	}
	for (h = f->ofds; h; h = h->fnext)
		if (same_description(fd, h->fd))
			goto found;
	h = holder_new(f, accmode, fd);
	if (!h) {
		*err = ENOLCK;
		file_maybe_retire(f);
		return NULL;
	}
found:
	h->ndesc++;
	fdstate_set_holder(fd, h);
	/* By exchange: a dup of fd that marked it FD_DUP meanwhile, without
	 * the lock, is seen here; one that comes later finds it tracked and
	 * takes the lock (closes_dup_raced). */
	if (fdstate_track(fd) == FD_DUP || was_dup)
		h->siblings = 1;
	return h;
}

void holder_map(struct ls_holder *h, int fd)
{
	h->ndesc++;
	fdstate_set_holder(fd, h);
	fdstate_set(fd, FD_TRACKED);
}

/* Another descriptor of h, for kcmp, after fd went away. */
static void holder_refresh_fd(struct ls_holder *h)
{
	int max = atomic_load(&fd_state_max);

	for (int fd = 0; fd <= max; fd++)
		if (fdstate_holder(fd) == h) {
			h->fd = fd;
			return;
		}
	assert(!"a holder with descriptors has none in the table");
}

#ifndef NDEBUG
void (*files_scan_hook)(int fd);
#endif

/* One pass of holder_track_dups() over the numbers. */
static void track_dups_once(struct ls_holder *h)
{
	int max = atomic_load(&fd_state_max);

	for (int g = 0; g <= max; g++) {
#ifndef NDEBUG
		if (files_scan_hook)
			files_scan_hook(g);
#endif
		if (fdstate_get(g) != FD_DUP || !same_description(h->fd, g))
			continue;
		/* g may be in a close() that skips the lock right now, and
		 * its number reused after: ask kcmp again once it is ours */
		if (!fdstate_adopt_dup(g, h))
			continue;
		if (same_description(h->fd, g)) {
			h->ndesc++;
		} else {
			fdstate_set_holder(g, NULL);
			fdstate_set(g, FD_DUP);
		}
	}
}

/*
 * h's description was dup'ed before it took a lock: the dups (FD_DUP)
 * that share it are its descriptors too (the contract counts every
 * descriptor of the description). A claim of a dup that slipped in as
 * the scan began makes it go again (sib_scan, fdstate.h); claims after
 * that wait for it.
 */
void holder_track_dups(struct ls_holder *h)
{
	unsigned moved;

	if (!h->siblings && !atomic_load(&files_copies_arrived))
		return;
	atomic_store(&sib_scan.active, 1);
	do {
		moved = atomic_load(&sib_scan.moved);
		track_dups_once(h);
	} while (atomic_load(&sib_scan.moved) != moved);
	atomic_store(&sib_scan.active, 0);
}

void holder_before_close(struct ls_holder *h)
{
	if (h->ndesc == 1)
		holder_track_dups(h);
}

struct ls_holder *holder_detach(int fd)
{
	struct ls_holder *h = fdstate_holder(fd), **pp;

	fdstate_clear(fd);
	if (!h)
		return NULL;
	assert(h->ndesc > 0);
	if (--h->ndesc) {
		if (h->fd == fd)
			holder_refresh_fd(h);
		return NULL;
	}
	for (pp = &h->file->ofds; *pp != h; pp = &(*pp)->fnext)
		;
	*pp = h->fnext;
	return h;
}

void holder_release(struct ls_holder *h)
{
	holder_release_as(h, PB_CLOSED);
}

void holder_release_as(struct ls_holder *h, int how)
{
	struct ls_file *f = h->file;

	assert(h->ndesc == 0);
	fmu_lock(&f->mu);
	if (posixbe_file(f)) {
		posixbe_release(f, h->id, how); /* backend = posix */
	} else if (!f->fallback && f->refs == 1 && f->anchor >= 0 &&
	    lst_only_holder(&f->t, h->id) && !anchor_own_posix(f->anchor)) {
		/* The last holder of the file: its locks go, and so does the
		 * anchor. Unlocked first: a fork child may still share the
		 * anchor's description (until its handler ran; for ever
		 * after a raw fork), and a close would then drop nothing. */
		klock(f->anchor, F_OFD_SETLK, LSR_UNLCK, 0, LSR_OFF_MAX);
		file_clear(f);
		anchor_close(&f->anchor);
	} else if (!f->fallback && file_release(f, h->id) < 0) {
		/* No memory to split: release the whole file, which plain
		 * POSIX would have done at this close anyway. */
		file_unlock_freed(f, 0, LSR_OFF_MAX);
		file_clear(f);
	}
	f->refs--;
	files_check_file(f);
	fmu_unlock(&f->mu);
	slab_put(&holder_slab, h);
	file_maybe_retire(f);
	table_changed();
}

pid_t holder_tid(struct ls_file *f, uint64_t id)
{
	for (struct ls_holder *h = f->ofds; h; h = h->fnext)
		if (h->id == id)
			return h->last_tid;
	return 0;
}

/* ---- forgetting ------------------------------------------------------------ */

CHILD_CODE void files_atfork_child(void)
{
	if (files_table.cap)
		lst_table_init(&files_table);
	if (atomic_load(&files_active))
		atomic_store(&files_active, 0);
}

void files_forget(void)
{
	fdstate_reset(0);
	files_atfork_child();
}

void files_forget_free(void)
{
	struct lst_file *lf;
	size_t i;

	for (i = 0; (lf = lst_table_next(&files_table, &i));) {
		struct ls_file *f = (struct ls_file *)lf;
		struct ls_holder *h, *next;

		for (h = f->ofds; h; h = next) {
			next = h->fnext;
			slab_put(&holder_slab, h);
		}
		file_clear(f);
		slab_put(&file_slab, f);
	}
	lst_table_free(&files_table);
	files_forget();
}

#ifndef NDEBUG
void files_check_file(const struct ls_file *f)
{
	unsigned n = 0;

	for (const struct ls_holder *h = f->ofds; h; h = h->fnext) {
		assert(h->file == f);
		n++;
	}
	assert(f->refs >= n);
	assert(!f->fallback || !f->t.map.root);
	assert(!f->t.map.root || f->anchor >= 0 || f->fallback ||
	       f->pol.mode == MODE_OBSERVE || posixbe_file(f));
	assert(!f->pb_kept || posixbe_file(f));
}
#endif
