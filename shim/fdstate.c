/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * shim/fdstate.c: the per-descriptor byte and slot (fdstate.h says who
 * writes what, and when).
 */
#include "fdstate.h"
#include "defs.h"
#include "real.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

_Atomic(uint8_t) *fd_state;
size_t fd_state_size;
_Atomic int fd_state_max = -1;
struct sib_scan sib_scan;

/* What a number's state refers to: FD_TRACKED its holder, FD_OURS the
 * variable that holds the number. */
union fd_slot {
	struct ls_holder *holder;
	int *home;
};
static union fd_slot *fd_slot;

/*
 * How many numbers to map for: the kernel hands out numbers below
 * RLIMIT_NOFILE, whose hard limit only a privileged process can raise,
 * up to fs.nr_open (1048576 unless changed). One getrlimit instead of
 * reading /proc/sys/fs/nr_open (issue 24: startup); a number beyond the
 * arrays is never tracked, and its locks are plain POSIX locks.
 */
static size_t numbers(void)
{
	struct rlimit rl;
	size_t n = 1u << 20;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_max != RLIM_INFINITY &&
	    rl.rlim_max > n)
		n = rl.rlim_max;
	return n > (1u << 30) ? 1u << 30 : n;
}

void fdstate_init(void)
{
	size_t n = numbers();
	size_t slots = (n + 63) & ~(size_t)63; /* the slots after the bytes */
	char *a;

	/* One mapping for both, without reserve: only the pages of the
	 * numbers in use are ever touched. */
	a = mmap(NULL, slots + n * sizeof(*fd_slot), PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (a == MAP_FAILED)
		return; /* every call passes through */
	fd_slot = (union fd_slot *)(a + slots);
	fd_state_size = n;
	__atomic_store_n(&fd_state, (_Atomic(uint8_t) *)a, __ATOMIC_RELEASE);
}

int fdstate_track(int fd)
{
	int old;

	if ((unsigned)fd >= fd_state_size)
		return FD_NONE;
	assert(fd_slot[fd].holder != NULL);
	old = atomic_exchange(&fd_state[fd], FD_TRACKED);
	fdstate_raise_max(fd);
	return old;
}

void fdstate_raise_max(int fd)
{
	int max = atomic_load_explicit(&fd_state_max, memory_order_relaxed);

	while (fd > max &&
	       !atomic_compare_exchange_weak(&fd_state_max, &max, fd))
		;
}

void fdstate_set(int fd, int state)
{
	if ((unsigned)fd >= fd_state_size)
		return;
	atomic_store_explicit(&fd_state[fd], (uint8_t)state,
			      memory_order_release);
	if (state)
		fdstate_raise_max(fd);
}

int fdstate_adopt_dup(int fd, struct ls_holder *h)
{
	uint8_t st = FD_DUP;

	if ((unsigned)fd >= fd_state_size || !fd_state)
		return 0;
	fd_slot[fd].holder = h; /* first: FD_TRACKED promises it */
	if (atomic_compare_exchange_strong(&fd_state[fd], &st, FD_TRACKED))
		return 1;
	fd_slot[fd].holder = NULL;
	return 0;
}

struct ls_holder *fdstate_holder(int fd)
{
	if ((unsigned)fd >= fd_state_size || fdstate_get(fd) != FD_TRACKED)
		return NULL;
	return fd_slot[fd].holder;
}

void fdstate_set_holder(int fd, struct ls_holder *h)
{
	if ((unsigned)fd < fd_state_size)
		fd_slot[fd].holder = h;
}

void fdstate_own(int fd, int *home)
{
	if ((unsigned)fd >= fd_state_size)
		return;
	fd_slot[fd].home = home;
	fdstate_set(fd, FD_OURS);
}

int *fdstate_home(int fd)
{
	if ((unsigned)fd >= fd_state_size || fdstate_get(fd) != FD_OURS)
		return NULL;
	return fd_slot[fd].home;
}

void fdstate_clear(int fd)
{
	if ((unsigned)fd >= fd_state_size)
		return;
	fdstate_set(fd, FD_NONE);
	fd_slot[fd].holder = NULL;
}

CHILD_CODE void fdstate_reset(int keep_dups)
{
	int max = atomic_load(&fd_state_max);

	/* Only the numbers that change are written (a fork child's write
	 * to a page costs its copy): FD_NONE has no slot to clear. */
	for (int fd = 0; fd <= max; fd++) {
		int st = atomic_load_explicit(&fd_state[fd],
					      memory_order_relaxed), to;

		if (st == FD_NONE)
			continue;
		to = keep_dups && (st == FD_TRACKED || st == FD_DUP) ? FD_DUP
								     : FD_NONE;
		if (to != st)
			atomic_store_explicit(&fd_state[fd], (uint8_t)to,
					      memory_order_relaxed);
		/* A slot is read only under FD_TRACKED and FD_OURS, and
		 * written before either is set: the fork child's old ones
		 * stay, unread (a page of slots is 512 numbers). */
		if (!keep_dups && fd_slot[fd].holder)
			fd_slot[fd].holder = NULL;
	}
	if (!keep_dups)
		atomic_store(&fd_state_max, -1);
}
