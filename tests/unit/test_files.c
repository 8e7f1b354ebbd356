/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tests/unit/test_files.c: the shim's lock table and its sibling scan,
 * driven directly (the shim's objects linked in, its exports left out),
 * where a race can be placed exactly instead of hoped for.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fdstate.h"
#include "files.h"
#include "guard.h"

static char path[64];
static int fd_a, fd_dup; /* the locker, and its dup made before the lock */
static int moved_to __attribute__((unused)); /* where the race moves it */
static int hook_at __attribute__((unused));  /* where the scan is then */

static void setup(void)
{
	snprintf(path, sizeof(path), "/tmp/lsunit.XXXXXX");
	fd_a = mkstemp(path);
	cr_assert(fd_a >= 0);
	fdstate_init();
	guard_init();
	cr_assert(fd_state_size > 100);
}

static void teardown(void)
{
#ifndef NDEBUG
	files_scan_hook = NULL;
#endif
	unlink(path);
}

TestSuite(files, .init = setup, .fini = teardown);

#ifndef NDEBUG
/*
 * A close() of the dup that looked at the scan flag before the scan
 * began, and swaps after it started: the claim (FD_DUP -> FD_NONE) and
 * its notice, then, as the program goes on, a dup2() of the dup to a
 * number the scan has passed, and the close of the old number.
 */
static void race_claim_and_move(int fd)
{
	uint8_t st = FD_DUP;

	if (fd != hook_at)
		return;
	files_scan_hook = NULL;
	cr_assert(atomic_compare_exchange_strong(&fd_state[fd_dup], &st,
						 FD_NONE));
	sib_scan_note();
	cr_assert_eq(syscall(SYS_dup3, fd_dup, moved_to, 0), moved_to);
	fdstate_mark_dup(moved_to);
	syscall(SYS_close, fd_dup);
}

/* The scan must see the dup at its new number: without its second pass
 * the holder would count one descriptor, and its lock would go at the
 * close of fd_a while moved_to still holds the description. */
Test(files, sibling_scan_goes_again_when_a_dup_moves_behind_it)
{
	struct ls_holder *h;
	struct ls_file *f;
	struct stat st;
	struct crit c;

	moved_to = 40;
	fd_dup = 60;
	hook_at = 50; /* past moved_to, before fd_dup */
	cr_assert_eq(syscall(SYS_dup3, fd_a, fd_dup, 0), fd_dup);
	fdstate_mark_dup_new(fd_dup);
	cr_assert(fstat(fd_a, &st) == 0);
	crit_enter(&c, 1);
	f = file_get(st.st_dev, st.st_ino, fd_a);
	cr_assert_not_null(f);
	h = holder_new(f, O_RDWR, fd_a);
	cr_assert_not_null(h);
	holder_map(h, fd_a);
	h->siblings = 1;
	files_scan_hook = race_claim_and_move;
	holder_before_close(h);
	crit_leave(&c);
	cr_expect_eq(fdstate_get(fd_dup), FD_NONE);
	cr_expect_eq(fdstate_get(moved_to), FD_TRACKED,
		     "the moved dup was not found (state %d)",
		     fdstate_get(moved_to));
	cr_expect_eq(h->ndesc, 2);
	cr_expect_eq(atomic_load(&sib_scan.active), 0);
	syscall(SYS_close, moved_to);
}
#else
Test(files, sibling_scan_goes_again_when_a_dup_moves_behind_it)
{
	cr_skip_test("a release build (NDEBUG) has no scan hook");
}
#endif

/* Without a move, one pass adopts the dup and no second pass runs. */
Test(files, sibling_scan_adopts_a_dup_in_one_pass)
{
	struct ls_holder *h;
	struct ls_file *f;
	struct stat st;
	struct crit c;
	unsigned before = atomic_load(&sib_scan.moved);

	fd_dup = 61;
	cr_assert_eq(syscall(SYS_dup3, fd_a, fd_dup, 0), fd_dup);
	fdstate_mark_dup_new(fd_dup);
	cr_assert(fstat(fd_a, &st) == 0);
	crit_enter(&c, 1);
	f = file_get(st.st_dev, st.st_ino, fd_a);
	h = holder_new(f, O_RDWR, fd_a);
	holder_map(h, fd_a);
	h->siblings = 1;
	holder_before_close(h);
	crit_leave(&c);
	cr_expect_eq(fdstate_get(fd_dup), FD_TRACKED);
	cr_expect_eq(h->ndesc, 2);
	cr_expect_eq(atomic_load(&sib_scan.moved), before);
	syscall(SYS_close, fd_dup);
}
