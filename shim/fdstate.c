/*
 * shim/fdstate.c: what the shim knows of each descriptor number.
 *
 * close(), dup*() and the fcntl commands that are not lock commands run
 * everywhere in every program; for a descriptor that holds no lock they
 * must cost one relaxed load of fd_state[fd] before the real call. The
 * arrays are sized for every number the kernel can hand out
 * (fs.nr_open) and mapped without reserve, so only the pages of numbers
 * in use are ever touched. A number beyond them is never tracked: its
 * locks pass through as plain POSIX locks.
 */
#include "shim.h"

#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

_Atomic(uint8_t) *fd_state;
size_t fd_state_size;
_Atomic int fd_state_max = -1;
static struct ls_ofd **fd_ofd;

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
	b = mmap(NULL, n * sizeof(*fd_ofd), PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (a == MAP_FAILED || b == MAP_FAILED) {
		if (a != MAP_FAILED)
			munmap(a, n);
		if (b != MAP_FAILED)
			munmap(b, n * sizeof(*fd_ofd));
		return; /* every call passes through */
	}
	fd_ofd = b;
	fd_state_size = n;
	__atomic_store_n(&fd_state, a, __ATOMIC_RELEASE);
}

int fdstate_track(int fd)
{
	int old;

	if ((unsigned)fd >= fd_state_size)
		return FD_NONE;
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

int fdstate_adopt_dup(int fd, struct ls_ofd *o)
{
	uint8_t st = FD_DUP;

	if ((unsigned)fd >= fd_state_size || !fd_state)
		return 0;
	fd_ofd[fd] = o; /* first: FD_TRACKED promises it */
	if (atomic_compare_exchange_strong(&fd_state[fd], &st, FD_TRACKED))
		return 1;
	fd_ofd[fd] = NULL;
	return 0;
}

struct ls_ofd *fdstate_ofd(int fd)
{
	if ((unsigned)fd >= fd_state_size)
		return NULL;
	return fd_ofd[fd];
}

void fdstate_set_ofd(int fd, struct ls_ofd *ofd)
{
	if ((unsigned)fd < fd_state_size)
		fd_ofd[fd] = ofd;
}

/* Forget every holder. keep_dups (the fork child, which holds no lock
 * but whose descriptors share descriptions as the parent's did): every
 * descriptor the shim knew of becomes FD_DUP, so that a lock the child
 * takes later through one of them counts the others (adopt_siblings), as
 * the contract says. Else forget everything. */
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
		fd_ofd[fd] = NULL;
	}
	if (!keep_dups)
		atomic_store(&fd_state_max, -1);
}
