/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tests/test_run.c: lockspace-run's honest refusals, make install and
 * uninstall, and what the shared objects export. The checks are shell
 * scripts (the .sh files of tests/run/, which say what each one proves);
 * each test runs one and fails with its output when a check failed.
 */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util.h"

/* The source tree: BUILD_DIR is build/ or build/SOMETHING inside it. */
static const char *src_dir(void)
{
	static char path[4096];
	const char *ups[] = {"/..", "/../..", "/../../.."};
	char probe[4200];

	for (size_t i = 0; i < sizeof(ups) / sizeof(ups[0]); i++) {
		snprintf(path, sizeof(path), "%s%s", BUILD_DIR, ups[i]);
		snprintf(probe, sizeof(probe), "%s/tests/run/lib.sh", path);
		if (access(probe, R_OK) == 0)
			return path;
	}
	cr_skip_test("tests/run/ not found from %s", BUILD_DIR);
	return NULL;
}

static void run_script(const char *name)
{
	static char out[65536];
	const char *src = src_dir();
	char cmd[9000];
	size_t len = 0, n;
	FILE *p;
	int st;

	/* a sanitized shim needs its runtime preloaded first, which
	 * lockspace-run and an installed copy cannot know about */
	if (strchr(tu_preload(), ' '))
		cr_skip_test("a sanitizer build (%s): tests/run/ checks the "
			     "plain build", tu_preload());
	snprintf(cmd, sizeof(cmd),
		 "env -u MAKEFLAGS -u MAKELEVEL -u MFLAGS "
		 "sh '%s/tests/run/%s' '%s' '%s' 2>&1 </dev/null", src, name,
		 src, BUILD_DIR);
	p = popen(cmd, "r");
	cr_assert(p, "popen %s", cmd);
	while (len < sizeof(out) - 1 &&
	       (n = fread(out + len, 1, sizeof(out) - 1 - len, p)) > 0)
		len += n;
	out[len] = '\0';
	st = pclose(p);
	cr_assert(WIFEXITED(st), "%s: status %d\n%s", name, st, out);
	if (WEXITSTATUS(st) == 77)
		cr_skip_test("%s: %s", name, out);
	cr_assert_eq(WEXITSTATUS(st), 0, "%s:\n%s", name, out);
	for (char *l = strstr(out, "skip: "); l; l = strstr(l + 1, "skip: "))
		cr_log_info("%s: %.*s", name, (int)strcspn(l, "\n"), l);
}

/* static, musl, 32-bit without build/i386, setuid: one warning line and
 * the lock lost; --strict: 125 and not run; scripts through their
 * interpreter only. */
Test(run, says_once_when_the_shim_cannot_be_loaded, .timeout = 120)
{
	run_script("refusals.sh");
}

/* the installed lockspace-run reaches both classes through $LIB */
Test(run, install_preloads_by_lib_token_and_uninstall_leaves_nothing,
     .timeout = 300)
{
	run_script("install.sh");
}

Test(run, liblockspace_exports_only_the_api_as_lockspace_0, .timeout = 60)
{
	run_script("exports.sh");
}
