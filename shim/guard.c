/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * shim/guard.c: the table's lock and owner, the critical sections, the
 * one-word file mutex (guard.h says the rules).
 */
#include "guard.h"
#include "defs.h"
#include "real.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <limits.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

pthread_rwlock_t table_lock = PTHREAD_RWLOCK_INITIALIZER;
pid_t table_owner;
__thread int shim_busy;
__thread int guard_closes_n;
static __thread int guard_closes[GUARD_CLOSES];
/* The vfork wrapper stores to it from assembly: not static, hidden. */
atomic_int vfork_seen;
static __thread pid_t tid_cache;

void crit_enter(struct crit *c, int write)
{
	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &c->cancel);
	shim_busy++;
	c->write = write;
	if (write)
		pthread_rwlock_wrlock(&table_lock);
	else
		pthread_rwlock_rdlock(&table_lock);
}

void crit_leave(struct crit *c)
{
	int ignored;

	pthread_rwlock_unlock(&table_lock);
	pthread_setcancelstate(c->cancel, &ignored);
	shim_busy_leave();
}

static int in_vfork_child(void)
{
	return unlikely(atomic_load_explicit(&vfork_seen,
					     memory_order_relaxed)) &&
	       getpid() != table_owner;
}

int guard_passthrough(void)
{
	return shim_busy || in_vfork_child();
}

int guard_keep_close(int fd)
{
	sigset_t all, old;
	int fl, kept = 0;

	if (!shim_busy || in_vfork_child() ||
	    (fl = real_fcntl(fd, F_GETFD, NULL)) < 0)
		return 0;
	if (!(fl & FD_CLOEXEC))
		real_fcntl(fd, F_SETFD, (void *)(long)(fl | FD_CLOEXEC));
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	if (guard_closes_n < GUARD_CLOSES) {
		guard_closes[guard_closes_n++] = fd;
		kept = 1;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return kept;
}

int guard_next_close(void)
{
	sigset_t all, old;
	int fd = -1;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	if (guard_closes_n > 0)
		fd = guard_closes[--guard_closes_n];
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return fd;
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

atomic_uint table_gen;
atomic_int table_waiters;

unsigned table_generation(void)
{
	return atomic_load(&table_gen);
}

/* Nobody waits (the usual case): no write to the shared word, which
 * threads locking different files would otherwise pass between their
 * caches at every unlock. A waiter counts itself before it reads the
 * generation, both under the file's mutex (lockcmd.c), and a change is
 * made under that mutex before this looks: one of the two sees the
 * other. */
void table_changed(void)
{
	if (!atomic_load(&table_waiters))
		return;
	atomic_fetch_add(&table_gen, 1);
	syscall(SYS_futex, &table_gen, FUTEX_WAKE_PRIVATE, INT_MAX, NULL,
		NULL, 0);
}

pid_t my_tid(void)
{
	if (!tid_cache)
		tid_cache = (pid_t)syscall(SYS_gettid);
	return tid_cache;
}

void guard_init(void)
{
	table_owner = getpid();
}

CHILD_CODE void guard_atfork_child(void)
{
	static const pthread_rwlock_t init = PTHREAD_RWLOCK_INITIALIZER;

	set_bytes(&table_lock, &init, sizeof(init));
	table_owner = getpid();
	tid_cache = 0;
	if (atomic_load(&vfork_seen))
		atomic_store(&vfork_seen, 0);
	if (atomic_load(&table_waiters))
		atomic_store(&table_waiters, 0);
	shim_busy = 0;
}
