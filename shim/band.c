/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * shim/band.c: the band of descriptor numbers the shim keeps its own
 * descriptors in (band.h).
 */
#include "band.h"
#include "defs.h"
#include "fdstate.h"
#include "procfs.h"
#include "real.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/resource.h>

atomic_int band_low;

#define BAND_STEP_MIN 1024

/* Where the band starts (common/procfs.c says why there). */
static int band_start(void)
{
	struct rlimit rl;
	rlim_t cur;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return 64;
	cur = rl.rlim_cur;
	if (fd_state_size && cur > fd_state_size)
		cur = fd_state_size;
	return pf_band_start((unsigned long long)cur);
}

int band_lowest(void)
{
	int lo = atomic_load_explicit(&band_low, memory_order_relaxed);

	if (!lo) {
		lo = band_start();
		atomic_store(&band_low, lo);
	}
	return lo;
}

/*
 * The program's own numbers have reached the band (a program with more
 * than a thousand descriptors): the next of ours go higher, twice past
 * the program's, so that they stay in runs of their own (a fork child
 * closes each run with one call) instead of filling the holes between
 * the program's numbers. At most a little below the limit.
 */
void band_clear_of(int fd)
{
	int lo = band_lowest(), nlo = BAND_STEP_MIN;
	struct rlimit rl;

	if (fd < lo)
		return;
	while (nlo <= fd)
		nlo *= 2;
	nlo *= 2;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 &&
	    (rlim_t)nlo + 64 > rl.rlim_cur)
		nlo = rl.rlim_cur > 64 ? (int)(rl.rlim_cur - 64) : lo;
	if (nlo > lo)
		atomic_compare_exchange_strong(&band_low, &lo, nlo);
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

int band_dup(int fd, int keep)
{
	for (;;) {
		int lo = band_lowest();
		int nfd = real_fcntl(fd, keep ? F_DUPFD : F_DUPFD_CLOEXEC,
				     (void *)(long)lo);

		if (nfd >= 0)
			return nfd;
		if ((errno != EMFILE && errno != EINVAL) || !band_grow(lo))
			return -errno;
	}
}

int band_move(int fd)
{
	int nfd = band_dup(fd, 0);

	if (nfd >= 0)
		raw_close(fd);
	return nfd;
}

CHILD_CODE void band_reset(void)
{
	if (atomic_load(&band_low))
		atomic_store(&band_low, 0);
}
