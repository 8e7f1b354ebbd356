/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* tests/test_torture.c: a short run of tests/torture/torture (issue 8,
 * part 2): under the shim in protect the kernel must agree with the
 * contract's model at every check (no lost lock, no phantom, no leak, no
 * hang); plain, the same checker must see losses (it can see one).
 * LOCKSPACE_TEST_TORTURE names the binary when it is not in the build
 * directory; LOCKSPACE_TORTURE_SECONDS sets the protect run's length.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

static const char *torture_bin(void)
{
	const char *env = getenv("LOCKSPACE_TEST_TORTURE");

	return env && *env ? env : BUILD_DIR "/torture/torture";
}

static void torture_run(int preload, const char *seconds, int expect_loss)
{
	/* AddressSanitizer's allocator is not fork-safe: a fork child of a
	 * threaded worker that asks F_GETLK (the shim searches /proc, with
	 * malloc) can deadlock on a lock another thread held at fork. */
	int asan = preload && strstr(tu_preload(), "libasan");
	const char *argv[] = { torture_bin(), "--seconds", seconds,
			       expect_loss ? "--expect-loss"
					   : asan ? "--no-fork" : NULL,
			       NULL };
	const char *env[] = { "LOCKSPACE_PRELOAD_MODE=protect", NULL };
	size_t len = 1 << 20;
	char *out = malloc(len);
	int st;

	cr_assert_not_null(out);
	if (access(argv[0], X_OK) != 0) {
		free(out);
		cr_skip_test("%s not built (make %s)", argv[0], argv[0]);
	}
	/* tu_run captures stdout; the torture's findings go to stderr,
	 * which the test's own stderr shows. */
	st = tu_run(preload, argv, env, out, len);
	cr_expect_eq(st, 0, "torture (%s) exit status %d:\n%.8000s",
		     preload ? "protect" : "plain --expect-loss", st, out);
	cr_log_info("%.2000s", out);
	free(out);
}

Test(torture, protect_kernel_agrees_with_contract_model, .timeout = 120)
{
	const char *s = getenv("LOCKSPACE_TORTURE_SECONDS");

	/* ThreadSanitizer reports the torture's own races on descriptor
	 * numbers (a thread closes what another uses, on purpose), and runs
	 * it too slowly for the watchdog: make torture runs it plain. */
	if (strstr(tu_preload(), "libtsan"))
		cr_skip_test("not under ThreadSanitizer (make torture)");
	torture_run(1, s && *s ? s : "15", 0);
}

Test(torture, plain_checker_sees_lost_locks, .timeout = 60)
{
	torture_run(0, "5", 1);
}
