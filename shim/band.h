/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * shim/band.h: where the shim's own descriptors live.
 *
 * The band: descriptor numbers from its bottom up to RLIMIT_NOFILE,
 * where programs do not look (the kernel hands out the lowest free
 * number). It starts at 1024 when the limit is above 2048 (the numbers
 * select() can use stay the program's, and a fork, which copies the
 * descriptor table up to its highest open number, stays cheap), else a
 * little below the limit; it grows down a step at a time when full, so
 * that anchors stay consecutive (a fork child closes them in runs) and a
 * full band does not cost a failed call per new descriptor.
 */
#ifndef LOCKSPACE_SHIM_BAND_H
#define LOCKSPACE_SHIM_BAND_H

#include <stdatomic.h>

/* A duplicate of fd in the band (close-on-exec unless keep), or -errno.
 * The caller marks it FD_OURS. */
int band_dup(int fd, int keep);
/* Move a descriptor of ours into the band: the new number, the old one
 * closed; or -errno, the old one left open. */
int band_move(int fd);
/* A program descriptor fd is about to get an anchor: if the program's
 * numbers have reached the band, the band moves above them. */
void band_clear_of(int fd);
/* The band's bottom now. */
int band_lowest(void);
/* Whether number r is above the band's bottom, where a descriptor of ours
 * may hold a number below it that plain POSIX would have handed out
 * (0 while the band is unused): one relaxed load. */
extern atomic_int band_low;
static inline int band_above(int r)
{
	int lo = atomic_load_explicit(&band_low, memory_order_relaxed);

	return lo && r > lo;
}
/* The fork child and the exec'd image start from the top again. */
void band_reset(void);

#endif
