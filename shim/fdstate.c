/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * shim/fdstate.c: the per-descriptor byte and slot (fdstate.h says who
 * writes what, and when).
 */
#include "fdstate.h"
#include "real.h"

#include <fcntl.h>
#include <sys/mman.h>
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

static size_t read_nr_open(void)
{
	char buf[32];
	long fd, n;
	size_t v = 0;

	fd = syscall(SYS_openat, AT_FDCWD, "/proc/sys/fs/nr_open",
		     O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 1u << 20;
	n = syscall(SYS_read, fd, buf, sizeof(buf) - 1);
	raw_close((int)fd);
	for (long i = 0; i < n && buf[i] >= '0' && buf[i] <= '9'; i++)
		v = v * 10 + (size_t)(buf[i] - '0');
	if (v < 1024 || v > (1u << 30))
		v = 1u << 20;
	return v;
}

void fdstate_init(void)
{
	size_t n = read_nr_open();
	void *a, *b;

	a = mmap(NULL, n, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	b = mmap(NULL, n * sizeof(*fd_slot), PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (a == MAP_FAILED || b == MAP_FAILED) {
		if (a != MAP_FAILED)
			munmap(a, n);
		if (b != MAP_FAILED)
			munmap(b, n * sizeof(*fd_slot));
		return; /* every call passes through */
	}
	fd_slot = b;
	fd_state_size = n;
	__atomic_store_n(&fd_state, a, __ATOMIC_RELEASE);
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

void fdstate_reset(int keep_dups)
{
	int max = atomic_load(&fd_state_max);

	for (int fd = 0; fd <= max; fd++) {
		int st = atomic_load_explicit(&fd_state[fd],
					      memory_order_relaxed);

		st = keep_dups && (st == FD_TRACKED || st == FD_DUP) ? FD_DUP
								     : FD_NONE;
		atomic_store_explicit(&fd_state[fd], (uint8_t)st,
				      memory_order_relaxed);
		fd_slot[fd].holder = NULL;
	}
	if (!keep_dups)
		atomic_store(&fd_state_max, -1);
}
