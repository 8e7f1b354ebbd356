/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * shim/anchor.c: opening, upgrading, moving and closing the anchors, and
 * the kernel lock calls on them (anchor.h).
 */
#include "anchor.h"
#include "band.h"
#include "fdstate.h"
#include "guard.h"
#include "real.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

void range_to_flock(struct flock *fl, int type, int64_t start, int64_t end)
{
	memset(fl, 0, sizeof(*fl));
	fl->l_type = (short)(type == LSR_WRLCK ? F_WRLCK :
			     type == LSR_RDLCK ? F_RDLCK : F_UNLCK);
	fl->l_whence = SEEK_SET;
	fl->l_start = start;
	fl->l_len = end == LSR_OFF_MAX ? 0 : end - start + 1;
}

int klock(int fd, int cmd, int type, int64_t start, int64_t end)
{
	struct flock fl;

	range_to_flock(&fl, type, start, end);
	return real_fcntl(fd, cmd, &fl);
}

/*
 * Is fl, a lock F_OFD_GETLK through fd reported, the process's own POSIX
 * lock? Where the kernel keeps the locks it names our pid. A FUSE
 * filesystem that handles locks itself (GlusterFS) names -1 for every
 * lock; there the process's own F_GETLK tells: it sees every lock but the
 * process's own POSIX ones, so where it finds nothing over fl's range,
 * the lock is ours. Only there: elsewhere -1 is an OFD lock, and one
 * released between the two calls would look like ours. (Where F_GETLK
 * finds another owner's lock over the same bytes, ours is not told
 * apart: the call is not refused for it.)
 *
 * On FUSE too another host's lock can go between the two calls, and a
 * yes switches the file to plain POSIX locks for good (two sqlite3
 * writers on two mounts did, in 1 run of 2). So the answer must hold
 * OWN_ROUNDS times, OWN_PAUSE_NS apart: the lock still there through
 * the anchor, still unseen by F_GETLK. Another host's lock would have to
 * go and come back between each pair of calls. Only this path pays, and
 * only when the first answer was yes.
 */
#define FUSE_MAGIC 0x65735546
#define OWN_ROUNDS 4
#define OWN_PAUSE_NS 1000000L

static int unseen_by_getlk(int fd, const struct flock *fl)
{
	struct flock q = *fl;

	q.l_type = F_WRLCK;
	return real_fcntl(fd, F_GETLK, &q) == 0 && q.l_type == F_UNLCK;
}

int anchor_lock_is_own_posix(int fd, const struct flock *fl)
{
	struct statfs sf;

	if (fl->l_pid == table_owner)
		return 1;
	if (fl->l_pid != -1 || fstatfs(fd, &sf) < 0 ||
	    sf.f_type != FUSE_MAGIC || !unseen_by_getlk(fd, fl))
		return 0;
	for (int i = 1; i < OWN_ROUNDS; i++) {
		struct timespec pause = {0, OWN_PAUSE_NS};
		struct flock o = *fl;

		/* the system call: nanosleep() is a cancellation point,
		 * and the file's mutex is held; a signal only shortens it */
		syscall(SYS_nanosleep, &pause, NULL);
		o.l_type = F_WRLCK;
		o.l_pid = 0; /* F_OFD_GETLK's EINVAL otherwise */
		if (real_fcntl(fd, F_OFD_GETLK, &o) < 0 ||
		    o.l_type == F_UNLCK || o.l_pid != -1 ||
		    !unseen_by_getlk(fd, &o))
			return 0;
	}
	return 1;
}

/* F_OFD_GETLK from fd's own description sees every other owner's lock.
 * Walk past the conflicts of other owners. */
int anchor_own_posix(int fd)
{
	int64_t start = 0;

	for (int i = 0; i < 64; i++) {
		struct flock fl;

		range_to_flock(&fl, LSR_WRLCK, start, LSR_OFF_MAX);
		if (real_fcntl(fd, F_OFD_GETLK, &fl) < 0)
			return 0;
		if (fl.l_type == F_UNLCK)
			return 0;
		if (anchor_lock_is_own_posix(fd, &fl))
			return 1;
		if (fl.l_len == 0)
			return 0;
		start = fl.l_start + fl.l_len;
	}
	return 1; /* too many to tell: assume so, and keep the descriptor */
}

/* A reopen of the program's fd in the band, FD_OURS with its number at
 * home: the number, or -errno. */
static int reopen(int *home, int fd, int rw)
{
	char path[40];
	int afd, moved;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	afd = open(path, (rw ? O_RDWR : O_RDONLY) | O_CLOEXEC | O_NOCTTY |
				 O_NONBLOCK);
	if (afd < 0 && rw && errno == EACCES)
		afd = open(path, O_WRONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (afd < 0)
		return -errno;
	band_clear_of(fd);
	moved = band_move(afd);
	if (moved < 0) {
		raw_close(afd);
		return moved;
	}
	fdstate_own(moved, home);
	return moved;
}

int anchor_open(int *home, int fd, int rw)
{
	int afd;

	assert(*home < 0);
	afd = reopen(home, fd, rw);
	if (afd < 0)
		return afd;
	*home = afd;
	return 0;
}

static void close_ours(int fd)
{
	fdstate_clear(fd);
	raw_close(fd);
}

void anchor_close(int *home)
{
	if (*home < 0)
		return;
	close_ours(*home);
	*home = -1;
}

/*
 * The anchor must carry a write lock: reopen it for writing (a read-only
 * description cannot hold one). The read locks move first: read locks of
 * two descriptions do not conflict, so the new anchor takes them all
 * before the old one lets go and no other process can slip in between.
 * The old one is unlocked before it closes: a fork child may share its
 * description, and its read locks would then stay and refuse the new
 * anchor's write lock.
 */
int anchor_upgrade(int *home, const struct lsr_set *map, int fd)
{
	struct lsr_node *stack[128];
	int nfd, n = 0, err = 0;
	struct lsr_node *it;

	nfd = reopen(home, fd, 1);
	if (nfd < 0)
		return nfd;
	/* In-order walk of the map: every range is a read lock here. */
	it = map->root;
	while ((it || n) && !err) {
		while (it && n < 128) {
			stack[n++] = it;
			it = it->left;
		}
		if (it) {
			err = -ENOLCK; /* too deep to walk: give up */
			break;
		}
		it = stack[--n];
		assert(it->type == LSR_RDLCK);
		if (klock(nfd, F_OFD_SETLK, it->type, it->start, it->end) < 0)
			err = -errno;
		it = it->right;
	}
	if (err || anchor_own_posix(*home)) {
		close_ours(nfd);
		return err ? err : -EDEADLK;
	}
	klock(*home, F_OFD_SETLK, LSR_UNLCK, 0, LSR_OFF_MAX);
	close_ours(*home);
	*home = nfd;
	return 0;
}

int anchor_dup_private(int afd, int *home)
{
	int nfd = band_dup(afd, 0);

	if (nfd < 0)
		return nfd;
	fdstate_own(nfd, home);
	*home = nfd;
	return 0;
}

int anchor_evict(int fd2)
{
	int *home = fdstate_home(fd2);
	int nfd;

	if (!home) {
		/* Nobody keeps this number (the log's descriptor: it
		 * reopens when it finds its number taken). */
		fdstate_clear(fd2);
		return 0;
	}
	nfd = band_dup(fd2, !(real_fcntl(fd2, F_GETFD, NULL) & FD_CLOEXEC));
	if (nfd < 0) {
		errno = -nfd;
		return -1;
	}
	assert(*home == fd2);
	fdstate_own(nfd, home);
	*home = nfd;
	fdstate_clear(fd2);
	return 0;
}
