/*
 * shim/shim.h: what the parts of the preload library share.
 *
 * interpose.c  the exported wrappers: read the arguments, take the fast
 *              path or call one function of the policy, return.
 * real.c       the real libc functions (dlsym RTLD_NEXT), raw syscalls
 *              while they are not resolved yet.
 * fdstate.c    the per-fd state array that the fast paths read.
 * protect.c    the policy: the lock table, holders, closes, dups, fork.
 * anchor.c     the anchor descriptors that carry the kernel locks.
 * getlk.c      F_GETLK: the holder's pid behind an OFD lock.
 * log.c        notes to the log.
 */
#ifndef LOCKSPACE_SHIM_H
#define LOCKSPACE_SHIM_H

#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <dirent.h>
#include <sys/types.h>

#include "config.h"
#include "log.h"
#include "table.h"

#define SHIM_EXPORT __attribute__((visibility("default")))
#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

/* ---- real.c ------------------------------------------------------------ */
struct real_fns {
	int (*fcntl)(int, int, ...);
	int (*close)(int);
	int (*fclose)(FILE *);
	int (*fcloseall)(void);
	FILE *(*freopen)(const char *, const char *, FILE *);
	int (*closedir)(DIR *);
	int (*dup)(int);
	int (*dup2)(int, int);
	int (*dup3)(int, int, int);
	int (*close_range)(unsigned, unsigned, int);
	void (*closefrom)(int);
};
extern struct real_fns real;
void real_init(void);
/* The real calls; raw syscalls while dlsym has not answered yet. */
int real_fcntl(int fd, int cmd, void *arg);
int real_close(int fd);
int real_dup(int fd);
int real_dup2(int fd, int fd2);
int real_dup3(int fd, int fd2, int flags);
int real_close_range(unsigned first, unsigned last, int flags);
/* Close without being a cancellation point and without errno change. */
void raw_close(int fd);

/* ---- fdstate.c ----------------------------------------------------------
 * One byte per descriptor number, read with a relaxed load on every close,
 * dup and non-lock fcntl. 0: nothing of ours (the fast path). Changed only
 * with prot_lock held for writing. */
enum {
	FD_NONE = 0,
	FD_TRACKED = 1, /* a program fd of a holder (struct ls_ofd) */
	FD_ANCHOR = 2,  /* ours; the program must never meet it */
	FD_DUP = 3,     /* not tracked, but shares its description with
			 * another descriptor (a dup made while untracked) */
};
struct ls_ofd;
extern _Atomic(uint8_t) *fd_state;
extern size_t fd_state_size;
extern _Atomic int fd_state_max; /* highest non-zero entry, or -1 */
void fdstate_init(void);
static inline int fdstate_get(int fd)
{
	if ((unsigned)fd >= fd_state_size || !fd_state)
		return FD_NONE;
	return atomic_load_explicit(&fd_state[fd], memory_order_relaxed);
}
void fdstate_set(int fd, int state); /* prot_lock held for writing */
void fdstate_raise_max(int fd);

/* FD_TRACKED for a first lock through fd (prot_lock held for writing),
 * by exchange: the state before. */
int fdstate_track(int fd);

/* FD_NONE -> FD_DUP, without the lock (dup, dup2, F_DUPFD of a descriptor
 * with nothing of ours): a compare-and-swap, so that a first lock through
 * fd in another thread (FD_TRACKED) is never overwritten. 0 when that
 * first lock came first: the new descriptor must join its holder
 * (prot_dup_raced). */
static inline int fdstate_mark_dup(int fd)
{
	uint8_t st;

	if ((unsigned)fd >= fd_state_size || !fd_state)
		return 1;
	st = atomic_load_explicit(&fd_state[fd], memory_order_relaxed);
	if (st == FD_NONE &&
	    atomic_compare_exchange_strong(&fd_state[fd], &st, FD_DUP)) {
		fdstate_raise_max(fd);
		return 1;
	}
	return st != FD_TRACKED;
}

/* A number the kernel has just handed out: no other thread can lock
 * through it yet, so a plain store does. */
static inline void fdstate_mark_dup_new(int fd)
{
	if ((unsigned)fd >= fd_state_size || !fd_state ||
	    atomic_load_explicit(&fd_state[fd], memory_order_relaxed))
		return;
	atomic_store_explicit(&fd_state[fd], FD_DUP, memory_order_relaxed);
	fdstate_raise_max(fd);
}

/*
 * A sibling scan (prot_ofd_track_dups) reads the numbers in order while
 * other threads dup and close FD_DUP descriptors without the lock: a dup
 * moved from a number not yet read to one already read (dup2 or dup to
 * the lower number, then close the old one) would be missed, and its
 * holder released while the dup still holds the description. So while
 * a scan runs (active), a claim of an FD_DUP descriptor takes the locked
 * path, which waits for the scan; a claim that looked before the scan
 * began and swaps after says so (moved), and the scan goes again. Both
 * sides write, then read (the swap and the flag; the flag and the
 * states), so one of them sees the other, and each such claim makes at
 * most one more pass. Written only while a scan runs: the close path
 * only reads it.
 */
struct sib_scan {
	atomic_int active;
	atomic_uint moved;
} __attribute__((aligned(64)));
extern struct sib_scan sib_scan;

static inline void sib_scan_note(void)
{
	if (unlikely(atomic_load(&sib_scan.active)))
		atomic_fetch_add(&sib_scan.moved, 1);
}

/* Claim fd for a close (or a dup2 over it) that skips the lock:
 * FD_DUP -> FD_NONE by compare-and-swap. 0 when fd is FD_TRACKED: a close
 * of another descriptor of its description adopted it (adopt_siblings,
 * the other side of the same swap), and the caller must take the tracked
 * path instead. Either the adoption or the claim wins, never both. 0 also
 * while a sibling scan runs: the locked path claims it after the scan. */
static inline int fdstate_unmark_dup(int fd)
{
	uint8_t st;

	if ((unsigned)fd >= fd_state_size || !fd_state)
		return 1;
	/* a load first: fclose() of a stream of ours comes here untracked */
	st = atomic_load_explicit(&fd_state[fd], memory_order_relaxed);
	if (st != FD_DUP)
		return st != FD_TRACKED;
	if (unlikely(atomic_load(&sib_scan.active)))
		return 0;
	if (atomic_compare_exchange_strong(&fd_state[fd], &st, FD_NONE)) {
		sib_scan_note();
		return 1;
	}
	return st != FD_TRACKED;
}
/* Under prot_lock for writing: FD_DUP -> FD_TRACKED for o (the other side
 * of fdstate_unmark_dup()). 0 when a close claimed fd first. */
int fdstate_adopt_dup(int fd, struct ls_ofd *o);
struct ls_ofd *fdstate_ofd(int fd);
void fdstate_set_ofd(int fd, struct ls_ofd *ofd);
void fdstate_reset(int keep_dups); /* forget holders (and dups) */
void prot_init(void);
extern atomic_int vfork_seen;

/* ---- protect.c ------------------------------------------------------------
 *
 * A file's mutex in one word, where a pthread_mutex_t takes 40 bytes of
 * every locked file: 0 free, 1 taken, 2 taken and maybe waited for (a
 * futex, Drepper's "Futexes Are Tricky", mutex 3). Keeps errno. */
struct fmu {
	atomic_uint v;
};
void fmu_lock(struct fmu *m);
void fmu_unlock(struct fmu *m);

/* struct ls_file: one locked file. Invariants:
 *   - anchor >= 0 exactly when the file has a held range, or a holder
 *     (struct ls_ofd) whose descriptors are open, or a waiter (pins);
 *     the anchor's OFD locks are exactly t.map, unless fallback is set,
 *     when the program's own descriptors carry plain POSIX locks.
 *   - anchor_rw: the anchor was opened for writing; set only once a write
 *     lock was asked for through a descriptor with write access.
 *   - fallback, once set, stays for the life of the process (its note
 *     is given once).
 * Locks: prot_lock (rwlock) for reading keeps the file and its holders
 * alive; mu guards the fields below it and the ranges in t. Order:
 * prot_lock, then mu; never block in the kernel holding either. 72
 * bytes: one is allocated for every locked file (bench row 7).
 */
struct ls_file {
	struct lst_file t;
	struct fmu mu;
	int anchor;
	unsigned refs;       /* holders (struct ls_ofd), including one being
			      * released, and F_SETLKW waiters (pins) */
	struct policy pol;   /* from the path, when the entry is made */
	/* Flags, a byte each (bit-fields would share a memory location
	 * between fields that different locks guard). */
	uint8_t anchor_rw;
	uint8_t fallback;
	uint8_t held;        /* the map is not empty (summary counter) */
	struct ls_ofd *ofds; /* the holders, linked through fnext */
};

/* A holder: one open file description of the program, as far as the shim
 * has seen it. Freed when its last tracked descriptor closes. */
struct ls_ofd {
	struct ls_file *file;
	uint64_t id;
	struct ls_ofd *fnext; /* the other holders of the file */
	unsigned ndesc; /* tracked descriptors that refer to it */
	int fd;         /* one of them, for kcmp */
	pid_t last_tid; /* thread that last locked through it */
	uint8_t accmode;  /* O_RDONLY, O_WRONLY or O_RDWR */
	uint8_t keep;     /* exec.c scratch: has a descriptor kept (1),
			   * and goes over with its file's ranges (2) */
	uint8_t siblings; /* may have untracked dups (FD_DUP) */
};

/* What exec.c shares of protect.c's state (see the locking comment at the
 * top of protect.c). */
struct crit {
	int cancel;
	int write;
};
extern pthread_rwlock_t prot_lock;
extern struct lst_table prot_files;
extern pid_t prot_owner;
void crit_enter(struct crit *c, int write);
void crit_leave(struct crit *c);
int prot_passthrough_now(void);
struct lsr_pool *prot_pool(void);
int prot_ofd_lock(int afd, int cmd, int type, int64_t start, int64_t end);
/* The entry of (dev, ino), made with the policy of fd's path if new. */
struct ls_file *prot_file_get(dev_t dev, ino_t ino, int fd);
void file_maybe_retire(struct ls_file *f);
struct ls_ofd *prot_ofd_adopt(struct ls_file *f, int accmode, int fd);
void prot_ofd_map(struct ls_ofd *o, int fd);
void prot_ofd_track_dups(struct ls_ofd *o);
void prot_forget(void);
void prot_forget_free(void);
void exec_adopt(void);

int prot_lock_cmd(int fd, int cmd, struct flock *fl);
int prot_getlk(int fd, struct flock *fl, int *in_process);
int prot_close(int fd, void *caller);
int prot_fclose(FILE *f, int fd, void *caller);
int prot_closedir(DIR *d, int fd, void *caller);
int prot_fcloseall(void);
FILE *prot_freopen(const char *path, const char *mode, FILE *f, int fd,
		   void *caller);
int prot_dup(int fd);
void prot_dup_raced(int fd, int r);
int prot_dup2(int fd, int fd2, int flags, int is_dup3, void *caller);
void prot_held_sync(struct ls_file *f);
/* lst_release()'s callback: unlock a freed range on f's anchor. */
void prot_unlock_freed(void *f, int64_t start, int64_t end);
int prot_dupfd(int fd, int cmd, int arg);
int prot_close_range(unsigned first, unsigned last, int flags,
		     const char *func, void *caller);
void prot_closefrom(int lowfd, void *caller);
extern atomic_int prot_active; /* the process holds or tracks anything */

/* ---- observe.c ---------------------------------------------------------------
 * Ranges a close drops under plain POSIX that the contract keeps. Gathered
 * before the real close, reported (and, in observe mode, forgotten) after
 * it by loss_finish(). */
#define LOSS_MAX 16
struct loss {
	int active, observe;
	dev_t dev;
	ino_t ino;
	int fd;
	const char *func;
	void *caller;
	size_t n, more;
	struct {
		int fd;
		int type;
		int64_t start, end;
	} r[LOSS_MAX];
	char path[256];
};
extern atomic_int watch_closes; /* closes of untracked fds are looked at */
void loss_tracked(struct loss *l, struct ls_ofd *o, int fd, const char *func,
		  void *caller);
void loss_untracked(struct loss *l, int fd, const char *func, void *caller);
void loss_untracked_locked(struct loss *l, int fd, const char *func,
			   void *caller);
void loss_finish(struct loss *l, int closed);
void observe_unseen(struct ls_file *f);

/* ---- anchor.c ------------------------------------------------------------ */
int anchor_open(struct ls_file *f, int fd, int rw);
int anchor_move(int anchor);
int anchor_dup(int fd);
int anchor_dup_keep(int fd, int keep);
void anchor_band_reset(void);
void anchor_retire(struct ls_file *f);
int anchor_own_posix(int fd);
int anchor_lowest(void);

/* ---- deadlock.c ---------------------------------------------------------- */
int dl_wait_begin(dev_t dev, ino_t ino, int64_t start, int64_t end, int type);
void dl_wait_end(void);
void dl_forget(void);
int prot_holds_conflict(dev_t dev, ino_t ino, int64_t start, int64_t end,
			int type);

/* ---- procfs.c ------------------------------------------------------------ */
struct proc_lock {
	int ofd, posix;  /* OFDLCK, POSIX (else FLOCK, ...) */
	int waiter;      /* a "->" line: a request, not a lock */
	int type;        /* LSR_RDLCK or LSR_WRLCK */
	pid_t pid;       /* -1 for an OFD lock */
	dev_t dev;
	ino_t ino;
	int64_t start, end; /* end LSR_OFF_MAX: to EOF */
};
/* The whole of a /proc file, NUL-terminated; free() it. NULL on error. */
char *proc_read(const char *path, size_t *len);
int proc_lock_parse(const char *line, struct proc_lock *l);
/* fn for each lock line of the file at path, until it returns non-zero
 * (returned); -1 when the file cannot be read. */
typedef int (*proc_lock_fn)(void *arg, const struct proc_lock *l);
int proc_locks_each(const char *path, proc_lock_fn fn, void *arg);

/* ---- getlk.c --------------------------------------------------------------- */
pid_t getlk_find_pid(dev_t dev, ino_t ino, const struct flock *fl);

/* ---- log.c ------------------------------------------------------------------ */
void log_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Thread-local guard: the thread is inside the shim's critical sections
 * (a signal handler that calls back into it must not take the locks). */
extern __thread int shim_busy;

#endif
