/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * shim/guard.h: who may change the lock table, and how its critical
 * sections are entered.
 *
 * The table (files.h) belongs to one process, table_owner. Lock order:
 * table_lock (a rwlock), then a file's mutex (struct fmu), then the
 * leaf mutexes of wait.c and deadlock.c; never block in the kernel while
 * holding any of them. Inside a critical section cancellation is off,
 * and shim_busy says so to a signal handler that calls back into the
 * shim on the same thread: it passes through instead of taking the
 * locks again.
 */
#ifndef LOCKSPACE_SHIM_GUARD_H
#define LOCKSPACE_SHIM_GUARD_H

#include <pthread.h>
#include <stdatomic.h>
#include <sys/types.h>

/* Readers: lock requests through descriptors already known (they look
 * up and then take the file's mutex), so threads locking different files
 * never queue on one mutex. Writers: every change of the descriptor map
 * (a first lock through an fd, a dup, a close of a tracked fd) and of
 * the set of files. */
extern pthread_rwlock_t table_lock;
extern pid_t table_owner; /* the process the table belongs to */
extern __thread int shim_busy;
extern atomic_int vfork_seen; /* set by the vfork wrapper (interpose.c) */

struct crit {
	int cancel;
	int write;
};
void crit_enter(struct crit *c, int write);
void crit_leave(struct crit *c);

/*
 * A close that a signal handler makes while its thread is inside the
 * shim cannot take the table's locks, and passed through it would leave
 * the table a holder that is gone, and under backend = posix drop the
 * process's POSIX locks on the file, also one the interrupted call has
 * just been granted. guard_keep_close() keeps it open instead (close-on-
 * exec, so that an exec from the handler closes it, as plain) in this
 * thread's list, and shim_busy_leave() has it closed as the program's
 * close (closes.c) when the thread leaves the shim; the number stays
 * taken until then. Not in a vfork child: its descriptors are not the
 * list owner's. The list changes with signals blocked: a handler that
 * lands inside the drain, and a handler of another signal inside one,
 * use the list too. 1 when fd was kept; 0: close it now.
 */
#define GUARD_CLOSES 16
extern __thread int guard_closes_n;
int guard_keep_close(int fd);
/* The next kept close to do, or -1. */
int guard_next_close(void);
void guard_drain_closes(void); /* closes.c */

static inline void shim_busy_leave(void)
{
	shim_busy--;
	atomic_signal_fence(memory_order_seq_cst);
	if (__builtin_expect(!shim_busy && guard_closes_n, 0))
		guard_drain_closes();
}

/*
 * Whether this call must pass straight through: on a thread already
 * inside the shim (a signal handler), and in a vfork child, which runs
 * in the table owner's memory with descriptors of its own and must
 * change neither its table nor its anchors. getpid() is a syscall, so
 * it is paid only after a vfork was seen.
 */
int guard_passthrough(void);

/* A file's mutex in one word, where a pthread_mutex_t takes 40 bytes of
 * every locked file: 0 free, 1 taken, 2 taken and maybe waited for (a
 * futex, Drepper's "Futexes Are Tricky", mutex 3). Keeps errno. */
struct fmu {
	atomic_uint v;
};
void fmu_lock(struct fmu *m);
void fmu_unlock(struct fmu *m);

/* A change of the table that may free a range (an unlock, a release, a
 * conversion) bumps its generation and wakes the threads that wait for
 * one (wait.c, conflicts = fd): a waiter adds itself to table_waiters
 * and reads the generation under a file's mutex, then sleeps on it as a
 * futex with nothing held; with no waiter a change writes nothing. */
extern atomic_uint table_gen;
extern atomic_int table_waiters;
unsigned table_generation(void);
void table_changed(void);

/* The calling thread's id, cached. */
pid_t my_tid(void);

void guard_init(void);
/* The fork child: its own process, no thread inside the shim. */
void guard_atfork_child(void);

#endif
