/*
 * shim/protect.c: mode = protect. The lock table, the holders, and every
 * path by which a descriptor goes away.
 *
 * POSIX drops all of a process's locks on a file when the process closes
 * any descriptor of it. Here no descriptor of the program carries a kernel
 * lock: each locked file has an anchor (anchor.c) carrying the union of
 * the ranges as OFD locks, and the core table remembers which holder
 * (open file description) took which range. A holder's ranges go when its
 * last descriptor closes, through any interposed path, and a range is
 * unlocked on the anchor only when no holder is left on it.
 *
 * Locking: prot_lock (rwlock). Readers: lock requests through descriptors
 * already known (they only look up and then take the file's mutex), so
 * threads locking different files never queue on one mutex. Writers:
 * every change of the descriptor map (first lock through an fd, dup,
 * close of a tracked fd) and of the set of files. f->mu is taken only
 * under prot_lock, so the writer excludes every holder of a file mutex.
 * No lock is held while the kernel may block (F_SETLKW waits on a
 * private dup of the anchor with nothing held), and cancellation is off
 * inside the critical sections.
 */
#include "shim.h"

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <linux/kcmp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

pthread_rwlock_t prot_lock = PTHREAD_RWLOCK_INITIALIZER;
struct lst_table prot_files;     /* prot_lock */
static uint64_t next_ofd_id = 1; /* prot_lock written */
pid_t prot_owner;          /* the process the table belongs to */
atomic_int prot_active;          /* a holder was ever made */
__attribute__((visibility("hidden"))) atomic_int vfork_seen; /* vfork() sets it */
__thread int shim_busy;

/* Spare range nodes of this thread (range.h: allocate before changing). */
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

struct lsr_pool *prot_pool(void)
{
	if (!pool.count && !pool.free) {
		pthread_once(&pool_once, pool_key_init);
		pthread_setspecific(pool_key, &pool);
	}
	return &pool;
}

/* ---- entering and leaving the critical sections ------------------------ */

void crit_enter(struct crit *c, int write)
{
	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &c->cancel);
	shim_busy++;
	c->write = write;
	if (write)
		pthread_rwlock_wrlock(&prot_lock);
	else
		pthread_rwlock_rdlock(&prot_lock);
}

void crit_leave(struct crit *c)
{
	int ignored;

	pthread_rwlock_unlock(&prot_lock);
	shim_busy--;
	pthread_setcancelstate(c->cancel, &ignored);
}

static void fmu_futex(struct fmu *m, int op, unsigned val)
{
	int e = errno; /* EAGAIN, EINTR: the caller tries again */

	syscall(SYS_futex, &m->v, op, val, NULL, NULL, 0);
	errno = e;
}

void fmu_lock(struct fmu *m)
{
	unsigned c = 0;

	if (atomic_compare_exchange_strong_explicit(&m->v, &c, 1,
						    memory_order_acquire,
						    memory_order_relaxed))
		return;
	if (c != 2)
		c = atomic_exchange_explicit(&m->v, 2, memory_order_acquire);
	while (c) {
		fmu_futex(m, FUTEX_WAIT_PRIVATE, 2);
		c = atomic_exchange_explicit(&m->v, 2, memory_order_acquire);
	}
}

void fmu_unlock(struct fmu *m)
{
	if (atomic_fetch_sub_explicit(&m->v, 1, memory_order_release) != 1) {
		atomic_store_explicit(&m->v, 0, memory_order_release);
		fmu_futex(m, FUTEX_WAKE_PRIVATE, 1);
	}
}

/*
 * A vfork child runs in the parent's memory with its own descriptors: it
 * must change neither the parent's table nor its anchors. getpid() is a
 * syscall, so it is paid only after a vfork was seen. A signal handler
 * that calls back into the shim on a thread that is inside it must not
 * take the locks again: it passes through, as without the shim.
 */
int prot_passthrough_now(void)
{
	if (shim_busy)
		return 1;
	if (unlikely(atomic_load_explicit(&vfork_seen, memory_order_relaxed)))
		return getpid() != prot_owner;
	return 0;
}

/* ---- kernel lock calls on the anchor ------------------------------------ */

int prot_ofd_lock(int afd, int cmd, int type, int64_t start, int64_t end)
{
	struct flock fl;

	memset(&fl, 0, sizeof(fl));
	fl.l_type = (short)(type == LSR_WRLCK ? F_WRLCK :
			    type == LSR_RDLCK ? F_RDLCK : F_UNLCK);
	fl.l_whence = SEEK_SET;
	fl.l_start = start;
	fl.l_len = end == LSR_OFF_MAX ? 0 : end - start + 1;
	return real_fcntl(afd, cmd, &fl);
}

void prot_unlock_freed(void *arg, int64_t start, int64_t end)
{
	struct ls_file *f = arg;

	if (f->anchor >= 0 && !f->fallback)
		prot_ofd_lock(f->anchor, F_OFD_SETLK, LSR_UNLCK, start, end);
}

/* ---- conflicts = fd: waiting for another holder of this process ---------
 * A request that conflicts with another holder's range waits in-process:
 * it reads local_gen under the file's mutex, then sleeps on it as a futex
 * with nothing held; every change of any table that may free a range
 * bumps it and wakes the sleepers, who try again. A futex wait returns
 * EINTR on a signal (and restarts under SA_RESTART), as F_SETLKW does.
 * A wait that can never end gets EDEADLK instead, as the kernel gives
 * for POSIX lock owners: when the thread that took the blocking range is
 * the one asking, or waits itself, along a chain of such threads; and
 * when the holders form a cycle (the blocking holder has a request of its
 * own waiting, for a holder that waits ... for the one asking), whichever
 * threads took the ranges. */
static atomic_uint local_gen;
static atomic_int local_waiters;
static pthread_mutex_t waits_mu = PTHREAD_MUTEX_INITIALIZER;
static struct {
	pid_t tid;       /* the waiting thread; 0: a free slot */
	uint64_t req;    /* the holder it asks through */
	uint64_t blk;    /* the holder it waits for */
	pid_t blk_tid;   /* the thread that last locked through blk */
} waits[64]; /* waits_mu */
static __thread pid_t my_tid_cache;

static pid_t my_tid(void)
{
	if (!my_tid_cache)
		my_tid_cache = (pid_t)syscall(SYS_gettid);
	return my_tid_cache;
}

static void local_wake(void)
{
	atomic_fetch_add(&local_gen, 1);
	if (atomic_load(&local_waiters))
		syscall(SYS_futex, &local_gen, FUTEX_WAKE_PRIVATE, INT_MAX,
			NULL, NULL, 0);
}

/* ---- files and holders ---------------------------------------------------- */

/* Files and holders come from blocks of SLAB_N, not one malloc each: a
 * malloc chunk adds 8 to 23 bytes of header and rounding to every object
 * (bench row 7). A freed object goes on its free list for the next one;
 * blocks are not given back. prot_lock held for writing. Under LS_ASAN
 * (range.h), plain calloc and free. */
#define SLAB_N 64

struct slab {
	size_t size;
	void *free; /* linked through the first word */
};

static struct slab file_slab = {sizeof(struct ls_file), NULL};
static struct slab ofd_slab = {sizeof(struct ls_ofd), NULL};

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

static void file_policy(struct ls_file *f, int fd);

struct ls_file *prot_file_get(dev_t dev, ino_t ino, int fd)
{
	struct ls_file *f;

	f = (struct ls_file *)lst_table_find(&prot_files, dev, ino);
	if (f)
		return f;
	f = slab_get(&file_slab);
	if (!f)
		return NULL;
	lst_file_init(&f->t, dev, ino);
	f->anchor = -1;
	if (lst_table_insert(&prot_files, &f->t) < 0) {
		slab_put(&file_slab, f);
		return NULL;
	}
	file_policy(f, fd);
	log_count(LOGC_FILES, 1);
	return f;
}

/* Does this process hold a range of (dev, ino) that conflicts with a
 * request of type over [start, end]? (deadlock.c) */
struct hc_ctx {
	int type;
};

static int hc_step(void *arg, int64_t s, int64_t e, int type)
{
	(void)s;
	(void)e;
	return ((struct hc_ctx *)arg)->type == LSR_WRLCK || type == LSR_WRLCK;
}

int prot_holds_conflict(dev_t dev, ino_t ino, int64_t start, int64_t end,
			int type)
{
	struct hc_ctx h = {.type = type};
	struct ls_file *f;
	struct crit c;
	int r = 0;

	crit_enter(&c, 0);
	f = (struct ls_file *)lst_table_find(&prot_files, dev, ino);
	if (f) {
		fmu_lock(&f->mu);
		r = lsr_set_visit(&f->t.map, start, end, hc_step, &h);
		fmu_unlock(&f->mu);
	}
	crit_leave(&c);
	return r;
}

/* The at-exit summary counts files with held ranges (and their peak). */
void prot_held_sync(struct ls_file *f)
{
	int held = f->t.map.root != NULL;

	if (held != f->held) {
		f->held = held;
		log_count(LOGC_HELD, held ? 1 : -1);
	}
}

/* Close the anchor and forget the file once nothing needs it. prot_lock
 * held for writing. */
void file_maybe_retire(struct ls_file *f)
{
	if (f->t.map.root || f->refs)
		return;
	if (f->anchor >= 0) {
		/* Closing it would drop a POSIX lock taken past us. */
		if (anchor_own_posix(f->anchor))
			return;
		fdstate_set(f->anchor, FD_NONE);
		fdstate_set_ofd(f->anchor, NULL);
		raw_close(f->anchor);
		f->anchor = -1;
	}
	if (f->fallback)
		return; /* remember the fallback while the process lives */
	lst_table_remove(&prot_files, &f->t);
	lst_file_clear(&f->t, prot_pool());
	slab_put(&file_slab, f);
}

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
	if (f->pol.mode == MODE_OBSERVE || log_enabled(LOGL_INFO) ||
	    log_reporting())
		atomic_store(&watch_closes, 1);
}

static int kcmp_same(int fd1, int fd2)
{
	pid_t pid = prot_owner;

	return syscall(SYS_kcmp, pid, pid, KCMP_FILE, fd1, fd2) == 0;
}

/* The holder of fd, made on its first lock. prot_lock held for writing.
 * A descriptor not seen being made (inherited, received over a socket)
 * may share its description with a known holder: ask kcmp. */
static struct ls_ofd *ofd_attach(int fd, const struct stat *st, int accmode,
				 int *err)
{
	int was_dup = fdstate_get(fd) == FD_DUP;
	struct ls_ofd *o;
	struct ls_file *f;

	o = fdstate_ofd(fd);
	if (fdstate_get(fd) == FD_TRACKED && o)
		return o;
	f = prot_file_get(st->st_dev, st->st_ino, fd);
	if (!f) {
		*err = ENOLCK;
		return NULL;
	}
	for (o = f->ofds; o; o = o->fnext)
		if (kcmp_same(fd, o->fd))
			goto found;
	o = prot_ofd_adopt(f, accmode, fd);
	if (!o) {
		*err = ENOLCK;
		file_maybe_retire(f);
		return NULL;
	}
found:
	o->ndesc++;
	fdstate_set_ofd(fd, o);
	/* By exchange: a dup of fd that marked it FD_DUP meanwhile, without
	 * the lock, is seen here; one that comes later finds it tracked and
	 * takes the lock (prot_dup_raced). */
	if (fdstate_track(fd) == FD_DUP || was_dup)
		o->siblings = 1;
	return o;
}

/* A new holder of f, through fd (or handed over by exec, exec.c):
 * prot_lock held for writing. */
struct ls_ofd *prot_ofd_adopt(struct ls_file *f, int accmode, int fd)
{
	struct ls_ofd *o = slab_get(&ofd_slab);

	if (!o)
		return NULL;
	o->file = f;
	o->id = next_ofd_id++;
	o->accmode = accmode;
	o->fd = fd;
	o->fnext = f->ofds;
	f->ofds = o;
	f->refs++;
	atomic_store(&prot_active, 1);
	return o;
}

void prot_ofd_map(struct ls_ofd *o, int fd)
{
	o->ndesc++;
	fdstate_set_ofd(fd, o);
	fdstate_set(fd, FD_TRACKED);
}

/* Another descriptor of o, for kcmp, after fd went away. */
static void ofd_refresh_fd(struct ls_ofd *o)
{
	int max = atomic_load(&fd_state_max);

	for (int fd = 0; fd <= max; fd++)
		if (fdstate_get(fd) == FD_TRACKED && fdstate_ofd(fd) == o) {
			o->fd = fd;
			return;
		}
}

struct sib_scan sib_scan;

/* One pass of prot_ofd_track_dups() over the numbers. */
static void track_dups_once(struct ls_ofd *o)
{
	int max = atomic_load(&fd_state_max);

	for (int g = 0; g <= max; g++) {
		if (fdstate_get(g) != FD_DUP || !kcmp_same(o->fd, g))
			continue;
		/* g may be in a close() that skips the lock right now, and
		 * its number reused after: ask kcmp again once it is ours */
		if (!fdstate_adopt_dup(g, o))
			continue;
		if (kcmp_same(o->fd, g)) {
			o->ndesc++;
		} else {
			fdstate_set_ofd(g, NULL);
			fdstate_set(g, FD_DUP);
		}
	}
}

/*
 * o's description was dup'ed before it took a lock: the dups (FD_DUP)
 * that share it are its descriptors too (the contract counts every
 * descriptor of the description). Track them. prot_lock held for writing.
 * A claim of a dup that slipped in as the scan began makes it go again
 * (sib_scan); claims after that wait for it.
 */
void prot_ofd_track_dups(struct ls_ofd *o)
{
	unsigned moved;

	if (!o->siblings)
		return;
	atomic_store(&sib_scan.active, 1);
	do {
		moved = atomic_load(&sib_scan.moved);
		track_dups_once(o);
	} while (atomic_load(&sib_scan.moved) != moved);
	atomic_store(&sib_scan.active, 0);
}

/* o's last tracked descriptor is about to go: its dups made before the
 * first lock keep the lock alive. prot_lock held for writing. */
static void adopt_siblings(struct ls_ofd *o)
{
	if (o->ndesc == 1)
		prot_ofd_track_dups(o);
}

/* Forget that fd refers to its holder. Returns the holder when fd was its
 * last descriptor (the caller releases it after the real close), else
 * NULL. prot_lock held for writing. */
static struct ls_ofd *ofd_detach(int fd)
{
	struct ls_ofd *o = fdstate_ofd(fd), **pp;

	fdstate_set(fd, FD_NONE);
	fdstate_set_ofd(fd, NULL);
	if (!o)
		return NULL;
	if (--o->ndesc) {
		if (o->fd == fd)
			ofd_refresh_fd(o);
		return NULL;
	}
	for (pp = &o->file->ofds; *pp != o; pp = &(*pp)->fnext)
		;
	*pp = o->fnext;
	return o;
}

/* The holder's description is gone: release its ranges, and maybe the
 * anchor. prot_lock held for writing. */
static void ofd_release(struct ls_ofd *o)
{
	struct ls_file *f = o->file;

	fmu_lock(&f->mu);
	if (!f->fallback && f->refs == 1 && f->anchor >= 0 &&
	    lst_only_holder(&f->t, o->id) && !anchor_own_posix(f->anchor)) {
		/* The last holder of the file: closing the anchor drops its
		 * locks, no unlock first. */
		lst_file_clear(&f->t, prot_pool());
		fdstate_set(f->anchor, FD_NONE);
		fdstate_set_ofd(f->anchor, NULL);
		raw_close(f->anchor);
		f->anchor = -1;
	} else if (!f->fallback &&
	    lst_release(&f->t, prot_pool(), o->id, prot_unlock_freed, f) < 0) {
		/* No memory to split: release the whole file, which plain
		 * POSIX would have done at this close anyway. */
		prot_unlock_freed(f, 0, LSR_OFF_MAX);
		lst_file_clear(&f->t, prot_pool());
	}
	f->refs--;
	prot_held_sync(f);
	fmu_unlock(&f->mu);
	slab_put(&ofd_slab, o);
	file_maybe_retire(f);
	if (atomic_load(&local_waiters))
		local_wake();
}

/* ---- copying struct flock in and out without faulting ---------------------
 * The kernel answers EFAULT for a bad pointer; reading it here must not
 * crash the program instead. A pointer into this thread's stack above the
 * current frame cannot fault (the common case: a local struct flock);
 * anything else is copied with process_vm_readv/writev, which fail with
 * EFAULT where the kernel would. */
static uintptr_t main_lo, main_hi;
static pthread_t main_thread;

/* The main thread's stack, from the constructor: pthread_getattr_np()
 * allocates and takes locks, so it must never run where a signal handler
 * may have interrupted malloc. */
static void stack_init(void)
{
	pthread_attr_t attr;
	void *addr;
	size_t size;

	main_thread = pthread_self();
	if (pthread_getattr_np(main_thread, &attr))
		return;
	if (pthread_attr_getstack(&attr, &addr, &size) == 0) {
		main_lo = (uintptr_t)addr;
		main_hi = main_lo + size;
	}
	pthread_attr_destroy(&attr);
}

/*
 * Whether [p, p + len) lies in the calling thread's stack between the
 * current frame and the stack's top, which is mapped. For threads glibc
 * made, the thread descriptor (pthread_self()) sits right above the stack
 * in the same mapping, whether glibc allocated the stack or the program
 * gave it; the main thread's bounds come from the constructor. On an
 * alternate signal stack (sp outside those bounds) the answer is no.
 */
static int on_my_stack(const void *p, size_t len)
{
	uintptr_t a = (uintptr_t)p, sp = (uintptr_t)__builtin_frame_address(0);
	uintptr_t lo, hi;
	pthread_t self = pthread_self();

	if (pthread_equal(self, main_thread)) {
		lo = main_lo;
		hi = main_hi;
	} else {
		hi = (uintptr_t)self;
		lo = hi > (64u << 20) ? hi - (64u << 20) : 0;
	}
	if (sp < lo || sp >= hi)
		return 0;
	return a >= sp && a < hi && len <= hi - a;
}

static int copy_in(void *dst, const void *src, size_t len)
{
	struct iovec l = {dst, len}, r = {(void *)src, len};

	if (!src)
		return -EFAULT;
	if (on_my_stack(src, len)) {
		memcpy(dst, src, len);
		return 0;
	}
	if (syscall(SYS_process_vm_readv, getpid(), &l, 1, &r, 1, 0) ==
	    (long)len)
		return 0;
	return errno == ENOSYS || errno == EPERM ? (memcpy(dst, src, len), 0)
						 : -EFAULT;
}

static int copy_out(void *dst, const void *src, size_t len)
{
	struct iovec l = {(void *)src, len}, r = {dst, len};

	if (on_my_stack(dst, len)) {
		memcpy(dst, src, len);
		return 0;
	}
	if (syscall(SYS_process_vm_writev, getpid(), &l, 1, &r, 1, 0) ==
	    (long)len)
		return 0;
	return errno == ENOSYS || errno == EPERM ? (memcpy(dst, src, len), 0)
						 : -EFAULT;
}

/* ---- the lock commands ---------------------------------------------------- */

/* A request, resolved as the kernel resolves it. */
struct req {
	int fd, cmd, type; /* LSR_* */
	int64_t start, end;
	struct stat st; /* filled for descriptors not tracked yet */
	int accmode;
	int tracked;
	struct flock fl; /* the caller's struct, copied in */
	pid_t blocker;   /* WAIT_LOCAL: the thread we wait for */
	int in_process;  /* F_GETLK answered with another holder of ours */
	uint64_t blk, req_id; /* WAIT_LOCAL: holders, blocking and ours */
	struct flock *ufl; /* the caller's pointer */
	unsigned gen;    /* WAIT_LOCAL: local_gen seen under the mutex */
};

static int lsr_type_of(short t)
{
	switch (t) {
	case F_RDLCK:
		return LSR_RDLCK;
	case F_WRLCK:
		return LSR_WRLCK;
	case F_UNLCK:
		return LSR_UNLCK;
	}
	return -1;
}

/* The kernel's order after the copy (EFAULT): for F_GETLK the type, then
 * whence and range (EINVAL, EOVERFLOW), the type, the access mode of the
 * descriptor (EBADF). */
static int resolve(struct req *r)
{
	const struct flock *fl = &r->fl;
	int64_t base = 0;
	struct stat st;
	int err;

	r->type = lsr_type_of(fl->l_type);
	if (r->cmd == F_GETLK && r->type != LSR_RDLCK && r->type != LSR_WRLCK)
		return -EINVAL;
	switch (fl->l_whence) {
	case SEEK_SET:
		break;
	case SEEK_CUR:
		/* The program's own offset, not the anchor's. */
		base = lseek(r->fd, 0, SEEK_CUR);
		if (base < 0)
			return -errno;
		break;
	case SEEK_END:
		if (fstat(r->fd, &st) < 0)
			return -errno;
		base = st.st_size;
		break;
	default:
		return -EINVAL;
	}
	err = lsr_resolve(base, fl->l_start, fl->l_len, &r->start, &r->end);
	if (err)
		return err;
	if (r->type < 0)
		return -EINVAL;
	if (r->cmd == F_GETLK)
		return 0;
	if (r->type == LSR_RDLCK && r->accmode == O_WRONLY)
		return -EBADF;
	if (r->type == LSR_WRLCK && r->accmode == O_RDONLY)
		return -EBADF;
	return 0;
}

static void note_fallback(struct ls_file *f, const char *why, int err)
{
	if (f->fallback)
		return;
	log_count(LOGC_FALLBACKS, 1);
	log_note("fallback to plain POSIX locks for dev %lu:%lu ino %lu: %s%s%s",
		 (unsigned long)major(f->t.key.dev),
		 (unsigned long)minor(f->t.key.dev),
		 (unsigned long)f->t.key.ino, why, err ? ": " : "",
		 err ? strerror(err) : "");
}

/*
 * The anchor must carry a write lock: reopen it for writing (a read-only
 * description cannot hold one). The read locks move first: read locks of
 * two descriptions do not conflict, so the new anchor takes them all
 * before the old one closes and no other process can slip in between.
 */
static int anchor_upgrade(struct ls_file *f, int fd)
{
	struct lsr_node *stack[128];
	int nfd, n = 0, err = 0;
	struct lsr_node *it;

	nfd = anchor_open(f, fd, 1);
	if (nfd < 0)
		return nfd;
	fdstate_set_ofd(nfd, (struct ls_ofd *)f);
	/* In-order walk of the map: every range is a read lock here. */
	it = f->t.map.root;
	while ((it || n) && !err) {
		while (it && n < 128) {
			stack[n++] = it;
			it = it->left;
		}
		if (it) {
			err = -ENOLCK; /* too deep to walk: give up */
			break;
		}
		it = stack[--n];
		if (prot_ofd_lock(nfd, F_OFD_SETLK, it->type, it->start, it->end) < 0)
			err = -errno;
		it = it->right;
	}
	if (err || anchor_own_posix(f->anchor)) {
		fdstate_set(nfd, FD_NONE);
		fdstate_set_ofd(nfd, NULL);
		raw_close(nfd);
		return err ? err : -EDEADLK;
	}
	fdstate_set(f->anchor, FD_NONE);
	fdstate_set_ofd(f->anchor, NULL);
	raw_close(f->anchor);
	f->anchor = nfd;
	f->anchor_rw = 1;
	return 0;
}

/*
 * Make the file use plain POSIX locks through the program's descriptors
 * from now on: because an anchor cannot be had, or because the process
 * holds POSIX locks on the file taken past the interposer (an OFD lock and
 * a POSIX lock conflict even within one process). The ranges the anchor
 * held move to the program's descriptor.
 */
static void go_fallback(struct ls_file *f, int fd, const char *why, int err)
{
	struct lsr_node *it;

	note_fallback(f, why, err);
	f->fallback = 1;
	while ((it = f->t.map.root) != NULL) {
		int64_t s = it->start, e = it->end;
		int t = it->type;

		if (f->anchor >= 0)
			prot_ofd_lock(f->anchor, F_OFD_SETLK, LSR_UNLCK, s, e);
		prot_ofd_lock(fd, F_SETLK, t, s, e);
		lsr_set_apply(&f->t.map, prot_pool(), s, e, LSR_UNLCK);
	}
	lst_file_clear(&f->t, prot_pool());
	prot_held_sync(f);
}

/* Is the conflict that refused the anchor's request our own POSIX lock? */
static int refused_by_self(int afd, const struct req *r)
{
	struct flock fl;

	memset(&fl, 0, sizeof(fl));
	fl.l_type = (short)(r->type == LSR_WRLCK ? F_WRLCK : F_RDLCK);
	fl.l_whence = SEEK_SET;
	fl.l_start = r->start;
	fl.l_len = r->end == LSR_OFF_MAX ? 0 : r->end - r->start + 1;
	if (real_fcntl(afd, F_OFD_GETLK, &fl) < 0)
		return 0;
	return fl.l_type != F_UNLCK && fl.l_pid == getpid();
}

enum { DONE, WAIT, PASS, WAIT_LOCAL, OBSERVE };

static pid_t holder_tid(struct ls_file *f, uint64_t id)
{
	struct ls_ofd *o;

	for (o = f->ofds; o; o = o->fnext)
		if (o->id == id)
			return o->last_tid;
	return 0;
}

static void unwait(void *arg)
{
	pid_t me = *(pid_t *)arg;

	pthread_mutex_lock(&waits_mu);
	for (size_t i = 0; i < sizeof(waits) / sizeof(waits[0]); i++)
		if (waits[i].tid == me)
			waits[i].tid = 0;
	pthread_mutex_unlock(&waits_mu);
	atomic_fetch_sub(&local_waiters, 1);
}

/* Would a wait by me, through holder req, for holder blk (last locked
 * through by blk_tid) never end? waits_mu held. */
static int local_cycle(pid_t me, uint64_t req, uint64_t blk, pid_t blk_tid)
{
	size_t i, n = sizeof(waits) / sizeof(waits[0]);
	pid_t t = blk_tid;
	uint64_t h = blk;
	int steps;

	/* Threads: the one that must let go is me, or waits for me. */
	for (steps = 0; t && steps < 10; steps++) {
		pid_t next = 0;

		if (t == me)
			return 1;
		for (i = 0; i < n; i++)
			if (waits[i].tid == t)
				next = waits[i].blk_tid;
		t = next;
	}
	/* Holders: blk waits for ... for req. */
	for (steps = 0; h && steps < 10; steps++) {
		uint64_t next = 0;

		if (h == req)
			return 1;
		for (i = 0; i < n; i++)
			if (waits[i].tid && waits[i].req == h)
				next = waits[i].blk;
		h = next;
	}
	return 0;
}

static int local_wait(uint64_t req, uint64_t blk, pid_t blk_tid,
		      unsigned gen)
{
	pid_t me = my_tid();
	int r, oldtype, oldstate;
	size_t i, n = sizeof(waits) / sizeof(waits[0]);

	pthread_mutex_lock(&waits_mu);
	if (local_cycle(me, req, blk, blk_tid)) {
		pthread_mutex_unlock(&waits_mu);
		return -EDEADLK;
	}
	for (i = 0; i < n; i++)
		if (!waits[i].tid) {
			waits[i].tid = me;
			waits[i].req = req;
			waits[i].blk = blk;
			waits[i].blk_tid = blk_tid;
			break;
		}
	pthread_mutex_unlock(&waits_mu);
	atomic_fetch_add(&local_waiters, 1);
	pthread_cleanup_push(unwait, &me);
	pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, &oldstate);
	pthread_setcanceltype(PTHREAD_CANCEL_ASYNCHRONOUS, &oldtype);
	r = (int)syscall(SYS_futex, &local_gen, FUTEX_WAIT_PRIVATE, gen, NULL,
			 NULL, 0);
	pthread_setcanceltype(oldtype, &oldtype);
	pthread_setcancelstate(oldstate, &oldstate);
	r = r < 0 && errno == EINTR ? -EINTR : 0;
	pthread_cleanup_pop(1);
	return r;
}

/* One attempt at a set request, f->mu held. Returns DONE with *res set,
 * WAIT when F_SETLKW must wait, PASS to hand the call to the kernel. */
static int setlk_try(struct ls_file *f, struct ls_ofd *o, struct req *r,
		     int *res)
{
	struct lsr_pool *p = prot_pool();
	int err;

	if (f->fallback || f->pol.mode == MODE_OFF)
		return PASS;
	if (f->pol.mode == MODE_OBSERVE) {
		observe_unseen(f);
		return OBSERVE;
	}
	if (r->type == LSR_UNLCK) {
		if (f->anchor < 0)
			return PASS; /* nothing of ours: as plain POSIX */
		if (lst_prepare_unlock(&f->t, p) < 0) {
			*res = -ENOLCK;
			return DONE;
		}
		if (prot_ofd_lock(f->anchor, F_OFD_SETLK, LSR_UNLCK, r->start,
			     r->end) < 0) {
			*res = -errno;
			return DONE;
		}
		lst_unlock(&f->t, p, r->start, r->end);
		prot_held_sync(f);
		local_wake();
		*res = 0;
		return DONE;
	}
	if (f->pol.conflicts_fd) {
		struct lst_conflict cf;

		if (lst_conflict(&f->t, o->id, r->start, r->end, r->type,
				 &cf)) {
			if (r->cmd != F_SETLKW) {
				*res = -EAGAIN;
				return DONE;
			}
			r->blocker = holder_tid(f, cf.holder);
			r->blk = cf.holder;
			r->req_id = o->id;
			r->gen = atomic_load(&local_gen);
			return WAIT_LOCAL;
		}
	}
	if (f->anchor < 0) {
		/* Opening and closing a descriptor drops POSIX locks
		 * taken past us: check before the first anchor. */
		if (anchor_own_posix(r->fd)) {
			go_fallback(f, r->fd, "the process holds POSIX locks "
				    "taken past the shim", 0);
			return PASS;
		}
		err = anchor_open(f, r->fd, r->type == LSR_WRLCK);
		if (err < 0) {
			go_fallback(f, r->fd, "no anchor", -err);
			return PASS;
		}
		fdstate_set_ofd(err, (struct ls_ofd *)f);
		f->anchor = err;
		f->anchor_rw = r->type == LSR_WRLCK;
	} else if (r->type == LSR_WRLCK && !f->anchor_rw) {
		err = anchor_upgrade(f, r->fd);
		if (err < 0) {
			go_fallback(f, r->fd, "no anchor for writing", -err);
			return PASS;
		}
	}
	if (lst_prepare_lock(&f->t, p, o->id) < 0) {
		*res = -ENOLCK;
		return DONE;
	}
	if (prot_ofd_lock(f->anchor, F_OFD_SETLK, r->type, r->start, r->end) == 0) {
		lst_lock(&f->t, p, o->id, r->start, r->end, r->type);
		prot_held_sync(f);
		log_count(LOGC_LOCKS, 1);
		o->last_tid = my_tid();
		if (atomic_load(&local_waiters))
			local_wake(); /* a conversion may free readers */
		*res = 0;
		return DONE;
	}
	err = errno;
	if (err == EAGAIN && refused_by_self(f->anchor, r)) {
		go_fallback(f, r->fd, "the process holds POSIX locks taken "
			    "past the shim", 0);
		return PASS;
	}
	if (err == EAGAIN && r->cmd == F_SETLKW)
		return WAIT;
	if (err != EAGAIN && err != ENOLCK && err != EINTR) {
		/* The filesystem refuses OFD locks. */
		go_fallback(f, r->fd, "the filesystem refuses OFD locks", err);
		return PASS;
	}
	*res = -err;
	return DONE;
}

struct waiter {
	struct ls_file *f;
	int dupfd;
	int published; /* a wait entry for deadlock.c */
	int granted;   /* the caller unpins f (file_unpin) */
};

/* prot_lock held for writing. */
static void file_unpin(struct ls_file *f)
{
	f->refs--;
	file_maybe_retire(f);
}

static void waiter_done(void *arg)
{
	struct waiter *w = arg;
	struct crit c;

	if (w->published)
		dl_wait_end();
	crit_enter(&c, 1);
	if (w->dupfd >= 0) {
		fdstate_set(w->dupfd, FD_NONE);
		fdstate_set_ofd(w->dupfd, NULL);
		raw_close(w->dupfd);
		w->dupfd = -1;
	}
	if (!w->granted)
		file_unpin(w->f);
	crit_leave(&c);
}

/*
 * F_SETLKW when the lock is not free: wait on a private dup of the anchor
 * with no lock of ours held, the file pinned so that its entry stays. The
 * kernel grants the dup's description, which is the anchor's unless the
 * anchor was reopened meanwhile; either way the request is then applied
 * again on the current anchor under the mutex, so the table and the
 * kernel agree in the order the mutex gives. The caller pinned f (refs)
 * before it let go of the locks; a failed wait unpins it, a granted one
 * (0) leaves the pin to the caller (file_unpin).
 */
static int setlk_wait(struct ls_file *f, struct req *r)
{
	struct waiter w = {.f = f, .dupfd = -1};
	struct crit c;
	int res, oldtype, oldstate;

	crit_enter(&c, 1);
	w.dupfd = anchor_dup(f->anchor);
	if (w.dupfd < 0)
		errno = -w.dupfd;
	if (w.dupfd >= 0) {
		fdstate_set(w.dupfd, FD_ANCHOR);
		fdstate_set_ofd(w.dupfd, (struct ls_ofd *)f);
	}
	crit_leave(&c);
	if (w.dupfd < 0) {
		res = -errno;
		waiter_done(&w);
		return res;
	}
	/* Plain POSIX would fail a lock-order cycle with EDEADLK; OFD
	 * locks would wait forever (deadlock.c). Not cancelled inside: it
	 * holds deadlock.c's mutex around calls that are cancellation
	 * points, and no cleanup is pushed yet. */
	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &oldstate);
	res = dl_wait_begin(f->t.key.dev, f->t.key.ino, r->start, r->end,
			    r->type);
	pthread_setcancelstate(oldstate, &oldtype);
	if (res < 0) {
		waiter_done(&w);
		return res;
	}
	w.published = 1;
	pthread_cleanup_push(waiter_done, &w);
	pthread_setcanceltype(PTHREAD_CANCEL_DEFERRED, &oldtype);
	res = prot_ofd_lock(w.dupfd, F_OFD_SETLKW, r->type, r->start, r->end);
	res = res < 0 ? -errno : 0;
	w.granted = res == 0;
	pthread_cleanup_pop(1);
	return res;
}

/*
 * Make the kernel lock on [start, end] match the table again after a
 * grant that did not count: its descriptor was closed meanwhile, or the
 * attempt that was to record it failed. Bytes the table holds get its
 * type in place and bytes it does not hold are unlocked; never unlock and
 * then relock a byte the table holds, or another process may take it in
 * between.
 */
struct relock_ctx {
	int anchor;
	int64_t pos, end; /* the first byte not yet done, the last */
	int done;
};

static int relock_step(void *arg, int64_t s, int64_t e, int type)
{
	struct relock_ctx *c = arg;

	s = s < c->pos ? c->pos : s;
	e = e > c->end ? c->end : e;
	if (s > c->pos)
		prot_ofd_lock(c->anchor, F_OFD_SETLK, LSR_UNLCK, c->pos, s - 1);
	prot_ofd_lock(c->anchor, F_OFD_SETLK, type, s, e);
	if (e == c->end)
		c->done = 1;
	else
		c->pos = e + 1;
	return c->done;
}

static void resync(struct ls_file *f, int64_t start, int64_t end)
{
	struct relock_ctx c = {f->anchor, start, end, 0};

	/* After a fallback the table is empty and the anchor must hold
	 * nothing: the program's own POSIX lock would wait on it. */
	if (f->anchor < 0)
		return;
	lsr_set_visit(&f->t.map, start, end, relock_step, &c);
	if (!c.done)
		prot_ofd_lock(f->anchor, F_OFD_SETLK, LSR_UNLCK, c.pos, end);
}

/* Find (or, writing, make) the holder of r->fd; NULL with *err. */
static struct ls_ofd *req_holder(struct req *r, int write, int *err)
{
	struct ls_ofd *o;

	if (r->tracked) {
		o = fdstate_get(r->fd) == FD_TRACKED ? fdstate_ofd(r->fd)
						      : NULL;
		if (!o)
			*err = EBADF; /* closed meanwhile */
		else
			r->accmode = o->accmode;
		return o;
	}
	if (!write) {
		*err = EAGAIN;
		return NULL;
	}
	return ofd_attach(r->fd, &r->st, r->accmode, err);
}

/* mode = observe: the kernel decides, through the program's own
 * descriptor; the table follows. The request goes as the absolute range
 * resolved before: a SEEK_CUR offset shared with another process (after
 * fork) may move between that and the kernel's own reading, and the
 * table must record what the kernel locked. */
static int observe_set(struct req *r)
{
	struct flock fl = r->fl;
	struct ls_ofd *o;
	struct ls_file *f;
	struct crit c;
	int ret;

	fl.l_whence = SEEK_SET;
	fl.l_start = r->start;
	fl.l_len = r->end == LSR_OFF_MAX ? 0 : r->end - r->start + 1;
	ret = real_fcntl(r->fd, r->cmd, &fl);

	if (ret < 0)
		return -errno;
	crit_enter(&c, 0);
	o = fdstate_get(r->fd) == FD_TRACKED ? fdstate_ofd(r->fd) : NULL;
	if (o) {
		struct lsr_pool *p = prot_pool();

		f = o->file;
		fmu_lock(&f->mu);
		if (r->type == LSR_UNLCK) {
			if (lst_prepare_unlock(&f->t, p) == 0)
				lst_unlock(&f->t, p, r->start, r->end);
		} else if (lst_prepare_lock(&f->t, p, o->id) == 0) {
			lst_lock(&f->t, p, o->id, r->start, r->end, r->type);
			log_count(LOGC_LOCKS, 1);
		}
		prot_held_sync(f);
		fmu_unlock(&f->mu);
	}
	crit_leave(&c);
	return 0;
}

/* A grant of f that no attempt recorded goes (resync), and f's pin with
 * it. prot_lock held for writing. */
static void grant_drop(struct ls_file *f, const struct req *r)
{
	fmu_lock(&f->mu);
	resync(f, r->start, r->end);
	fmu_unlock(&f->mu);
	file_unpin(f);
}

static int set_cmd(struct req *r)
{
	struct crit c;
	struct ls_ofd *o = NULL;
	struct ls_file *f, *pinned = NULL;
	int res = 0, what, err = 0, waited = 0;

	for (;;) {
		/* After a grant, pinned is the file it was granted on, still
		 * pinned: the lock is taken for writing to unpin it. */
		crit_enter(&c, !r->tracked || pinned);
		if (pinned && (fdstate_get(r->fd) != FD_TRACKED ||
			       fdstate_ofd(r->fd) != o)) {
			/* The descriptor went away while it waited. */
			grant_drop(pinned, r);
			crit_leave(&c);
			return -EBADF;
		}
		o = req_holder(r, !r->tracked, &err);
		if (!o) {
			if (pinned)
				grant_drop(pinned, r);
			crit_leave(&c);
			return -err;
		}
		r->tracked = 1;
		f = o->file;
		fmu_lock(&f->mu);
		res = waited ? 0 : resolve(r);
		what = res < 0 ? DONE : setlk_try(f, o, r, &res);
		/* The kernel granted the request on the waiter's dup, but
		 * until now the table did not know: a release of another
		 * holder may have unlocked part of it, and another process
		 * taken that part, so that this attempt did not record it.
		 * What is left of the grant must not outlive the call. */
		if (pinned && (what != DONE || res < 0))
			resync(f, r->start, r->end);
		/* setlk_wait() runs with nothing held: the pin keeps f (a
		 * close of the descriptor may release its last holder). */
		if (what == WAIT)
			f->refs++;
		fmu_unlock(&f->mu);
		if (pinned)
			file_unpin(pinned);
		pinned = NULL;
		crit_leave(&c);
		if (what == DONE)
			return res;
		if (what == PASS)
			return 1;
		if (what == OBSERVE)
			return observe_set(r);
		if (what == WAIT_LOCAL) {
			res = local_wait(r->req_id, r->blk, r->blocker,
					 r->gen);
			if (res < 0)
				return res;
			waited = 1;
			continue;
		}
		res = setlk_wait(f, r);
		if (res < 0)
			return res;
		/* Granted to the dup: apply it again on the current anchor
		 * (a no-op when that is the same description), unless the
		 * descriptor went away while it waited. */
		waited = 1;
		pinned = f;
	}
}

/* F_GETLK: our own locks are on the anchor, where F_OFD_GETLK from the
 * anchor cannot see them; another shimmed process's lock is an OFD lock
 * with l_pid -1, whose holder getlk.c finds. */
static int get_cmd(struct req *r, struct flock *out)
{
	struct ls_file *f = NULL;
	struct ls_ofd *o = NULL;
	struct flock fl;
	struct crit c;
	int afd = -1, res;
	dev_t dev = 0;
	ino_t ino = 0;

	crit_enter(&c, 0);
	if (r->tracked) {
		o = fdstate_get(r->fd) == FD_TRACKED ? fdstate_ofd(r->fd)
						      : NULL;
		f = o ? o->file : NULL;
	} else {
		f = (struct ls_file *)lst_table_find(&prot_files, r->st.st_dev,
						     r->st.st_ino);
	}
	res = resolve(r);
	if (f && res == 0) {
		struct lst_conflict cf;

		fmu_lock(&f->mu);
		if (f->pol.conflicts_fd && !f->fallback &&
		    f->pol.mode == MODE_PROTECT &&
		    lst_conflict(&f->t, r->tracked && o ? o->id : 0, r->start,
				 r->end, r->type, &cf)) {
			/* Another holder of this process: its pid. */
			memset(&fl, 0, sizeof(fl));
			fl.l_type = (short)(cf.type == LSR_WRLCK ? F_WRLCK
								 : F_RDLCK);
			fl.l_whence = SEEK_SET;
			fl.l_start = cf.start;
			fl.l_len = cf.end == LSR_OFF_MAX ? 0
							 : cf.end - cf.start + 1;
			fl.l_pid = getpid();
			fmu_unlock(&f->mu);
			crit_leave(&c);
			*out = fl;
			r->in_process = 1;
			return 0;
		}
		if (f->anchor >= 0 && !f->fallback) {
			memset(&fl, 0, sizeof(fl));
			fl.l_type = (short)(r->type == LSR_WRLCK ? F_WRLCK
								 : F_RDLCK);
			fl.l_whence = SEEK_SET;
			fl.l_start = r->start;
			fl.l_len = r->end == LSR_OFF_MAX ? 0
							 : r->end - r->start + 1;
			afd = f->anchor;
			if (real_fcntl(afd, F_OFD_GETLK, &fl) < 0)
				res = -errno;
		}
		fmu_unlock(&f->mu);
	}
	if (f) {
		dev = f->t.key.dev;
		ino = f->t.key.ino;
	}
	crit_leave(&c);
	if (res < 0)
		return res;
	if (afd < 0)
		return 1; /* nothing of ours on it: the kernel answers */
	if (fl.l_type == F_UNLCK) {
		out->l_type = F_UNLCK;
		return 0;
	}
	if (fl.l_pid == -1)
		fl.l_pid = getlk_find_pid(dev, ino, &fl);
	*out = fl;
	return 0;
}

/* F_GETLK answered by the kernel through the program's descriptor: it
 * may still name another shimmed process's anchor, with l_pid -1. The
 * kernel has checked the pointer by then. */
static int getlk_kernel(int fd, struct flock *ufl)
{
	int r = real_fcntl(fd, F_GETLK, ufl), saved = errno;
	struct stat st;

	if (r == 0 && ufl->l_type != F_UNLCK && ufl->l_pid == -1 &&
	    fstat(fd, &st) == 0)
		ufl->l_pid = getlk_find_pid(st.st_dev, st.st_ino, ufl);
	errno = saved;
	return r;
}

/*
 * F_SETLK, F_SETLKW, F_GETLK (and their 64-bit names, the same numbers on
 * LP64). The fast answers first: our own descriptor is EBADF to the
 * program; F_GETLK in a process that holds nothing goes to the kernel.
 */
static int lock_cmd(int fd, int cmd, struct flock *ufl, int *in_process)
{
	struct req r;
	int saved = errno, res, st;

	if (prot_passthrough_now() || config_mode() == MODE_OFF)
		return real_fcntl(fd, cmd, ufl);
	st = fdstate_get(fd);
	if (st == FD_ANCHOR) {
		errno = EBADF;
		return -1;
	}
	if ((unsigned)fd >= fd_state_size)
		return real_fcntl(fd, cmd, ufl);
	if (cmd == F_GETLK && !atomic_load(&prot_active))
		return getlk_kernel(fd, ufl);
	if (cmd == F_SETLKW)
		pthread_testcancel();
	memset(&r, 0, sizeof(r));
	r.fd = fd;
	r.cmd = cmd;
	r.ufl = ufl;
	r.tracked = st == FD_TRACKED;
	if (!r.tracked) {
		int flags;

		if (fstat(fd, &r.st) < 0)
			return -1; /* EBADF before anything else */
		if (!S_ISREG(r.st.st_mode) && !S_ISDIR(r.st.st_mode))
			return real_fcntl(fd, cmd, ufl);
		flags = real_fcntl(fd, F_GETFL, NULL);
		if (flags < 0 || (flags & O_PATH))
			return real_fcntl(fd, cmd, ufl);
		r.accmode = flags & O_ACCMODE;
	}
	res = copy_in(&r.fl, ufl, sizeof(r.fl));
	if (res == 0 && cmd == F_GETLK) {
		struct flock ans = r.fl;

		res = get_cmd(&r, &ans);
		if (res == 0)
			res = copy_out(ufl, &ans, sizeof(ans));
		if (in_process)
			*in_process = r.in_process;
	} else if (res == 0) {
		res = set_cmd(&r);
	}
	if (res == 1)
		return cmd == F_GETLK ? getlk_kernel(fd, ufl)
				      : real_fcntl(fd, cmd, ufl);
	if (res < 0) {
		errno = -res;
		return -1;
	}
	errno = saved;
	return 0;
}

int prot_lock_cmd(int fd, int cmd, struct flock *ufl)
{
	return lock_cmd(fd, cmd, ufl, NULL);
}

/* F_GETLK that also says whether the answer is another holder of this
 * process (conflicts = fd), which lockf(F_TEST) must call busy. */
int prot_getlk(int fd, struct flock *fl, int *in_process)
{
	*in_process = 0;
	return lock_cmd(fd, F_GETLK, fl, in_process);
}

/* ---- descriptors going away ---------------------------------------------- */

static void release_after(struct ls_ofd *o)
{
	struct crit c;

	if (!o)
		return;
	crit_enter(&c, 1);
	ofd_release(o);
	crit_leave(&c);
}

/*
 * Before the real close of fd: detach it from its holder (a tracked fd),
 * so that a number the kernel hands out again never counts for the old
 * holder, and gather what plain POSIX would drop here (observe.c). After
 * it: release the holder, so that fclose()'s flush still runs under the
 * lock, and report.
 */
static struct ls_ofd *close_begin(int fd, struct loss *l, const char *func,
				  void *caller)
{
	struct ls_ofd *o = NULL;
	struct crit c;

	l->active = 0;
	l->n = l->more = 0;
	/* A descriptor adopted as a sibling between the look and the claim
	 * is tracked; one that a sibling scan kept from being claimed is
	 * claimed here, after the scan. */
	if (fdstate_get(fd) == FD_TRACKED || !fdstate_unmark_dup(fd)) {
		int tracked;

		crit_enter(&c, 1);
		tracked = fdstate_get(fd) == FD_TRACKED;
		if (tracked) {
			adopt_siblings(fdstate_ofd(fd));
			loss_tracked(l, fdstate_ofd(fd), fd, func, caller);
			o = ofd_detach(fd);
		} else if (fdstate_get(fd) == FD_DUP) {
			fdstate_set(fd, FD_NONE);
		}
		crit_leave(&c);
		if (tracked)
			return o;
	}
	if (atomic_load_explicit(&watch_closes, memory_order_relaxed))
		loss_untracked(l, fd, func, caller);
	return o;
}

static void close_end(struct ls_ofd *o, struct loss *l, int closed)
{
	int saved = errno;

	release_after(o);
	loss_finish(l, closed);
	errno = saved;
}

int prot_close(int fd, void *caller)
{
	struct ls_ofd *o;
	struct loss l;
	int r;

	if (prot_passthrough_now())
		return real_close(fd);
	pthread_testcancel();
	o = close_begin(fd, &l, "close", caller);
	r = real_close(fd);
	close_end(o, &l, r == 0 || errno != EBADF);
	return r;
}

int prot_fclose(FILE *fp, int fd, void *caller)
{
	struct ls_ofd *o;
	struct loss l;
	int r;

	if (prot_passthrough_now())
		return real.fclose(fp);
	o = close_begin(fd, &l, "fclose", caller);
	r = real.fclose(fp);
	close_end(o, &l, 1);
	return r;
}

int prot_closedir(DIR *d, int fd, void *caller)
{
	struct ls_ofd *o;
	struct loss l;
	int r;

	if (prot_passthrough_now())
		return real.closedir(d);
	o = close_begin(fd, &l, "closedir", caller);
	r = real.closedir(d);
	close_end(o, &l, 1);
	return r;
}

FILE *prot_freopen(const char *path, const char *mode, FILE *fp, int fd,
		   void *caller)
{
	struct ls_ofd *o;
	struct loss l;
	FILE *r;

	if (prot_passthrough_now())
		return real.freopen(path, mode, fp);
	o = close_begin(fd, &l, "freopen", caller);
	r = real.freopen(path, mode, fp);
	close_end(o, &l, 1);
	return r;
}

/* fcloseall() closes every stream inside libc: afterwards, every tracked
 * descriptor that is no longer open on its holder's file was one. */
int prot_fcloseall(void)
{
	int r = real.fcloseall(), saved = errno, max;
	struct crit c;

	if (prot_passthrough_now())
		return r;
	crit_enter(&c, 1);
	max = atomic_load(&fd_state_max);
	for (int fd = 0; fd <= max; fd++) {
		struct ls_ofd *o;
		struct stat st;

		if (fdstate_get(fd) != FD_TRACKED)
			continue;
		o = fdstate_ofd(fd);
		if (fstat(fd, &st) == 0 && st.st_dev == o->file->t.key.dev &&
		    st.st_ino == o->file->t.key.ino)
			continue;
		o = ofd_detach(fd);
		if (o)
			ofd_release(o);
	}
	crit_leave(&c);
	errno = saved;
	return r;
}

/* ---- dups ------------------------------------------------------------------ */

/* r is a new descriptor of fd's description: fd's holder counts it,
 * unless it counts it already (dup2 of a descriptor over another of its
 * own holder closes nothing). prot_lock held for writing. */
static void dup_track(int fd, int r)
{
	struct ls_ofd *o = fdstate_ofd(fd);

	if (r >= 0 && fdstate_get(fd) == FD_TRACKED &&
	    !(fdstate_get(r) == FD_TRACKED && fdstate_ofd(r) == o))
		prot_ofd_map(o, r);
}

/* dup without the lock of an untracked fd, whose first lock won the race
 * to mark it: r joins fd's holder as a dup under the lock would. */
void prot_dup_raced(int fd, int r)
{
	struct crit c;
	int saved = errno;

	crit_enter(&c, 1);
	/* fd may have been closed and its number reused meanwhile */
	if (fdstate_get(fd) == FD_TRACKED && kcmp_same(fd, r))
		dup_track(fd, r);
	else
		fdstate_mark_dup_new(r);
	crit_leave(&c);
	errno = saved;
}

int prot_dup(int fd)
{
	struct crit c;
	int r, saved;

	if (prot_passthrough_now())
		return real_dup(fd);
	crit_enter(&c, 1);
	r = real_dup(fd);
	saved = errno;
	dup_track(fd, r);
	crit_leave(&c);
	errno = saved;
	return r;
}

int prot_dupfd(int fd, int cmd, int arg)
{
	struct crit c;
	int r, saved;

	if (prot_passthrough_now())
		return real_fcntl(fd, cmd, (void *)(long)arg);
	crit_enter(&c, 1);
	r = real_fcntl(fd, cmd, (void *)(long)arg);
	saved = errno;
	dup_track(fd, r);
	crit_leave(&c);
	errno = saved;
	return r;
}

/* Move our descriptor out of the way of a dup2() onto its number. */
static int evict(int fd2)
{
	struct ls_file *f = (struct ls_file *)fdstate_ofd(fd2);
	int nfd = anchor_dup(fd2);

	if (nfd < 0) {
		errno = -nfd;
		return -1;
	}
	fdstate_set(nfd, FD_ANCHOR);
	fdstate_set_ofd(nfd, (struct ls_ofd *)f);
	if (f && f->anchor == fd2)
		f->anchor = nfd;
	fdstate_set(fd2, FD_NONE);
	fdstate_set_ofd(fd2, NULL);
	return 0;
}

int prot_dup2(int fd, int fd2, int flags, int is_dup3, void *caller)
{
	const char *func = is_dup3 ? "dup3" : "dup2";
	struct ls_ofd *gone = NULL, *o;
	struct loss l = {0};
	struct crit c;
	int r, saved;

	if (prot_passthrough_now())
		return is_dup3 ? real_dup3(fd, fd2, flags) : real_dup2(fd, fd2);
	if (fdstate_get(fd) == FD_ANCHOR) {
		errno = EBADF;
		return -1;
	}
	if (fd == fd2)
		return is_dup3 ? real_dup3(fd, fd2, flags) : real_dup2(fd, fd2);
	if (fdstate_get(fd2) == FD_NONE &&
	    atomic_load_explicit(&watch_closes, memory_order_relaxed))
		loss_untracked(&l, fd2, func, caller);
	crit_enter(&c, 1);
	if (fdstate_get(fd2) == FD_ANCHOR && evict(fd2) < 0) {
		saved = errno;
		crit_leave(&c);
		errno = saved;
		return -1;
	}
	o = fdstate_get(fd2) == FD_TRACKED ? fdstate_ofd(fd2) : NULL;
	if (o && fdstate_get(fd) == FD_TRACKED && fdstate_ofd(fd) == o)
		o = NULL; /* a dup of its own description: nothing closes */
	if (o) {
		adopt_siblings(o);
		loss_tracked(&l, o, fd2, func, caller);
	}
	r = is_dup3 ? real_dup3(fd, fd2, flags) : real_dup2(fd, fd2);
	saved = errno;
	if (r >= 0) {
		/* fd2 was closed by the kernel: its holder loses it. */
		if (o)
			gone = ofd_detach(fd2);
		if (fdstate_get(fd) == FD_TRACKED) {
			dup_track(fd, fd2);
		} else {
			fdstate_mark_dup(fd);
			fdstate_mark_dup(fd2);
		}
		if (gone)
			ofd_release(gone);
	}
	crit_leave(&c);
	loss_finish(&l, r >= 0);
	errno = saved;
	return r;
}

/* ---- close_range and closefrom ------------------------------------------ */

/* Closes [first, last] except our descriptors, detaching the program's
 * tracked ones first and releasing them after. */
/* Events asked for: the descriptors in [first, last] the shim does not
 * track are closed too, and one of them may be a locked file's. Only the
 * open ones, from /proc/self/fd. prot_lock held. */
static int watch_range(unsigned first, unsigned last, unsigned max,
		       struct loss *loss, int nloss, const char *func,
		       void *caller)
{
	struct dirent *de;
	DIR *d;

	(void)max;
	d = opendir("/proc/self/fd");
	if (!d)
		return nloss;
	while (nloss < 4 && (de = readdir(d)) != NULL) {
		char *end;
		long fd = strtol(de->d_name, &end, 10);

		if (*end || fd < (long)first || fd > (long)last ||
		    fd == dirfd(d) || fdstate_get((int)fd) != FD_NONE)
			continue;
		loss[nloss].active = 0;
		loss[nloss].n = loss[nloss].more = 0;
		loss_untracked_locked(&loss[nloss], (int)fd, func, caller);
		nloss += loss[nloss].active;
	}
	real.closedir(d);
	return nloss;
}

int prot_close_range(unsigned first, unsigned last, int flags,
		     const char *func, void *caller)
{
	struct ls_ofd *gone = NULL;
	unsigned max, lo, fd;
	struct loss loss[4];
	int r = 0, saved, nloss = 0;
	struct crit c;

	if (prot_passthrough_now() || !atomic_load(&prot_active) ||
	    (flags & CLOSE_RANGE_CLOEXEC) || first > last)
		return real_close_range(first, last, flags);
	if (atomic_load(&fd_state_max) < 0)
		return real_close_range(first, last, flags);
	crit_enter(&c, 1);
	max = (unsigned)atomic_load(&fd_state_max);
	if (atomic_load_explicit(&watch_closes, memory_order_relaxed))
		nloss = watch_range(first, last, max, loss, nloss, func,
				    caller);
	lo = first;
	for (fd = first; fd <= last && fd <= max; fd++) {
		int st = fdstate_get((int)fd);

		if (st == FD_TRACKED) {
			struct ls_ofd *o;

			adopt_siblings(fdstate_ofd((int)fd));
			if (nloss < 4) {
				loss[nloss].active = 0;
				loss[nloss].n = loss[nloss].more = 0;
				loss_tracked(&loss[nloss], fdstate_ofd((int)fd),
					     (int)fd, func, caller);
				nloss += loss[nloss].active;
			}
			o = ofd_detach((int)fd);

			if (o) {
				o->fnext = gone;
				gone = o;
			}
		} else if (st == FD_DUP) {
			fdstate_set((int)fd, FD_NONE);
		} else if (st == FD_ANCHOR) {
			if (fd > lo && real_close_range(lo, fd - 1, flags) < 0)
				r = -1;
			lo = fd + 1;
		}
	}
	if (lo <= last && lo >= first && real_close_range(lo, last, flags) < 0)
		r = -1;
	saved = errno;
	while (gone) {
		struct ls_ofd *next = gone->fnext;

		ofd_release(gone);
		gone = next;
	}
	crit_leave(&c);
	for (int i = 0; i < nloss; i++)
		loss_finish(&loss[i], r == 0);
	errno = saved;
	return r;
}

void prot_closefrom(int lowfd, void *caller)
{
	int saved = errno;

	if (lowfd < 0)
		lowfd = 0;
	prot_close_range((unsigned)lowfd, ~0U, 0, "closefrom", caller);
	errno = saved;
}

/* ---- fork ---------------------------------------------------------------- */

static void forget_table(void);

/*
 * The child owns none of its parent's locks (POSIX) and must not keep
 * the parent's anchors: its copies hold the parent's OFD locks. Other
 * threads of the parent may have been inside the shim when it forked, so
 * the child trusts none of the locks or lists: it closes the anchors,
 * read from the plain byte array, in runs of consecutive numbers, and
 * starts with an empty table (the old one is left behind, unused).
 */
static void atfork_child(void)
{
	int max = atomic_load(&fd_state_max), run = -1;

	for (int fd = 0; fd <= max + 1; fd++) {
		int anchor = fd <= max && fdstate_get(fd) == FD_ANCHOR;

		if (anchor && run < 0)
			run = fd;
		if (!anchor && run >= 0) {
			if (real_close_range((unsigned)run, (unsigned)fd - 1,
					     0) < 0)
				for (int a = run; a < fd; a++)
					raw_close(a);
			run = -1;
		}
	}
	prot_lock = (pthread_rwlock_t)PTHREAD_RWLOCK_INITIALIZER;
	fdstate_reset(1);
	forget_table();
	anchor_band_reset();
	dl_forget();
	prot_owner = getpid();
	my_tid_cache = 0;
	local_waiters = 0;
	waits_mu = (pthread_mutex_t)PTHREAD_MUTEX_INITIALIZER;
	memset(waits, 0, sizeof(waits));
	atomic_store(&vfork_seen, 0);
	atomic_store(&sib_scan.active, 0); /* a scan the fork cut short */
	shim_busy = 0;
}

/* Free every entry and holder (prot_lock held for writing; the anchors
 * are the caller's), then forget as prot_forget() does. */
void prot_forget_free(void)
{
	struct lst_file *lf;
	size_t i;

	for (i = 0; (lf = lst_table_next(&prot_files, &i));) {
		struct ls_file *f = (struct ls_file *)lf;
		struct ls_ofd *o, *next;

		for (o = f->ofds; o; o = next) {
			next = o->fnext;
			slab_put(&ofd_slab, o);
		}
		lst_file_clear(&f->t, prot_pool());
		slab_put(&file_slab, f);
	}
	lst_table_free(&prot_files);
	prot_forget();
}

/* Start over with an empty table; what was there is left behind, unused
 * (another thread may have been changing it). */
static void forget_table(void)
{
	lst_table_init(&prot_files);
	atomic_store(&prot_active, 0);
}

void prot_forget(void)
{
	fdstate_reset(0);
	forget_table();
}

void prot_init(void)
{
	stack_init();
	prot_owner = getpid();
	pthread_atfork(NULL, NULL, atfork_child);
}
