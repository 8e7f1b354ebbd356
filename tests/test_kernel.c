/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* tests/test_kernel.c: the table against the kernel. Random requests go
 * both to the table and, through one fd, to a real file with F_SETLK; after
 * each one the locked bytes and their types must be what /proc/locks shows
 * (and, now and then, what F_GETLK from another process sees). */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "table.h"
#include "util.h"

#define FILE_SIZE 1000

struct cmp_ctx {
	struct kernel_lock *k;
	int n, i, bad;
};

static int cmp_step(void *arg, int64_t s, int64_t e, int type)
{
	struct cmp_ctx *c = arg;
	struct kernel_lock *k = &c->k[c->i];
	int64_t ke;

	if (c->i >= c->n) {
		c->bad = 1;
		return 1;
	}
	ke = k->end < 0 ? LSR_OFF_MAX : k->end;
	if (k->start != s || ke != e ||
	    strcmp(k->type, type == LSR_WRLCK ? "WRITE" : "READ")) {
		c->bad = 1;
		return 1;
	}
	c->i++;
	return 0;
}

static int kernel_type(int t)
{
	return t == LSR_WRLCK ? F_WRLCK : t == LSR_RDLCK ? F_RDLCK : F_UNLCK;
}

Test(kernel, random_requests_match_the_kernel, .timeout = 120)
{
	unsigned seed = (unsigned)time(NULL);
	struct lsr_pool pool = {0};
	struct lst_file file;
	char path[64];
	int fd, step, nops = 3000;

	if (getenv("LOCKSPACE_TEST_SEED"))
		seed = (unsigned)atoi(getenv("LOCKSPACE_TEST_SEED"));
	srand(seed);
	fd = tu_tmpfile(path, sizeof(path), FILE_SIZE);
	cr_assert_geq(fd, 0);
	lst_file_init(&file, 0, 0);
	for (step = 0; step < nops; step++) {
		int64_t start, end, base = 0;
		int whence = rand() % 3, t = rand() % 3, r, kr, kerr = 0;
		struct flock fl;
		struct kernel_lock k[256];
		struct cmp_ctx c = {.k = k};
		int64_t l_start, l_len;
		off_t pos = rand() % 300;

		/* Mostly small ranges; sometimes to EOF, negative lengths,
		 * the largest offsets, or requests the kernel refuses. */
		l_start = rand() % 400 - (whence == SEEK_SET ? 0 : 200);
		l_len = rand() % 60 - 15;
		switch (rand() % 16) {
		case 0:
			l_len = 0;
			break;
		case 1:
			l_start = LSR_OFF_MAX - rand() % 3;
			l_len = rand() % 4 - 1;
			break;
		case 2:
			l_start = -(int64_t)(rand() % 2000);
			break;
		case 3:
			l_len = LSR_OFF_MAX - rand() % 2;
			break;
		}
		lseek(fd, pos, SEEK_SET);
		if (whence == SEEK_CUR)
			base = pos;
		else if (whence == SEEK_END)
			base = FILE_SIZE;
		memset(&fl, 0, sizeof(fl));
		fl.l_type = (short)kernel_type(t);
		fl.l_whence = (short)whence;
		fl.l_start = l_start;
		fl.l_len = l_len;
		kr = (int)syscall(SYS_fcntl, fd, F_SETLK, &fl);
		if (kr < 0)
			kerr = errno;
		r = lsr_resolve(base, l_start, l_len, &start, &end);
		cr_assert_eq(r, -kerr,
			     "seed %u step %d: whence %d start %lld len %lld: "
			     "table %d kernel %d", seed, step, whence,
			     (long long)l_start, (long long)l_len, r, -kerr);
		if (r == 0) {
			if (t == LSR_UNLCK) {
				cr_assert_eq(lst_prepare_unlock(&file, &pool), 0);
				lst_unlock(&file, &pool, start, end);
			} else {
				cr_assert_eq(lst_prepare_lock(&file, &pool, 1), 0);
				lst_lock(&file, &pool, 1, start, end, t);
			}
		}
		c.n = tu_fd_locks(fd, k, 256);
		lsr_set_visit(&file.map, 0, LSR_OFF_MAX, cmp_step, &c);
		cr_assert(!c.bad && c.i == c.n,
			  "seed %u step %d: table and kernel differ (%d locks "
			  "in the kernel, %zu in the table)", seed, step, c.n,
			  file.map.count);
		if (step % 250 == 0) {
			/* Another process sees the same first conflict. */
			pid_t pid;
			int64_t probe = rand() % 400;
			int seen = tu_probe(path, probe, 1, &pid);
			int mine = lsr_set_type_at(&file.map, probe);

			cr_assert_eq(seen, kernel_type(mine),
				     "seed %u step %d: probe at %lld", seed,
				     step, (long long)probe);
		}
	}
	lst_file_clear(&file, &pool);
	lsr_pool_trim(&pool, 0);
	close(fd);
	unlink(path);
}
