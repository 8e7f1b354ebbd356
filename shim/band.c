/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * shim/band.c: the band of descriptor numbers the shim keeps its own
 * descriptors in (band.h).
 */
#include "band.h"
#include "fdstate.h"
#include "real.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/resource.h>

atomic_int band_low;

static int band_start(void)
{
	struct rlimit rl;
	rlim_t cur;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return 64;
	cur = rl.rlim_cur;
	if (fd_state_size && cur > fd_state_size)
		cur = fd_state_size;
	if (cur > 256)
		return (int)(cur - (cur > 4096 ? 1024 : cur / 4));
	return cur > 16 ? (int)(cur - 8) : 3;
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

void band_reset(void)
{
	atomic_store(&band_low, 0);
}
