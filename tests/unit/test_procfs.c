/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tests/unit/test_procfs.c: common/procfs.c's fdinfo reader, which stops
 * at the first short read (fdinfo is one seq_file record), still sees
 * every lock line of an fdinfo far longer than its first buffer.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "procfs.h"

static int count_step(void *arg, const struct pf_lock *l)
{
	(void)l;
	++*(int *)arg;
	return 0;
}

/* 3000 OFD locks on every other byte: about 150 KB of lock lines, where
 * the reader's first buffer is 8 KB. */
Test(procfs, fdinfo_read_whole_past_its_first_buffer)
{
	char path[] = "/tmp/lsunit-procfs.XXXXXX", info[64];
	int fd = mkstemp(path), n = 0, want = 3000;

	cr_assert(fd >= 0);
	unlink(path);
	for (int i = 0; i < want; i++) {
		struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET,
				   .l_start = 2 * i, .l_len = 1};

		cr_assert_eq(fcntl(fd, F_OFD_SETLK, &fl), 0);
	}
	snprintf(info, sizeof(info), "/proc/self/fdinfo/%d", fd);
	cr_assert_eq(pf_locks_each(info, count_step, &n), 0);
	cr_expect_eq(n, want, "%d lock lines read of %d", n, want);
	close(fd);
}
