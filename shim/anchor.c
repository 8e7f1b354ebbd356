/*
 * shim/anchor.c: the anchors, the shim's own descriptors that carry the
 * kernel locks (DESIGN.md, "How protect keeps a lock: the anchor").
 *
 * An anchor is a reopen of the program's file through /proc/self/fd/N,
 * close-on-exec, moved to a high number where the program does not look,
 * holding the union of the holders' ranges as OFD locks. Every close of
 * a descriptor of a file drops the process's classic POSIX locks on it,
 * so the shim's own closes (of the low number the reopen got, of an old
 * anchor) first ask whether the process holds any, which happens only
 * when a lock was taken past the interposer (lckpwdf(), a raw syscall).
 */
#include "shim.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

/*
 * The anchor band: descriptor numbers from band_low up to RLIMIT_NOFILE,
 * where programs do not look (they get the lowest free number). It starts
 * a little below the limit and grows down a step at a time when it is
 * full, so that anchors stay consecutive (fork closes them in runs) and a
 * full band does not cost a failed call per new anchor.
 */
static atomic_int band_low;

static int band_start(void)
{
	struct rlimit rl;
	rlim_t cur;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return 64;
	cur = rl.rlim_cur;
	if (cur > fd_state_size)
		cur = fd_state_size;
	if (cur > 256)
		return (int)(cur - (cur > 4096 ? 1024 : cur / 4));
	return cur > 16 ? (int)(cur - 8) : 3;
}

int anchor_lowest(void)
{
	int lo = atomic_load_explicit(&band_low, memory_order_relaxed);

	if (!lo) {
		lo = band_start();
		atomic_store(&band_low, lo);
	}
	return lo;
}

/* The band at lo is full: move its bottom down, unless another thread
 * did already. 0 when it cannot grow. */
static int band_grow(int lo)
{
	int step = lo > 4096 ? 1024 : lo / 4 > 8 ? lo / 4 : 8;
	int nlo = lo - step > 3 ? lo - step : 3;

	if (lo <= 3)
		return 0;
	atomic_compare_exchange_strong(&band_low, &lo, nlo);
	return 1;
}

/* A duplicate of fd in the band (close-on-exec unless keep), or -errno. */
int anchor_dup_keep(int fd, int keep)
{
	for (;;) {
		int lo = anchor_lowest();
		int nfd = real_fcntl(fd, keep ? F_DUPFD : F_DUPFD_CLOEXEC,
				     (void *)(long)lo);

		if (nfd >= 0)
			return nfd;
		if ((errno != EMFILE && errno != EINVAL) || !band_grow(lo))
			return -errno;
	}
}

int anchor_dup(int fd)
{
	return anchor_dup_keep(fd, 0);
}

/* The fork child and the exec'd image start from the top again. */
void anchor_band_reset(void)
{
	atomic_store(&band_low, 0);
}

/* Does the process hold a classic POSIX lock on fd's file? F_OFD_GETLK
 * from fd's own description sees every other owner's lock; ours carry our
 * pid. Walk past the conflicts of other owners. */
int anchor_own_posix(int fd)
{
	pid_t self = prot_owner;
	int64_t start = 0;

	for (int i = 0; i < 64; i++) {
		struct flock fl;

		memset(&fl, 0, sizeof(fl));
		fl.l_type = F_WRLCK;
		fl.l_whence = SEEK_SET;
		fl.l_start = start;
		if (real_fcntl(fd, F_OFD_GETLK, &fl) < 0)
			return 0;
		if (fl.l_type == F_UNLCK)
			return 0;
		if (fl.l_pid == self)
			return 1;
		if (fl.l_len == 0)
			return 0;
		start = fl.l_start + fl.l_len;
	}
	return 1; /* too many to tell: assume so, and keep the descriptor */
}

/* Move a descriptor of ours to the anchor band. Returns the new number, or
 * -errno; the old number is closed on success. */
int anchor_move(int fd)
{
	int nfd = anchor_dup(fd);

	if (nfd >= 0)
		raw_close(fd);
	return nfd;
}

/* A new anchor for f, reopened from the program's fd; read-only unless rw.
 * Returns the anchor's number (already in fd_state) or -errno. */
int anchor_open(struct ls_file *f, int fd, int rw)
{
	char path[40];
	int afd, mode = rw ? O_RDWR : O_RDONLY, moved;

	(void)f;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	afd = open(path, mode | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (afd < 0 && rw && errno == EACCES)
		afd = open(path, O_WRONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (afd < 0)
		return -errno;
	moved = anchor_move(afd);
	if (moved < 0) {
		raw_close(afd);
		return moved;
	}
	fdstate_set(moved, FD_ANCHOR);
	return moved;
}
